"""Fraud detection rules: each rule on hand-made requests, then in a run.

The rules are plain objects (:mod:`sim.network.detection`) fed transactions; the
run tests reuse the smoke hour of ``test_fraud`` with every rule on.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from sim.network.detection import HomeRules, QrRule, RecentKeys
from sim.run.model import build, simulate
from sim.scenario.detection import DetectionSpec, RuleSpec, WindowRuleSpec
from sim.scenario.units_types import DurationS
from sim.world.domain import CardKind, FlagRule, FraudKind
from sim.world.transaction import Transaction
from tests.unit.test_cards import CARDS, smoke
from tests.unit.test_fraud import FRAUD

RULES = {
    "counter_sequence": {},
    "impossible_travel": {"within": "2h"},
    "qr_single_use": {"within": "1min"},
    "duplicate_bill": {"within": "1h"},
}
"""Every rule, at its default cost."""


def txn(holder: int, site: int, t: float, *, clone: bool = False, card: int = 0,
        amount: int = 100, point: int = 0, token: float | None = None) -> Transaction:  # fmt: skip
    """A medical transaction of ``holder`` at ``site`` arriving at ``t``."""
    batch = SimpleNamespace(
        fraud=np.array([FraudKind.CLONED if clone else FraudKind.NONE], dtype=np.uint8),
        token_s=np.array([t if token is None else token]),
    )
    made = Transaction(0, batch, 0, 0, site, 0, card, True, False, amount, t)
    made.holder, made.point = holder, point
    return made


def test_recent_keys_are_forgotten_after_their_window() -> None:
    """A key is found within ``within`` of when it was put, not after."""
    keys = RecentKeys(10.0)
    keys.put("a", 1, 0.0)
    assert keys.get("a", 10.0) == 1
    assert keys.get("a", 10.5) is None
    assert len(keys) == 0


def test_the_application_counter_catches_a_clone_and_its_twin() -> None:
    """The clone starts from the chip's count when copied; the card behind is flagged."""
    rules = HomeRules(DetectionSpec(counter_sequence=RuleSpec()), cloned_at={7: 50.0})
    seen = [
        rules.check(txn(7, 0, 10.0), 10.0),  # genuine 1
        rules.check(txn(7, 0, 20.0), 20.0),  # genuine 2 (copied at 50 s: the clone starts at 2)
        rules.check(txn(7, 3, 60.0, clone=True), 60.0),  # clone 3: above 2
        rules.check(txn(7, 0, 70.0), 70.0),  # genuine 3: not above 3
        rules.check(txn(7, 3, 80.0, clone=True), 80.0),  # clone 4
        rules.check(txn(8, 0, 80.0), 80.0),  # a holder not cloned is never checked
    ]
    none, counter = FlagRule.NONE, FlagRule.COUNTER_SEQUENCE
    assert seen == [none, none, none, counter, none, none]


def test_impossible_travel_flags_another_province_within_the_window() -> None:
    """Two provinces within ``within`` are flagged; the same province, or later, are not."""
    rules = HomeRules(DetectionSpec(impossible_travel=WindowRuleSpec(DurationS(3600.0))), {})
    assert rules.check(txn(1, 0, 0.0), 0.0) is FlagRule.NONE
    assert rules.check(txn(1, 0, 100.0), 100.0) is FlagRule.NONE
    assert rules.check(txn(1, 5, 200.0), 200.0) is FlagRule.IMPOSSIBLE_TRAVEL
    assert rules.check(txn(1, 0, 4000.0), 4000.0) is FlagRule.NONE


def test_a_duplicate_bill_is_matched_by_holder_point_and_amount() -> None:
    """The same bill again is flagged; another amount or point is not."""
    rules = HomeRules(DetectionSpec(duplicate_bill=WindowRuleSpec(DurationS(3600.0))), {})
    assert rules.check(txn(1, 0, 0.0), 0.0) is FlagRule.NONE
    assert rules.check(txn(1, 0, 600.0), 600.0) is FlagRule.DUPLICATE_BILL
    assert rules.check(txn(1, 0, 700.0, amount=101), 700.0) is FlagRule.NONE
    assert rules.check(txn(1, 0, 800.0, point=2), 800.0) is FlagRule.NONE


def test_a_qr_code_is_accepted_once_within_its_validity() -> None:
    """A code presented twice is flagged the second time; chips are not checked."""
    rule = QrRule(DetectionSpec(qr_single_use=WindowRuleSpec(DurationS(60.0))))
    ecard = int(CardKind.ECARD)
    assert rule.check(txn(1, 0, 0.0, card=ecard), 0.0) is FlagRule.NONE
    assert rule.check(txn(1, 0, 30.0, card=ecard, token=0.0), 30.0) is FlagRule.QR_SINGLE_USE
    assert rule.check(txn(1, 0, 31.0, card=ecard), 31.0) is FlagRule.NONE
    assert rule.check(txn(1, 0, 32.0), 32.0) is FlagRule.NONE


def run(tmp_path: Path, **sections: Any) -> dict[str, list[Any]]:
    """The smoke hour with lost cards and fraud, and ``sections``; its transactions."""
    model = build(smoke(cards=CARDS, fraud=FRAUD, **sections), tmp_path)
    simulate(model)
    return pq.read_table(model.workdir / "transactions.parquet").to_pydict()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def detected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Any]]:
    """Every rule on, refusing what it flags."""
    return run(tmp_path_factory.mktemp("detected"), detection=RULES)


def test_flagged_requests_are_refused_and_the_labels_score_the_rules(
    detected: dict[str, list[Any]],
) -> None:
    """Each flagged row is declined ``fraud_suspected``; precision and recall are computable."""
    rows = list(zip(detected["fraud"], detected["flagged_by"], detected["outcome"],
                    detected["reason"], strict=True))  # fmt: skip
    flagged = [r for r in rows if r[1] != "none"]
    assert flagged
    assert {(r[2], r[3]) for r in flagged} == {("declined", "fraud_suspected")}
    for rule, kind in (("qr_single_use", "replayed_qr"), ("duplicate_bill", "duplicate_bill")):
        caught = sum(1 for r in rows if r[1] == rule and r[0] == kind)
        alarms = sum(1 for r in rows if r[1] == rule)
        attempts = sum(1 for r in rows if r[0] == kind)
        assert alarms and attempts, rule
        assert 0 < caught / alarms <= 1 and 0 < caught / attempts <= 1  # precision, recall


def test_with_every_rule_off_nothing_is_flagged(tmp_path: Path) -> None:
    """An empty ``detection`` section (every rule left out) flags nothing."""
    txns = run(tmp_path, detection={"refuse": True})
    assert set(txns["flagged_by"]) == {"none"}
    assert "fraud_suspected" not in set(txns["reason"])


def test_a_rule_that_only_marks_lets_the_request_settle(
    marked: tuple[dict[str, list[Any]], Any, Any],
) -> None:
    """``refuse: false``: flagged requests are settled, and marked."""
    txns = marked[0]
    flagged = [i for i, f in enumerate(txns["flagged_by"]) if f != "none"]
    assert flagged
    assert "fraud_suspected" not in {txns["reason"][i] for i in flagged}
    assert "settled" in {txns["outcome"][i] for i in flagged}


def test_a_rule_costs_its_time_in_the_settlement_path(tmp_path: Path) -> None:
    """A one-second duplicate-bill rule adds a second to every settlement's round trip."""
    slow = {"duplicate_bill": {"within": "1h", "cost": "1s"}}
    txns = run(tmp_path, detection=slow)
    medical = [s for svc, s in zip(txns["service"], txns["settle_latency_s"], strict=True)
               if svc.startswith(("medical", "pharmacy")) and s is not None]  # fmt: skip
    assert medical and min(medical) >= 1.0


MARKED: list[Path] = []
"""The folder of the ``marked`` run, once it has run."""


@pytest.fixture(scope="module")
def marked(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, list[Any]], Any, Any]:
    """Every rule on, only marking: the transactions, the summary and the ledger's file."""
    from sim.outputs.results import Result

    folder = tmp_path_factory.mktemp("marked")
    MARKED.append(folder)
    model = build(smoke(cards=CARDS, fraud=FRAUD, detection={**RULES, "refuse": False}), folder)
    result: Result = simulate(model)
    txns = pq.read_table(folder / "transactions.parquet").to_pydict()
    return txns, result.summary, pq.read_table(folder / "ledger.parquet").to_pydict()


def test_losses_equal_the_accepted_fraudulent_settlements(
    marked: tuple[dict[str, list[Any]], Any, Any],
) -> None:
    """Summary and ledger: the fund and holder shares of settled fraud, to the fen."""
    txns, summary, ledger = marked
    fund = holder = 0
    for i, kind in enumerate(txns["fraud"]):
        if kind != "none" and txns["outcome"][i] == "settled":
            fund += txns["fund_fen"][i]
            holder += 0 if kind == "lent" else txns["personal_fen"][i]
    lost = summary["fraud"]["lost_fen"]
    assert fund > 0 and holder > 0
    assert (lost["fund"], lost["holder"]) == (fund, holder)
    legs = zip(ledger["kind"], ledger["account"], ledger["amount_fen"], strict=True)
    booked = sum(a for k, account, a in legs if k == "loss" and account == "losses")
    assert booked == fund + holder
    assert summary["ledger"]["balances_fen"]["losses"] == fund + holder
    assert all(summary["ledger"]["checks"].values())


def test_the_summary_counts_each_kind_and_each_rule(
    marked: tuple[dict[str, list[Any]], Any, Any],
) -> None:
    """Attempts counted as caught, accepted and missed (accepted unflagged); rules' alarms."""
    txns, summary, _ = marked
    kinds, rules = summary["fraud"]["kinds"], summary["fraud"]["rules"]
    for kind, figures in kinds.items():
        mine = [i for i, k in enumerate(txns["fraud"]) if k == kind]
        assert figures["attempts"] == len(mine)
        assert figures["caught"] == sum(txns["flagged_by"][i] != "none" for i in mine)
        accepted = [i for i in mine if txns["outcome"][i] == "settled"]
        assert figures["accepted"] == len(accepted)
        assert figures["missed"] == sum(txns["flagged_by"][i] == "none" for i in accepted)
    assert kinds["duplicate_bill"]["caught"] > 0
    assert kinds["duplicate_bill"]["detection_delay_s"]["p50"] >= 0
    flags = sum(r["flags"] for r in rules.values())
    assert flags == sum(f != "none" for f in txns["flagged_by"])
    genuine = sum(f != "none" and k == "none" for f, k in zip(txns["flagged_by"], txns["fraud"],
                                                               strict=True))  # fmt: skip
    assert summary["fraud"]["false_alarms"] == genuine


def test_the_report_draws_the_fraud_plot_for_a_fraud_run(
    marked: tuple[dict[str, list[Any]], Any, Any],
) -> None:
    """`report`'s fraud plot applies to a fraud run; its rule table agrees with the summary."""
    from sim.report import PLOTS, load_run, png_bytes, rule_scores

    run = load_run(MARKED[0])
    (plot,) = [p for p in PLOTS if p.name == "fraud"]
    assert plot.applies(run)
    assert png_bytes(plot.draw(run)).startswith(b"\x89PNG")
    scores = rule_scores(run.transactions)
    for rule, figures in marked[1]["fraud"]["rules"].items():
        assert scores.loc[rule, "hits"] == figures["hits"], rule
        assert scores.loc[rule, "false alarms"] == figures["false_alarms"], rule

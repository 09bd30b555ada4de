"""The shipped fault scenarios: what breaks shows in the figures, and nothing is paid twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim import Result, load_scenario, run_once
from tests.conftest import SCENARIOS


def _run(name: str, tmp_path_factory: pytest.TempPathFactory) -> Result:
    out: Path = tmp_path_factory.mktemp(name) / "out"
    return run_once(load_scenario(SCENARIOS / f"{name}.yaml"), out)


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """The national platform down 10:00–12:00."""
    return _run("national_platform_outage", tmp_path_factory)


@pytest.fixture(scope="module")
def lossy(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """5% loss on every backbone link, all day."""
    return _run("lossy_links", tmp_path_factory)


def _books_balance(result: Result) -> None:
    """No key settled twice, every transaction ended once, every money check passed."""
    checks = result.summary["ledger"]["checks"]
    assert checks["no_key_settled_twice"]
    assert checks["every_transaction_ended_once"]
    assert checks["every_key_closed"]
    assert all(checks.values()), checks
    ids = result.transactions(["txn_id"])["txn_id"].to_numpy()
    assert np.array_equal(ids, np.arange(ids.size))


def test_outage_fallbacks_rise_in_the_window_and_return_after(outage: Result) -> None:
    """During the outage, cross-province settlements fall back by timeout; in the two hours
    before and after, none does, and the fallback share is back near its level before."""
    [window] = outage.summary["faults"]["windows"]
    assert (window["from_s"], window["to_s"]) == (36000.0, 43200.0)
    before, during, after = window["before"], window["during"], window["after"]
    assert during["fallbacks_by_faults"] > 20
    assert before["fallbacks_by_faults"] == 0
    assert after["fallbacks_by_faults"] == 0
    assert during["fallback_share"] > 3 * before["fallback_share"]
    assert after["fallback_share"] < during["fallback_share"] / 3
    assert outage.summary["faults"]["outages"] == [
        {"node": "national", "down_s": 36000.0, "up_s": 43200.0}
    ]


def test_outage_fallbacks_are_cross_province_timeouts(outage: Result) -> None:
    """Every fault-caused fallback is a cross-province settlement begun in the window (or just
    before it), each reversed before the patient paid in full."""
    t = outage.transactions(["arrival_s", "cross_province", "reason"])
    timeout = np.asarray(t["reason"].to_pylist()) == "timeout"
    arrival = t["arrival_s"].to_numpy()[timeout]
    assert t["cross_province"].to_numpy(zero_copy_only=False)[timeout].all()
    assert ((arrival >= 36000 - 600) & (arrival <= 43200)).all()
    assert outage.summary["protocol"]["reversals_sent"] == int(timeout.sum())


def test_outage_books_balance(outage: Result) -> None:
    """Zero duplicate settlements, and the money adds up."""
    _books_balance(outage)


def test_lossy_links_lose_messages_but_never_settle_twice(lossy: Result) -> None:
    """About 19% of cross-province attempts lose a message; retries with the same key are
    answered from the home platform's book (duplicates suppressed) and nearly all settle."""
    protocol = lossy.summary["protocol"]
    assert protocol["messages_lost"] > 30
    assert protocol["duplicates_suppressed"] > 10
    _books_balance(lossy)
    rate = lossy.summary["medical"]["cross_province_share_of_settled"]["value"]
    assert rate > 0.015  # cross-province settlements still go through


def _check_reversal_postings(result: Result) -> int:
    """Every settlement undone (reversed, or a late success reconciled) is in the ledger as
    its fund-share posting and a reversal of it: same transaction, amount and accounts
    the other way round, no earlier; its transaction did not end settled. Returns the pairs."""
    import pyarrow.parquet as pq

    assert result.folder is not None
    legs = pq.read_table(result.folder / "ledger.parquet").to_pydict()
    t = result.transactions(["txn_id", "service", "outcome"])
    outcome = dict(zip(t["txn_id"].to_pylist(), t["outcome"].to_pylist(), strict=True))
    postings: dict[int, list[tuple[str, int, float, tuple[str, str, str, int]]]] = {}
    for i, pid in enumerate(legs["posting_id"]):
        account = (legs["account"][i], legs["province"][i], legs["service"][i], legs["point"][i])
        postings.setdefault(pid, []).append(
            (legs["kind"][i], legs["amount_fen"][i], legs["time_s"][i], account)
        )
    by_txn: dict[int, dict[str, list[Any]]] = {}
    for pid, (debit, credit) in postings.items():
        kind, txn = debit[0], legs["txn_id"][2 * pid]
        by_txn.setdefault(txn, {}).setdefault(kind, []).append((credit[1], debit[2], debit[3],
                                                                credit[3]))  # fmt: skip
    pairs = 0
    for txn, kinds in by_txn.items():
        if "reversal" not in kinds:
            continue
        [(amount, undone_s, hospital, payer)] = kinds["reversal"]
        assert outcome[txn] != "settled", txn
        [(paid, settled_s, paid_from, paid_to)] = kinds["fund_share"]
        assert (paid, paid_from, paid_to) == (amount, payer, hospital)
        assert hospital[0] == "hospital" and settled_s <= undone_s
        pairs += 1
    # Nothing else is a fund share of a transaction that did not settle.
    unsettled_paid = {txn for txn, kinds in by_txn.items()
                      if "fund_share" in kinds and outcome.get(txn) != "settled"}  # fmt: skip
    assert unsettled_paid == {txn for txn, kinds in by_txn.items() if "reversal" in kinds}
    kinds_total = result.summary["ledger"]["postings_by_kind"]
    assert kinds_total["reversal"] == pairs
    return pairs


def test_reversed_and_reconciled_settlements_stay_in_the_books(
    lossy: Result, tmp_path: Path
) -> None:
    """The ledger shows each undone settlement and its reversal (before, it was written from
    final outcomes only, so an undone settlement left no trace), and the books still add up.

    Slow, lossy backbone links for 15 minutes with half the outpatients cross-province: the
    answers come after the timeout, so settlements are reversed (冲正), and with a single
    reversal attempt some reversals are lost, so late successes are undone at close.
    """
    import json

    faults = json.dumps({"links": [{"link": "backbone", "added_latency": "3s", "loss": 0.4,
                                    "at": "10min", "duration": "15min"}]})  # fmt: skip
    scenario = load_scenario(SCENARIOS / "smoke.yaml", [
        "horizon=40min", "warmup=0s", f"faults={faults}", "network.retry.reversals=1",
        "services.medical_outpatient.cross_province_share=0.5",
        "services.medical_outpatient.filed_in_advance=1.0",
    ])  # fmt: skip
    slow = run_once(scenario, tmp_path / "out")
    protocol = slow.summary["protocol"]
    assert protocol["settlements_reversed"] > 3 and protocol["reconciled_at_close"] > 3
    for result in (slow, lossy):
        protocol = result.summary["protocol"]
        undone = protocol["settlements_reversed"] + protocol["reconciled_at_close"]
        pairs = _check_reversal_postings(result)
        assert 0 < pairs <= undone  # an undone settlement of a zero fund share moves nothing
        _books_balance(result)

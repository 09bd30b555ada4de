"""Money invariants over random transaction mixes (Hypothesis), without a simulation.

Random ended medical transactions go through the ledger's postings and the clearing
house's periods exactly as a run would send them; whatever the mix, the books must
balance: legs sum to zero, every transaction has exactly its postings, each hospital's
receivable equals its transactions' fund shares, net positions sum to zero in every
period, netting never moves more than gross settlement, and the advance funds the
clearing house tracks are the ledger's.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.money.clearing import ClearingHouse
from sim.money.ledger import AccountKind, Ledger, PostingKind
from sim.scenario.schema import AdvanceSpec, ClearingSpec
from sim.world.domain import Outcome, Reason

PROVINCES = ("AA", "BB", "CC", "DD")
MEDICAL = (0, 1, 2)
SERVICES = tuple(range(8))  # medical, library, transit, credits, withdrawals


@st.composite
def transactions(draw: st.DrawFn) -> dict[str, np.ndarray]:
    """Ended transactions of every service: any outcome, any route; a fund share (within the
    bill) only for settled medical ones."""
    n = draw(st.integers(0, 60))
    rows = []
    for i in range(n):
        amount = draw(st.integers(0, 5_000_000))
        outcome = draw(st.sampled_from([Outcome.SETTLED, Outcome.FALLBACK, Outcome.DECLINED]))
        service = draw(st.sampled_from(SERVICES))
        medical = service in MEDICAL and outcome == Outcome.SETTLED
        fund = draw(st.integers(0, amount)) if medical else 0
        rows.append((i, service, draw(st.integers(0, 3)),
                     draw(st.integers(0, 3)), draw(st.integers(0, 2)), amount, int(outcome),
                     fund, draw(st.floats(0, 300, allow_nan=False))))  # fmt: skip
    columns = np.array(rows, dtype=np.float64).reshape(n, 9)
    return {
        "txn_id": columns[:, 0].astype(np.int64),
        "service": columns[:, 1].astype(np.int64),
        "home": columns[:, 2].astype(np.int64),
        "site": columns[:, 3].astype(np.int64),
        "point": columns[:, 4].astype(np.int64),
        "amount_fen": columns[:, 5].astype(np.int64),
        "outcome": columns[:, 6].astype(np.int64),
        "fund_fen": columns[:, 7].astype(np.int64),
        "personal_fen": (columns[:, 5] - columns[:, 7]).astype(np.int64),
        "end_s": columns[:, 8],
        "arrival_s": columns[:, 8] / 2,
        # Unsettled transactions give any reason, turned away at a full queue among them.
        "reason": np.where(
            columns[:, 6] == Outcome.SETTLED,
            Reason.NONE,
            draw(st.sampled_from([Reason.TIMEOUT, Reason.BLOCKED])),
        ),
    }


def run_books(
    txns: dict[str, np.ndarray], advance_days: float, top_up_below: float
) -> tuple[Ledger, ClearingHouse, dict[str, bool]]:
    """Post the transactions and clear three 100-second periods, as a run would."""
    ledger = Ledger(PROVINCES)
    spec = ClearingSpec(period="100s", advance=AdvanceSpec(advance_days, top_up_below))
    initial = [int(advance_days * 1000) * (p + 1) for p in range(len(PROVINCES))]
    house = ClearingHouse(spec, PROVINCES, np.array([10, 20, 30, 40]), [0.0, 100.0, 200.0],
                          300.0, ledger, initial)  # fmt: skip
    for site, amount in enumerate(house.initial):
        house._fill(site, amount, 0.0, PostingKind.INITIAL_ADVANCE)  # as start() does
    settled = txns["outcome"] == Outcome.SETTLED
    order = np.argsort(txns["end_s"], kind="stable")
    for i in order:
        if settled[i] and txns["home"][i] != txns["site"][i]:
            house.record(float(txns["end_s"][i]), int(txns["home"][i]), int(txns["site"][i]),
                         int(txns["fund_fen"][i]))  # fmt: skip
    ledger.post_transactions(txns)
    house.close(0, 100.0)
    house.close(1, 200.0)
    house.finish(300.0)
    return ledger, house, ledger.close()


@settings(max_examples=150, deadline=None)
@given(txns=transactions(), days=st.floats(0, 5), top_up=st.floats(0, 1))
def test_books_balance_for_any_mix(txns: dict, days: float, top_up: float) -> None:
    """Every conservation check holds, whatever the transactions and advance settings."""
    ledger, house, checks = run_books(txns, days, top_up)
    assert all(checks.values()), (checks, ledger.failures)
    assert sum(ledger.balances.values()) == 0
    advances = [ledger.balance((AccountKind.ADVANCE, p, -1, -1)) for p in range(4)]
    assert advances == house.advance
    summary = house.summary()
    assert summary["net_positions_sum_to_zero"]
    assert summary["net_transfers_fen"] <= summary["gross_obligations_fen"]
    for k in {r.period for r in house.results}:
        assert sum(r.net_fen for r in house.results if r.period == k) == 0


@settings(max_examples=100, deadline=None)
@given(txns=transactions())
def test_hospital_receivable_is_its_fund_shares(txns: dict) -> None:
    """Each hospital's fund-share receipts equal the fund shares of its settled transactions."""
    ledger, _, _ = run_books(txns, 1.0, 0.2)
    expected: dict[tuple[int, int, int, int], int] = {}
    for i in np.flatnonzero((txns["outcome"] == Outcome.SETTLED) & (txns["fund_fen"] > 0)):
        key = (AccountKind.HOSPITAL, int(txns["site"][i]), int(txns["service"][i]),
               int(txns["point"][i]))  # fmt: skip
        expected[key] = expected.get(key, 0) + int(txns["fund_fen"][i])
    assert {k: v for k, v in ledger.hospital_receivables().items() if v} == expected


def test_a_transaction_missing_its_fund_share_is_named() -> None:
    """If the table says a fund share was paid but no posting made it, the check names it."""
    txns = {
        "txn_id": np.array([41, 42]), "service": np.array([1, 1]), "home": np.array([0, 1]),
        "site": np.array([0, 1]), "point": np.array([0, 0]),
        "amount_fen": np.array([1000, 2000]), "outcome": np.array([0, 0]),
        "fund_fen": np.array([600, 1500]), "personal_fen": np.array([400, 500]),
        "end_s": np.array([1.0, 2.0]), "arrival_s": np.array([0.5, 1.0]),
        "reason": np.array([0, 0]),
    }  # fmt: skip
    ledger = Ledger(PROVINCES)
    tampered = dict(txns, personal_fen=np.array([400, 2000]))  # posts 2000 + 1500 ≠ 2000
    ledger.post_transactions(tampered)
    assert any("txn_id 42" in f for f in ledger.failures)


def test_netting_of_a_known_three_province_case() -> None:
    """A owes B 100, B owes A 60, C owes A 30: nets A −10, B +40, C −30; 40 moves, not 190."""
    ledger = Ledger(("A", "B", "C"))
    house = ClearingHouse(ClearingSpec(period="1d"), ("A", "B", "C"), np.array([1, 1, 1]),
                          [0.0], 86400.0, ledger, [0, 0, 0])  # fmt: skip
    for home, site, fund in ((0, 1, 100), (1, 0, 60), (2, 0, 30)):
        house.record(1.0, home, site, fund)
    house.finish(86400.0)
    nets = {r.province: r.net_fen for r in house.results}
    assert nets == {"A": -10, "B": 40, "C": -30}
    assert house.summary()["net_transfers_fen"] == 40
    assert house.summary()["gross_obligations_fen"] == 190
    assert all(ledger.close().values())


@settings(max_examples=100, deadline=None)
@given(txns=transactions(), data=st.data())
def test_undone_settlements_post_and_reverse_and_the_books_still_balance(
    txns: dict, data: st.DataObject
) -> None:
    """Unsettled medical transactions whose settlement was undone (reversed, or a late
    success reconciled) have a fund-share posting and its reversal: every check holds,
    with those postings in it, and hospitals keep only the fund shares of kept settlements."""
    from types import SimpleNamespace

    undone = [i for i in range(txns["txn_id"].size)
              if txns["service"][i] in MEDICAL and txns["outcome"][i] != Outcome.SETTLED
              and data.draw(st.booleans())]  # fmt: skip
    ledger = Ledger(PROVINCES)
    shares = []
    for i in undone:
        home, site = int(txns["home"][i]), int(txns["site"][i])
        txn = SimpleNamespace(id=int(txns["txn_id"][i]), home=home, site=site, cross=home != site,
                              service=int(txns["service"][i]), point=int(txns["point"][i]),
                              settled_at_s=float(txns["arrival_s"][i]))  # fmt: skip
        share = data.draw(st.integers(1, max(1, int(txns["amount_fen"][i]))))
        ledger.post_reversal(txn, share, float(txns["end_s"][i]))  # type: ignore[arg-type]
        shares.append(share)
    ledger.post_transactions(txns)
    checks = ledger.close()
    assert all(checks.values()), (checks, ledger.failures)
    assert ledger.count[PostingKind.REVERSAL] == len(undone)
    assert ledger.totals[PostingKind.REVERSAL] == sum(shares)


def test_a_settlement_undone_without_its_reversal_fails_the_receivables_check() -> None:
    """A fund share posted for a transaction that ended unsettled, with no reversal, leaves
    the hospital more than its kept settlements: the check says so."""
    ledger = Ledger(PROVINCES)
    hospital = (AccountKind.HOSPITAL, 1, 0, 3)
    ledger.post(5.0, PostingKind.FUND_SHARE, (AccountKind.FUND, 1, -1, -1), hospital, 700, 9)
    checks = ledger.close()
    assert not checks["hospital_receivables_equal_fund_shares"]


def test_posting_totals_are_exact_integers_at_huge_amounts() -> None:
    """Totals per kind are summed in integers: 3.6e18 fen is not rounded to a float's 512."""
    big = np.array([1_800_000_000_000_000_001, 1_800_000_000_000_000_002], dtype=np.int64)
    txns = {
        "txn_id": np.array([1, 2]), "service": np.array([1, 1]), "home": np.array([0, 1]),
        "site": np.array([0, 1]), "point": np.array([0, 0]),
        "amount_fen": big, "outcome": np.array([0, 0]),
        "fund_fen": big, "personal_fen": np.zeros(2, dtype=np.int64),
        "end_s": np.array([1.0, 2.0]), "arrival_s": np.array([0.5, 1.0]),
        "reason": np.array([0, 0]),
    }  # fmt: skip
    ledger = Ledger(PROVINCES)
    ledger.post_transactions(txns)
    assert ledger.totals[PostingKind.FUND_SHARE] == 3_600_000_000_000_000_003
    assert not ledger.failures

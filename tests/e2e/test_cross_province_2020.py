"""The 2020 scenario reproduces docs/calibration.md rows 1 and 2, and its books balance.

Row 1: 3.0023 M of 5.85 M cross-province inpatient stays settled directly (51.3%),
within ±3 percentage points. Row 2: the funds paid ¥43.873 bn of ¥74.28 bn directly
settled (59.1%), within ±3 points. Every parameter is fixed in
scenarios/cross_province_2020.yaml; the run is a full year with monthly clearing.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sim import Result, load_scenario, run_once
from tests.conftest import SCENARIOS

DIRECT_RATE_2020 = 3.0023 / 5.85
FUND_SHARE_2020 = 43.873 / 74.28


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """One run of the shipped 2020 scenario."""
    out: Path = tmp_path_factory.mktemp("y2020") / "out"
    return run_once(load_scenario(SCENARIOS / "cross_province_2020.yaml"), out)


def test_direct_settlement_rate_matches_2020(result: Result) -> None:
    """Directly settled share of cross-province inpatient stays: 51.3% ± 3 points."""
    rate = result.summary["medical"]["cross_province_inpatient_direct_settlement_rate"]
    assert rate["of"] > 50_000
    assert abs(rate["value"] - DIRECT_RATE_2020) <= 0.03


def test_fund_share_of_directly_settled_expenses_matches_2020(result: Result) -> None:
    """Fund share of directly settled expenses: 59.1% ± 3 points."""
    inpatient = result.summary["services"]["medical_inpatient"]
    assert abs(inpatient["fund_fen"] / inpatient["amount_fen"] - FUND_SHARE_2020) <= 0.03


def test_monthly_clearing_nets_every_month(result: Result) -> None:
    """Twelve monthly periods (the last cleared at the run's end), each netting to zero."""
    clearing = pq.read_table(result.folder / "clearing.parquet")
    period = clearing["period"].to_numpy()
    net = clearing["net_fen"].to_numpy()
    assert sorted(set(period.tolist())) == list(range(12))
    assert all(net[period == p].sum() == 0 for p in range(12))
    summary = result.summary["clearing"]
    assert 0 < summary["netting_ratio"] < 1
    assert summary["gross_obligations_fen"] == clearing["gross_due_fen"].to_numpy().sum()


def test_books_balance(result: Result) -> None:
    """Every end-of-run money check passed and the ledger's legs sum to zero."""
    assert all(result.summary["ledger"]["checks"].values())
    ledger = pq.read_table(result.folder / "ledger.parquet", columns=["amount_fen"])
    assert ledger["amount_fen"].to_numpy().sum() == 0

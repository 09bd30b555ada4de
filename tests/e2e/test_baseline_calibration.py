"""The baseline weekday reproduces the figures it cites from docs/calibration.md.

Targets (see the derivations in scenarios/baseline_weekday.yaml):
- outpatient + pharmacy settlements per day, scaled back: 6.7 bn in 2024 / 366 days;
- inpatient share of cross-province direct settlements: 11.25 M of 129 M (2023).
The daily count rests on ~18,000 settlements at the shipped scale (1:1000) and is
checked there and at 1:100, within 10%. The inpatient share rests on only ~30
cross-province inpatient settlements at 1:1000 (a 95% interval of about ±35%), so a
10% check there would test the seed, not the model: at 1:1000 the target must lie
in the reported 95% interval, and at 1:100 (~300 cases) the estimate must also be
within 10%.
The larger run keeps only the medical services: the others draw from their own
random streams, so the medical arrivals are the same without them, and they share
no station with medical visits (library verification visits the provincial
platforms, but a few hundred times a day).
"""

from __future__ import annotations

from pathlib import Path

import attrs
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from sim import load_scenario, run_once
from tests.conftest import SCENARIOS

OUTPATIENT_PER_DAY = 6.7e9 / 366
FUND_PER_CROSS_CASE_Q1_2025 = {"medical_outpatient": 125.0, "medical_inpatient": 10040.0,
                               "pharmacy": 108.0}  # fmt: skip
"""CAL: cross-province settlements by kind, Q1 2025 (yuan per case; the scenario's amounts and
rules were not chosen to reproduce these)."""
PLATFORM_INPATIENT_RESPONSE_S = 0.8
INPATIENT_SHARE_OF_CROSS = 11.25 / 129


@pytest.fixture(scope="module", params=[1e-3, 1e-2], ids=["scale=1e-3", "scale=1e-2"])
def summary(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The baseline's summary at the shipped scale and at ten times that."""
    scenario = load_scenario(SCENARIOS / "baseline_weekday.yaml")
    scenario = attrs.evolve(scenario, scale=request.param)
    if request.param > 1e-3:
        medical = scenario.services.medical()
        scenario = attrs.evolve(
            scenario,
            services=attrs.evolve(
                scenario.services, library=None, transit=None, pension_payout=None
            ),
        )
        assert scenario.services.enabled() == medical
    out: Path = tmp_path_factory.mktemp("baseline") / "out"
    summary = run_once(scenario, out).summary
    columns = ["service", "outcome", "cross_province", "fund_fen"]
    table = pq.read_table(out / "transactions.parquet", columns=columns)
    settled = table.filter(pc.and_(pc.equal(table["outcome"], "settled"),
                                   table["cross_province"]))  # fmt: skip
    by_service = settled.group_by("service").aggregate([("fund_fen", "mean")]).to_pylist()
    summary["cross_fund_per_case_yuan"] = {r["service"]: r["fund_fen_mean"] / 100
                                           for r in by_service}  # fmt: skip
    return summary


def test_daily_outpatient_settlements_match_2024(summary: dict) -> None:
    """Outpatient + pharmacy settled per day (full scale) within 10% of 18.3 M."""
    services = summary["services"]
    per_day = sum(services[s]["settled_per_day_full_scale"] for s in ("medical_outpatient",
                                                                        "pharmacy"))  # fmt: skip
    assert per_day == pytest.approx(OUTPATIENT_PER_DAY, rel=0.10)


def test_inpatient_share_of_cross_province_matches_2023(summary: dict) -> None:
    """Inpatient share of cross-province settlements: 8.72% in the 95% interval, and within
    10% where the interval is narrow enough for that to mean something."""
    share = summary["medical"]["inpatient_share_of_cross_province_settled"]
    low, high = share["ci95"]
    assert low <= INPATIENT_SHARE_OF_CROSS <= high
    if summary["scale"] >= 1e-2:
        assert share["value"] == pytest.approx(INPATIENT_SHARE_OF_CROSS, rel=0.10)


@pytest.mark.parametrize("scale", [1e-2])
def test_fund_paid_per_cross_province_case_against_q1_2025(summary: dict, scale: float) -> None:
    """A figure the baseline was not calibrated to: fund paid per cross-province case.

    General outpatient: ¥125 a case in Q1 2025, the model about ¥130 (bills of ¥250 at
    a 50% ratio): within 15%. Inpatient: ¥10,040, the model about ¥7,300 (bills of
    ¥12,000 less an ¥800 deductible at 70%, some capped by the annual ceiling): lower,
    by under 35%; the bill (an ASSUMPTION from the design sketch) is smaller than a
    cross-province stay's, which the 2020 figures put at ¥24,700. Pharmacy: ¥108, the
    model under half of it: the assumed bill (¥90 at 50%) is a local purchase, and
    cross-province pharmacy purchases are larger (chronic-disease prescriptions); the
    gap is kept as a known difference.
    """
    if summary["scale"] != scale:
        pytest.skip("checked where ~2,000 cross-province cases give a narrow mean")
    model = summary["cross_fund_per_case_yuan"]
    real = FUND_PER_CROSS_CASE_Q1_2025
    assert model["medical_outpatient"] == pytest.approx(real["medical_outpatient"], rel=0.15)
    assert model["medical_inpatient"] == pytest.approx(real["medical_inpatient"], rel=0.35)
    assert model["medical_inpatient"] < real["medical_inpatient"]
    assert model["pharmacy"] < 0.6 * real["pharmacy"]


def test_platform_inpatient_response_at_full_load(tmp_path: Path) -> None:
    """Calibration row 3: ≈ 0.8 s mean inpatient settlement response under ≈ 18 M
    settlements a day, within 20%, measured with the platforms at full load
    (``network.load: full``) in the baseline's busiest hour. The settlement service
    time (750 ms, an ASSUMPTION for an itemised bill) was sized for this row; links
    and queueing add the rest, and the test checks that the platforms did carry the
    full-scale traffic while it was measured."""
    sets = ["network.load=full", "start=2024-03-12T09:00:00+08:00", "horizon=1h", "scale=2e-3"]
    scenario = load_scenario(SCENARIOS / "baseline_weekday.yaml", sets)
    result = run_once(scenario, tmp_path / "peak")
    table = pq.read_table(result.folder / "transactions.parquet",
                          columns=["service", "outcome", "settle_latency_s"])  # fmt: skip
    inpatient = table.filter(pc.and_(pc.equal(table["service"], "medical_inpatient"),
                                     pc.equal(table["outcome"], "settled")))  # fmt: skip
    mean = pc.mean(inpatient["settle_latency_s"]).as_py()
    assert mean == pytest.approx(PLATFORM_INPATIENT_RESPONSE_S, rel=0.20)
    background = result.summary["network_load"]["background"]
    per_day_equivalent = background["requests"] * 24 / 2.64  # the busiest hour is 2.64× the mean
    assert per_day_equivalent > 18e6

"""The shipped scenarios of the card's other services run end to end and report their figures."""

from __future__ import annotations

import numpy as np
import pytest

from sim import load_scenario, run_once
from sim.outputs.results import Result
from tests.conftest import SCENARIOS


def run(name: str, tmp_path_factory: pytest.TempPathFactory, *overrides: str) -> Result:
    """Run a shipped scenario with overrides into a fresh folder."""
    scenario = load_scenario(SCENARIOS / f"{name}.yaml", overrides)
    return run_once(scenario, tmp_path_factory.mktemp(name) / "out")


@pytest.fixture(scope="module")
def payday(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """The pension payday's first twelve hours."""
    return run("pension_payday", tmp_path_factory, "horizon=12h")


@pytest.fixture(scope="module")
def libraries(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """The Chengdu–Chongqing libraries' first opening day."""
    return run("chengdu_chongqing_libraries", tmp_path_factory, "horizon=12h")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """The baseline's first six hours (the payday credits of three provinces land in them)."""
    return run("baseline_weekday", tmp_path_factory, "horizon=6h")


def check_invariants(result: Result) -> None:
    """Ids once each, in order; times ordered; money adds up; every outcome terminal."""
    t = result.transactions()
    ids = t["txn_id"].to_numpy()
    assert np.array_equal(ids, np.arange(ids.size))
    arrival, start, end = (t[c].to_numpy() for c in ("arrival_s", "start_s", "end_s"))
    assert (arrival <= start).all() and (start <= end).all()
    amount, fund, personal = (t[c].to_numpy() for c in ("amount_fen", "fund_fen", "personal_fen"))
    assert np.array_equal(fund + personal, amount)
    assert set(t["outcome"].to_pylist()) <= {"settled", "fallback", "declined"}
    assert result.manifest["transactions"] == ids.size


def test_pension_payday_lands_every_credit_before_eight(payday: Result) -> None:
    """All 31 provinces pay on the 15th; Shandong, the largest batch, lands last, before 08:00."""
    check_invariants(payday)
    figures = payday.summary["figures"]["pension_payout"]
    day = figures["paydays"]["2024-03-15"]
    assert figures["deadline_met"] is True and day["provinces_late"] == []
    assert len(day["by_province"]) == 31
    last = max(day["by_province"].items(), key=lambda kv: kv[1]["completion_s"])
    assert last[0] == "SD"
    assert day["last_credit_at"] == last[1]["last_credit_at"] < "2024-03-15T08:00"
    assert day["credits_full_scale"] == pytest.approx(147.39e6 + 180.39e6 + 2.7e6, rel=1e-3)
    assert day["by_batch"]["employee_pension"]["amount_fen_full_scale"] / 147.39e6 == (
        pytest.approx(382_500, rel=0.01)
    )
    services = payday.summary["services"]
    assert {"pension_credit", "benefit_credit", "bank_withdrawal"} <= set(services)
    banks = figures["withdrawals"]
    assert banks["visits"] == services["bank_withdrawal"]["arrivals"]
    assert banks["counter"] > 0 and banks["atm"] > 0


def test_bank_nodes_drain_their_queue_in_the_time_series(payday: Result) -> None:
    """node:bank:SD holds its credits from 02:00, lands them steadily (until the benefits
    join at 03:00), and has none left by 08:00."""
    ts = payday.timeseries.to_pydict()
    sd = [(t, q) for t, s, q in zip(ts["time_s"], ts["station"], ts["queue"], strict=True)
          if s == "node:bank:SD"]  # fmt: skip
    before = [q for t, q in sd if t < 7200]
    during = [q for t, q in sd if 7200 < t < 3 * 3600]
    after = [q for t, q in sd if t >= 8 * 3600]
    assert max(before) == 0 and min(during) > 0 and max(after) == 0
    assert during == sorted(during, reverse=True) and during[0] > during[-1]


def test_withdrawals_rise_after_payday(payday: Result) -> None:
    """Bank visits between 09:00 and 12:00 exceed those of an ordinary morning (no spike)."""
    t = payday.transactions(["service", "arrival_s"])
    visit = np.asarray(t["service"].to_pylist()) == "bank_withdrawal"
    arrival = t["arrival_s"].to_numpy()[visit]
    morning = ((arrival >= 9 * 3600) & (arrival < 12 * 3600)).sum()
    scenario = load_scenario(SCENARIOS / "pension_payday.yaml")
    w = scenario.services.pension_payout.withdrawals
    from sim.engine.calendar import hourly_weights

    weights = hourly_weights(w.profile)[9:12].sum()
    ordinary = 1.38e9 * scenario.scale * w.rate.per_holder_per_day / 24 * weights
    assert morning > 2.0 * ordinary


def test_chengdu_chongqing_interconnection_adds_verification_latency(libraries: Result) -> None:
    """Interconnected verification (two platforms, direct link twice) is slower than local."""
    check_invariants(libraries)
    figures = libraries.summary["figures"]["library"]
    verify = figures["verification_s"]
    assert verify["interconnected"]["p50"] > verify["local"]["p50"]
    assert verify["interconnected"]["p99"] > verify["local"]["p99"]
    # About 33 are expected in these 12 hours (σ ≈ 6): far above 10 unless the
    # interconnection fails to verify anyone.
    assert figures["verified_interconnected"] > 10
    assert figures["interconnection"]["CQ"]["share"] == 1.0
    assert figures["interconnection"]["SC"]["interconnected"] == 22
    library = libraries.summary["services"]["library"]
    assert library["settle_latency_s"]["cross_province"]["p99"] == pytest.approx(
        verify["interconnected"]["p99"]
    )


def test_baseline_reports_all_four_families(baseline: Result) -> None:
    """Medical services, library, transit, payday credits of SH/TJ/CQ and bank visits."""
    check_invariants(baseline)
    figures = baseline.summary["figures"]
    assert set(figures) == {"library", "transit", "pension_payout"}
    day = figures["pension_payout"]["paydays"]["2024-03-12"]
    assert set(day["by_province"]) == {"SH", "TJ", "CQ"}
    assert day["deadline_met"] is True
    assert figures["transit"]["uploads"] > 0
    services = baseline.summary["services"]
    assert {"medical_outpatient", "library", "transit", "pension_credit",
            "bank_withdrawal"} <= set(services)  # fmt: skip
    assert services["transit"]["point_latency_s"]["p50"] == pytest.approx(0.3)

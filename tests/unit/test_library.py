"""Libraries: opening hours, channels, home verification and the interconnection."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim import run_once
from sim.engine.calendar import Clock, open_fraction_by_hour, open_weights
from sim.outputs.results import Result
from sim.scenario import parse_scenario
from sim.services.library import LibraryArrivals, interconnected_share
from sim.world.population import build_population
from sim.world.provinces import full_scale_counts, load_provinces

TABLE = load_provinces()
ACCESS_S, DIRECT_S, NODE_S = 0.010, 0.015, 0.025


def library_scenario(libraries: dict[str, int] | None = None, **changes: Any) -> dict[str, Any]:
    """A library day with constant latencies: SC and CQ interconnected, many partner visits."""
    library: dict[str, Any] = {
        "rate": {"per_holder_per_day": 0.01},
        "opening_hours": {"opens": "09:30", "closes": "17:00"},
        "cross_province_share": 0.02,
        "libraries": {
            "total": 3300,
            "provinces": {"CQ": 43, "SC": 200},
            "counter": {"capacity": 2, "service_time": {"exponential": {"mean": "60s"}}},
            "self_service": {"capacity": 4, "service_time": {"exponential": {"mean": "45s"}}},
            "self_service_share": 0.6,
        },
        "interconnection": {
            "provinces": ["SC", "CQ"],
            "libraries": libraries if libraries is not None else {"CQ": 43},
            "visitor_share": 0.3,
            "latency": {"constant": "15ms"},
        },
        **changes,
    }
    return {
        "name": "library-test",
        "seed": 21,
        "start": "2024-04-16T08:00:00+08:00",
        "horizon": "10h",
        "scale": 1e-3,
        "population": {"ecard_share": 0.0},
        "services": {"library": library},
        "network": {
            "provincial": {"servers": 64, "service_time": {"constant": "25ms"}},
            "access": {"latency": {"constant": "10ms"}},
        },
    }


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """All 43 Chongqing libraries interconnected, none in Sichuan."""
    return run_once(parse_scenario(library_scenario()), tmp_path_factory.mktemp("lib") / "out")


def columns(result: Result) -> dict[str, np.ndarray]:
    """The transactions as numpy columns (categories as strings)."""
    t = result.transactions()
    return {n: np.asarray(t[n].to_pylist()) for n in t.column_names}


@pytest.fixture(scope="module")
def cols(day: Result) -> dict[str, np.ndarray]:
    """The day's transactions as numpy columns."""
    return columns(day)


def test_no_loan_outside_opening_hours(day: Result, cols: dict[str, np.ndarray]) -> None:
    """Every arrival falls within 09:30–17:00 local time, though the run starts at 08:00."""
    c = cols
    local = (c["arrival_s"] + 8 * 3600) % 86400
    assert local.min() >= 9.5 * 3600 and local.max() < 17 * 3600
    assert c["arrival_s"].size > 500


def test_verification_round_trip_local_and_interconnected(
    day: Result, cols: dict[str, np.ndarray]
) -> None:
    """Local: access, home platform, access. Interconnected: two platform visits more and the
    direct link twice (no queues: 64 servers, constant times)."""
    c = cols
    verified = c["outcome"] == "settled"
    local, cross = verified & ~c["cross_province"], verified & c["cross_province"]
    np.testing.assert_allclose(c["settle_latency_s"][local], 2 * ACCESS_S + NODE_S)
    np.testing.assert_allclose(c["settle_latency_s"][cross],
                               2 * ACCESS_S + 3 * NODE_S + 2 * DIRECT_S)  # fmt: skip
    assert cross.sum() > 20
    figures = day.summary["figures"]["library"]["verification_s"]
    assert figures["interconnected"]["p99"] > figures["local"]["p99"]


def test_only_interconnected_holders_at_interconnected_libraries_are_verified(
    day: Result, cols: dict[str, np.ndarray]
) -> None:
    """SC holders in CQ (all 43 interconnected): verified. CQ holders in SC (none): declined.
    Holders of other provinces: declined as not interconnected."""
    c = cols
    home, site, outcome = c["home_province"], c["site_province"], c["outcome"]
    sc_in_cq = (home == "SC") & (site == "CQ")
    cq_in_sc = (home == "CQ") & (site == "SC")
    others = c["cross_province"] & ~sc_in_cq & ~cq_in_sc
    assert sc_in_cq.sum() > 20 and cq_in_sc.sum() > 20 and others.sum() > 5
    assert (outcome[sc_in_cq] == "settled").all()
    assert (c["reason"][cq_in_sc | others] == "not_interconnected").all()
    assert (outcome[cq_in_sc | others] == "declined").all()
    assert (outcome[~c["cross_province"]] == "settled").all()
    figures = day.summary["figures"]["library"]
    assert figures["not_interconnected"] == (cq_in_sc | others).sum()
    assert figures["interconnection"]["CQ"] == {
        "libraries": 43,
        "interconnected": 43,
        "share": 1.0,
    }


def test_partial_interconnection_accepts_its_share(tmp_path: Path) -> None:
    """With 13 of Chongqing's 43 libraries interconnected, about 13/43 of SC holders there are
    verified (binomial, five standard errors)."""
    result = run_once(parse_scenario(library_scenario({"CQ": 13})), tmp_path / "out")
    c = columns(result)
    sc_in_cq = (c["home_province"] == "SC") & (c["site_province"] == "CQ")
    n, p = int(sc_in_cq.sum()), 13 / 43
    hits = int((c["outcome"][sc_in_cq] == "settled").sum())
    assert abs(hits / n - p) <= 5 * np.sqrt(p * (1 - p) / n)


def test_two_channels_with_their_shares(day: Result, cols: dict[str, np.ndarray]) -> None:
    """About 60% at self-service terminals; counter and terminal groups are stations."""
    c = cols
    assert set(c["channel"]) == {"counter", "self_service"}
    share = (c["channel"] == "self_service").mean()
    assert share == pytest.approx(0.6, abs=5 * np.sqrt(0.24 / c["channel"].size))
    names = set(day.stations["station"].to_pylist())
    assert {"point:library:CQ:counter", "point:library:CQ:self_service"} <= names


def test_opening_hours_keep_the_daily_rate() -> None:
    """Closed hours get no weight; the open part of each hour carries a daily mean of 1."""
    weights = open_weights("library", 9.5 * 3600, 17 * 3600)
    fraction = open_fraction_by_hour(9.5 * 3600, 17 * 3600)
    assert fraction[9] == 0.5 and fraction[16] == 1.0 and fraction[17] == 0.0
    assert (weights * fraction).sum() == pytest.approx(24.0)
    assert (weights[fraction == 0] == 0).all()
    with pytest.raises(ValueError, match="no demand"):
        open_weights((1.0,) * 12 + (0.0,) * 12, 13 * 3600, 17 * 3600)


def test_expected_library_visits_over_a_day_equal_the_daily_rate() -> None:
    """Summed over a day's hours, expected visits = holders × rate per day."""
    scenario = parse_scenario(library_scenario())
    spec = scenario.services.library
    population = build_population(TABLE, scenario.population, 1e-4, np.random.default_rng(3))
    counts = np.ones(len(TABLE), dtype=np.int64)
    clock = Clock(dt.datetime.fromisoformat("2024-04-16T00:00:00+08:00"))
    arrivals = LibraryArrivals(spec, TABLE, population, counts, clock, np.random.default_rng(4))
    total = sum(arrivals.expected(h, h * 3600.0, (h + 1) * 3600.0) for h in range(24))
    assert total == pytest.approx(population.size * 0.01)
    assert arrivals.draw(3, 3 * 3600.0, 4 * 3600.0)["time_s"].size == 0


def test_interconnected_share_is_libraries_over_the_province_count() -> None:
    """Share = interconnected ÷ libraries at full scale, 0 outside the interconnection."""
    spec = parse_scenario(library_scenario({"CQ": 13, "SC": 20})).services.library
    libs = spec.libraries
    full = full_scale_counts(TABLE, libs.per_province, libs.total, libs.provinces)
    share = interconnected_share(spec, TABLE, full)
    assert share[TABLE.index("CQ")] == pytest.approx(13 / 43)
    assert share[TABLE.index("SC")] == pytest.approx(20 / 200)
    assert share[TABLE.index("BJ")] == 0.0


def test_more_interconnected_libraries_than_the_province_has_is_refused() -> None:
    """Validation compares with the province's libraries at full scale, by path."""
    from sim.scenario import ScenarioError

    with pytest.raises(ScenarioError) as info:
        parse_scenario(library_scenario({"CQ": 44}))
    assert [str(p) for p in info.value.problems] == [
        "services.library.interconnection.libraries.CQ: must be ≤ the province's libraries "
        "at full scale (43), got 44"
    ]

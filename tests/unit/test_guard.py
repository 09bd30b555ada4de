"""Tests for sim.run.guard: sizing a run from its scenario alone, and the limits it checks.

The estimate must be close to what runs really do (events and transactions in
``manifest.json``), agree exactly with the model's own expected arrivals, and
never build the population it is there to guard against.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import run_once
from sim.engine.calendar import Clock, hourly_weights
from sim.run import guard
from sim.run.model import build
from sim.scenario import Scenario, apply_overrides, dump_scenario, load_scenario, parse_scenario
from sim.world.demand import Demand
from tests.conftest import SCENARIOS
from tests.strategies import aware_datetimes, profiles


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("smoke.yaml", []),
        ("baseline_weekday.yaml", []),
        ("pension_payday.yaml", []),
        ("chengdu_chongqing_libraries.yaml", []),
        ("smoke.yaml", ["population.ecard_share=0.9", "services.pharmacy.networked_share=0"]),
    ],
    ids=["smoke", "baseline", "payday", "libraries", "smoke-ecard-unnetworked"],
)
def test_estimate_is_close_to_the_run(name: str, overrides: list[str], tmp_path: Path) -> None:
    """Estimated events and transactions are within a factor 1.5 of a real run's counts.

    Measured (seeds as shipped), events and transactions, run vs estimate: smoke
    3,144 / 397 vs 2,883 / 363; baseline (four families) 214,452 / 67,726 vs
    248,849 / 68,216; payday 134,922 / 397,351 vs 139,118 / 399,480; libraries
    162,272 / 22,576 vs 178,272 / 22,685. A run's transactions are a Poisson
    count, so they differ from the expectation by chance.
    """
    scenario = load_scenario(SCENARIOS / name, overrides)
    cost = guard.estimate(scenario)
    manifest = run_once(scenario, tmp_path / "out").manifest
    assert 1 / 1.5 < cost.events / manifest["events"] < 1.5
    assert 1 / 1.5 < cost.transactions / manifest["transactions"] < 1.5
    assert cost.holders == manifest["holders_simulated"]


def test_expected_transactions_match_the_models_demand(smoke: Scenario, tmp_path: Path) -> None:
    """The guard's expectation is the demand's own, computed without the population.

    Building a model opens no file: the folder stays empty until it is simulated.
    """
    model = build(smoke, tmp_path)
    expected = sum(model.demand.expected_arrivals())
    assert list(tmp_path.iterdir()) == []
    assert expected == pytest.approx(guard.estimate(smoke).transactions, rel=1e-9)


def test_estimate_builds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sizing a full-scale run takes no population: building one would fail here.

    At full scale a payday's credits (recipients, batches, recorded blocks) dominate
    memory, and the default limit refuses the run.
    """

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the guard built a population")

    monkeypatch.setattr("sim.world.population.build_population", refuse)
    monkeypatch.setattr("sim.run.model.build_population", refuse)
    baseline = load_scenario(SCENARIOS / "baseline_weekday.yaml", ["scale=1"])
    cost = guard.estimate(baseline)
    assert 1.38e9 == cost.holders
    assert cost.memory_bytes > guard.MAX_MEMORY_BYTES


@settings(max_examples=60, deadline=None)
@given(
    start=aware_datetimes(),
    horizon_s=st.floats(0.0, 30 * 86400.0),
    profile=profiles,
)
def test_weighted_seconds_agree_with_the_hourly_pieces(
    start: dt.datetime, horizon_s: float, profile: str | tuple[float, ...]
) -> None:
    """The closed form equals the sum over the demand's hour-by-hour pieces.

    Starts are whole seconds: with a fractional second, rounding can put the
    demand's last hour edge just short of the hour, and the sliver after it
    (under a second) is then labelled with the previous hour.
    """
    weights = hourly_weights(profile)
    clock = Clock(start.replace(microsecond=0))
    pieces = Demand(clock, horizon_s, []).pieces()
    direct = sum(weights[h] * (b - a) for h, a, b in pieces)
    assert clock.weighted_seconds(weights, horizon_s) == pytest.approx(direct, rel=1e-9, abs=1e-3)


def test_weighted_seconds_of_centuries_is_immediate() -> None:
    """A horizon of a thousand years costs what an hour costs (no hour-by-hour list)."""
    clock = Clock(dt.datetime(2024, 1, 1, 9, 30, tzinfo=dt.UTC))
    weights = hourly_weights("office_hours")
    seconds = 1000 * 365 * 86400.0
    assert clock.weighted_seconds(weights, seconds) == pytest.approx(seconds, rel=1e-6)


def _raw(name: str, *overrides: str) -> Scenario:
    raw = dump_scenario(load_scenario(SCENARIOS / name))
    return parse_scenario(apply_overrides(raw, overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        ("population.holders=1e10", "scale=1"),
        ("services.pharmacy.points={total: 1e9, capacity: 1e9, service_time: {constant: 1s}}",),
        ("horizon=2000000d", "outputs.sample_every=10d"),
        ("services.pharmacy.rate={per_holder_per_day: 0}",),
    ],
)
def test_absurd_scenarios_give_an_estimate_not_an_error(overrides: tuple[str, ...]) -> None:
    """Whatever validates can be sized: huge figures give huge estimates, never an overflow."""
    cost = guard.estimate(_raw("smoke.yaml", *overrides))
    assert cost.events >= 0 and cost.memory_bytes > 0
    assert not math.isnan(cost.events) and not math.isnan(cost.memory_bytes)


def test_check_names_each_exceeded_limit_and_a_limit_that_fits(smoke: Scenario) -> None:
    """Both limits exceeded: two excesses, each suggesting a round limit above the estimate."""
    cost = guard.estimate(smoke)
    excesses = guard.check(cost, guard.Limits(max_events=10, max_memory_bytes=1e6))
    assert ["events", "memory"] == [e.resource for e in excesses]
    events, memory = excesses
    assert float(events.suggested_limit) >= cost.events
    assert float(memory.suggested_limit.removesuffix("GB")) * 1e9 >= cost.memory_bytes
    assert f"{cost.transactions:.3g} transactions" in events.message
    assert [] == guard.check(cost, guard.Limits())
    assert [] == guard.check(cost, guard.Limits(math.inf, math.inf))


def test_smaller_scale_fits_the_limit(smoke: Scenario) -> None:
    """The suggested scale brings the estimate under the limit that refused the run."""
    limits = guard.Limits(max_events=1000)
    scale = guard.smaller_scale(guard.estimate(smoke), limits, smoke.scale)
    assert scale is not None and scale < smoke.scale
    assert [] == guard.check(guard.estimate(attrs.evolve(smoke, scale=scale)), limits)
    assert None is guard.smaller_scale(guard.estimate(smoke), guard.Limits(), smoke.scale)


def test_events_per_transaction_counts_each_route() -> None:
    """Chip card, local: 2 + 3 events; an e-card adds 3; cross-province settles over 11.

    Timeouts are not per request (the requesters share one wake-up), so a one-node
    exchange is two links and a service.
    """
    from sim.services.medical import events_per_transaction

    spec = load_scenario(SCENARIOS / "smoke.yaml").services.pharmacy
    assert spec is not None
    local = attrs.evolve(spec, cross_province_share=0.0)
    cross = attrs.evolve(spec, cross_province_share=1.0)
    assert 5.0 == events_per_transaction(local, 0.0)
    assert 8.0 == events_per_transaction(local, 1.0)
    assert 13.0 == events_per_transaction(cross, 0.0)
    assert 2.0 == events_per_transaction(attrs.evolve(cross, networked_share=0.0), 0.0)
    assert np.isclose(
        5.4, events_per_transaction(attrs.evolve(spec, cross_province_share=0.05), 0)
    )


FRANTIC = "faults={random_outages: [{node: national, mtbf: 1ms, mttr: 1ms}]}"
"""The issue's fault schedule: an outage of the national node every 2 ms on average."""


def test_random_outages_are_counted_and_match_the_run(tmp_path: Path) -> None:
    """The expected outages match a run's; each adds events and memory to the estimate."""
    outages = "faults={random_outages: [{node: national, mtbf: 50ms, mttr: 50ms}]}"
    overrides = ["horizon=10min", "warmup=0s", outages]
    scenario = load_scenario(SCENARIOS / "smoke.yaml", overrides)
    quiet = load_scenario(SCENARIOS / "smoke.yaml", overrides[:2])
    cost, base = guard.estimate(scenario), guard.estimate(quiet)
    happened = len(run_once(scenario, tmp_path / "out").summary["faults"]["outages"])
    assert cost.outages == pytest.approx(happened, rel=0.05)
    assert cost.events - base.events == pytest.approx(cost.outages * guard.OUTAGE_EVENTS)
    assert cost.memory_bytes - base.memory_bytes == pytest.approx(
        cost.outages * guard.OUTAGE_BYTES
    )


def test_a_frantic_fault_schedule_is_refused_naming_the_outages() -> None:
    """mtbf 1ms over a day: tens of millions of outages are over the memory limit."""
    scenario = load_scenario(SCENARIOS / "baseline_weekday.yaml", [FRANTIC])
    (excess,) = guard.check(guard.estimate(scenario), guard.Limits())
    assert excess.resource == "memory"
    assert "4.32e+07 random outages" in excess.message

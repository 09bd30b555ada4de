"""The calibrated scenarios against what theory says about any run: Little's law on every
station, and arrivals that form the non-homogeneous Poisson process the profiles describe."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from sim import run_once
from sim.outputs.results import Result
from sim.scenario import load_scenario, parse_scenario
from sim.scenario.loader import read_yaml
from sim.validation.little import littles_law
from sim.validation.runner import validate
from tests.conftest import SCENARIOS
from tests.theory.conftest import JOBS, failures


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """The calibrated baseline weekday, one run at its shipped scale."""
    scenario = load_scenario(SCENARIOS / "baseline_weekday.yaml")
    return run_once(scenario, tmp_path_factory.mktemp("baseline") / "out")


def test_littles_law_closes_on_every_baseline_station(baseline: Result) -> None:
    """Every queue (points, nodes, upload backlogs): L = λW up to the edge term, which is
    nil from midnight to midnight for points and nodes.

    The day starts empty and ends in the night trough, so no queue spans either end
    of the window: the plain gap |L − λW| / L is only float rounding (waits are float32).
    """
    checks = littles_law(baseline.stations)
    kinds = baseline.stations.column("kind").to_pylist()
    assert len(checks) == sum(kind in ("point", "node", "backlog") for kind in kinds) > 31 * 3 + 33
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert sum(c.station.startswith("backlog:") for c in checks) == sum(
        kind == "backlog" for kind in kinds
    )
    # Fare records wait on gates up to an upload interval, so a backlog spans midnight.
    queued = [c for c in checks if c.queue > 0 and not c.station.startswith("backlog:")]
    assert len(queued) > 50
    assert max(c.relative_gap for c in queued) < 1e-6


def test_littles_law_with_queues_at_both_ends_of_the_window(tmp_path: Path) -> None:
    """An overloaded point measured from its warm-up's end to a busy horizon: L and λW
    differ by far more than rounding, and the edge term (jobs queued at the two ends of
    the window) accounts for the difference to rounding."""
    text = (SCENARIOS / "validation" / "mm1.yaml").read_text()
    scenario = parse_scenario(read_yaml(text, "mm1"))
    pharmacy = scenario.services.pharmacy
    assert pharmacy is not None
    rate = attrs.evolve(pharmacy.rate, value=1980.0)  # ρ = 1.1: the queue grows all along
    overloaded = attrs.evolve(scenario, horizon=3600.0, warmup=1200.0, services=attrs.evolve(
        scenario.services, pharmacy=attrs.evolve(pharmacy, rate=rate)))  # fmt: skip
    result = run_once(overloaded, tmp_path / "out")
    [check] = [c for c in littles_law(result.stations) if c.station.startswith("point:")]
    row = result.stations.to_pylist()[0]
    assert row["queue_start"] > 5 and row["queue_end"] > row["queue_start"]
    assert check.ok
    assert abs(check.edge) > 1e-4 * check.queue
    assert abs(check.queue - check.lambda_w - check.edge) < 1e-6 * check.queue


@pytest.mark.parametrize(("name", "replications"), [("smoke", 5), ("baseline_weekday", 3)])
def test_shipped_scenario_arrivals_and_little(name: str, replications: int) -> None:
    """Hourly counts per (service, province) are Poisson with the profile's means (χ²), the
    rescaled gaps are Exp(1) (KS), the totals match, and Little's law closes everywhere."""
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    [report] = validate([scenario], replications=replications, jobs=JOBS)
    assert report.case.kind == "arrival process"
    assert report.passed, failures(report)
    quantities = [row.quantity for row in report.rows]
    assert quantities == ["arrivals over the horizon", "hourly counts Poisson (χ²)",
                          "rescaled gaps Exp(1) (KS)", "Little's law Lq = λWq"]  # fmt: skip

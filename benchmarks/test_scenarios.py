"""Whole runs: wall time of a scenario from build to written results."""

from __future__ import annotations

import itertools
from pathlib import Path

import attrs
import pytest

from sim import run_once
from sim.scenario import Scenario

_counter = itertools.count()


def _fresh_run(scenario: Scenario, tmp: Path) -> tuple[tuple[Scenario, Path], dict[str, object]]:
    """A new results folder per round (a run refuses to overwrite one)."""
    return (scenario, tmp / f"run-{next(_counter)}"), {}


@pytest.mark.benchmark(group="scenario")
def test_smoke_run(benchmark, smoke: Scenario, tmp_path: Path) -> None:
    """The smoke scenario, two simulated hours at 1:10,000."""
    result = benchmark.pedantic(run_once, setup=lambda: _fresh_run(smoke, tmp_path), rounds=5)
    assert result.manifest["transactions"] > 0


@pytest.mark.benchmark(group="scenario")
@pytest.mark.parametrize("scale", [1e-4, 1e-3], ids=["1:10000", "1:1000"])
def test_baseline_run(benchmark, baseline: Scenario, scale: float, tmp_path: Path) -> None:
    """The baseline weekday, one simulated day, at two scales (cost per transaction)."""
    scenario = attrs.evolve(baseline, scale=scale)
    result = benchmark.pedantic(run_once, setup=lambda: _fresh_run(scenario, tmp_path), rounds=3)
    assert result.manifest["transactions"] > 5_000_000 * scale

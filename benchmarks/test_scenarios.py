"""Whole runs: wall time of a scenario from build to written results."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import pytest

from sim import run_once
from sim.scenario import Scenario

_counter = itertools.count()


def _fresh_run(scenario: Scenario) -> tuple[tuple[Scenario, Path], dict[str, object]]:
    out = Path(tempfile.mkdtemp(prefix="bench-")) / f"run-{next(_counter)}"
    return (scenario, out), {}


@pytest.mark.benchmark(group="scenario")
def test_smoke_run(benchmark, smoke: Scenario) -> None:
    """The smoke scenario, two simulated hours at 1:10,000."""
    result = benchmark.pedantic(run_once, setup=lambda: _fresh_run(smoke), rounds=5)
    assert result.manifest["transactions"] > 0


@pytest.mark.benchmark(group="scenario")
def test_baseline_run(benchmark, baseline: Scenario) -> None:
    """The baseline weekday, one simulated day at 1:1000."""
    result = benchmark.pedantic(run_once, setup=lambda: _fresh_run(baseline), rounds=3)
    assert result.manifest["transactions"] > 10_000

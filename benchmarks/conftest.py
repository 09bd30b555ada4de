"""Sized scenarios for benchmarks (the test suite runs each once, untimed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.scenario import Scenario, load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


@pytest.fixture(scope="session")
def smoke() -> Scenario:
    """The smoke scenario."""
    return load_scenario(SCENARIOS / "smoke.yaml")


@pytest.fixture(scope="session")
def baseline() -> Scenario:
    """The baseline weekday at its shipped scale."""
    return load_scenario(SCENARIOS / "baseline_weekday.yaml")

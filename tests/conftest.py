"""Shared fixtures: paths of the shipped scenarios, a fresh environment, a seeded rng."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import simpy

from sim.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


@pytest.fixture
def env() -> simpy.Environment:
    """A fresh SimPy environment at time 0."""
    return simpy.Environment()


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator with a fixed seed, for tests of sampling functions."""
    return np.random.default_rng(12345)


@pytest.fixture
def smoke_path() -> Path:
    """Path of the tiny scenario used by tests."""
    return SCENARIOS / "smoke.yaml"


@pytest.fixture
def smoke(smoke_path: Path) -> Scenario:
    """The smoke scenario, loaded."""
    return load_scenario(smoke_path)

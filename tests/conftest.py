"""Shared fixtures: paths of the shipped scenarios, a fresh environment, a seeded rng.

Hypothesis profiles: ``HYPOTHESIS_PROFILE=deep`` runs hundreds of examples where
the suite runs a few (the random fault schedules: 500 instead of 12).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from sim.engine.kernel import Environment
from sim.scenario import Scenario, load_scenario
from sim.scenario.families import SERVICES

DEEP_EXAMPLES = 500
"""Examples per property test under ``HYPOTHESIS_PROFILE=deep``."""
settings.register_profile("deep", max_examples=DEEP_EXAMPLES, deadline=None)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
settings.load_profile(PROFILE)


def examples(default: int) -> int:
    """Examples a slow property test tries: ``default``, or the deep profile's number."""
    return DEEP_EXAMPLES if PROFILE == "deep" else default


ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


@pytest.fixture
def env() -> Environment:
    """A fresh SimPy environment at time 0."""
    return Environment(tags=len(SERVICES))


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

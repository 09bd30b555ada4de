"""sscard-sim: a discrete-event simulator of China's social-security card system.

Card holders use their card at service points; settlement requests travel
provincial platforms and the national platform; the run reports throughput,
latency, queues and money. The short public surface is below; everything else
is imported from its own module.
"""

from typing import Any

from sim.outputs.results import Result
from sim.run.api import run_once
from sim.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["Plan", "Result", "Scenario", "ScenarioError", "load_scenario", "run_once", "run_sweep"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``Plan`` and ``run_sweep`` from :mod:`sim.experiment`, imported on first use."""
    if name in ("Plan", "run_sweep"):
        from sim import experiment

        return getattr(experiment, name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")

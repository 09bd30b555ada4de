"""sscard-sim: a discrete-event simulator of China's social-security card system.

Card holders use their card at service points; settlement requests travel
provincial platforms and the national platform; the run reports throughput,
latency, queues and money. The short public surface is below; everything else
is imported from its own module.
"""

from sim.api import run_once
from sim.results import Result
from sim.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["Result", "Scenario", "ScenarioError", "load_scenario", "run_once"]
__version__ = "0.1.0"

"""Scenario files: the schema, loading with validation, and writing back.

``load_scenario(path)`` is the way in; it returns a frozen :class:`Scenario`
or raises :class:`ScenarioError` listing every problem by key path.
"""

from sim.scenario.loader import (
    ScenarioError,
    apply_overrides,
    dump_scenario,
    load_scenario,
    parse_scenario,
)
from sim.scenario.schema import SERVICE_NAMES, Scenario

__all__ = [
    "SERVICE_NAMES",
    "Scenario",
    "ScenarioError",
    "apply_overrides",
    "dump_scenario",
    "load_scenario",
    "parse_scenario",
]

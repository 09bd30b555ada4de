"""Scenario files: the schema, loading with validation, and writing back.

``load_scenario(path)`` is the way in; it returns a frozen :class:`Scenario`
or raises :class:`ScenarioError` listing every problem by key path.
"""

# The schema is imported first: it completes itself by importing the other
# service families' sections (``card_services``), which build on its primitives.
from sim.scenario.schema import SERVICE_NAMES, Scenario

# isort: split
from sim.scenario.loader import (
    ScenarioError,
    apply_overrides,
    dump_scenario,
    load_scenario,
    parse_scenario,
)

__all__ = [
    "SERVICE_NAMES",
    "Scenario",
    "ScenarioError",
    "apply_overrides",
    "dump_scenario",
    "load_scenario",
    "parse_scenario",
]

"""Property: writing a scenario out and reading it back gives the same scenario.

``dump_scenario`` is what ``manifest.json`` stores, so a run must be
reproducible from it: ``parse_scenario(dump_scenario(s)) == s`` for every
valid scenario, also after a trip through YAML text.
"""

from __future__ import annotations

import json

import yaml
from hypothesis import given, settings

from sim.scenario import dump_scenario, parse_scenario
from sim.scenario.loader import read_yaml
from sim.scenario.schema import Scenario
from tests.strategies import scenarios

SETTINGS = settings(max_examples=100, deadline=None)
QUICK = settings(max_examples=40, deadline=None)


@SETTINGS
@given(scenarios())
def test_parse_of_dump_is_identity(scenario: Scenario) -> None:
    """Reading back the dumped plain data gives an equal scenario."""
    assert scenario == parse_scenario(dump_scenario(scenario))


@SETTINGS
@given(scenarios())
def test_yaml_text_round_trip(scenario: Scenario) -> None:
    """Dumping to YAML text and loading it with the strict loader gives an equal scenario.

    Non-ASCII text is escaped (PyYAML's default): with ``allow_unicode=True`` PyYAML
    writes U+0085 (NEL) raw and reads it back as a space, a PyYAML emitter bug.
    """
    text = yaml.safe_dump(dump_scenario(scenario), sort_keys=False)
    assert scenario == parse_scenario(read_yaml(text, "<test>"))


@QUICK
@given(scenarios())
def test_json_round_trip(scenario: Scenario) -> None:
    """The dumped form is JSON-ready (the manifest) and survives a JSON trip."""
    text = json.dumps(dump_scenario(scenario), ensure_ascii=False)
    assert scenario == parse_scenario(json.loads(text))


@QUICK
@given(scenarios())
def test_dump_is_a_fixed_point(scenario: Scenario) -> None:
    """Dumping a reloaded scenario writes exactly the same plain data."""
    data = dump_scenario(scenario)
    assert data == dump_scenario(parse_scenario(data))

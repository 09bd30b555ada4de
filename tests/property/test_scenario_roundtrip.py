"""Property: writing a scenario out and reading it back gives the same scenario.

``dump_scenario`` is what ``manifest.json`` stores, so a run must be
reproducible from it: ``parse_scenario(dump_scenario(s)) == s`` for every
valid scenario, also after a trip through YAML text.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

import attrs
import pytest
import yaml
from hypothesis import Phase, find, given, settings
from hypothesis.errors import NoSuchExample

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


# --- the strategy covers the schema ------------------------------------------------------


def _schema_paths(tp: Any, path: str) -> set[str]:
    """Field paths of a schema type: ``*`` for user-chosen keys; distributions are leaves."""
    found: set[str] = set()
    for option in _options(tp):
        if attrs.has(option) and not hasattr(option, "TAG"):
            hints = typing.get_type_hints(option)
            for field in attrs.fields(option):
                child = f"{path}.{field.name}" if path else field.name
                found |= {child} | _schema_paths(hints[field.name], child)
        elif typing.get_origin(option) is dict:
            found |= _schema_paths(typing.get_args(option)[1], f"{path}.*")
    return found


def _options(tp: Any) -> tuple[Any, ...]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return tuple(o for o in typing.get_args(tp) if o is not type(None))
    return (tp,)


def _varied_paths(obj: Any, path: str = "") -> set[str]:
    """Field paths whose value differs from the field's default (required fields always)."""
    found: set[str] = set()
    if isinstance(obj, dict):
        for value in obj.values():
            found |= _varied_paths(value, f"{path}.*")
        return found
    if not attrs.has(type(obj)) or hasattr(type(obj), "TAG"):
        return found
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        default = field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory()
        child = f"{path}.{field.name}" if path else field.name
        if default is attrs.NOTHING or value != default:
            found.add(child)
        found |= _varied_paths(value, child)
    return found


def test_strategy_varies_every_schema_field() -> None:
    """Across generated scenarios, every field of the schema takes a non-default value.

    A field the strategy never varies is never round-tripped by the tests above;
    this fails when a schema key is added without extending ``tests/strategies.py``.
    """
    wanted = _schema_paths(Scenario, "") - {"provinces"}  # one valid value: builtin:2020
    seen: set[str] = set()

    def covers_everything(scenario: Scenario) -> bool:
        seen.update(_varied_paths(scenario))
        return seen >= wanted

    try:
        find(
            scenarios(),
            covers_everything,
            settings=settings(max_examples=2000, database=None, phases=[Phase.generate]),
        )
    except NoSuchExample:
        pytest.fail(f"tests/strategies.py never varies: {sorted(wanted - seen)}")

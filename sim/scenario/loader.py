"""Reading scenario files: safe YAML, ``--set`` overrides, validation, one error list.

A scenario file is data. It is read with :mod:`sim.scenario.yaml_text` (safe
YAML, no duplicate keys, bounded size), overrides are applied to the raw
mapping, and the result is structured and validated. Every problem found is
reported together, each under its key path, before anything runs.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from sim.scenario import shipped, validate, yaml_text
from sim.scenario.codec import INVALID, Problem, structure, unstructure
from sim.scenario.fault_times import resolve_fault_times
from sim.scenario.schema import Scenario

__all__ = ["ScenarioError", "apply_overrides", "dump_scenario", "load_scenario", "parse_scenario"]


class ScenarioError(Exception):
    """A scenario could not be loaded; ``problems`` lists every reason, by path."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(self.report())

    def report(self) -> str:
        """All problems, one per line, under the file they come from."""
        lines = [f"{self.source}: {len(self.problems)} problem(s)"]
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)


def read_yaml(text: str, source: str) -> Any:
    """Parse YAML text; syntax errors become a :class:`ScenarioError` with the line."""
    try:
        return yaml_text.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        kind = "refused" if isinstance(exc, yaml_text.RefusedDocument) else "syntax error"
        message = f"YAML {kind} at {where}{problem}"
        raise ScenarioError(source, [Problem("", message)]) from None


def apply_overrides(raw: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``dotted.key=value`` overrides to a raw scenario mapping (a copy).

    Values are read as YAML scalars, so ``3``, ``0.5``, ``true`` and ``90s``
    mean what they would in the file. Missing intermediate mappings are created.
    """
    result: dict[str, Any] = dict(_deep_copy(raw))
    problems: list[Problem] = []
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            problems.append(Problem("--set", f"expected dotted.key=value, got {item!r}"))
            continue
        parts = key.strip().split(".")
        node: Any = result
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                problems.append(Problem(key, f"cannot set inside {where!r}: it is not a mapping"))
                break
            node = child
        else:
            try:
                node[parts[-1]] = yaml_text.load(text) if text.strip() else ""
            except yaml.YAMLError:
                node[parts[-1]] = text
    if problems:
        raise ScenarioError("--set", problems)
    return result


def parse_scenario(raw: Any, source: str = "<scenario>") -> Scenario:
    """Structure and validate a raw mapping; raise :class:`ScenarioError` listing problems."""
    problems: list[Problem] = []
    if not isinstance(raw, Mapping):
        kind = "an empty file" if raw is None else type(raw).__name__
        raise ScenarioError(source, [Problem("", f"expected a mapping of keys, got {kind}")])
    raw, problems = resolve_fault_times(raw)
    scenario = structure(raw, Scenario, "", problems)
    if scenario is not INVALID:
        problems.extend(validate.cross_check(scenario))
    elif not problems:  # every refusal records why; never hand back INVALID as a scenario
        problems.append(Problem("", "could not be read (no reason recorded: please report)"))
    if problems:
        raise ScenarioError(source, problems)
    return scenario  # type: ignore[no-any-return]


def load_scenario(
    path: str | Path, overrides: Iterable[str] = (), seed: int | None = None
) -> Scenario:
    """Load a scenario file, apply ``--set`` overrides and an optional seed, and validate.

    ``path`` may also name a shipped scenario (``baseline_weekday``): see
    :mod:`sim.scenario.shipped`.
    """
    source = str(path)
    raw = read_yaml(read_text(Path(path), source), source)
    if isinstance(raw, Mapping):
        raw = apply_overrides(raw, overrides)
        if seed is not None:
            raw["seed"] = seed
    return parse_scenario(raw, source)


def read_text(path: Path, source: str) -> str:
    """The UTF-8 text of a scenario file, read no further than :data:`yaml_text.MAX_BYTES`.

    The cap keeps a mistaken path (a log file, ``/dev/zero``) from filling memory;
    a named pipe or socket is refused before opening, which would wait for a writer.
    A path that does not exist is looked up among the shipped scenarios by name.
    """
    path = shipped.resolve(path)
    try:
        mode = path.stat().st_mode
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            kind = "a named pipe" if stat.S_ISFIFO(mode) else "a socket"
            raise ScenarioError(source, [Problem("", f"{kind}, not a scenario file")])
        with path.open("rb") as file:
            data = file.read(yaml_text.MAX_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError(source, [shipped.unknown_scenario(path)]) from None
    except IsADirectoryError:
        message = f"is a folder, not a scenario file (name its files: {source}/*.yaml)"
        raise ScenarioError(source, [Problem("", message)]) from None
    except OSError as exc:
        raise ScenarioError(source, [Problem("", f"cannot read file: {exc}")]) from None
    if len(data) > yaml_text.MAX_BYTES:
        message = f"file larger than {yaml_text.MAX_BYTES} bytes: not a scenario file"
        raise ScenarioError(source, [Problem("", message)])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(source, [Problem("", f"cannot read file: {exc}")]) from None


def dump_scenario(scenario: Scenario) -> dict[str, Any]:
    """The fully resolved scenario as plain data; :func:`parse_scenario` reads it back."""
    data = unstructure(scenario, Scenario)
    assert isinstance(data, dict)
    return data


def _deep_copy(raw: Any) -> Any:
    if isinstance(raw, Mapping):
        return {k: _deep_copy(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_deep_copy(v) for v in raw]
    return raw

"""What a sweep runs: variants of a scenario (a full factorial), times replications.

``--vary network.national.servers=32,64`` makes one factor; several factors
multiply into variants, each validated up front through the same ``--set``
mechanism as a single run, so a bad value is reported by key path before
anything runs. Replication r of every variant gets the same seed, derived from
the scenario's seed and r only: the named random streams of :mod:`sim.engine.streams`
then give every variant the same holders and arrivals (common random numbers),
and variants are compared replication by replication.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import yaml

from sim.experiment.task import TaskKey
from sim.scenario import Scenario, ScenarioError, dump_scenario, parse_scenario
from sim.scenario.loader import apply_overrides, read_text, read_yaml

__all__ = ["Factor", "Plan", "PlanError", "Variant", "replication_seed", "split_values"]

MAX_VARIANTS = 10_000
"""A factorial larger than this is almost surely a typo in ``--vary``."""


class PlanError(ValueError):
    """A sweep cannot be planned: bad ``--vary``, or variants that do not validate."""


def split_values(text: str) -> list[str]:
    """Split ``v1,v2,…`` at commas outside brackets and quotes (``{constant: 1s},2s``)."""
    values: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        elif char == "," and depth == 0:
            values.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    values.append("".join(current).strip())
    return values


@attrs.frozen
class Factor:
    """One scenario key and the values a sweep gives it (as written, read as YAML)."""

    key: str
    values: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Factor:
        """Read ``dotted.key=v1,v2,…`` (the argument of ``--vary``)."""
        key, sep, rest = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise PlanError(f"--vary: expected dotted.key=v1,v2,..., got {text!r}")
        if key == "seed":
            raise PlanError("--vary: seed is set per replication; use --replications instead")
        values = split_values(rest)
        if any(not v for v in values):
            raise PlanError(f"--vary {key}: empty value in {rest!r}")
        if len(set(values)) != len(values):
            raise PlanError(f"--vary {key}: a value is repeated in {rest!r}")
        return cls(key, tuple(values))

    def typed(self) -> list[Any]:
        """The values as YAML reads them when all are numbers, else as written."""
        read = []
        for text in self.values:
            try:
                read.append(yaml.safe_load(text))
            except yaml.YAMLError:
                return list(self.values)
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in read)
        return read if numbers else list(self.values)


@attrs.frozen
class Variant:
    """One combination of factor values, and the validated scenario it gives."""

    index: int
    settings: tuple[tuple[str, str], ...]
    scenario: Scenario = attrs.field(repr=False)

    @property
    def id(self) -> str:
        """Folder name and key of the variant: ``v000``, ``v001``, …."""
        return f"v{self.index:03d}"

    @property
    def label(self) -> str:
        """The settings as ``key=value`` text (``baseline`` when nothing varies)."""
        return " ".join(f"{k}={v}" for k, v in self.settings) or "baseline"


def replication_seed(base_seed: int, replication: int) -> int:
    """The seed of replication r: 64 bits derived from the scenario's seed and r only."""
    words = np.random.SeedSequence(base_seed, spawn_key=(replication,)).generate_state(2)
    return int(words[0]) | int(words[1]) << 32


@attrs.frozen
class Plan:
    """A scenario file, ``--set`` overrides and factors: the variants of a sweep."""

    source: str
    base: Scenario = attrs.field(repr=False)
    sets: tuple[str, ...]
    factors: tuple[Factor, ...]
    variants: tuple[Variant, ...] = attrs.field(repr=False)
    raw: dict[str, Any] = attrs.field(repr=False, eq=False)
    """The scenario file's contents, before ``--set``."""

    @classmethod
    def load(cls, path: str | Path, vary: Iterable[str] = (), sets: Iterable[str] = ()) -> Plan:
        """Read the scenario file and plan its variants (see :meth:`from_raw`)."""
        source = str(path)  # the same bounded reader as ``run``: no /dev/zero, no 100 MB file
        return cls.from_raw(read_yaml(read_text(Path(path), source), source), source, vary, sets)

    @classmethod
    def from_raw(
        cls, raw: Any, source: str, vary: Iterable[str] = (), sets: Iterable[str] = ()
    ) -> Plan:
        """Apply ``--set`` then each variant's values to a parsed file, and validate all.

        Raises:
            ScenarioError: the file (with ``--set``) is invalid.
            PlanError: a ``--vary`` is malformed, or some variants are invalid
                (every problem of every variant is listed).
        """
        if not isinstance(raw, dict):
            parse_scenario(raw, source)  # raises, naming what the file holds instead
        sets = tuple(sets)
        resolved = apply_overrides(raw, sets)
        base = parse_scenario(resolved, source)
        factors = tuple(Factor.parse(v) for v in vary)
        keys = [f.key for f in factors]
        if len(set(keys)) != len(keys):
            raise PlanError("--vary: each key may be varied once")
        variants = _variants(resolved, source, base, factors)
        return cls(source, base, sets, factors, variants, raw)

    def seed(self, replication: int) -> int:
        """The seed of a replication (the same in every variant)."""
        return replication_seed(self.base.seed, replication)

    def scenario(self, variant: Variant, replication: int) -> Scenario:
        """The scenario one task runs: the variant with its replication's seed."""
        return attrs.evolve(variant.scenario, seed=self.seed(replication))

    def task_scenario(self, key: TaskKey) -> Scenario:
        """The scenario of a task (its variant, with its replication's seed)."""
        return self.scenario(self.variants[key.variant], key.replication)

    def identity(self) -> dict[str, Any]:
        """What must match for a sweep folder to be resumed: each variant's scenario."""
        return {
            "variants": [
                {"id": v.id, "settings": dict(v.settings), "scenario": _digest(v.scenario)}
                for v in self.variants
            ],
            "seed": self.base.seed,
        }

    def token(self) -> str:
        """A short hash of :meth:`identity`, used to name the default sweep folder."""
        text = json.dumps(self.identity(), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]

    def with_sets(self, extra: Sequence[str]) -> Plan:
        """The same plan with more ``--set`` overrides (the capacity search's server counts)."""
        vary = [f"{f.key}={','.join(f.values)}" for f in self.factors]
        return Plan.from_raw(self.raw, self.source, vary, [*self.sets, *extra])


def _variants(
    raw: dict[str, Any], source: str, base: Scenario, factors: tuple[Factor, ...]
) -> tuple[Variant, ...]:
    combos = list(itertools.product(*(f.values for f in factors)))
    if len(combos) > MAX_VARIANTS:
        raise PlanError(f"--vary: {len(combos)} variants (max {MAX_VARIANTS})")
    variants, reports = [], []
    for index, values in enumerate(combos):
        settings = tuple(zip((f.key for f in factors), values, strict=True))
        overrides = [f"{k}={v}" for k, v in settings]
        label = " ".join(overrides)
        try:
            scenario = parse_scenario(apply_overrides(raw, overrides), f"{source} with {label}")
        except ScenarioError as exc:
            reports.append(exc.report())
            continue
        variants.append(Variant(index, settings, attrs.evolve(scenario, seed=base.seed)))
    if reports:
        raise PlanError("\n".join(reports))
    return tuple(variants)


def _digest(scenario: Scenario) -> str:
    """A hash of a resolved scenario (seed included), stable across runs and machines."""
    text = json.dumps(dump_scenario(scenario), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

"""What a sweep runs: variants of a scenario (a full factorial), times replications.

``--vary network.national.servers=32,64`` makes one factor; several factors
multiply into variants, each validated up front through the same ``--set``
mechanism as a single run, so a bad value is reported by key path before
anything runs. Replication r of every variant gets the same seed, derived from
the scenario's seed and r only: the named random streams of :mod:`sim.engine.streams`
then give every variant the same holders and arrivals (common random numbers),
and variants are compared replication by replication. ``--vary key=LOW..HIGH``
with ``--design lhs|sobol --samples N`` samples the ranges instead of crossing
lists (:mod:`sim.experiment.design`); each sample is a variant, validated the
same way.
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

from sim.experiment.design import Design, DesignError, Range, is_range
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
    design: Design | None = None
    """How ranges were sampled (None: the full factorial of lists)."""

    @classmethod
    def load(
        cls,
        path: str | Path,
        vary: Iterable[str] = (),
        sets: Iterable[str] = (),
        design: str | None = None,
        samples: int | None = None,
    ) -> Plan:
        """Read the scenario file and plan its variants (see :meth:`from_raw`)."""
        source = str(path)  # the same bounded reader as ``run``: no /dev/zero, no 100 MB file
        raw = read_yaml(read_text(Path(path), source), source)
        return cls.from_raw(raw, source, vary, sets, design, samples)

    @classmethod
    def from_raw(
        cls,
        raw: Any,
        source: str,
        vary: Iterable[str] = (),
        sets: Iterable[str] = (),
        design: str | None = None,
        samples: int | None = None,
    ) -> Plan:
        """Apply ``--set`` then each variant's values to a parsed file, and validate all.

        Without ``design`` the variants are the full factorial of the ``--vary``
        lists; with it (``lhs`` or ``sobol``) every ``--vary`` is a range and the
        variants are ``samples`` points of the design.

        Raises:
            ScenarioError: the file (with ``--set``) is invalid.
            PlanError: a ``--vary`` is malformed, a range has no design (or a list
                has one), or some variants are invalid (every problem of every
                variant is listed).
        """
        if not isinstance(raw, dict):
            parse_scenario(raw, source)  # raises, naming what the file holds instead
        sets, vary = tuple(sets), tuple(vary)
        resolved = apply_overrides(raw, sets)
        base = parse_scenario(resolved, source)
        if design is None:
            ranged = [v.partition("=")[0].strip() for v in vary if is_range(v)]
            if ranged:
                raise PlanError(f"--vary {ranged[0]}: a range LOW..HIGH needs --design lhs or "
                                "--design sobol (or list the values: V1,V2,...)")  # fmt: skip
            if samples is not None:
                raise PlanError("--samples needs --design lhs or --design sobol")
            factors = tuple(Factor.parse(v) for v in vary)
            _unique([f.key for f in factors])
            combos = list(itertools.product(*(f.values for f in factors)))
            if len(combos) > MAX_VARIANTS:
                raise PlanError(f"--vary: {len(combos)} variants (max {MAX_VARIANTS})")
            rows = [tuple(zip((f.key for f in factors), c, strict=True)) for c in combos]
            return cls(source, base, sets, factors, _variants(resolved, source, base, rows), raw)
        made, rows = _sampled(vary, base, design, samples)
        factors = tuple(Factor(r.key, tuple(dict.fromkeys(row[i][1] for row in rows)))
                        for i, r in enumerate(made.ranges))  # fmt: skip
        variants = _variants(resolved, source, base, rows)
        return cls(source, base, sets, factors, variants, raw, made)

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

    def vary_args(self) -> list[str]:
        """The ``--vary`` arguments that plan these variants again."""
        if self.design is not None:
            return [f"{r.key}={r.written}" for r in self.design.ranges]
        return [f"{f.key}={','.join(f.values)}" for f in self.factors]

    def with_sets(self, extra: Sequence[str]) -> Plan:
        """The same plan with more ``--set`` overrides (the capacity search's server counts)."""
        method = self.design.method if self.design is not None else None
        samples = self.design.samples if self.design is not None else None
        sets = [*self.sets, *extra]
        return Plan.from_raw(self.raw, self.source, self.vary_args(), sets, method, samples)


def _unique(keys: Sequence[str]) -> None:
    if len(set(keys)) != len(keys):
        raise PlanError("--vary: each key may be varied once")


def _sampled(
    vary: Sequence[str], base: Scenario, method: str, samples: int | None
) -> tuple[Design, list[tuple[tuple[str, str], ...]]]:
    """The design of ``--vary`` ranges, and each of its variants' settings (as ``--set`` text)."""
    listed = [v.partition("=")[0].strip() for v in vary if not is_range(v)]
    if listed:
        raise PlanError(f"--design {method}: every --vary must be a range KEY=LOW..HIGH; "
                        f"{listed[0]} lists values")  # fmt: skip
    for text in vary:
        key = text.partition("=")[0].strip()
        if not key or key == "seed":
            raise PlanError(f"--vary: {text!r} cannot be a range (seed is set per replication)")
    dumped = dump_scenario(base)
    try:
        design = Design.make(method, samples, [Range.parse(v, dumped) for v in vary])
    except DesignError as exc:
        raise PlanError(str(exc)) from None
    _unique([r.key for r in design.ranges])
    if design.variants > MAX_VARIANTS:
        raise PlanError(f"--design {method}: {design.variants} variants (max {MAX_VARIANTS})")
    points = design.points(base.seed)
    rows = [tuple((r.key, r.text(float(x))) for r, x in zip(design.ranges, point, strict=True))
            for point in points]  # fmt: skip
    return design, rows


def _variants(
    raw: dict[str, Any], source: str, base: Scenario, rows: Sequence[tuple[tuple[str, str], ...]]
) -> tuple[Variant, ...]:
    variants, reports = [], []
    for index, settings in enumerate(rows):
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

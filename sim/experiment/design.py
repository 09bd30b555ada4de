"""Designs beyond the full factorial: ranges of values, sampled by LHS or a Sobol' design.

``--vary network.national.servers=2..8 --design lhs --samples 16`` makes each
``key=LOW..HIGH`` a range and draws ``--samples`` points of the unit hypercube
(:mod:`scipy.stats.qmc`), each scaled into the ranges: one variant per point.
``--design sobol`` draws the Saltelli sample instead, ``N`` rows of two
independent matrices A and B (a scrambled Sobol' sequence of twice the
factors' dimension, ``N`` a power of two) and, per factor i, the matrix AB_i (A
with column i from B): N·(k+2) variants, from which
:mod:`sim.experiment.sensitivity` estimates Sobol' first-order and total indices.

A range is of plain numbers (``0.5..2``) or of durations (``2s..30s``, read
by :func:`sim.scenario.units.parse_duration`; values are written in seconds).
A key whose resolved value in the scenario is an integer (server counts) gets
values rounded to the nearest integer, so its ends are reached half as often
as inner values. The points are drawn from a generator seeded by the scenario's
seed alone (a stream apart from the replications'), so the same command plans
the same variants, byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from sim.scenario.units import UnitError, parse_duration, parse_number

__all__ = ["DESIGNS", "Design", "DesignError", "Range", "is_range"]

DESIGNS = ("lhs", "sobol")
DESIGN_STREAM = 0x5EED_DE51
"""The spawn key of the design's generator (replication seeds use keys 0, 1, …)."""


class DesignError(ValueError):
    """A range or a design that cannot be sampled (the message names the key or option)."""


def is_range(text: str) -> bool:
    """Whether a ``--vary`` argument is ``key=LOW..HIGH`` (one range, no list)."""
    _key, _sep, rest = text.partition("=")
    return ".." in rest and "," not in rest


@attrs.frozen
class Range:
    """One factor's interval: its ends as written, in seconds or plain, and whether integer."""

    key: str
    written: str
    low: float
    high: float
    duration: bool
    integer: bool

    @classmethod
    def parse(cls, text: str, resolved: Mapping[str, Any]) -> Range:
        """Read ``key=LOW..HIGH``; ``resolved`` (the dumped scenario) tells an integer key."""
        key, _sep, rest = text.partition("=")
        key = key.strip()
        low_text, _dots, high_text = (part.strip() for part in rest.partition(".."))
        where = f"--vary {key}={rest}"
        try:
            if _has_unit(low_text) or _has_unit(high_text):
                low, high, duration = parse_duration(low_text), parse_duration(high_text), True
            else:
                low, high, duration = parse_number(low_text), parse_number(high_text), False
        except UnitError as exc:
            message = f"{where}: a range is LOW..HIGH of numbers or durations: {exc}"
            raise DesignError(message) from None
        if not low < high:
            raise DesignError(f"{where}: LOW must be below HIGH")
        current = _at(resolved, key)
        integer = isinstance(current, int) and not isinstance(current, bool)
        if integer and round(high) - round(low) < 1:
            raise DesignError(f"{where}: {key} is an integer, and the range holds one value")
        return cls(key, rest.strip(), low, high, duration, integer)

    def value(self, unit: float) -> float:
        """The factor's value at a point ``unit`` in [0, 1) (rounded for an integer key)."""
        x = self.low + unit * (self.high - self.low)
        return float(round(x)) if self.integer else float(f"{x:.6g}")

    def text(self, value: float) -> str:
        """How the value is written as a ``--set`` (seconds for a duration)."""
        if self.integer:
            return str(int(value))
        return f"{value:g}s" if self.duration else f"{value:g}"

    def record(self) -> dict[str, Any]:
        """The range as ``plan.json`` stores it."""
        return {"key": self.key, "range": self.written, "low": self.low, "high": self.high,
                "unit": "s" if self.duration else "", "integer": self.integer}  # fmt: skip


def _has_unit(text: str) -> bool:
    return any(c.isalpha() and c not in "eE" for c in text) or ":" in text


def _at(data: Mapping[str, Any], key: str) -> Any:
    value: Any = data
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


@attrs.frozen
class Design:
    """How the ranges are sampled: the method, the samples, and the ranges."""

    method: str
    samples: int
    ranges: tuple[Range, ...]

    @classmethod
    def make(cls, method: str, samples: int | None, ranges: Sequence[Range]) -> Design:
        """Check the method and the number of samples against the ranges."""
        if method not in DESIGNS:
            raise DesignError(f"--design: expected one of {', '.join(DESIGNS)}, got {method!r}")
        if not ranges:
            raise DesignError(f"--design {method}: give at least one --vary KEY=LOW..HIGH")
        if samples is None or samples < 2:
            raise DesignError(f"--design {method}: --samples N with N ≥ 2 is needed")
        if method == "sobol" and samples & (samples - 1):
            lower = 1 << (samples.bit_length() - 1)
            raise DesignError(
                f"--design sobol: --samples must be a power of two (scrambled Sobol' "
                f"points), got {samples}; try {lower} or {lower * 2}"
            )
        return cls(method, samples, tuple(ranges))

    @property
    def variants(self) -> int:
        """Variants the design makes: N for LHS, N·(k+2) for Sobol'."""
        k = len(self.ranges)
        return self.samples * (k + 2) if self.method == "sobol" else self.samples

    def roles(self) -> list[str]:
        """Each variant's matrix: ``lhs``, or ``A``, ``B``, ``AB:<key>`` (Saltelli)."""
        if self.method == "lhs":
            return ["lhs"] * self.samples
        blocks = ["A", "B", *(f"AB:{r.key}" for r in self.ranges)]
        return [role for role in blocks for _ in range(self.samples)]

    def points(self, seed: int) -> npt.NDArray[np.float64]:
        """Each variant's factor values (variant × factor), drawn from the scenario's seed."""
        from scipy.stats import qmc  # deferred: a factorial sweep needs no SciPy

        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(DESIGN_STREAM,)))
        k, n = len(self.ranges), self.samples
        if self.method == "lhs":
            unit = qmc.LatinHypercube(d=k, rng=rng).random(n)
        else:
            both = qmc.Sobol(d=2 * k, scramble=True, rng=rng).random(n)
            a, b = both[:, :k], both[:, k:]
            mixed = []
            for i in range(k):
                ab = a.copy()
                ab[:, i] = b[:, i]
                mixed.append(ab)
            unit = np.vstack([a, b, *mixed])
        values = np.empty(unit.shape, dtype=np.float64)
        for i, factor in enumerate(self.ranges):
            values[:, i] = [factor.value(u) for u in unit[:, i]]
        return values

    def record(self, seed: int) -> dict[str, Any]:
        """The design as ``plan.json`` stores it: each variant's role and factor values."""
        return {"method": self.method, "samples": self.samples,
                "ranges": [r.record() for r in self.ranges], "roles": self.roles(),
                "values": self.points(seed).tolist()}  # fmt: skip

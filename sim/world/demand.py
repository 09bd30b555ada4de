"""Arrivals: non-homogeneous Poisson streams per (province, service), drawn in batches.

Each service contributes an :class:`ArrivalStream`. For every local hour of the
run (clipped to the run), a stream draws a Poisson number of arrivals per
province with mean ``∫ rate`` and times uniform within the hour, which is exactly
a non-homogeneous Poisson process with a rate piecewise constant over hours.
Everything an arrival needs (holder, home province, card kind, bill, point) is
drawn for the whole hour in numpy, one random stream per service, and the
services' draws are merged into one time-ordered :class:`ArrivalBatch`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

import attrs
import numpy as np
import numpy.typing as npt

from sim.engine.calendar import Clock, open_fraction_by_hour, open_weights
from sim.scenario.schema import MedicalService, PerPointPerHour, Profile

if TYPE_CHECKING:
    from sim.world.population import Population

__all__ = [
    "ArrivalBatch",
    "ArrivalStream",
    "Demand",
    "IdRanges",
    "OpenHoursDemand",
    "arrival_rates",
    "hourly_means",
    "open_hours_load",
    "poisson_hour",
]

Columns = dict[str, npt.NDArray[np.generic]]


@attrs.define(eq=False)
class ArrivalBatch:
    """All arrivals in ``[t0_s, t1_s)``, in time order, as aligned columns."""

    index: int
    t0_s: float
    t1_s: float
    first_id: int
    time_s: npt.NDArray[np.float64]
    service: npt.NDArray[np.uint8]
    site: npt.NDArray[np.int64]
    holder: npt.NDArray[np.int64]
    home: npt.NDArray[np.int64]
    card: npt.NDArray[np.uint8]
    scheme: npt.NDArray[np.uint8]
    filed: npt.NDArray[np.bool_]
    ineligible: npt.NDArray[np.bool_]
    amount_fen: npt.NDArray[np.int64]
    point: npt.NDArray[np.int64]
    channel: npt.NDArray[np.uint8]
    level: npt.NDArray[np.uint8]
    card_state: npt.NDArray[np.uint8] = attrs.field(
        default=attrs.Factory(lambda self: np.zeros(self.time_s.size, np.uint8), takes_self=True)
    )
    """State of the card presented at arrival (:mod:`sim.world.cards`); all active without it."""
    fraud: npt.NDArray[np.uint8] = attrs.field(
        default=attrs.Factory(lambda self: np.zeros(self.time_s.size, np.uint8), takes_self=True)
    )
    """The true kind of fraud of each arrival (:mod:`sim.world.fraud`); none without it."""
    token_s: npt.NDArray[np.float64] = attrs.field(
        default=attrs.Factory(lambda self: self.time_s.copy(), takes_self=True)
    )
    """When the e-card QR code presented was issued: the arrival itself, but for a replay."""

    @property
    def size(self) -> int:
        """Number of arrivals in the batch."""
        return int(self.time_s.size)

    @property
    def cross(self) -> npt.NDArray[np.bool_]:
        """Whether each arrival is served outside its home province."""
        cross: npt.NDArray[np.bool_] = self.site != self.home
        return cross


LABELS: tuple[str, ...] = ("card_state", "fraud", "token_s")
"""Columns set on the merged batch rather than by the streams (all zeros without them)."""
COLUMNS: tuple[str, ...] = tuple(
    f.name for f in attrs.fields(ArrivalBatch)[4:] if f.name not in LABELS
)
"""The per-arrival columns every stream provides (see :func:`defaults`)."""


class IdRanges(Protocol):
    """Where transaction ids come from: contiguous ranges on request."""

    def take(self, n: int) -> int:
        """The first id of a new range of ``n`` ids."""
        ...


class ArrivalStream(Protocol):
    """A service's arrivals, drawn one local hour at a time."""

    def draw(self, hour: int, t0_s: float, t1_s: float) -> Columns:
        """All arrivals in ``[t0_s, t1_s)`` (local hour ``hour``), unsorted."""
        ...

    def expected(self, hour: int, t0_s: float, t1_s: float) -> float:
        """Expected number of arrivals in ``[t0_s, t1_s)``."""
        ...


def poisson_hour(
    rate_per_s: npt.NDArray[np.float64], t0_s: float, t1_s: float, rng: np.random.Generator
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Arrival sites and times in ``[t0_s, t1_s)`` at a constant rate per province."""
    counts = rng.poisson(rate_per_s * (t1_s - t0_s))
    site = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    time_s = t0_s + rng.random(site.size) * (t1_s - t0_s)
    return site, time_s


class OpenHoursDemand:
    """Holder demand that falls only while a kind of point is open (libraries, card desks).

    Each province's daily rate is its holders times ``per_holder_per_day``, spread
    over the open hours by ``profile`` (:func:`sim.engine.calendar.open_weights`
    keeps the daily total whatever the hours). A stream built on it draws in
    :meth:`open_part` of each piece and says :meth:`expected` of it.
    """

    def __init__(
        self, per_holder_per_day: float, profile: Profile, opens_s: float, closes_s: float,
        population: Population, clock: Clock,
    ) -> None:  # fmt: skip
        self.population = population
        self.clock = clock
        self.hours = (float(opens_s), float(closes_s))
        self.weights = open_weights(profile, *self.hours)
        holders = population.holders_per_province.astype(np.float64)
        self.base_rate = holders * per_holder_per_day / 86400.0
        """Arrivals per second per province, before the hour's weight."""

    def open_part(self, t0_s: float, t1_s: float) -> tuple[float, float]:
        """The open part of ``[t0_s, t1_s)`` (empty: both ends equal)."""
        a, b = self.clock.open_part(t0_s, t1_s, *self.hours)
        return a, max(a, b)

    def expected(self, hour: int, t0_s: float, t1_s: float) -> float:
        """Expected arrivals in the open part of the piece."""
        a, b = self.open_part(t0_s, t1_s)
        return float(self.base_rate.sum() * self.weights[hour] * (b - a))


def open_hours_load(
    per_holder_per_day: float, profile: Profile, opens_s: float, closes_s: float,
    holders: float, start: dt.datetime, horizon_s: float,
) -> tuple[float, float]:  # fmt: skip
    """Expected arrivals of an :class:`OpenHoursDemand`: over the horizon, in the busiest hour.

    Worked out from the scenario alone, for the resource guard.
    """
    weights = open_weights(profile, opens_s, closes_s) * open_fraction_by_hour(opens_s, closes_s)
    per_s = holders * per_holder_per_day / 86400.0
    return (per_s * Clock(start).weighted_seconds(weights, horizon_s),
            per_s * float(weights.max()) * 3600.0)  # fmt: skip


def defaults(n: int) -> Columns:
    """Columns for arrivals that have no bill, filing or point choice of their own."""
    return {
        "filed": np.ones(n, dtype=np.bool_),
        "ineligible": np.zeros(n, dtype=np.bool_),
        "amount_fen": np.zeros(n, dtype=np.int64),
        "point": np.zeros(n, dtype=np.int64),
        "channel": np.zeros(n, dtype=np.uint8),
        "level": np.zeros(n, dtype=np.uint8),
    }


def holder_columns(
    code: int,
    time_s: npt.NDArray[np.float64],
    site: npt.NDArray[np.int64],
    holder: npt.NDArray[np.int64],
    population: Population,
) -> Columns:
    """The columns every stream fills the same way, and :func:`defaults` for the rest.

    When, what, where and who: with the holder's home, card kind and scheme.
    """
    return {
        **defaults(site.size),
        "time_s": time_s,
        "service": np.full(site.size, code, dtype=np.uint8),
        "site": site,
        "holder": holder,
        "home": population.home[holder].astype(np.int64),
        "card": population.card_kind[holder],
        "scheme": population.scheme[holder],
    }


MAX_BATCH = 100_000
"""Expected arrivals per batch above which an hour is split into shorter pieces."""


def arrival_rates(
    service: MedicalService,
    province_ids: Sequence[str],
    holders: npt.NDArray[np.int64],
    points: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """Arrivals per second of a service in each province, at profile weight 1.

    A plain function of the scenario and the (scaled) holder and point counts,
    so that theory checks compute exactly the rate the model draws from.
    """
    if isinstance(service.rate, PerPointPerHour):
        rate = points.astype(np.float64) * (service.rate.value / 3600.0)
    else:
        rate = holders.astype(np.float64) * (service.rate.per_holder_per_day / 86400.0)
    if service.sites is not None:
        rate = np.where(np.isin(np.asarray(province_ids), service.sites), rate, 0.0)
    return rate


def hourly_means(
    clock: Clock,
    horizon_s: float,
    weights: npt.NDArray[np.float64],
    base_rate: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The hour edges and the expected arrivals per (hour piece, province).

    Row ``k`` covers ``[edges[k], edges[k + 1])``; the counts in these cells are
    independent Poisson variables with these means, which is what the
    chi-square check of the arrival process compares against.
    """
    edges = clock.hour_edges(horizon_s)
    hours = clock.hour_of_day(edges[:-1])
    widths = np.diff(edges)
    return edges, (weights[hours] * widths)[:, None] * base_rate[None, :]


class Demand:
    """Merges the services' streams into hourly batches covering the run."""

    def __init__(
        self,
        clock: Clock,
        horizon_s: float,
        streams: Sequence[ArrivalStream],
        extend: Callable[[ArrivalBatch], ArrivalBatch] | None = None,
    ) -> None:
        self.clock = clock
        self.horizon_s = horizon_s
        self.streams = list(streams)
        self.extend = extend
        """Adds arrivals drawn from the merged batch (the fraud), before it takes its ids."""

    def pieces(self) -> list[tuple[int, float, float]]:
        """(local hour, start, end) of each piece of the run.

        Pieces are local hours (clipped to the run), split into equal parts where an
        hour is expected to hold more than :data:`MAX_BATCH` arrivals: a batch's
        transactions stay in memory until the last of them ends, so batches are kept
        bounded at any scale. The rate is constant within an hour, so splitting it
        changes nothing in distribution.
        """
        edges = self.clock.hour_edges(self.horizon_s)
        hours = self.clock.hour_of_day(edges[:-1])
        pieces = []
        for h, (a, b) in zip(hours, itertools.pairwise(edges), strict=True):
            expected = sum(s.expected(int(h), float(a), float(b)) for s in self.streams)
            parts = max(1, math.ceil(expected / MAX_BATCH))
            cuts = np.linspace(float(a), float(b), parts + 1)
            pieces += [(int(h), float(x), float(y)) for x, y in itertools.pairwise(cuts)]
        return pieces

    def expected_arrivals(self) -> list[float]:
        """Expected number of arrivals of each stream over the horizon."""
        return [sum(s.expected(h, a, b) for h, a, b in self.pieces()) for s in self.streams]

    def batches(self, first_id: int = 0, ids: IdRanges | None = None) -> Iterator[ArrivalBatch]:
        """Successive hourly batches; transaction ids run on across batches.

        With ``ids`` (the run's id counter, shared with blocks recorded directly)
        each batch takes its range from it when drawn; otherwise ids start at
        ``first_id``.
        """
        next_id = first_id
        for index, (hour, t0, t1) in enumerate(self.pieces()):
            parts = [stream.draw(hour, t0, t1) for stream in self.streams]
            batch = _merge(index, t0, t1, next_id, parts)
            if self.extend is not None:
                batch = self.extend(batch)
            if ids is not None:
                batch.first_id = ids.take(batch.size)
            next_id = batch.first_id + batch.size
            yield batch


def _merge(index: int, t0: float, t1: float, first_id: int, parts: list[Columns]) -> ArrivalBatch:
    if parts:
        columns = {key: np.concatenate([p[key] for p in parts]) for key in COLUMNS}
    else:
        columns = {**defaults(0), **{k: np.zeros(0) for k in COLUMNS if k not in defaults(0)}}
    order = np.argsort(columns["time_s"], kind="stable")
    return ArrivalBatch(index, float(t0), float(t1), first_id,
                        **{key: value[order] for key, value in columns.items()})  # fmt: skip

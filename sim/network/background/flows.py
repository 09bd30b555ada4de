"""What the unsimulated holders send, and when: background flows and their arrivals.

A :class:`BackgroundFlow` is one stream of requests along one route: its rate at
profile weight 1 (the full-scale rate less the foreground's), its hourly profile,
the delay from a holder's arrival at the point to the request, and the service
time at its settling hop. :class:`Arrivals` draws every flow's requests ten minutes
at a time in numpy (Poisson counts, uniform times, the sending delay), sorts them
and hands them over as plain lists; requests that a delay pushes past the piece's
end are carried into the next. In a run without network faults it also draws, per
request, the first link's latency (requests are then sorted by arrival at their
first node), the service there and the link after it, so that the engine's commonest
step takes no random draw of its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from sim.engine.calendar import Clock
from sim.engine.distributions import BatchSampler, sample
from sim.network.nodes import Link, Platform, Route
from sim.scenario.schema import Distribution

__all__ = ["CHUNK_S", "Arrivals", "BackgroundFlow", "Path"]

CHUNK_S = 600.0
"""Background arrivals are drawn this many seconds at a time (within an hour's piece)."""

INF = math.inf


@attrs.frozen(eq=False)
class BackgroundFlow:
    """Requests the unsimulated holders send along one route."""

    route: Route
    rate_per_s: float
    """Requests per second at profile weight 1 (full scale minus the foreground)."""
    weights: npt.NDArray[np.float64]
    """Hourly profile (24 weights, local time)."""
    send_delay: Distribution | None = None
    """From the holder's arrival at the point to the request (the counter's service)."""
    settle_time: Distribution | None = None
    """Service time at the route's settling hop (None: the node's own)."""
    reversal: Route | None = None
    """Sent, with its own attempts, when a settlement runs out of attempts."""
    label: str = ""
    """What the flow is (``medical_outpatient local``), for the summary."""


@attrs.frozen(eq=False)
class Path:
    """A route as the background walks it: pools, service draws and links per hop."""

    nodes: tuple[Platform, ...]
    draws: tuple[BatchSampler | Any, ...]
    dists: tuple[Distribution, ...]
    links: tuple[Link, ...]


Columns = tuple[list[float], list[float], list[int], list[float], list[float]]
"""A piece of requests in order: key (arrival at the first node, or sending), sending
time, flow, first service and the link after it (the last two: runs without faults)."""


class Arrivals:
    """Every flow's requests, drawn a piece at a time."""

    def __init__(
        self,
        flows: Sequence[BackgroundFlow],
        paths: Sequence[Path],
        clock: Clock,
        horizon_s: float,
        rng: np.random.Generator,
        faultless: bool,
    ) -> None:
        self.rng = rng
        self.faultless = faultless
        self._rates = np.array([f.rate_per_s for f in flows], dtype=np.float64)
        self._profiles, self._profile_of = _index([f.weights for f in flows])
        self._delays, self._delay_of = _index_dists([f.send_delay for f in flows])
        self._first_links, self._first_link_of = _index_links([p.links[0] for p in paths])
        self._next_links, self._next_link_of = _index_links([p.links[1] for p in paths])
        self._services, self._service_of = _index_dists([p.dists[0] for p in paths])
        self._edges = _chunk_edges(clock.hour_edges(horizon_s))
        self._hours = clock.hour_of_day(self._edges[:-1]) if flows else np.zeros(0, np.int64)
        self._chunk = 0
        self._carry: tuple[npt.NDArray[Any], ...] = (
            np.zeros(0), np.zeros(0), np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
        )  # fmt: skip
        self.until = 0.0 if flows else INF
        """Requests with keys before this time have been handed over."""

    def next_piece(self) -> Columns:
        """The next piece's requests due before its end (the rest is carried over)."""
        k = self._chunk
        rng = self.rng
        if k < self._edges.size - 1:
            t0, t1 = float(self._edges[k]), float(self._edges[k + 1])
            hour = int(self._hours[k])
            means = self._rates * self._profiles[self._profile_of, hour] * (t1 - t0)
            counts = rng.poisson(means)
            flow = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
            sent = t0 + rng.random(flow.size) * (t1 - t0)
            for d, dist in enumerate(self._delays):
                mine = self._delay_of[flow] == d
                if mine.any():
                    sent[mine] += sample(dist, rng, int(mine.sum()))
            key = sent.copy()
            svc = np.zeros(flow.size)
            back = np.zeros(flow.size)
            if self.faultless:
                # Sorted by arrival at the first node; its service and the link after it
                # drawn here, in numpy (with faults they are drawn as the message goes).
                _add_draws(key, self._first_links, self._first_link_of[flow], rng)
                _add_draws(svc, self._services, self._service_of[flow], rng)
                _add_draws(back, self._next_links, self._next_link_of[flow], rng)
            self._chunk = k + 1
            end = t1 if k + 1 < self._edges.size - 1 else INF
        else:
            key, sent, flow = np.zeros(0), np.zeros(0), np.zeros(0, np.int64)
            svc, back = np.zeros(0), np.zeros(0)
            end = INF
        columns = [np.concatenate((old, new)) for old, new in
                   zip(self._carry, (key, sent, flow, svc, back), strict=True)]  # fmt: skip
        order = np.argsort(columns[0], kind="stable")
        columns = [c[order] for c in columns]
        cut = int(np.searchsorted(columns[0], end, side="left"))
        self._carry = tuple(c[cut:] for c in columns)
        self.until = end
        keys, sents, flows, svcs, backs = (c[:cut].tolist() for c in columns)
        return keys, sents, flows, svcs, backs


def _add_draws(
    out: npt.NDArray[np.float64],
    dists: Sequence[Distribution | Link],
    which: npt.NDArray[np.int64],
    rng: np.random.Generator,
) -> None:
    """Add to ``out[k]`` a draw from ``dists[which[k]]`` (a distribution, or a link's)."""
    for j, item in enumerate(dists):
        dist = item.dist if isinstance(item, Link) else item
        mine = which == j
        if dist is not None and mine.any():
            out[mine] += sample(dist, rng, int(mine.sum()))


def _index(arrays: list[npt.NDArray[np.float64]]) -> tuple[npt.NDArray[np.float64],
                                                           npt.NDArray[np.int64]]:  # fmt: skip
    """Distinct profiles as rows, and each flow's row."""
    rows: list[npt.NDArray[np.float64]] = []
    of = []
    for a in arrays:
        for j, row in enumerate(rows):
            if row is a or np.array_equal(row, a):
                of.append(j)
                break
        else:
            rows.append(np.asarray(a, dtype=np.float64))
            of.append(len(rows) - 1)
    table = np.vstack(rows) if rows else np.zeros((1, 24))
    return table, np.asarray(of, dtype=np.int64)


def _index_dists(
    dists: list[Distribution | None],
) -> tuple[list[Distribution], npt.NDArray[np.int64]]:
    distinct: list[Distribution] = []
    of = []
    for d in dists:
        if d is None:
            of.append(-1)
            continue
        if d not in distinct:
            distinct.append(d)
        of.append(distinct.index(d))
    return distinct, np.asarray(of, dtype=np.int64)


def _index_links(links: list[Link]) -> tuple[list[Link], npt.NDArray[np.int64]]:
    distinct: list[Link] = []
    of = []
    for link in links:
        for j, known in enumerate(distinct):
            if known is link:
                of.append(j)
                break
        else:
            distinct.append(link)
            of.append(len(distinct) - 1)
    return distinct, np.asarray(of, dtype=np.int64)


def _chunk_edges(hour_edges: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Hour pieces cut into pieces of at most :data:`CHUNK_S`."""
    edges = [float(hour_edges[0])]
    for a, b in pairwise(hour_edges):
        pieces = max(1, math.ceil((b - a) / CHUNK_S - 1e-9))
        edges += [float(a + (b - a) * (j + 1) / pieces) for j in range(pieces)]
    return np.asarray(edges, dtype=np.float64)

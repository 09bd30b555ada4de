"""The background's engine: its requests processed in time order, outside the kernel.

:meth:`Background.advance` processes every background request up to the time it is
given, in one tight loop; the network calls it before every foreground arrival at a
node and before any fault changes a node or a link, so each
:class:`~sim.engine.servers.ServerPool` admits foreground and background jobs in arrival
order. Requests follow the foreground's protocol (:mod:`sim.network.protocol`): the deadline
of each attempt one timeout after it is sent, a retry after the backoff, a reversal
when a settlement runs out of attempts, loss on links and across partitions, loss in
a node that fails. A single-node request in a run without faults costs no event (its
wait, service and answer are known when it arrives); the others take an event per
node visit and a deadline per attempt, on a heap of the background's own.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from heapq import heappop, heappush, heapreplace
from itertools import count
from typing import Any

from sim.engine.calendar import Clock
from sim.engine.distributions import sampler
from sim.engine.streams import Streams
from sim.network.background.flows import Arrivals, BackgroundFlow, Path
from sim.network.nodes import Link, Network, Platform, Role, Route
from sim.scenario.schema import Distribution, NetworkSpec, Uniform
from sim.scenario.units_types import Quantity

__all__ = ["Background"]

INF = math.inf

# Kinds of event on the background's heap.
_SEND, _ARRIVE, _DEPART, _EXPIRE = 0, 1, 2, 3


class _Request:
    """One background exchange that needs state: a retry, a multi-node route, faults."""

    __slots__ = ("answered", "attempt", "flow", "hops", "limit", "reversing", "route", "sent_at")

    def __init__(self, flow: int, route: Path, limit: int, reversing: bool) -> None:
        self.flow = flow
        self.route = route
        self.hops = len(route.nodes)
        self.limit = limit
        self.reversing = reversing
        self.attempt = 0
        self.sent_at = 0.0
        """When the current attempt was sent."""
        self.answered = INF
        """When the first response reached the requester (inf: none yet)."""


class Background:
    """Every background flow of one run, processed lazily up to the foreground's present."""

    def __init__(
        self,
        network: Network,
        flows: Sequence[BackgroundFlow],
        clock: Clock,
        horizon_s: float,
        streams: Streams,
        faultless: bool,
        changes: Sequence[float] = (),
    ) -> None:
        spec: NetworkSpec = network.spec
        self.network = network
        self.flows = [f for f in flows if f.rate_per_s > 0.0]
        self.clock = clock
        self.horizon_s = horizon_s
        self.faultless = faultless
        self.changes = sorted(changes)
        """Times at which a node goes down or comes back (fixed outages): a request whose
        node visit spans one is followed event by event; the others need none."""
        """No fault can touch a node or link: single-node requests need no event."""
        self.timeout_s = float(spec.timeout)
        self.backoff_s = float(spec.retry.backoff)
        self.attempts = spec.retry.max + 1
        self.reversal_attempts = spec.retry.reversals
        self._streams = streams
        self._draws: dict[tuple[str, int], Any] = {}
        self._link_draws: dict[int, Any] = {}
        self.loss_draw = sampler(_UNIT, streams.generator("background:link:loss"))
        self.paths = [self._path(f.route, f.settle_time) for f in self.flows]
        self.reversals = [
            None if f.reversal is None else self._path(f.reversal, None) for f in self.flows
        ]
        self._single = [len(p.nodes) == 1 for p in self.paths]
        self._pools = [p.nodes[0].pool for p in self.paths]
        self.arrivals = Arrivals(self.flows, self.paths, clock, horizon_s,
                                 streams.generator("background:arrivals"), faultless)  # fmt: skip
        self._key: list[float] = []
        self._sent: list[float] = []
        self._flow: list[int] = []
        self._svc: list[float] = []
        self._back: list[float] = []
        self._i = 0
        self.heap: list[tuple[Any, ...]] = []
        """Events of requests that need them: (time, sequence, kind, request, …)."""
        self._seq = count()
        self.now = 0.0
        self.requests = 0
        self.sent = 0
        self.retries = 0
        self.timeouts = 0
        self.lost = 0
        self.reversals_sent = 0
        self.visits = 0
        self.events = 0
        for platform in network.nodes:
            platform.pool.catch_up = self.advance
        network.catch_up = self.advance

    # --- set-up -----------------------------------------------------------------------

    def _path(self, route: Route, settle_time: Distribution | None) -> Path:
        draws, dists = [], []
        for node, role in zip(route.nodes, route.roles, strict=True):
            dist = settle_time if role is Role.SETTLE and settle_time is not None else None
            draws.append(self._draw(node, dist))
            dists.append(node.spec.service_time if dist is None else dist)
        return Path(route.nodes, tuple(draws), tuple(dists),
                     tuple(route.links))  # type: ignore[arg-type]  # fmt: skip

    def _draw(self, node: Platform, dist: Distribution | None) -> Any:
        """A batch sampler of service times at ``node`` (its own, or ``dist``), shared."""
        key = (node.name, id(dist))
        draw = self._draws.get(key)
        if draw is None:
            which = "own" if dist is None else f"d{len(self._draws)}"
            rng = self._streams.generator(f"background:{node.name}:{which}")
            draw = self._draws[key] = sampler(node.spec.service_time if dist is None else dist,
                                              rng)  # fmt: skip
        return draw

    def _link_draw(self, link: Link) -> Any:
        draw = self._link_draws.get(id(link))
        if draw is None:
            if link.dist is None:
                raise ValueError("a background route crosses a link without a known latency")
            rng = self._streams.generator(f"background:link:{len(self._link_draws)}")
            draw = self._link_draws[id(link)] = sampler(link.dist, rng)
        return draw

    # --- the loop -------------------------------------------------------------------------

    def advance(self, until: float) -> None:
        """Process every background event before ``until``, in time order."""
        if until <= self.now:
            return
        heap = self.heap
        while True:
            limit = heap[0][0] if heap and heap[0][0] < until else until
            if self._i < len(self._key):
                if self._key[self._i] < limit:
                    self._fresh(limit)
                    continue
            elif self.arrivals.until <= limit:
                pieces = self.arrivals.next_piece()
                self._key, self._sent, self._flow, self._svc, self._back = pieces
                self._i = 0
                continue
            if limit >= until:
                break
            event = heappop(heap)
            self.events += 1
            kind = event[2]
            if kind == _ARRIVE:
                self._arrive(event[0], event[3], event[4], event[5])
            elif kind == _DEPART:
                self._depart(event[0], event[3], event[4], event[5], event[6])
            elif kind == _EXPIRE:
                self._expire(event[0], event[3], event[4])
            else:
                self._send(event[0], event[3])
        self.now = until

    def _fresh(self, limit: float) -> None:
        """New requests due before ``limit``: the commonest work, in a loop of its own.

        In a run without faults a single-node request is settled here and then: its
        wait and service come from the pool (:meth:`ServerPool.admit`, inlined), its
        answer one link later; only if that is past its deadline does it become a
        :class:`_Request` that retries.
        """
        keys, sents, flows, svcs, backs = self._key, self._sent, self._flow, self._svc, self._back
        i, n = self._i, len(keys)
        first_i = i
        heap = self.heap
        faultless, single, pools = self.faultless, self._single, self._pools
        timeout, changes = self.timeout_s, self.changes
        while i < n and keys[i] < limit:
            t = keys[i]
            f = flows[i]
            if faultless and single[f]:
                pool = pools[f]
                if changes and pool.down:  # lost: no answer can come, the deadline will
                    request = _Request(f, self.paths[f], self.attempts, False)
                    request.attempt = 1
                    self.lost += 1
                    self._timed_out(sents[i] + timeout, request)
                    if heap[0][0] < limit:
                        limit = heap[0][0]
                    i += 1
                    continue
                stats = pool.stats
                waiting = pool.waiting
                if waiting and waiting[0][0] <= t:
                    pool.started(t)
                free = pool.free
                start = free[0]
                service = svcs[i]
                stats.arrivals += 1
                if start > t:
                    waiting.append((start, t))
                    if len(waiting) > stats.max_queue:
                        stats.max_queue = len(waiting)
                    stats.booked_queue += start - t
                else:
                    stats.waits.append(0.0)
                    start = t
                end = start + service
                heapreplace(free, end)
                stats.booked_busy += service
                if changes and not self._calm(t, end):  # the node may fail meanwhile
                    request = _Request(f, self.paths[f], self.attempts, False)
                    request.attempt = 1
                    self._arm(sents[i], request)
                    heappush(heap, (end, next(self._seq), _DEPART, request, 1, 0, pool.epoch))
                    if heap[0][0] < limit:
                        limit = heap[0][0]
                    i += 1
                    continue
                answered = end + backs[i]
                if answered - sents[i] > timeout:
                    request = _Request(f, self.paths[f], self.attempts, False)
                    request.attempt = 1
                    request.answered = answered  # late: it answers only if no retry is quicker
                    self._timed_out(sents[i] + timeout, request)
                    if heap[0][0] < limit:
                        limit = heap[0][0]
            else:
                request = _Request(f, self.paths[f], self.attempts, False)
                request.attempt = 1
                self._arm(sents[i], request)
                if faultless:  # first link crossed, first service and next link drawn
                    self._first_visit(t, request, svcs[i], backs[i])
                else:
                    self._cross_first(t, request)
                if heap[0][0] < limit:
                    limit = heap[0][0]
            i += 1
        self.sent += i - first_i
        self.requests += i - first_i
        if faultless:  # each made its first node visit here
            self.visits += i - first_i
        self._i = i

    def _first_visit(self, t: float, request: _Request, service: float, delay: float) -> None:
        """A multi-node request's first node visit, with the draws made in numpy."""
        pool = request.route.nodes[0].pool
        if pool.down:
            self.lost += 1
            return
        end = pool.admit(t, service)
        if self.changes and not self._calm(t, end):
            heappush(self.heap, (end, next(self._seq), _DEPART, request, 1, 0, pool.epoch))
        else:
            heappush(self.heap, (end + delay, next(self._seq), _ARRIVE, request, 1, 1))

    def _calm(self, start: float, end: float) -> bool:
        """Whether no node goes down or comes back in ``[start, end]``."""
        k = bisect_left(self.changes, start)
        return k == len(self.changes) or self.changes[k] > end

    def _arm(self, sent: float, request: _Request) -> None:
        """The attempt's deadline, one timeout after it was sent."""
        request.sent_at = sent
        heappush(self.heap, (sent + self.timeout_s, next(self._seq), _EXPIRE, request,
                             request.attempt))  # fmt: skip

    def _send(self, t: float, request: _Request) -> None:
        """A retry (or a reversal's attempt) leaves the requester, unless already answered."""
        if request.answered <= t:
            return
        request.attempt += 1
        self.sent += 1
        if request.attempt > 1:
            self.retries += 1
        if self.faultless and request.hops == 1:
            request.sent_at = t
            heappush(self.heap, (t + self._link_draw(request.route.links[0])(), next(self._seq),
                                 _ARRIVE, request, request.attempt, -1))  # fmt: skip
            return
        self._arm(t, request)
        self._cross_first(t, request)

    def _cross_first(self, t: float, request: _Request) -> None:
        delay = self._cross(request.route.links[0], None, None)
        if delay < 0.0:
            self.lost += 1
        else:
            heappush(self.heap, (t + delay, next(self._seq), _ARRIVE, request,
                                 request.attempt, 0))  # fmt: skip

    def _cross(self, link: Link, here: Platform | None, there: Platform | None) -> float:
        """A link's latency now, or -1 if the message is lost (loss, partition)."""
        state = link.state
        if state.loss and self.loss_draw() < state.loss:
            return -1.0
        partitions = self.network.partitions
        if (
            partitions
            and here is not None
            and there is not None
            and (frozenset((here, there)) in partitions)
        ):
            return -1.0
        return float(self._link_draw(link)()) + state.added_s

    def _arrive(self, t: float, request: _Request, attempt: int, hop: int) -> None:
        path = request.route
        if hop < 0:  # a single-node retry in a run without faults: answered on arrival
            pool = path.nodes[0].pool
            deadline = request.sent_at + self.timeout_s
            if pool.down:
                self.lost += 1
                self._timed_out(deadline, request)  # nothing can answer it
                return
            end = pool.admit(t, path.draws[0]())
            self.visits += 1
            if self.changes and not self._calm(t, end):
                self._arm(request.sent_at, request)
                heappush(self.heap, (end, next(self._seq), _DEPART, request, attempt, 0,
                                     pool.epoch))  # fmt: skip
                return
            answered = end + self._link_draw(path.links[1])()
            if answered < request.answered:
                request.answered = answered
            if request.answered > deadline:
                self._timed_out(deadline, request)
            return
        pool = path.nodes[hop].pool
        if pool.down:
            self.lost += 1
            return
        end = pool.admit(t, path.draws[hop]())
        self.visits += 1
        if self.faultless and (not self.changes or self._calm(t, end)):
            # Nothing can fail or change on the way: cross the next link now.
            hop += 1
            delay = self._link_draw(path.links[hop])()
            if hop < request.hops:
                heappush(self.heap, (end + delay, next(self._seq), _ARRIVE, request, attempt, hop))
            elif end + delay < request.answered:
                request.answered = end + delay
            return
        heappush(self.heap, (end, next(self._seq), _DEPART, request, attempt, hop, pool.epoch))

    def _depart(self, t: float, request: _Request, attempt: int, hop: int, epoch: int) -> None:
        path = request.route
        node = path.nodes[hop]
        if node.pool.epoch != epoch:  # the node failed while the message was in it
            self.lost += 1
            return
        hop += 1
        there = path.nodes[hop] if hop < request.hops else None
        delay = self._cross(path.links[hop], node, there)
        if delay < 0.0:
            self.lost += 1
        elif hop < request.hops:
            heappush(self.heap, (t + delay, next(self._seq), _ARRIVE, request, attempt, hop))
        elif t + delay < request.answered:
            request.answered = t + delay

    def _expire(self, deadline: float, request: _Request, attempt: int) -> None:
        """An attempt's deadline: answered in time, or time out and retry (or reverse)."""
        if request.answered <= deadline or attempt != request.attempt:
            return
        self._timed_out(deadline, request)

    def _timed_out(self, deadline: float, request: _Request) -> None:
        """No answer by ``deadline``: retry after the backoff, or give up (and reverse)."""
        self.timeouts += 1
        if request.attempt < request.limit:
            heappush(self.heap, (deadline + self.backoff_s, next(self._seq), _SEND, request))
            return
        reversal = None if request.reversing else self.reversals[request.flow]
        if reversal is not None:
            self.reversals_sent += 1
            reverse = _Request(request.flow, reversal, self.reversal_attempts, True)
            heappush(self.heap, (deadline, next(self._seq), _SEND, reverse))

    # --- figures --------------------------------------------------------------------------

    @property
    def counters(self) -> dict[str, Any]:
        """What the background did, for the summary."""
        return {
            "flows": len(self.flows),
            "requests": self.requests,
            "attempts": self.sent,
            "retries": self.retries,
            "timeouts": self.timeouts,
            "messages_lost": self.lost,
            "reversals_sent": self.reversals_sent,
            "node_visits": self.visits,
            "events": self.events,
        }


_UNIT = Uniform(Quantity(0.0), Quantity(1.0))

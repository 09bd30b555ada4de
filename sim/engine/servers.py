"""A settlement node's servers as a heap of free times: FIFO start times known on arrival.

In a FIFO queue of ``c`` identical servers whose service times are drawn on arrival,
a job's start is fixed the moment it arrives: it takes the server that frees first
(the Kiefer–Wolfowitz recursion), after every job that came before it. A
:class:`ServerPool` keeps only the ``c`` times at which its servers are next free, so
admitting a job costs one heap operation and schedules nothing: the requester gets
the time its service ends and makes one event of it, or none at all (a request of
the *background*, :mod:`sim.network.background`). Admissions must come in arrival order,
which the network guarantees by bringing the background up to the present before
each foreground arrival.

:class:`NodeStats` gives the pool the figures every station keeps
(:class:`~sim.engine.stations.StationStats`): counts, the time integrals of busy servers and
queue length, the maximum queue, every wait recorded when its service starts, and
the waits in progress at any moment, so Little's law closes exactly over a window.
The integrals are booked in full when a job is admitted and the part still in the
future is taken off when they are read. Foreground requests also keep their own
arrivals and waits beside the figures for all traffic.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable
from heapq import heapreplace
from typing import Final

import numpy as np
import numpy.typing as npt

from sim.engine.quantiles import percentiles
from sim.engine.stations import StationStats

__all__ = ["NodeStats", "ServerPool"]


NODE_STATS_SLOTS: Final = (
    "booked_busy",
    "booked_queue",
    "fg_arrivals",
    "fg_arrivals_at_reset",
    "fg_waits",
    "lost",
    "open_waiting",
    "pool",
    "synced_arrivals",
)
"""The attributes of :class:`NodeStats` (a compiled class has no ``__slots__`` to read)."""


class NodeStats(StationStats):
    """The running figures of one :class:`ServerPool`, for all traffic and the foreground."""

    __slots__ = NODE_STATS_SLOTS

    def __init__(self, name: str, kind: str, province: str = "", service: str = "") -> None:
        super().__init__(name, kind, province, service)
        self.pool: ServerPool | None = None
        self.booked_busy = 0.0
        """Service time of every job admitted since the reset that lies after the reset."""
        self.booked_queue = 0.0
        """The same for waiting time."""
        self.lost = 0
        """Jobs lost when the node failed (admitted, never completed)."""
        self.fg_arrivals = 0
        self.fg_arrivals_at_reset = 0
        self.fg_waits = array("f")
        """Waits of the foreground's requests admitted since the reset."""
        self.open_waiting = 0.0
        self.synced_arrivals = -1

    def copy_into(self, clone: StationStats) -> None:
        """Copy these figures into ``clone`` (:meth:`StationStats.__copy__`), its own too."""
        super().copy_into(clone)
        for name in NODE_STATS_SLOTS:
            setattr(clone, name, getattr(self, name))

    def advance(self, now: float) -> None:
        """Bring the figures to ``now``: the background first, then what the heap says."""
        if now == self.t and self.arrivals == self.synced_arrivals:
            return
        pool = self.pool
        if pool is None:
            super().advance(now)
            return
        pool.catch_up(now)
        pool.started(now)
        free = pool.free
        self.busy = sum(1 for f in free if f > now)
        waiting = pool.waiting
        self.queue = len(waiting)
        self.busy_area = self.booked_busy - pool.future_busy(now)
        self.queue_area = self.booked_queue - pool.future_queue(now)
        self.completions = self.arrivals - self.lost - self.busy - self.queue
        self.open_waiting = sum(now - arrived for _, arrived in waiting)
        self.t = now
        self.synced_arrivals = self.arrivals

    def open_wait(self, now: float) -> float:
        """Total time the jobs waiting at ``now`` have waited so far."""
        self.advance(now)
        return self.open_waiting

    def reset(self, now: float) -> None:
        """Start measuring afresh at ``now``; work already admitted counts from ``now`` on."""
        super().reset(now)
        if self.pool is not None:
            self.booked_busy = self.pool.future_busy(now)
            self.booked_queue = self.pool.future_queue(now)
        self.fg_arrivals_at_reset = self.fg_arrivals
        self.fg_waits = array("f")

    @property
    def foreground_arrivals(self) -> int:
        """Foreground requests admitted since the last reset."""
        return self.fg_arrivals - self.fg_arrivals_at_reset

    def foreground_wait_summary(self) -> dict[str, float]:
        """Mean and percentiles of the foreground's waits since the last reset (exact)."""
        return percentiles(np.frombuffer(self.fg_waits, dtype=np.float32).astype(np.float64))


class ServerPool:
    """``servers`` identical FIFO servers as a heap of the times each is next free."""

    __slots__ = ("catch_up", "down", "epoch", "free", "servers", "stats", "waiting")

    def __init__(self, servers: int, stats: NodeStats) -> None:
        if servers < 1:
            raise ValueError(f"a node needs at least one server, got {servers}")
        self.servers = servers
        self.free = [0.0] * servers
        """A heap: when each server has finished every job given to it so far."""
        self.waiting: deque[tuple[float, float]] = deque()
        """(start, arrival) of admitted jobs that have not started yet, in start order."""
        self.down = False
        """While down, the node accepts nothing (the network loses what is sent to it)."""
        self.epoch = 0
        """Counts failures: a job admitted in an earlier epoch was lost when the node failed."""
        self.stats = stats
        stats.servers += servers
        stats.pool = self
        self.catch_up: Callable[[float], None] = _nothing
        """Brings the background traffic up to a time (set by :mod:`sim.network.background`)."""

    def admit(self, now: float, service_s: float) -> float:
        """Admit a job arriving ``now`` that needs ``service_s``; returns when it ends."""
        waiting = self.waiting
        stats = self.stats
        if waiting and waiting[0][0] <= now:
            self.started(now)
        free = self.free
        first = free[0]
        stats.arrivals += 1
        if first > now:
            waiting.append((first, now))
            if len(waiting) > stats.max_queue:
                stats.max_queue = len(waiting)
            stats.booked_queue += first - now
            end = first + service_s
        else:
            stats.waits.append(0.0)
            end = now + service_s
        heapreplace(free, end)
        stats.booked_busy += service_s
        return end

    def admit_foreground(self, now: float, service_s: float) -> float:
        """:meth:`admit` for a request of the simulated holders (its wait kept apart too)."""
        first = self.free[0]
        end = self.admit(now, service_s)
        stats = self.stats
        stats.fg_arrivals += 1
        stats.fg_waits.append(first - now if first > now else 0.0)
        return end

    def started(self, now: float) -> None:
        """Record the waits of the jobs whose service has started by ``now``."""
        waiting = self.waiting
        waits = self.stats.waits
        while waiting and waiting[0][0] <= now:
            start, arrived = waiting.popleft()
            waits.append(start - arrived)

    def future_busy(self, now: float) -> float:
        """Server time already given to jobs that lies after ``now``."""
        return sum(f - now for f in self.free if f > now)

    def future_queue(self, now: float) -> float:
        """Waiting time of admitted jobs that lies after ``now``."""
        return sum(start - now for start, _ in self.waiting if start > now)

    def fail(self, now: float) -> int:
        """Go down at ``now``: every job waiting or in service is lost; returns how many."""
        self.catch_up(now)
        stats = self.stats
        stats.advance(now)
        lost = stats.busy + stats.queue
        stats.booked_busy -= self.future_busy(now)
        stats.booked_queue -= self.future_queue(now)
        stats.lost += lost
        self.waiting.clear()
        self.free = [now] * self.servers
        self.epoch += 1
        self.down = True
        stats.synced_arrivals = -1
        stats.advance(now)
        return lost

    def recover(self, now: float) -> None:
        """Come back up at ``now``, empty, every server free."""
        self.catch_up(now)
        self.free = [now] * self.servers
        self.down = False

    def wait_array(self) -> npt.NDArray[np.float64]:
        """Waits recorded so far (all traffic), for tests."""
        return self.stats.wait_array()


def _nothing(_now: float) -> None:
    """No background: nothing to bring up to date."""

"""Stations: identical servers sharing one FIFO queue, and the figures they keep.

A :class:`Station` is SimPy's ``Resource`` reduced to what a service point or a
settlement node needs, driven by callbacks instead of processes: ``request``
calls back when a server is free, ``release`` hands the server to the next in
line, and a station with a ``queue_limit`` turns arrivals away when that many
are already waiting. Several stations can share one :class:`StationStats` (all
pharmacies of a province form one group), which keeps counts, time integrals of
busy servers and queue length (for utilisation and Little's law), the maximum
queue and every wait, and can tell at any moment how long the jobs in its
queues have been waiting, which closes Little's law exactly over a window.
Waits are appended to a compact float32 array; a busy station's array is
folded into a bounded sketch now and then (:meth:`StationStats.fold_waits`),
so a national day does not hold a hundred million of them.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable
from typing import Any, Final, Self

import numpy as np
import numpy.typing as npt
import simpy

from sim.engine.quantiles import Quantiles, percentiles

__all__ = ["FOLD_WAITS_AT", "Station", "StationStats"]

FOLD_WAITS_AT = 1 << 16
"""Waits a station keeps exactly (256 kB); beyond, they are folded into a sketch (120 kB).

A national day records about a hundred million waits over a few hundred station
groups: kept exactly they would take 400 MB."""

Waiting = deque[tuple[float, Any, Callable[[Any], None]]]
"""A station's queue: (time queued, job, callback) in arrival order."""

NO_LIMIT = 2**62
"""The queue limit of a station without one (no queue ever reaches it)."""


STATION_STATS_SLOTS: Final = (
    "arrivals",
    "arrivals_at_reset",
    "blocked",
    "blocked_at_reset",
    "busy",
    "busy_area",
    "completions",
    "completions_at_reset",
    "kind",
    "max_queue",
    "name",
    "province",
    "queue",
    "queue_area",
    "queue_at_reset",
    "queues",
    "servers",
    "service",
    "since",
    "t",
    "wait_carried_in",
    "wait_sketch",
    "waits",
)
"""The attributes of :class:`StationStats` (a compiled class has no ``__slots__`` to read)."""


class StationStats:
    """Running figures of one station or one group of stations."""

    __slots__ = STATION_STATS_SLOTS

    def __init__(self, name: str, kind: str, province: str = "", service: str = "") -> None:
        self.name = name
        self.kind = kind
        self.province = province
        self.service = service
        self.servers = 0
        self.busy = 0
        self.queue = 0
        self.arrivals = 0
        self.completions = 0
        self.arrivals_at_reset = 0
        self.completions_at_reset = 0
        self.blocked = 0
        self.blocked_at_reset = 0
        self.queue_at_reset = 0
        self.wait_carried_in = 0.0
        self.queues: list[Waiting] = []
        """The queues of the stations sharing these figures (to read waits in progress)."""
        self.max_queue = 0
        self.busy_area = 0.0
        self.queue_area = 0.0
        self.t = 0.0
        self.since = 0.0
        self.waits = array("f")
        """Waits recorded since the last reset (or the last fold), in order of service start."""
        self.wait_sketch: Quantiles | None = None
        """Waits folded out of ``waits`` since the last reset (None: every wait is exact)."""

    def __copy__(self) -> Self:
        """A shallow copy, attribute by attribute (``copy.copy`` of a compiled class needs it)."""
        clone = type(self)(self.name, self.kind, self.province, self.service)
        self.copy_into(clone)
        return clone

    def copy_into(self, clone: StationStats) -> None:
        """Copy every figure into ``clone``; subclasses add their own attributes."""
        for name in STATION_STATS_SLOTS:
            setattr(clone, name, getattr(self, name))

    def advance(self, now: float) -> None:
        """Accumulate the time integrals up to ``now``."""
        dt = now - self.t
        self.busy_area += self.busy * dt
        self.queue_area += self.queue * dt
        self.t = now

    def reset(self, now: float) -> None:
        """Start measuring afresh at ``now`` (end of warm-up); current state is kept.

        Jobs waiting at ``now`` will record their whole wait when they start;
        the part of it before ``now`` is kept in ``wait_carried_in`` so that
        Little's law can be closed exactly over the window.
        """
        self.advance(now)
        self.arrivals_at_reset = self.arrivals
        self.completions_at_reset = self.completions
        self.blocked_at_reset = self.blocked
        self.busy_area = self.queue_area = 0.0
        self.max_queue = self.queue
        self.queue_at_reset = self.queue
        self.wait_carried_in = self.open_wait(now)
        self.since = now
        self.waits = array("f")
        self.wait_sketch = None

    def open_wait(self, now: float) -> float:
        """Total time the jobs waiting at ``now`` have waited so far."""
        return sum(now - since for queue in self.queues for since, _, _ in queue)

    @property
    def measured_arrivals(self) -> int:
        """Arrivals since the last reset (``arrivals`` itself never goes back)."""
        return self.arrivals - self.arrivals_at_reset

    @property
    def measured_completions(self) -> int:
        """Completions since the last reset."""
        return self.completions - self.completions_at_reset

    @property
    def measured_blocked(self) -> int:
        """Arrivals turned away at a full queue since the last reset."""
        return self.blocked - self.blocked_at_reset

    def wait_array(self) -> npt.NDArray[np.float64]:
        """Waits still held exactly (since the last reset or fold), in order of service start."""
        return np.frombuffer(self.waits, dtype=np.float32).astype(np.float64)

    def fold_waits(self) -> None:
        """Move the waits held exactly into the sketch (percentiles within 0.1% from now on)."""
        if not self.waits:
            return
        if self.wait_sketch is None:
            self.wait_sketch = Quantiles(exact_up_to=0)
        self.wait_sketch.add(self.wait_array())
        self.waits = array("f")

    @property
    def foreground_arrivals(self) -> int:
        """Arrivals of the simulated holders since the last reset (here: all of them)."""
        return self.measured_arrivals

    def foreground_wait_summary(self) -> dict[str, float]:
        """Waits of the simulated holders since the last reset (here: every wait)."""
        return self.wait_summary()

    def wait_summary(self) -> dict[str, float]:
        """Mean (exact) and percentiles of every wait since the last reset.

        Exact while the waits were never folded; otherwise from the sketch, into
        which the waits still held are folded first.
        """
        if self.wait_sketch is None:
            return percentiles(self.wait_array())
        self.fold_waits()
        return self.wait_sketch.summary()


class Station:
    """``servers`` identical servers and one FIFO queue of at most ``queue_limit`` jobs."""

    __slots__ = ("busy", "down", "env", "epoch", "queue_limit", "servers", "stats", "waiting")

    def __init__(
        self,
        env: simpy.Environment,
        servers: int,
        stats: StationStats,
        queue_limit: int | None = None,
    ) -> None:
        if servers < 1:
            raise ValueError(f"a station needs at least one server, got {servers}")
        if queue_limit is not None and queue_limit < 0:
            raise ValueError(f"a queue limit must be ≥ 0, got {queue_limit}")
        self.env = env
        self.servers = servers
        self.queue_limit = NO_LIMIT if queue_limit is None else queue_limit
        self.busy = 0
        self.down = False
        """While down, the station's owner must not send it jobs (it accepts nothing)."""
        self.epoch = 0
        """Counts failures: a job started in an earlier epoch was lost when the station failed."""
        self.waiting: Waiting | None = None
        """The queue, made when first needed: most points never queue, and there are a
        million of them at full scale."""
        self.stats = stats
        stats.servers += servers

    def request(self, job: Any, on_start: Callable[[Any], None]) -> bool:
        """Queue ``job``; ``on_start(job)`` runs as soon as a server is its own.

        Returns False if every server is busy and the queue is at its limit:
        the job is turned away (counted as an arrival and as blocked) and
        ``on_start`` is never called.
        """
        stats = self.stats
        now = self.env.now
        dt = now - stats.t
        stats.busy_area += stats.busy * dt
        stats.queue_area += stats.queue * dt
        stats.t = now
        stats.arrivals += 1
        if self.busy < self.servers:
            self.busy += 1
            stats.busy += 1
            stats.waits.append(0.0)
            on_start(job)
        elif len(waiting := self._queue()) < self.queue_limit:
            waiting.append((now, job, on_start))
            stats.queue += 1
            if stats.queue > stats.max_queue:
                stats.max_queue = stats.queue
        else:
            stats.blocked += 1
            return False
        return True

    def release(self) -> None:
        """Free one server; the longest-waiting job, if any, takes it."""
        stats = self.stats
        now = self.env.now
        dt = now - stats.t
        stats.busy_area += stats.busy * dt
        stats.queue_area += stats.queue * dt
        stats.t = now
        stats.completions += 1
        if self.waiting:
            since, job, on_start = self.waiting.popleft()
            stats.queue -= 1
            stats.waits.append(now - since)
            on_start(job)
        else:
            self.busy -= 1
            stats.busy -= 1

    def _queue(self) -> Waiting:
        """The queue, made (and shown to the stats) the first time a job has to wait."""
        waiting = self.waiting
        if waiting is None:
            waiting = self.waiting = deque()
            self.stats.queues.append(waiting)
        return waiting

    def fail(self) -> list[Any]:
        """Go down: every waiting job and every job in service is lost.

        Returns the waiting jobs (their owners learn nothing; requesters time out).
        Jobs in service were started in an earlier epoch; their owners must check
        :attr:`epoch` when service ends and not call :meth:`release` for them.
        """
        stats = self.stats
        stats.advance(self.env.now)
        lost = [job for _, job, _ in self.waiting or ()]
        if self.waiting:
            self.waiting.clear()
        stats.queue -= len(lost)
        stats.busy -= self.busy
        self.busy = 0
        self.epoch += 1
        self.down = True
        return lost

    def recover(self) -> None:
        """Come back up, empty, all servers free."""
        self.down = False

    @property
    def queue_length(self) -> int:
        """Jobs waiting (not in service)."""
        return len(self.waiting) if self.waiting else 0

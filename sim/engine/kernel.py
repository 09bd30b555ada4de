"""The thin layer over SimPy that lets callbacks carry a transaction.

A transaction's life is a chain of "after this delay, call that": a link's
latency, a server's service time, a requester's timeout. :func:`call_later`
puts one such step on SimPy's event queue as a single event, with no
``Process`` and no generator behind it, which is most of what makes a hop
cheap. Everything runs on :class:`Environment`, a ``simpy.Environment`` whose
clock is a plain attribute, so generator processes (samplers, schedules) mix
freely with these callbacks. Each call is scheduled with a tag (a service
code, or :data:`SHARED`) and the environment counts the events of each tag.

This is the only module that touches SimPy's private attributes (``_now``,
``_queue``, ``_eid``, ``_ok``, ``_value``): SimPy is pinned in
``pyproject.toml`` to the versions whose internals it relies on, and
``tests/unit/test_kernel_internals.py`` checks them.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.events import NORMAL

__all__ = [
    "SHARED",
    "Call",
    "Environment",
    "call_later",
    "events_scheduled",
    "few_collections",
    "run_until",
]

GC_THRESHOLDS = (50_000, 20, 100)
"""Cyclic collector thresholds during a run (Python's defaults: 700, 10, 10)."""

SHARED = -1
"""The tag of an event no single service causes (batch openings, timer wake-ups)."""


class Environment(simpy.Environment):
    """A ``simpy.Environment`` whose ``now`` is a plain attribute, with a tally of events per tag.

    SimPy keeps the clock in ``_now`` behind a read-only ``now`` property; every
    callback reads the clock, so here ``now`` is the attribute itself (as cheap to
    read as ``_now``) and ``_now`` the property SimPy's own ``step`` and
    ``schedule`` go through. ``tally[tag]`` counts the events scheduled with
    each tag ``0 .. tags - 1`` by :func:`call_later`; ``tally[SHARED]`` (the last
    entry) those with none. Events SimPy schedules itself (timeouts, processes)
    are in :func:`events_scheduled` but in no tag.
    """

    now: float = 0.0  # an attribute, shadowing SimPy's property

    def __init__(self, initial_time: float = 0, tags: int = 0) -> None:
        self.tally = [0] * (tags + 1)
        """Events scheduled per tag; the last entry is :data:`SHARED`."""
        super().__init__(initial_time)

    @property
    def _now(self) -> float:
        return self.now

    @_now.setter
    def _now(self, value: float) -> None:
        self.now = value


class Call:
    """An event that fires after ``delay`` and calls ``fn(event)``; ``event.value`` is ``value``.

    This is ``simpy.Timeout`` with its callback attached at creation, reduced to the
    attributes SimPy's event loop reads (``callbacks``, ``_ok``, and ``_value`` if it
    failed, which a call never does) and kept in ``__slots__``: no per-event
    dictionary, the commonest allocation of a run. It goes on SimPy's own event
    queue and is processed by ``Environment.step`` or :func:`run_until` like any
    SimPy event; nothing yields on it. ``tag`` is what the event is counted under
    in ``env.tally``: the service code whose transaction it moves, or
    :data:`SHARED`.
    """

    __slots__ = ("_ok", "callbacks", "env", "value")

    def __init__(
        self,
        env: Environment,
        delay: float,
        fn: Callable[[Any], None],
        value: Any,
        tag: int = SHARED,
    ) -> None:
        # Timeout's initialisation and Environment.schedule, inlined.
        self.env = env
        self.callbacks: list[Callable[[Any], None]] | None = [fn]
        self.value = value
        """What the event carries (the argument given to :func:`call_later`)."""
        self._ok = True
        heappush(env._queue, (env.now + delay, NORMAL, next(env._eid), self))  # type: ignore[misc]
        env.tally[tag] += 1

    @property
    def _value(self) -> Any:
        """SimPy's name for the value (read by its loop only if the event failed)."""
        return self.value


call_later = Call
"""``call_later(env, delay, fn, value, tag=SHARED)``: run ``fn`` with the event after ``delay``."""


def run_until(env: Environment, until: float | None = None) -> None:
    """Process events up to ``until`` (or until none are left), like ``env.run(until)``.

    The same semantics as SimPy's ``Environment.run`` and ``step`` — events at
    ``until`` itself are left for later unless urgent, a failed event nobody
    defused is raised — in one tight loop without a method call per event. With
    several events per transaction and tens of millions of transactions, this
    loop is the model's innermost one.
    """
    queue = env._queue
    limit = float("inf") if until is None else until
    while queue:
        when, priority, _, event = queue[0]
        if when > limit or (when == limit and priority >= NORMAL):
            break
        heappop(queue)
        env.now = when
        callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
        for callback in callbacks:
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc
    if until is not None:
        env.now = max(env.now, until)


def events_scheduled(env: simpy.Environment) -> int:
    """How many events the environment has scheduled so far.

    SimPy numbers every scheduled event from one counter; reading it costs
    nothing per event. It is private to SimPy, so a missing counter reads -1.
    """
    counter = getattr(env, "_eid", None)
    if counter is None:
        return -1
    # itertools.count's repr is 'count(N)': N is the next id, i.e. events so far.
    text = repr(counter)
    try:
        return int(text[text.index("(") + 1 : text.rindex(")")])
    except ValueError:
        return -1


@contextlib.contextmanager
def few_collections() -> Iterator[None]:
    """Run the body with the cyclic garbage collector mostly out of the way.

    A run allocates tens of millions of short-lived objects (transactions,
    messages, events), and Python's default thresholds start a young collection
    every 700 allocations and a full one, scanning the whole model, every
    hundred of those. Nearly everything here is freed by reference counting, so
    the model built before the run is frozen out of collection and the
    thresholds raised: 15-20% less CPU at scale, with cycles still collected.
    Settings are restored afterwards.
    """
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()

"""The thin layer over SimPy that lets callbacks carry a transaction.

A transaction's life is a chain of "after this delay, call that": a link's
latency, a server's service time, a requester's timeout. :func:`call_later`
puts one such step on SimPy's event queue as a single event, with no
``Process`` and no generator behind it, which is most of what makes a hop
cheap. Everything still runs on a plain ``simpy.Environment``, so generator
processes (samplers, schedules) mix freely with these callbacks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy
from simpy.events import NORMAL, Event

__all__ = ["Call", "call_later", "events_scheduled"]


class Call(Event):
    """An event that fires after ``delay`` and calls ``fn(event)``; ``event.value`` is ``value``.

    This is ``simpy.Timeout`` with its callback attached at creation.
    """

    def __init__(
        self, env: simpy.Environment, delay: float, fn: Callable[[Any], None], value: Any
    ) -> None:
        # Inlined Event.__init__ + Timeout, as SimPy itself does for speed.
        self.env = env
        self.callbacks = [fn]
        self._value = value
        self._ok = True
        env.schedule(self, NORMAL, delay)


call_later = Call
"""``call_later(env, delay, fn, value)``: run ``fn`` with the event after ``delay``."""


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

"""The SimPy internals the kernel relies on, and that no other module touches them.

``sim/engine/kernel.py`` schedules onto SimPy's heap and keeps the clock itself; these
tests fail with a message naming the missing piece if an installed SimPy changed
them (``pyproject.toml`` pins the tested range), and if a module other than the
kernel starts reading SimPy's private attributes again.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import simpy
import simpy.events

from sim.engine.kernel import SHARED, Environment, call_later, events_scheduled, run_until

SIM = Path(__file__).resolve().parents[2] / "sim"
PRIVATE = re.compile(r"\b(env|event)\._\w+|\._(now|eid|defused)\b")
"""A private attribute read on an environment or event (a station's own ``_queue`` is not)."""


def _lacks(what: str) -> str:
    return (
        f"simpy {simpy.__version__} lacks {what}, which sim/engine/kernel.py relies on; "
        "install a SimPy in the range pinned in pyproject.toml"
    )


def test_simpy_has_the_internals_the_kernel_relies_on() -> None:
    """SimPy keeps the clock in ``_now`` behind a ``now`` property, a heap ``_queue`` of
    (time, priority, id, event) and an ``_eid`` counter, and its ``step`` and
    ``schedule`` go through ``_now``."""
    plain = simpy.Environment()
    assert isinstance(vars(plain).get("_queue"), list), _lacks("Environment._queue (a list)")
    assert isinstance(vars(plain).get("_eid"), itertools.count), _lacks("Environment._eid")
    assert "_now" in vars(plain), _lacks("Environment._now")
    assert isinstance(vars(simpy.Environment).get("now"), property), _lacks("the now property")
    assert isinstance(simpy.events.NORMAL, int), _lacks("simpy.events.NORMAL")
    env = Environment()
    env.timeout(5)
    entry = env._queue[0]
    assert len(entry) == 4 and entry[0] == 5 and entry[1] == simpy.events.NORMAL, _lacks(
        "heap entries (time, priority, id, event)"
    )
    env.step()
    assert env.now == 5, _lacks("Environment.step writing the clock through _now")
    assert events_scheduled(env) == 1, _lacks("an _eid counter whose repr is count(N)")


def test_only_the_kernel_reads_simpy_private_attributes() -> None:
    """No module of ``sim/`` but the kernel reads ``_now``, ``_queue``, ``_eid`` and the like."""
    readers = sorted(
        f"{path.relative_to(SIM.parent)}:{n}"
        for path in SIM.rglob("*.py")
        if path.relative_to(SIM).as_posix() != "engine/kernel.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if PRIVATE.search(line)
    )
    assert readers == [], f"SimPy internals read outside sim/engine/kernel.py: {readers}"


def test_call_later_counts_events_by_tag() -> None:
    """Each call is counted under its tag, untagged ones as SHARED; SimPy's own in neither."""
    env = Environment(tags=2)
    for tag in (0, 0, 1, 0):
        call_later(env, 1.0, lambda ev: None, None, tag)
    call_later(env, 2.0, lambda ev: None, None)
    env.timeout(3)
    assert env.tally == [3, 1, 1]
    assert env.tally[SHARED] == 1
    assert events_scheduled(env) == 6


def test_clock_is_kept_by_step_and_by_run_until() -> None:
    """``now`` is right in callbacks and SimPy processes, under ``env.run`` and ``run_until``."""
    env = Environment()
    seen: list[tuple[str, float]] = []

    def process(env: Environment):
        yield env.timeout(1.5)
        seen.append(("process", env.now))

    env.process(process(env))
    call_later(env, 2.0, lambda ev: seen.append((ev.value, ev.env.now)), "call")
    env.run(until=1.0)
    assert env.now == 1.0
    run_until(env, 10.0)
    assert seen == [("process", 1.5), ("call", 2.0)]
    assert env.now == 10.0

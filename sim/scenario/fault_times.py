"""When a fault happens: ``at`` as time after the start, or as a local date-time.

A fault's ``at`` is a duration after the scenario's ``start`` (``10h``). Written as
a clock time (``'10:00'``) it would read as ten hours after the start, which is
10:00 local time only when the run starts at midnight; so a clock time is
refused, and a local date-time (``2024-03-12T10:00``, in the start's time zone
unless it has its own offset) is accepted and turned into the duration after
the start before the scenario is structured. Faults that begin at or after the
horizon never happen: :func:`fault_warnings` names them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from sim.scenario import units
from sim.scenario.codec import Problem
from sim.scenario.schema import Scenario

__all__ = ["fault_warnings", "resolve_fault_times"]

TIMED = ("outages", "links", "partitions", "readers")
"""Fault lists whose entries have an ``at``."""
_CLOCK = re.compile(r"\s*\d{1,2}:\d{2}(:\d{2})?\s*")
_DATE_TIME = re.compile(r"\s*\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}.*")


def resolve_fault_times(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """``raw`` with every fault's date-time ``at`` made a duration after ``start``."""
    out = dict(raw)
    faults = raw.get("faults")
    if not isinstance(faults, Mapping):
        return out, []
    start = _start(raw.get("start"))
    problems: list[Problem] = []
    new_faults = dict(faults)
    for kind in TIMED:
        entries = faults.get(kind)
        if not isinstance(entries, list):
            continue
        new_entries: list[Any] = []
        for i, entry in enumerate(entries):
            if isinstance(entry, Mapping) and "at" in entry:
                at, problem = _resolve(entry["at"], start, f"faults.{kind}[{i}].at")
                entry = {**entry, "at": at}
                problems += [problem] if problem else []
            new_entries.append(entry)
        new_faults[kind] = new_entries
    out["faults"] = new_faults
    return out, problems


def _start(raw: Any) -> dt.datetime | None:
    value = raw if isinstance(raw, dt.datetime) else None
    if isinstance(raw, str):
        try:
            value = dt.datetime.fromisoformat(raw)
        except ValueError:
            return None
    return value if value is not None and value.tzinfo is not None else None


def _resolve(at: Any, start: dt.datetime | None, path: str) -> tuple[Any, Problem | None]:
    if isinstance(at, str) and _CLOCK.fullmatch(at):
        hours = at.strip().split(":")[0].lstrip("0") or "0"
        day = start.date().isoformat() if start is not None else "2024-03-12"
        return at, Problem(path, f"{at.strip()!r} is ambiguous: write '{hours}h' for "
                                 f"{hours} h after the start, or a local date-time such as "
                                 f"'{day}T{at.strip()}'")  # fmt: skip
    when = at if isinstance(at, dt.datetime) else None
    if isinstance(at, str) and _DATE_TIME.fullmatch(at):
        try:
            when = dt.datetime.fromisoformat(at.strip())
        except ValueError:
            return "0s", Problem(path, f"expected a date-time such as '2024-03-12T10:00', "
                                     f"got {at!r}")  # fmt: skip
    if when is None:
        return at, None
    if start is None:
        return "0s", Problem(path, "a date-time needs the scenario's start (see 'start')")
    if when.tzinfo is None:
        when = when.replace(tzinfo=start.tzinfo)
    seconds = (when - start).total_seconds()
    if seconds < 0:
        return "0s", Problem(path, f"{when.isoformat()} is before the start "
                                 f"({start.isoformat()})")  # fmt: skip
    return units.format_duration(seconds), None


def fault_warnings(scenario: Scenario) -> list[Problem]:
    """Faults that begin at or after the horizon (so never happen), by key path."""
    horizon_h = float(scenario.horizon) / 3600.0
    problems = []
    for kind in TIMED:
        for i, entry in enumerate(getattr(scenario.faults, kind)):
            at_h = float(entry.at) / 3600.0
            if at_h >= horizon_h:
                message = (f"begins {at_h:g} h after the start, at or after the horizon "
                           f"({horizon_h:g} h): it never happens")  # fmt: skip
                problems.append(Problem(f"faults.{kind}[{i}].at", message))
    return problems

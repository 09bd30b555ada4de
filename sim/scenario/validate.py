"""Checks that span sections of a scenario: names that must refer to something.

Field-level rules sit on the schema classes; here are the rules that need the
province table, the builtin profiles or two sections at once. Each returns
problems by path so the loader can list them together.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping

import attrs

from sim import calendar
from sim.provinces import BUILTIN_TABLES, load_provinces
from sim.scenario.codec import Problem
from sim.scenario.schema import Distribution, Scenario
from sim.units import show_value


def cross_check(scenario: Scenario) -> list[Problem]:
    """Every cross-section problem of a structurally valid scenario."""
    problems: list[Problem] = _check_calendar(scenario)
    if scenario.provinces not in BUILTIN_TABLES:
        return [*problems, _unknown_table(scenario.provinces)]
    ids = set(load_provinces(scenario.provinces).ids)
    tables: dict[str, Mapping[str, object]] = {
        "population.inflow": scenario.population.inflow,
        "population.outflow": scenario.population.outflow,
        "policy.catalogue.provinces": scenario.policy.catalogue.provinces,
    }
    for path, table in tables.items():
        problems.extend(
            Problem(f"{path}.{pid}", f"unknown province (known: {', '.join(sorted(ids))})")
            for pid in table
            if pid not in ids
        )
    # ServicesSpec.check runs only when the key is written; an omitted key is no better.
    problems.extend(Problem("services", message) for _, message in scenario.services.check())
    for name, service in scenario.services.enabled().items():
        path = f"services.{name}"
        problems.extend(_check_profile(service.profile, f"{path}.profile"))
        problems.extend(_check_bill(service.amount, f"{path}.amount"))
        if scenario.policy.rule("", name) is None:
            problems.append(
                Problem(f"policy.default.{name}", f"missing: {path} needs a reimbursement rule")
            )
    for province_id, rules in scenario.policy.provinces.items():
        if province_id not in ids:
            problems.append(
                Problem(
                    f"policy.provinces.{province_id}",
                    f"unknown province (known: {', '.join(sorted(ids))})",
                )
            )
        for rule_service in rules:
            if rule_service not in scenario.services.enabled():
                problems.append(
                    Problem(
                        f"policy.provinces.{province_id}.{rule_service}",
                        "not a service of this scenario",
                    )
                )
    for rule_service in scenario.policy.default:
        if rule_service not in scenario.services.enabled():
            problems.append(
                Problem(f"policy.default.{rule_service}", "not a service of this scenario")
            )
    samples = scenario.horizon / scenario.outputs.sample_every
    if samples > 1_000_000:
        problems.append(
            Problem(
                "outputs.sample_every",
                f"too fine: {_count(samples)} samples over the horizon (max 1000000)",
            )
        )
    period = scenario.clearing.period_s
    if period is not None and scenario.horizon / period > MAX_CLEARING_PERIODS:
        periods = scenario.horizon / period
        problems.append(
            Problem(
                "clearing.period",
                f"too fine: {_count(periods)} clearing periods over the horizon "
                f"(max {MAX_CLEARING_PERIODS}; each nets 31 provinces in the ledger)",
            )
        )
    return problems


MAX_CLEARING_PERIODS = 100_000
"""Most clearing periods a run may have (a period of 1 minute over two months)."""
LAST_YEAR = 9000
"""Runs end before this year, leaving the calendar's year and month arithmetic headroom."""


def _count(n: float) -> str:
    """A count for a message: whole below a trillion, in scientific notation above."""
    return f"{n:.0f}" if n < 1e12 else f"{n:.3g}"


def _check_calendar(scenario: Scenario) -> list[Problem]:
    """The run's end (``start`` + ``horizon``) is a date the calendar can count up to."""
    try:
        end = scenario.start + dt.timedelta(seconds=scenario.horizon)
    except OverflowError:
        end = None
    if end is None or end.year >= LAST_YEAR:
        return [Problem("horizon", f"start + horizon must fall before the year {LAST_YEAR}")]
    return []


def _unknown_table(name: str) -> Problem:
    """Why ``provinces`` is refused; a path gets its own message, as files are never read."""
    known = ", ".join(sorted(BUILTIN_TABLES))
    if any(mark in name for mark in ("/", "\\", ":", "~")) and not name.startswith("builtin:"):
        return Problem(
            "provinces",
            f"{show_value(name)} looks like a file or URL: scenario files cannot name files "
            f"to read; use a builtin table ({known})",
        )
    return Problem("provinces", f"unknown province table {show_value(name)} (known: {known})")


def _check_profile(profile: str | tuple[float, ...], path: str) -> list[Problem]:
    if isinstance(profile, str):
        if profile not in calendar.BUILTIN_PROFILES:
            known = ", ".join(sorted(calendar.BUILTIN_PROFILES))
            return [Problem(path, f"unknown profile {profile!r} (known: {known})")]
        return []
    if len(profile) != 24:
        return [Problem(path, f"needs 24 hourly weights, got {len(profile)}")]
    if any(w < 0 for w in profile) or sum(profile) <= 0:
        return [Problem(path, "weights must be ≥ 0 and not all zero")]
    if not math.isfinite(sum(profile)):
        return [Problem(path, "weights too large to add up; only their proportions matter")]
    return []


MAX_BILL_FEN = 100_000_000_000
"""Largest amount parameter (one billion yuan): larger bills overflow the fen sums."""


def _check_bill(amount: Distribution, path: str) -> list[Problem]:
    """An amount distribution's parameters stay within what fen sums can hold."""
    kind = type(amount).TAG
    values = {f.name: getattr(amount, f.name) for f in attrs.fields(type(amount))}
    return [
        Problem(f"{path}.{kind}" + ("" if name == "value" else f".{name}"),
                f"at most {MAX_BILL_FEN // 100} yuan for one bill, got {value / 100:.3g} yuan")
        for name, value in values.items()
        if name in ("mean", "low", "high", "value") and value > MAX_BILL_FEN
    ]  # fmt: skip

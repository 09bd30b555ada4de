"""Checks that span sections of a scenario: names that must refer to something.

Field-level rules sit on the schema classes; here are the rules that need the
province table, the builtin profiles or two sections at once. Each returns
problems by path so the loader can list them together.
"""

from __future__ import annotations

from sim import calendar
from sim.provinces import BUILTIN_TABLES, load_provinces
from sim.scenario.codec import Problem
from sim.scenario.schema import Scenario


def cross_check(scenario: Scenario) -> list[Problem]:
    """Every cross-section problem of a structurally valid scenario."""
    problems: list[Problem] = []
    if scenario.provinces not in BUILTIN_TABLES:
        known = ", ".join(sorted(BUILTIN_TABLES))
        problems.append(
            Problem("provinces", f"unknown province table {scenario.provinces!r} (known: {known})")
        )
        return problems
    ids = set(load_provinces(scenario.provinces).ids)
    problems.extend(_check_ids(scenario.region, ids, "region", "province"))
    simulated = set(scenario.region) & ids if scenario.region else ids
    # ServicesSpec.check runs only when the key is written; an omitted key is no better.
    problems.extend(Problem("services", message) for _, message in scenario.services.check())
    for name, service in scenario.services.enabled().items():
        path = f"services.{name}"
        problems.extend(_check_profile(service.profile, f"{path}.profile"))
        problems.extend(
            _check_ids(service.sites, simulated, f"{path}.sites", "simulated province")
        )
        if len(simulated) < 2 and service.cross_province_share > 0:
            problems.append(
                Problem(
                    f"{path}.cross_province_share",
                    "must be 0 when only one province is simulated (see 'region')",
                )
            )
        if scenario.policy.rule("", name) is None:
            problems.append(
                Problem(f"policy.default.{name}", f"missing: {path} needs a reimbursement rule")
            )
    if len(simulated) < 2 and scenario.population.migrant_share > 0:
        problems.append(
            Problem(
                "population.migrant_share",
                "must be 0 when only one province is simulated (see 'region')",
            )
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
                f"too fine: {samples:.0f} samples over the horizon (max 1000000)",
            )
        )
    return problems


def _check_ids(
    given: tuple[str, ...] | None, known: set[str], path: str, what: str
) -> list[Problem]:
    """A list of province ids: not empty, no repeats, each one known."""
    if given is None:
        return []
    if not given:
        return [Problem(path, "must name at least one province (or be left out)")]
    problems = [
        Problem(f"{path}[{i}]", f"unknown {what} {pid!r} (known: {', '.join(sorted(known))})")
        for i, pid in enumerate(given)
        if pid not in known
    ]
    repeated = sorted({pid for pid in given if given.count(pid) > 1})
    if repeated:
        problems.append(Problem(path, f"names {', '.join(repeated)} more than once"))
    return problems


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
    return []

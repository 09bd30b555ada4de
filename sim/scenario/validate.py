"""Checks that span sections of a scenario: names that must refer to something.

Field-level rules sit on the schema classes; here are the rules that need the
province table, the builtin profiles or two sections at once. Each returns
problems by path so the loader can list them together.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from sim import calendar
from sim.provinces import BUILTIN_TABLES, ProvinceTable, full_scale_counts, load_provinces
from sim.scenario.card_services import LibraryService, PensionPayoutService
from sim.scenario.codec import Problem
from sim.scenario.schema import AnyService, Profile, Scenario


def cross_check(scenario: Scenario) -> list[Problem]:
    """Every cross-section problem of a structurally valid scenario."""
    problems: list[Problem] = []
    if scenario.provinces not in BUILTIN_TABLES:
        known = ", ".join(sorted(BUILTIN_TABLES))
        problems.append(
            Problem("provinces", f"unknown province table {scenario.provinces!r} (known: {known})")
        )
        return problems
    table = load_provinces(scenario.provinces)
    ids = set(table.ids)
    tables: dict[str, Mapping[str, object]] = {
        "population.inflow": scenario.population.inflow,
        "population.outflow": scenario.population.outflow,
        "policy.catalogue.provinces": scenario.policy.catalogue.provinces,
    }
    for path, weights in tables.items():
        problems.extend(
            Problem(f"{path}.{pid}", f"unknown province (known: {', '.join(sorted(ids))})")
            for pid in weights
            if pid not in ids
        )
    problems.extend(_check_ids(scenario.region, ids, "region", "province"))
    simulated = set(scenario.region) & ids if scenario.region else ids
    # ServicesSpec.check runs only when the key is written; an omitted key is no better.
    problems.extend(Problem("services", message) for _, message in scenario.services.check())
    medical = scenario.services.medical()
    for name, service in scenario.services.enabled().items():
        path = f"services.{name}"
        for sub, profile in _profiles(service):
            problems.extend(_check_profile(profile, f"{path}.{sub}"))
        if name in medical:
            problems.extend(
                _check_ids(medical[name].sites, simulated, f"{path}.sites", "simulated province")
            )
        cross = getattr(service, "cross_province_share", 0.0)
        if len(simulated) < 2 and cross > 0:
            problems.append(
                Problem(
                    f"{path}.cross_province_share",
                    "must be 0 when only one province is simulated (see 'region')",
                )
            )
        if name in medical and scenario.policy.rule("", name) is None:
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
    problems.extend(_check_card_services(scenario, table))
    for province_id, rules in scenario.policy.provinces.items():
        if province_id not in ids:
            problems.append(
                Problem(
                    f"policy.provinces.{province_id}",
                    f"unknown province (known: {', '.join(sorted(ids))})",
                )
            )
        for rule_service in rules:
            if rule_service not in medical:
                problems.append(
                    Problem(
                        f"policy.provinces.{province_id}.{rule_service}",
                        "not a medical service of this scenario",
                    )
                )
    for rule_service in scenario.policy.default:
        if rule_service not in medical:
            problems.append(
                Problem(f"policy.default.{rule_service}", "not a medical service of this scenario")
            )
    samples = scenario.horizon / scenario.outputs.sample_every
    if samples > 1_000_000:
        problems.append(
            Problem(
                "outputs.sample_every",
                f"too fine: {samples:.0f} samples over the horizon (max 1000000)",
            )
        )
    problems.extend(_check_faults(scenario, table.ids))
    return problems


def _check_faults(scenario: Scenario, ids: tuple[str, ...]) -> list[Problem]:
    """Faults name nodes, provinces and services that exist in this scenario."""
    problems: list[Problem] = []
    services = scenario.services.enabled()
    nodes = ["national", "card_platform", *ids]
    banks = [f"bank:{p}" for p in ids] if "pension_payout" in services else []
    faults = scenario.faults

    def node(path: str, name: str, allowed: list[str]) -> None:
        if name not in allowed:
            hint = "national, card_platform, a province id" + (", bank:<ID>" if banks else "")
            problems.append(Problem(path, f"unknown node {name!r} (known: {hint})"))

    for i, outage in enumerate(faults.outages):
        node(f"faults.outages[{i}].node", outage.node, nodes + banks)
    for i, random in enumerate(faults.random_outages):
        node(f"faults.random_outages[{i}].node", random.node, nodes + banks)
    for i, partition in enumerate(faults.partitions):
        for j, name in enumerate(partition.between):
            node(f"faults.partitions[{i}].between[{j}]", name, nodes)
    for i, reader in enumerate(faults.readers):
        if "transit" not in services:
            problems.append(Problem(f"faults.readers[{i}]", "the scenario has no transit"))
        if reader.province not in ids:
            problems.append(Problem(f"faults.readers[{i}].province",
                                    f"unknown province {reader.province!r}"))  # fmt: skip
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


def _profiles(service: AnyService) -> Iterator[tuple[str, Profile]]:
    """(key path below the service, profile) of every profile a service section holds."""
    if isinstance(service, PensionPayoutService):
        if service.withdrawals is not None:
            yield "withdrawals.profile", service.withdrawals.profile
    else:
        yield "profile", service.profile


def _unknown_ids(keys: Iterable[str], path: str, ids: set[str]) -> list[Problem]:
    return [
        Problem(f"{path}.{pid}", f"unknown province (known: {', '.join(sorted(ids))})")
        for pid in keys
        if pid not in ids
    ]


def _check_card_services(scenario: Scenario, table: ProvinceTable) -> list[Problem]:
    """Province ids named by the library, transit and payout sections, and library counts."""
    ids = set(table.ids)
    problems: list[Problem] = []
    services = scenario.services
    if isinstance(services.library, LibraryService):
        path = "services.library"
        library = services.library
        problems += _unknown_ids(library.libraries.provinces, f"{path}.libraries.provinces", ids)
        hours = library.opening_hours
        if not _check_profile(library.profile, ""):
            try:
                calendar.open_weights(library.profile, hours.opens, hours.closes)
            except ValueError as exc:
                problems.append(Problem(f"{path}.opening_hours", str(exc)))
        link = library.interconnection
        if link is not None:
            unknown = [p for p in link.provinces if p not in ids]
            if unknown:
                problems.append(
                    Problem(
                        f"{path}.interconnection.provinces",
                        f"unknown province(s) {', '.join(unknown)}",
                    )
                )
            else:
                spec = library.libraries
                full = full_scale_counts(table, spec.per_province, spec.total, spec.provinces)
                for pid, count in link.libraries.items():
                    have = int(full[table.index(pid)])
                    if count > have:
                        problems.append(
                            Problem(
                                f"{path}.interconnection.libraries.{pid}",
                                f"must be ≤ the province's libraries at full scale ({have}), "
                                f"got {count}",
                            )
                        )
    if isinstance(services.pension_payout, PensionPayoutService):
        path = "services.pension_payout"
        payout = services.pension_payout
        problems += _unknown_ids(payout.paydays, f"{path}.paydays", ids)
        problems += _unknown_ids(payout.bank.provinces, f"{path}.bank.provinces", ids)
    return problems

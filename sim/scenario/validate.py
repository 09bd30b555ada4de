"""Checks that span sections of a scenario: names that must refer to something.

Field-level rules sit on the schema classes; here are the rules that need the
province table, the builtin profiles or two sections at once. Each returns
problems by path so the loader can list them together.
"""

from __future__ import annotations

import datetime as dt
import math
import typing
from collections.abc import Iterable, Iterator, Mapping

import attrs

from sim.engine import calendar
from sim.scenario.card_services import LibraryService, PensionPayoutService, TransitService
from sim.scenario.codec import Problem
from sim.scenario.families import FAMILIES
from sim.scenario.schema import AnyService, Distribution, MedicalService, Profile, Scenario
from sim.scenario.units import show_value
from sim.world.provinces import (
    BUILTIN_TABLES,
    ProvinceTable,
    full_scale_counts,
    load_provinces,
    simulated_provinces,
)


def cross_check(scenario: Scenario) -> list[Problem]:
    """Every cross-section problem of a structurally valid scenario."""
    problems: list[Problem] = _check_calendar(scenario) + _check_counts(scenario, "")
    holders = scenario.population.holders
    if holders is not None and holders > MAX_HOLDERS:
        problems.append(
            Problem("population.holders", f"must be ≤ {MAX_HOLDERS:g}, got {holders:g}")
        )
    if scenario.provinces not in BUILTIN_TABLES:
        return [*problems, _unknown_table(scenario.provinces)]
    if problems:
        return problems  # the checks below work with these counts and dates
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
    region_problems = _check_ids(scenario.region, ids, "region", "province")
    problems.extend(region_problems)
    simulated = set(scenario.region) & ids if scenario.region else ids
    if not region_problems:
        problems.extend(_check_some_holder(scenario))
    # An unknown id is reported above; "only one province is simulated" would then be false.
    one_province = len(simulated) < 2 and (not scenario.region or set(scenario.region) <= ids)
    # ServicesSpec.check runs only when the key is written; an omitted key is no better.
    problems.extend(Problem("services", message) for _, message in scenario.services.check())
    medical = scenario.services.medical()
    for name, service in scenario.services.enabled().items():
        path = f"services.{name}"
        for sub, profile in _profiles(service):
            problems.extend(_check_profile(profile, f"{path}.{sub}"))
        for sub, amount in _amounts(service):
            problems.extend(_check_amount(amount, f"{path}.{sub}"))
        if name in medical:
            problems.extend(
                _check_ids(medical[name].sites, simulated, f"{path}.sites", "simulated province")
            )
        cross = getattr(service, "cross_province_share", 0.0)
        if one_province and cross > 0:
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
    if one_province and scenario.population.migrant_share > 0:
        problems.append(
            Problem(
                "population.migrant_share",
                "must be 0 when only one province is simulated (see 'region')",
            )
        )
    problems.extend(_check_card_services(scenario, table))
    problems.extend(_check_fraud(scenario))
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
    problems.extend(_check_faults(scenario, table.ids))
    return problems


def _check_faults(scenario: Scenario, ids: tuple[str, ...]) -> list[Problem]:
    """Faults name nodes, provinces and services that exist in this scenario."""
    problems: list[Problem] = []
    services = scenario.services.enabled()
    nodes = ["national", "card_platform", *ids]
    own = [fam.outage_nodes for fam in FAMILIES if fam.outage_nodes and fam.key in services]
    banks = [f"{prefix}:{p}" for prefix in own for p in ids]
    faults = scenario.faults

    def node(path: str, name: str, allowed: list[str]) -> None:
        if name not in allowed:
            hint = "national, card_platform, a province id" + "".join(f", {p}:<ID>" for p in own)
            case = _case_hint(name, set(allowed))
            problems.append(Problem(path, f"unknown node {name!r}{case} (known: {hint})"))

    for i, outage in enumerate(faults.outages):
        node(f"faults.outages[{i}].node", outage.node, nodes + banks)
    for i, random in enumerate(faults.random_outages):
        node(f"faults.random_outages[{i}].node", random.node, nodes + banks)
    for i, partition in enumerate(faults.partitions):
        for j, name in enumerate(partition.between):
            node(f"faults.partitions[{i}].between[{j}]", name, nodes)
    for i, reader in enumerate(faults.readers):
        if not any(fam.readers and fam.key in services for fam in FAMILIES):
            problems.append(Problem(f"faults.readers[{i}]", "the scenario has no transit"))
        if reader.province not in ids:
            problems.append(Problem(f"faults.readers[{i}].province",
                                    f"unknown province {reader.province!r}"))  # fmt: skip
    return problems


MAX_HOLDERS = 1e10
"""More card holders than people on Earth is a typo (and would overflow holder counts)."""
MAX_COUNT = 1_000_000_000
"""Largest count (points, libraries, gates, servers, retries): larger ones are typos, and
would overflow the 64-bit integers counts are kept in (as 1e40 libraries did)."""


def _check_some_holder(scenario: Scenario) -> list[Problem]:
    """A run needs one simulated holder at least (every transaction draws one)."""
    given = scenario.population.holders  # as sim.world.population.holder_counts counts them
    total = (
        float(given) if given is not None else float(simulated_provinces(scenario).holders.sum())
    )
    holders = total * scenario.scale
    if round(holders) >= 1:
        return []
    key = "population.holders" if given is not None else "scale"
    message = (f"gives {holders:.3g} simulated holders (holders × scale): at least 1 is "
               "needed; raise scale or population.holders")  # fmt: skip
    return [Problem(key, message)]


def _check_counts(obj: object, path: str) -> list[Problem]:
    """Every whole number of the scenario except ``seed`` is at most :data:`MAX_COUNT`.

    Walks the schema's fields by their type: ``int`` fields and ``dict[str, int]``
    values are counts (money is ``MoneyFen``, not ``int``, and is bounded apart).
    """
    cls: typing.Any = type(obj)
    if not attrs.has(cls):
        return []
    problems = []
    hints = typing.get_type_hints(cls)
    for field in attrs.fields(cls):
        value = getattr(obj, field.name)
        where = f"{path}.{field.name}" if path else field.name
        kind = hints[field.name]
        if where == "seed":
            continue
        if kind in (int, int | None) and isinstance(value, int) and value > MAX_COUNT:
            problems.append(Problem(where, f"must be ≤ {MAX_COUNT}, got {show_value(value)}"))
        elif kind == dict[str, int]:
            problems += [
                Problem(f"{where}.{key}", f"must be ≤ {MAX_COUNT}, got {show_value(count)}")
                for key, count in value.items()
                if count > MAX_COUNT
            ]
        elif isinstance(value, tuple):
            for i, item in enumerate(value):
                problems += _check_counts(item, f"{where}[{i}]")
        else:
            problems += _check_counts(value, where)
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


def _check_ids(
    given: tuple[str, ...] | None, known: set[str], path: str, what: str
) -> list[Problem]:
    """A list of province ids: not empty, no repeats, each one known."""
    if given is None:
        return []
    if not given:
        return [Problem(path, "must name at least one province (or be left out)")]
    listed = ", ".join(sorted(known))
    problems = [
        Problem(
            f"{path}[{i}]", f"unknown {what} {pid!r}{_case_hint(pid, known)} (known: {listed})"
        )
        for i, pid in enumerate(given)
        if pid not in known
    ]
    repeated = sorted({pid for pid in given if given.count(pid) > 1})
    if repeated:
        problems.append(Problem(path, f"names {', '.join(repeated)} more than once"))
    return problems


def _case_hint(pid: str, known: set[str]) -> str:
    """``(did you mean 'SH'?)`` for an id written in the wrong case (ids are upper case)."""
    same = [k for k in known if k.lower() == pid.lower()]
    return f" (did you mean {same[0]!r}?)" if same else ""


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
"""Largest money parameter (one billion yuan): larger amounts overflow the fen sums."""


def _amounts(service: AnyService) -> Iterator[tuple[str, Distribution]]:
    """(key path below the service, distribution) of every money amount a service draws."""
    if isinstance(service, MedicalService):
        yield "amount", service.amount
    elif isinstance(service, TransitService):
        yield "fare", service.fare
    elif isinstance(service, PensionPayoutService):
        for name, batch in service.batches().items():
            yield f"{name}.amount", batch.amount
        if service.withdrawals is not None:
            yield "withdrawals.amount", service.withdrawals.amount


def _check_amount(amount: Distribution, path: str) -> list[Problem]:
    """A money distribution's parameters stay within what fen sums can hold."""
    kind = type(amount).TAG
    values = {f.name: getattr(amount, f.name) for f in attrs.fields(type(amount))}
    return [
        Problem(f"{path}.{kind}" + ("" if name == "value" else f".{name}"),
                f"at most {MAX_BILL_FEN // 100} yuan per transaction, got {value / 100:.3g} yuan")
        for name, value in values.items()
        if name in ("mean", "low", "high", "value") and value > MAX_BILL_FEN
    ]  # fmt: skip


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


def _check_fraud(scenario: Scenario) -> list[Problem]:
    """Fraud is tried at a medical service of the scenario; stolen cards need lost ones."""
    fraud = scenario.fraud
    if fraud is None:
        return []
    problems = []
    medical = scenario.services.medical()
    if fraud.service not in medical:
        known = ", ".join(medical) or "none in this scenario"
        message = f"must be a medical service of the scenario (known: {known})"
        problems.append(Problem("fraud.service", f"{message}, got {fraud.service!r}"))
    cards = scenario.cards
    if fraud.stolen.share > 0 and (cards is None or cards.loss.per_holder_per_day == 0):
        problems.append(Problem("fraud.stolen.share", "stolen cards are lost ones: give "
                                                      "cards.loss a rate above 0"))  # fmt: skip
    if fraud.stolen.at_transit > 0 and scenario.services.transit is None:
        problems.append(Problem("fraud.stolen.at_transit", "thieves at transit gates need "
                                                           "services.transit"))  # fmt: skip
    return problems


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

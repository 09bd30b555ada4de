"""Scenario rules of the library, transit and payout sections, each reported at its path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sim.scenario import ScenarioError, parse_scenario
from sim.scenario.loader import read_yaml
from tests.conftest import SCENARIOS


def baseline() -> dict[str, Any]:
    """The raw baseline scenario (all four service families)."""
    raw = read_yaml((SCENARIOS / "baseline_weekday.yaml").read_text("utf-8"), "baseline")
    assert isinstance(raw, dict)
    return raw


def problems_of(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, message) of every problem, or [] if the scenario loads."""
    try:
        parse_scenario(raw)
    except ScenarioError as exc:
        return [(p.path, p.message) for p in exc.problems]
    return []


def test_baseline_loads_with_all_four_families() -> None:
    """The shipped baseline enables medical, library, transit and payout services."""
    services = parse_scenario(baseline()).services
    assert set(services.enabled()) == {"medical_outpatient", "medical_inpatient", "pharmacy",
                                       "library", "transit", "pension_payout"}  # fmt: skip
    assert set(services.medical()) == {"medical_outpatient", "medical_inpatient", "pharmacy"}


Edit = Callable[[dict[str, Any]], None]


def _services(raw: dict[str, Any]) -> dict[str, Any]:
    return raw["services"]


CASES: list[tuple[Edit, str, str]] = [
    (
        lambda r: _services(r)["pension_payout"]["paydays"].update(XX=12),
        "services.pension_payout.paydays.XX",
        "unknown province",
    ),
    (
        lambda r: _services(r)["pension_payout"]["paydays"].update(SH=32),
        "services.pension_payout.paydays.SH",
        "must be between 1 and 31, got 32",
    ),
    (
        lambda r: _services(r)["pension_payout"]["bank"].update(provinces={"ZZ": 10}),
        "services.pension_payout.bank.provinces.ZZ",
        "unknown province",
    ),
    (
        lambda r: _services(r)["pension_payout"]["bank"].update(credits_per_s=0),
        "services.pension_payout.bank.credits_per_s",
        "must be > 0, got 0",
    ),
    (
        lambda r: _services(r)["pension_payout"]["employee_pension"].update(batch_time="09:00"),
        "services.pension_payout.employee_pension.batch_time",
        "must be before deadline (28800s)",
    ),
    (
        lambda r: [_services(r)["pension_payout"].pop(k) for k in
                   ("employee_pension", "resident_pension", "unemployment_benefit")],
        "services.pension_payout",
        "give at least one of employee_pension, resident_pension, unemployment_benefit",
    ),
    (
        lambda r: _services(r)["library"]["opening_hours"].update(closes="08:00"),
        "services.library.opening_hours.closes",
        "must be after opens (32400s), got 28800s",
    ),
    (
        lambda r: _services(r)["library"]["interconnection"].update(provinces=["CQ", "CQ"],
                                                                    libraries={"CQ": 43}),
        "services.library.interconnection.provinces",
        "needs at least two distinct province ids",
    ),
    (
        lambda r: _services(r)["library"]["interconnection"]["libraries"].update(GD=1),
        "services.library.interconnection.libraries.GD",
        "not one of interconnection.provinces",
    ),
    (
        lambda r: _services(r)["library"]["interconnection"].update(provinces=["SC", "QQ"],
                                                                    libraries={}),
        "services.library.interconnection.provinces",
        "unknown province(s) QQ",
    ),
    (
        lambda r: _services(r)["library"]["libraries"]["provinces"].update(XY=4),
        "services.library.libraries.provinces.XY",
        "unknown province",
    ),
    (
        lambda r: _services(r)["library"].update(profile="lunchtime"),
        "services.library.profile",
        "unknown profile 'lunchtime'",
    ),
    (
        lambda r: _services(r)["library"].update(profile=[1.0] * 6 + [0.0] * 18),
        "services.library.opening_hours",
        "the profile has no demand within the opening hours",
    ),
    (
        lambda r: _services(r)["transit"].update(upload_every="0s"),
        "services.transit.upload_every",
        "must be > 0, got 0",
    ),
    (
        lambda r: _services(r)["transit"]["stations"].update(per_province=10),
        "services.transit.stations.per_province",
        "give exactly one of 'per_province' and 'total'",
    ),
    (
        lambda r: r["policy"]["default"].update(library={"ratio": 0.5}),
        "policy.default.library",
        "not a medical service of this scenario",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "path", "message"), CASES, ids=[c[1] for c in CASES])
def test_each_rule_is_reported_at_its_path(edit: Edit, path: str, message: str) -> None:
    """One broken key gives one problem, at its path, saying what is wrong."""
    raw = baseline()
    edit(raw)
    problems = problems_of(raw)
    assert len(problems) == 1, problems
    assert problems[0][0] == path
    assert message in problems[0][1]


def test_non_medical_services_need_no_policy() -> None:
    """A scenario of libraries, transit and payout alone has no policy section at all."""
    raw = baseline()
    for name in ("medical_outpatient", "medical_inpatient", "pharmacy"):
        raw["services"].pop(name)
    raw.pop("policy")
    assert problems_of(raw) == []

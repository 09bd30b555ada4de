"""Tests for sim.scenario: loading, validation messages, overrides, writing back."""

# Assertions read `expected == actual` (STYLE.md section 6), which SIM300 calls Yoda style.

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from sim.scenario import (
    ScenarioError,
    apply_overrides,
    dump_scenario,
    load_scenario,
    parse_scenario,
)
from sim.scenario.codec import Problem
from sim.scenario.loader import read_yaml
from sim.scenario.schema import (
    Constant,
    Exponential,
    Lognormal,
    PerHolderPerDay,
    PerHolderPerYear,
    PolicyRule,
    Scenario,
    Uniform,
)
from tests.conftest import SCENARIOS

MINIMAL = """\
name: minimal
start: 2024-03-12T00:00:00+08:00
horizon: 1h
services:
  pharmacy:
    rate: {per_holder_per_year: 1.4}
    amount: {lognormal: {mean: 90 yuan, cv: 0.8}}
    points: {total: 500000, capacity: 1, service_time: {exponential: {mean: 60s}}}
policy:
  default:
    pharmacy: {ratio: 0.5}
"""


@pytest.fixture
def raw() -> dict[str, Any]:
    """The smallest valid scenario, as parsed YAML (a fresh copy per test)."""
    data: dict[str, Any] = yaml.safe_load(MINIMAL)
    return data


def problems_of(raw: Any) -> list[tuple[str, str]]:
    """(path, message) of every problem parse_scenario finds; [] when it loads."""
    try:
        parse_scenario(raw)
    except ScenarioError as exc:
        return [(p.path, p.message) for p in exc.problems]
    return []


def file_problems(tmp_path: Path, text: str, **kwargs: Any) -> list[tuple[str, str]]:
    """(path, message) of every problem load_scenario finds in a file with ``text``."""
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, **kwargs)
    assert str(path) == info.value.source
    return [(p.path, p.message) for p in info.value.problems]


# --- shipped scenarios ---------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_load(path: Path) -> None:
    """Every scenario file in scenarios/ loads and validates."""
    scenario = load_scenario(path)
    assert isinstance(scenario, Scenario)
    assert scenario.services.enabled()


def test_smoke_scenario_values(smoke: Scenario) -> None:
    """Units in the smoke file are resolved: seconds, fen, per-holder rates, overrides."""
    assert "smoke" == smoke.name
    assert dt.datetime(2024, 3, 12, 0, 0, tzinfo=dt.UTC) == smoke.start
    assert 7200.0 == smoke.horizon
    assert 600.0 == smoke.warmup
    assert 1e-4 == smoke.scale
    inpatient = smoke.services.medical_inpatient
    assert inpatient is not None
    assert PerHolderPerYear(0.22) == inpatient.rate
    assert Lognormal(1_200_000.0, 1.2) == inpatient.amount
    assert Exponential(300.0) == inpatient.points.service_time
    assert Lognormal(0.4, 0.5) == inpatient.settlement.service_time
    assert 80000 == inpatient.points.total
    assert None is inpatient.points.per_province
    assert PolicyRule(0.85, deductible=130_000, ceiling=50_000_000) == smoke.policy.rule(
        "BJ", "medical_inpatient"
    )
    assert PolicyRule(0.7, deductible=80_000, ceiling=30_000_000) == smoke.policy.rule(
        "GD", "medical_inpatient"
    )
    assert PolicyRule(0.5) == smoke.policy.rule("BJ", "pharmacy")
    assert 0.5 == smoke.network.retry.backoff
    assert 60.0 == smoke.outputs.sample_every


def test_minimal_scenario_gets_defaults(raw: dict[str, Any]) -> None:
    """Keys left out take their documented defaults."""
    scenario = parse_scenario(raw)
    assert 0 == scenario.seed
    assert 0.0 == scenario.warmup
    assert 1e-3 == scenario.scale
    assert "builtin:2020" == scenario.provinces
    assert None is scenario.population.holders
    assert 3.0 == scenario.network.timeout
    assert ["pharmacy"] == list(scenario.services.enabled())
    assert "office_hours" == scenario.services.enabled()["pharmacy"].profile


def test_rate_per_holder_per_day_conversions() -> None:
    """Both rate kinds give the per-holder daily rate demand uses."""
    assert 1.0 == PerHolderPerYear(365.0).per_holder_per_day
    assert 0.25 == PerHolderPerDay(0.25).per_holder_per_day


def test_every_distribution_kind_parses(raw: dict[str, Any]) -> None:
    """Each distribution kind is read with the unit of the field that holds it."""
    service = raw["services"]["pharmacy"]
    service["amount"] = {"uniform": {"low": "1 yuan", "high": "¥2.50"}}
    service["points"]["service_time"] = {"constant": "90s"}
    service["settlement"] = {"service_time": {"gamma": {"mean": "250ms", "cv": 2}}}
    pharmacy = parse_scenario(raw).services.pharmacy
    assert pharmacy is not None
    assert Uniform(100.0, 250.0) == pharmacy.amount
    assert Constant(90.0) == pharmacy.points.service_time
    assert 0.25 == pharmacy.settlement.service_time.mean  # type: ignore[union-attr]


def test_profile_may_be_24_weights(raw: dict[str, Any]) -> None:
    """A profile written as 24 numbers is kept as a tuple of floats."""
    raw["services"]["pharmacy"]["profile"] = list(range(1, 25))
    pharmacy = parse_scenario(raw).services.pharmacy
    assert pharmacy is not None
    assert tuple(float(i) for i in range(1, 25)) == pharmacy.profile


def test_numeric_strings_and_count_words(raw: dict[str, Any]) -> None:
    """YAML 1.1 reads 1.0e-3 without a dot as text; numbers and counts still accept it."""
    raw["scale"] = "1e-3"
    raw["population"] = {"holders": "1.38 billion"}
    scenario = parse_scenario(raw)
    assert 1e-3 == scenario.scale
    assert 1.38e9 == scenario.population.holders


def test_large_seed_is_kept_exactly(raw: dict[str, Any]) -> None:
    """Integers beyond 2**53 are not rounded through float (a seed must be exact)."""
    raw["seed"] = 2**64 + 1
    assert 2**64 + 1 == parse_scenario(raw).seed
    raw["seed"] = "18446744073709551617"
    assert 2**64 + 1 == parse_scenario(raw).seed


def test_whole_float_accepted_for_integer(raw: dict[str, Any]) -> None:
    """An integer key accepts 3.0 (a whole number) as 3."""
    raw["seed"] = 3.0
    seed = parse_scenario(raw).seed
    assert 3 == seed
    assert isinstance(seed, int)


def test_scenario_is_frozen_and_evolvable(raw: dict[str, Any]) -> None:
    """Scenarios are immutable; variants are made with attrs.evolve."""
    scenario = parse_scenario(raw)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        scenario.seed = 5  # type: ignore[misc]
    variant = attrs.evolve(scenario, seed=5)
    assert (0, 5) == (scenario.seed, variant.seed)


def test_scenario_mappings_are_frozen_too() -> None:
    """No mapping inside a scenario can be changed, so a scenario is hashable.

    ``s.population.inflow['GD'] = 99`` used to stick, and ``hash(s)`` raised.
    """
    import copy
    import pickle

    path = SCENARIOS / "baseline_weekday.yaml"
    scenario = load_scenario(path)
    with pytest.raises(TypeError, match="frozen"):
        scenario.population.inflow["GD"] = 99.0
    with pytest.raises(TypeError, match="frozen"):
        scenario.population.inflow.update(GD=99.0)
    assert hash(scenario) == hash(load_scenario(path))
    assert scenario == pickle.loads(pickle.dumps(scenario)) == copy.deepcopy(scenario)
    variant = attrs.evolve(
        scenario, population=attrs.evolve(scenario.population, inflow={"GD": 2.0})
    )
    assert {"GD": 2.0} == variant.population.inflow
    with pytest.raises(TypeError, match="frozen"):
        variant.population.inflow["GD"] = 3.0
    assert scenario == load_scenario(path)


def _mappings(obj: Any, path: str = "scenario") -> list[tuple[str, Any]]:
    """Every dict reachable from a scenario, with where it is."""
    found: list[tuple[str, Any]] = []
    if isinstance(obj, dict):
        found.append((path, obj))
        for key, value in obj.items():
            found += _mappings(value, f"{path}.{key}")
    elif isinstance(obj, tuple):
        for i, value in enumerate(obj):
            found += _mappings(value, f"{path}[{i}]")
    elif attrs.has(type(obj)):
        for field in attrs.fields(type(obj)):
            found += _mappings(getattr(obj, field.name), f"{path}.{field.name}")
    return found


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_mapping_in_a_scenario_refuses_changes(path: Path) -> None:
    """Each dict anywhere in a loaded scenario raises on assignment."""
    for where, mapping in _mappings(load_scenario(path)):
        with pytest.raises(TypeError, match="frozen"):
            mapping["x"] = 1
        assert "x" not in mapping, where


# --- problems, one kind at a time -------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "path", "message"),
    [
        (
            lambda r: r.update(horizn="1h"),
            "horizn",
            "unknown key (did you mean 'horizon'?)",
        ),
        (
            lambda r: r["services"]["pharmacy"]["points"].update(capcity=1),
            "services.pharmacy.points.capcity",
            "unknown key (did you mean 'capacity'?)",
        ),
        (
            lambda r: r["services"].update(pharmacie=None),
            "services.pharmacie",
            "unknown key (did you mean 'pharmacy'?)",
        ),
        (
            lambda r: r.update(network={"zzz": 1}),
            "network.zzz",
            "unknown key (known: provincial, national, card_platform, access, backbone, "
            "timeout, retry, load)",
        ),
        (lambda r: r.update(name=3), "name", "expected text, got 3"),
        (lambda r: r.update(seed="abc"), "seed", "expected a number, got 'abc'"),
        (lambda r: r.update(seed=1.5), "seed", "expected a whole number, got 1.5"),
        (lambda r: r.update(seed=True), "seed", "expected a number, got True"),
        (lambda r: r.update(seed=-1), "seed", "must be ≥ 0, got -1"),
        (
            lambda r: r.update(outputs={"transactions": "yes"}),
            "outputs.transactions",
            "expected true or false, got 'yes'",
        ),
        (
            lambda r: r["services"].update(pharmacy=[1]),
            "services.pharmacy",
            "expected a mapping of keys, got [1]",
        ),
        (
            lambda r: r["services"]["pharmacy"].update(rate={"per_holder_per_year": -1}),
            "services.pharmacy.rate.per_holder_per_year",
            "must be ≥ 0, got -1",
        ),
        (
            lambda r: r["services"]["pharmacy"]["points"].update(capacity=0),
            "services.pharmacy.points.capacity",
            "must be ≥ 1, got 0",
        ),
        (
            lambda r: r.update(network={"retry": {"max": -1}}),
            "network.retry.max",
            "must be ≥ 0, got -1",
        ),
        (
            lambda r: r.update(population={"ecard_share": 1.5}),
            "population.ecard_share",
            "must be between 0 and 1, got 1.5",
        ),
        (lambda r: r.update(scale=0), "scale", "must be > 0, got 0"),
        (lambda r: r.update(scale=2), "scale", "must be between 0 and 1, got 2"),
        (
            lambda r: r["policy"].update(provinces={"XX": {"pharmacy": {"ratio": 0.5}}}),
            "policy.provinces.XX",
            "unknown province (known: AH, BJ, CQ, FJ, GD, GS, GX, GZ, HA, HB, HE, HI, HL, HN, "
            "JL, JS, JX, LN, NM, NX, QH, SC, SD, SH, SN, SX, TJ, XJ, XZ, YN, ZJ)",
        ),
        (
            lambda r: r["policy"].update(provinces={"BJ": {"medical_inpatient": {"ratio": 0.5}}}),
            "policy.provinces.BJ.medical_inpatient",
            "not a medical service of this scenario",
        ),
        (
            lambda r: r.update(horizon="1 fortnight"),
            "horizon",
            "expected a duration such as '500ms', '90s', '15min', '2h' or '1d', got '1 fortnight'",
        ),
        (
            lambda r: r.update(horizon=3600),
            "horizon",
            "expected a duration with a unit such as '90s' or '15min', got 3600",
        ),
        (
            lambda r: r["policy"]["default"]["pharmacy"].update(deductible="8.005 yuan"),
            "policy.default.pharmacy.deductible",
            "money finer than one fen: '8.005 yuan'",
        ),
        (
            lambda r: r["policy"]["default"]["pharmacy"].update(ceiling="800"),
            "policy.default.pharmacy.ceiling",
            "expected money such as '800 yuan', '35 fen' or '¥8.50', got '800'",
        ),
        (
            lambda r: r["policy"]["default"]["pharmacy"].update(deductible="-1 yuan"),
            "policy.default.pharmacy.deductible",
            "must be ≥ 0, got -100",
        ),
        (lambda r: r.pop("name"), "name", "required key is missing"),
        (lambda r: r.pop("horizon"), "horizon", "required key is missing"),
        (
            lambda r: r["services"]["pharmacy"].pop("points"),
            "services.pharmacy.points",
            "required key is missing",
        ),
        (
            lambda r: r["services"]["pharmacy"]["amount"]["lognormal"].pop("cv"),
            "services.pharmacy.amount.lognormal.cv",
            "required key is missing",
        ),
        (
            lambda r: r.update(start=dt.datetime(2024, 3, 12)),
            "start",
            "needs a time zone offset, e.g. 2024-03-12T00:00:00+08:00",
        ),
        (
            lambda r: r.update(start="2024-03-12T00:00:00"),
            "start",
            "needs a time zone offset, e.g. 2024-03-12T00:00:00+08:00",
        ),
        (
            lambda r: r.update(start=dt.date(2024, 3, 12)),
            "start",
            "expected a date-time such as 2024-03-12T00:00:00+08:00, "
            "got datetime.date(2024, 3, 12)",
        ),
        (
            lambda r: r["services"]["pharmacy"].update(
                amount={"lognormel": {"mean": "1 yuan", "cv": 1}}
            ),
            "services.pharmacy.amount",
            "unknown kind 'lognormel' (did you mean 'lognormal'?) "
            "(known: exponential, lognormal, gamma, uniform, constant)",
        ),
        (
            lambda r: r["services"]["pharmacy"].update(amount=5),
            "services.pharmacy.amount",
            "expected one of {exponential, lognormal, gamma, uniform, constant} "
            "as a one-key mapping, got 5",
        ),
        (
            lambda r: r["services"]["pharmacy"].update(
                amount={"uniform": {"low": "5 yuan", "high": "1 yuan"}}
            ),
            "services.pharmacy.amount.uniform.high",
            "must be ≥ low (500), got 100",
        ),
        (
            lambda r: r["services"]["pharmacy"].update(amount={"exponential": {"mean": "0 yuan"}}),
            "services.pharmacy.amount.exponential.mean",
            "must be > 0, got 0",
        ),
        (
            lambda r: r["services"]["pharmacy"]["points"].update(
                service_time={"exponential": {"mean": "5 yuan"}}
            ),
            "services.pharmacy.points.service_time.exponential.mean",
            "expected a duration such as '500ms', '90s', '15min', '2h' or '1d', got '5 yuan'",
        ),
        (
            lambda r: r["services"]["pharmacy"].update(profile="nightly"),
            "services.pharmacy.profile",
            "unknown profile 'nightly' (known: banking, flat, inpatient_discharge, library, "
            "office_hours, retail, transit_rush)",
        ),
        (
            lambda r: r["services"]["pharmacy"].update(profile=[1] * 23),
            "services.pharmacy.profile",
            "needs 24 hourly weights, got 23",
        ),
        (
            lambda r: r["services"]["pharmacy"].update(profile=[0] * 24),
            "services.pharmacy.profile",
            "weights must be ≥ 0 and not all zero",
        ),
        (
            lambda r: r["services"]["pharmacy"].update(profile=5),
            "services.pharmacy.profile",
            "expected a name or a list, got 5",
        ),
        (
            lambda r: r["services"]["pharmacy"]["points"].update(per_province=3),
            "services.pharmacy.points.per_province",
            "give exactly one of 'per_province' and 'total'",
        ),
        (lambda r: r.update(warmup="2h"), "warmup", "must be shorter than horizon (3600s)"),
        (
            lambda r: r.update(provinces="builtin:1990"),
            "provinces",
            "unknown province table 'builtin:1990' (known: builtin:2020)",
        ),
        (
            lambda r: r.update(outputs={"sample_every": "1ms"}),
            "outputs.sample_every",
            "too fine: 3600000 samples over the horizon (max 1000000)",
        ),
        (
            lambda r: r["services"].update(pharmacy=None),
            "services",
            "no service enabled: add at least one of medical_outpatient, medical_inpatient, "
            "pharmacy, library, transit, pension_payout, card_desk",
        ),
        (
            lambda r: r["policy"]["default"].pop("pharmacy"),
            "policy.default.pharmacy",
            "missing: services.pharmacy needs a reimbursement rule",
        ),
        (
            lambda r: r["policy"]["default"].update(medical_inpatient={"ratio": 0.5}),
            "policy.default.medical_inpatient",
            "not a medical service of this scenario",
        ),
        (
            lambda r: r["services"]["pharmacy"].update(
                rate={"per_holder_per_year": 1, "per_holder_per_day": 1}
            ),
            "services.pharmacy.rate",
            "expected one of {per_holder_per_year, per_holder_per_day, per_point_per_hour} as a "
            "one-key mapping, "
            "got {'per_holder_per_year': 1, 'per_holder_per_day': 1}",
        ),
    ],
)
def test_each_kind_of_problem_is_reported_at_its_path(
    raw: dict[str, Any], edit: Any, path: str, message: str
) -> None:
    """One bad value gives exactly one problem, under the key path, with a plain message."""
    edit(raw)
    assert [(path, message)] == problems_of(raw)


def test_omitted_services_is_refused(raw: dict[str, Any]) -> None:
    """Leaving out 'services' altogether is refused like an empty services map."""
    del raw["services"], raw["policy"]
    assert [
        (
            "services",
            "no service enabled: add at least one of medical_outpatient, medical_inpatient, "
            "pharmacy, library, transit, pension_payout, card_desk",
        )
    ] == problems_of(raw)


def test_several_problems_are_all_listed(raw: dict[str, Any]) -> None:
    """Every independent problem is reported (unknown keys first, then schema order)."""
    raw["name"] = 3
    raw["horizn"] = raw.pop("horizon")
    raw["services"]["pharmacy"]["points"]["capacity"] = 0
    raw["services"]["pharmacy"]["amount"] = {"lognormal": {"mean": "1.001 yuan", "cv": -1}}
    raw["network"] = {"timeout": "0s"}
    assert [
        ("horizn", "unknown key (did you mean 'horizon'?)"),
        ("name", "expected text, got 3"),
        ("horizon", "required key is missing"),
        ("services.pharmacy.amount.lognormal.mean", "money finer than one fen: '1.001 yuan'"),
        ("services.pharmacy.amount.lognormal.cv", "must be > 0, got -1"),
        ("services.pharmacy.points.capacity", "must be ≥ 1, got 0"),
        ("network.timeout", "must be > 0, got 0"),
    ] == problems_of(raw)


def test_report_lists_every_problem_under_the_source(raw: dict[str, Any]) -> None:
    """The exception text names the source and puts each problem on its own line."""
    raw["scale"] = 0
    raw["seed"] = "x"
    with pytest.raises(ScenarioError) as info:
        parse_scenario(raw, "my.yaml")
    assert (
        "my.yaml: 2 problem(s)\n  seed: expected a number, got 'x'\n  scale: must be > 0, got 0"
    ) == str(info.value)


def test_problem_without_path_prints_message_only() -> None:
    """A problem about the whole file has no path prefix."""
    assert "file not found" == str(Problem("", "file not found"))
    assert "a.b: bad" == str(Problem("a.b", "bad"))


# --- reading files ---------------------------------------------------------------------


def test_load_minimal_file(tmp_path: Path) -> None:
    """A valid file loads into a Scenario."""
    path = tmp_path / "ok.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert "minimal" == load_scenario(path).name


def test_yaml_syntax_error_gives_line(tmp_path: Path) -> None:
    """A YAML syntax error is reported with its line and column."""
    text = MINIMAL.replace("horizon: 1h", "horizon: [1h")
    assert [
        ("", "YAML syntax error at line 4, column 9: expected ',' or ']', but got ':'")
    ] == file_problems(tmp_path, text)


def test_bad_indentation_gives_line(tmp_path: Path) -> None:
    """Misindented keys are a syntax error on the offending line."""
    assert [
        ("", "YAML syntax error at line 2, column 7: mapping values are not allowed here")
    ] == file_problems(tmp_path, "name: x\n  seed: 3\n")


def test_duplicate_key_is_refused(tmp_path: Path) -> None:
    """A key written twice in one mapping is refused (YAML would keep the last silently)."""
    text = MINIMAL + "name: again\n"
    assert [
        ("", "YAML syntax error at line 12, column 1: duplicate key 'name' (line 12)")
    ] == file_problems(tmp_path, text)


def test_duplicate_nested_key_is_refused(tmp_path: Path) -> None:
    """Duplicates are found in nested and flow mappings too."""
    text = MINIMAL.replace("{ratio: 0.5}", "{ratio: 0.5, ratio: 0.6}")
    assert [
        ("", "YAML syntax error at line 11, column 28: duplicate key 'ratio' (line 11)")
    ] == file_problems(tmp_path, text)


def test_merge_keys_may_be_overridden() -> None:
    """A key merged in with '<<' may be overridden; that is not a duplicate."""
    text = "base: &b {servers: 4, x: 1}\nnational: {<<: *b, servers: 8}\n"
    assert {"servers": 8, "x": 1} == read_yaml(text, "t")["national"]


def test_unhashable_key_is_a_problem_not_a_crash() -> None:
    """A complex (list) key is reported as a YAML problem."""
    with pytest.raises(ScenarioError) as info:
        read_yaml("? [1, 2]\n: x\n", "t")
    assert "found unhashable key" in info.value.problems[0].message


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file_is_refused(tmp_path: Path, text: str) -> None:
    """An empty file (or only comments) is refused with a plain message."""
    assert [("", "expected a mapping of keys, got an empty file")] == file_problems(tmp_path, text)


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("just text\n", "str")])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    """A file whose top level is not a mapping is refused, naming what it is."""
    assert [("", f"expected a mapping of keys, got {kind}")] == file_problems(tmp_path, text)


def test_missing_file(tmp_path: Path) -> None:
    """A path that does not exist gives a ScenarioError, not a traceback."""
    path = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert (str(path), (Problem("", "file not found"),)) == (
        info.value.source,
        info.value.problems,
    )


def test_directory_instead_of_file(tmp_path: Path) -> None:
    """A folder is reported as a folder, with what to write instead."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path)
    assert info.value.problems[0].message.startswith("is a folder, not a scenario file")


def test_non_utf8_file(tmp_path: Path) -> None:
    """A file that is not UTF-8 is reported as unreadable."""
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.problems[0].message.startswith("cannot read file:")


def test_naive_datetime_in_file(tmp_path: Path) -> None:
    """A start without a time zone offset is refused (YAML reads it as a naive datetime)."""
    text = MINIMAL.replace("2024-03-12T00:00:00+08:00", "2024-03-12T00:00:00")
    assert [
        ("start", "needs a time zone offset, e.g. 2024-03-12T00:00:00+08:00")
    ] == file_problems(tmp_path, text)


def test_aware_datetime_in_file_keeps_offset(tmp_path: Path) -> None:
    """YAML timestamps with an offset become aware datetimes at that offset."""
    path = tmp_path / "s.yaml"
    path.write_text(MINIMAL.replace("+08:00", "+05:30"), encoding="utf-8")
    start = load_scenario(path).start
    assert dt.timedelta(hours=5, minutes=30) == start.utcoffset()
    assert (0, 0) == (start.hour, start.minute)


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object:os.system x",
        "!!python/object/apply:os.system ['echo unsafe']",
        "!!python/name:os.system ''",
    ],
)
def test_python_tags_are_refused(tmp_path: Path, tag: str) -> None:
    """Files are read with a safe loader: Python object tags are never constructed."""
    problems = file_problems(tmp_path, MINIMAL.replace("name: minimal", f"name: {tag}"))
    assert 1 == len(problems)
    path, message = problems[0]
    assert "" == path
    assert message.startswith("YAML syntax error at line 1, column 7: could not determine")


# --- overrides and seed --------------------------------------------------------------------


def test_override_nested_value(raw: dict[str, Any]) -> None:
    """A dotted key replaces one nested value; the input mapping is left untouched."""
    changed = apply_overrides(raw, ["services.pharmacy.points.capacity=3"])
    assert 3 == changed["services"]["pharmacy"]["points"]["capacity"]
    assert 1 == raw["services"]["pharmacy"]["points"]["capacity"]


def test_override_creates_missing_mappings(raw: dict[str, Any]) -> None:
    """Intermediate mappings that the file leaves out are created."""
    changed = apply_overrides(raw, ["network.retry.max=5"])
    assert {"retry": {"max": 5}} == changed["network"]
    assert 5 == parse_scenario(changed).network.retry.max


@pytest.mark.parametrize(
    ("item", "key", "value"),
    [
        ("seed=7", "seed", 7),
        ("scale=0.5", "scale", 0.5),
        ("outputs=false", "outputs", False),
        ("horizon=2h", "horizon", "2h"),
        ("name=a=b", "name", "a=b"),
        ("name=", "name", ""),
        ("x=null", "x", None),
        ("x={a: 1}", "x", {"a": 1}),
        ("x=[1, 2", "x", "[1, 2"),
        (" seed = 3", "seed", 3),
    ],
)
def test_override_value_is_read_as_yaml_scalar(
    raw: dict[str, Any], item: str, key: str, value: object
) -> None:
    """Values mean what they would in the file; text YAML cannot parse is kept as text."""
    assert value == apply_overrides(raw, [item])[key]


@pytest.mark.parametrize("item", ["seed", "=3", " =3"])
def test_override_bad_syntax(raw: dict[str, Any], item: str) -> None:
    """An override without 'key=' is refused under '--set'."""
    with pytest.raises(ScenarioError) as info:
        apply_overrides(raw, [item])
    assert [("--set", f"expected dotted.key=value, got {item!r}")] == [
        (p.path, p.message) for p in info.value.problems
    ]


def test_override_inside_a_scalar(raw: dict[str, Any]) -> None:
    """Setting a key inside a value that is not a mapping is refused, naming that value."""
    with pytest.raises(ScenarioError) as info:
        apply_overrides(raw, ["name.first=x", "services.pharmacy.rate.per_holder_per_year.x=1"])
    assert [
        ("name.first", "cannot set inside 'name': it is not a mapping"),
        (
            "services.pharmacy.rate.per_holder_per_year.x",
            "cannot set inside 'services.pharmacy.rate.per_holder_per_year': it is not a mapping",
        ),
    ] == [(p.path, p.message) for p in info.value.problems]


def test_later_override_wins(raw: dict[str, Any]) -> None:
    """Overrides apply in order."""
    assert 2 == apply_overrides(raw, ["seed=1", "seed=2"])["seed"]


def test_load_with_overrides_and_seed(tmp_path: Path) -> None:
    """load_scenario applies --set overrides, then the seed argument, then validates."""
    path = tmp_path / "s.yaml"
    path.write_text(MINIMAL + "seed: 1\n", encoding="utf-8")
    scenario = load_scenario(path, overrides=["horizon=2h", "seed=5"], seed=9)
    assert (7200.0, 9) == (scenario.horizon, scenario.seed)
    assert 5 == load_scenario(path, overrides=["seed=5"]).seed


def test_override_problem_is_validated(tmp_path: Path) -> None:
    """A bad value set by override is reported under its key, like one in the file."""
    assert [("services.pharmacy.points.capacity", "must be ≥ 1, got 0")] == file_problems(
        tmp_path, MINIMAL, overrides=["services.pharmacy.points.capacity=0"]
    )


def test_bad_seed_argument_is_validated(tmp_path: Path) -> None:
    """A negative seed given on the command line is refused before anything runs."""
    assert [("seed", "must be ≥ 0, got -3")] == file_problems(tmp_path, MINIMAL, seed=-3)


# --- writing back -------------------------------------------------------------------------


def test_dump_writes_units(smoke: Scenario) -> None:
    """The dumped form spells units out: seconds and fen, tagged distributions."""
    data = dump_scenario(smoke)
    inpatient = data["services"]["medical_inpatient"]
    assert "7200.0s" == data["horizon"]
    assert "2024-03-12T08:00:00+08:00" == data["start"]
    assert {"per_holder_per_year": 0.22} == inpatient["rate"]
    assert {"lognormal": {"mean": "1200000 fen", "cv": 1.2}} == inpatient["amount"]
    assert {"exponential": {"mean": "300.0s"}} == inpatient["points"]["service_time"]
    assert {"ratio": 0.5, "ratios": None, "deductible": "0 fen", "ceiling": None} == data[
        "policy"
    ]["default"]["pharmacy"]


def test_dump_of_shipped_scenarios_round_trips(smoke: Scenario) -> None:
    """The shipped scenarios survive dump → YAML text → load unchanged."""
    for path in sorted(SCENARIOS.glob("*.yaml")):
        scenario = load_scenario(path)
        text = yaml.safe_dump(dump_scenario(scenario))
        assert scenario == parse_scenario(read_yaml(text, path.name))


# --- keys for reduced scenarios: region, sites, per-point rates, queue limits --------


@pytest.mark.parametrize(
    ("edit", "path", "message"),
    [
        (lambda r: r.update(region=[]), "region",
         "must name at least one province (or be left out)"),
        (lambda r: r.update(region=["BJ", "TJ", "BJ"]), "region", "names BJ more than once"),
        (
            lambda r: r["services"]["pharmacy"].update(sites=[]),
            "services.pharmacy.sites",
            "must name at least one province (or be left out)",
        ),
        (
            lambda r: (r.update(region=["XZ"]),
                       r["services"]["pharmacy"].update(cross_province_share=0.1)),
            "services.pharmacy.cross_province_share",
            "must be 0 when only one province is simulated (see 'region')",
        ),
        (
            lambda r: r.update(region=["XZ"], population={"migrant_share": 0.1}),
            "population.migrant_share",
            "must be 0 when only one province is simulated (see 'region')",
        ),
        (
            lambda r: r["services"]["pharmacy"]["points"].update(queue_limit=-1),
            "services.pharmacy.points.queue_limit",
            "must be ≥ 0, got -1",
        ),
        (
            lambda r: r["services"]["pharmacy"].update(rate={"per_point_per_hour": -3}),
            "services.pharmacy.rate.per_point_per_hour",
            "must be ≥ 0, got -3",
        ),
    ],
)  # fmt: skip
def test_reduction_keys_report_problems_at_their_path(
    raw: dict[str, Any], edit: Any, path: str, message: str
) -> None:
    """Each bad region, sites, queue limit or per-point rate gives one problem at its path."""
    edit(raw)
    assert [(path, message)] == problems_of(raw)


def test_unknown_ids_in_region_and_sites_are_named(raw: dict[str, Any]) -> None:
    """An unknown region id, and a site outside the region, are reported by list position."""
    raw["region"] = ["SC", "XX"]
    raw["services"]["pharmacy"]["sites"] = ["CQ"]
    found = problems_of(raw)
    assert ["region[1]", "services.pharmacy.sites[0]"] == [path for path, _ in found]
    assert found[0][1].startswith("unknown province 'XX' (known: AH, BJ,")
    assert found[1][1] == "unknown simulated province 'CQ' (known: SC)"


def test_reduction_keys_load_and_round_trip(raw: dict[str, Any]) -> None:
    """region, sites, per_point_per_hour and queue_limit load as typed values and dump back."""
    raw["region"] = ["CQ", "SC"]
    raw["services"]["pharmacy"].update(sites=["SC"], rate={"per_point_per_hour": 40})
    raw["services"]["pharmacy"]["points"]["queue_limit"] = 0
    scenario = parse_scenario(raw)
    pharmacy = scenario.services.pharmacy
    assert pharmacy is not None
    assert ("CQ", "SC") == scenario.region
    assert ("SC",) == pharmacy.sites
    assert 40.0 == pharmacy.rate.value
    assert 0 == pharmacy.points.queue_limit
    assert scenario == parse_scenario(dump_scenario(scenario))
    assert parse_scenario(yaml.safe_load(MINIMAL)).region is None

"""Hostile and broken scenario input: each is refused with a problem, never a crash or a hang.

These are the cases the loader fuzz tests (``tests/property/test_loader_fuzz.py``)
found or guard against, pinned down one by one: YAML that would expand without
bound, values PyYAML cannot build, numbers too large to print or convert, odd
keys, dates past the calendar's end, and file names where data is expected.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sim.scenario import ScenarioError, apply_overrides, load_scenario, yaml_text
from tests.conftest import SCENARIOS

SMOKE = (SCENARIOS / "smoke.yaml").read_text(encoding="utf-8")


def problems(tmp_path: Path, text: str) -> list[tuple[str, str]]:
    """(path, message) of each problem found loading ``text`` from a file."""
    path = tmp_path / "input.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return [(p.path, p.message) for p in info.value.problems]


def with_line(key: str, value: str) -> str:
    """The smoke scenario with one top-level line replaced (or added)."""
    lines = [line for line in SMOKE.splitlines() if not line.startswith(f"{key}:")]
    return "\n".join([*lines, f"{key}: {value}"]) + "\n"


# --- YAML that must not expand --------------------------------------------------------------


def billion_laughs(levels: int = 9) -> str:
    """Nine levels of nine aliases each: 9**9 (387 million) strings if expanded."""
    lines = ['a0: &a0 "lol"']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nname: *a{levels - 1}\n"


def test_billion_laughs_is_refused_at_once(tmp_path: Path) -> None:
    """Aliases are counted as the values they stand for, before anything is built."""
    started = time.perf_counter()
    found = problems(tmp_path, billion_laughs())
    assert time.perf_counter() - started < 2.0
    [(path, message)] = found
    assert "" == path
    assert message.startswith("YAML refused at line ")
    assert f"more than {yaml_text.MAX_VALUES} values once aliases are expanded" in message


def test_a_few_aliases_are_still_fine(tmp_path: Path) -> None:
    """Anchors and aliases themselves are allowed: a shared distribution loads."""
    text = SMOKE.replace(
        "provincial: {servers: 4, service_time: {exponential: {mean: 25ms}}}",
        "provincial: {servers: 4, service_time: &quick {constant: 25ms}}",
    ).replace("national: {servers: 8, service_time: {exponential: {mean: 10ms}}}",
              "national: {servers: 8, service_time: *quick}")  # fmt: skip
    network = load_scenario(_write(tmp_path, text)).network
    assert network.provincial.service_time == network.national.service_time


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &a [*a]\n", "alias *a refers to a value that contains it"),
        ("a: &a {b: *a}\n", "alias *a refers to a value that contains it"),
        ("a: " + "[" * 100 + "]" * 100 + "\n", "nested deeper than 64 levels"),
    ],
    ids=["recursive list", "recursive mapping", "deep nesting"],
)
def test_self_reference_and_deep_nesting_are_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    """A value containing itself, or nested past any schema, is refused by the reader."""
    [(path, found)] = problems(tmp_path, text)
    assert ("", True) == (path, found.endswith(message))


def test_oversized_file_is_not_read_whole(tmp_path: Path) -> None:
    """A file larger than any scenario (a log, a device) is refused after a bounded read."""
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * yaml_text.MAX_BYTES + b"\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.problems[0].message.startswith("file larger than")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_endless_device_is_refused() -> None:
    """/dev/zero as a scenario ends in a problem, not an endless read."""
    with pytest.raises(ScenarioError) as info:
        load_scenario("/dev/zero")
    assert info.value.problems[0].message.startswith("file larger than")


def test_override_value_is_bounded_too(smoke_path: Path) -> None:
    """An alias bomb given to --set is not expanded: it stays text, then fails validation."""
    bomb = billion_laughs().replace("\n", " ")
    raw = apply_overrides({"name": "x"}, [f"description={bomb}"])
    assert isinstance(raw["description"], str)


# --- values PyYAML cannot build ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "path", "message"),
    [
        ("2024-13-45", "start", "expected a date-time such as 2024-03-12T00:00:00+08:00"),
        ("2024-02-30T08:00:00+08:00", "start", "expected a date-time such as"),
        ("2024-03-12T08:00:00+99:00", "start", "expected a date-time such as"),
        ("!!int ''", "start", "expected a date-time such as"),
        ("!!bool maybe", "start", "expected a date-time such as"),
    ],
)
def test_unbuildable_scalars_are_reported_at_their_key(
    tmp_path: Path, value: str, path: str, message: str
) -> None:
    """A scalar that matches YAML's pattern but cannot be built is read as the text it is."""
    [(found_path, found)] = problems(tmp_path, with_line("start", value))
    assert (path, True) == (found_path, found.startswith(message))


@pytest.mark.parametrize("tag", ["!!timestamp nonsense", "!!float ''", "!!binary '@@@'"])
def test_explicit_tags_that_cannot_be_built_are_problems(tmp_path: Path, tag: str) -> None:
    """Explicit tags on unfit values: the written text (or bytes) reaches the key's reader."""
    [(path, message)] = problems(tmp_path, with_line("seed", tag))
    assert ("seed", True) == (path, message.startswith("expected a number, got "))


# --- numbers too large -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("seed", "0x" + "f" * 5000, "expected a whole number of at most 100 digits"),
        ("seed", "1" * 5000, "expected a whole number of at most 100 digits"),
        ("seed", "1.0e+308", "expected a whole number of at most 100 digits"),
        ("seed", "'" + "1" * 5000 + "'", "expected a whole number of at most 100 digits"),
        ("scale", "0x" + "f" * 300, "expected a finite number, got a 1200-bit integer"),
        ("name", "0x" + "f" * 5000, "expected text, got a 20000-bit integer"),
        ("horizon", "0x" + "f" * 5000, "expected a duration with a unit such as"),
    ],
)
def test_huge_numbers_are_refused_by_path(
    tmp_path: Path, key: str, value: str, message: str
) -> None:
    """Integers past what Python prints or a float holds are problems at their key."""
    [(path, found)] = problems(tmp_path, with_line(key, value))
    assert (key, True) == (path, found.startswith(message))


def test_count_words_beyond_float_range(tmp_path: Path) -> None:
    """'1e400 billion' holders is not infinity: it is refused as not finite."""
    text = SMOKE.replace("population:\n", "population:\n  holders: 1e400 billion\n")
    assert [("population.holders", "expected a finite number, got '1e400 billion'")] == problems(
        tmp_path, text
    )


# --- odd keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "shown"), [("~", "null"), ("3", "3"), ("yes", "true")])
def test_non_text_keys_are_named_as_written(tmp_path: Path, key: str, shown: str) -> None:
    """A key YAML reads as null, a number or a boolean is reported under a readable path."""
    assert [(shown, "unknown key")] == [
        (p, m.split(" (")[0]) for p, m in problems(tmp_path, SMOKE + f"{key}: 1\n")
    ]


def test_same_key_as_number_and_text(tmp_path: Path) -> None:
    """{1: 2.0, '1': 3.0} would collapse to one entry: it is refused instead of dropped."""
    text = SMOKE.replace("population:\n", "population:\n  inflow: {1: 2.0, '1': 3.0}\n")
    assert [("population.inflow.1", "written twice (as '1')")] == problems(tmp_path, text)


# --- the calendar's end --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "horizon"),
    [("9999-12-31T00:00:00+08:00", "2h"), ("2024-03-12T08:00:00+08:00", "1e300d")],
)
def test_run_must_end_before_the_calendar_does(tmp_path: Path, start: str, horizon: str) -> None:
    """start + horizon past the year 9000 is refused (the model counts years and months)."""
    text = with_line("horizon", horizon).replace("2024-03-12T08:00:00+08:00", start)
    assert ("horizon", "start + horizon must fall before the year 9000") in problems(
        tmp_path, text
    )


def test_clearing_period_too_fine(tmp_path: Path) -> None:
    """A clearing period of 1 ms over two hours (7.2 million nettings) is refused."""
    [(path, message)] = problems(tmp_path, SMOKE + "clearing: {period: 1ms}\n")
    assert ("clearing.period", True) == (path, message.startswith("too fine: 7200000 clearing"))


# --- scenario files are data ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["../../etc/passwd", "/etc/passwd", "file:///etc/passwd", "provinces.csv", "~/p.csv"],
)
def test_provinces_naming_a_file_is_refused(tmp_path: Path, value: str) -> None:
    """Scenario files name builtin tables only; a path or URL gets its own message."""
    found = problems(tmp_path, with_line("provinces", value))
    if "/" not in value and ":" not in value and "~" not in value:
        assert [("provinces", f"unknown province table {value!r} (known: builtin:2020)")] == found
        return
    assert [
        (
            "provinces",
            f"{value!r} looks like a file or URL: scenario files cannot name files to read; "
            "use a builtin table (builtin:2020)",
        )
    ] == found


_OPENED: list[str] | None = None


def _record_opens(event: str, args: tuple[Any, ...]) -> None:
    if _OPENED is not None and event == "open" and isinstance(args[0], str | Path):
        _OPENED.append(str(args[0]))


sys.addaudithook(_record_opens)


def test_loading_reads_no_file_the_scenario_names(tmp_path: Path) -> None:
    """Only the scenario file (and package data) is opened, whatever path a value holds.

    The named file exists and holds a valid province table, so only the loader's
    refusal to read it keeps it closed; the audit hook sees every ``open``.
    """
    global _OPENED
    table = tmp_path / "secret.csv"
    table.write_text((Path(__file__).parents[2] / "sim/data/provinces_2020.csv").read_text())
    scenario = tmp_path / "s.yaml"
    scenario.write_text(with_line("provinces", str(table)), encoding="utf-8")
    _OPENED = []
    try:
        with pytest.raises(ScenarioError):
            load_scenario(scenario)
        opened = list(_OPENED)
    finally:
        _OPENED = None
    assert str(scenario) in opened
    assert not [p for p in opened if "secret" in p]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ok.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- values that validate by type but would break the run ----------------------------------------


@pytest.mark.parametrize(
    ("override", "path", "message"),
    [
        ("services.pharmacy.amount={gamma: {mean: 90 yuan, cv: 1e-200}}",
         "services.pharmacy.amount.gamma.cv", "must be ≥ 1e-06, got 1e-200"),
        ("services.pharmacy.amount={lognormal: {mean: 90 yuan, cv: 1e200}}",
         "services.pharmacy.amount.lognormal.cv", "must be ≤ 100, got 1e+200"),
        ("services.pharmacy.amount={exponential: {mean: 1e15 yuan}}",
         "services.pharmacy.amount.exponential.mean",
         "at most 1000000000 yuan per transaction, got 1e+15 yuan"),
        ("services.pharmacy.amount={constant: 2e9 yuan}", "services.pharmacy.amount.constant",
         "at most 1000000000 yuan per transaction, got 2e+09 yuan"),
        ("services.transit={rate: {per_holder_per_day: 1}, fare: {constant: 2e9 yuan}, "
         "stations: {total: 1000, gates: 2, tap_time: {constant: 1s}}}",
         "services.transit.fare.constant",
         "at most 1000000000 yuan per transaction, got 2e+09 yuan"),
        ("clearing.advance.days=1e300", "clearing.advance.days", "must be ≤ 3660, got 1e+300"),
        ("services.pharmacy.profile=[" + ", ".join(["1e308"] * 24) + "]",
         "services.pharmacy.profile",
         "weights too large to add up; only their proportions matter"),
    ],
)  # fmt: skip
def test_values_that_would_overflow_the_run_are_refused(
    smoke_path: Path, override: str, path: str, message: str
) -> None:
    """Before these checks each validated, then ended the run in a traceback (found by hand:
    a gamma shape of 1/cv² dividing by zero, fen beyond int64, advance funds overflowing)."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(smoke_path, [override])
    assert [(path, message)] == [(p.path, p.message) for p in info.value.problems]


@pytest.mark.parametrize(
    ("override", "path"),
    [
        (
            "services.library.libraries.provinces={BJ: 1e40}",
            "services.library.libraries.provinces.BJ",
        ),
        ("network.national.servers=1e12", "network.national.servers"),
        ("services.pharmacy.points.capacity=99999999999", "services.pharmacy.points.capacity"),
        ("network.retry.max=1e15", "network.retry.max"),
    ],
)
def test_counts_beyond_a_billion_are_refused(override: str, path: str) -> None:
    """A count past 1e9 is a typo that would overflow int64 counts (found by the fuzz batch:
    a library override of 1e40 crashed validation itself)."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(SCENARIOS / "baseline_weekday.yaml", [override])
    [(found, message)] = [(p.path, p.message) for p in info.value.problems]
    assert (path, True) == (found, message.startswith("must be ≤ 1000000000, got "))


def test_more_holders_than_people_is_refused(smoke_path: Path) -> None:
    """population.holders above 1e10 is a typo that would overflow the holder counts."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(smoke_path, ["population.holders=1e300"])
    assert [("population.holders", "must be ≤ 1e+10, got 1e+300")] == [
        (p.path, p.message) for p in info.value.problems
    ]

"""Tests for sim.scenario.units: durations, money and counts as scenario files write them."""

# Assertions read `expected == actual` (STYLE.md section 6), which SIM300 calls Yoda style.

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.scenario import units
from sim.scenario.units import UnitError

# --- durations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("90s", 90.0),
        ("90sec", 90.0),
        ("1second", 1.0),
        ("2seconds", 2.0),
        ("15min", 900.0),
        ("1minute", 60.0),
        ("3minutes", 180.0),
        ("2h", 7200.0),
        ("1hour", 3600.0),
        ("4hours", 14400.0),
        ("1d", 86400.0),
        ("1day", 86400.0),
        ("2days", 172800.0),
        ("1w", 604800.0),
    ],
)
def test_parse_duration_every_unit(text: str, seconds: float) -> None:
    """Every duration unit, short and long form, converts to the right number of seconds."""
    assert seconds == units.parse_duration(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (" 2 h ", 7200.0),
        ("2H", 7200.0),
        ("1.5min", 90.0),
        (".5s", 0.5),
        ("1e3ms", 1.0),
        ("2.5e-1s", 0.25),
        ("+3s", 3.0),
    ],
)
def test_parse_duration_spacing_case_and_number_forms(text: str, seconds: float) -> None:
    """Spaces, upper case, decimals and exponents are read as written."""
    assert seconds == units.parse_duration(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("09:30", 9 * 3600 + 30 * 60),
        ("00:00", 0),
        ("9:05", 9 * 3600 + 5 * 60),
        ("23:59:59", 86399),
        ("24:00", 86400),
        ("48:00", 172800),
    ],
)
def test_parse_duration_clock_time(text: str, seconds: int) -> None:
    """'HH:MM' and 'HH:MM:SS' are read as seconds after midnight (up to 48 h)."""
    assert float(seconds) == units.parse_duration(text)


@pytest.mark.parametrize("text", ["09:60", "10:00:60", "49:00", "9:3a", "1:2:3:4", "-1:00", ":30"])
def test_parse_duration_refuses_bad_clock_time(text: str) -> None:
    """Clock times with out-of-range or non-digit fields are refused."""
    with pytest.raises(UnitError, match="clock time"):
        units.parse_duration(text)


@pytest.mark.parametrize("zero", [0, 0.0])
def test_parse_duration_bare_zero(zero: float) -> None:
    """A bare 0 needs no unit: zero seconds is zero in every unit."""
    assert 0.0 == units.parse_duration(zero)


@pytest.mark.parametrize("value", [90, 1.5, -3, "90", "1.5", True, False, None, [1]])
def test_parse_duration_refuses_bare_numbers_and_other_types(value: object) -> None:
    """A number without a unit (other than 0), or a non-string, is refused."""
    with pytest.raises(UnitError, match="duration"):
        units.parse_duration(value)


@pytest.mark.parametrize("text", ["90 parsecs", "2 hrs", "1m", "s", "1.2.3s", "", "1e999s"])
def test_parse_duration_refuses_unknown_units_and_garbage(text: str) -> None:
    """Unknown units ('m' is ambiguous), missing numbers and infinite values are refused."""
    with pytest.raises(UnitError):
        units.parse_duration(text)


def test_parse_duration_error_names_the_value() -> None:
    """The message shows what was written, so the user can find it."""
    with pytest.raises(UnitError) as info:
        units.parse_duration("2 fortnights")
    assert "'2 fortnights'" in str(info.value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_duration_round_trips(seconds: float) -> None:
    """parse_duration(format_duration(x)) == x for every finite float."""
    assert seconds == units.parse_duration(units.format_duration(seconds))


# --- money ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("800 yuan", 80000),
        ("12000 yuan", 1200000),
        ("35 fen", 35),
        ("¥8.50", 850),
        ("¥ 8.50", 850),
        ("8.5元", 850),
        ("7分", 7),
        ("0 yuan", 0),
        ("1e2 yuan", 10000),
        ("1.5e1 fen", 15),
        ("-3 yuan", -300),
        ("  42 fen  ", 42),
    ],
)
def test_parse_money_units(text: str, fen: int) -> None:
    """Yuan, fen, ¥ and the Chinese unit names all convert to integer fen."""
    actual = units.parse_money(text)
    assert fen == actual
    assert isinstance(actual, int)


@pytest.mark.parametrize(
    ("text", "fen"),
    [("0.1 yuan", 10), ("0.29 yuan", 29), ("1.13 yuan", 113), ("0.07 yuan", 7)],
)
def test_parse_money_is_decimal_exact(text: str, fen: int) -> None:
    """Amounts that binary floats cannot hold (0.29 * 100 = 28.999…) convert exactly."""
    assert fen == units.parse_money(text)


@pytest.mark.parametrize(
    "text",
    ["0.001 yuan", "0.5 fen", "¥0.015", "1.000000000000000000000000000001 yuan", "1e-99999 yuan"],
)
def test_parse_money_refuses_amounts_finer_than_a_fen(text: str) -> None:
    """Sub-fen amounts are refused, however many digits are written, not rounded."""
    with pytest.raises(UnitError, match="finer than one fen"):
        units.parse_money(text)


@pytest.mark.parametrize("text", ["1e400 yuan", "1e999999999 fen", "92233720368547758.08 yuan"])
def test_parse_money_refuses_amounts_beyond_int64(text: str) -> None:
    """Amounts that do not fit an int64 fen column are refused (not a crash or a hang)."""
    with pytest.raises(UnitError, match="out of range"):
        units.parse_money(text)


def test_parse_money_largest_amount() -> None:
    """The largest int64 amount is still accepted."""
    assert 2**63 - 1 == units.parse_money("92233720368547758.07 yuan")


def test_parse_money_bare_zero() -> None:
    """A bare integer 0 needs no unit."""
    assert 0 == units.parse_money(0)


@pytest.mark.parametrize(
    "value", [800, 8.5, 0.0, "800", "8.50", True, None, "800 dollars", "yuan"]
)
def test_parse_money_refuses_missing_or_unknown_unit(value: object) -> None:
    """Money without a unit (or ¥), and non-strings other than 0, are refused."""
    with pytest.raises(UnitError, match="money"):
        units.parse_money(value)


@given(st.integers(-(2**63) + 1, 2**63 - 1))
def test_format_money_round_trips(fen: int) -> None:
    """parse_money(format_money(x)) == x for every int64 amount."""
    assert fen == units.parse_money(units.format_money(fen))


@given(st.integers(0, 10**12), st.integers(0, 99))
def test_parse_money_yuan_with_two_decimals(whole: int, cents: int) -> None:
    """'W.CC yuan' is exactly W * 100 + CC fen."""
    assert whole * 100 + cents == units.parse_money(f"{whole}.{cents:02d} yuan")


# --- numbers and counts -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "number"),
    [(3, 3.0), (0.5, 0.5), ("1.38e9", 1.38e9), (" 7 ", 7.0), ("-2.5", -2.5), (".5", 0.5)],
)
def test_parse_number(value: object, number: float) -> None:
    """Numbers and numeric strings (YAML 1.1 reads 1.38e9 as text) are read as floats."""
    assert number == units.parse_number(value)


@pytest.mark.parametrize("value", [True, None, "abc", "1,000", "1_000", math.inf, math.nan, "inf"])
def test_parse_number_refuses_non_numbers(value: object) -> None:
    """Booleans, text, separators and non-finite values are not numbers."""
    with pytest.raises(UnitError, match="number"):
        units.parse_number(value)


@pytest.mark.parametrize(
    ("value", "count"),
    [
        (1380000000, 1.38e9),
        ("1.38e9", 1.38e9),
        ("1.38 billion", 1.38e9),
        ("1.335 billion", 1.335e9),
        ("2 bn", 2e9),
        ("970 million", 9.7e8),
        ("5 M", 5e6),
        ("12 thousand", 12000.0),
        ("3k", 3000.0),
    ],
)
def test_parse_count_with_words(value: object, count: float) -> None:
    """Counts may be plain numbers, exponents or a number with a word."""
    assert count == units.parse_count(value)


@pytest.mark.parametrize("value", ["1.38 zillion", "many", "1.38 billion people", None])
def test_parse_count_refuses_unknown_words(value: object) -> None:
    """Words that are not multipliers are refused."""
    with pytest.raises(UnitError):
        units.parse_count(value)

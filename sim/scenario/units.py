"""Parsing and formatting of the units scenario files are written in.

Durations become float seconds (simulated time is seconds everywhere), money
becomes integer fen (money is never a float), and large counts may be written
with words ("1.38 billion"). Every parser raises :class:`UnitError` with a
message that says what was expected, so the scenario loader can report it
under the offending key.
"""

from __future__ import annotations

import decimal
import math
import re
from decimal import Decimal, InvalidOperation

__all__ = [
    "UnitError",
    "format_bytes",
    "format_duration",
    "format_money",
    "parse_bytes",
    "parse_count",
    "parse_duration",
    "parse_money",
    "parse_number",
    "show_value",
]


class UnitError(ValueError):
    """A value could not be read in the unit its key expects."""


def show_value(value: object) -> str:
    """A short rendering of a written value for a message, whatever the value is.

    Long text is cut, and an integer too long for Python to print in decimal
    (YAML reads ``0x`` followed by thousands of digits) is described instead.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"a {value.bit_length()}-bit integer"
    try:
        text = repr(value)
    except ValueError:  # a container holding such an integer
        return f"a {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."


_DURATION_UNITS = {
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "min": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
    "w": 7 * 86400.0,
}
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-z]+)\s*$")
_COUNT_WORDS = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "bn": 1e9,
}


def parse_number(value: object) -> float:
    """Read a plain number; numeric strings such as ``"1.38e9"`` are accepted.

    YAML 1.1 reads ``1.38e9`` (no dot, no exponent sign) as a string, and
    ``--set`` overrides arrive as strings, so both forms must work.
    """
    if isinstance(value, bool):
        raise UnitError(f"expected a number, got {show_value(value)}")
    if isinstance(value, int | float) or (
        isinstance(value, str) and re.fullmatch(rf"\s*{_NUMBER}\s*", value)
    ):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond the float range
            number = math.inf
    else:
        raise UnitError(f"expected a number, got {show_value(value)}")
    if not math.isfinite(number):
        raise UnitError(f"expected a finite number, got {show_value(value)}")
    return number


def parse_duration(value: object) -> float:
    """Read a duration such as ``"90s"``, ``"15min"``, ``"2h"``, ``"1d"`` into seconds.

    A bare ``0`` is accepted; any other bare number is refused, because a
    duration without a unit is the classic source of off-by-1000 mistakes.
    """
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        return 0.0
    if not isinstance(value, str):
        raise UnitError(
            f"expected a duration with a unit such as '90s' or '15min', got {show_value(value)}"
        )
    text = value.strip()
    if ":" in text:
        return _parse_clock(text)
    match = _QUANTITY.match(text)
    if not match or match.group(2).lower() not in _DURATION_UNITS:
        raise UnitError(
            "expected a duration such as '500ms', '90s', '15min', '2h' or '1d', "
            f"got {show_value(value)}"
        )
    seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()]
    if not math.isfinite(seconds):
        raise UnitError(f"duration is not finite: {show_value(value)}")
    return seconds


def _parse_clock(text: str) -> float:
    """Read ``HH:MM`` or ``HH:MM:SS`` as seconds since midnight."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise UnitError(f"expected a clock time 'HH:MM' or 'HH:MM:SS', got {show_value(text)}")
    hours, minutes = int(parts[0]), int(parts[1])
    seconds = int(parts[2]) if len(parts) == 3 else 0
    if minutes >= 60 or seconds >= 60 or hours > 48:
        raise UnitError(f"clock time out of range: {show_value(text)}")
    return float(hours * 3600 + minutes * 60 + seconds)


def format_duration(seconds: float) -> str:
    """Write seconds so that :func:`parse_duration` reads back the same float."""
    return f"{float(seconds)!r}s"


_MONEY = re.compile(rf"^\s*(?:¥\s*)?({_NUMBER})\s*(yuan|fen|元|分)?\s*$")
_MAX_FEN = 2**63 - 1
"""Amounts live in int64 columns; anything larger is a typo, not money."""
_EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
"""Arithmetic that neither rounds nor overflows, whatever exponent was written."""


def parse_money(value: object) -> int:
    """Read an amount such as ``"12000 yuan"``, ``"35 fen"`` or ``"¥8.50"`` into fen.

    Decimal arithmetic keeps ``"0.1 yuan"`` exactly 10 fen; an amount finer than
    one fen is refused rather than rounded silently.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return 0
    if not isinstance(value, str):
        raise UnitError(
            f"expected money with a unit such as '800 yuan' or '35 fen', got {show_value(value)}"
        )
    match = _MONEY.match(value)
    if not match or (match.group(2) is None and "¥" not in value):
        raise UnitError(
            f"expected money such as '800 yuan', '35 fen' or '¥8.50', got {show_value(value)}"
        )
    try:
        amount = Decimal(match.group(1))
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise UnitError(f"not a number: {show_value(value)}") from exc
    unit = match.group(2) or "yuan"
    fen = _EXACT.multiply(amount, 100) if unit in ("yuan", "元") else amount
    if fen.copy_abs() > _MAX_FEN:
        raise UnitError(f"money out of range (at most {_MAX_FEN} fen): {show_value(value)}")
    if fen != fen.to_integral_value(context=_EXACT):
        raise UnitError(f"money finer than one fen: {show_value(value)}")
    return int(fen)


def format_money(fen: int) -> str:
    """Write fen so that :func:`parse_money` reads back the same integer."""
    return f"{int(fen)} fen"


def parse_count(value: object) -> float:
    """Read a count such as ``1380000000``, ``"1.38e9"`` or ``"1.38 billion"``."""
    if isinstance(value, str):
        match = _QUANTITY.match(value)
        if match and match.group(2).lower() in _COUNT_WORDS:
            count = float(match.group(1)) * _COUNT_WORDS[match.group(2).lower()]
            if not math.isfinite(count):
                raise UnitError(f"expected a finite number, got {show_value(value)}")
            return count
    return parse_number(value)


_BYTE_UNITS = {
    "b": 1.0,
    "kb": 1e3,
    "mb": 1e6,
    "gb": 1e9,
    "tb": 1e12,
    "kib": 2.0**10,
    "mib": 2.0**20,
    "gib": 2.0**30,
    "tib": 2.0**40,
}


def parse_bytes(value: str) -> float:
    """Read a memory size such as ``"8GB"``, ``"512 MiB"`` or ``"2e9"`` (bytes) into bytes."""
    text = value.strip()
    if re.fullmatch(rf"{_NUMBER}|inf", text):
        number = float(text)
    else:
        match = _QUANTITY.match(text)
        if not match or match.group(2).lower() not in _BYTE_UNITS:
            raise UnitError(f"expected a size such as '8GB' or '512MiB', got {show_value(value)}")
        number = float(match.group(1)) * _BYTE_UNITS[match.group(2).lower()]
    if not number > 0:
        raise UnitError(f"expected a size > 0, got {show_value(value)}")
    return number


def format_bytes(size: float) -> str:
    """A size in bytes for people: ``"37.5 GB"``."""
    for unit, factor in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= factor:
            return f"{size / factor:.3g} {unit}"
    return f"{size:.0f} B"

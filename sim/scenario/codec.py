"""Turning parsed YAML into schema objects and back, with errors named by path.

``structure`` walks the schema's type annotations and the raw data together,
collecting every problem (``services.pharmacy.points.capacity: must be ≥ 1,
got 0``) instead of stopping at the first. ``unstructure`` writes the canonical
form (units spelled out) that ``structure`` reads back to an equal object, which
is what ``manifest.json`` stores.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

import attrs

from sim.scenario import units
from sim.scenario.units_types import (
    UNIT_DURATION,
    UNIT_MONEY,
    Count,
    DurationS,
    MoneyFen,
    Quantity,
)

__all__ = ["Problem", "structure", "unstructure"]


@attrs.frozen
class Problem:
    """One thing wrong with a scenario, at a dotted key path."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class _Invalid:
    """Marker for a value that could not be structured (its problems are recorded)."""


INVALID = _Invalid()


def join(path: str, key: object) -> str:
    """Extend a dotted path by one key (list items as ``[i]``)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """Resolved field annotations of a schema class (cached)."""
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _tagged(options: tuple[Any, ...]) -> dict[str, type] | None:
    """The tag → class table when every option is an attrs class with a TAG."""
    if options and all(attrs.has(o) and hasattr(o, "TAG") for o in options):
        return {o.TAG: o for o in options}
    return None


def structure(
    raw: Any, tp: Any, path: str, problems: list[Problem], unit: str | None = None
) -> Any:
    """Read ``raw`` as type ``tp``; append problems under ``path``; INVALID on failure."""
    try:
        return _structure(raw, tp, path, problems, unit)
    except units.UnitError as exc:
        problems.append(Problem(path, str(exc)))
        return INVALID


def _structure(raw: Any, tp: Any, path: str, problems: list[Problem], unit: str | None) -> Any:
    if _is_union(tp):
        return _structure_union(raw, typing.get_args(tp), path, problems, unit)
    if attrs.has(tp):
        return _structure_class(raw, tp, path, problems)
    scalar = _SCALARS.get(tp)
    if scalar is not None:
        return scalar(raw, unit)
    origin = typing.get_origin(tp)
    if origin is tuple:
        return _structure_tuple(raw, typing.get_args(tp), path, problems, unit)
    if origin is dict:
        return _structure_dict(raw, typing.get_args(tp)[1], path, problems, unit)
    raise TypeError(f"schema type {tp!r} at {path} has no reader")  # a bug, not bad input


def _structure_union(
    raw: Any, options: tuple[Any, ...], path: str, problems: list[Problem], unit: str | None
) -> Any:
    if raw is None and type(None) in options:
        return None
    options = tuple(o for o in options if o is not type(None))
    words = _literal_words(options)
    if words:
        # ``DurationS | Literal["auto"]``: a listed word, or else the one other option.
        if isinstance(raw, str) and raw in words:
            return raw
        options = tuple(o for o in options if typing.get_origin(o) is not typing.Literal)
        if len(options) == 1:
            before = len(problems)
            value = structure(raw, options[0], path, problems, unit)
            alternatives = " or ".join(repr(w) for w in words)
            for i in range(before, len(problems)):
                problem = problems[i]
                problems[i] = Problem(problem.path, f"{problem.message} (or {alternatives})")
            return value
    tags = _tagged(options)
    if tags is not None:
        return _structure_tagged(raw, tags, path, problems, unit)
    # Untagged unions (str | tuple[float, ...]) choose by the written value's kind.
    for option in options:
        if option is str and isinstance(raw, str):
            return raw
        if typing.get_origin(option) is tuple and isinstance(raw, list | tuple):
            return structure(raw, option, path, problems, unit)
        if attrs.has(option) and isinstance(raw, Mapping):
            return structure(raw, option, path, problems, unit)
    if len(options) == 1:
        return structure(raw, options[0], path, problems, unit)
    problems.append(Problem(path, f"expected {_describe(options)}, got {_show(raw)}"))
    return INVALID


def _literal_words(options: tuple[Any, ...]) -> list[str]:
    """The fixed words a union accepts through its ``Literal`` options."""
    return [
        word
        for option in options
        if typing.get_origin(option) is typing.Literal
        for word in typing.get_args(option)
    ]


def _structure_tagged(
    raw: Any, tags: dict[str, type], path: str, problems: list[Problem], unit: str | None
) -> Any:
    kinds = ", ".join(tags)
    if not isinstance(raw, Mapping) or len(raw) != 1:
        problems.append(
            Problem(path, f"expected one of {{{kinds}}} as a one-key mapping, got {_show(raw)}")
        )
        return INVALID
    ((tag, body),) = raw.items()
    cls = tags.get(tag)
    if cls is None:
        problems.append(
            Problem(
                path, f"unknown kind {_show(tag)}{_suggest(_key_text(tag), tags)} (known: {kinds})"
            )
        )
        return INVALID
    scalar = _scalar_field(cls)
    if scalar is not None and not isinstance(body, Mapping):
        # ``{per_holder_per_year: 0.17}``: the tag's value is the one field; report at the tag.
        value = structure(body, _hints(cls)[scalar.name], join(path, tag), problems, unit)
        if value is INVALID:
            return INVALID
        try:
            scalar.validator(None, scalar, value) if scalar.validator else None
        except ValueError as exc:
            problems.append(Problem(join(path, tag), str(exc)))
            return INVALID
        return cls(value)
    return _structure_class(body, cls, join(path, tag), problems, unit)


def _scalar_field(cls: type) -> attrs.Attribute[Any] | None:
    fields: tuple[attrs.Attribute[Any], ...] = attrs.fields(cls)
    if len(fields) == 1 and fields[0].metadata.get("scalar"):
        return fields[0]
    return None


def _structure_class(
    raw: Any, cls: type, path: str, problems: list[Problem], unit: str | None = None
) -> Any:
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, f"expected a mapping of keys, got {_show(raw)}"))
        return INVALID
    fields = {f.name: f for f in attrs.fields(cls)}
    before = len(problems)
    for key in raw:
        if key not in fields:
            name = _key_text(key)
            problems.append(Problem(join(path, name), f"unknown key{_known(name, fields)}"))
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for name, field in fields.items():
        if name not in raw:
            if field.default is attrs.NOTHING:
                problems.append(Problem(join(path, name), "required key is missing"))
            continue
        value = structure(
            raw[name], hints[name], join(path, name), problems, field.metadata.get("unit", unit)
        )
        if value is INVALID:
            continue
        if field.validator is not None:
            try:
                field.validator(None, field, value)
            except ValueError as exc:
                problems.append(Problem(join(path, name), str(exc)))
                continue
        values[name] = value
    if len(problems) > before:
        return INVALID
    obj = cls(**values)
    check = getattr(obj, "check", None)
    if check is not None:
        for sub, message in check():
            problems.append(Problem(join(path, sub) if sub else path, message))
    return INVALID if len(problems) > before else obj


def _structure_tuple(
    raw: Any, args: tuple[Any, ...], path: str, problems: list[Problem], unit: str | None
) -> Any:
    if not isinstance(raw, list | tuple):
        problems.append(Problem(path, f"expected a list, got {_show(raw)}"))
        return INVALID
    item_type = args[0]
    items = [structure(v, item_type, join(path, i), problems, unit) for i, v in enumerate(raw)]
    return INVALID if any(i is INVALID for i in items) else tuple(items)


def _structure_dict(
    raw: Any, value_type: Any, path: str, problems: list[Problem], unit: str | None
) -> Any:
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, f"expected a mapping, got {_show(raw)}"))
        return INVALID
    out = {}
    before = len(problems)
    for key, value in raw.items():
        name = _key_text(key)
        if name in out:
            problems.append(Problem(join(path, name), f"written twice (as {_show(key)})"))
            continue
        item = structure(value, value_type, join(path, name), problems, unit)
        if item is not INVALID:
            out[name] = item
    return out if len(problems) == before else INVALID


# --- scalars ---------------------------------------------------------------------


_MAX_DIGITS = 100
"""Longest whole number read: a seed of 2**332 still fits; Python refuses 4300 digits."""


def _read_int(raw: Any, _unit: str | None) -> int:
    too_long = units.UnitError(f"expected a whole number of at most {_MAX_DIGITS} digits")
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw  # exact: going through float would alter integers beyond 2**53
    elif isinstance(raw, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", raw):
        if len(raw.strip().lstrip("+-").lstrip("0")) > _MAX_DIGITS:
            raise too_long
        value = int(raw)
    else:
        number = units.parse_number(raw)
        if number != int(number):
            raise units.UnitError(f"expected a whole number, got {_show(raw)}")
        value = int(number)
    if abs(value) >= 10**_MAX_DIGITS:
        raise too_long
    return value


def _read_str(raw: Any, _unit: str | None) -> str:
    if not isinstance(raw, str):
        raise units.UnitError(f"expected text, got {_show(raw)}")
    return raw


def _read_bool(raw: Any, _unit: str | None) -> bool:
    if not isinstance(raw, bool):
        raise units.UnitError(f"expected true or false, got {_show(raw)}")
    return raw


def _read_datetime(raw: Any, _unit: str | None) -> dt.datetime:
    value = raw if isinstance(raw, dt.datetime) else None
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):
            value = dt.datetime.fromisoformat(raw)
    if value is None:
        raise units.UnitError(
            f"expected a date-time such as 2024-03-12T00:00:00+08:00, got {_show(raw)}"
        )
    if value.tzinfo is None:
        raise units.UnitError("needs a time zone offset, e.g. 2024-03-12T00:00:00+08:00")
    return value


def _read_quantity(raw: Any, unit: str | None) -> float:
    if unit == UNIT_DURATION:
        return units.parse_duration(raw)
    if unit == UNIT_MONEY:
        return float(units.parse_money(raw))
    return units.parse_number(raw)


_SCALARS: dict[Any, Any] = {
    int: _read_int,
    float: lambda raw, _u: units.parse_number(raw),
    str: _read_str,
    bool: _read_bool,
    dt.datetime: _read_datetime,
    DurationS: lambda raw, _u: units.parse_duration(raw),
    MoneyFen: lambda raw, _u: units.parse_money(raw),
    Count: lambda raw, _u: units.parse_count(raw),
    Quantity: _read_quantity,
}

# --- writing back ------------------------------------------------------------------


def unstructure(obj: Any, tp: Any = None, unit: str | None = None) -> Any:
    """The canonical plain-data form of a schema object (YAML/JSON-ready)."""
    if obj is None:
        return None
    if attrs.has(type(obj)):
        body = {
            f.name: unstructure(
                getattr(obj, f.name), _hints(type(obj))[f.name], f.metadata.get("unit", unit)
            )
            for f in attrs.fields(type(obj))
        }
        tag = getattr(type(obj), "TAG", None)
        if tag is None:
            return body
        scalar = _scalar_field(type(obj))
        return {tag: body[scalar.name] if scalar is not None else body}
    if _is_union(tp):
        tp = _union_branch(obj, typing.get_args(tp))
    if tp is DurationS or (tp is Quantity and unit == UNIT_DURATION):
        return units.format_duration(obj)
    if tp is MoneyFen or (tp is Quantity and unit == UNIT_MONEY):
        return units.format_money(int(obj))
    if isinstance(obj, dt.datetime):
        return obj.isoformat()
    if isinstance(obj, tuple):
        item = typing.get_args(tp)[0] if tp is not None and typing.get_args(tp) else None
        return [unstructure(v, item, unit) for v in obj]
    if isinstance(obj, dict):
        item = typing.get_args(tp)[1] if tp is not None and typing.get_args(tp) else None
        return {k: unstructure(v, item, unit) for k, v in obj.items()}
    return obj


def _union_branch(obj: Any, options: tuple[Any, ...]) -> Any:
    """The option of a union that a (non-None, non-attrs) value was read as."""
    options = tuple(o for o in options if o is not type(None))
    if isinstance(obj, str) and obj in _literal_words(options):
        return None  # a fixed word is written as it is
    options = tuple(o for o in options if typing.get_origin(o) is not typing.Literal)
    if len(options) == 1:
        return options[0]
    for option in options:
        if typing.get_origin(option) is tuple and isinstance(obj, tuple):
            return option
    return None


# --- messages ----------------------------------------------------------------------


def _suggest(word: str, known: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _known(word: str, known: typing.Iterable[str]) -> str:
    """Suggest the closest key, or list the known keys when there are few."""
    names = list(known)
    close = _suggest(word, names)
    if close or len(names) > 12:
        return close
    return f" (known: {', '.join(names)})"


def _key_text(key: object) -> str:
    """A mapping key as it reads in a path (YAML spells ``None`` and booleans its own way)."""
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return key if isinstance(key, str) else _show(key)


_show = units.show_value


def _describe(options: tuple[Any, ...]) -> str:
    names = []
    for option in options:
        if option is str:
            names.append("a name")
        elif typing.get_origin(option) is tuple:
            names.append("a list")
        else:
            names.append("a mapping")
    return " or ".join(names)

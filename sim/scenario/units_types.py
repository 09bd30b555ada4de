"""Value types the scenario schema is written in, and validators with plain messages.

The schema annotates fields with these ``NewType`` aliases; the codec reads
each from its written form (``"90s"``, ``"800 yuan"``, ``0.7``) and writes it
back. Validators raise ``ValueError`` with the message users see after the
key's path, for example ``must be ≥ 1, got 0``.
"""

from __future__ import annotations

from typing import Any, NewType

import attrs

DurationS = NewType("DurationS", float)
"""A duration in seconds, written with a unit: ``"25ms"``, ``"4min"``, ``"1d"``."""

MoneyFen = NewType("MoneyFen", int)
"""An amount in integer fen, written ``"800 yuan"`` or ``"35 fen"``."""

Count = NewType("Count", float)
"""A large count, written ``1380000000``, ``"1.38e9"`` or ``"1.38 billion"``."""

Quantity = NewType("Quantity", float)
"""A distribution parameter whose unit (duration or money) comes from its field."""

UNIT_DURATION = "duration"
UNIT_MONEY = "money"


def _fmt(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def at_least(bound: float) -> Any:
    """Validator: the value is ≥ ``bound``."""

    def check(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and value < bound:
            raise ValueError(f"must be ≥ {_fmt(bound)}, got {_fmt(value)}")

    return check


def greater_than(bound: float) -> Any:
    """Validator: the value is > ``bound``."""

    def check(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and value <= bound:
            raise ValueError(f"must be > {_fmt(bound)}, got {_fmt(value)}")

    return check


def at_most(bound: float) -> Any:
    """Validator: the value is ≤ ``bound``."""

    def check(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and value > bound:
            raise ValueError(f"must be ≤ {_fmt(bound)}, got {_fmt(value)}")

    return check


def share(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
    """Validator: the value is a probability, 0 ≤ p ≤ 1."""
    if value is not None and not 0.0 <= value <= 1.0:
        raise ValueError(f"must be between 0 and 1, got {_fmt(value)}")

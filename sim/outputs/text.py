"""Numbers as the console and the report write them: one rule per kind of figure.

Kept apart from :mod:`sim.cli.headlines` so a service family's own headline
(``headline`` in its runtime module) can use them without the console.
"""

from __future__ import annotations

import math

__all__ = ["count", "full", "ms", "secs", "secs_whole"]


def ms(value: float | None) -> str:
    """Seconds shown in milliseconds (with an "s" from ten seconds on)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value * 1000:,.0f}" if value < 10 else f"{value:,.1f}s"


def secs(value: float | None) -> str:
    """A duration in seconds, with as many decimals as its size warrants."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if value < 10:
        return f"{value:.3f}"
    return f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"


def count(value: float) -> str:
    """A count with thousands separators."""
    return f"{value:,.0f}"


def full(value: float) -> str:
    """A full-scale count: millions with an "M" once they pass a million (narrow columns)."""
    return f"{value / 1e6:,.2f} M" if value >= 1e6 else count(value)


def secs_whole(value: float | None) -> str:
    """A long duration in whole seconds (upload delays, payout times)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.0f}s"

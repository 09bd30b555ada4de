"""The ``load`` factor: every arrival rate of a scenario multiplied by one number.

``load: 1.4`` asks "what if demand grows 40%": each ``rate`` of every service (per
holder per year or day, per point per hour) is multiplied by it, in the foreground
and so in the background, which is derived from the same rates. Payday credits are
not arrivals (every recipient is paid once) and do not change. The model builds
from :func:`with_load` of the scenario; the scenario itself keeps ``load`` as
written, so manifests and sweeps show the factor.
"""

from __future__ import annotations

from typing import Any, TypeVar

import attrs

from sim.scenario.schema import PerHolderPerDay, PerHolderPerYear, PerPointPerHour, Scenario

__all__ = ["with_load"]

_RATES = (PerHolderPerYear, PerHolderPerDay, PerPointPerHour)

T = TypeVar("T")


def with_load(scenario: Scenario) -> Scenario:
    """The scenario with every arrival rate multiplied by its ``load`` (itself if 1)."""
    if scenario.load == 1.0:
        return scenario
    services = _scaled(scenario.services, scenario.load)
    return attrs.evolve(scenario, services=services)


def _scaled(value: T, factor: float) -> T:
    """``value`` with every rate inside multiplied by ``factor``."""
    if isinstance(value, _RATES):
        return attrs.evolve(value, value=value.value * factor)
    if attrs.has(type(value)):
        changes: dict[str, Any] = {}
        for field in attrs.fields(type(value)):  # type: ignore[arg-type]
            if not field.init:
                continue
            old = getattr(value, field.name)
            new = _scaled(old, factor)
            if new is not old:
                changes[field.name] = new
        return attrs.evolve(value, **changes) if changes else value  # type: ignore[misc]
    if isinstance(value, tuple):
        items = tuple(_scaled(v, factor) for v in value)
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value  # type: ignore[return-value]
    if isinstance(value, dict):
        items_d = {k: _scaled(v, factor) for k, v in value.items()}
        return items_d if any(items_d[k] is not value[k] for k in value) else value  # type: ignore[return-value]
    return value

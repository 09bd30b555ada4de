"""Frozen mappings for the scenario: a ``dict`` that refuses every change.

A scenario is frozen configuration (attrs classes), but attrs freezes only the
attributes, not a ``dict`` one of them holds: ``s.population.inflow['GD'] = 99``
would stick, and a scenario holding a dict is not hashable. Every mapping field
of the schema is converted to a :class:`FrozenDict` on construction (``attrs.field(
factory=FrozenDict, converter=freeze)``), so a scenario is immutable through and
through and can be hashed. It stays a ``dict`` for readers (JSON, YAML, ``isinstance`` checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

__all__ = ["FrozenDict", "freeze"]


class FrozenDict(dict[Any, Any]):
    """A ``dict`` that cannot be changed after it is made, and so can be hashed."""

    __slots__ = ()

    def _refuse(self, *_args: Any, **_kwargs: Any) -> NoReturn:
        raise TypeError(
            "scenario mappings are frozen: make a variant with attrs.evolve and a new dict"
        )

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle and deepcopy rebuild it whole (the default would call __setitem__).
        return (FrozenDict, (dict(self),))

    def __copy__(self) -> FrozenDict:
        return self

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"


def freeze(value: Any) -> Any:
    """The value with every mapping in it (nested ones too) made a :class:`FrozenDict`."""
    if isinstance(value, FrozenDict):
        return value
    if isinstance(value, Mapping):
        return FrozenDict((k, freeze(v)) for k, v in value.items())
    return value

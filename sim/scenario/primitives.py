"""The scenario's building blocks: distributions, rates, profiles, points and nodes.

Every service family's section (:mod:`sim.scenario.medical_services`,
:mod:`sim.scenario.card_services`, :mod:`sim.scenario.card_desk`) and the
network section are made of these, so they sit below all of them: a family's
section never imports the schema that lists the families.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from sim.scenario.units_types import (
    UNIT_DURATION,
    UNIT_MONEY,
    Quantity,
    at_least,
    at_most,
    greater_than,
    share,
)

__all__ = [
    "IN_DURATION",
    "IN_MONEY",
    "Constant",
    "Distribution",
    "Exponential",
    "Gamma",
    "HolderRate",
    "HospitalPointsSpec",
    "LevelShares",
    "Lognormal",
    "NodeSpec",
    "PerHolderPerDay",
    "PerHolderPerYear",
    "PerPointPerHour",
    "PointsSpec",
    "Problems",
    "Profile",
    "Rate",
    "Uniform",
]

Problems = list[tuple[str, str]]
"""Problems found by a ``check()``: (key path relative to the class, message)."""

# --- distributions -----------------------------------------------------------
# Written as single-key mappings: ``{exponential: {mean: 4min}}``. The unit of
# their parameters comes from the field that holds them (duration or money).

MIN_CV, MAX_CV = 1e-6, 100.0
"""Coefficients of variation outside these give gamma shapes or lognormal tails that
overflow a float (use ``constant`` for no variation at all)."""


@attrs.frozen
class Exponential:
    """Exponential distribution (memoryless), given by its mean."""

    TAG: ClassVar[str] = "exponential"
    mean: Quantity = attrs.field(validator=greater_than(0))


@attrs.frozen
class Lognormal:
    """Lognormal distribution given by its mean and coefficient of variation."""

    TAG: ClassVar[str] = "lognormal"
    mean: Quantity = attrs.field(validator=greater_than(0))
    cv: float = attrs.field(validator=[greater_than(0), at_least(MIN_CV), at_most(MAX_CV)])


@attrs.frozen
class Gamma:
    """Gamma distribution given by its mean and coefficient of variation."""

    TAG: ClassVar[str] = "gamma"
    mean: Quantity = attrs.field(validator=greater_than(0))
    cv: float = attrs.field(validator=[greater_than(0), at_least(MIN_CV), at_most(MAX_CV)])


@attrs.frozen
class Uniform:
    """Uniform distribution on ``[low, high]``."""

    TAG: ClassVar[str] = "uniform"
    low: Quantity = attrs.field(validator=at_least(0))
    high: Quantity = attrs.field(validator=at_least(0))

    def check(self) -> Problems:
        """``low`` must not exceed ``high``."""
        if self.low > self.high:
            return [("high", f"must be ≥ low ({self.low:g}), got {self.high:g}")]
        return []


@attrs.frozen
class Constant:
    """Always the same value (M/D/1-style deterministic service)."""

    TAG: ClassVar[str] = "constant"
    value: Quantity = attrs.field(validator=at_least(0), metadata={"scalar": True})


Distribution = Exponential | Lognormal | Gamma | Uniform | Constant


IN_DURATION = {"unit": UNIT_DURATION}
"""Field metadata: the distribution's parameters are durations."""
IN_MONEY = {"unit": UNIT_MONEY}
"""Field metadata: the distribution's parameters are money."""


# --- demand --------------------------------------------------------------------


@attrs.frozen
class PerHolderPerYear:
    """Arrival rate: transactions per card holder per year (spread over 365 days)."""

    TAG: ClassVar[str] = "per_holder_per_year"
    value: float = attrs.field(validator=at_least(0), metadata={"scalar": True})

    @property
    def per_holder_per_day(self) -> float:
        """The same rate per day."""
        return self.value / 365.0


@attrs.frozen
class PerHolderPerDay:
    """Arrival rate: transactions per card holder per day."""

    TAG: ClassVar[str] = "per_holder_per_day"
    value: float = attrs.field(validator=at_least(0), metadata={"scalar": True})

    @property
    def per_holder_per_day(self) -> float:
        """The same rate per day."""
        return self.value


@attrs.frozen
class PerPointPerHour:
    """Arrival rate: transactions per service point per hour, whatever the holders.

    Demand then follows the points rather than the population: each point sees
    this load (times the profile weight) at any ``scale``, because points scale
    with it. It is how a reduced scenario gives a queue an exact arrival rate.
    """

    TAG: ClassVar[str] = "per_point_per_hour"
    value: float = attrs.field(validator=at_least(0), metadata={"scalar": True})


Rate = PerHolderPerYear | PerHolderPerDay | PerPointPerHour

HolderRate = PerHolderPerYear | PerHolderPerDay
"""A rate per holder: for services whose demand follows people, not points."""

Profile = str | tuple[float, ...]
"""A builtin diurnal profile name, or 24 hourly weights (local time, 00h first)."""


@attrs.frozen
class LevelShares:
    """How a service's points divide into hospital levels (一级, 二级, 三级)."""

    primary: float = attrs.field(default=0.0, validator=share)
    secondary: float = attrs.field(default=0.0, validator=share)
    tertiary: float = attrs.field(default=1.0, validator=share)

    def check(self) -> Problems:
        """The shares add up to 1."""
        total = self.primary + self.secondary + self.tertiary
        if abs(total - 1.0) > 1e-9:
            return [("", f"shares must add up to 1, got {total:g}")]
        return []

    def as_tuple(self) -> tuple[float, float, float]:
        """(primary, secondary, tertiary)."""
        return (self.primary, self.secondary, self.tertiary)


@attrs.frozen
class PointsSpec:
    """The service points of one service in each province.

    Counts are given at full scale and scaled with the scenario's ``scale`` (at
    least one point per province), so the load on each point stays realistic.
    """

    capacity: int = attrs.field(validator=at_least(1))
    service_time: Distribution = attrs.field(metadata=IN_DURATION)
    per_province: int | None = attrs.field(default=None, validator=at_least(1))
    total: int | None = attrs.field(default=None, validator=at_least(1))

    def check(self) -> Problems:
        """Exactly one of ``per_province`` and ``total`` is given."""
        if (self.per_province is None) == (self.total is None):
            return [("per_province", "give exactly one of 'per_province' and 'total'")]
        return []


@attrs.frozen
class HospitalPointsSpec(PointsSpec):
    """Points of a medical service: hospitals or pharmacies, each of a hospital level."""

    levels: LevelShares = LevelShares()
    """Hospital levels of the points (each province's points are split in these shares)."""
    queue_limit: int | None = attrs.field(default=None, validator=at_least(0))
    """Most holders waiting at one point (not counting those at a counter); default: no limit."""


# --- settlement nodes ---------------------------------------------------------


@attrs.frozen
class NodeSpec:
    """A settlement node: identical servers sharing one FIFO queue."""

    servers: int = attrs.field(validator=at_least(1))
    service_time: Distribution = attrs.field(metadata=IN_DURATION)

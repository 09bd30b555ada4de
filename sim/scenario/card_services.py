"""Schema of the card's other service families: libraries, transit, pension payout.

These mirror the ``services.library``, ``services.transit`` and
``services.pension_payout`` sections of a scenario file. They reuse the
primitives of :mod:`sim.scenario.schema` (distributions, rates, points, nodes)
and, like them, check single fields with validators and rules within one
section in ``check()``; rules that need the province table (ids, library
counts) live in :mod:`sim.scenario.validate`.
"""

from __future__ import annotations

import attrs

from sim.scenario.frozen import FrozenDict, freeze
from sim.scenario.primitives import (
    IN_DURATION,
    IN_MONEY,
    Distribution,
    Exponential,
    HolderRate,
    NodeSpec,
    PointsSpec,
    Problems,
    Profile,
)
from sim.scenario.units_types import (
    Count,
    DurationS,
    Quantity,
    at_least,
    at_most,
    greater_than,
    share,
)

__all__ = [
    "BankSpec",
    "ChannelSpec",
    "ClearingSpec",
    "LibrariesSpec",
    "LibraryInterconnectionSpec",
    "LibraryService",
    "OpeningHours",
    "PayoutBatchSpec",
    "PensionPayoutService",
    "SpikeSpec",
    "TransitService",
    "TransitStationsSpec",
    "WithdrawalsSpec",
]

DAY_S = 86400.0
TIME_OF_DAY = [at_least(0), at_most(DAY_S)]
"""Validators of a local time of day written as a clock time (``'09:00'``)."""


def _one_count(per_province: int | None, total: int | None) -> Problems:
    if (per_province is None) == (total is None):
        return [("per_province", "give exactly one of 'per_province' and 'total'")]
    return []


@attrs.frozen
class OpeningHours:
    """Local opening hours of a kind of service point, the same every day."""

    opens: DurationS = attrs.field(validator=TIME_OF_DAY)
    closes: DurationS = attrs.field(validator=TIME_OF_DAY)

    def check(self) -> Problems:
        """A point must open before it closes (no overnight opening)."""
        if self.closes <= self.opens:
            return [("closes", f"must be after opens ({self.opens:g}s), got {self.closes:g}s")]
        return []


@attrs.frozen
class ChannelSpec:
    """One kind of station at each point (counters, terminals): its capacity and service time."""

    capacity: int = attrs.field(validator=at_least(1))
    service_time: Distribution = attrs.field(metadata=IN_DURATION)


# --- libraries ---------------------------------------------------------------------


@attrs.frozen
class LibrariesSpec:
    """The public libraries of each province, and their counters and self-service terminals."""

    counter: ChannelSpec
    self_service: ChannelSpec
    per_province: int | None = attrs.field(default=None, validator=at_least(1))
    total: int | None = attrs.field(default=None, validator=at_least(1))
    provinces: dict[str, int] = attrs.field(factory=FrozenDict, converter=freeze)
    """Full-scale library counts of particular provinces, replacing the general count."""
    self_service_share: float = attrs.field(default=0.5, validator=share)

    def check(self) -> Problems:
        """Exactly one of ``per_province`` and ``total``; province counts ≥ 1."""
        problems = _one_count(self.per_province, self.total)
        problems += [
            (f"provinces.{pid}", f"must be ≥ 1, got {n}")
            for pid, n in self.provinces.items()
            if n < 1
        ]
        return problems


@attrs.frozen
class LibraryInterconnectionSpec:
    """Provinces whose platforms verify each other's holders at interconnected libraries."""

    provinces: tuple[str, ...]
    libraries: dict[str, int] = attrs.field(factory=FrozenDict, converter=freeze)
    """Interconnected libraries per province, at full scale (0 for a province not given)."""
    visitor_share: float = attrs.field(default=0.0, validator=share)
    latency: Distribution | None = attrs.field(default=None, metadata=IN_DURATION)
    """One-way latency of the direct link between two interconnected platforms."""

    def check(self) -> Problems:
        """At least two distinct provinces; library counts only for them, each ≥ 0."""
        problems: Problems = []
        if len(set(self.provinces)) < 2 or len(set(self.provinces)) != len(self.provinces):
            problems.append(("provinces", "needs at least two distinct province ids"))
        for pid, count in self.libraries.items():
            if pid not in self.provinces:
                problems.append((f"libraries.{pid}", "not one of interconnection.provinces"))
            elif count < 0:
                problems.append((f"libraries.{pid}", f"must be ≥ 0, got {count}"))
        return problems


@attrs.frozen
class LibraryService:
    """Loans and returns with the card as reading card, verified by the holder's home platform."""

    rate: HolderRate
    libraries: LibrariesSpec
    profile: Profile = "library"
    opening_hours: OpeningHours = OpeningHours(DurationS(9 * 3600.0), DurationS(21 * 3600.0))
    cross_province_share: float = attrs.field(default=0.0, validator=share)
    resident_share: float = attrs.field(default=0.5, validator=share)
    interconnection: LibraryInterconnectionSpec | None = None


# --- transit -----------------------------------------------------------------------

TRANSIT_INTERCONNECTION = NodeSpec(16, Exponential(Quantity(0.02)))
"""Default national transit interconnection node."""


@attrs.frozen
class TransitStationsSpec:
    """Metro stations and bus stops of each province: gates per station and tap time."""

    gates: int = attrs.field(validator=at_least(1))
    tap_time: Distribution = attrs.field(metadata=IN_DURATION)
    per_province: int | None = attrs.field(default=None, validator=at_least(1))
    total: int | None = attrs.field(default=None, validator=at_least(1))

    def check(self) -> Problems:
        """Exactly one of ``per_province`` and ``total``."""
        return _one_count(self.per_province, self.total)


@attrs.frozen
class ClearingSpec:
    """A transit clearing node: servers, time per upload and extra time per record."""

    servers: int = attrs.field(validator=at_least(1))
    service_time: Distribution = attrs.field(metadata=IN_DURATION)
    per_record: DurationS = attrs.field(default=DurationS(0.0), validator=at_least(0))


@attrs.frozen
class TransitService:
    """Fare taps validated offline at gates, uploaded in batches and debited by clearing."""

    rate: HolderRate
    fare: Distribution = attrs.field(metadata=IN_MONEY)
    stations: TransitStationsSpec
    upload_every: DurationS = attrs.field(default=DurationS(600.0), validator=greater_than(0))
    profile: Profile = "transit_rush"
    cross_province_share: float = attrs.field(default=0.0, validator=share)
    resident_share: float = attrs.field(default=0.5, validator=share)
    other_city_share: float = attrs.field(default=0.0, validator=share)
    clearing: ClearingSpec = ClearingSpec(8, Exponential(Quantity(0.05)), DurationS(0.001))
    interconnection: NodeSpec = TRANSIT_INTERCONNECTION


# --- pension and benefit payout ------------------------------------------------------


@attrs.frozen
class PayoutBatchSpec:
    """One scheme's monthly credits: recipients at full scale, amount, when the fund sends."""

    recipients: Count = attrs.field(validator=greater_than(0))
    amount: Distribution = attrs.field(metadata=IN_MONEY)
    batch_time: DurationS = attrs.field(default=DurationS(2 * 3600.0), validator=TIME_OF_DAY)


@attrs.frozen
class BankSpec:
    """The bank node of each province that lands the credits, at a stated throughput."""

    credits_per_s: float = attrs.field(validator=greater_than(0))
    """Credits landed per second by one province's bank node, at full scale."""
    provinces: dict[str, float] = attrs.field(factory=FrozenDict, converter=freeze)
    """Throughputs of particular provinces' bank nodes, replacing ``credits_per_s``."""

    def check(self) -> Problems:
        """Province throughputs must be positive."""
        return [
            (f"provinces.{pid}", f"must be > 0, got {v:g}")
            for pid, v in self.provinces.items()
            if not v > 0
        ]


@attrs.frozen
class SpikeSpec:
    """Extra demand after payday: rate × (1 + amplitude × exp(−t / decay))."""

    amplitude: float = attrs.field(default=0.0, validator=at_least(0))
    decay: DurationS = attrs.field(default=DurationS(DAY_S), validator=greater_than(0))


@attrs.frozen
class WithdrawalsSpec:
    """Withdrawals and balance checks at bank counters and ATMs."""

    rate: HolderRate
    amount: Distribution = attrs.field(metadata=IN_MONEY)
    counters: PointsSpec
    atms: PointsSpec
    profile: Profile = "banking"
    spike: SpikeSpec = SpikeSpec()
    balance_check_share: float = attrs.field(default=0.3, validator=share)
    counter_share: float = attrs.field(default=0.3, validator=share)
    counter_hours: OpeningHours = OpeningHours(DurationS(9 * 3600.0), DurationS(17 * 3600.0))


PAYOUT_BATCHES: tuple[str, ...] = ("employee_pension", "resident_pension", "unemployment_benefit")
"""The payout batches a scenario may give, in the order the fund sends them on a tie."""


@attrs.frozen
class PensionPayoutService:
    """Monthly pension and benefit credits on payday, then withdrawals at banks."""

    payday: int = attrs.field(validator=[at_least(1), at_most(31)])
    bank: BankSpec
    paydays: dict[str, int] = attrs.field(factory=FrozenDict, converter=freeze)
    """Paydays of particular provinces, replacing ``payday``."""
    deadline: DurationS = attrs.field(default=DurationS(8 * 3600.0), validator=TIME_OF_DAY)
    employee_pension: PayoutBatchSpec | None = None
    resident_pension: PayoutBatchSpec | None = None
    unemployment_benefit: PayoutBatchSpec | None = None
    withdrawals: WithdrawalsSpec | None = None

    def batches(self) -> dict[str, PayoutBatchSpec]:
        """The batches given, by name, in :data:`PAYOUT_BATCHES` order."""
        return {n: b for n in PAYOUT_BATCHES if (b := getattr(self, n)) is not None}

    def payday_of(self, province_id: str) -> int:
        """The day of the month on which a province pays."""
        return self.paydays.get(province_id, self.payday)

    def check(self) -> Problems:
        """At least one batch, each sent before the deadline; paydays are days of a month."""
        problems: Problems = []
        if not self.batches():
            problems.append(("", "give at least one of " + ", ".join(PAYOUT_BATCHES)))
        for name, batch in self.batches().items():
            if batch.batch_time >= self.deadline:
                problems.append(
                    (f"{name}.batch_time", f"must be before deadline ({self.deadline:g}s)")
                )
        problems += [
            (f"paydays.{pid}", f"must be between 1 and 31, got {day}")
            for pid, day in self.paydays.items()
            if not 1 <= day <= 31
        ]
        return problems

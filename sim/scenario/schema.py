"""The scenario schema: frozen attrs classes, one per section of a scenario file.

Each class mirrors a YAML mapping; field names are the keys users write. Units
are resolved on loading (durations in seconds, money in fen), so the model never
parses text. Single-field rules live in validators here; rules that span fields
live in ``check()`` methods (within one class) and in :mod:`sim.scenario.validate`
(across sections). ``docs/scenarios.md`` documents every key.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal, TypeAlias

import attrs

from sim import units
from sim.scenario.faults import FaultsSpec
from sim.scenario.frozen import FrozenDict, freeze
from sim.scenario.units_types import (
    UNIT_DURATION,
    UNIT_MONEY,
    Count,
    DurationS,
    MoneyFen,
    Quantity,
    at_least,
    at_most,
    greater_than,
    share,
)

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


@attrs.frozen
class SettlementSpec:
    """How the home platform handles this service's settlement requests."""

    service_time: Distribution | None = attrs.field(default=None, metadata=IN_DURATION)
    """Processing time at the home platform; default: the node's own service time."""


@attrs.frozen
class MedicalService:
    """A medical service settled with the card: outpatient, inpatient or pharmacy."""

    rate: Rate
    amount: Distribution = attrs.field(metadata=IN_MONEY)
    points: HospitalPointsSpec
    profile: Profile = "office_hours"
    cross_province_share: float = attrs.field(default=0.0, validator=share)
    resident_share: float = attrs.field(default=0.5, validator=share)
    filed_in_advance: float = attrs.field(default=1.0, validator=share)
    ineligible_share: float = attrs.field(default=0.0, validator=share)
    networked_share: float = attrs.field(default=1.0, validator=share)
    """Share of points connected to cross-province direct settlement (in every level)."""
    settlement: SettlementSpec = SettlementSpec()
    sites: tuple[str, ...] | None = None
    """Province ids where the service has demand; default: every simulated province."""


@attrs.frozen
class ServicesSpec:
    """The services in the scenario; a service left out is not simulated."""

    medical_outpatient: MedicalService | None = None
    medical_inpatient: MedicalService | None = None
    pharmacy: MedicalService | None = None
    library: LibraryService | None = None
    transit: TransitService | None = None
    pension_payout: PensionPayoutService | None = None

    def enabled(self) -> dict[str, AnyService]:
        """Services present in the scenario, in a fixed order."""
        return {
            f.name: getattr(self, f.name)
            for f in attrs.fields(type(self))
            if getattr(self, f.name) is not None
        }

    def medical(self) -> dict[str, MedicalService]:
        """The enabled medical services (those settled through the platforms)."""
        return {k: v for k, v in self.enabled().items() if isinstance(v, MedicalService)}

    def check(self) -> Problems:
        """A scenario without any service would simulate nothing."""
        if not self.enabled():
            return [("", "no service enabled: add at least one of " + ", ".join(SERVICE_NAMES))]
        return []


SERVICE_NAMES: tuple[str, ...] = tuple(f.name for f in attrs.fields(ServicesSpec))

# --- population ------------------------------------------------------------------


@attrs.frozen
class PopulationSpec:
    """Who holds the cards: totals, card kinds and insurance schemes."""

    holders: Count | None = attrs.field(default=None, validator=greater_than(0))
    """Total card holders at full scale; default: the province table's total."""
    ecard_share: float = attrs.field(default=0.0, validator=share)
    """Share of holders who present the e-card QR code rather than the chip card."""
    employee_share: float = attrs.field(default=0.25, validator=share)
    """Share of holders in the urban employee scheme (the rest: resident scheme)."""
    migrant_share: float = attrs.field(default=0.0, validator=share)
    """Share of holders living outside their home (insured) province."""
    inflow: dict[str, float] = attrs.field(factory=FrozenDict, converter=freeze)
    """Relative pull of treatment provinces on cross-province patients (default 1)."""
    outflow: dict[str, float] = attrs.field(factory=FrozenDict, converter=freeze)
    """Relative propensity of a home province's holders to be treated elsewhere (default 1)."""

    def check(self) -> Problems:
        """Flow weights are positive."""
        return [
            (f"{table}.{pid}", f"must be > 0, got {value:g}")
            for table, weights in (("inflow", self.inflow), ("outflow", self.outflow))
            for pid, value in weights.items()
            if not value > 0
        ]


# --- settlement network --------------------------------------------------------


NODE_LOADS = ("sampled", "full")
"""Values of ``network.load``."""


def _one_of(words: tuple[str, ...]) -> Any:
    """Validator: the value is one of ``words``."""

    def check(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in words:
            raise ValueError(f"must be one of {', '.join(map(repr, words))}, got {value!r}")

    return check


@attrs.frozen
class NodeSpec:
    """A settlement node: identical servers sharing one FIFO queue."""

    servers: int = attrs.field(validator=at_least(1))
    service_time: Distribution = attrs.field(metadata=IN_DURATION)


@attrs.frozen
class LinkSpec:
    """A class of network links (one-way latency per message)."""

    latency: Distribution = attrs.field(metadata=IN_DURATION)


@attrs.frozen
class RetrySpec:
    """Requester retries: same idempotency key, fixed backoff between attempts."""

    max: int = attrs.field(default=3, validator=at_least(0))
    backoff: DurationS = attrs.field(default=DurationS(0.5), validator=at_least(0))
    reversals: int = attrs.field(default=5, validator=at_least(1))
    """Attempts at reversing a settlement that ran out of attempts, before giving up."""


@attrs.frozen
class NetworkSpec:
    """Provincial platforms, the national platform, the card platform and links."""

    provincial: NodeSpec = NodeSpec(16, Exponential(Quantity(0.025)))
    national: NodeSpec = NodeSpec(64, Exponential(Quantity(0.010)))
    card_platform: NodeSpec = NodeSpec(32, Exponential(Quantity(0.005)))
    access: LinkSpec = LinkSpec(Lognormal(Quantity(0.010), 0.5))
    """Service point ↔ provincial platform or card platform."""
    backbone: LinkSpec = LinkSpec(Lognormal(Quantity(0.020), 0.5))
    """Provincial platform ↔ national platform."""
    timeout: DurationS = attrs.field(default=DurationS(3.0), validator=greater_than(0))
    retry: RetrySpec = RetrySpec()
    load: str = attrs.field(default="sampled", validator=_one_of(NODE_LOADS))
    """What the nodes carry: the simulated holders' requests alone (``sampled``), or
    with the unsimulated holders' requests beside them (``full``, see :mod:`sim.background`)."""

    @property
    def full_load(self) -> bool:
        """Whether the nodes carry the full-scale traffic."""
        return self.load == "full"


# --- money -----------------------------------------------------------------------


@attrs.frozen
class LevelRatios:
    """Reimbursement ratios by hospital level (一级, 二级, 三级)."""

    primary: float = attrs.field(validator=share)
    secondary: float = attrs.field(validator=share)
    tertiary: float = attrs.field(validator=share)


@attrs.frozen
class RatioTable:
    """Reimbursement ratios by insurance scheme and hospital level."""

    employee: LevelRatios
    resident: LevelRatios


@attrs.frozen
class PolicyRule:
    """Reimbursement rule of a home province for one service.

    For a bill, the covered part (the treatment province's catalogue share) less
    the deductible is reimbursed at the ratio, capped so that the holder's fund
    payments this year stay within the annual ceiling; the patient pays the rest.
    """

    ratio: float | None = attrs.field(default=None, validator=share)
    """One ratio for every scheme and hospital level."""
    ratios: RatioTable | None = None
    """Ratios by scheme and hospital level (instead of ``ratio``)."""
    deductible: MoneyFen = attrs.field(default=MoneyFen(0), validator=at_least(0))
    """Paid by the patient on each visit or stay before the fund pays anything."""
    ceiling: MoneyFen | None = attrs.field(default=None, validator=at_least(0))
    """Most the fund pays for one holder in a calendar year (year to date)."""

    def check(self) -> Problems:
        """Exactly one of ``ratio`` and ``ratios``."""
        if (self.ratio is None) == (self.ratios is None):
            return [("ratio", "give exactly one of 'ratio' and 'ratios'")]
        return []


@attrs.frozen
class CatalogueSpec:
    """Share of each bill inside the treatment province's catalogue (the rest is self-paid)."""

    default: dict[str, float] = attrs.field(factory=FrozenDict, converter=freeze)
    """Covered share per service; a service not listed is fully covered."""
    provinces: dict[str, dict[str, float]] = attrs.field(factory=FrozenDict, converter=freeze)
    """Covered share per treatment province and service, replacing the default."""

    def covered(self, province_id: str, service: str) -> float:
        """The covered share a treatment province's catalogue gives a service's bills."""
        own = self.provinces.get(province_id, {})
        return own.get(service, self.default.get(service, 1.0))

    def check(self) -> Problems:
        """Every covered share is a probability."""
        problems: Problems = []
        tables = {"default": self.default, **{f"provinces.{k}": v for k, v in
                                               self.provinces.items()}}  # fmt: skip
        for where, table in tables.items():
            for service, value in table.items():
                if not 0.0 <= value <= 1.0:
                    problems.append(
                        (f"{where}.{service}", f"must be between 0 and 1, got {value:g}")
                    )
        return problems


@attrs.frozen
class PolicySpec:
    """Reimbursement rules: a default per service, replaced per home province."""

    default: dict[str, PolicyRule] = attrs.field(factory=FrozenDict, converter=freeze)
    provinces: dict[str, dict[str, PolicyRule]] = attrs.field(factory=FrozenDict, converter=freeze)
    catalogue: CatalogueSpec = CatalogueSpec()

    def rule(self, province_id: str, service: str) -> PolicyRule | None:
        """The rule the home province applies to a service."""
        own = self.provinces.get(province_id, {})
        return own.get(service, self.default.get(service))


# --- clearing between provinces ------------------------------------------------------


@attrs.frozen
class AdvanceSpec:
    """Advance funds held by treatment provinces to pay cross-province bills before clearing."""

    days: float = attrs.field(default=30.0, validator=[at_least(0), at_most(3660)])
    """Initial size: this many days of the province's expected cross-province fund payments."""
    top_up_below: float = attrs.field(default=0.2, validator=share)
    """Top the fund back up to its initial size when it falls below this share of it."""


@attrs.frozen
class ClearingSpec:
    """Prepay first, clear later: periods, application delay, advance funds."""

    period: str = "month"
    """``month`` (calendar months in local time) or a duration such as ``1d``."""
    apply_after: DurationS = attrs.field(default=DurationS(0.0), validator=at_least(0))
    """Delay after a period's end before its clearing is applied."""
    advance: AdvanceSpec = AdvanceSpec()

    @property
    def period_s(self) -> float | None:
        """The period as a fixed duration in seconds (``None`` for calendar months)."""
        return None if self.period == "month" else units.parse_duration(self.period)

    def check(self) -> Problems:
        """``period`` is ``month`` or a positive duration."""
        try:
            seconds = self.period_s
        except units.UnitError:
            return [
                ("period", f"expected 'month' or a duration such as '1d', got {self.period!r}")
            ]
        if seconds is not None and seconds <= 0:
            return [("period", f"must be > 0, got {self.period!r}")]
        return []


# --- outputs and the whole scenario ------------------------------------------------


@attrs.frozen
class OutputsSpec:
    """What a run writes besides the summary."""

    transactions: bool = True
    """Keep ``transactions.parquet`` (one row per transaction)."""
    sample_every: DurationS = attrs.field(default=DurationS(60.0), validator=greater_than(0))
    """Interval of the station time series."""


WARMUP_AUTO = "auto"
"""``warmup: auto``: estimate the warm-up after the run (MSER-5, see :mod:`sim.warmup`)."""

Warmup = DurationS | Literal["auto"]
"""A fixed warm-up, or ``"auto"``."""


def _warmup_length(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Validator: a fixed warm-up is ≥ 0 (``"auto"`` needs no check)."""
    if not isinstance(value, str):
        at_least(0)(instance, attribute, value)


@attrs.frozen
class Scenario:
    """A complete, validated situation to simulate. Build variants with ``attrs.evolve``."""

    name: str
    start: dt.datetime
    horizon: DurationS = attrs.field(validator=greater_than(0))
    seed: int = attrs.field(default=0, validator=at_least(0))
    description: str = ""
    warmup: Warmup = attrs.field(default=DurationS(0.0), validator=_warmup_length)
    scale: float = attrs.field(default=1e-3, validator=[greater_than(0), share])
    load: float = attrs.field(default=1.0, validator=greater_than(0))
    """Multiplies every arrival rate, foreground and background (``load=1.4``: 40% more)."""
    provinces: str = "builtin:2020"
    region: tuple[str, ...] | None = None
    """Province ids simulated (holders, points, platforms); default: the whole table."""
    population: PopulationSpec = PopulationSpec()
    services: ServicesSpec = ServicesSpec()
    network: NetworkSpec = NetworkSpec()
    policy: PolicySpec = PolicySpec()
    clearing: ClearingSpec = ClearingSpec()
    faults: FaultsSpec = FaultsSpec()  # noqa: RUF009 - a frozen attrs instance
    outputs: OutputsSpec = OutputsSpec()

    def check(self) -> Problems:
        """Rules spanning the top-level keys."""
        problems: Problems = []
        if not isinstance(self.warmup, str) and self.warmup >= self.horizon:
            problems.append(("warmup", f"must be shorter than horizon ({self.horizon:g}s)"))
        return problems


# The other service families' sections import the primitives above, so they are
# imported last; the names must be module globals for the codec's type hints.
from sim.scenario.card_services import (  # noqa: E402
    LibraryService,
    PensionPayoutService,
    TransitService,
)

AnyService: TypeAlias = MedicalService | LibraryService | TransitService | PensionPayoutService
"""The section of any one service family."""

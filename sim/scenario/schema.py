"""The scenario schema: frozen attrs classes, one per section of a scenario file.

Each class mirrors a YAML mapping; field names are the keys users write. Units
are resolved on loading (durations in seconds, money in fen), so the model never
parses text. Single-field rules live in validators here; rules that span fields
live in ``check()`` methods (within one class) and in :mod:`sim.scenario.validate`
(across sections). ``docs/scenarios.md`` documents every key.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import attrs

from sim.scenario import units
from sim.scenario.card_desk import CardDeskService
from sim.scenario.card_services import LibraryService, PensionPayoutService, TransitService
from sim.scenario.cards import CardsSpec
from sim.scenario.detection import DetectionSpec, RuleSpec, WindowRuleSpec
from sim.scenario.families import FAMILIES
from sim.scenario.faults import FaultsSpec
from sim.scenario.fraud import ClonedSpec, FraudSpec, StolenSpec
from sim.scenario.frozen import FrozenDict, freeze
from sim.scenario.medical_services import MedicalService, SettlementSpec
from sim.scenario.primitives import (
    IN_DURATION,
    IN_MONEY,
    MAX_CV,
    MIN_CV,
    Constant,
    Distribution,
    Exponential,
    Gamma,
    HolderRate,
    HospitalPointsSpec,
    LevelShares,
    Lognormal,
    NodeSpec,
    PerHolderPerDay,
    PerHolderPerYear,
    PerPointPerHour,
    PointsSpec,
    Problems,
    Profile,
    Rate,
    Uniform,
)
from sim.scenario.units_types import (
    Count,
    DurationS,
    MoneyFen,
    Quantity,
    at_least,
    at_most,
    greater_than,
    share,
)

# The building blocks and the families' sections are re-exported: the schema is
# where a reader (and the codec's type hints) finds every class of a scenario file.
__all__ = [
    "IN_DURATION",
    "IN_MONEY",
    "MAX_CV",
    "MIN_CV",
    "NODE_LOADS",
    "SERVICE_NAMES",
    "WARMUP_AUTO",
    "AdvanceSpec",
    "AnyService",
    "CardDeskService",
    "CardsSpec",
    "CatalogueSpec",
    "ClearingSpec",
    "ClonedSpec",
    "Constant",
    "DetectionSpec",
    "Distribution",
    "Exponential",
    "FraudSpec",
    "Gamma",
    "HolderRate",
    "HospitalPointsSpec",
    "LevelRatios",
    "LevelShares",
    "LibraryService",
    "LinkSpec",
    "Lognormal",
    "MedicalService",
    "NetworkSpec",
    "NodeSpec",
    "OutputsSpec",
    "PensionPayoutService",
    "PerHolderPerDay",
    "PerHolderPerYear",
    "PerPointPerHour",
    "PointsSpec",
    "PolicyRule",
    "PolicySpec",
    "PopulationSpec",
    "Problems",
    "Profile",
    "Rate",
    "RatioTable",
    "RetrySpec",
    "RuleSpec",
    "Scenario",
    "ServicesSpec",
    "SettlementSpec",
    "StolenSpec",
    "TransitService",
    "Uniform",
    "Warmup",
    "WindowRuleSpec",
]

# --- services ----------------------------------------------------------------------


class _Services:
    """What every ``ServicesSpec`` can say about itself, whatever families there are."""

    __slots__ = ()

    def enabled(self) -> dict[str, AnyService]:
        """Services present in the scenario, in the registry's order."""
        return {
            fam.key: getattr(self, fam.key)
            for fam in FAMILIES
            if getattr(self, fam.key) is not None
        }

    def medical(self) -> dict[str, MedicalService]:
        """The enabled medical services (those settled through the platforms)."""
        return {k: v for k, v in self.enabled().items() if isinstance(v, MedicalService)}

    def check(self) -> Problems:
        """A scenario without any service would simulate nothing."""
        if not self.enabled():
            return [("", "no service enabled: add at least one of " + ", ".join(SERVICE_NAMES))]
        return []


if TYPE_CHECKING:

    class ServicesSpec(_Services):
        """The services in the scenario (one optional section per registered family)."""

        def __init__(self, **sections: Any) -> None: ...
        def __getattr__(self, key: str) -> Any: ...

else:
    # One optional field per family of the registry, so a new family is one entry there.
    ServicesSpec = attrs.make_class(
        "ServicesSpec",
        {fam.key: attrs.field(default=None, type=fam.spec | None) for fam in FAMILIES},
        bases=(_Services,),
        frozen=True,
        slots=True,
    )
    ServicesSpec.__module__ = __name__
    ServicesSpec.__doc__ = """The services in the scenario; a service left out is not simulated.

    One optional section per family of :data:`sim.scenario.families.FAMILIES`."""


SERVICE_NAMES: tuple[str, ...] = tuple(fam.key for fam in FAMILIES)
"""Every key a scenario's ``services`` section may have."""

AnyService: TypeAlias = (
    MedicalService | LibraryService | TransitService | PensionPayoutService | CardDeskService
)
"""The section of any one service family."""

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

    provincial: NodeSpec = NodeSpec(16, Exponential(Quantity(0.025)))  # noqa: RUF009
    national: NodeSpec = NodeSpec(64, Exponential(Quantity(0.010)))  # noqa: RUF009
    card_platform: NodeSpec = NodeSpec(32, Exponential(Quantity(0.005)))  # noqa: RUF009
    access: LinkSpec = LinkSpec(Lognormal(Quantity(0.010), 0.5))
    """Service point ↔ provincial platform or card platform."""
    backbone: LinkSpec = LinkSpec(Lognormal(Quantity(0.020), 0.5))
    """Provincial platform ↔ national platform."""
    timeout: DurationS = attrs.field(default=DurationS(3.0), validator=greater_than(0))
    retry: RetrySpec = RetrySpec()
    load: str = attrs.field(default="sampled", validator=_one_of(NODE_LOADS))
    """What the nodes carry: the simulated holders' requests alone (``sampled``), or
    with the unsimulated holders' requests beside them (``full``,
    see :mod:`sim.network.background`)."""

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
"""``warmup: auto``: estimate the warm-up after the run (MSER-5, see :mod:`sim.outputs.warmup`)."""

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
    services: ServicesSpec = ServicesSpec()  # noqa: RUF009 - a frozen attrs instance
    network: NetworkSpec = NetworkSpec()
    policy: PolicySpec = PolicySpec()
    clearing: ClearingSpec = ClearingSpec()
    faults: FaultsSpec = FaultsSpec()  # noqa: RUF009 - a frozen attrs instance
    outputs: OutputsSpec = OutputsSpec()
    cards: CardsSpec | None = None
    """Card states (loss, freeze, replacement, expiry); default: every card stays active."""
    fraud: FraudSpec | None = None
    """Fraud attempted on the cards, labelled (``fraud`` column); default: none."""
    detection: DetectionSpec | None = None
    """Fraud detection rules at the platforms (``flagged_by`` column); default: none run."""

    def check(self) -> Problems:
        """Rules spanning the top-level keys."""
        problems: Problems = []
        if not isinstance(self.warmup, str) and self.warmup >= self.horizon:
            problems.append(("warmup", f"must be shorter than horizon ({self.horizon:g}s)"))
        return problems

"""Hypothesis strategies shared by the property and unit tests.

Each strategy builds objects that satisfy every rule the loader enforces, so
anything drawn here must survive ``parse_scenario(dump_scenario(s))``. Values
are the ones the loader can produce: money is whole fen, times are aware
datetimes with a fixed offset, floats are finite.
"""

from __future__ import annotations

import datetime as dt

import attrs
from hypothesis import strategies as st

from sim.engine.calendar import BUILTIN_PROFILES
from sim.scenario.card_desk import CardDeskService
from sim.scenario.card_services import (
    PAYOUT_BATCHES,
    BankSpec,
    ChannelSpec,
    ClearingSpec,
    LibrariesSpec,
    LibraryInterconnectionSpec,
    LibraryService,
    OpeningHours,
    PayoutBatchSpec,
    PensionPayoutService,
    SpikeSpec,
    TransitService,
    TransitStationsSpec,
    WithdrawalsSpec,
)
from sim.scenario.cards import CardsSpec
from sim.scenario.detection import DetectionSpec, RuleSpec, WindowRuleSpec
from sim.scenario.faults import (
    LINK_CLASSES,
    FaultsSpec,
    LinkFaultSpec,
    OutageSpec,
    PartitionSpec,
    RandomOutagesSpec,
    ReaderFaultSpec,
)
from sim.scenario.fraud import ClonedSpec, FraudSpec, StolenSpec
from sim.scenario.schema import (
    MAX_CV,
    MIN_CV,
    SERVICE_NAMES,
    AdvanceSpec,
    CatalogueSpec,
    Constant,
    Exponential,
    Gamma,
    HospitalPointsSpec,
    LevelRatios,
    LevelShares,
    LinkSpec,
    Lognormal,
    MedicalService,
    NetworkSpec,
    NodeSpec,
    OutputsSpec,
    PerHolderPerDay,
    PerHolderPerYear,
    PerPointPerHour,
    PointsSpec,
    PolicyRule,
    PolicySpec,
    PopulationSpec,
    RatioTable,
    RetrySpec,
    Scenario,
    ServicesSpec,
    SettlementSpec,
    Uniform,
)
from sim.scenario.schema import ClearingSpec as FundClearingSpec
from sim.scenario.units import format_duration
from sim.scenario.validate import MAX_BILL_FEN
from sim.world.provinces import full_scale_counts, load_provinces

TABLE = load_provinces()
PROVINCE_IDS = TABLE.ids
MEDICAL = ("medical_outpatient", "medical_inpatient", "pharmacy")

# --- plain values ------------------------------------------------------------------

shares = st.floats(0.0, 1.0)
"""A probability, 0 ≤ p ≤ 1."""

positive_floats = st.floats(min_value=0.0, max_value=1e12, exclude_min=True)
"""A finite number > 0."""

durations_s = st.floats(min_value=0.0, max_value=1e9, exclude_min=True)
"""A positive duration in seconds (any float: ``format_duration`` is exact)."""

money_fen = st.integers(0, 10**15)
"""A non-negative amount of money in fen (up to ten trillion yuan)."""

seeds = st.integers(0, 2**128)
"""A seed: any non-negative integer, including ones a float cannot hold."""

texts = st.text(max_size=30)
"""Free text (names, descriptions)."""


@st.composite
def aware_datetimes(draw: st.DrawFn) -> dt.datetime:
    """A date-time with a fixed UTC offset, as ``datetime.fromisoformat`` returns."""
    offset = draw(st.integers(-14 * 60, 14 * 60))
    tz = dt.timezone(dt.timedelta(minutes=offset))
    naive = draw(
        st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2100, 1, 1))
    )
    return naive.replace(tzinfo=tz)


# --- distributions -----------------------------------------------------------------


def distributions(
    positive: st.SearchStrategy[float], non_negative: st.SearchStrategy[float]
) -> st.SearchStrategy[object]:
    """Any of the five distribution kinds.

    Means come from ``positive``; uniform bounds and constants from ``non_negative``.
    """
    cvs = st.floats(min_value=MIN_CV, max_value=MAX_CV)
    uniform = st.tuples(non_negative, non_negative).map(lambda lh: Uniform(min(lh), max(lh)))
    return st.one_of(
        st.builds(Exponential, positive),
        st.builds(Lognormal, positive, cvs),
        st.builds(Gamma, positive, cvs),
        uniform,
        st.builds(Constant, non_negative),
    )


duration_distributions = distributions(durations_s, st.just(0.0) | durations_s)
"""Distributions of durations (seconds)."""

money_distributions = distributions(
    st.integers(1, MAX_BILL_FEN).map(float), st.integers(0, MAX_BILL_FEN).map(float)
)
"""Distributions of money (whole fen, held as floats as the loader holds them), at most
what a bill may be."""

# --- sections ----------------------------------------------------------------------

holder_rates = st.one_of(
    st.builds(PerHolderPerYear, st.floats(0.0, 1000.0)),
    st.builds(PerHolderPerDay, st.floats(0.0, 10.0)),
)
"""Rates per holder (every service family)."""

rates = holder_rates | st.builds(PerPointPerHour, st.floats(0.0, 1e6))
"""Any rate (medical services may also give a rate per point)."""

profiles = st.one_of(
    st.sampled_from(sorted(BUILTIN_PROFILES)),
    st.builds(
        lambda ws, peak, height: tuple(height if h == peak else w for h, w in enumerate(ws)),
        st.lists(st.floats(0.0, 100.0), min_size=24, max_size=24),
        st.integers(0, 23),
        st.floats(0.01, 100.0),
    ),
)
"""A builtin profile name, or 24 non-negative hourly weights that are not all zero."""


@st.composite
def level_shares(draw: st.DrawFn) -> LevelShares:
    """Shares of primary, secondary and tertiary points that add up to 1 (within 1e-9)."""
    primary = draw(shares)
    secondary = draw(st.floats(0.0, 1.0 - primary))
    return LevelShares(primary, secondary, max(1.0 - primary - secondary, 0.0))


@st.composite
def points_specs(draw: st.DrawFn, cls: type[PointsSpec] = PointsSpec) -> PointsSpec:
    """Points given either per province or as a national total (exactly one).

    Hospital points also get hospital levels.
    """
    count = draw(st.integers(1, 10**6))
    per_province = draw(st.booleans())
    hospital = (
        {"levels": draw(level_shares()), "queue_limit": draw(st.none() | st.integers(0, 1000))}
        if issubclass(cls, HospitalPointsSpec)
        else {}
    )
    return cls(
        capacity=draw(st.integers(1, 1000)),
        service_time=draw(duration_distributions),
        per_province=count if per_province else None,
        total=None if per_province else count,
        **hospital,
    )


medical_services = st.builds(
    MedicalService,
    rate=rates,
    amount=money_distributions,
    points=points_specs(HospitalPointsSpec),
    profile=profiles,
    cross_province_share=shares,
    resident_share=shares,
    filed_in_advance=shares,
    ineligible_share=shares,
    networked_share=shares,
    settlement=st.builds(SettlementSpec, st.none() | duration_distributions),
)

province_weights = st.dictionaries(st.sampled_from(PROVINCE_IDS), st.floats(1e-6, 1e6), max_size=4)
"""Sparse positive weights by province id (``population.inflow`` and ``outflow``)."""

population_specs = st.builds(
    PopulationSpec,
    holders=st.none() | st.floats(1.0, 1e10),
    ecard_share=shares,
    employee_share=shares,
    migrant_share=shares,
    inflow=province_weights,
    outflow=province_weights,
)

node_specs = st.builds(NodeSpec, st.integers(1, 10_000), duration_distributions)

network_specs = st.builds(
    NetworkSpec,
    provincial=node_specs,
    national=node_specs,
    card_platform=node_specs,
    access=st.builds(LinkSpec, duration_distributions),
    backbone=st.builds(LinkSpec, duration_distributions),
    timeout=durations_s,
    retry=st.builds(
        RetrySpec, st.integers(0, 10), st.one_of(st.just(0.0), durations_s), st.integers(1, 10)
    ),
    load=st.sampled_from(("sampled", "full")),
)

level_ratios = st.builds(LevelRatios, shares, shares, shares)
ratio_tables = st.builds(RatioTable, level_ratios, level_ratios)

policy_rules = st.one_of(
    st.builds(PolicyRule, ratio=shares, deductible=money_fen, ceiling=st.none() | money_fen),
    st.builds(
        PolicyRule, ratios=ratio_tables, deductible=money_fen, ceiling=st.none() | money_fen
    ),
)
"""A rule with one ``ratio``, or ``ratios`` by scheme and level (never both)."""


@st.composite
def catalogue_specs(draw: st.DrawFn, services: tuple[str, ...]) -> CatalogueSpec:
    """Covered shares by service, and by treatment province and service."""
    by_service = st.dictionaries(st.sampled_from(services), shares, max_size=len(services))
    return CatalogueSpec(
        default=draw(by_service),
        provinces=draw(st.dictionaries(st.sampled_from(PROVINCE_IDS), by_service, max_size=3)),
    )


@st.composite
def policy_specs(draw: st.DrawFn, services: tuple[str, ...]) -> PolicySpec:
    """A default rule for every enabled service, some province overrides, a catalogue."""
    default = {name: draw(policy_rules) for name in services}
    overridden = draw(st.lists(st.sampled_from(PROVINCE_IDS), max_size=3, unique=True))
    provinces = {
        pid: draw(st.dictionaries(st.sampled_from(services), policy_rules, max_size=2))
        for pid in overridden
    }
    return PolicySpec(default, provinces, draw(catalogue_specs(services)))


@st.composite
def fund_clearing_specs(draw: st.DrawFn, horizon_s: float) -> FundClearingSpec:
    """Calendar months or a fixed period (at most 100,000 periods over the horizon)."""
    finest = horizon_s / 1e5 * (1 + 1e-9)
    period = draw(st.just("month") | st.floats(finest, 1e8).map(format_duration))
    return FundClearingSpec(
        period=period,
        apply_after=draw(st.just(0.0) | durations_s),
        advance=draw(st.builds(AdvanceSpec, st.floats(0.0, 1000.0), shares)),
    )


# --- the card's other services ------------------------------------------------------

times_of_day = st.floats(0.0, 86400.0)
"""A local time of day in seconds (both ends allowed)."""


@st.composite
def opening_hours(draw: st.DrawFn) -> OpeningHours:
    """Opening hours that open before they close."""
    opens = draw(st.floats(0.0, 86000.0))
    return OpeningHours(opens, draw(st.floats(opens + 1.0, 86400.0)))


channel_specs = st.builds(ChannelSpec, st.integers(1, 100), duration_distributions)
province_counts = st.dictionaries(st.sampled_from(PROVINCE_IDS), st.integers(1, 10**4), max_size=3)


@st.composite
def library_services(draw: st.DrawFn) -> LibraryService:
    """A library section, with or without an interconnection between some provinces."""
    count = draw(st.integers(1, 10**5))
    per_province = draw(st.booleans())
    libraries = LibrariesSpec(
        counter=draw(channel_specs),
        self_service=draw(channel_specs),
        per_province=count if per_province else None,
        total=None if per_province else count,
        provinces=draw(province_counts),
        self_service_share=draw(shares),
    )
    link = None
    if draw(st.booleans()):
        members = tuple(
            draw(st.lists(st.sampled_from(PROVINCE_IDS), min_size=2, max_size=4, unique=True))
        )
        # No more interconnected libraries than the province has at full scale.
        full = full_scale_counts(
            TABLE, libraries.per_province, libraries.total, libraries.provinces
        )
        link = LibraryInterconnectionSpec(
            provinces=members,
            libraries={
                p: draw(st.integers(0, int(full[TABLE.index(p)])))
                for p in members
                if draw(st.booleans())
            },
            visitor_share=draw(shares),
            latency=draw(st.none() | duration_distributions),
        )
    return LibraryService(
        rate=draw(holder_rates),
        libraries=libraries,
        # Builtin profiles have demand in every hour, so some falls within opening hours.
        profile=draw(st.sampled_from(sorted(BUILTIN_PROFILES))),
        opening_hours=draw(opening_hours()),
        cross_province_share=draw(shares),
        resident_share=draw(shares),
        interconnection=link,
    )


@st.composite
def transit_stations(draw: st.DrawFn) -> TransitStationsSpec:
    """Stations given per province or as a national total."""
    count = draw(st.integers(1, 10**6))
    per_province = draw(st.booleans())
    return TransitStationsSpec(
        gates=draw(st.integers(1, 50)),
        tap_time=draw(duration_distributions),
        per_province=count if per_province else None,
        total=None if per_province else count,
    )


transit_services = st.builds(
    TransitService,
    rate=holder_rates,
    fare=money_distributions,
    stations=transit_stations(),
    upload_every=durations_s,
    profile=profiles,
    cross_province_share=shares,
    resident_share=shares,
    other_city_share=shares,
    clearing=st.builds(
        ClearingSpec, st.integers(1, 1000), duration_distributions, st.just(0.0) | durations_s
    ),
    interconnection=node_specs,
)

withdrawals_specs = st.builds(
    WithdrawalsSpec,
    rate=holder_rates,
    amount=money_distributions,
    counters=points_specs(),
    atms=points_specs(),
    profile=profiles,
    spike=st.builds(SpikeSpec, st.floats(0.0, 100.0), durations_s),
    balance_check_share=shares,
    counter_share=shares,
    counter_hours=opening_hours(),
)


@st.composite
def pension_payout_services(draw: st.DrawFn) -> PensionPayoutService:
    """A payout section with at least one batch, each sent before the deadline."""
    deadline = draw(st.floats(1.0, 86400.0))
    batch = st.builds(
        PayoutBatchSpec,
        recipients=st.floats(1.0, 1e9),
        amount=money_distributions,
        batch_time=st.floats(0.0, deadline, exclude_max=True),
    )
    names = draw(st.lists(st.sampled_from(PAYOUT_BATCHES), min_size=1, max_size=3, unique=True))
    return PensionPayoutService(
        payday=draw(st.integers(1, 31)),
        bank=BankSpec(
            draw(positive_floats),
            draw(st.dictionaries(st.sampled_from(PROVINCE_IDS), positive_floats, max_size=3)),
        ),
        paydays=draw(
            st.dictionaries(st.sampled_from(PROVINCE_IDS), st.integers(1, 31), max_size=3)
        ),
        deadline=deadline,
        withdrawals=draw(st.none() | withdrawals_specs),
        **{name: draw(batch) for name in names},
    )


# --- faults ----------------------------------------------------------------------------

times_s = st.just(0.0) | durations_s
"""A moment of the run (seconds from its start)."""


@st.composite
def faults_specs(draw: st.DrawFn, services: tuple[str, ...]) -> FaultsSpec:
    """Outages, random outages, link faults, partitions and reader faults on real names.

    Bank nodes exist only with a pension payout, readers only with transit.
    """
    nodes = ["national", "card_platform", *PROVINCE_IDS]
    banks = [f"bank:{p}" for p in PROVINCE_IDS] if "pension_payout" in services else []
    node = st.sampled_from(nodes + banks)
    link = st.builds(
        LinkFaultSpec,
        link=st.sampled_from(LINK_CLASSES),
        loss=st.floats(0.0, 1.0, exclude_min=True),
        added_latency=st.just(0.0) | durations_s,
        at=times_s,
        duration=st.none() | durations_s,
    ) | st.builds(LinkFaultSpec, link=st.sampled_from(LINK_CLASSES), added_latency=durations_s)
    pair = st.lists(st.sampled_from(nodes), min_size=2, max_size=2, unique=True).map(tuple)
    reader = st.builds(ReaderFaultSpec, st.sampled_from(PROVINCE_IDS), times_s, durations_s)
    return FaultsSpec(
        outages=tuple(draw(st.lists(st.builds(OutageSpec, node, times_s, durations_s),
                                    max_size=2))),
        random_outages=tuple(draw(st.lists(st.builds(RandomOutagesSpec, node, durations_s,
                                                     durations_s), max_size=2))),
        links=tuple(draw(st.lists(link, max_size=2))),
        partitions=tuple(draw(st.lists(st.builds(PartitionSpec, pair, times_s, durations_s),
                                       max_size=2))),
        readers=tuple(draw(st.lists(reader, max_size=2))) if "transit" in services else (),
    )  # fmt: skip


@st.composite
def card_desk_services(draw: st.DrawFn) -> CardDeskService:
    """A card-desk section."""
    return CardDeskService(
        rate=draw(holder_rates),
        desks=draw(points_specs()),
        profile=draw(st.sampled_from(sorted(BUILTIN_PROFILES))),
        opening_hours=draw(opening_hours()),
        instant_share=draw(shares),
    )


cards_specs = st.builds(
    CardsSpec,
    loss=holder_rates,
    report_delay=duration_distributions,
    desk_delay=duration_distributions,
    ecard_delay=duration_distributions,
    freeze_ecard=st.booleans(),
    expiry=holder_rates,
    hotlist_every=durations_s,
    hotlist_miss=st.floats(0.0, 1.0, exclude_max=True),
)
"""A card-states section."""


@st.composite
def fraud_specs(
    draw: st.DrawFn, medical: tuple[str, ...], cards: CardsSpec | None, transit: bool
) -> FraudSpec | None:
    """A fraud section at one of the scenario's medical services (none without one)."""
    if not medical:
        return None
    lost = cards is not None and cards.loss.per_holder_per_day > 0
    gates = draw(shares) if transit else 0.0
    return FraudSpec(
        service=draw(st.sampled_from(medical)),
        stolen=StolenSpec(draw(shares) if lost else 0.0, draw(st.floats(0.0, 100.0)),
                          draw(st.just(0.0) | durations_s), gates),
        cloned=ClonedSpec(draw(holder_rates), draw(st.floats(0.0, 100.0)),
                          draw(st.just(0.0) | durations_s)),
        replayed_qr=draw(shares),
        replay_within=draw(durations_s),
        lent=draw(shares),
        duplicate_bill=draw(shares),
        duplicate_after=draw(durations_s),
    )  # fmt: skip


rule_specs = st.builds(RuleSpec, st.just(0.0) | durations_s)
window_rule_specs = st.builds(WindowRuleSpec, durations_s, st.just(0.0) | durations_s)
detection_specs = st.builds(
    DetectionSpec,
    counter_sequence=st.none() | rule_specs,
    impossible_travel=st.none() | window_rule_specs,
    qr_single_use=st.none() | window_rule_specs,
    duplicate_bill=st.none() | window_rule_specs,
    refuse=st.booleans(),
)
"""A detection section: any rules, refusing or marking."""


SERVICE_STRATEGIES: dict[str, st.SearchStrategy[object]] = {
    "medical_outpatient": medical_services,
    "medical_inpatient": medical_services,
    "pharmacy": medical_services,
    "library": library_services(),
    "transit": transit_services,
    "pension_payout": pension_payout_services(),
    "card_desk": card_desk_services(),
}
"""The strategy of each service section, by scenario name."""


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """A complete scenario that passes every check of the loader."""
    enabled = draw(
        st.lists(st.sampled_from(SERVICE_NAMES), min_size=1, max_size=3, unique=True).map(
            lambda names: tuple(sorted(names, key=SERVICE_NAMES.index))
        )
    )
    medical_only = all(name in MEDICAL for name in enabled)
    region = (
        draw(st.none() | st.lists(st.sampled_from(PROVINCE_IDS), min_size=1, max_size=4,
                                  unique=True).map(tuple))
        if medical_only else None
    )  # fmt: skip
    simulated = region if region is not None else PROVINCE_IDS
    alone = len(simulated) < 2  # nowhere else for cross-province patients or migrants to be from
    sites = st.none() | st.lists(st.sampled_from(simulated), min_size=1, unique=True).map(tuple)
    drawn = {name: draw(SERVICE_STRATEGIES[name]) for name in enabled}
    for name in enabled:
        if name in MEDICAL:
            lonely = {"cross_province_share": 0.0} if alone else {}
            drawn[name] = attrs.evolve(drawn[name], sites=draw(sites), **lonely)
    services = ServicesSpec(**drawn)
    medical = tuple(name for name in enabled if name in MEDICAL)
    population = draw(population_specs)
    if alone:
        population = attrs.evolve(population, migrant_share=0.0, inflow={}, outflow={})
    horizon = draw(st.floats(1.0, 1e7))
    warmup = draw(st.floats(0.0, horizon, exclude_max=True) | st.just("auto"))
    # At most one million samples over the horizon (validate.cross_check).
    finest = horizon / 1e6 * (1 + 1e-9)
    sample_every = draw(st.floats(finest, 1e7))
    # One simulated holder at least (validate.cross_check): holders × scale ≥ 1.
    holders = population.holders
    if holders is None:
        holders = float(simulated_provinces_holders(region))
    scale = draw(st.floats(min(1.0, 1.0 / holders), 1.0))
    cards = draw(st.none() | cards_specs)
    return Scenario(
        name=draw(texts),
        start=draw(aware_datetimes()),
        horizon=horizon,
        seed=draw(seeds),
        description=draw(texts),
        warmup=warmup,
        scale=scale,
        load=draw(st.floats(0.0, 1e6, exclude_min=True)),
        provinces="builtin:2020",
        region=region,
        population=population,
        services=services,
        network=draw(network_specs),
        policy=draw(policy_specs(medical)) if medical else PolicySpec(),
        clearing=draw(fund_clearing_specs(horizon)),
        faults=draw(faults_specs(enabled)),
        outputs=OutputsSpec(draw(st.booleans()), sample_every),
        cards=cards,
        fraud=draw(st.none() | fraud_specs(medical, cards, "transit" in enabled)),
        detection=draw(st.none() | detection_specs),
    )


def simulated_provinces_holders(region: tuple[str, ...] | None) -> int:
    """Holders at full scale in the provinces a region simulates (all without one)."""
    table = load_provinces()
    return int(table.holders.sum() if region is None else table.subset(region).holders.sum())

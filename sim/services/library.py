"""Public libraries: the card as reading card, verified by the holder's home platform.

A loan or return queues at a library's counter or self-service terminal (two
channels, each with its own capacity and service time) while the library is
open. The terminal reads the card (an e-card QR code is first checked by the
card platform) and asks the holder's *home* platform to verify it: one round
trip to the site province's platform for a local holder. Provinces named in an
interconnection (Chengdu–Chongqing) verify each other's holders at their
interconnected libraries: the site platform forwards over a direct link to the
home platform and the answer comes back the same way. A holder from elsewhere,
or at a library outside the interconnection, cannot be verified and is turned
away (declined, ``not_interconnected``). With card states, a card frozen,
replaced or expired is refused by the platform that checks it (declined, with
the state as reason).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from sim.engine.calendar import Clock
from sim.engine.distributions import sampler, uniform_sampler
from sim.engine.kernel import Environment, call_later
from sim.network.nodes import Network, Role, Route
from sim.network.protocol import Answer, Protocol
from sim.network.settlement import REFUSAL_REASONS
from sim.outputs.metrics import percentiles
from sim.outputs.recorder import TransactionRecorder
from sim.outputs.text import ms
from sim.scenario.card_services import LibraryService
from sim.scenario.families import SERVICE_CODES
from sim.world.demand import (
    Columns,
    OpenHoursDemand,
    holder_columns,
    open_hours_load,
    poisson_hour,
)
from sim.world.domain import CardKind, Channel, Outcome, Reason
from sim.world.points import PointGroup, scaled_counts
from sim.world.population import Population
from sim.world.provinces import ProvinceTable, full_scale_counts
from sim.world.transaction import Transaction

if TYPE_CHECKING:
    from sim.scenario import Scenario
    from sim.services import ServiceContext, ServiceLoad, ServiceRuntime

__all__ = [
    "LibraryArrivals",
    "LibraryDesk",
    "LibraryRoutes",
    "build",
    "expected_load",
    "headline",
    "interconnected_share",
    "members",
]

CODE = SERVICE_CODES["library"]
CHANNELS = (Channel.COUNTER, Channel.SELF_SERVICE)
SETTLED, FALLBACK, DECLINED = Outcome.SETTLED, Outcome.FALLBACK, Outcome.DECLINED
NONE, VERIFY_TIMEOUT = Reason.NONE, Reason.VERIFY_TIMEOUT
NOT_INTERCONNECTED = Reason.NOT_INTERCONNECTED
VERIFIED, ECARD = Answer.VERIFIED, CardKind.ECARD
"""Members bound once: an enum attribute lookup per event is not free."""


def build(ctx: ServiceContext, name: str, spec: LibraryService) -> ServiceRuntime:
    """Libraries of every province, their arrival stream and desk."""
    from sim.services import ServiceRuntime

    table = ctx.provinces
    libs = spec.libraries
    full = full_scale_counts(table, libs.per_province, libs.total, libs.provinces)
    counts = scaled_counts(full, ctx.scenario.scale)
    groups = {
        channel: [
            PointGroup(ctx.env, name, pid, int(n), c.capacity, channel.name.lower())
            for pid, n in zip(table.ids, counts, strict=True)
        ]
        for channel, c in zip(CHANNELS, (libs.counter, libs.self_service), strict=True)
    }
    service_times = [
        sampler(libs.counter.service_time, ctx.generator(f"point:{name}:counter")),
        sampler(libs.self_service.service_time, ctx.generator(f"point:{name}:self_service")),
    ]
    link = spec.interconnection
    direct = ctx.network.link("backbone", sampler(
        link.latency
        if link is not None and link.latency is not None
        else ctx.scenario.network.backbone.latency,
        ctx.generator("link:library_interconnection"),
    ))  # fmt: skip
    access = ctx.network.link("access", sampler(ctx.scenario.network.access.latency,
                                                ctx.generator("link:access:library")))  # fmt: skip
    desk = LibraryDesk(
        ctx.env,
        [[g.points for g in groups[ch]] for ch in CHANNELS],
        service_times,
        LibraryRoutes(ctx.network, access, direct),
        interconnected_share(spec, table, full),
        members(spec, table),
        ctx.protocol,
        ctx.recorder,
        ctx.generator(f"interconnection:{name}"),
        ctx.window_s(),
    )
    arrivals = LibraryArrivals(
        spec, table, ctx.population, counts, ctx.clock, ctx.generator(f"demand:{name}")
    )
    return ServiceRuntime(
        arrivals=[arrivals],
        handlers={CODE: desk.arrive},
        stations=[g.stats for ch in CHANNELS for g in groups[ch]],
        figures=lambda: desk.figures(spec, table, full),
    )


def expected_load(
    scenario: Scenario, spec: LibraryService, holders: float, table: ProvinceTable
) -> ServiceLoad:
    """Expected loans and returns, their events and the libraries, without building them.

    Demand falls in opening hours only (:func:`sim.world.demand.open_hours_load`); each
    visit is an arrival and a service time, an e-card's check with the card
    platform, and the home platform's verification: one node for a local holder,
    three (site, home, site) for an interconnected one. Visitors who cannot be
    verified are counted as if they were, an overestimate of a few per cent.
    """
    from sim.services import ServiceLoad, exchange_events, scaled_count

    hours = (float(spec.opening_hours.opens), float(spec.opening_hours.closes))
    visits, busiest = open_hours_load(spec.rate.per_holder_per_day, spec.profile, *hours,
                                      holders, scenario.start, scenario.horizon)  # fmt: skip
    link = spec.interconnection
    visitors = spec.cross_province_share
    if link is not None:
        visitors += (1.0 - visitors) * link.visitor_share
    libs = spec.libraries
    libraries = scaled_count(libs.per_province, libs.total, scenario.scale, len(table))
    return ServiceLoad(
        transactions=visits,
        events_per_transaction=2.0
        + scenario.population.ecard_share * exchange_events(1)
        + (1.0 - visitors) * exchange_events(1)
        + visitors * exchange_events(3),
        exchanges_per_transaction=scenario.population.ecard_share + 1.0,
        busiest_hour=busiest,
        points=len(CHANNELS) * libraries,
    )


def interconnected_share(
    spec: LibraryService, table: ProvinceTable, full: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Per site province, the share of its libraries that verify interconnected holders."""
    share = np.zeros(len(table))
    link = spec.interconnection
    if link is not None:
        for pid, count in link.libraries.items():
            i = table.index(pid)
            share[i] = min(1.0, count / max(int(full[i]), 1))
    return share


def members(spec: LibraryService, table: ProvinceTable) -> npt.NDArray[np.bool_]:
    """Per province, whether the interconnection names it."""
    member = np.zeros(len(table), dtype=np.bool_)
    if spec.interconnection is not None:
        member[[table.index(p) for p in spec.interconnection.provinces]] = True
    return member


class LibraryRoutes:
    """Verification routes: the home platform, directly or across an interconnection."""

    def __init__(
        self, network: Network, access: Callable[[], float], direct: Callable[[], float]
    ) -> None:
        self.network = network
        self.access = access
        self.direct = direct
        self._routes: dict[tuple[int, int], Route] = {}

    def route(self, site: int, home: int) -> Route:
        """Site platform verifies locally; otherwise site → home platform → site."""
        key = (site, home)
        route = self._routes.get(key)
        if route is None:
            here, there = self.network.provincial[site], self.network.provincial[home]
            if site == home:
                route = Route((here,), (Role.VERIFY,), (self.access, self.access))
            else:
                route = Route(
                    (here, there, here),
                    (Role.FORWARD, Role.VERIFY, Role.FORWARD),
                    (self.access, self.direct, self.direct, self.access),
                )
            self._routes[key] = route
        return route


class LibraryArrivals(OpenHoursDemand):
    """Loans and returns while libraries are open: local holders, visitors, partners."""

    def __init__(
        self,
        spec: LibraryService,
        table: ProvinceTable,
        population: Population,
        library_counts: npt.NDArray[np.int64],
        clock: Clock,
        rng: np.random.Generator,
    ) -> None:
        hours = spec.opening_hours
        super().__init__(spec.rate.per_holder_per_day, spec.profile, hours.opens, hours.closes,
                         population, clock)  # fmt: skip
        self.spec = spec
        self.library_counts = library_counts
        self.rng = rng
        link = spec.interconnection
        self.members = np.array(
            [table.index(p) for p in link.provinces] if link else [], dtype=np.int64
        )
        self.visitor_share = link.visitor_share if link else 0.0

    def draw(self, hour: int, t0_s: float, t1_s: float) -> Columns:
        """Arrivals in the open part of ``[t0_s, t1_s)``, their holders, channel and library."""
        spec, rng, population = self.spec, self.rng, self.population
        a, b = self.open_part(t0_s, t1_s)
        site, time_s = poisson_hour(self.base_rate * self.weights[hour], a, b, rng)
        n = site.size
        holder = population.draw_local(site, rng)
        cross = rng.random(n) < spec.cross_province_share
        resident = rng.random(n) < spec.resident_share
        if cross.any():
            holder[cross] = population.draw_cross(site[cross], resident[cross], rng)
        partner = ~cross & np.isin(site, self.members) & (rng.random(n) < self.visitor_share)
        if partner.any():
            holder[partner] = population.draw_local(self._partners(site[partner]), rng)
        self_service = rng.random(n) < spec.libraries.self_service_share
        return {
            **holder_columns(CODE, time_s, site, holder, population),
            "point": (rng.random(n) * self.library_counts[site]).astype(np.int64),
            "channel": np.where(self_service, Channel.SELF_SERVICE, Channel.COUNTER).astype(
                np.uint8
            ),
        }

    def _partners(self, site: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """For each site, another interconnected province, in proportion to its holders."""
        holders = self.population.holders_per_province.astype(np.float64)
        home = np.empty_like(site)
        for member in np.unique(site):
            here = site == member
            others = self.members[self.members != member]
            weights = holders[others] / holders[others].sum()
            home[here] = self.rng.choice(others, size=int(here.sum()), p=weights)
        return home


class LibraryDesk:
    """Runs loans and returns at every library: queue, card check, verification, service."""

    def __init__(
        self,
        env: Environment,
        points: list[list[list[Any]]],
        service_times: list[Callable[[], float]],
        routes: LibraryRoutes,
        interconnected: npt.NDArray[np.float64],
        member: npt.NDArray[np.bool_],
        protocol: Protocol,
        recorder: TransactionRecorder,
        rng: np.random.Generator,
        window: tuple[float, float],
    ) -> None:
        self.env = env
        self.points = points
        """``points[channel][province][library]``: the station of each library's channel."""
        self.service_times = service_times
        self.routes = routes
        self.interconnected: list[float] = interconnected.tolist()
        """Per site province, the share of its libraries in the interconnection."""
        self.member: list[bool] = member.tolist()
        """Per province, whether it is named in the interconnection."""
        self.protocol = protocol
        self.recorder = recorder
        self.uniform = uniform_sampler(rng)
        self.window = window
        self.verify_local = array("d")
        self.verify_interconnected = array("d")
        self.counts = {"visitors": 0, "verified_interconnected": 0, "not_interconnected": 0}

    def arrive(self, txn: Transaction) -> None:
        """A holder arrives at their library's counter or terminal and queues."""
        txn.station = self.points[txn.batch.channel[txn.row]][txn.site][txn.point]
        txn.station.request(txn, self._start)

    def _start(self, txn: Transaction) -> None:
        txn.start_s = self.env.now
        if txn.cross and not self._accepts(txn):
            self._end(txn, DECLINED, NOT_INTERCONNECTED)
        elif txn.card == ECARD:
            self.protocol.verify(txn, self._qr_checked)
        else:
            self._ask_home(txn)

    def _accepts(self, txn: Transaction) -> bool:
        """An interconnected library of the site province, for a holder of a partner province.

        Whether this library is one of the site's interconnected libraries is drawn
        with their share, only when it matters.
        """
        share = self.interconnected[txn.site]
        return self.member[txn.home] and share > 0 and self.uniform() < share

    def _qr_checked(self, txn: Transaction, answer: Answer) -> None:
        if answer is VERIFIED:
            self._ask_home(txn)
        elif answer in REFUSAL_REASONS:  # the card itself is refused
            self._end(txn, DECLINED, REFUSAL_REASONS[answer])
        else:
            self._end(txn, FALLBACK, VERIFY_TIMEOUT)

    def _ask_home(self, txn: Transaction) -> None:
        txn.asked_s = self.env.now
        self.protocol.request(txn, self.routes.route(txn.site, txn.home), self._verified)

    def _verified(self, txn: Transaction, answer: Answer) -> None:
        txn.settle_s = self.env.now - txn.asked_s
        if answer is not VERIFIED:
            refused = REFUSAL_REASONS.get(answer)
            if refused is not None:  # the home platform refused the card itself
                self._end(txn, DECLINED, refused)
            else:
                self._end(txn, FALLBACK, VERIFY_TIMEOUT)
            return
        draw = self.service_times[txn.batch.channel[txn.row]]
        call_later(self.env, draw(), self._served, txn, CODE)

    def _served(self, event: Any) -> None:
        self._end(event.value, SETTLED, NONE)

    def _end(self, txn: Transaction, outcome: Outcome, reason: Reason) -> None:
        txn.outcome = outcome
        txn.reason = reason
        txn.end_s = txn.leave_s = self.env.now
        txn.station.release()
        self.recorder.finish(txn)
        if self.window[0] <= txn.arrival_s < self.window[1]:
            self._count(txn)

    def _count(self, txn: Transaction) -> None:
        if txn.cross:
            self.counts["visitors"] += 1
            if txn.reason is NOT_INTERCONNECTED:
                self.counts["not_interconnected"] += 1
        if txn.outcome is SETTLED:
            if txn.cross:
                self.counts["verified_interconnected"] += 1
                self.verify_interconnected.append(txn.settle_s)
            else:
                self.verify_local.append(txn.settle_s)

    def figures(
        self, spec: LibraryService, table: ProvinceTable, full: npt.NDArray[np.int64]
    ) -> dict[str, Any]:
        """Verification latency (local, interconnected) and the interconnection's reach."""
        link = spec.interconnection
        members = link.provinces if link is not None else ()
        return {
            "verification_s": {
                "local": percentiles(np.frombuffer(self.verify_local)),
                "interconnected": percentiles(np.frombuffer(self.verify_interconnected)),
            },
            **self.counts,
            "interconnection": {
                pid: {
                    "libraries": int(full[table.index(pid)]),
                    "interconnected": link.libraries.get(pid, 0) if link is not None else 0,
                    "share": self.interconnected[table.index(pid)],
                }
                for pid in members
            },
        }


def headline(figures: dict[str, Any]) -> list[str]:
    """The family's console line: verification latency and the interconnection's reach."""
    verify = figures["verification_s"]
    return [
        f"library verification p99: local {ms(verify['local']['p99'])} ms, "
        f"interconnected {ms(verify['interconnected']['p99'])} ms; visitors "
        f"{figures['visitors']:,} ({figures['not_interconnected']:,} not interconnected)"
    ]

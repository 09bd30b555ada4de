"""Card service desks: a lost or damaged card replaced over the counter.

A holder queues at a desk of their own province while it is open (the
replacement is the home province's business: holders are drawn from the site
province). At the counter the clerk asks the province's platform to freeze the
old card and register the new one (one verification round trip); if the
platform answers, the case takes its service time and the new card is printed
on the spot or the application is taken for a card made centrally
(``instant_share``). If the platform does not answer within the retries, the
holder leaves without a card (fallback, ``verify_timeout``) and comes back
another day, outside the run.

With card states (:mod:`sim.world.cards`) the holders whose card was lost or
expired come too, at the first opening hour after they are due
(``cards.desk_delay``), on top of the ``rate``; their new card works from the
moment the desk has served them.

This family is also the worked example of ``docs/families.md``: its section is
:class:`sim.scenario.card_desk.CardDeskService`, and one entry of
:data:`sim.scenario.families.FAMILIES` makes the schema, the build, the guard,
the outputs, the summary and the console know it. It moves no money (a
replacement is free in most provinces; a fee would be a ``money`` rule).
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
from sim.outputs.metrics import percentiles
from sim.outputs.recorder import TransactionRecorder
from sim.outputs.text import secs
from sim.scenario.card_desk import CardDeskService
from sim.scenario.families import SERVICE_CODES
from sim.world.cards import CardBook
from sim.world.demand import (
    Columns,
    OpenHoursDemand,
    holder_columns,
    open_hours_load,
    poisson_hour,
)
from sim.world.domain import Channel, Outcome, Reason
from sim.world.points import PointGroup, scaled_counts
from sim.world.population import Population
from sim.world.provinces import ProvinceTable, full_scale_counts
from sim.world.transaction import Transaction

if TYPE_CHECKING:
    from sim.scenario import Scenario
    from sim.services import ServiceContext, ServiceLoad, ServiceRuntime

__all__ = ["CardDesks", "DeskArrivals", "DueAtDesk", "build", "expected_load", "headline"]

CODE = SERVICE_CODES["card_replacement"]
SETTLED, FALLBACK = Outcome.SETTLED, Outcome.FALLBACK
NONE, VERIFY_TIMEOUT = Reason.NONE, Reason.VERIFY_TIMEOUT
VERIFIED = Answer.VERIFIED


def build(ctx: ServiceContext, name: str, spec: CardDeskService) -> ServiceRuntime:
    """The desks of every province, their arrival stream and their counters."""
    from sim.services import ServiceRuntime

    table = ctx.provinces
    desks = spec.desks
    full = full_scale_counts(table, desks.per_province, desks.total, {})
    counts = scaled_counts(full, ctx.scenario.scale)
    groups = [
        PointGroup(ctx.env, name, pid, int(n), desks.capacity)
        for pid, n in zip(table.ids, counts, strict=True)
    ]
    access = ctx.network.link("access", sampler(ctx.scenario.network.access.latency,
                                                ctx.generator(f"link:access:{name}")))  # fmt: skip
    counter = CardDesks(
        ctx.env,
        [g.points for g in groups],
        sampler(desks.service_time, ctx.generator(f"point:{name}")),
        _Routes(ctx.network, access),
        spec.instant_share,
        ctx.protocol,
        ctx.recorder,
        ctx.generator(f"instant:{name}"),
        ctx.window_s(),
    )
    arrivals = DeskArrivals(
        spec, ctx.population, counts, ctx.clock, ctx.generator(f"demand:{name}")
    )
    if ctx.cards is not None:
        arrivals.due = DueAtDesk(
            ctx.cards, spec, ctx.population, counts, ctx.clock, ctx.generator("cards:desk")
        )
        counter.cards = ctx.cards
    return ServiceRuntime(
        arrivals=[arrivals],
        handlers={CODE: counter.arrive},
        stations=[g.stats for g in groups],
        figures=counter.figures,
    )


def expected_load(
    scenario: Scenario, spec: CardDeskService, holders: float, table: ProvinceTable
) -> ServiceLoad:
    """Expected cases, their events and the desks, from the scenario alone.

    A case is an arrival, the platform's round trip through one node and the
    counter's service time; demand falls in opening hours only.
    """
    from sim.services import ServiceLoad, exchange_events, scaled_count

    hours = (float(spec.opening_hours.opens), float(spec.opening_hours.closes))
    cases, busiest = open_hours_load(spec.rate.per_holder_per_day, spec.profile, *hours,
                                     holders, scenario.start, scenario.horizon)  # fmt: skip
    desks = scaled_count(spec.desks.per_province, spec.desks.total, scenario.scale, len(table))
    return ServiceLoad(
        transactions=cases,
        events_per_transaction=2.0 + exchange_events(1),
        exchanges_per_transaction=1.0,
        busiest_hour=busiest,
        points=desks,
    )


def headline(figures: dict[str, Any]) -> list[str]:
    """The family's console line: cases, cards printed on the spot, the counter's waits."""
    wait = figures["desk_wait_s"]
    return [
        f"card desks: {figures['cases']:,} replacements ({figures['issued_on_the_spot']:,} "
        f"printed on the spot, {figures['applications']:,} applications, "
        f"{figures['not_checked']:,} sent home unchecked); desk wait p50 "
        f"{secs(wait['p50'])} s, p99 {secs(wait['p99'])} s"
    ]


class _Routes:
    """The one route a desk uses: its own province's platform, which holds the card."""

    def __init__(self, network: Network, access: Callable[[], float]) -> None:
        self.network = network
        self.access = access
        self._routes: dict[int, Route] = {}

    def route(self, site: int) -> Route:
        route = self._routes.get(site)
        if route is None:
            here = self.network.provincial[site]
            route = self._routes[site] = Route((here,), (Role.VERIFY,), (self.access, self.access))
        return route


class DeskArrivals(OpenHoursDemand):
    """Replacement cases while the desks are open, from the holders of each province."""

    def __init__(
        self,
        spec: CardDeskService,
        population: Population,
        desk_counts: npt.NDArray[np.int64],
        clock: Clock,
        rng: np.random.Generator,
    ) -> None:
        hours = spec.opening_hours
        super().__init__(spec.rate.per_holder_per_day, spec.profile, hours.opens, hours.closes,
                         population, clock)  # fmt: skip
        self.desk_counts = desk_counts
        self.rng = rng
        self.due: DueAtDesk | None = None
        """The holders of the card book due at a desk, if the scenario has card states."""

    def draw(self, hour: int, t0_s: float, t1_s: float) -> Columns:
        """Cases in the open part of ``[t0_s, t1_s)``: their holders and desks."""
        a, b = self.open_part(t0_s, t1_s)
        site, time_s = poisson_hour(self.base_rate * self.weights[hour], a, b, self.rng)
        holder = self.population.draw_local(site, self.rng)
        point = (self.rng.random(site.size) * self.desk_counts[site]).astype(np.int64)
        if self.due is not None and a < b:
            more_time, more_holder, more_point = self.due.draw(a, b)
            time_s = np.concatenate((time_s, more_time))
            holder = np.concatenate((holder, more_holder))
            site = np.concatenate((site, self.population.home[more_holder].astype(np.int64)))
            point = np.concatenate((point, more_point))
        return {
            **holder_columns(CODE, time_s, site, holder, self.population),
            "point": point,
            "channel": np.full(site.size, Channel.COUNTER, dtype=np.uint8),
        }


class DueAtDesk:
    """The card book's holders at a desk of their home province, in its opening hours.

    A holder due while the desks are closed comes when they next open; their desk
    is drawn from the book's own stream, so the desk's other cases are unchanged.
    """

    def __init__(self, cards: CardBook, spec: CardDeskService, population: Population,
                 desk_counts: npt.NDArray[np.int64], clock: Clock,
                 rng: np.random.Generator) -> None:  # fmt: skip
        opens, closes = float(spec.opening_hours.opens), float(spec.opening_hours.closes)
        due = cards.desk_s
        of_day = clock.second_of_day(due)
        wait = np.where(of_day < opens, opens - of_day,
                        np.where(of_day >= closes, 86400.0 - of_day + opens, 0.0))  # fmt: skip
        self.time_s = np.where(np.isinf(cards.renewed_s), due + wait, np.inf)
        self.holder = cards.holder
        self.home = population.home[cards.holder].astype(np.int64)
        self.desk_counts = desk_counts
        self.rng = rng

    def draw(self, a: float, b: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64],
                                                 npt.NDArray[np.int64]]:  # fmt: skip
        """(times, holders, desks) of the visits in ``[a, b)``."""
        rows = np.flatnonzero((self.time_s >= a) & (self.time_s < b))
        home = self.home[rows]
        desk = (self.rng.random(rows.size) * self.desk_counts[home]).astype(np.int64)
        return self.time_s[rows], self.holder[rows], desk


class CardDesks:
    """Runs the cases at every desk: queue, the platform's check, the counter's work."""

    def __init__(
        self,
        env: Environment,
        points: list[list[Any]],
        service_time: Callable[[], float],
        routes: _Routes,
        instant_share: float,
        protocol: Protocol,
        recorder: TransactionRecorder,
        rng: np.random.Generator,
        window: tuple[float, float],
    ) -> None:
        self.env = env
        self.points = points
        """``points[province][desk]``: the station of each desk."""
        self.service_time = service_time
        self.routes = routes
        self.instant_share = instant_share
        self.protocol = protocol
        self.recorder = recorder
        self.uniform = uniform_sampler(rng)
        self.window = window
        self.waits = array("d")
        self.counts = {"cases": 0, "issued_on_the_spot": 0, "applications": 0, "not_checked": 0}
        self.cards: CardBook | None = None
        """The card book told of each card issued, if the scenario has card states."""

    def arrive(self, txn: Transaction) -> None:
        """A holder comes to a desk of their province and queues."""
        txn.station = self.points[txn.site][txn.point]
        txn.station.request(txn, self._start)

    def _start(self, txn: Transaction) -> None:
        txn.start_s = txn.asked_s = self.env.now
        self.protocol.request(txn, self.routes.route(txn.site), self._checked)

    def _checked(self, txn: Transaction, answer: Answer) -> None:
        txn.settle_s = self.env.now - txn.asked_s
        if answer is not VERIFIED:
            self._end(txn, FALLBACK, VERIFY_TIMEOUT)
            return
        call_later(self.env, self.service_time(), self._served, txn, CODE)

    def _served(self, event: Any) -> None:
        txn: Transaction = event.value
        if self.cards is not None:
            self.cards.renew(txn.holder, self.env.now)
        self._end(txn, SETTLED, NONE)

    def _end(self, txn: Transaction, outcome: Outcome, reason: Reason) -> None:
        txn.outcome = outcome
        txn.reason = reason
        txn.end_s = txn.leave_s = self.env.now
        txn.station.release()
        self.recorder.finish(txn)
        if self.window[0] <= txn.arrival_s < self.window[1]:
            self._count(txn, outcome)

    def _count(self, txn: Transaction, outcome: Outcome) -> None:
        self.counts["cases"] += 1
        self.waits.append(txn.start_s - txn.arrival_s)
        if outcome is not SETTLED:
            self.counts["not_checked"] += 1
        elif self.uniform() < self.instant_share:
            self.counts["issued_on_the_spot"] += 1
        else:
            self.counts["applications"] += 1

    def figures(self) -> dict[str, Any]:
        """Cases by how they ended, and the wait for a counter (``summary.json``)."""
        return {**self.counts, "desk_wait_s": percentiles(np.frombuffer(self.waits))}

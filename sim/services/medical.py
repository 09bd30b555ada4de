"""Medical settlement at hospitals and pharmacies.

A visit holds one counter from start to end: the cashier reads the card (an
e-card QR code is first verified online with the card platform), spends the
service time on the bill, then sends the settlement request and waits for the
answer. Settled: the patient pays the personal share. Not filed, out of
retries or unverified: the patient pays in full and claims later (fallback).
Ineligible, or a card frozen, replaced or expired (with card states, refused by
the card or home platform): declined. A patient who finds the point's queue at
its limit is turned away at once, unserved: declined with reason ``blocked``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from sim.engine.calendar import Clock, hourly_weights
from sim.engine.distributions import sample_fen, sampler
from sim.engine.kernel import Environment, call_later
from sim.network.background import BackgroundFlow
from sim.network.protocol import Answer, Protocol
from sim.network.settlement import REFUSAL_REASONS
from sim.outputs.recorder import TransactionRecorder
from sim.scenario import Scenario
from sim.scenario.families import SERVICE_CODES
from sim.scenario.schema import MedicalService, PopulationSpec
from sim.world.demand import Columns, arrival_rates, holder_columns, poisson_hour
from sim.world.domain import CardKind, Outcome, Reason
from sim.world.points import PointGroup, point_counts
from sim.world.population import Population
from sim.world.provinces import ProvinceTable, apportion
from sim.world.transaction import Transaction

if TYPE_CHECKING:
    from sim.services import ServiceContext, ServiceLoad, ServiceRuntime

__all__ = ["MedicalArrivals", "MedicalDesk", "build", "events_per_transaction", "expected_load"]


def build(ctx: ServiceContext, name: str, spec: MedicalService) -> ServiceRuntime:
    """Points, arrival stream and desk of one medical service."""
    from sim.services import ServiceRuntime

    scale = ctx.scenario.scale
    counts = point_counts(spec.points, ctx.provinces.holders, scale)
    groups = [PointGroup(ctx.env, name, pid, int(n), spec.points.capacity,
                         queue_limit=spec.points.queue_limit)
              for pid, n in zip(ctx.provinces.ids, counts, strict=True)]  # fmt: skip
    service_time = sampler(spec.points.service_time, ctx.generator(f"point:{name}"))
    arrivals = MedicalArrivals(name, spec, ctx.population, counts, ctx.generator(f"demand:{name}"),
                               ctx.scenario.population, ctx.provinces.ids)  # fmt: skip
    for p, group in enumerate(groups):
        group.networked = arrivals.networked_points(p, spec.networked_share)
    desk = MedicalDesk(ctx.env, groups, service_time, ctx.protocol, ctx.recorder,
                       on_cross_settled=ctx.clearing.record)  # fmt: skip
    background = background_flows(ctx, name, spec, arrivals) if ctx.full_population else []
    return ServiceRuntime(arrivals=[arrivals], handlers={SERVICE_CODES[name]: desk.arrive},
                          stations=[g.stats for g in groups], background=background)  # fmt: skip


def background_flows(
    ctx: ServiceContext, name: str, spec: MedicalService, simulated: MedicalArrivals
) -> list[BackgroundFlow]:
    """The settlement and e-card requests of the holders not simulated.

    The full-scale streams are those of the same service over every holder and point
    (:class:`MedicalArrivals` at ``scale: 1``); the background is what the simulated
    holders leave of them, per site (local settlement), per (site, home) (cross-province,
    at networked points) and for the card platform (e-card QR codes). A request is sent
    when its visit's counter time is over (drawn from the points' service time); the
    queue at the counter is the foreground's to simulate.
    """
    population = ctx.full_population
    assert population is not None
    full = MedicalArrivals(name, spec, population, point_counts(spec.points, ctx.provinces.holders,
                           1.0), np.random.default_rng(0), ctx.scenario.population,
                           ctx.provinces.ids)  # fmt: skip
    network, ids, weights = ctx.network, ctx.provinces.ids, simulated.weights
    counter, settle = spec.points.service_time, spec.settlement.service_time
    flows = []
    local = np.maximum(full.local_rate - simulated.local_rate, 0.0)
    for p, rate in enumerate(local.tolist()):
        route, reversal = network.settlement_route(p, p), network.reversal_route(p, p)
        label = f"{name} local {ids[p]}"
        flows.append(BackgroundFlow(route, rate, weights, counter, settle, reversal, label))
    homes_full = population.cross_home_shares(spec.resident_share, full.outflow)
    homes_simulated = simulated.population.cross_home_shares(spec.resident_share,
                                                             simulated.outflow)  # fmt: skip
    cross = spec.networked_share * np.maximum(
        full.cross_rate[:, None] * homes_full - simulated.cross_rate[:, None] * homes_simulated,
        0.0,
    )
    sites, homes = np.nonzero(cross)
    for p, h in zip(sites.tolist(), homes.tolist(), strict=True):  # Python ints, as p above
        flows.append(BackgroundFlow(
            network.settlement_route(p, h), float(cross[p, h]), weights, counter, settle,
            network.reversal_route(p, h), f"{name} cross {ids[p]}<-{ids[h]}",
        ))  # fmt: skip
    everyone = full.local_rate.sum() + full.cross_rate.sum()
    sampled = simulated.local_rate.sum() + simulated.cross_rate.sum()
    ecard = ctx.scenario.population.ecard_share * max(float(everyone - sampled), 0.0)
    flows.append(BackgroundFlow(network.verify_route, ecard, weights, None, None, None,
                                f"{name} e-card verification"))  # fmt: skip
    return flows


def expected_load(
    scenario: Scenario, spec: MedicalService, holders: float, table: ProvinceTable
) -> ServiceLoad:
    """Expected transactions, events and points of one medical service, without building it.

    Arrivals per second at profile weight 1 are :func:`sim.world.demand.arrival_rates`
    of the holders and points per province (in floats: expected counts, not the
    model's rounded ones), as in :class:`MedicalArrivals` (cross-province patients
    only move the same volume between sites), integrated over the whole horizon.
    """
    from sim.services import ServiceLoad, scaled_count

    spec_points, scale = spec.points, scenario.scale
    share = table.holders / table.holders.sum()
    if spec_points.per_province is not None:
        points = np.maximum(np.full(share.size, spec_points.per_province * scale), 1.0)
    else:
        points = np.maximum(share * float(spec_points.total or 0) * scale, 1.0)
    per_s = float(
        arrival_rates(spec, table.ids, cast(Any, share * holders), cast(Any, points)).sum()
    )
    weights = hourly_weights(spec.profile)
    seconds = Clock(scenario.start).weighted_seconds(weights, float(scenario.horizon))
    ecard, cross = scenario.population.ecard_share, spec.cross_province_share
    return ServiceLoad(
        transactions=per_s * seconds,
        events_per_transaction=events_per_transaction(spec, ecard),
        exchanges_per_transaction=ecard + 1.0 - cross + cross * spec.networked_share,
        busiest_hour=per_s * float(weights.max()) * 3600.0,
        points=scaled_count(spec_points.per_province, spec_points.total, scale, len(table)),
        memory_bytes=PAYER_BYTES * per_s * seconds,
        background=True,
    )


PAYER_BYTES = 24.0
"""Memory per settled visit for the year to date (a payer's 16 bytes in sorted arrays,
and the dict of recent payers in front, at most a sixteenth of them; payers are at
most the visits) and the ledger's accounts of the points paid."""


def events_per_transaction(spec: MedicalService, ecard_share: float) -> float:
    """Simulation events one visit schedules, on average, when nothing times out.

    The arrival and the end of the counter's service time; for an e-card, the
    verification exchange; then the settlement exchange: the local route visits
    one node, the cross-province route five (treatment, national, home, national,
    treatment; see :meth:`sim.network.nodes.Network.settlement_route`). A cross-province
    patient at a point not connected for direct settlement sends no request.
    Retries after timeouts add more.
    """
    from sim.services import exchange_events

    cross = spec.cross_province_share
    local_route, cross_route = exchange_events(1), exchange_events(5)
    settle = (1.0 - cross) * local_route + cross * spec.networked_share * cross_route
    return 2.0 + ecard_share * exchange_events(1) + settle


class MedicalArrivals:
    """Patients of one medical service: local or cross-province, filed or not, and their bill."""

    def __init__(
        self,
        name: str,
        spec: MedicalService,
        population: Population,
        point_counts: npt.NDArray[np.int64],
        rng: np.random.Generator,
        flows: PopulationSpec,
        province_ids: tuple[str, ...],
    ) -> None:
        self.code = SERVICE_CODES[name]
        self.spec = spec
        self.population = population
        self.point_counts = point_counts
        self.rng = rng
        self.weights = hourly_weights(spec.profile)
        self.level_counts, self.level_start, self.level_cum = _levels(
            point_counts, spec.points.levels.as_tuple()
        )
        self.base_rate = arrival_rates(spec, province_ids, population.holders_per_province,
                                       point_counts)  # fmt: skip
        """Arrivals per second per province at profile weight 1."""
        pull = _weights(flows.inflow, province_ids)
        self.local_rate = self.base_rate * (1.0 - spec.cross_province_share)
        self.cross_rate = (self.base_rate.sum() * spec.cross_province_share
                           * _normalised(self.base_rate * pull))  # fmt: skip
        """Cross-province patients: the same total, spread over sites by ``inflow``."""
        self.outflow = _weights(flows.outflow, province_ids)

    def networked_points(self, province: int, share: float) -> list[bool]:
        """Which of a province's points do cross-province direct settlement.

        The same share of each level's points (rounded half up), the first ones of each.
        """
        flags = [False] * int(self.point_counts[province])
        for start, count in zip(self.level_start[province], self.level_counts[province],
                                strict=True):  # fmt: skip
            for i in range(int(np.floor(share * count + 0.5))):
                flags[int(start) + i] = True
        return flags

    def expected(self, hour: int, t0_s: float, t1_s: float) -> float:
        """Expected arrivals in the piece of the run."""
        total = self.local_rate.sum() + self.cross_rate.sum()
        return float(total * self.weights[hour] * (t1_s - t0_s))

    def draw(self, hour: int, t0_s: float, t1_s: float) -> Columns:
        """Arrivals in ``[t0_s, t1_s)`` with everything the visit needs."""
        spec, rng, population = self.spec, self.rng, self.population
        weight = self.weights[hour]
        local_site, local_time = poisson_hour(self.local_rate * weight, t0_s, t1_s, rng)
        cross_site, cross_time = poisson_hour(self.cross_rate * weight, t0_s, t1_s, rng)
        site = np.concatenate((local_site, cross_site))
        time_s = np.concatenate((local_time, cross_time))
        n = site.size
        cross = np.arange(n) >= local_site.size
        resident = rng.random(cross_site.size) < spec.resident_share
        holder = np.concatenate((
            population.draw_local(local_site, rng),
            population.draw_cross(cross_site, resident, rng, self.outflow),
        ))  # fmt: skip
        return {
            **holder_columns(self.code, time_s, site, holder, population),
            "filed": ~cross | (rng.random(n) < spec.filed_in_advance),
            "ineligible": rng.random(n) < spec.ineligible_share,
            "amount_fen": sample_fen(spec.amount, rng, n),
            **self._points(site, rng),
        }

    def points_at(self, site: npt.NDArray[np.int64], rng: np.random.Generator) -> Columns:
        """A point (and its level) at each site, drawn from ``rng`` (the fraud's rows)."""
        return self._points(site, rng)

    def _points(self, site: npt.NDArray[np.int64], rng: np.random.Generator) -> Columns:
        """Each patient's hospital level (by the level shares) and a point of that level."""
        level = (rng.random(site.size)[:, None] >= self.level_cum[site, :2]).sum(axis=1)
        offset = (rng.random(site.size) * self.level_counts[site, level]).astype(np.int64)
        return {
            "point": self.level_start[site, level] + offset,
            "level": (level + 1).astype(np.uint8),
        }


def _weights(table: dict[str, float], province_ids: tuple[str, ...]) -> npt.NDArray[np.float64]:
    """Per-province weights from a sparse table (1 where not listed)."""
    return np.array([table.get(pid, 1.0) for pid in province_ids], dtype=np.float64)


def _normalised(weights: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    total = weights.sum()
    return weights / total if total > 0 else weights


def _levels(
    counts: npt.NDArray[np.int64], shares: tuple[float, float, float]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Points per level in each province, each level's first point, and level odds.

    Levels without points in a province are never chosen there.
    """
    weights = np.asarray(shares, dtype=np.float64)
    per_level = np.array([apportion(weights, float(n)) for n in counts], dtype=np.int64)
    start = np.cumsum(per_level, axis=1) - per_level
    chosen = weights * (per_level > 0)
    cum = np.cumsum(chosen, axis=1) / chosen.sum(axis=1, keepdims=True)
    return per_level, start, cum


_OUTCOMES = {
    Answer.SETTLED: (Outcome.SETTLED, Reason.NONE),
    Answer.NOT_FILED: (Outcome.FALLBACK, Reason.NOT_FILED),
    Answer.INELIGIBLE: (Outcome.DECLINED, Reason.INELIGIBLE),
    Answer.TIMEOUT: (Outcome.FALLBACK, Reason.TIMEOUT),
    **{answer: (Outcome.DECLINED, reason) for answer, reason in REFUSAL_REASONS.items()},
}


class MedicalDesk:
    """Runs the visits of one medical service across all provinces."""

    def __init__(
        self,
        env: Environment,
        groups: list[PointGroup],
        service_time: Callable[[], float],
        protocol: Protocol,
        recorder: TransactionRecorder,
        on_cross_settled: Callable[[float, int, int, int], None] | None = None,
    ) -> None:
        self.env = env
        self.groups = groups
        self.service_time = service_time
        self.protocol = protocol
        self.recorder = recorder
        self.on_cross_settled = on_cross_settled
        """Told (time, home, site, fund share) of each cross-province settlement: clearing."""

    def arrive(self, txn: Transaction) -> None:
        """A patient arrives at the point drawn for them and queues for a counter."""
        station = txn.station = self.groups[txn.site].points[txn.point]
        if not station.request(txn, self._start):
            self._turn_away(txn)

    def _turn_away(self, txn: Transaction) -> None:
        """The queue is full: the transaction ends now, never served, holding no counter."""
        now = self.env.now
        txn.start_s = txn.end_s = now
        txn.outcome = Outcome.DECLINED
        txn.reason = Reason.BLOCKED
        txn.fund_fen = 0
        txn.personal_fen = txn.amount_fen
        self.protocol.close(txn)
        self.recorder.finish(txn)

    def _start(self, txn: Transaction) -> None:
        txn.start_s = self.env.now
        if txn.card == CardKind.ECARD:
            self.protocol.verify(txn, self._verified)
        else:
            call_later(self.env, self.service_time(), self._served, txn, txn.service)

    def _verified(self, txn: Transaction, answer: Answer) -> None:
        if answer is Answer.VERIFIED:
            call_later(self.env, self.service_time(), self._served, txn, txn.service)
        elif answer in REFUSAL_REASONS:  # the card platform refused the card itself
            self._end(txn, Outcome.DECLINED, REFUSAL_REASONS[answer])
        else:
            self._end(txn, Outcome.FALLBACK, Reason.VERIFY_TIMEOUT)

    def _served(self, event: Any) -> None:
        txn: Transaction = event.value
        if txn.cross and not self.groups[txn.site].networked[txn.point]:
            self._end(txn, Outcome.FALLBACK, Reason.NOT_NETWORKED)
            return
        txn.asked_s = self.env.now
        self.protocol.settle(txn, self._settled)

    def _settled(self, txn: Transaction, answer: Answer) -> None:
        txn.settle_s = self.env.now - txn.asked_s
        outcome, reason = _OUTCOMES[answer]
        if answer is Answer.SETTLED and txn.cross and self.on_cross_settled is not None:
            self.on_cross_settled(self.env.now, txn.home, txn.site, txn.fund_fen)
        self._end(txn, outcome, reason)

    def _end(self, txn: Transaction, outcome: Outcome, reason: Reason) -> None:
        txn.outcome = outcome
        txn.reason = reason
        if outcome is not Outcome.SETTLED:
            txn.fund_fen = 0
            txn.personal_fen = txn.amount_fen
        txn.end_s = txn.leave_s = self.env.now
        txn.station.release()
        self.protocol.close(txn)
        self.recorder.finish(txn)

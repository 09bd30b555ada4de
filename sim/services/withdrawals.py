"""Withdrawals and balance checks at bank counters and ATMs, with the payday spike.

Holders use the card's bank account at a steady rate per holder that follows
an hourly profile; after a province's payday, recipients of its credits come on
top of it at ``rate × amplitude × exp(−t / decay)``, t counted from the first
batch sent that payday (each past payday adds its own decaying term). Counters
serve only in their opening hours, ATMs always; each channel is a group of
points with a capacity and a service time. When the card is read, a recipient
whose latest credit was sent but has not landed yet is declined
(``credit_pending``): there is nothing to withdraw yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from sim.engine.calendar import Clock, hourly_weights
from sim.engine.distributions import sample_fen, sampler
from sim.engine.kernel import Environment, call_later
from sim.outputs.recorder import TransactionRecorder
from sim.scenario.card_services import PensionPayoutService, WithdrawalsSpec
from sim.scenario.families import SERVICE_CODES
from sim.world.demand import Columns, holder_columns, poisson_hour
from sim.world.domain import Channel, Outcome, Reason
from sim.world.points import PointGroup, point_counts
from sim.world.population import Population
from sim.world.provinces import ProvinceTable
from sim.world.transaction import Transaction

if TYPE_CHECKING:
    from sim.scenario import Scenario
    from sim.services import ServiceContext, ServiceRuntime

__all__ = ["BankDesk", "Recipients", "WithdrawalArrivals", "build", "expected_visits"]

NAME = "bank_withdrawal"
CODE = SERVICE_CODES[NAME]
SETTLED, DECLINED = Outcome.SETTLED, Outcome.DECLINED
NONE, CREDIT_PENDING = Reason.NONE, Reason.CREDIT_PENDING
COUNTER = int(Channel.COUNTER)
"""Members bound once: an enum attribute lookup per event is not free."""
LOOKBACK_S = 62 * 86400.0
"""How far before the start past paydays are looked for (their spike may still decay)."""


class Recipients(Protocol):
    """What withdrawals need of the payout's recipients (:class:`.pension.Recipients`).

    Declared here, by the user, so that the payout family builds its withdrawals
    and withdrawals never import the payout.
    """

    by_province: list[npt.NDArray[np.int64]]
    """Per province, the holders its credits go to."""

    def pending(self, holder: int, t: float) -> bool:
        """Whether the holder's latest credit was sent but has not landed by ``t``."""
        ...


def build(
    ctx: ServiceContext, spec: PensionPayoutService, recipients: Recipients
) -> ServiceRuntime:
    """Counters, ATMs, the withdrawal stream and the desk that serves it."""
    from sim.services import ServiceRuntime

    w = spec.withdrawals
    assert w is not None
    holders, scale, table = ctx.provinces.holders, ctx.scenario.scale, ctx.provinces
    counts = {
        Channel.COUNTER: point_counts(w.counters, holders, scale),
        Channel.ATM: point_counts(w.atms, holders, scale),
    }
    specs = {Channel.COUNTER: w.counters, Channel.ATM: w.atms}
    groups = {
        ch: [
            PointGroup(ctx.env, NAME, pid, int(n), specs[ch].capacity, ch.name.lower())
            for pid, n in zip(table.ids, counts[ch], strict=True)
        ]
        for ch in specs
    }
    service_times = {
        ch: sampler(specs[ch].service_time, ctx.generator(f"point:{NAME}:{ch.name.lower()}"))
        for ch in specs
    }
    first_send = min(float(b.batch_time) for b in spec.batches().values())
    horizon = float(ctx.scenario.horizon)
    spikes = [
        ctx.clock.days_at(spec.payday_of(pid), first_send, -LOOKBACK_S, horizon)
        for pid in table.ids
    ]
    arrivals = WithdrawalArrivals(
        w, ctx.population, recipients, counts, spikes, ctx.clock, ctx.generator(f"demand:{NAME}")
    )
    desk = BankDesk(
        ctx.env,
        {int(ch): [g.points for g in groups[ch]] for ch in specs},
        {int(ch): draw for ch, draw in service_times.items()},
        recipients,
        ctx.recorder,
        ctx.window_s(),
    )
    return ServiceRuntime(
        arrivals=[arrivals],
        handlers={CODE: desk.arrive},
        stations=[g.stats for ch in specs for g in groups[ch]],
        figures=desk.figures,
    )


def expected_visits(
    scenario: Scenario,
    spec: PensionPayoutService,
    holders: float,
    table: ProvinceTable,
    paydays: npt.NDArray[np.float64],
) -> tuple[float, float, float]:
    """Expected visits, visits in the busiest hour, and points, without building them.

    The steady rate over the horizon, plus each payday's spike in its province
    (``paydays`` per province), whose integral is ``rate × amplitude × decay``.
    Spikes of paydays before the run that decay into it are left out.
    """
    from sim.services import scaled_count

    w = spec.withdrawals
    if w is None:
        return 0.0, 0.0, 0.0
    weights = hourly_weights(w.profile)
    per_s = holders * w.rate.per_holder_per_day / 86400.0
    steady = per_s * Clock(scenario.start).weighted_seconds(weights, float(scenario.horizon))
    share = table.holders / table.holders.sum()
    spike = per_s * w.spike.amplitude * float(w.spike.decay) * float((share * paydays).sum())
    busiest = per_s * float(weights.max()) * (1.0 + w.spike.amplitude) * 3600.0
    points = sum(
        scaled_count(p.per_province, p.total, scenario.scale, len(table))
        for p in (w.counters, w.atms)
    )
    return steady + spike, busiest, points


class WithdrawalArrivals:
    """Bank visits: the steady rate, plus recipients after each payday, decaying."""

    def __init__(
        self,
        spec: WithdrawalsSpec,
        population: Population,
        recipients: Recipients,
        counts: dict[Channel, npt.NDArray[np.int64]],
        spikes: list[list[float]],
        clock: Clock,
        rng: np.random.Generator,
    ) -> None:
        self.spec = spec
        self.population = population
        self.recipients = recipients
        self.point_counts = counts
        self.clock = clock
        self.rng = rng
        self.weights = hourly_weights(spec.profile)
        holders = population.holders_per_province.astype(np.float64)
        self.base_rate = holders * spec.rate.per_holder_per_day / 86400.0
        self.spike_province = np.array([p for p, ts in enumerate(spikes) for _ in ts], np.int64)
        self.spike_start = np.array([t for ts in spikes for t in ts], np.float64)
        self.amplitude = spec.spike.amplitude
        self.decay_s = float(spec.spike.decay)

    def _spike_means(self, hour: int, t0_s: float, t1_s: float) -> tuple[Any, Any, Any]:
        """Per past payday: expected spike arrivals in the piece, and the decay factors."""
        tp = self.spike_start
        tau = self.decay_s
        a = np.maximum(t0_s, tp)
        e_a = np.exp(-(a - tp) / tau)
        e_b = np.exp(-(t1_s - tp) / tau)
        live = tp < t1_s
        rate = self.base_rate[self.spike_province] * self.weights[hour] * self.amplitude
        means = np.where(live, rate * tau * (e_a - e_b), 0.0)
        return means, e_a, e_b

    def expected(self, hour: int, t0_s: float, t1_s: float) -> float:
        """Expected visits in the piece: steady part and every payday's spike."""
        steady = self.base_rate.sum() * self.weights[hour] * (t1_s - t0_s)
        if self.amplitude == 0 or not self.spike_start.size:
            return float(steady)
        return float(steady + self._spike_means(hour, t0_s, t1_s)[0].sum())

    def draw(self, hour: int, t0_s: float, t1_s: float) -> Columns:
        """Visits in ``[t0_s, t1_s)``: holder, channel, amount (0 for a balance check), point."""
        rng, population, spec = self.rng, self.population, self.spec
        site, time_s = poisson_hour(self.base_rate * self.weights[hour], t0_s, t1_s, rng)
        holder = population.draw_local(site, rng)
        if self.amplitude > 0 and self.spike_start.size:
            more_time, more_holder = self._spike(hour, t0_s, t1_s)
            time_s = np.concatenate([time_s, more_time])
            holder = np.concatenate([holder, more_holder])
            site = np.concatenate([site, population.residence[more_holder].astype(np.int64)])
        n = site.size
        sod = self.clock.second_of_day(time_s)
        hours = spec.counter_hours
        open_now = (sod >= hours.opens) & (sod < hours.closes)
        counter = open_now & (rng.random(n) < spec.counter_share)
        channel = np.where(counter, Channel.COUNTER, Channel.ATM).astype(np.uint8)
        points = np.where(
            counter, self.point_counts[Channel.COUNTER][site], self.point_counts[Channel.ATM][site]
        )
        amount = sample_fen(spec.amount, rng, n)
        amount[rng.random(n) < spec.balance_check_share] = 0
        return {
            **holder_columns(CODE, time_s, site, holder, population),
            "amount_fen": amount,
            "point": (rng.random(n) * points).astype(np.int64),
            "channel": channel,
        }

    def _spike(
        self, hour: int, t0_s: float, t1_s: float
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """Recipients coming after paydays: times from the decaying rate, inverse CDF."""
        rng = self.rng
        means, e_a, e_b = self._spike_means(hour, t0_s, t1_s)
        counts = rng.poisson(means)
        which = np.repeat(np.arange(means.size), counts)
        u = rng.random(which.size)
        tp = self.spike_start[which]
        time_s = tp - self.decay_s * np.log(e_a[which] - u * (e_a[which] - e_b[which]))
        time_s = np.clip(time_s, max(t0_s, 0.0), np.nextafter(t1_s, -np.inf))
        province = self.spike_province[which]
        holder = self.population.draw_local(province, rng)
        for p in np.unique(province):
            own = self.recipients.by_province[p]
            if own.size:
                here = province == p
                holder[here] = own[(rng.random(int(here.sum())) * own.size).astype(np.int64)]
        return time_s, holder


class BankDesk:
    """Serves visits at counters and ATMs; declines recipients whose credit is pending."""

    def __init__(
        self,
        env: Environment,
        points: dict[int, list[list[Any]]],
        service_times: dict[int, Callable[[], float]],
        recipients: Recipients,
        recorder: TransactionRecorder,
        window: tuple[float, float],
    ) -> None:
        self.env = env
        self.points = points
        self.service_times = service_times
        self.recipients = recipients
        self.recorder = recorder
        self.window = window
        self.counts = {"visits": 0, "declined_credit_pending": 0, "counter": 0, "atm": 0}

    def arrive(self, txn: Transaction) -> None:
        """A holder queues at the counter or ATM drawn for them."""
        channel = int(txn.batch.channel[txn.row])
        txn.station = self.points[channel][txn.site][txn.point]
        txn.station.request(txn, self._start)

    def _start(self, txn: Transaction) -> None:
        txn.start_s = self.env.now
        draw = self.service_times[int(txn.batch.channel[txn.row])]
        call_later(self.env, draw(), self._served, txn, CODE)

    def _served(self, event: Any) -> None:
        txn: Transaction = event.value
        batch, row = txn.batch, txn.row
        pending = self.recipients.pending(int(batch.holder[row]), txn.start_s)
        if pending:
            txn.outcome, txn.reason = DECLINED, CREDIT_PENDING
        else:
            txn.outcome, txn.reason = SETTLED, NONE
        txn.end_s = txn.leave_s = self.env.now
        txn.station.release()
        self.recorder.finish(txn)
        if self.window[0] <= txn.arrival_s < self.window[1]:
            counts = self.counts
            counts["visits"] += 1
            counts["counter" if batch.channel[row] == COUNTER else "atm"] += 1
            if pending:
                counts["declined_credit_pending"] += 1

    def figures(self) -> dict[str, Any]:
        """Visits by channel and those declined because the credit had not landed."""
        return dict(self.counts)

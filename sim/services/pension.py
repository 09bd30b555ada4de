"""Pension and benefit payout: payday credits landed by each province's bank node.

On a province's payday the fund sends each scheme's batch of monthly credits
(urban employee pension, urban-rural resident pension, unemployment benefit)
to the bank node of the province at the batch's time. The bank node lands
credits one after another at its stated throughput, batches first come first
served, so credit *i* of a batch that starts at ``b`` lands at ``b + (i+1)/R``.
Nothing here is a SimPy event per credit: the node (:mod:`sim.services.bank`)
takes a block of a few thousand credits per event, computes their landing times
arithmetically and records them as one block of rows (service ``pension_credit``
or ``benefit_credit``, channel ``bank``), while its figures and its outages act
per credit. Throughput is given at full scale and scaled with the batches, so
completion times (also with an outage) do not depend on ``scale``.

After crediting, recipients withdraw or check balances at bank counters and
ATMs (:mod:`sim.services.withdrawals`); one whose credit has not landed yet is
declined.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from sim.engine.calendar import Clock
from sim.engine.distributions import sample_fen
from sim.engine.kernel import call_later
from sim.scenario.card_services import PensionPayoutService
from sim.scenario.families import SERVICE_CODES
from sim.services import withdrawals
from sim.services.bank import BLOCK_CREDITS, BankNode, PayoutBatch
from sim.world.domain import Scheme
from sim.world.population import Population
from sim.world.provinces import ProvinceTable, apportion

Ids = npt.NDArray[np.int64]

if TYPE_CHECKING:
    from sim.scenario import Scenario
    from sim.services import ServiceContext, ServiceLoad, ServiceRuntime

__all__ = [
    "BLOCK_CREDITS",
    "BankNode",
    "PayoutBatch",
    "Recipients",
    "build",
    "expected_load",
    "headline",
    "payday_sends",
]

CREDIT_BYTES = 500.0
"""Peak memory per credit of a payday: recipients (89 bytes), batches and their recorded
blocks (490 to 530 bytes in all, measured on ``pension_payday`` at scales 1e-3 to 1e-2)."""

SERVICE_OF = {
    "employee_pension": SERVICE_CODES["pension_credit"],
    "resident_pension": SERVICE_CODES["pension_credit"],
    "unemployment_benefit": SERVICE_CODES["benefit_credit"],
}
SCHEME_OF = {
    "employee_pension": Scheme.EMPLOYEE,
    "resident_pension": Scheme.RESIDENT,
    "unemployment_benefit": Scheme.EMPLOYEE,
}
"""Recipients are drawn among holders of this scheme (pensioners first, then benefits)."""


def build(ctx: ServiceContext, name: str, spec: PensionPayoutService) -> ServiceRuntime:
    """Recipients, bank nodes and payday sends; withdrawals at banks if the scenario has them."""
    from sim.services import ServiceRuntime

    env, table, scale = ctx.env, ctx.provinces, ctx.scenario.scale
    horizon = float(ctx.scenario.horizon)
    sends = payday_sends(spec, table, ctx.clock, 0.0, horizon)
    recipients = Recipients.draw(spec, table, ctx.population, scale, ctx.generator(f"{name}"),
                                 paying={p for _, p, _ in sends})  # fmt: skip
    banks = [
        BankNode(
            env,
            pid,
            spec.bank.provinces.get(pid, spec.bank.credits_per_s) * scale,
            ctx.recorder,
            recipients,
            ctx.population.card_kind,
        )
        for pid in table.ids
    ]
    for t, p, batch in sends:
        payout = recipients.batch(p, batch)
        call_later(env, t, banks[p].receive, payout, payout.service)
    runtime = ServiceRuntime(
        stations=[bank.stats for bank in banks],
        failable={f"bank:{pid}": bank for pid, bank in zip(table.ids, banks, strict=True)},
    )
    runtime.recorded = sorted({SERVICE_OF[b] for b in spec.batches()})
    banking = None
    if spec.withdrawals is not None:
        banking = withdrawals.build(ctx, spec, recipients)
        runtime.arrivals, runtime.handlers = banking.arrivals, banking.handlers
        runtime.stations = banking.stations + runtime.stations
    clock = ctx.clock

    def figures() -> dict[str, Any]:
        out = payout_figures(banks, spec, clock, scale)
        if banking is not None and banking.figures is not None:
            out["withdrawals"] = banking.figures()
        return out

    runtime.figures = figures
    return runtime


def expected_load(
    scenario: Scenario, spec: PensionPayoutService, holders: float, table: ProvinceTable
) -> ServiceLoad:
    """Expected credits and bank visits, their events and points, without building them.

    Credits: each batch's recipients (scaled, spread over provinces as
    :meth:`Recipients.draw` spreads them) times the province's paydays in the run.
    They cost one event per block of :data:`BLOCK_CREDITS` and one per batch sent;
    bank visits cost two each (arrival and service time).
    """
    from sim.services import ServiceLoad

    clock = Clock(scenario.start)
    horizon = float(scenario.horizon)
    batches = spec.batches()
    aged = (table.population * table.aged_60_plus_share).astype(np.float64)
    credits = sends = 0.0
    for name, batch in batches.items():
        weights = table.holders.astype(np.float64) if name == "unemployment_benefit" else aged
        sent = paydays_in_run(spec, table, clock, float(batch.batch_time), horizon)
        credits += (
            float(batch.recipients)
            * scenario.scale
            * float((weights / weights.sum() * sent).sum())
        )
        sends += float(sent.sum())
    first = min((float(b.batch_time) for b in batches.values()), default=0.0)
    spikes = paydays_in_run(spec, table, clock, first, horizon)
    visits, busiest, points = withdrawals.expected_visits(scenario, spec, holders, table, spikes)
    payday = scenario.scale * sum(float(b.recipients) for b in batches.values())
    total = credits + visits
    events = credits / BLOCK_CREDITS + sends + 2.0 * visits
    return ServiceLoad(
        transactions=total,
        events_per_transaction=events / total if total > 0 else 0.0,
        busiest_hour=busiest,
        points=points,
        memory_bytes=CREDIT_BYTES * min(credits, payday),
    )


def paydays_in_run(
    spec: PensionPayoutService, table: ProvinceTable, clock: Clock, at_s: float, horizon_s: float
) -> npt.NDArray[np.float64]:
    """Per province, how many of its paydays (at local time ``at_s``) fall in the run.

    Counted day by day (as :func:`payday_sends` does) for runs up to a year;
    beyond, one per average month, which is what the count tends to.
    """
    if horizon_s > 366 * 86400.0:
        months = horizon_s / (365.2425 / 12 * 86400.0)
        return np.full(len(table), months + 1.0)
    return np.array(
        [len(clock.days_at(spec.payday_of(pid), at_s, 0.0, horizon_s)) for pid in table.ids],
        dtype=np.float64,
    )


def payday_sends(
    spec: PensionPayoutService, table: ProvinceTable, clock: Clock, from_s: float, to_s: float
) -> list[tuple[float, int, str]]:
    """(simulated time, province, batch name) of every batch the fund sends in the window."""
    sends = [
        (t, p, name)
        for p, pid in enumerate(table.ids)
        for name, batch in spec.batches().items()
        for t in clock.days_at(spec.payday_of(pid), float(batch.batch_time), from_s, to_s)
    ]
    order = {name: i for i, name in enumerate(spec.batches())}
    return sorted(sends, key=lambda s: (s[0], s[1], order[s[2]]))


class Recipients:
    """Who receives which credit, and when each recipient's latest credit is due and lands.

    ``ids`` are the recipients' holder ids, sorted; ``due_s`` and ``landed_s`` are
    aligned with them. A credit is pending from its batch's send until it lands.
    """

    def __init__(
        self,
        ids: npt.NDArray[np.int64],
        batches: dict[tuple[int, str], tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]],
        by_province: list[npt.NDArray[np.int64]],
        full_scale: dict[str, float],
    ) -> None:
        self.ids = ids
        self.due_s = np.full(ids.size, -np.inf)
        self.landed_s = np.full(ids.size, -np.inf)
        self._batches = batches
        self.by_province = by_province
        """Per home province, its recipients' holder ids (any batch)."""
        self.full_scale = full_scale

    @classmethod
    def draw(
        cls,
        spec: PensionPayoutService,
        table: ProvinceTable,
        population: Population,
        scale: float,
        rng: np.random.Generator,
        paying: Collection[int] | None = None,
    ) -> Recipients:
        """Recipients per province in proportion to the aged 60+ (pensions) or holders.

        Holders' attributes are drawn independently, so the first holders of the
        scheme in each province are as good as a random sample of them; the
        unemployment batch takes the employee-scheme holders after the pensioners.
        Only provinces in ``paying`` (default: all) get their recipients drawn: at
        full scale a province's recipients are millions of ids, worth finding only
        if it pays within the run.
        """
        aged = table.population * table.aged_60_plus_share
        weights = {"unemployment_benefit": table.holders.astype(np.float64)}
        counts = {name: apportion(weights.get(name, aged), float(batch.recipients) * scale)
                  for name, batch in spec.batches().items()}  # fmt: skip
        wanted = {s: np.zeros(len(table), dtype=np.int64) for s in Scheme}
        for name, per_province in counts.items():
            wanted[SCHEME_OF[name]] += per_province
        needed = range(len(table)) if paying is None else sorted(set(paying))
        pools = {s: {p: _pool(population, s, p, int(wanted[s][p])) for p in needed}
                 for s in Scheme}  # fmt: skip
        taken = {s: np.zeros(len(table), dtype=np.int64) for s in Scheme}
        batches = {}
        for name, batch in spec.batches().items():
            scheme = SCHEME_OF[name]
            for p in needed:
                n = counts[name][p]
                pool = pools[scheme][p]
                start = taken[scheme][p]
                chosen = pool[start : start + int(n)]
                taken[scheme][p] += chosen.size
                order = rng.permutation(chosen.size)
                batches[(p, name)] = (chosen[order], sample_fen(batch.amount, rng, chosen.size))
        empty = np.zeros(0, dtype=np.int64)
        by_province = [
            np.sort(np.concatenate([empty, *(h for (q, _), (h, _a) in batches.items() if q == p)]))
            for p in range(len(table))
        ]
        ids = np.sort(np.concatenate([empty, *by_province]))
        full = {name: float(b.recipients) for name, b in spec.batches().items()}
        return cls(ids.astype(np.int64), batches, by_province, full)

    def batch(self, province: int, name: str) -> PayoutBatch:
        """A fresh payout of one scheme's credits in one province (one per payday)."""
        holders, amounts = self._batches[(province, name)]
        rows = np.searchsorted(self.ids, holders)
        scheme = int(SCHEME_OF[name])
        return PayoutBatch(name, province, SERVICE_OF[name], scheme, holders, amounts, rows)

    def pending(self, holder: int, t: float) -> bool:
        """Whether the holder's latest credit was sent but has not landed by ``t``."""
        ids = self.ids
        i = int(ids.searchsorted(holder))
        if i == ids.size or ids[i] != holder:
            return False
        return bool(self.due_s[i] <= t < self.landed_s[i])


def _pool(population: Population, scheme: Scheme, province: int, n: int) -> Ids:
    """The first ``n`` holders of a province in ``scheme``, in id order.

    The province's id range is scanned a block at a time (schemes come from a hash
    of the id), so only as many ids are looked at as it takes to find ``n``.
    """
    start, stop = int(population.offsets[province]), int(population.offsets[province + 1])
    found: list[Ids] = []
    total = 0
    block = 1 << 20
    while total < n and start < stop:
        ids = np.arange(start, min(start + block, stop), dtype=np.int64)
        mine = ids[population.scheme[ids] == scheme]
        found.append(mine)
        total += mine.size
        start += block
    out = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    return out[:n]


def payout_figures(
    banks: list[BankNode], spec: PensionPayoutService, clock: Clock, scale: float
) -> dict[str, Any]:
    """Per payday: credits, when the last one landed, and whether the deadline was met."""
    days: dict[str, list[PayoutBatch]] = {}
    for bank in banks:
        for batch in bank.history:
            days.setdefault(clock.civil(batch.sent_s).date().isoformat(), []).append(batch)
    deadline = float(spec.deadline)
    paydays = {}
    for day, batches in sorted(days.items()):
        midnight = batches[0].sent_s - float(clock.second_of_day(batches[0].sent_s))
        due = midnight + deadline
        paydays[day] = _day_figures(batches, banks, due, clock, scale)
    every = list(paydays.values())
    return {
        "deadline": _clock_text(deadline),
        "last_credit_at": max((d["last_credit_at"] for d in every), default=None),
        "deadline_met": all(d["deadline_met"] for d in every) if every else None,
        "paydays": paydays,
    }


def _day_figures(
    batches: list[PayoutBatch], banks: list[BankNode], due: float, clock: Clock, scale: float
) -> dict[str, Any]:
    def last_landing(group: list[PayoutBatch]) -> float:
        done = [b.last_landed_s for b in group if b.done]  # outages included
        return max(done, default=min(b.sent_s for b in group))

    def summary(group: list[PayoutBatch]) -> dict[str, Any]:
        last = last_landing(group)
        credits = int(sum(b.holders.size for b in group))
        return {
            "credits": credits,
            "credits_full_scale": credits / scale,
            "amount_fen_full_scale": int(sum(int(b.amounts.sum()) for b in group) / scale),
            "sent_at": clock.civil(min(b.sent_s for b in group)).isoformat(timespec="seconds"),
            "last_credit_at": clock.civil(last).isoformat(timespec="seconds"),
            "completion_s": last - min(b.sent_s for b in group),
            "deadline_met": bool(last <= due and all(b.done == b.holders.size for b in group)),
        }

    provinces = sorted({b.province for b in batches})
    by_province = {
        banks[p].stats.province: summary([b for b in batches if b.province == p])
        for p in provinces
    }
    names = sorted({b.name for b in batches})
    return {
        **summary(batches),
        "deadline_at": clock.civil(due).isoformat(timespec="seconds"),
        "provinces_late": [pid for pid, f in by_province.items() if not f["deadline_met"]],
        "by_batch": {n: summary([b for b in batches if b.name == n]) for n in names},
        "by_province": by_province,
    }


def _clock_text(seconds: float) -> str:
    minutes = round(seconds / 60.0)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def headline(figures: dict[str, Any]) -> list[str]:
    """The family's console lines: the last credit against the deadline, bank visits."""
    met = figures["deadline_met"]
    verdict = "no payday in the run" if met is None else ("met" if met else "MISSED")
    late = sorted({p for d in figures["paydays"].values() for p in d["provinces_late"]})
    lines = [
        f"payout: last credit {figures['last_credit_at'] or '–'}, deadline "
        f"{figures['deadline']} {verdict}" + (f" (late: {', '.join(late)})" if late else "")
    ]
    banks = figures.get("withdrawals")
    if banks is not None:
        lines.append(
            f"bank visits: {banks['visits']:,} (counter {banks['counter']:,}, ATM "
            f"{banks['atm']:,}); declined, credit not landed: "
            f"{banks['declined_credit_pending']:,}"
        )
    return lines

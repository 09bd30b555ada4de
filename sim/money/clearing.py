"""Clearing between provinces: prepay first, clear later, net through the national platform.

A treatment province pays hospitals the fund share of cross-province bills out of
its advance fund, which the other provinces' funds filled beforehand. Each
period's settlements become gross obligations (home province owes treatment
province); at the period's end (plus an application delay) the national
platform nets them multilaterally: a province that is owed more than it owes
receives the difference, the others pay theirs, and what a province owes and is
owed at once is settled inside it. Advance funds are topped up from the other
provinces when they fall below a threshold. The clearing process is a small
SimPy process; everything else is arithmetic on a province × province matrix.
"""

from __future__ import annotations

import bisect
from collections.abc import Generator, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import simpy

from sim.engine.calendar import Clock
from sim.money.ledger import AccountKind, Ledger, PostingKind
from sim.scenario.schema import ClearingSpec
from sim.world.provinces import apportion

__all__ = [
    "CLEARING_SCHEMA",
    "ClearingHouse",
    "PeriodResult",
    "net_positions",
    "period_boundaries",
]

Matrix = list[list[int]]


def period_boundaries(spec: ClearingSpec, clock: Clock, horizon_s: float) -> list[float]:
    """Starts of the clearing periods from 0 up to (not including) the horizon."""
    period = spec.period_s
    if period is not None:
        return [float(t) for t in np.arange(0.0, horizon_s, period)]
    return [0.0, *(t for t in clock.month_starts(horizon_s) if 0.0 < t < horizon_s)]


def net_positions(gross: Matrix) -> tuple[list[int], list[int], list[int]]:
    """Per province: gross due (as treatment province), gross owed (as home), net = due − owed."""
    due = [sum(row[p] for row in gross) for p in range(len(gross))]
    owed = [sum(row) for row in gross]
    return due, owed, [d - o for d, o in zip(due, owed, strict=True)]


@attrs.frozen
class PeriodResult:
    """One province's clearing figures for one period (a row of ``clearing.parquet``)."""

    period: int
    start_s: float
    end_s: float
    applied_s: float
    partial: bool
    province: str
    gross_due_fen: int
    gross_owed_fen: int
    net_fen: int
    top_ups_fen: int
    advance_balance_fen: int


_ARROW = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "str": pa.string()}
"""Arrow types by annotation: its text, or (compiled with mypyc) the class's name."""

CLEARING_SCHEMA = pa.schema(
    [
        (f.name, _ARROW[getattr(f.type, "__name__", str(f.type))])
        for f in attrs.fields(PeriodResult)
    ]
)
"""Columns of ``clearing.parquet`` and their types (also when a run clears no period)."""


class ClearingHouse:
    """Advance funds, gross obligations by period, and their multilateral netting."""

    def __init__(
        self,
        spec: ClearingSpec,
        province_ids: Sequence[str],
        holders: npt.NDArray[np.int64],
        boundaries: Sequence[float],
        horizon_s: float,
        ledger: Ledger,
        initial_advance_fen: Sequence[int],
    ) -> None:
        self.spec = spec
        self.ids = list(province_ids)
        self.holders = holders.astype(np.float64)
        self.boundaries = list(boundaries)
        self.horizon_s = horizon_s
        self.ledger = ledger
        n = len(self.ids)
        self.initial = [int(x) for x in initial_advance_fen]
        self.threshold = [int(x * spec.advance.top_up_below) for x in self.initial]
        self.advance = [0] * n
        self.gross: dict[int, Matrix] = {}
        self.top_ups: dict[int, list[int]] = {}
        self.results: list[PeriodResult] = []
        self.cleared: set[int] = set()

    # --- during the run -------------------------------------------------------------

    def start(self, env: simpy.Environment) -> None:
        """Fill the advance funds and start the clearing process."""
        for site, amount in enumerate(self.initial):
            self._fill(site, amount, 0.0, PostingKind.INITIAL_ADVANCE)
        env.process(self.clear(env))

    def record(self, time_s: float, home: int, site: int, fund_fen: int) -> None:
        """A cross-province fund share was paid from ``site``'s advance fund."""
        period = self.period_of(time_s)
        gross = self.gross.get(period)
        if gross is None:
            gross = self.gross[period] = [[0] * len(self.ids) for _ in self.ids]
        gross[home][site] += fund_fen
        self.advance[site] -= fund_fen
        if self.advance[site] < self.threshold[site] or self.advance[site] < 0:
            top_up = max(self.initial[site], 0) - self.advance[site]
            self.top_ups.setdefault(period, [0] * len(self.ids))[site] += top_up
            self._fill(site, top_up, time_s, PostingKind.TOP_UP)

    def period_of(self, time_s: float) -> int:
        """Index of the period a settlement at ``time_s`` belongs to (the last one after)."""
        return max(bisect.bisect_right(self.boundaries, time_s) - 1, 0)

    def clear(self, env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        """At each period's end plus the application delay, clear that period."""
        for k, end in enumerate(self.boundaries[1:]):
            yield env.timeout(max(end + self.spec.apply_after - env.now, 0.0))
            self.close(k, env.now)

    def finish(self, now: float) -> None:
        """Clear every period not cleared yet (the last, partial one at the run's end)."""
        for k in range(len(self.boundaries)):
            if k not in self.cleared:
                self.close(k, now)

    # --- arithmetic -----------------------------------------------------------------

    def close(self, k: int, now: float) -> None:
        """Net period ``k``'s obligations and post the transfers."""
        n = len(self.ids)
        gross = self.gross.pop(k, [[0] * n for _ in range(n)])
        top_ups = self.top_ups.pop(k, [0] * n)
        due, owed, net = net_positions(gross)
        for p in range(n):  # inside each province: its fund covers what it is owed and owes
            self.ledger.post(now, PostingKind.CLEARING_INTERNAL, _fund(p), _advance(p),
                             min(due[p], owed[p]))  # fmt: skip
        for p in range(n):  # payers first, so the national account never goes negative
            if net[p] < 0:
                self.ledger.post(now, PostingKind.CLEARING_NET, _fund(p), _NATIONAL, -net[p])
        for p in range(n):
            if net[p] > 0:
                self.ledger.post(now, PostingKind.CLEARING_NET, _NATIONAL, _advance(p), net[p])
        for p in range(n):
            self.advance[p] += due[p]
        start = self.boundaries[k]
        end = self.boundaries[k + 1] if k + 1 < len(self.boundaries) else self.horizon_s
        partial = k + 1 >= len(self.boundaries)
        self.results += [
            PeriodResult(k, start, end, now, partial, self.ids[p], due[p], owed[p], net[p],
                         top_ups[p], self.advance[p])
            for p in range(n)
        ]  # fmt: skip
        self.cleared.add(k)

    def _fill(self, site: int, amount: int, time_s: float, kind: PostingKind) -> None:
        """Pay ``amount`` into ``site``'s advance fund from the other provinces' funds."""
        if amount <= 0:
            return
        weights = self.holders.copy()
        weights[site] = 0.0
        if not weights.sum() > 0:  # no other province has a simulated holder: all alike
            weights = np.ones_like(weights)
            weights[site] = 0.0 if weights.size > 1 else 1.0
        parts = apportion(weights, float(amount))
        for home, part in enumerate(parts.tolist()):
            self.ledger.post(time_s, kind, _fund(home), _advance(site), part)
        self.advance[site] += amount

    # --- reporting --------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Gross obligations, net transfers and the netting ratio over all periods."""
        gross = sum(r.gross_due_fen for r in self.results)
        net = sum(max(r.net_fen, 0) for r in self.results)
        return {
            "periods": len({r.period for r in self.results}),
            "gross_obligations_fen": gross,
            "net_transfers_fen": net,
            "netting_ratio": net / gross if gross else None,
            "top_ups_fen": sum(r.top_ups_fen for r in self.results),
            "initial_advance_fen": sum(self.initial),
            "net_positions_sum_to_zero": all(
                sum(r.net_fen for r in self.results if r.period == k) == 0
                for k in {r.period for r in self.results}
            ),
        }

    def rows(self) -> dict[str, list[Any]]:
        """The results as columns for ``clearing.parquet``."""
        fields = [f.name for f in attrs.fields(PeriodResult)]
        return {name: [getattr(r, name) for r in self.results] for name in fields}


_NATIONAL = (AccountKind.NATIONAL, -1, -1, -1)


def _fund(p: int) -> tuple[int, int, int, int]:
    return (AccountKind.FUND, p, -1, -1)


def _advance(p: int) -> tuple[int, int, int, int]:
    return (AccountKind.ADVANCE, p, -1, -1)


def initial_advances(scenario: Any, provinces: Any, population: Any, policy: Any) -> list[int]:
    """Each treatment province's initial advance fund: ``advance.days`` of expected payments.

    The expectation is a sizing estimate, not a forecast: expected cross-province
    arrivals per day at the province (spread by ``population.inflow`` as demand is) ×
    filed share × mean bill × covered share × the default rule's tertiary resident
    ratio, ignoring deductibles, ceilings and unconnected hospitals.
    """
    from sim.engine.distributions import mean
    from sim.scenario.families import SERVICE_CODES
    from sim.world.demand import arrival_rates
    from sim.world.domain import Level, Scheme
    from sim.world.points import point_counts

    days = scenario.clearing.advance.days
    holders = population.holders_per_province.astype(np.float64)
    ids = policy.province_ids
    pull = holders * np.array([scenario.population.inflow.get(p, 1.0) for p in ids])
    pull = pull / pull.sum() if pull.sum() > 0 else pull
    per_day = np.zeros(holders.size)
    for name, spec in scenario.services.medical().items():
        code = SERVICE_CODES[name]
        points = point_counts(spec.points, provinces.holders, scenario.scale)
        rates = arrival_rates(spec, ids, population.holders_per_province, points)
        national = rates.sum() * 86400.0 * spec.cross_province_share
        arrivals = national * pull  # spread over treatment provinces as demand spreads them
        rule = policy.rules[0][code]
        ratio = 0.0 if rule is None else rule.ratio_for(Scheme.RESIDENT, Level.TERTIARY) / 1e4
        covered = np.array([row[code] for row in policy.covered_bp]) / 1e4
        per_day += arrivals * spec.filed_in_advance * mean(spec.amount) * covered * ratio
    return [int(x) for x in np.rint(per_day * days)]

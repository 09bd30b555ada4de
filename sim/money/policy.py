"""Reimbursement: how the home province splits a bill into fund and personal shares.

The rule (deductible, ratio by scheme and hospital level, annual ceiling) is the
*home* province's, as in real cross-province settlement; the share of the bill
inside the catalogue is the *treatment* province's. Arithmetic is in integer fen
with ratios in basis points, so the split is exact and the two shares always add
up to the bill. The annual ceiling caps each holder's fund payments year to date,
against separate limits as the real schemes keep them: inpatient stays count
against the inpatient limit (住院最高支付限额), outpatient visits and pharmacy
purchases against the outpatient limit (门诊统筹), see :data:`CEILING_POOLS`.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import attrs
import numpy as np

from sim.scenario.schema import PolicyRule, PolicySpec
from sim.world.domain import Fen, Level, Scheme

__all__ = ["CEILING_POOLS", "CompiledRule", "PolicyTable", "YearToDate", "split"]

BASIS_POINTS = 10_000

CEILING_POOLS = {
    "medical_outpatient": "outpatient",
    "pharmacy": "outpatient",
    "medical_inpatient": "inpatient",
}
"""Which annual limit a service's fund payments count against (a service not named
here has a limit of its own). Pharmacy purchases count with outpatient care: under
outpatient pooling (门诊统筹) a designated pharmacy's sales are paid from the same
outpatient fund and limit; inpatient stays have their own, much higher, limit. Each
service's rule gives its ceiling, applied to the year to date of its pool."""


def _bp(share: float) -> int:
    return round(share * BASIS_POINTS)


@attrs.frozen
class CompiledRule:
    """A policy rule in the integer form the split uses.

    ``ratio_bp[scheme][level]`` in basis points; ``Level.NONE`` uses the tertiary ratio.
    """

    deductible_fen: Fen
    ratio_bp: tuple[tuple[int, int, int, int], tuple[int, int, int, int]]
    ceiling_fen: Fen | None

    @classmethod
    def from_rule(cls, rule: PolicyRule) -> CompiledRule:
        """Compile a scenario rule (ratios rounded to a basis point)."""
        if rule.ratios is None:
            flat = _bp(rule.ratio or 0.0)
            table = ((flat,) * 4, (flat,) * 4)
        else:
            rows: list[tuple[int, int, int, int]] = []
            for levels in (rule.ratios.employee, rule.ratios.resident):
                p, s, t = _bp(levels.primary), _bp(levels.secondary), _bp(levels.tertiary)
                rows.append((t, p, s, t))
            table = (rows[0], rows[1])
        ceiling = None if rule.ceiling is None else int(rule.ceiling)
        return cls(int(rule.deductible), table, ceiling)

    @classmethod
    def flat(cls, deductible_fen: Fen, ratio_bp: int, ceiling_fen: Fen | None) -> CompiledRule:
        """One ratio for every scheme and level (handy in tests and examples)."""
        row = (ratio_bp,) * 4
        return cls(deductible_fen, (row, row), ceiling_fen)

    def ratio_for(self, scheme: int, level: int) -> int:
        """Ratio in basis points for a scheme and hospital level."""
        return self.ratio_bp[scheme][level]


def split(
    amount_fen: Fen,
    deductible_fen: Fen,
    ratio_bp: int,
    ceiling_left_fen: Fen | None = None,
    covered_bp: int = BASIS_POINTS,
) -> tuple[Fen, Fen]:
    """Fund share and personal share of a bill; they sum to ``amount_fen`` exactly.

    covered = amount × covered share; fund = (covered − deductible) × ratio, at most
    what is left of the holder's annual ceiling. All rounding is down, in fen.
    """
    covered = amount_fen * covered_bp // BASIS_POINTS
    eligible = covered - deductible_fen
    if eligible <= 0:
        return 0, amount_fen
    fund = eligible * ratio_bp // BASIS_POINTS
    if ceiling_left_fen is not None and fund > ceiling_left_fen:
        fund = max(ceiling_left_fen, 0)
    return fund, amount_fen - fund


class YearToDate:
    """Each holder's fund payments in the current calendar year (sparse: only payers).

    A national day has tens of millions of payers, so totals live in two sorted
    numpy arrays (8 + 8 bytes a holder) with a small dict of recent totals in front;
    the dict is merged into the arrays when it grows past a sixteenth of them. Simulation
    time never goes backwards, so a new year simply forgets everything.
    """

    __slots__ = ("_ids", "_next_year_s", "_paid", "_recent", "_year", "_year_starts")

    #: The dict of recent totals is merged into the arrays beyond this many entries
    #: (or a sixteenth of the arrays, whichever is larger: amortised merging).
    MERGE_AT = 262_144  # 2**18, a literal: mypyc compiles no other class default

    def __init__(self, year_starts_s: Sequence[float] = ()) -> None:
        self._year_starts = list(year_starts_s)
        self._year = 0
        self._next_year_s = self._year_starts[0] if self._year_starts else math.inf
        """When the year after the current one starts: before it, no roll is needed."""
        self._recent: dict[int, Fen] = {}
        self._ids = np.empty(0, dtype=np.int64)
        self._paid = np.empty(0, dtype=np.int64)

    def _roll(self, now: float) -> None:
        year = bisect.bisect_right(self._year_starts, now)
        starts = self._year_starts
        self._next_year_s = starts[year] if year < len(starts) else math.inf
        if year > self._year:
            self._year = year
            self._recent.clear()
            self._ids = self._ids[:0]
            self._paid = self._paid[:0]

    def paid(self, holder: int, now: float) -> Fen:
        """Fund payments for ``holder`` so far in the year containing ``now``."""
        if now >= self._next_year_s:
            self._roll(now)
        total = self._recent.get(holder)
        if total is not None:
            return total
        ids = self._ids
        if not ids.size:
            return 0
        i = int(ids.searchsorted(holder))
        if i < ids.size and ids[i] == holder:
            return int(self._paid[i])
        return 0

    def add(self, holder: int, fund_fen: Fen, now: float, paid: Fen | None = None) -> None:
        """Count a fund payment (negative to undo one).

        ``paid`` is the holder's total so far when the caller has just looked it up
        at ``now`` (one lookup instead of two).
        """
        recent = self._recent
        recent[holder] = (self.paid(holder, now) if paid is None else paid) + fund_fen
        if len(recent) > max(self.MERGE_AT, self._ids.size >> 4):
            self._merge()

    def _merge(self) -> None:
        """Fold the recent totals into the sorted arrays (recent totals win).

        Holders already in the arrays are updated in place; the others are inserted
        at their sorted places, so the merge costs one new pair of arrays, not a sort
        of everything (at 18 M payers each array is 140 MB).
        """
        n = len(self._recent)
        new_ids = np.fromiter(self._recent.keys(), dtype=np.int64, count=n)
        new_paid = np.fromiter(self._recent.values(), dtype=np.int64, count=n)
        order = np.argsort(new_ids)
        new_ids, new_paid = new_ids[order], new_paid[order]
        ids, paid = self._ids, self._paid
        at = ids.searchsorted(new_ids)
        known = at < ids.size
        known[known] = ids[at[known]] == new_ids[known]
        paid[at[known]] = new_paid[known]
        fresh = ~known
        self._ids = np.insert(ids, at[fresh], new_ids[fresh])
        self._paid = np.insert(paid, at[fresh], new_paid[fresh])
        self._recent.clear()

    def __len__(self) -> int:
        return self._ids.size + sum(1 for h in self._recent if not self._in_arrays(h))

    def _in_arrays(self, holder: int) -> bool:
        i = int(self._ids.searchsorted(holder))
        return i < self._ids.size and self._ids[i] == holder


class PolicyTable:
    """Rules by (home province, service) and catalogue shares by (treatment province, service)."""

    def __init__(
        self,
        spec: PolicySpec,
        province_ids: tuple[str, ...],
        services: tuple[str, ...],
        year_starts_s: Sequence[float] = (),
    ) -> None:
        self.province_ids = province_ids
        self.rules: list[list[CompiledRule | None]] = [
            [None if (r := spec.rule(pid, s)) is None else CompiledRule.from_rule(r)
             for s in services]
            for pid in province_ids
        ]  # fmt: skip
        self.covered_bp: list[list[int]] = [
            [_bp(spec.catalogue.covered(pid, s)) for s in services] for pid in province_ids
        ]
        pools = {name: YearToDate(year_starts_s) for name in dict.fromkeys(
            CEILING_POOLS.get(s, s) for s in services)}  # fmt: skip
        self._ytd = [pools[CEILING_POOLS.get(s, s)] for s in services]
        """Per service code, the year to date of its ceiling pool (shared within a pool)."""

    def year_to_date(self, service: int) -> YearToDate:
        """Fund payments year to date in the ceiling pool of ``service``."""
        return self._ytd[service]

    def split(
        self,
        home: int,
        service: int,
        amount_fen: Fen,
        *,
        site: int | None = None,
        scheme: int = Scheme.EMPLOYEE,
        level: int = Level.NONE,
        holder: int | None = None,
        now: float = 0.0,
    ) -> tuple[Fen, Fen]:
        """Split a bill by the home province's rule; count the fund share year to date.

        ``site`` (the treatment province) sets the catalogue's covered share; without a
        ``holder`` the annual ceiling applies to this bill alone. With one, the ceiling
        caps the holder's year to date in the service's pool (:data:`CEILING_POOLS`).
        """
        rule = self.rules[home][service]
        if rule is None:
            raise LookupError(f"no policy rule for province #{home}, service #{service}")
        covered = self.covered_bp[home if site is None else site][service]
        left = used = None
        ytd = self._ytd[service]
        if rule.ceiling_fen is not None:
            used = 0 if holder is None else ytd.paid(holder, now)
            left = rule.ceiling_fen - used
        fund, personal = split(amount_fen, rule.deductible_fen, rule.ratio_for(scheme, level),
                               left, covered)  # fmt: skip
        if holder is not None and fund:
            ytd.add(holder, fund, now, used)
        return fund, personal

    def undo(self, holder: int, service: int, fund_fen: Fen, now: float) -> None:
        """Take back a fund payment from the holder's year to date (a reversal)."""
        if fund_fen:
            self._ytd[service].add(holder, -fund_fen, now)

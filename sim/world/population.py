"""Card holders: home province, residence, card kind and scheme, as columns by holder id.

Holders are numbered so that each home province's holders are one contiguous id
range; within it the holders living at home come first, then the migrants,
grouped by the province they live in. Every column is therefore a function of
the id: home and residence by a binary search over ~31 × 31 range boundaries,
card kind and insurance scheme by a counter-based hash of (seed, id) compared
with the scenario's shares. Nothing is stored per holder, so a scenario at
``scale: 1.0`` (1.38 billion holders) costs no more memory than one at 1e-5,
and a holder who never transacts costs nothing at all. Columns are read in
numpy batches: ``population.card_kind[ids]``.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import numpy as np
import numpy.typing as npt

from sim.scenario.schema import PopulationSpec
from sim.world.domain import CardKind, Scheme
from sim.world.provinces import ProvinceTable, apportion

__all__ = ["Population", "build_population", "hash_uniform", "holder_counts"]

Ids = npt.NDArray[np.int64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def hash_uniform(ids: npt.ArrayLike, key: int) -> npt.NDArray[np.float64]:
    """A uniform number in [0, 1) per id, fixed by (key, id): SplitMix64's finaliser."""
    with np.errstate(over="ignore"):
        z = np.asarray(ids, dtype=np.uint64) * _GOLDEN + np.uint64(key)
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


class Column:
    """A read-only column computed from holder ids: ``column[ids]`` → numpy array."""

    __slots__ = ("_compute", "_size")

    def __init__(self, compute: Callable[[Ids], npt.NDArray[np.uint8]], size: int) -> None:
        self._compute = compute
        self._size = size

    def __getitem__(self, ids: npt.ArrayLike | slice) -> npt.NDArray[np.uint8]:
        if isinstance(ids, slice):
            ids = np.arange(*ids.indices(self._size), dtype=np.int64)
        return self._compute(np.asarray(ids, dtype=np.int64))

    def __len__(self) -> int:
        return self._size


@attrs.define(eq=False)
class Population:
    """All simulated holders, described by range boundaries rather than stored rows."""

    offsets: Ids
    """``offsets[h]:offsets[h+1]`` is the id range of holders insured in province ``h``."""
    stay: Ids
    """Holders of each home province who live there (the first ids of its range)."""
    migrants: npt.NDArray[np.int64]
    """``migrants[h, d]``: holders insured in ``h`` living in ``d`` (after ``stay[h]``)."""
    ecard_share: float
    employee_share: float
    card_key: int
    scheme_key: int
    home: Column = attrs.field(init=False)
    residence: Column = attrs.field(init=False)
    card_kind: Column = attrs.field(init=False)
    scheme: Column = attrs.field(init=False)
    _migrant_start: Ids = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        n = self.size
        self.home = Column(self._home, n)
        self.residence = Column(self._residence, n)
        self.card_kind = Column(self._card_kind, n)
        self.scheme = Column(self._scheme, n)
        # Start of each (home, residence) block of migrants, by residence order.
        starts = self.offsets[:-1, None] + self.stay[:, None]
        self._migrant_start = starts + np.cumsum(self.migrants, axis=1) - self.migrants

    @property
    def size(self) -> int:
        """Number of simulated holders."""
        return int(self.offsets[-1])

    @property
    def holders_per_province(self) -> Ids:
        """Simulated holders insured in each province."""
        return np.diff(self.offsets)

    @property
    def nbytes(self) -> int:
        """Memory held for the population (boundaries only: nothing per holder)."""
        return int(self.offsets.nbytes + self.stay.nbytes + self.migrants.nbytes
                   + self._migrant_start.nbytes)  # fmt: skip

    # --- columns ----------------------------------------------------------------------

    def _home(self, ids: Ids) -> npt.NDArray[np.uint8]:
        return (np.searchsorted(self.offsets, ids, side="right") - 1).astype(np.uint8)

    def _residence(self, ids: Ids) -> npt.NDArray[np.uint8]:
        home = self._home(ids).astype(np.int64)
        rank = ids - self.offsets[home] - self.stay[home]  # < 0 for those living at home
        cumulative = np.cumsum(self.migrants, axis=1)[home]
        dest = (rank[:, None] >= cumulative).sum(axis=1)
        return np.where(rank < 0, home, dest).astype(np.uint8)

    def _card_kind(self, ids: Ids) -> npt.NDArray[np.uint8]:
        ecard = hash_uniform(ids, self.card_key) < self.ecard_share
        return np.where(ecard, CardKind.ECARD, CardKind.CHIP).astype(np.uint8)

    def _scheme(self, ids: Ids) -> npt.NDArray[np.uint8]:
        employee = hash_uniform(ids, self.scheme_key) < self.employee_share
        return np.where(employee, Scheme.EMPLOYEE, Scheme.RESIDENT).astype(np.uint8)

    # --- drawing holders ------------------------------------------------------------

    def draw_local(self, province: Ids, rng: np.random.Generator) -> Ids:
        """For each entry, a holder insured and living in that province (uniformly).

        Where a province has no holder living at home (tiny scales), any of its holders.
        """
        stay = self.stay[province]
        pool = np.where(stay > 0, stay, self.holders_per_province[province])
        return self.offsets[province] + (rng.random(province.size) * pool).astype(np.int64)

    def draw_cross(
        self,
        site: Ids,
        resident: npt.NDArray[np.bool_],
        rng: np.random.Generator,
        outflow: npt.NDArray[np.float64] | None = None,
    ) -> Ids:
        """For each treatment site, a holder insured elsewhere.

        Where ``resident`` is set and the site has migrant residents, the holder
        is one of them (a long-term resident); otherwise a visitor living at home,
        whose home is drawn in proportion to holders (times ``outflow`` weights,
        if given), excluding the site itself.
        """
        home = self._draw_other_province(site, rng, outflow)
        holders = self.draw_local(home, rng)
        living_here = self.migrants[:, site].T  # (n, provinces): migrants at each site by home
        total = living_here.sum(axis=1)
        use = resident & (total > 0)
        if use.any():
            rows = np.flatnonzero(use)
            cumulative = np.cumsum(living_here[rows], axis=1)
            pick = (rng.random(rows.size) * total[rows]).astype(np.int64)
            their_home = (pick[:, None] >= cumulative).sum(axis=1)
            offset = pick - (cumulative[np.arange(rows.size), their_home]
                             - living_here[rows, their_home])  # fmt: skip
            holders[rows] = self._migrant_start[their_home, site[rows]] + offset
        return holders

    def cross_home_shares(
        self, resident_share: float, outflow: npt.NDArray[np.float64] | None = None
    ) -> npt.NDArray[np.float64]:
        """``[site, home]``: the odds that a patient at ``site`` is insured at ``home``.

        What :meth:`draw_cross` draws from, as a matrix: long-term residents (a
        ``resident_share`` of them, where the site has migrants) in proportion to the
        site's migrants by home, visitors in proportion to holders (times
        ``outflow``) elsewhere. The background's cross-province routes use it.
        """
        weights = self.holders_per_province.astype(np.float64)
        if outflow is not None:
            weights = weights * outflow
        n = weights.size
        visitors = np.tile(weights, (n, 1))
        np.fill_diagonal(visitors, 0.0)
        totals = visitors.sum(axis=1, keepdims=True)
        visitors = np.divide(visitors, totals, out=np.zeros_like(visitors), where=totals > 0)
        living = self.migrants.T.astype(np.float64)  # [site, home]
        here = living.sum(axis=1, keepdims=True)
        residents = np.divide(living, here, out=visitors.copy(), where=here > 0)
        shares: npt.NDArray[np.float64] = (
            resident_share * residents + (1.0 - resident_share) * visitors
        )
        return shares

    def _draw_other_province(
        self, site: Ids, rng: np.random.Generator, outflow: npt.NDArray[np.float64] | None
    ) -> Ids:
        weights = self.holders_per_province.astype(np.float64)
        if outflow is not None:
            weights = weights * outflow
        # Where no other province has a (weighted) holder, the site's own must do:
        # rejection would never end.
        total = weights.sum()
        alone = total - weights[site] <= 0
        if alone.all():
            return site.astype(np.int64)
        cumulative = np.cumsum(weights) / total
        home = np.searchsorted(cumulative, rng.random(site.size), side="right")
        home[alone] = site[alone]
        clash = (home == site) & ~alone
        while clash.any():  # rejection: a few rounds unless one province dominates the weights
            home[clash] = np.searchsorted(cumulative, rng.random(int(clash.sum())), side="right")
            clash = (home == site) & ~alone
        return home.astype(np.int64)


def holder_counts(provinces: ProvinceTable, spec: PopulationSpec, scale: float) -> Ids:
    """Simulated holders insured in each province: the scaled total, apportioned exactly."""
    full = provinces.holders.astype(np.float64)
    total = spec.holders if spec.holders is not None else float(full.sum())
    return apportion(full, total * scale)


def build_population(
    provinces: ProvinceTable, spec: PopulationSpec, scale: float, rng: np.random.Generator
) -> Population:
    """Lay out the scaled holders of a scenario: counts, migrants and hash keys."""
    counts = holder_counts(provinces, spec, scale)
    n = counts.size
    destinations = provinces.population.astype(np.float64)
    migrants = np.zeros((n, n), dtype=np.int64)
    for h in range(n):
        moved = round(counts[h] * spec.migrant_share)
        weights = destinations.copy()
        weights[h] = 0.0  # migrants live anywhere but at home, in proportion to population
        if moved and weights.sum() > 0:
            migrants[h] = apportion(weights, moved)
    keys = rng.integers(0, 2**63, size=2)
    return Population(
        offsets=np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
        stay=counts - migrants.sum(axis=1),
        migrants=migrants,
        ecard_share=spec.ecard_share,
        employee_share=spec.employee_share,
        card_key=int(keys[0]),
        scheme_key=int(keys[1]),
    )

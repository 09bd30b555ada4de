"""Card holders as numpy columns: home province, residence, card kind, scheme.

Holders are numbered so that each home province's holders are one contiguous
id range; drawing "a holder insured in province h" is then one uniform integer.
A share of holders (migrants) live outside their home province: they are the
long-term residents among cross-province patients. Counts are scaled by the
scenario's ``scale`` and apportioned so they add up exactly.
"""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

from sim.domain import CardKind, Scheme
from sim.provinces import ProvinceTable, apportion
from sim.scenario.schema import PopulationSpec

__all__ = ["Population", "build_population", "holder_counts"]

Ids = npt.NDArray[np.int64]


@attrs.define(eq=False)
class Population:
    """All simulated holders. Columns are indexed by holder id."""

    home: npt.NDArray[np.uint8]
    residence: npt.NDArray[np.uint8]
    card_kind: npt.NDArray[np.uint8]
    scheme: npt.NDArray[np.uint8]
    offsets: Ids
    """``offsets[h]:offsets[h+1]`` is the id range of holders insured in province ``h``."""
    migrants_by_residence: Ids
    """Ids of holders living outside their home province, grouped by residence."""
    migrant_offsets: Ids

    @property
    def size(self) -> int:
        """Number of simulated holders."""
        return int(self.home.size)

    @property
    def holders_per_province(self) -> Ids:
        """Simulated holders insured in each province."""
        return np.diff(self.offsets)

    @property
    def nbytes(self) -> int:
        """Memory held by the columns."""
        arrays = (
            self.home,
            self.residence,
            self.card_kind,
            self.scheme,
            self.offsets,
            self.migrants_by_residence,
            self.migrant_offsets,
        )
        return sum(a.nbytes for a in arrays)

    def draw_local(self, province: Ids, rng: np.random.Generator) -> Ids:
        """For each entry, a holder insured in that province (uniformly)."""
        counts = self.holders_per_province[province]
        return self.offsets[province] + (rng.random(province.size) * counts).astype(np.int64)

    def draw_cross(
        self, site: Ids, resident: npt.NDArray[np.bool_], rng: np.random.Generator
    ) -> Ids:
        """For each treatment site, a holder insured elsewhere.

        Where ``resident`` is set and the site has migrant residents, the holder
        is one of them (a long-term resident); otherwise a visitor whose home is
        drawn in proportion to holders, excluding the site itself.
        """
        home = self._draw_other_province(site, rng)
        holders = self.draw_local(home, rng)
        migrants_here = np.diff(self.migrant_offsets)[site]
        use_resident = resident & (migrants_here > 0)
        picks = self.migrant_offsets[site] + (rng.random(site.size) * migrants_here).astype(
            np.int64
        )
        picks = np.minimum(picks, max(self.migrants_by_residence.size - 1, 0))
        if self.migrants_by_residence.size:
            holders = np.where(use_resident, self.migrants_by_residence[picks], holders)
        return holders

    def _draw_other_province(self, site: Ids, rng: np.random.Generator) -> Ids:
        weights = self.holders_per_province.astype(np.float64)
        cumulative = np.cumsum(weights) / weights.sum()
        home = np.searchsorted(cumulative, rng.random(site.size), side="right")
        clash = home == site
        while clash.any():  # rejection: at most a few rounds, largest share is under 10%
            home[clash] = np.searchsorted(cumulative, rng.random(int(clash.sum())), side="right")
            clash = home == site
        return home.astype(np.int64)


def holder_counts(provinces: ProvinceTable, spec: PopulationSpec, scale: float) -> Ids:
    """Simulated holders insured in each province: the scaled total, apportioned exactly."""
    full = provinces.holders.astype(np.float64)
    total = spec.holders if spec.holders is not None else float(full.sum())
    return apportion(full, total * scale)


def build_population(
    provinces: ProvinceTable, spec: PopulationSpec, scale: float, rng: np.random.Generator
) -> Population:
    """Create the scaled holder columns for a scenario."""
    counts = holder_counts(provinces, spec, scale)
    home = np.repeat(np.arange(len(provinces), dtype=np.uint8), counts)
    n = home.size
    card_kind = np.where(rng.random(n) < spec.ecard_share, CardKind.ECARD, CardKind.CHIP)
    scheme = np.where(rng.random(n) < spec.employee_share, Scheme.EMPLOYEE, Scheme.RESIDENT)
    residence = home.copy()
    migrant = np.flatnonzero(rng.random(n) < spec.migrant_share)
    if migrant.size:
        # Destination in proportion to population, never the home province itself.
        weights = provinces.population.astype(np.float64)
        cumulative = np.cumsum(weights) / weights.sum()
        dest = np.searchsorted(cumulative, rng.random(migrant.size), side="right")
        clash = dest == home[migrant]
        while clash.any():
            dest[clash] = np.searchsorted(cumulative, rng.random(int(clash.sum())), side="right")
            clash = dest == home[migrant]
        residence[migrant] = dest
    order = migrant[np.argsort(residence[migrant], kind="stable")]
    migrant_counts = np.bincount(residence[order], minlength=len(provinces))
    return Population(
        home=home,
        residence=residence,
        card_kind=card_kind.astype(np.uint8),
        scheme=scheme.astype(np.uint8),
        offsets=np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
        migrants_by_residence=order.astype(np.int64),
        migrant_offsets=np.concatenate(([0], np.cumsum(migrant_counts))).astype(np.int64),
    )

"""Service points: the hospitals, clinics and pharmacies where the card is used.

Each (service, province) has a group of points; each point is a
:class:`~sim.engine.stations.Station` with ``capacity`` counters or terminals and its
own queue, and an arrival joins the queue of the point drawn for it (or is
turned away if that queue is at the point's ``queue_limit``). Point counts are
given at full scale and scaled with the scenario, at least one per province,
so each point sees a realistic load at any scale.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import simpy

from sim.engine.stations import Station, StationStats
from sim.scenario.schema import PointsSpec
from sim.world.provinces import apportion

__all__ = ["PointGroup", "point_counts", "scaled_counts"]


def point_counts(
    spec: PointsSpec, holders: npt.NDArray[np.int64], scale: float
) -> npt.NDArray[np.int64]:
    """Scaled number of points per province (``total`` is apportioned by holders)."""
    if spec.per_province is not None:
        counts = np.full(holders.size, round(spec.per_province * scale), dtype=np.int64)
    else:
        assert spec.total is not None  # guaranteed by PointsSpec.check
        counts = apportion(holders.astype(np.float64), spec.total * scale)
    return np.maximum(counts, 1)


def scaled_counts(full: npt.NDArray[np.int64], scale: float) -> npt.NDArray[np.int64]:
    """Full-scale counts per province times ``scale``, rounded, at least one each."""
    counts: npt.NDArray[np.int64] = np.maximum(np.rint(full * scale), 1).astype(np.int64)
    return counts


class PointGroup:
    """All points of one service in one province, sharing one set of figures."""

    __slots__ = ("networked", "points", "stats")

    def __init__(
        self,
        env: simpy.Environment,
        service: str,
        province: str,
        count: int,
        capacity: int,
        channel: str = "",
        queue_limit: int | None = None,
    ) -> None:
        name = f"point:{service}:{province}" + (f":{channel}" if channel else "")
        self.stats = StationStats(name, "point", province, service)
        self.points = [Station(env, capacity, self.stats, queue_limit) for _ in range(count)]
        self.networked = [True] * count
        """Per point: connected to cross-province direct settlement."""

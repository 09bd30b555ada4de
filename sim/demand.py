"""Arrivals: non-homogeneous Poisson streams per (province, service), drawn in batches.

The rate of service s in province p is ``holders[p] × rate_per_holder ×
profile(hour)`` (or ``points[p] × rate_per_point`` for a per-point rate, and
zero outside the service's ``sites``), piecewise constant over local hours. For each hour (clipped
to the run), the number of arrivals is Poisson and their times are uniform
within the hour, which is exactly a non-homogeneous Poisson process with that
rate. Everything an arrival needs (which holder, home province, card kind,
filing, bill, which point) is drawn for the whole hour in numpy, one random
stream per service, and the services' batches are merged in time order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence

import attrs
import numpy as np
import numpy.typing as npt

from sim.calendar import Clock, hourly_weights
from sim.distributions import sample_fen
from sim.population import Population
from sim.scenario.schema import SERVICE_NAMES, MedicalService, PerPointPerHour, Scenario
from sim.streams import Streams

__all__ = ["SERVICE_CODES", "ArrivalBatch", "Demand", "arrival_rates", "hourly_means"]

SERVICE_CODES = {name: code for code, name in enumerate(SERVICE_NAMES)}
"""Fixed code of every service name, used in columns and policy tables."""


@attrs.define(eq=False)
class ArrivalBatch:
    """All arrivals in ``[t0_s, t1_s)``, in time order, as aligned columns."""

    index: int
    t0_s: float
    t1_s: float
    first_id: int
    time_s: npt.NDArray[np.float64]
    service: npt.NDArray[np.uint8]
    site: npt.NDArray[np.int64]
    holder: npt.NDArray[np.int64]
    home: npt.NDArray[np.int64]
    card: npt.NDArray[np.uint8]
    scheme: npt.NDArray[np.uint8]
    filed: npt.NDArray[np.bool_]
    ineligible: npt.NDArray[np.bool_]
    amount_fen: npt.NDArray[np.int64]
    point: npt.NDArray[np.int64]

    @property
    def size(self) -> int:
        """Number of arrivals in the batch."""
        return int(self.time_s.size)

    @property
    def cross(self) -> npt.NDArray[np.bool_]:
        """Whether each arrival is treated outside its home province."""
        cross: npt.NDArray[np.bool_] = self.site != self.home
        return cross


_COLUMNS = [f.name for f in attrs.fields(ArrivalBatch)][4:]


def arrival_rates(
    service: MedicalService,
    province_ids: Sequence[str],
    holders: npt.NDArray[np.int64],
    points: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """Arrivals per second of a service in each province, at profile weight 1.

    A plain function of the scenario and the (scaled) holder and point counts,
    so that theory checks compute exactly the rate the model draws from.
    """
    if isinstance(service.rate, PerPointPerHour):
        rate = points.astype(np.float64) * (service.rate.value / 3600.0)
    else:
        rate = holders.astype(np.float64) * (service.rate.per_holder_per_day / 86400.0)
    if service.sites is not None:
        rate = np.where(np.isin(np.asarray(province_ids), service.sites), rate, 0.0)
    return rate


def hourly_means(
    clock: Clock,
    horizon_s: float,
    weights: npt.NDArray[np.float64],
    base_rate: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The hour edges and the expected arrivals per (hour piece, province).

    Row ``k`` covers ``[edges[k], edges[k + 1])``; the counts in these cells are
    independent Poisson variables with these means, which is what the
    chi-square check of the arrival process compares against.
    """
    edges = clock.hour_edges(horizon_s)
    hours = clock.hour_of_day(edges[:-1])
    widths = np.diff(edges)
    return edges, (weights[hours] * widths)[:, None] * base_rate[None, :]


class Demand:
    """Generates the run's arrivals hour by hour."""

    def __init__(
        self,
        scenario: Scenario,
        population: Population,
        point_counts: Mapping[str, npt.NDArray[np.int64]],
        streams: Streams,
        province_ids: Sequence[str],
    ) -> None:
        self.clock = Clock(scenario.start)
        self.horizon_s = float(scenario.horizon)
        self.population = population
        self.services: dict[str, MedicalService] = scenario.services.enabled()
        self.point_counts = point_counts
        self.rngs = {name: streams.generator(f"demand:{name}") for name in self.services}
        self.weights = {name: hourly_weights(s.profile) for name, s in self.services.items()}
        holders = population.holders_per_province
        self.base_rate = {  # arrivals per second per province at profile weight 1
            name: arrival_rates(s, province_ids, holders, point_counts[name])
            for name, s in self.services.items()
        }

    def expected_arrivals(self) -> dict[str, float]:
        """Expected number of arrivals per service over the horizon."""
        return {name: float(self.hourly_means(name)[1].sum()) for name in self.services}

    def hourly_means(self, name: str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """The hour edges and expected arrivals of a service per (hour piece, province)."""
        return hourly_means(self.clock, self.horizon_s, self.weights[name], self.base_rate[name])

    def batches(self) -> Iterator[ArrivalBatch]:
        """Successive hourly batches covering ``[0, horizon)``; ids run on across batches."""
        edges = self.clock.hour_edges(self.horizon_s)
        next_id = 0
        for index, (t0, t1) in enumerate(itertools.pairwise(edges)):
            hour = int(self.clock.hour_of_day(t0))
            parts = [self._service_hour(name, hour, t0, t1) for name in self.services]
            batch = _merge(index, t0, t1, next_id, parts)
            next_id += batch.size
            yield batch

    def _service_hour(
        self, name: str, hour: int, t0: float, t1: float
    ) -> dict[str, npt.NDArray[np.generic]]:
        service = self.services[name]
        rng = self.rngs[name]
        means = self.base_rate[name] * self.weights[name][hour] * (t1 - t0)
        counts = rng.poisson(means)
        site = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
        n = site.size
        time_s = t0 + rng.random(n) * (t1 - t0)
        cross = rng.random(n) < service.cross_province_share
        resident = rng.random(n) < service.resident_share
        holder = self.population.draw_local(site, rng)
        if cross.any():
            holder[cross] = self.population.draw_cross(site[cross], resident[cross], rng)
        points = self.point_counts[name][site]
        return {
            "time_s": time_s,
            "service": np.full(n, SERVICE_CODES[name], dtype=np.uint8),
            "site": site,
            "holder": holder,
            "home": self.population.home[holder].astype(np.int64),
            "card": self.population.card_kind[holder],
            "scheme": self.population.scheme[holder],
            "filed": ~cross | (rng.random(n) < service.filed_in_advance),
            "ineligible": rng.random(n) < service.ineligible_share,
            "amount_fen": sample_fen(service.amount, rng, n),
            "point": (rng.random(n) * points).astype(np.int64),
        }


def _merge(
    index: int,
    t0: float,
    t1: float,
    first_id: int,
    parts: list[dict[str, npt.NDArray[np.generic]]],
) -> ArrivalBatch:
    columns = {key: np.concatenate([p[key] for p in parts]) for key in _COLUMNS}
    order = np.argsort(columns["time_s"], kind="stable")
    return ArrivalBatch(
        index,
        float(t0),
        float(t1),
        first_id,
        **{key: value[order] for key, value in columns.items()},
    )

"""Recognising a scenario that queueing theory can answer, and what theory says about it.

:func:`reduce_scenario` reads an ordinary scenario and decides which exact
results apply, checking every condition they rest on rather than assuming it:

- **one service point** (M/M/c, M/M/c/K, M/G/1): one service, whose demand
  reaches exactly one point, at a constant rate, and a settlement exchange that
  takes no time (constant-zero links and node service), so that the counter is
  held for exactly the service time;
- **a settlement network** (Kelly): service points that take no time,
  instantaneous links, exponential node service the same for forwarding and
  settling, no e-card verification, visitors' home provinces drawn by holders
  only, and a constant rate; each route is then a fixed sequence of node visits;
- **any other scenario**: its arrival process (Poisson counts per hour, and
  exponential inter-arrival times after time rescaling) and Little's law.

When a reduction does not apply, the reasons say which condition failed, so a
user can see what to change. Arrival rates come from the very functions the
model draws them with (:func:`sim.world.demand.arrival_rates`).
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import numpy.typing as npt

from sim.engine.calendar import Clock, hourly_weights
from sim.engine.distributions import mean as mean_of
from sim.outputs import theory
from sim.scenario.schema import (
    Constant,
    Distribution,
    Exponential,
    Gamma,
    Lognormal,
    MedicalService,
    Scenario,
)
from sim.validation.probes import ArrivalProbe, NetworkProbe, PointProbe, Probe
from sim.world.demand import arrival_rates, hourly_means
from sim.world.points import point_counts
from sim.world.population import holder_counts
from sim.world.provinces import simulated_provinces

__all__ = ["Case", "Quantity", "reduce_scenario"]

Array = npt.NDArray[np.float64]


@attrs.frozen
class Quantity:
    """One figure theory predicts for a case: its key in a run's measurements."""

    key: str
    label: str
    theory: float


@attrs.frozen
class Case:
    """A scenario, the theory that applies to it, and how to measure its runs."""

    scenario: Scenario
    kind: str
    """The model theory sees, e.g. ``M/M/3`` or ``Kelly network, 3 nodes``."""
    quantities: tuple[Quantity, ...]
    probe: Probe
    notes: tuple[str, ...] = ()
    """Why no queueing reduction applies (arrival and Little checks only)."""

    @property
    def name(self) -> str:
        """The scenario's name."""
        return self.scenario.name


def reduce_scenario(scenario: Scenario) -> Case:
    """The most specific case a scenario reduces to (arrival checks as the fallback)."""
    counts = _Counts.of(scenario)
    point = _point_case(scenario, counts)
    if isinstance(point, Case):
        return point
    network = _network_case(scenario, counts)
    if isinstance(network, Case):
        return network
    means = _means(scenario, counts)
    probe = ArrivalProbe(
        tuple(means),
        counts.province_ids,
        {name: edges for name, (edges, _) in means.items()},
        {name: m for name, (_, m) in means.items()},
    )
    expected = float(probe.expected_counts().sum())
    quantity = Quantity("arrivals", "arrivals over the horizon", expected)
    notes = tuple(f"not one service point: {r}" for r in point) + tuple(
        f"not a Kelly network: {r}" for r in network
    )
    return Case(scenario, "arrival process", (quantity,), probe, notes)


@attrs.frozen
class _Counts:
    """The simulated provinces and their scaled holder and point counts."""

    province_ids: tuple[str, ...]
    holders: npt.NDArray[np.int64]
    points: dict[str, npt.NDArray[np.int64]]

    @classmethod
    def of(cls, scenario: Scenario) -> _Counts:
        provinces = simulated_provinces(scenario)
        return cls(
            provinces.ids,
            holder_counts(provinces, scenario.population, scenario.scale),
            {
                name: point_counts(s.points, provinces.holders, scenario.scale)
                for name, s in scenario.services.medical().items()
            },
        )

    def rates(self, name: str, service: MedicalService) -> npt.NDArray[np.float64]:
        """Arrivals per second in each province at profile weight 1."""
        return arrival_rates(service, self.province_ids, self.holders, self.points[name])


def _means(scenario: Scenario, counts: _Counts) -> dict[str, tuple[Array, Array]]:
    """Per service: hour edges and expected arrivals per (hour piece, province)."""
    clock = Clock(scenario.start)
    return {
        name: hourly_means(
            clock, float(scenario.horizon), hourly_weights(s.profile), counts.rates(name, s)
        )
        for name, s in scenario.services.medical().items()
    }


def _constant_weight(scenario: Scenario, service: MedicalService) -> float | None:
    """The profile weight if it is the same in every hour the run covers, else None."""
    clock = Clock(scenario.start)
    hours = clock.hour_of_day(clock.hour_edges(float(scenario.horizon))[:-1])
    weights = hourly_weights(service.profile)[hours]
    return float(weights[0]) if np.allclose(weights, weights[0], rtol=1e-12) else None


def _is_zero(dist: Distribution | None) -> bool:
    return isinstance(dist, Constant) and float(dist.value) == 0.0


def _cv(dist: Distribution) -> float | None:
    """Coefficient of variation of a service-time distribution (None if mean is 0)."""
    if isinstance(dist, Exponential):
        return 1.0
    if isinstance(dist, Lognormal | Gamma):
        return float(dist.cv)
    if isinstance(dist, Constant):
        return 0.0 if dist.value > 0 else None
    mean = mean_of(dist)
    return (dist.high - dist.low) / math.sqrt(12.0) / mean if mean > 0 else None


def _zero_time_settlement(scenario: Scenario, service: MedicalService) -> list[str]:
    """Reasons the counter would be held for more than the service time."""
    net = scenario.network
    used = [("network.access.latency", net.access.latency)]
    used.append(("network.provincial.service_time", net.provincial.service_time))
    if service.settlement.service_time is not None:
        used.append(("settlement.service_time", service.settlement.service_time))
    if service.cross_province_share > 0:
        used += [
            ("network.backbone.latency", net.backbone.latency),
            ("network.national.service_time", net.national.service_time),
        ]
    if scenario.population.ecard_share > 0:
        used.append(("network.card_platform.service_time", net.card_platform.service_time))
    return [f"{key} is not {{constant: 0s}}" for key, dist in used if not _is_zero(dist)]


def _point_case(scenario: Scenario, counts: _Counts) -> Case | list[str]:
    services = scenario.services.medical()
    if len(services) != 1:
        return [f"{len(services)} services (needs one)"]
    ((name, service),) = services.items()
    reasons = _zero_time_settlement(scenario, service)
    rates = counts.rates(name, service)
    busy = np.flatnonzero(rates > 0)
    if busy.size != 1 or counts.points[name][busy[0]] != 1:
        points = int(counts.points[name][busy].sum())
        reasons.append(f"demand reaches {points} points in {busy.size} provinces (needs 1)")
    weight = _constant_weight(scenario, service)
    if weight is None:
        reasons.append(f"profile {service.profile!r} is not constant over the run")
    spec = service.points
    dist, c, limit = spec.service_time, spec.capacity, spec.queue_limit
    cv = _cv(dist)
    if cv is None:
        reasons.append("service time has mean 0")
    elif not isinstance(dist, Exponential) and (c > 1 or limit is not None):
        reasons.append("no exact formula for a non-exponential service with several counters "
                       "or a queue limit")  # fmt: skip
    if reasons:
        return reasons
    assert weight is not None
    assert cv is not None
    province = counts.province_ids[busy[0]]
    lam = float(rates[busy[0]]) * weight
    mean = mean_of(dist)
    probe = PointProbe(name, province)
    if limit is not None:
        mk = theory.mmck(lam, mean, c, c + limit)
        kind = f"M/M/{c}/{c + limit}" + (" (Erlang B)" if limit == 0 else "")
        quantities = [Quantity("p_block", "P(turned away)", mk.p_block)]
        if limit > 0:
            quantities += [
                Quantity("p_wait", "P(wait > 0), admitted", mk.p_wait),
                Quantity("wait_s", "mean wait Wq (s)", mk.wait_s),
                Quantity("queue", "mean queue Lq", mk.queue),
            ]
        quantities.append(Quantity("busy", "mean busy counters", mk.busy))
        return Case(scenario, kind, tuple(quantities), probe)
    rho = lam * mean / c
    if rho >= 1:
        return [f"utilisation {rho:.3f} ≥ 1: no steady state"]
    if isinstance(dist, Exponential):
        model: theory.MMc | theory.MG1 = theory.mmc(lam, mean, c)
        kind = f"M/M/{c}"
    else:
        model = theory.mg1(lam, mean, cv)
        kind = "M/D/1" if cv == 0 else f"M/G/1 ({type(dist).__name__.lower()}, cv {cv:g})"
    quantities = [
        Quantity("p_wait", "P(wait > 0)", model.p_wait),
        Quantity("wait_s", "mean wait Wq (s)", model.wait_s),
        Quantity("queue", "mean queue Lq", model.queue),
        Quantity("sojourn_s", "mean time at point W (s)", model.sojourn_s),
        Quantity("busy", "mean busy counters", model.busy),
    ]
    return Case(scenario, kind, tuple(quantities), probe)


def _network_case(scenario: Scenario, counts: _Counts) -> Case | list[str]:
    net, reasons = scenario.network, []
    services = scenario.services.medical()
    for name, s in services.items():
        if not _is_zero(s.points.service_time):
            reasons.append(f"services.{name}.points.service_time is not {{constant: 0s}}")
        if s.settlement.service_time not in (None, net.provincial.service_time):
            reasons.append(f"services.{name}.settlement.service_time differs from the node's")
        if (
            s.cross_province_share > 0
            and s.resident_share > 0
            and (scenario.population.migrant_share > 0)
        ):
            reasons.append(f"services.{name}: long-term residents' homes depend on the draw")
        if _constant_weight(scenario, s) is None:
            reasons.append(f"services.{name}.profile is not constant over the run")
    for key in ("access", "backbone"):
        if not _is_zero(getattr(net, key).latency):
            reasons.append(f"network.{key}.latency is not {{constant: 0s}}")
    for key in ("provincial", "national"):
        if not isinstance(getattr(net, key).service_time, Exponential):
            reasons.append(f"network.{key}.service_time is not exponential")
    if scenario.population.ecard_share > 0:
        reasons.append("population.ecard_share is not 0 (verification precedes settlement)")
    if reasons:
        return reasons
    return _kelly(scenario, counts)


def _kelly(scenario: Scenario, counts: _Counts) -> Case | list[str]:
    net, ids = scenario.network, counts.province_ids
    nodes = {pid: (net.provincial.servers, mean_of(net.provincial.service_time)) for pid in ids}
    nodes["national"] = (net.national.servers, mean_of(net.national.service_time))
    flows: dict[tuple[str, ...], float] = {}
    holders = counts.holders.astype(np.float64)
    for name, s in scenario.services.medical().items():
        weight = _constant_weight(scenario, s)
        assert weight is not None
        for i, lam in enumerate(counts.rates(name, s) * weight):
            here = ids[i]
            flows[(here,)] = flows.get((here,), 0.0) + lam * (1 - s.cross_province_share)
            others = holders.sum() - holders[i]
            for j, there in enumerate(ids):
                if j != i and others > 0 and s.cross_province_share > 0:
                    route = (here, "national", there, "national", here)
                    share = s.cross_province_share * holders[j] / others
                    flows[route] = flows.get(route, 0.0) + lam * share
    routes = [(rate, route) for route, rate in flows.items() if rate > 0]
    try:
        solved = theory.kelly_network(nodes, routes)
    except ValueError as exc:
        return [f"{exc}: no steady state"]
    quantities = [
        Quantity(f"sojourn:{node}", f"sojourn at {node} (ms)", 1000 * solved.node[node].sojourn_s)
        for node in nodes
        if solved.node_arrival_rate[node] > 0
    ]
    for label, local in (("local", True), ("cross-province", False)):
        picked = [i for i, (_, route) in enumerate(routes) if (len(route) == 1) == local]
        if picked:
            mean = solved.mean_sojourn_s([routes[i][0] for i in picked], picked)
            key = "e2e:local" if local else "e2e:cross"
            quantities.append(Quantity(key, f"settle latency, {label} (ms)", 1000 * mean))
    busy = [n for n in nodes if solved.node_arrival_rate[n] > 0]
    probe = NetworkProbe(tuple(busy))
    return Case(scenario, f"Kelly network, {len(busy)} nodes", tuple(quantities), probe)

"""Queueing theory with exact answers: the yardstick the simulator is checked against.

Plain functions of rates and service-time moments, with no simulation in sight,
so each can be tested against textbook numbers and then compared with runs
(``sim.validation``) and with any run's settlement nodes (the Erlang-C column
of ``summary.json``). Time is in seconds and rates per second, as everywhere.

Sources, cited by formula below:

- [K75] L. Kleinrock, *Queueing Systems, Volume 1: Theory*, Wiley, 1975:
  M/M/1 and M/M/c (§3.4, Erlang's C formula eq. 3.40-3.43), M/M/c/c (§3.6,
  Erlang's B formula), M/G/1 and the Pollaczek-Khinchine mean value formula
  (§5.6, eq. 5.72), Little's law (§2.1).
- [GH08] D. Gross, J. F. Shortle, J. M. Thompson, C. M. Harris, *Fundamentals of
  Queueing Theory*, 4th ed., Wiley, 2008: M/M/c/K (§2.5, eq. 2.46-2.52),
  open Jackson networks (§4.2).
- [Ke79] F. P. Kelly, *Reversibility and Stochastic Networks*, Wiley, 1979,
  ch. 3: networks with customers of several types on fixed routes (revisits
  allowed) have a product-form equilibrium when each FCFS node serves every
  type exponentially at the same rate; each node then behaves as an M/M/c queue
  fed by Poisson arrivals at its total visit rate.
- [Li61] J. D. C. Little, "A proof for the queuing formula L = λW",
  *Operations Research* 9(3), 383-387, 1961.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import pyarrow as pa

from sim.scenario.families import FAMILIES

__all__ = [
    "FACTOR",
    "MG1",
    "KellyNetwork",
    "MMc",
    "MMcK",
    "erlang_b",
    "erlang_c",
    "kelly_network",
    "little_l",
    "mg1",
    "mmc",
    "mmck",
    "node_theory",
]


RECURSION_MAX = 10_000
"""Most steps of the Erlang B recursion; more servers use the Poisson closed form."""


def erlang_b(servers: int, load: float) -> float:
    """Erlang's loss formula B(c, a): the share of arrivals finding all c servers busy.

    ``load`` a = λ × mean service time, in Erlangs. Computed by the stable
    recursion B(k) = a B(k-1) / (k + a B(k-1)), B(0) = 1 [K75 §3.6], which stops
    once B underflows; beyond :data:`RECURSION_MAX` servers, by the closed form.
    """
    if servers < 1:
        raise ValueError(f"servers must be ≥ 1, got {servers}")
    if load < 0:
        raise ValueError(f"load must be ≥ 0, got {load}")
    b = 1.0
    for k in range(1, min(servers, RECURSION_MAX) + 1):
        b = load * b / (k + load * b)
        if b == 0.0:  # underflowed past k > a: every later term is 0 as well
            return 0.0
    if servers <= RECURSION_MAX:
        return b
    # Many servers under a heavy load: the closed form B = P(N = c) / P(N ≤ c) for
    # N ~ Poisson(a) costs the same for any c (the recursion's time grew with c).
    from scipy.stats import poisson  # deferred: SciPy is slow to import

    return float(math.exp(poisson.logpmf(servers, load) - poisson.logcdf(servers, load)))


def erlang_c(servers: int, load: float) -> float:
    """Erlang's delay formula C(c, a): the probability that an arrival has to wait.

    C = c B / (c - a (1 - B)) with B = B(c, a), for a < c [K75 eq. 3.40].
    By PASTA it is also the long-run share of time all servers are busy.
    """
    if not 0 <= load < servers:
        raise ValueError(f"needs 0 ≤ load < servers for a steady state, got {load} and {servers}")
    b = erlang_b(servers, load)
    return servers * b / (servers - load * (1.0 - b))


@attrs.frozen
class MMc:
    """Steady state of an M/M/c queue (M/M/1 when ``servers`` is 1) [K75 §3.4]."""

    arrival_rate: float
    mean_service_s: float
    servers: int
    p_wait: float
    """Probability an arrival waits (Erlang C)."""
    wait_s: float
    """Mean wait in queue, Wq = C × s / (c − a)."""
    queue: float
    """Mean number waiting, Lq = λ Wq."""
    sojourn_s: float
    """Mean time in the station, W = Wq + s."""
    busy: float
    """Mean number of busy servers, a = λ s."""


def mmc(arrival_rate: float, mean_service_s: float, servers: int) -> MMc:
    """M/M/c: Poisson arrivals, exponential service, c servers, one FIFO queue."""
    load = arrival_rate * mean_service_s
    c = erlang_c(servers, load)
    wait = c * mean_service_s / (servers - load)
    return MMc(
        arrival_rate,
        mean_service_s,
        servers,
        p_wait=c,
        wait_s=wait,
        queue=arrival_rate * wait,
        sojourn_s=wait + mean_service_s,
        busy=load,
    )


@attrs.frozen
class MG1:
    """Steady state of an M/G/1 queue by the Pollaczek-Khinchine formula [K75 eq. 5.72]."""

    arrival_rate: float
    mean_service_s: float
    service_cv: float
    p_wait: float
    """Probability an arrival waits: ρ (the server is busy a share ρ of the time; PASTA)."""
    wait_s: float
    """Mean wait in queue, Wq = λ E[S²] / (2 (1 − ρ)), E[S²] = s² (1 + cv²)."""
    queue: float
    """Mean number waiting, Lq = λ Wq."""
    sojourn_s: float
    """Mean time in the station, W = Wq + s."""
    busy: float
    """Utilisation ρ = λ s."""


def mg1(arrival_rate: float, mean_service_s: float, service_cv: float) -> MG1:
    """M/G/1 from the service time's mean and coefficient of variation (0 for M/D/1)."""
    rho = arrival_rate * mean_service_s
    if not 0 <= rho < 1:
        raise ValueError(f"needs utilisation < 1 for a steady state, got {rho}")
    second_moment = mean_service_s**2 * (1.0 + service_cv**2)
    wait = arrival_rate * second_moment / (2.0 * (1.0 - rho))
    return MG1(
        arrival_rate,
        mean_service_s,
        service_cv,
        p_wait=rho,
        wait_s=wait,
        queue=arrival_rate * wait,
        sojourn_s=wait + mean_service_s,
        busy=rho,
    )


@attrs.frozen
class MMcK:
    """Steady state of an M/M/c/K queue: at most K in the station, arrivals beyond are lost."""

    arrival_rate: float
    mean_service_s: float
    servers: int
    capacity: int
    """K: servers plus waiting places."""
    p_block: float
    """Probability an arrival finds K present and is turned away, p_K (PASTA)."""
    p_wait: float
    """Probability an admitted arrival waits: P(c ≤ N < K) / (1 − p_K)."""
    wait_s: float
    """Mean wait of admitted arrivals, Lq / (λ (1 − p_K))."""
    queue: float
    """Mean number waiting, Lq = Σ (n − c) p_n."""
    busy: float
    """Mean number of busy servers, λ (1 − p_K) s."""


def mmck(arrival_rate: float, mean_service_s: float, servers: int, capacity: int) -> MMcK:
    """M/M/c/K by its birth-death stationary distribution [GH08 §2.5].

    p_n ∝ a^n / n! for n ≤ c and a^c / c! × (a/c)^(n−c) for c < n ≤ K. Any load
    is allowed: the finite capacity keeps the queue stable.
    """
    if servers < 1 or capacity < servers:
        raise ValueError(f"needs 1 ≤ servers ≤ capacity, got {servers} and {capacity}")
    load = arrival_rate * mean_service_s
    if load <= 0:
        p = [1.0] + [0.0] * capacity
    else:  # in logs, so that a heavy load over many places cannot overflow
        logs = [0.0]
        for n in range(1, capacity + 1):
            logs.append(logs[-1] + math.log(load / min(n, servers)))
        top = max(logs)
        weights = [math.exp(v - top) for v in logs]
        p = [w / sum(weights) for w in weights]
    p_block = p[capacity]
    queue = sum((n - servers) * p[n] for n in range(servers + 1, capacity + 1))
    admitted = arrival_rate * (1.0 - p_block)
    p_wait = sum(p[servers:capacity]) / (1.0 - p_block)
    return MMcK(
        arrival_rate,
        mean_service_s,
        servers,
        capacity,
        p_block=p_block,
        p_wait=p_wait,
        wait_s=queue / admitted if admitted > 0 else 0.0,
        queue=queue,
        busy=admitted * mean_service_s,
    )


@attrs.frozen
class KellyNetwork:
    """Mean figures of an open network of exponential FCFS multi-server nodes [Ke79 ch. 3].

    Customers of each type enter as a Poisson stream and follow a fixed route
    (a node may be visited more than once). Each node is then an M/M/c queue
    with the total visit rate as its arrival rate, and a route's mean sojourn
    is the sum of the mean sojourns of its visits (means add, whether or not
    the visits are independent).
    """

    node_arrival_rate: dict[str, float]
    """Total visits per second at each node."""
    node: dict[str, MMc]
    """Each node as an M/M/c queue."""
    route_sojourn_s: tuple[float, ...]
    """Mean end-to-end sojourn of each route, in the order given."""

    def mean_sojourn_s(self, rates: Sequence[float], routes: Sequence[int]) -> float:
        """Mean end-to-end sojourn over a mix of routes (weights: their arrival rates)."""
        total = sum(rates)
        return sum(r * self.route_sojourn_s[i] for r, i in zip(rates, routes, strict=True)) / total


def kelly_network(
    nodes: Mapping[str, tuple[int, float]],
    routes: Sequence[tuple[float, Sequence[str]]],
) -> KellyNetwork:
    """Solve an open network with fixed routes and instantaneous links.

    Args:
        nodes: per node name, (servers, mean exponential service time in s);
            the same for every customer type, as product form requires.
        routes: (arrival rate per second, node names visited in order) per type.

    Raises:
        ValueError: a route names an unknown node, or a node is overloaded.
    """
    rates = dict.fromkeys(nodes, 0.0)
    for rate, visits in routes:
        for name in visits:
            if name not in nodes:
                raise ValueError(f"route visits unknown node {name!r}")
            rates[name] += rate
    solved = {name: mmc(rates[name], mean, servers) for name, (servers, mean) in nodes.items()}
    sojourn = tuple(sum(solved[name].sojourn_s for name in visits) for _, visits in routes)
    return KellyNetwork(rates, solved, sojourn)


def little_l(arrival_rate: float, mean_time_s: float) -> float:
    """Little's law: mean number present L = λ W [Li61], for any stable queue or network."""
    return arrival_rate * mean_time_s


# --- Erlang C beside every settlement node of any run -----------------------------
# A quick sanity check on the waits. From a node's measured figures alone (its
# arrival rate λ and its mean number of busy servers a = λ × mean service time,
# by Little's law on the servers), the M/M/c formula predicts the mean wait. Real
# nodes are not M/M/c: their service times need not be exponential and their load
# follows the day. But a simulated wait more than twice or less than half the
# prediction deserves a look: it signals a modelling mistake, a strongly
# non-exponential service, or load that changes so much over the window that an
# average says little (a node saturated at the morning peak and idle at night).
# Waits that are both tiny compared with the service time are not compared: their
# ratio is noise. Nor are nodes fed in batches (a bank node lands a payout file of
# thousands of credits at once): M/M/c assumes Poisson arrivals, and a batch makes
# waits of hours at 1% load, so the comparison would be a false alarm. It is a
# figure of every run (``summary.json``'s ``settlement_nodes``), so it lives here,
# below the model, not in :mod:`sim.validation`.

FACTOR = 2.0
"""Simulated and predicted waits differing by more than this factor are flagged."""
MIN_ARRIVALS = 100
"""Nodes with fewer arrivals in the window are not compared."""
NEGLIGIBLE = 0.01
"""Waits below this share of the mean service time count as none."""
BATCH_FED = frozenset(fam.key for fam in FAMILIES if fam.batch_arrivals)
"""Services whose nodes receive work in batches, not as a Poisson stream (not compared)."""


def node_theory(stations: pa.Table | Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Per settlement node: measured load and wait, the Erlang-C wait, their ratio, a verdict.

    The verdict is ``ok``, ``differs`` (by more than :data:`FACTOR`), ``saturated``
    (measured load at or above the servers: no steady state to compare with),
    ``batch arrivals`` (a node of a :data:`BATCH_FED` service), ``negligible``
    (both waits below 1% of the service time) or ``too few`` arrivals to say.
    """
    cols = stations.to_pydict() if isinstance(stations, pa.Table) else stations
    rows = []
    for i, kind in enumerate(cols["kind"]):
        if kind != "node":
            continue
        servers = int(cols["servers"][i])
        rate = float(cols["arrival_rate_per_s"][i])
        load = float(cols["mean_busy"][i])
        wait = cols["wait_mean_s"][i]
        wait = math.nan if wait is None else float(wait)
        service = load / rate if rate > 0 else math.nan
        predicted, ratio, verdict = math.nan, math.nan, "too few"
        service_name = cols["service"][i] if "service" in cols else ""
        if service_name in BATCH_FED:
            verdict = "batch arrivals"
        elif cols["arrivals"][i] >= MIN_ARRIVALS and service > 0:
            if load >= servers:
                verdict = "saturated"
            else:
                predicted = erlang_c(servers, load) * service / (servers - load)
                verdict, ratio = _compare(wait, predicted, service)
        rows.append(
            {
                "station": cols["station"][i],
                "servers": servers,
                "arrival_rate_per_s": rate,
                "mean_service_s": service,
                "utilisation": load / servers,
                "wait_mean_s": wait,
                "erlang_c_wait_s": predicted,
                "ratio": ratio,
                "verdict": verdict,
            }
        )
    return rows


def _compare(wait: float, predicted: float, service: float) -> tuple[str, float]:
    if max(wait, predicted) < NEGLIGIBLE * service:
        return "negligible", math.nan
    if predicted <= 0:
        return "differs", math.inf
    ratio = wait / predicted
    return ("differs" if not 1 / FACTOR <= ratio <= FACTOR else "ok"), ratio

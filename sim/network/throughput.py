"""Settlement throughput: how much load a settlement network sustains, and where it breaks.

The settlement network is driven alone (no service points, no holders' visits)
by an open Poisson stream of settlement requests at a fixed rate, for a fixed
simulated time; the p99 of the settlement latency is measured after a warm-up.
Stepping the rate up traces the latency curve; the *knee* is the highest rate
whose p99 stays under the target. Users compare network designs (servers,
service times, link latencies) by their knees.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from sim.engine.kernel import Call, Environment, call_later, run_until
from sim.engine.streams import Streams
from sim.money.policy import PolicyTable
from sim.network.nodes import Network
from sim.network.protocol import Answer, Protocol
from sim.scenario.families import SERVICE_CODES
from sim.scenario.schema import NetworkSpec, PolicyRule, PolicySpec
from sim.world.provinces import load_provinces
from sim.world.transaction import Transaction

__all__ = ["LoadPoint", "find_knee", "measure"]

_SERVICE = SERVICE_CODES["medical_inpatient"]


@attrs.frozen
class LoadPoint:
    """Settlement latency at one offered rate."""

    rate_per_s: float
    completed: int
    throughput_per_s: float
    p50_s: float
    p99_s: float
    timeouts: int


def measure(
    spec: NetworkSpec,
    rate_per_s: float,
    cross_share: float = 0.05,
    duration_s: float = 600.0,
    warmup_s: float = 60.0,
    seed: int = 1,
) -> LoadPoint:
    """Offer ``rate_per_s`` settlement requests for ``duration_s``; measure after warm-up.

    Requests come from provinces in proportion to holders; a ``cross_share`` of
    them are for holders of another province (drawn the same way).
    """
    env = Environment(tags=len(SERVICE_CODES))
    ids = load_provinces().ids
    holders = load_provinces().holders.astype(np.float64)
    network = Network(env, spec, ids, Streams(seed))
    policy = PolicyTable(PolicySpec(default={"medical_inpatient": PolicyRule(0.7)}), ids,
                         tuple(SERVICE_CODES))  # fmt: skip
    protocol = Protocol(env, network, policy, [None] * len(SERVICE_CODES))
    rng = np.random.default_rng(seed)
    n = rng.poisson(rate_per_s * duration_s)
    times = np.sort(rng.uniform(0.0, duration_s, n))
    weights = holders / holders.sum()
    sites = rng.choice(len(ids), n, p=weights)
    homes = np.where(rng.random(n) < cross_share, rng.choice(len(ids), n, p=weights), sites)
    latencies: list[float] = []
    answers: list[int] = []

    def answered(txn: Transaction, answer: Answer) -> None:
        if txn.arrival_s >= warmup_s:
            latencies.append(env.now - txn.arrival_s)
            answers.append(int(answer))

    arrival_times = times.tolist()

    def arrive(event: Call) -> None:
        i: int = event.value
        if i + 1 < n:  # only the next arrival is ever on the event queue
            call_later(env, arrival_times[i + 1] - env.now, arrive, i + 1)
        txn = Transaction(i, None, i, _SERVICE, int(sites[i]), int(homes[i]), 0, True, False,
                          100_000, env.now)  # fmt: skip
        protocol.settle(txn, answered)

    if n:
        call_later(env, arrival_times[0], arrive, 0)
    run_until(env)
    lat = np.array(latencies)
    measured = duration_s - warmup_s
    ok = np.array(answers) == Answer.SETTLED
    return LoadPoint(
        rate_per_s=rate_per_s,
        completed=int(ok.sum()),
        throughput_per_s=float(ok.sum() / measured),
        p50_s=float(np.percentile(lat, 50)) if lat.size else float("nan"),
        p99_s=float(np.percentile(lat, 99)) if lat.size else float("nan"),
        timeouts=int((np.array(answers) == Answer.TIMEOUT).sum()),
    )


def find_knee(
    spec: NetworkSpec,
    rates: Sequence[float],
    target_p99_s: float,
    cross_share: float = 0.05,
    duration_s: float = 600.0,
    warmup_s: float = 60.0,
    seed: int = 1,
) -> tuple[float | None, list[LoadPoint]]:
    """The highest rate (of ``rates``, ascending) whose p99 stays under the target.

    Stops at the first rate past the target (the curve only gets worse beyond it).
    Returns the knee (``None`` if even the lowest rate misses) and the points measured.
    """
    curve: list[LoadPoint] = []
    knee = None
    for rate in rates:
        point = measure(spec, rate, cross_share, duration_s, warmup_s, seed)
        curve.append(point)
        if point.p99_s > target_p99_s or point.timeouts:
            break
        knee = point.throughput_per_s
    return knee, curve

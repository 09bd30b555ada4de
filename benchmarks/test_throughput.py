"""Simulated settlement throughput: the knee of the latency curve, per network design.

The settlement network alone is offered rising rates of settlement requests
(``sim.network.throughput``); the knee is the highest sustained rate whose p99 latency
stays under the target. Two designs are compared: 2 and 4 servers per provincial
platform (the platforms, not the national hub, are the bottleneck: Guangdong's
carries 9% of all requests). The figures go to ``extra_info`` and the terminal.
"""

from __future__ import annotations

import attrs
import pytest

from sim.network.throughput import find_knee
from sim.scenario.schema import NetworkSpec, NodeSpec

TARGET_P99_S = 1.0
RATES = [200.0, 400.0, 600.0, 800.0, 1000.0, 1200.0, 1400.0, 1600.0, 1800.0, 2000.0]


@pytest.mark.benchmark(group="throughput")
@pytest.mark.parametrize("servers", [2, 4], ids="provincial_servers={}".format)
def test_settlement_knee(benchmark, servers: int) -> None:
    """Sustained settlements per simulated second before p99 > 1 s."""
    base = NetworkSpec()
    spec = attrs.evolve(base, provincial=NodeSpec(servers, base.provincial.service_time))
    rates = RATES[:1] if benchmark.disabled else RATES
    duration = 30.0 if benchmark.disabled else 120.0
    knee, curve = benchmark.pedantic(
        find_knee, args=(spec, rates, TARGET_P99_S),
        kwargs={"duration_s": duration, "warmup_s": duration / 6}, rounds=1,
    )  # fmt: skip
    assert curve
    assert curve[0].completed > 0
    benchmark.extra_info.update({
        "knee_per_s": knee,
        "curve": [(p.rate_per_s, p.throughput_per_s, p.p99_s) for p in curve],
    })  # fmt: skip
    lines = [f"  {p.rate_per_s:>6.0f}/s → p99 {p.p99_s * 1000:8.1f} ms" for p in curve]
    print(f"\nprovincial servers={servers}: knee {knee} settlements/s\n" + "\n".join(lines))

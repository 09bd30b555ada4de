"""The settlement-network load driver: throughput follows the offered rate until the knee."""

from __future__ import annotations

import attrs
import pytest

from sim.network.throughput import find_knee, measure
from sim.scenario.schema import Constant, LinkSpec, NetworkSpec, NodeSpec

FAST_LINKS = {"access": LinkSpec(Constant(0.001)), "backbone": LinkSpec(Constant(0.001))}


def test_light_load_is_carried_at_its_rate_with_bare_latency() -> None:
    """Well under capacity, every request settles and the p50 is links plus service."""
    spec = NetworkSpec(provincial=NodeSpec(8, Constant(0.02)), **FAST_LINKS)
    point = measure(spec, 50.0, cross_share=0.0, duration_s=120.0, warmup_s=20.0)
    assert point.throughput_per_s == pytest.approx(50.0, rel=0.1)
    assert point.timeouts == 0
    assert point.p50_s == pytest.approx(0.022, abs=1e-9)  # 2 links + 20 ms, no queueing


def test_knee_is_where_the_busiest_platform_saturates() -> None:
    """One server of 50 ms per platform: Guangdong (9.4% of requests) saturates near
    20/s ÷ 0.094 ≈ 210 requests/s overall; the knee stops there and not much later."""
    spec = attrs.evolve(NetworkSpec(), provincial=NodeSpec(1, Constant(0.05)), **FAST_LINKS)
    knee, curve = find_knee(spec, [50.0, 100.0, 150.0, 250.0, 400.0], target_p99_s=1.0,
                            cross_share=0.0, duration_s=120.0, warmup_s=20.0)  # fmt: skip
    assert knee is not None
    assert 140.0 <= knee <= 215.0
    assert curve[-1].rate_per_s == 250.0  # stopped at the first rate past the target
    assert curve[-1].p99_s > 1.0

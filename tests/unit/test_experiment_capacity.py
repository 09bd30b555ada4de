"""Capacity search: bisection on known curves, targets, and a search against brute force."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sim.experiment import Plan, PlanError, Target, run_sweep, search_capacity
from sim.experiment.capacity import bisect
from sim.experiment.stats import Interval
from sim.experiment.summary import figure_intervals


@pytest.mark.parametrize("start", [1, 2, 4, 5, 64, 1000])
def test_bisect_finds_the_smallest_count_on_a_known_curve(start: int) -> None:
    """Latency 10/n ≤ 3 first holds at n = 4 (10/3 = 3.33 > 3, 10/4 = 2.5), from any start,
    in a logarithmic number of evaluations."""
    asked: list[int] = []

    def meets(n: int) -> bool:
        asked.append(n)
        return 10.0 / n <= 3.0

    assert 4 == bisect(meets, start)
    assert len(asked) == len(set(asked)) <= 2 * math.ceil(math.log2(max(start, 4))) + 2


def test_bisect_respects_its_range() -> None:
    """The answer is never below the lowest count; None when even the highest fails."""
    assert 5 == bisect(lambda n: n >= 2, start=8, lowest=5)
    assert bisect(lambda n: n >= 100, start=3, highest=50) is None
    assert 50 == bisect(lambda n: n >= 50, start=3, highest=50)
    with pytest.raises(ValueError, match="empty range"):
        bisect(lambda n: True, start=1, lowest=5, highest=4)


def test_targets_name_figures_of_a_node() -> None:
    """p99_latency_s, utilisation and wait_p99_s mean the node's own figures."""
    assert "request_p99_cross_s" == Target.parse("p99_latency_s<=3", "national").figure
    assert "request_p99_local_s" == Target.parse("p99_latency_s<=3", "provincial").figure
    assert (
        "card_platform_utilisation" == Target.parse("utilisation <= 0.7", "card_platform").figure
    )
    target = Target.parse("direct_settlement_rate>=0.95", "national")
    assert (target.figure, target.op, target.value) == ("direct_settlement_rate", ">=", 0.95)
    with pytest.raises(PlanError, match="FIGURE<=VALUE"):
        Target.parse("p99_latency_s<3", "national")
    with pytest.raises(PlanError, match="unknown figure 'speed'"):
        Target.parse("speed<=3", "national")
    with pytest.raises(PlanError, match="a number"):
        Target.parse("p99_latency_s<=fast", "national")
    with pytest.raises(PlanError, match="finite"):
        Target.parse("p99_latency_s<=inf", "national")
    with pytest.raises(PlanError, match="unknown figure 'p99_latency_s' for node 'card_platform'"):
        Target.parse("p99_latency_s<=3", "card_platform")


def test_a_target_holds_only_over_the_whole_interval() -> None:
    """≤ checks the upper end, ≥ the lower end; no interval (n < 2) never meets a target."""
    at_most = Target.parse("p99_latency_s<=3", "national")
    assert at_most.met(Interval(2.5, 0.4, 5)) and not at_most.met(Interval(2.5, 0.6, 5))
    at_least = Target.parse("direct_settlement_rate>=0.9", "national")
    assert at_least.met(Interval(0.95, 0.04, 5)) and not at_least.met(Interval(0.95, 0.06, 5))
    assert not at_most.met(Interval(1.0, math.nan, 1))


LOADED = [
    "horizon=20min",
    "warmup=5min",
    "scale=1e-3",
    "services.medical_outpatient.cross_province_share=1.0",
    "services.medical_inpatient.cross_province_share=1.0",
    "services.pharmacy.cross_province_share=1.0",
    "network.national.service_time={exponential: {mean: 500ms}}",
    "outputs.transactions=false",
]
"""Smoke at 1:1000 with every settlement cross-province: about 0.43 Erlang at the national node."""


def test_search_agrees_with_brute_force_on_a_small_case(smoke_path: Path, tmp_path: Path) -> None:
    """National utilisation ≤ 0.12 with confidence: the offered load of ≈ 0.43 Erlang needs
    n ≥ 0.43 / 0.12 ≈ 3.6, so 4 servers. Bisection from the scenario's 8 servers finds the
    same count as measuring every count from 2 to 6 (one server is overloaded and would only
    slow the test), and its curve matches those measurements."""
    plan = Plan.load(smoke_path, sets=LOADED)
    target = Target.parse("utilisation<=0.12", "national")
    measured = {}
    for n in range(2, 7):
        step = plan.with_sets([f"network.national.servers={n}"])
        tasks = run_sweep(step, tmp_path / "all" / str(n), 3).tasks
        measured[n] = figure_intervals(tasks, target.figure, step)[0]
    brute = min(n for n, interval in measured.items() if target.met(interval))
    assert 4 == brute
    result = search_capacity(plan, "national", target, tmp_path / "search", 3)
    assert result.answer == brute and result.monotone
    assert [p.servers for p in result.curve] == [2, 3, 4, 8]
    for point in result.curve:
        if point.servers in measured:
            assert point.interval == measured[point.servers]
    curve = pq.read_table(tmp_path / "search" / "capacity.parquet").to_pylist()
    assert [(row["servers"], row["meets_target"]) for row in curve] == [
        (2, False),
        (3, False),
        (4, True),
        (8, True),
    ]
    again = search_capacity(plan, "national", target, tmp_path / "search", 3)
    assert again.answer == 4 and again.curve == result.curve  # every step resumed from disk


def test_capacity_search_refuses_what_it_cannot_do(smoke_path: Path, tmp_path: Path) -> None:
    """An unknown node, a single replication or varied factors are refused up front."""
    plan = Plan.load(smoke_path)
    target = Target.parse("utilisation<=0.5", "national")
    with pytest.raises(PlanError, match="unknown node"):
        search_capacity(plan, "regional", target, tmp_path, 3)
    with pytest.raises(PlanError, match="at least 2"):
        search_capacity(plan, "national", target, tmp_path, 1)
    varied = Plan.load(smoke_path, ["network.timeout=2s,3s"])
    with pytest.raises(PlanError, match="drop --vary"):
        search_capacity(varied, "national", target, tmp_path, 3)

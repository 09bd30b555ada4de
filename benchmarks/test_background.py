"""The background's cost: µs per background request, and whole commands at full load.

``network.load: full`` adds the unsimulated holders' requests at the nodes. What they
cost is measured as a difference within one process, in CPU time: the same scenario
with ``sampled`` and with ``full`` load, alternating, the difference divided by the
background requests sent. The whole-command targets (the baseline weekday at 1:1,000
with full load in ≤ 60 s, its busiest hour in ≤ 10 s, on one core) are measured as
the CPU time of ``python -m sim run`` in a child process. With benchmarks disabled
(the test suite), each runs once on a short horizon.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import attrs
import pytest

from sim import run_once
from sim.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline_weekday.yaml"
PEAK_HOUR = ["start=2024-03-12T09:00:00+08:00", "horizon=1h"]
"""The baseline's busiest hour for medical settlement (09:00-10:00, 2.6 times the day's mean)."""


def _cpu_run(scenario: Scenario, folder: Path) -> tuple[float, dict]:
    start = time.process_time()
    result = run_once(scenario, folder)
    return time.process_time() - start, result.summary


@pytest.mark.benchmark(group="background")
def test_cost_per_background_request(benchmark, baseline: Scenario, tmp_path: Path) -> None:
    """The busiest hour of the baseline at 1:1,000, sampled against full load (alternating)."""
    horizon = 600.0 if benchmark.disabled else 3600.0
    start = baseline.start.replace(hour=9)
    peak = attrs.evolve(baseline, start=start, horizon=type(baseline.horizon)(horizon))
    full = attrs.evolve(peak, network=attrs.evolve(peak.network, load="full"))
    rounds = 1 if benchmark.disabled else 3
    costs: dict[str, list[float]] = {"sampled": [], "full": []}
    requests = 0

    def measure() -> None:
        nonlocal requests
        for k in range(rounds):
            order = (("sampled", peak), ("full", full))
            for name, scenario in order if k % 2 == 0 else order[::-1]:
                cpu, summary = _cpu_run(scenario, tmp_path / f"{name}-{k}")
                costs[name].append(cpu)
                if name == "full":
                    requests = summary["network_load"]["background"]["requests"]

    benchmark.pedantic(measure, rounds=1)
    extra = min(costs["full"]) - min(costs["sampled"])
    per_request_us = extra / requests * 1e6 if requests else float("nan")
    assert requests > 0
    benchmark.extra_info.update({
        "background_requests": requests,
        "cpu_sampled_s": min(costs["sampled"]),
        "cpu_full_s": min(costs["full"]),
        "us_per_background_request": per_request_us,
    })  # fmt: skip
    print(f"\nbusiest hour at 1:1,000: sampled {min(costs['sampled']):.2f} s CPU, full "
          f"{min(costs['full']):.2f} s CPU, {requests:,} background requests: "
          f"{per_request_us:.2f} µs each")  # fmt: skip


def _command_cpu(args: list[str], folder: Path) -> float:
    """CPU time (user + system) of ``python -m sim run`` in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [sys.executable, "-m", "sim", "run", str(BASELINE), "--quiet", "--out",
               str(folder), "--set", "network.load=full", *args]  # fmt: skip
    subprocess.run(command, cwd=ROOT, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


@pytest.mark.benchmark(group="background")
@pytest.mark.parametrize(("case", "limit_s"), [("day", 60.0), ("peak_hour", 10.0)])
def test_full_load_command(benchmark, case: str, limit_s: float, tmp_path: Path) -> None:
    """The baseline weekday at 1:1,000 with full load, whole command, on one core."""
    sets = PEAK_HOUR if case == "peak_hour" else []
    if benchmark.disabled:
        sets = ["start=2024-03-12T09:00:00+08:00", "horizon=5min"]
    args = [a for s in sets for a in ("--set", s)]
    cpu = benchmark.pedantic(_command_cpu, args=(args, tmp_path / case), rounds=1)
    benchmark.extra_info.update({"cpu_s": cpu, "target_s": limit_s})
    print(f"\nbaseline {case} at 1:1,000 with network.load: full: {cpu:.1f} s CPU "
          f"(target ≤ {limit_s:g} s)")  # fmt: skip
    if not benchmark.disabled:
        assert cpu <= limit_s * 1.5  # a regression far beyond the target; noise aside

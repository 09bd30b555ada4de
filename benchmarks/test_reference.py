"""The full model against a plain SimPy model of the same path, on the same arrivals.

Both run every transaction of a cross-province-only day: the full model with
everything it records (transactions, stations, time series, ledger, clearing,
summary), the reference (``reference_simpy.py``) with a process per transaction,
a Resource per node and no recording at all. The ratio of transactions per
CPU-second (full ÷ reference) is the figure ``benchmarks/README.md`` reports;
it is measured here, in one process, in CPU time (the machines are shared), the
two alternating round by round so that a slow spell of the machine falls on
both, best of three rounds each.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import attrs
import numpy as np
import pytest

from benchmarks.reference_simpy import Reference
from sim import run_once
from sim.scenario import Scenario, apply_overrides, parse_scenario
from sim.scenario.loader import read_yaml

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
CROSS_ONLY = [
    "services.medical_inpatient.cross_province_share=1.0",
    "services.medical_inpatient.filed_in_advance=1.0",
    "services.medical_inpatient.ineligible_share=0.0",
    "services.medical_inpatient.settlement.service_time=null",
    "population.ecard_share=0.0", "horizon=1d", "warmup=0s",
]  # fmt: skip


def cross_only(scale: float) -> Scenario:
    """The smoke scenario reduced to cross-province inpatient settlement, chip cards only."""
    raw = apply_overrides(read_yaml((SCENARIOS / "smoke.yaml").read_text(), "smoke"), CROSS_ONLY)
    for section in (raw["services"], raw["policy"]["default"]):
        del section["medical_outpatient"], section["pharmacy"]
    del raw["policy"]["provinces"]
    return attrs.evolve(parse_scenario(raw, "cross-only"), scale=scale)


def _cpu(fn) -> tuple[float, object]:
    start = time.process_time()
    value = fn()
    return time.process_time() - start, value


@pytest.mark.benchmark(group="reference")
def test_full_model_vs_reference_simpy(benchmark, tmp_path: Path) -> None:
    """Transactions per wall-second, full model ÷ idiomatic SimPy, same arrival stream."""
    scenario = cross_only(scale=2e-2)
    rounds = 1 if benchmark.disabled else 3
    folders = itertools.count()

    def full() -> object:
        return run_once(scenario, tmp_path / f"out-{next(folders)}")

    full_s, result = _cpu(full)
    table = result.transactions(["arrival_s", "site_province", "home_province", "point"])
    ids = list(_province_ids())
    arrivals = table["arrival_s"].to_numpy()
    sites = np.array([ids.index(p) for p in table["site_province"].to_pylist()])
    homes = np.array([ids.index(p) for p in table["home_province"].to_pylist()])
    points = table["point"].to_numpy()
    per_province = np.bincount(sites, minlength=len(ids))
    counts = [int(points[sites == p].max()) + 1 if per_province[p] else 1
              for p in range(len(ids))]  # fmt: skip
    spec = scenario.services.medical_inpatient
    net = scenario.network
    means = (300.0, 0.02, 0.025, 0.010, 0.025)  # point, link, provincial, national, settle

    def reference() -> int:
        model = Reference(counts, spec.points.capacity, net.provincial.servers,
                          net.national.servers)  # fmt: skip
        return model.run(arrivals, sites, homes, points, means)

    ref_s, done = _cpu(reference)
    for i in range(1, rounds):  # alternate: reference first in odd rounds
        order = (reference, full) if i % 2 else (full, reference)
        for fn in order:
            seconds, _ = _cpu(fn)
            if fn is full:
                full_s = min(full_s, seconds)
            else:
                ref_s = min(ref_s, seconds)
    n = arrivals.size
    assert done == n > 1000
    ratio = (n / full_s) / (n / ref_s)
    benchmark.extra_info.update({
        "transactions": n, "full_s": full_s, "reference_s": ref_s, "ratio": ratio,
        "full_per_s": n / full_s, "reference_per_s": n / ref_s,
    })  # fmt: skip
    benchmark.pedantic(lambda: None, rounds=1)
    print(f"\n{n} transactions: full {n / full_s:,.0f}/s, reference {n / ref_s:,.0f}/s, "
          f"ratio {ratio:.2f}")  # fmt: skip


def _province_ids() -> tuple[str, ...]:
    from sim.world.provinces import load_provinces

    return load_provinces().ids

"""Running a case's replications and judging simulated figures against theory.

Replication r of a case runs its scenario with seed ``seed + r``; every
replication starts empty and cuts the scenario's warm-up. Each predicted
quantity then has R independent replication values, whose mean and Student-t
intervals are compared with theory:

- a figure **passes** when the theory value lies inside the 99% confidence
  interval of the replication means **and** the relative error of their mean
  is under 3% (the precision the documented run lengths are chosen to reach;
  in quick mode, with shorter runs, only the interval is judged);
- the arrival process passes when its chi-square and Kolmogorov-Smirnov
  p-values, over the replications pooled, are at least 0.01;
- Little's law passes when it closes exactly (see :mod:`sim.validation.little`)
  on every station of every replication;
- and a reduction's own assumptions (no timeout, no request waiting for a
  counter, a settlement exchange that takes no time) must hold in every run.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import attrs
import numpy as np

from sim.api import run_once
from sim.scenario import Scenario
from sim.scenario.units_types import DurationS
from sim.validation.cases import Case, reduce_scenario
from sim.validation.little import littles_law
from sim.validation.probes import ArrivalProbe, Measurement, Probe
from sim.validation.stats import chi_square_poisson, estimate, ks_exponential

__all__ = ["ALPHA", "MAX_REL_ERROR", "CaseReport", "Row", "quick_variant", "validate"]

ALPHA = 0.01
"""Significance level: 99% intervals, p-values ≥ 0.01."""
MAX_REL_ERROR = 0.03
"""Largest relative error accepted at the documented run length."""
QUICK_FACTOR = 10
"""Quick mode measures over a window this many times shorter."""


@attrs.frozen
class Row:
    """One line of the validation table."""

    case: str
    kind: str
    quantity: str
    passed: bool
    theory: float | None = None
    mean: float | None = None
    ci95: tuple[float, float] | None = None
    rel_error: float | None = None
    p_value: float | None = None
    detail: str = ""


@attrs.frozen
class CaseReport:
    """The rows of one case, with the run length behind them."""

    case: Case
    rows: tuple[Row, ...]
    replications: int
    wall_s: float

    @property
    def passed(self) -> bool:
        """Whether every row of the case passed."""
        return all(row.passed for row in self.rows)


@attrs.frozen
class _Run:
    """What a worker sends back for one replication (small, picklable)."""

    measurement: Measurement
    little_checked: int
    little_failed: tuple[str, ...]
    little_gap: float
    wall_s: float


def quick_variant(scenario: Scenario) -> Scenario:
    """The scenario with a measured window :data:`QUICK_FACTOR` times shorter."""
    window = (scenario.horizon - scenario.warmup) / QUICK_FACTOR
    return attrs.evolve(scenario, horizon=DurationS(scenario.warmup + window))


def replicate(scenario: Scenario, probe: Probe) -> _Run:
    """Run one replication in a scratch folder and read what the case needs."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sscard-validate-") as tmp:
        result = run_once(scenario, Path(tmp) / "run")
        measurement = probe.measure(result)
        checks = littles_law(result.stations)
    gaps = [c.relative_gap for c in checks if c.queue > 0]
    return _Run(
        measurement,
        len(checks),
        tuple(c.station for c in checks if not c.ok),
        max(gaps, default=0.0),
        time.perf_counter() - start,
    )


def validate(
    scenarios: Sequence[Scenario],
    replications: int = 10,
    jobs: int = 1,
    quick: bool = False,
    on_case: Callable[[CaseReport], None] | None = None,
) -> list[CaseReport]:
    """Reduce each scenario to its case, run its replications, and judge them."""
    if replications < 2:
        raise ValueError(f"needs at least two replications, got {replications}")
    cases = [reduce_scenario(quick_variant(s) if quick else s) for s in scenarios]
    tasks = [
        (attrs.evolve(case.scenario, seed=case.scenario.seed + r), case.probe)
        for case in cases
        for r in range(replications)
    ]
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(replicate, *task) for task in tasks]
            runs = [f.result() for f in futures]
    else:
        runs = [replicate(*task) for task in tasks]
    reports = []
    for i, case in enumerate(cases):
        mine = runs[i * replications : (i + 1) * replications]
        rows = _judge(case, mine, quick)
        report = CaseReport(case, tuple(rows), replications, sum(r.wall_s for r in mine))
        reports.append(report)
        if on_case is not None:
            on_case(report)
    return reports


def _judge(case: Case, runs: list[_Run], quick: bool) -> list[Row]:
    name, kind = case.name, case.kind
    rows = []
    for q in case.quantities:
        est = estimate([run.measurement.values[q.key] for run in runs])
        rel = abs(est.mean - q.theory) / abs(q.theory) if q.theory else math.nan
        precise = quick or rel < MAX_REL_ERROR
        passed = est.contains(q.theory) and precise
        rows.append(Row(name, kind, q.label, passed, q.theory, est.mean, est.ci95, rel))
    if isinstance(case.probe, ArrivalProbe):
        rows += _arrival_rows(case, case.probe, runs)
    checked = sum(r.little_checked for r in runs)
    failed = sorted({s for r in runs for s in r.little_failed})
    gap = max(r.little_gap for r in runs)
    detail = f"{checked} station-runs; largest edge effect |L−λW|/L {gap:.2g}"
    if failed:
        detail = f"does not close at {', '.join(failed[:3])}; " + detail
    rows.append(Row(name, kind, "Little's law Lq = λWq", not failed, detail=detail))
    problems = sorted({p for r in runs for p in r.measurement.problems})
    if problems:
        rows.append(Row(name, kind, "reduction assumptions", False, detail=problems[0]))
    return rows


def _arrival_rows(case: Case, probe: ArrivalProbe, runs: list[_Run]) -> list[Row]:
    observed = np.sum([run.measurement.arrays["counts"] for run in runs], axis=0)
    expected = probe.expected_counts() * len(runs)
    chi = chi_square_poisson(observed, expected)
    gaps = np.concatenate([run.measurement.arrays["gaps"] for run in runs])
    ks = ks_exponential(gaps)
    return [
        Row(case.name, case.kind, "hourly counts Poisson (χ²)", chi.p_value >= ALPHA,
            theory=float(chi.df), mean=chi.statistic, p_value=chi.p_value,
            detail=f"{chi.df} cells, {chi.n:,} arrivals"),
        Row(case.name, case.kind, "rescaled gaps Exp(1) (KS)", ks.p_value >= ALPHA,
            mean=ks.statistic, p_value=ks.p_value, detail=f"{ks.n:,} gaps"),
    ]  # fmt: skip

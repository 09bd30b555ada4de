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

**Confirmation.** Each interval misses a true value 1% of the time, so a
correct model fails one of some forty comparisons about a third of the time.
When a case misses on a statistical criterion, it is therefore run once more
on an independent set of replications (seeds ``seed + 10000 + r``) and judged
on that set alone: all its figures must pass there. A correct model then
fails a case with probability about p², while a real bias fails both sets.
The first set's misses stay in the table beside the confirmed figures.
"""

from __future__ import annotations

import math
import multiprocessing
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import attrs
import numpy as np

from sim.run.api import run_once
from sim.scenario import Scenario
from sim.scenario.units_types import DurationS
from sim.validation.cases import Case, reduce_scenario
from sim.validation.little import littles_law
from sim.validation.probes import ArrivalProbe, Measurement, Probe
from sim.validation.stats import chi_square_poisson, estimate, ks_exponential

__all__ = [
    "ALPHA",
    "CONFIRM_SEED_OFFSET",
    "MAX_REL_ERROR",
    "CaseReport",
    "Row",
    "quick_variant",
    "validate",
]

ALPHA = 0.01
"""Significance level: 99% intervals, p-values ≥ 0.01."""
MAX_REL_ERROR = 0.03
"""Largest relative error accepted at the documented run length."""
QUICK_FACTOR = 10
"""Quick mode measures over a window this many times shorter."""
CONFIRM_SEED_OFFSET = 10_000
"""A confirmation set runs seeds ``seed + CONFIRM_SEED_OFFSET + r``."""


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
    ci99: tuple[float, float] | None = None
    rel_error: float | None = None
    p_value: float | None = None
    detail: str = ""
    statistical: bool = True
    """Judged on a sample (may miss by chance), not an exact check such as Little's law."""
    tested: bool = True
    """False when the run was too small to test at all (shown as n/a, never a failure)."""


@attrs.frozen
class CaseReport:
    """The rows of one case, with the replications behind them."""

    case: Case
    rows: tuple[Row, ...]
    replications: int
    wall_s: float
    seeds: tuple[int, int]
    """First and last seed of the replications the rows are judged on."""
    missed: tuple[Row, ...] = ()
    """Rows that missed in the first set, when the rows are from a confirmation set."""

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
    warmup = 0.0 if isinstance(scenario.warmup, str) else float(scenario.warmup)
    window = (scenario.horizon - warmup) / QUICK_FACTOR
    return attrs.evolve(scenario, horizon=DurationS(warmup + window))


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
    confirm: bool = True,
    on_case: Callable[[CaseReport], None] | None = None,
) -> list[CaseReport]:
    """Reduce each scenario to its case, run its replications, and judge them.

    With ``confirm``, a case that misses on a statistical criterion is judged
    again on an independent set of replications (see the module's docstring).
    """
    if not 2 <= replications <= CONFIRM_SEED_OFFSET:
        raise ValueError(f"needs 2 to {CONFIRM_SEED_OFFSET} replications, got {replications}")
    cases = [reduce_scenario(quick_variant(s) if quick else s) for s in scenarios]
    first = _run_sets([(c, c.scenario.seed) for c in cases], replications, jobs)
    reports = [
        _report(c, runs, c.scenario.seed, quick) for c, runs in zip(cases, first, strict=True)
    ]
    retry = [
        i
        for i, r in enumerate(reports)
        if confirm and any(row.statistical and not row.passed for row in r.rows)
    ]
    seeds = [cases[i].scenario.seed + CONFIRM_SEED_OFFSET for i in retry]
    again = _run_sets(
        [(cases[i], seed) for i, seed in zip(retry, seeds, strict=True)], replications, jobs
    )
    for i, seed, runs in zip(retry, seeds, again, strict=True):
        missed = tuple(row for row in reports[i].rows if row.statistical and not row.passed)
        confirmed = _report(cases[i], runs, seed, quick, everything=first[i] + runs)
        reports[i] = attrs.evolve(
            confirmed, wall_s=confirmed.wall_s + reports[i].wall_s, missed=missed
        )
    for report in reports:
        if on_case is not None:
            on_case(report)
    return reports


def _run_sets(sets: Sequence[tuple[Case, int]], replications: int, jobs: int) -> list[list[_Run]]:
    """Run ``replications`` of each (case, first seed), in parallel when ``jobs`` > 1."""
    tasks = [
        (attrs.evolve(case.scenario, seed=seed + r), case.probe)
        for case, seed in sets
        for r in range(replications)
    ]
    if not tasks:
        return []
    if jobs > 1:
        # spawn, not fork: forking a process that holds Arrow's threads is unsafe.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = [pool.submit(replicate, *task) for task in tasks]
            runs = [f.result() for f in futures]
    else:
        runs = [replicate(*task) for task in tasks]
    return [runs[i : i + replications] for i in range(0, len(runs), replications)]


def _report(
    case: Case, runs: list[_Run], seed: int, quick: bool, everything: list[_Run] | None = None
) -> CaseReport:
    """Judge a set of replications; exact checks cover ``everything`` run for the case."""
    rows = _judge(case, runs, quick, everything if everything is not None else runs)
    wall = sum(r.wall_s for r in runs)
    return CaseReport(case, tuple(rows), len(runs), wall, (seed, seed + len(runs) - 1))


def _judge(case: Case, runs: list[_Run], quick: bool, everything: list[_Run]) -> list[Row]:
    name, kind = case.name, case.kind
    rows = []
    for q in case.quantities:
        est = estimate([run.measurement.values.get(q.key, math.nan) for run in runs])
        rel = abs(est.mean - q.theory) / abs(q.theory) if q.theory else math.nan
        precise = quick or rel < MAX_REL_ERROR
        passed = est.contains(q.theory) and precise
        rows.append(Row(name, kind, q.label, passed, q.theory, est.mean, est.ci95, est.ci99, rel))
    if isinstance(case.probe, ArrivalProbe):
        rows += _arrival_rows(case, case.probe, runs)
    checked = sum(r.little_checked for r in everything)
    failed = sorted({s for r in everything for s in r.little_failed})
    gap = max(r.little_gap for r in everything)
    detail = f"{checked} station-runs; largest edge effect |L−λW|/L {gap:.2g}"
    if failed:
        detail = f"does not close at {', '.join(failed[:3])}; " + detail
    rows.append(
        Row(name, kind, "Little's law Lq = λWq", not failed, detail=detail, statistical=False)
    )
    problems = sorted({p for r in everything for p in r.measurement.problems})
    if problems:
        rows.append(
            Row(name, kind, "reduction assumptions", False, detail=problems[0], statistical=False)
        )
    return rows


def _arrival_rows(case: Case, probe: ArrivalProbe, runs: list[_Run]) -> list[Row]:
    """Chi-square on pooled hourly counts and KS on pooled rescaled gaps.

    A run too small for either test (no cell expecting five arrivals, no gap
    kept) gets a row saying so, judged neither way.
    """
    name, kind = case.name, case.kind
    observed = np.sum([run.measurement.arrays["counts"] for run in runs], axis=0)
    expected = probe.expected_counts() * len(runs)
    gaps = np.concatenate([run.measurement.arrays["gaps"] for run in runs])
    rows = []
    if (expected >= 5).any():
        chi = chi_square_poisson(observed, expected)
        rows.append(
            Row(
                name,
                kind,
                "hourly counts Poisson (χ²)",
                chi.p_value >= ALPHA,
                theory=float(chi.df),
                mean=chi.statistic,
                p_value=chi.p_value,
                detail=f"{chi.df} cells, {chi.n:,} arrivals",
            )
        )
    else:
        rows.append(
            Row(
                name,
                kind,
                "hourly counts Poisson (χ²)",
                True,
                tested=False,
                detail="no hour expects 5 arrivals: too few to test",
            )
        )
    if gaps.size:
        ks = ks_exponential(gaps)
        rows.append(
            Row(
                name,
                kind,
                "rescaled gaps Exp(1) (KS)",
                ks.p_value >= ALPHA,
                mean=ks.statistic,
                p_value=ks.p_value,
                detail=f"{ks.n:,} gaps",
            )
        )
    else:
        rows.append(
            Row(
                name,
                kind,
                "rescaled gaps Exp(1) (KS)",
                True,
                tested=False,
                detail="no stream long enough to keep a gap: too few to test",
            )
        )
    return rows

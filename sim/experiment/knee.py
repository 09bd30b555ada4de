"""The knee: the highest load a design carries while meeting a target, with confidence.

"How much can demand grow before p99 passes 1 s?" is a search over the scenario's
``load`` factor (every arrival rate multiplied, foreground and background), each
step a small sweep of replications with common random numbers, as in
:mod:`sim.experiment.capacity`. A load meets the target when the whole 95%
interval does. From ``load = 1`` the search doubles (or halves) until it brackets
the knee, then bisects the bracket geometrically until it is narrower than
``tolerance`` (5% by default); the answer is the highest load measured that met
the target. The measured curve is kept in ``knee.parquet``; ``sscard-sim report``
plots it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import attrs
import pyarrow as pa

from sim.experiment.capacity import (
    CONTEXT,
    Target,
    idle_warning,
    measure_step,
    unchanged_warning,
)
from sim.experiment.executors import Executor, Runner
from sim.experiment.plan import Plan, PlanError
from sim.experiment.progress import SweepProgress
from sim.experiment.stats import Interval
from sim.experiment.task import run_task
from sim.outputs.results import write_table

__all__ = ["KNEE_TABLE", "KneeResult", "LoadPoint", "search_knee"]

KNEE_TABLE = "knee.parquet"


@attrs.frozen
class LoadPoint:
    """One measured load factor."""

    load: float
    interval: Interval
    met: bool
    context: dict[str, float]
    failed: int
    folder: Path


@attrs.frozen
class KneeResult:
    """The highest load meeting the target (None if even the lowest fails), and the curve."""

    node: str
    target: Target
    answer: float | None
    curve: tuple[LoadPoint, ...]
    """Measured points, by load."""
    folder: Path
    wall_time_s: float
    reached_highest: bool = False
    """The target still held at the highest load allowed (the knee lies beyond)."""
    warnings: tuple[str, ...] = ()


def search_knee(
    plan: Plan,
    node: str,
    target: Target,
    folder: str | Path,
    replications: int,
    executor: Executor | None = None,
    lowest: float = 1.0 / 64,
    highest: float = 1024.0,
    tolerance: float = 0.05,
    runner: Runner = run_task,
    progress: Callable[[str], SweepProgress | None] | None = None,
    refuse: Callable[[Plan], str] | None = None,
) -> KneeResult:
    """Search the scenario's ``load`` for the highest value meeting ``target``.

    ``refuse`` says why a step's plan is too large to run (empty if it fits): the
    search then stops below that load, with the reason among the warnings.
    """
    if replications < 2:
        raise PlanError("--replications: a confidence interval needs at least 2")
    if plan.factors:
        raise PlanError("the knee search varies the load only; drop --vary")
    if not 0.0 < lowest <= 1.0 <= highest or not math.isfinite(highest):
        raise PlanError("need 0 < --min-load ≤ 1 ≤ --max-load")
    if not 0.0 < tolerance < 1.0:
        raise PlanError("--tolerance must lie between 0 and 1")
    root = Path(folder)
    points: dict[float, LoadPoint] = {}
    wall = 0.0
    base = plan.base.load

    def meets(factor: float) -> bool:
        nonlocal wall
        load = base * factor
        step = plan.with_sets([f"load={load!r}"])
        refusal = refuse(step) if refuse is not None else ""
        if refusal:
            raise _TooLargeError(refusal)
        measured = measure_step(step, root / f"load-{load:.6g}", f"load={load:.4g}", target,
                                node, replications, executor, runner, progress)  # fmt: skip
        wall += measured.wall_time_s
        points[factor] = LoadPoint(load, measured.interval, measured.met, measured.context,
                                   measured.failed, measured.folder)  # fmt: skip
        return measured.met

    warnings = []
    try:
        answer, reached = _bracket(meets, lowest, highest, tolerance)
    except _TooLargeError as exc:
        met = [f for f, p in points.items() if p.met]
        answer, reached = (max(met) if met else None), False
        warnings.append(f"stopped: {exc}")
    curve = tuple(points[f] for f in sorted(points))
    flat = unchanged_warning("load", target.figure, [p.interval.mean for p in curve])
    if flat is not None:
        warnings.append(flat)
    first = curve[0] if curve else None
    if first is not None and node in ("national", "provincial", "card_platform"):
        servers = getattr(plan.base.network, node).servers
        idle = idle_warning(node, servers, first.context["utilisation"], plan.base)
        if idle is not None:
            warnings.append(idle)
    table = knee_table(curve, target)
    root.mkdir(parents=True, exist_ok=True)
    write_table(table, root / KNEE_TABLE)
    return KneeResult(node, target, None if answer is None else base * answer, curve, root,
                      wall, reached, tuple(warnings))  # fmt: skip


class _TooLargeError(Exception):
    """A step's runs would exceed the resource limits."""


def _bracket(
    meets: Callable[[float], bool], lowest: float, highest: float, tolerance: float
) -> tuple[float | None, bool]:
    """Highest factor in [lowest, highest] meeting the target, if ``meets`` is monotone.

    Returns it (None if ``lowest`` fails too) and whether ``highest`` itself met.
    """
    good: float | None
    bad: float | None
    if meets(1.0):
        good, bad = 1.0, None
        while bad is None:
            if good >= highest:
                return good, True
            trial = min(highest, good * 2.0)
            if meets(trial):
                good = trial
            else:
                bad = trial
    else:
        good, bad = None, 1.0
        while good is None:
            if bad <= lowest:
                return None, False
            trial = max(lowest, bad / 2.0)
            if meets(trial):
                good = trial
            else:
                bad = trial
    while bad / good - 1.0 > tolerance:
        mid = math.sqrt(good * bad)
        if meets(mid):
            good = mid
        else:
            bad = mid
    return good, False


def knee_table(curve: tuple[LoadPoint, ...], target: Target) -> pa.Table:
    """The measured curve as a table (``knee.parquet``)."""
    return pa.table(
        {
            "load": [p.load for p in curve],
            "replications": pa.array([p.interval.n for p in curve], pa.int64()),
            f"{target.figure}_mean": [p.interval.mean for p in curve],
            f"{target.figure}_low": [p.interval.low for p in curve],
            f"{target.figure}_high": [p.interval.high for p in curve],
            f"{target.figure}_halfwidth": [p.interval.half_width for p in curve],
            "bound": [target.bound(p.interval) for p in curve],
            "meets_target": [p.met for p in curve],
            "failed": pa.array([p.failed for p in curve], pa.int64()),
            **{name: [p.context[name] for p in curve] for name in CONTEXT},
        }
    )

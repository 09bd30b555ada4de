"""Capacity search: the fewest servers at a settlement node that meet a target, with confidence.

"How many national servers keep the p99 settle latency under 3 s?" is answered
by bisection over the node's server count, each step a small sweep of
replications with common random numbers (replication r draws the same arrivals
at every server count, so the measured curve is smooth and nearly monotone). A
count meets the target when the whole 95% interval does: its upper end for
``<=``, its lower end for ``>=``. Each step's sweep keeps its own folder below
the search's folder, so a repeated search (another target, more replications)
reuses what was run.

A search that cannot mean anything stops with a warning instead of an answer: when
the node carries less than 1% of one server's work (at ``scale: 0.001`` with
``network.load: sampled`` a platform sees a thousandth of its traffic), or when the
target figure comes out the same at every server count measured.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa

from sim.experiment.executors import Executor, Runner
from sim.experiment.figures import node_figure
from sim.experiment.plan import Plan, PlanError
from sim.experiment.progress import SweepProgress
from sim.experiment.stats import Interval, mean_interval
from sim.experiment.summary import figure_intervals, figure_matrix
from sim.experiment.sweep import run_sweep
from sim.experiment.task import run_task
from sim.outputs.results import write_json, write_table
from sim.scenario import Scenario

__all__ = [
    "NODES",
    "CapacityResult",
    "Point",
    "Target",
    "bisect",
    "idle_warning",
    "search_capacity",
    "sweep_warnings",
    "unchanged_warning",
]

IDLE_LOAD = 0.01
"""Below this much work for one server (utilisation × servers), a node is too idle to size."""

NODES = {
    "national": "network.national.servers",
    "provincial": "network.provincial.servers",
    "card_platform": "network.card_platform.servers",
}
"""Nodes whose servers the search varies, and the scenario key it sets."""

CONTEXT = ("utilisation", "fallback_share")
"""Figures shown beside the target's on the curve, to read it by."""


@attrs.frozen
class Target:
    """``figure <= value`` or ``figure >= value``, to hold at a node with 95% confidence."""

    written: str
    figure: str
    """The headline figure ``written`` stands for at the node."""
    op: str
    value: float

    @classmethod
    def parse(cls, text: str, node: str) -> Target:
        """Read ``p99_latency_s<=3`` (the argument of ``--target``) for ``node``."""
        match = re.fullmatch(r"\s*([A-Za-z0-9_]+)\s*(<=|>=)\s*(\S+)\s*", text)
        if match is None:
            raise PlanError(f"--target: expected FIGURE<=VALUE or FIGURE>=VALUE, got {text!r}")
        name, op, value = match.groups()
        try:
            figure = node_figure(node, name)
        except KeyError as exc:
            raise PlanError(f"--target: {exc.args[0]}") from None
        try:
            number = float(value)
        except ValueError:
            raise PlanError(f"--target: expected a number after {op}, got {value!r}") from None
        if not math.isfinite(number):
            raise PlanError(f"--target: expected a finite number, got {value!r}")
        return cls(name, figure, op, number)

    def bound(self, interval: Interval) -> float:
        """The end of the interval that must satisfy the target."""
        return interval.high if self.op == "<=" else interval.low

    def met(self, interval: Interval) -> bool:
        """Whether the whole interval satisfies the target (never with fewer than 2 values)."""
        bound = self.bound(interval)
        if not math.isfinite(bound):
            return False
        return bound <= self.value if self.op == "<=" else bound >= self.value


@attrs.frozen
class Point:
    """One measured server count."""

    servers: int
    interval: Interval
    met: bool
    context: dict[str, float]
    failed: int
    folder: Path


@attrs.frozen
class CapacityResult:
    """The answer (None if even the most servers allowed fail) and the measured curve."""

    node: str
    target: Target
    answer: int | None
    curve: tuple[Point, ...]
    """Measured points, by server count."""
    folder: Path
    wall_time_s: float
    warnings: tuple[str, ...] = ()
    """Why the search stopped without an answer, or what makes the answer doubtful."""

    @property
    def monotone(self) -> bool:
        """Whether the curve meets the target exactly from the answer up (bisection assumes so)."""
        return all(p.met == (self.answer is not None and p.servers >= self.answer)
                   for p in self.curve)  # fmt: skip


def bisect(
    meets: Callable[[int], bool], start: int, lowest: int = 1, highest: int = 4096
) -> int | None:
    """Smallest n in [lowest, highest] with ``meets(n)``, if ``meets`` is monotone.

    Starts at ``start``; doubles upwards until a count meets the target, then
    halves the gap between the largest failing and the smallest meeting count.
    """
    if not lowest <= highest:
        raise ValueError(f"empty range of server counts: {lowest}..{highest}")
    failing, meeting = lowest - 1, None
    n = min(max(start, lowest), highest)
    while meeting is None:
        if meets(n):
            meeting = n
        elif n >= highest:
            return None
        else:
            failing, n = n, min(highest, 2 * n)
    while meeting - failing > 1:
        mid = (failing + meeting) // 2
        if meets(mid):
            meeting = mid
        else:
            failing = mid
    return meeting


@attrs.frozen
class Step:
    """One measured step of a search: the target figure's interval and the context figures."""

    interval: Interval
    met: bool
    context: dict[str, float]
    failed: int
    folder: Path
    wall_time_s: float


def measure_step(
    step: Plan, folder: Path, label: str, target: Target, node: str, replications: int,
    executor: Executor | None, runner: Runner,
    progress: Callable[[str], SweepProgress | None] | None,
) -> Step:  # fmt: skip
    """Run one step's replications as a sweep in ``folder`` and judge it against ``target``.

    The context figures (:data:`CONTEXT`) are the means of ``node``'s utilisation and
    the fallback share, shown beside the target in the curve. Used by the capacity
    and the knee searches alike.
    """
    bar = progress(label) if progress is not None else None
    try:
        result = run_sweep(step, folder, replications, executor, runner=runner, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    interval = figure_intervals(result.tasks, target.figure, step)[0]
    columns = {name: node_figure(node, name) if name != "fallback_share" else name
               for name in CONTEXT}  # fmt: skip
    context = {name: mean_interval(figure_matrix(result.tasks, column, step)[0]).mean
               for name, column in columns.items()}  # fmt: skip
    return Step(interval, target.met(interval), context, result.failed, result.folder,
                result.wall_time_s)  # fmt: skip


def search_capacity(
    plan: Plan,
    node: str,
    target: Target,
    folder: str | Path,
    replications: int,
    executor: Executor | None = None,
    lowest: int = 1,
    highest: int = 4096,
    runner: Runner = run_task,
    progress: Callable[[str], SweepProgress | None] | None = None,
) -> CapacityResult:
    """Bisect the server count of ``node`` for the smallest one meeting ``target``."""
    if node not in NODES:
        raise PlanError(f"--node: unknown node {node!r} (known: {', '.join(NODES)})")
    if replications < 2:
        raise PlanError("--replications: a confidence interval needs at least 2")
    if plan.factors:
        raise PlanError("capacity search varies the server count only; drop --vary")
    root = Path(folder)
    start = getattr(plan.base.network, node).servers
    points: dict[int, Point] = {}
    wall = 0.0

    def meets(servers: int) -> bool:
        nonlocal wall
        step = measure_step(plan.with_sets([f"{NODES[node]}={servers}"]),
                            root / f"servers-{servers:05d}", f"{node} servers={servers}",
                            target, node, replications, executor, runner, progress)  # fmt: skip
        wall += step.wall_time_s
        points[servers] = Point(servers, step.interval, step.met, step.context, step.failed,
                                step.folder)  # fmt: skip
        idle = idle_warning(node, servers, step.context["utilisation"], plan.base)
        if idle is not None:
            raise _StopSearchError(idle)
        return step.met

    warnings: tuple[str, ...] = ()
    try:
        answer = bisect(meets, start, lowest, highest)
    except _StopSearchError as stop:
        answer, warnings = None, (str(stop),)
    curve = tuple(points[n] for n in sorted(points))
    flat = unchanged_warning(f"{NODES[node]}", target.figure,
                             [p.interval.mean for p in curve])  # fmt: skip
    if flat is not None and not warnings:
        answer, warnings = None, (flat,)
    write_table(curve_table(curve, target), _ensure(root) / "capacity.parquet")
    write_json(search_record(node, target, answer, wall), root / CAPACITY_JSON)
    return CapacityResult(node, target, answer, curve, root, wall, warnings)


class _StopSearchError(Exception):
    """The search cannot mean anything; the message says why."""


def idle_warning(node: str, servers: int, utilisation: float, scenario: Scenario) -> str | None:
    """Why a node is too idle for its servers to matter, or None.

    It is when its servers together carry less than 1% of one server's work.
    """
    if not math.isfinite(utilisation) or utilisation * servers >= IDLE_LOAD:
        return None
    hint = ""
    if not scenario.network.full_load and scenario.scale < 1.0:
        hint = (f": settlement nodes see 1/{1.0 / scenario.scale:,.0f} of their traffic at scale "
                f"{scenario.scale:g}; set network.load: full")  # fmt: skip
    return (f"the {node} node carries {utilisation * servers:.2g} of one server's work at "
            f"{servers} servers, below {IDLE_LOAD:g}{hint}")  # fmt: skip


def sweep_warnings(plan: Plan, summary: pa.Table) -> list[str]:
    """What makes a sweep's comparison hollow: idle nodes, or figures that never move.

    A sweep varying the network or the load while the nodes carry a ``scale`` share of
    their traffic compares nodes that are nearly idle; a sweep whose variants all give
    the same mean for every headline figure varied nothing that matters.
    """
    warnings = []
    base = plan.base
    keys = [f.key for f in plan.factors]
    varies_nodes = any(k.startswith("network.") or k == "load" for k in keys)
    if varies_nodes and not base.network.full_load and base.scale < 1.0:
        warnings.append(f"settlement nodes see 1/{1.0 / base.scale:,.0f} of their traffic at "
                        f"scale {base.scale:g}: set network.load: full")  # fmt: skip
    means = [c for c in summary.column_names if c.endswith("_mean")]
    if keys and summary.num_rows > 1 and means:
        columns = {c: [v for v in summary[c].to_pylist() if v is not None] for c in means}
        moved = [c for c, values in columns.items()
                 if unchanged_warning("x", c, values) is None
                 and any(math.isfinite(v) for v in values)]  # fmt: skip
        if not moved:
            warnings.append(f"no headline figure changes across the variants of "
                            f"{', '.join(keys)}")  # fmt: skip
    return warnings


def unchanged_warning(key: str, figure: str, means: Sequence[float]) -> str | None:
    """Why ``key`` seems not to change ``figure`` (the same at every value), or None."""
    finite = [m for m in means if math.isfinite(m)]
    if len(finite) < 2 or max(finite) - min(finite) > 1e-9 * max(1.0, abs(max(finite))):
        return None
    return (
        f"{figure} is {finite[0]:.6g} at every value of {key} measured: "
        f"varying {key} does not change it"
    )


CAPACITY_JSON = "capacity.json"
"""The search's node, target and answer (what ``capacity.parquet`` cannot say), for ``report``."""


def search_record(node: str, target: Target, answer: int | None, wall_s: float) -> dict[str, Any]:
    """What ``capacity.json`` holds: enough to print the curve again from the folder."""
    return {"node": node, "target": attrs.asdict(target), "answer": answer, "wall_time_s": wall_s}


def curve_table(curve: tuple[Point, ...], target: Target) -> pa.Table:
    """The measured curve as a table (``capacity.parquet``)."""
    return pa.table(
        {
            "servers": pa.array([p.servers for p in curve], pa.int64()),
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


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder

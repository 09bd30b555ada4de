"""The ``sweep``, ``report``, ``capacity`` and ``knee`` commands, behind the CLI's parser.

Each turns parsed arguments into a plan, an executor and a folder, runs, and
prints; bad input of any kind (a scenario or variant that does not validate, a
malformed ``--vary``, a folder holding another sweep, an unreachable Dask
scheduler) is printed as a message with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sim.exits import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_NOT_MET, EXIT_OK
from sim.experiment.capacity import Target, search_capacity, sweep_warnings
from sim.experiment.catalogue import SweepFolderError, read_tables
from sim.experiment.executors import Executor, ExecutorError, NoWorkersError, make_executor
from sim.experiment.figures import figure_names
from sim.experiment.knee import search_knee
from sim.experiment.plan import Plan, PlanError
from sim.experiment.progress import SweepProgress
from sim.experiment.report import DEFAULT_FIGURES, print_comparison, print_curve, print_knee
from sim.experiment.sensitivity_report import print_sensitivity, read_sensitivity
from sim.experiment.shards import collect as collect_store
from sim.experiment.shards import run_shard
from sim.experiment.store import Shard
from sim.experiment.sweep import Precision, run_sweep
from sim.outputs.folders import slug
from sim.run.guard import limits_of, too_large
from sim.scenario import ScenarioError

__all__ = ["COMMANDS"]

BAD_INPUT = (ScenarioError, PlanError, SweepFolderError, ExecutorError)


def _bad(exc: Exception) -> int:
    message = exc.report() if isinstance(exc, ScenarioError) else str(exc)
    print(message if isinstance(exc, ScenarioError) else f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _too_large(plan: Plan, args: argparse.Namespace) -> str:
    """Why some variants exceed the resource limits (empty when all fit), as ``run`` says it."""
    refusals = [too_large(v.scenario, limits_of(args), f"{plan.source} with {v.label}")
                for v in plan.variants]  # fmt: skip
    return "\n".join(r for r in refusals if r)


def sweep(args: argparse.Namespace) -> int:
    """``sscard-sim sweep``: run the factorial, write the sweep folder, print the table."""
    try:
        plan = Plan.load(args.scenario, args.vary, args.overrides, args.design, args.samples)
        refusal = _too_large(plan, args)
        if refusal:
            print(refusal, file=sys.stderr)
            return EXIT_BAD_INPUT
        precision = [Precision.parse(p) for p in args.precision]
        if args.max_replications < args.replications:
            raise PlanError("--max-replications must be ≥ --replications")
        shard = _shard(args, precision)
        out = (
            args.out
            if args.out is not None
            else args.store or Path("sweeps") / f"{slug(plan.base.name)}-{plan.token()}"
        )
        executor = make_executor(args.executor, args.workers, args.scheduler)
    except BAD_INPUT as exc:
        return _bad(exc)
    if shard is not None:
        return _run_shard(args, plan, shard, executor)
    bar = None if args.quiet else SweepProgress(plan.base.name)
    try:
        result = run_sweep(plan, out, args.replications, executor, precision,
                           args.max_replications, progress=bar, store=args.store,
                           keep=args.keep)  # fmt: skip
    except NoWorkersError as exc:
        print(f"error: {exc}\nfolder: {out}", file=sys.stderr)
        return EXIT_FAILED
    except BAD_INPUT as exc:
        return _bad(exc)
    finally:
        if bar is not None:
            bar.close()
        executor.close()
    if not args.quiet:
        _print_tables(out, DEFAULT_FIGURES)
    for warning in sweep_warnings(plan, result.summary):
        print(f"warning: {warning}", file=sys.stderr)
    total = result.tasks.num_rows
    print(
        f"sweep: {len(plan.variants)} variant(s) × {result.replications} replication(s) = "
        f"{total} tasks: {result.ran} run, {result.skipped} done earlier, {result.failed} "
        f"failed, in {result.wall_time_s:.1f}s ({executor.name}, {executor.workers} worker(s))"
    )
    if precision:
        state = "met" if result.precision_met else "NOT met"
        targets = ", ".join(f"{p.figure} ± {p.half_width:g}" for p in precision)
        print(f"precision {targets}: {state} with {result.replications} replications")
    print(f"folder: {out}")
    if result.failed:
        print(
            f"{result.failed} task(s) failed (status and error in sweep.parquet); "
            "run the same command again to retry them",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if precision and not result.precision_met:
        print(
            f"precision not reached within --max-replications {args.max_replications}: "
            "raise it, or accept the wider intervals in the folder",
            file=sys.stderr,
        )
        return EXIT_NOT_MET
    return EXIT_OK


def _shard(args: argparse.Namespace, precision: list[Precision]) -> Shard | None:
    """The ``--shard`` asked for, checked against the options it cannot go with."""
    if args.shard is None:
        return None
    if args.store is None:
        raise PlanError("--shard needs --store DIR: a folder every job of the array sees")
    if args.out is not None:
        raise PlanError("--shard writes no table, so --out has no use: "
                        "sscard-sim sweep collect STORE --out DIR writes them")  # fmt: skip
    if precision:
        raise PlanError("--precision needs every task's figures; it cannot go with --shard")
    return Shard.parse(args.shard)


def _run_shard(args: argparse.Namespace, plan: Plan, shard: Shard, executor: Executor) -> int:
    """Run one shard into the store; print what it did and what to do next."""
    bar = (
        None
        if args.quiet
        else SweepProgress(f"{plan.base.name} shard {shard.index}/{shard.count}")
    )
    try:
        done = run_shard(plan, args.store, args.replications, shard, executor, args.keep,
                         progress=bar)  # fmt: skip
    except NoWorkersError as exc:
        print(f"error: {exc}\nstore: {args.store}", file=sys.stderr)
        return EXIT_FAILED
    except BAD_INPUT as exc:
        return _bad(exc)
    finally:
        if bar is not None:
            bar.close()
        executor.close()
    print(
        f"shard {shard.index}/{shard.count}: {done.tasks} of "
        f"{len(plan.variants) * args.replications} tasks: {done.ran} run, {done.skipped} done "
        f"earlier, {done.failed} failed, in {done.wall_time_s:.1f}s ({executor.name}, "
        f"{executor.workers} worker(s))"
    )
    print(f"store: {args.store}")
    if done.failed:
        print(f"{done.failed} task(s) failed (errors in {args.store}/shards/{shard.name}.json); "
              "run the same command again to retry them", file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    print(f"when every shard has ended: sscard-sim sweep collect {args.store}")
    return EXIT_OK


def collect(args: argparse.Namespace) -> int:
    """``sscard-sim sweep collect``: the sweep folder of a store that shards have filled."""
    try:
        result = collect_store(args.store, args.out)
        if not args.quiet:  # as the sweep itself would: a designed sweep's indices
            _print_tables(result.folder, list(DEFAULT_FIGURES))
    except BAD_INPUT as exc:
        return _bad(exc)
    print(f"collect: {result.tasks.num_rows} tasks of {result.summary.num_rows} variant(s) × "
          f"{result.replications} replication(s), in {result.wall_time_s:.1f}s")  # fmt: skip
    print(f"folder: {result.folder}")
    return EXIT_OK


def report(args: argparse.Namespace) -> int:
    """``sscard-sim report``: print the comparison table of a sweep folder."""
    figures = args.figures or list(DEFAULT_FIGURES)
    unknown = [f for f in figures if f not in figure_names()]
    if unknown:
        known = ", ".join(figure_names())
        print(f"error: unknown figure(s) {', '.join(unknown)} (known: {known})", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        _print_tables(args.folder, figures)
    except SweepFolderError as exc:
        return _bad(exc)
    return EXIT_OK


def _print_tables(folder: Path, figures: Sequence[str]) -> None:
    """The comparison of the variants, or a designed sweep's sensitivity indices."""
    tasks, summary, stored = read_tables(folder)
    indices = read_sensitivity(Path(folder))
    if indices is None:
        print_comparison(tasks, summary, stored, figures)
        return
    print_sensitivity(indices, stored, figures)
    print(f"each of the {summary.num_rows} variants' figures: summary.parquet; "
          "the indices: sensitivity.parquet")  # fmt: skip


def capacity(args: argparse.Namespace) -> int:
    """``sscard-sim capacity``: bisect a node's servers against a target; print the curve."""
    try:
        plan = Plan.load(args.scenario, (), args.overrides)
        refusal = _too_large(plan, args)  # server counts change no estimate
        if refusal:
            print(refusal, file=sys.stderr)
            return EXIT_BAD_INPUT
        target = Target.parse(args.target, args.node)
        if not 1 <= args.min_servers <= args.max_servers:
            raise PlanError("need 1 ≤ --min-servers ≤ --max-servers")
        name = f"{slug(plan.base.name)}-capacity-{args.node}-{plan.token()}"
        out = args.out if args.out is not None else Path("sweeps") / name
        executor = make_executor(args.executor, args.workers, args.scheduler)
    except BAD_INPUT as exc:
        return _bad(exc)

    def bar(label: str) -> SweepProgress | None:
        return None if args.quiet else SweepProgress(label)

    try:
        result = search_capacity(plan, args.node, target, out, args.replications, executor,
                                 args.min_servers, args.max_servers, progress=bar)  # fmt: skip
    except NoWorkersError as exc:
        print(f"error: {exc}\nfolder: {out}", file=sys.stderr)
        return EXIT_FAILED
    except BAD_INPUT as exc:
        return _bad(exc)
    finally:
        executor.close()
    print_curve(result)
    return EXIT_NOT_MET if result.answer is None else EXIT_OK


def knee(args: argparse.Namespace) -> int:
    """``sscard-sim knee``: search the load factor for the highest meeting the target."""
    try:
        plan = Plan.load(args.scenario, (), args.overrides)
        refusal = _too_large(plan, args)
        if refusal:
            print(refusal, file=sys.stderr)
            return EXIT_BAD_INPUT
        target = Target.parse(args.target, args.node)
        name = f"{slug(plan.base.name)}-knee-{plan.token()}"
        out = args.out if args.out is not None else Path("sweeps") / name
        executor = make_executor(args.executor, args.workers, args.scheduler)
    except BAD_INPUT as exc:
        return _bad(exc)

    def bar(label: str) -> SweepProgress | None:
        return None if args.quiet else SweepProgress(label)

    try:
        result = search_knee(plan, args.node, target, out, args.replications, executor,
                             args.min_load, args.max_load, args.tolerance, progress=bar,
                             refuse=lambda step: _too_large(step, args))  # fmt: skip
    except NoWorkersError as exc:
        print(f"error: {exc}\nfolder: {out}", file=sys.stderr)
        return EXIT_FAILED
    except BAD_INPUT as exc:
        return _bad(exc)
    finally:
        executor.close()
    print_knee(result)
    return EXIT_NOT_MET if result.answer is None else EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "sweep": sweep,
    "report": report,
    "capacity": capacity,
    "knee": knee,
    "collect": collect,
}

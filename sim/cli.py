"""The command line: ``sscard-sim run``, ``sscard-sim validate``.

Exit codes: 0 success; 1 the run failed; 2 bad input (a scenario that does not
validate, a run larger than the resource limits, a wrong option, an existing
results folder); 130 interrupted. Bad scenarios are reported as a list of
problems by key path, never a traceback. A run is sized by :mod:`sim.guard`
before anything is built, and one expected to exceed ``--max-events`` or
``--max-memory`` is refused with the estimate and the option that would allow it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from sim import guard
from sim.console import RunProgress, print_summary
from sim.scenario import Scenario, ScenarioError, load_scenario
from sim.units import UnitError, parse_bytes

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sscard-sim",
        description="Simulate China's social-security card transaction system.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run one scenario and write a results folder")
    run.add_argument("scenario", type=Path, help="scenario file (YAML)")
    run.add_argument(
        "--out",
        type=Path,
        help="results folder (default: results/<scenario-name>-<UTC timestamp>/)",
    )
    run.add_argument("--seed", type=int, help="override the scenario's seed")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario key, e.g. network.national.servers=32 (repeatable)",
    )
    run.add_argument(
        "--max-events",
        type=_positive_number,
        default=guard.MAX_EVENTS,
        metavar="N",
        help="refuse a run expected to schedule more simulation events "
        f"(default {guard.MAX_EVENTS:g}; 'inf' for no limit)",
    )
    run.add_argument(
        "--max-memory",
        type=_memory_size,
        default=guard.MAX_MEMORY_BYTES,
        metavar="SIZE",
        help="refuse a run expected to need more memory, e.g. 16GB "
        f"(default {guard.MAX_MEMORY_BYTES / 1e9:g}GB; 'inf' for no limit)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar, no summary table")
    validate = commands.add_parser("validate", help="check scenario files without running them")
    validate.add_argument("scenarios", type=Path, nargs="+", help="scenario files (YAML)")
    validate.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario key (repeatable)",
    )
    return parser


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0 (or inf), got {text!r}")
    return value


def _memory_size(text: str) -> float:
    try:
        return parse_bytes(text)
    except UnitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sscard-sim`` and ``python -m sim``; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "validate":
            return _validate(args.scenarios, args.overrides)
        return _run(args)
    except KeyboardInterrupt:
        print("interrupted: no results folder was written", file=sys.stderr)
        return EXIT_INTERRUPTED


def _validate(paths: Sequence[Path], overrides: Sequence[str]) -> int:
    status = EXIT_OK
    for path in paths:
        try:
            scenario = load_scenario(path, overrides)
        except ScenarioError as exc:
            print(exc.report(), file=sys.stderr)
            status = EXIT_BAD_INPUT
        else:
            print(f"{path}: ok ({scenario.name})")
    return status


def _run(args: argparse.Namespace) -> int:
    from sim.api import run_once  # deferred: validation alone need not import the model
    from sim.ledger import MoneyError

    try:
        scenario = load_scenario(args.scenario, args.overrides, seed=args.seed)
    except ScenarioError as exc:
        print(exc.report(), file=sys.stderr)
        return EXIT_BAD_INPUT
    if not _fits(scenario, args):
        return EXIT_BAD_INPUT
    out = args.out if args.out is not None else default_out_dir(scenario.name)
    if out.exists():
        print(f"error: results folder already exists: {out}", file=sys.stderr)
        return EXIT_BAD_INPUT
    progress = RunProgress(float(scenario.horizon), scenario.name)
    try:
        with _terminate_as_interrupt():
            result = run_once(scenario, out, progress=None if args.quiet else progress)
    except MoneyError as exc:
        print(f"run failed: {exc}\nno results folder was written", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        if not out.exists():
            raise  # the staging folder is gone; main says no folder was written
        print(f"interrupted: the results folder {out} is complete", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        progress.close()
    if not args.quiet:
        print_summary(result.summary, result.manifest, str(out))
    return EXIT_OK


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (``kill``, a job scheduler) like Ctrl-C while a run writes its results.

    Python's default for SIGTERM ends the process at once, leaving the hidden
    staging folder behind; raising KeyboardInterrupt instead runs the same
    clean-up as Ctrl-C.
    """

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _fits(scenario: Scenario, args: argparse.Namespace) -> bool:
    """Whether the run fits the limits; if not, say why and how to allow it."""
    limits = guard.Limits(max_events=args.max_events, max_memory_bytes=args.max_memory)
    cost = guard.estimate(scenario)
    excesses = guard.check(cost, limits)
    if not excesses:
        return True
    lines = [f"{args.scenario}: too large to run (nothing was written)"]
    for excess in excesses:
        lines.append(f"  {excess.message}")
        lines.append(f"  to run it anyway: --max-{excess.resource} {excess.suggested_limit}")
    scale = guard.smaller_scale(cost, limits, scenario.scale)
    hint = f", e.g. --set scale={scale:g}" if scale is not None else ""
    lines.append(f"  or make it smaller: lower scale or horizon{hint}")
    print("\n".join(lines), file=sys.stderr)
    return False


def default_out_dir(name: str, now: dt.datetime | None = None) -> Path:
    """``results/<name>-<UTC timestamp>``, made unique if that folder exists."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    base = Path("results") / f"{name}-{stamp}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

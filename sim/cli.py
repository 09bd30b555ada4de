"""The command line: ``sscard-sim run``, ``sscard-sim validate``.

Exit codes: 0 success; 1 the run failed; 2 bad input (a scenario that does not
validate, a wrong option, an existing results folder); 130 interrupted. Bad
scenarios are reported as a list of problems by key path, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

from sim.console import RunProgress, print_summary
from sim.scenario import ScenarioError, load_scenario

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
    out = args.out if args.out is not None else default_out_dir(scenario.name)
    if out.exists():
        print(f"error: results folder already exists: {out}", file=sys.stderr)
        return EXIT_BAD_INPUT
    progress = RunProgress(float(scenario.horizon), scenario.name)
    try:
        result = run_once(scenario, out, progress=None if args.quiet else progress)
    except MoneyError as exc:
        print(f"run failed: {exc}\nno results folder was written", file=sys.stderr)
        return EXIT_FAILED
    finally:
        progress.close()
    if not args.quiet:
        print_summary(result.summary, result.manifest, str(out))
    return EXIT_OK


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

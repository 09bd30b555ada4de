"""The command line: ``sscard-sim run``, ``validate`` and ``validate-model``.

Exit codes: 0 success; 1 the run failed (or, for ``validate-model``, a
comparison with theory failed); 2 bad input (a scenario that does not
validate, a wrong option, an existing results folder); 130 interrupted. Bad
scenarios are reported as a list of problems by key path, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sim.console import RunProgress, print_node_theory, print_summary
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
    run.add_argument(
        "--theory",
        action="store_true",
        help="also print each settlement node's wait beside its Erlang-C approximation",
    )
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
    model = commands.add_parser(
        "validate-model",
        help="compare the model with queueing theory on reduced scenarios",
        description="Run each scenario (default: scenarios/validation/*.yaml) as replications, "
        "compare its figures with the theory it reduces to, and print the table. "
        "See docs/validation.md.",
    )
    model.add_argument("scenarios", type=Path, nargs="*", help="scenario files (YAML)")
    model.add_argument(
        "--replications", type=int, default=10, metavar="R", help="replications per case (≥ 2)"
    )
    model.add_argument(
        "--quick",
        action="store_true",
        help="windows ten times shorter; judge the 99%% interval only (a smoke test)",
    )
    model.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: CPUs)"
    )
    model.add_argument(
        "--no-confirm",
        dest="confirm",
        action="store_false",
        help="judge the first set of replications only (no independent confirmation set)",
    )
    return parser


VALIDATION_DIR = Path("scenarios") / "validation"
"""Where ``validate-model`` looks for scenarios when none are named."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sscard-sim`` and ``python -m sim``; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "validate":
            return _validate(args.scenarios, args.overrides)
        if args.command == "validate-model":
            return _validate_model(args)
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


def _validate_model(args: argparse.Namespace) -> int:
    from sim.validation.report import print_reports  # deferred: imports SciPy
    from sim.validation.runner import CaseReport, validate

    paths = list(args.scenarios) or sorted(VALIDATION_DIR.glob("*.yaml"))
    if not paths:
        print(f"error: no scenario named and none in {VALIDATION_DIR}/", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.replications < 2 or args.jobs < 1:
        print("error: needs --replications ≥ 2 and --jobs ≥ 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    scenarios, status = [], EXIT_OK
    for path in paths:
        try:
            scenarios.append(load_scenario(path))
        except ScenarioError as exc:
            print(exc.report(), file=sys.stderr)
            status = EXIT_BAD_INPUT
    if status != EXIT_OK:
        return status

    def done(report: CaseReport) -> None:
        verdict = "pass" if report.passed else "FAIL"
        print(f"{report.case.name}: {verdict} ({report.wall_s:.1f}s of runs)", file=sys.stderr)

    print(f"validate-model: {len(scenarios)} cases × {args.replications} replications on "
          f"{args.jobs} processes", file=sys.stderr)  # fmt: skip
    start = time.perf_counter()
    reports = validate(
        scenarios, args.replications, args.jobs, args.quick, args.confirm, on_case=done
    )
    print_reports(reports, args.quick, time.perf_counter() - start)
    return EXIT_OK if all(r.passed for r in reports) else EXIT_FAILED


def _run(args: argparse.Namespace) -> int:
    from sim.api import run_once  # deferred: validation alone need not import the model

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
    finally:
        progress.close()
    if not args.quiet:
        print_summary(result.summary, result.manifest, str(out))
    if args.theory:
        print_node_theory(result.summary)
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

"""The command line: ``run``, ``validate``, ``validate-model``, ``sweep``, ``report`` and more.

``report`` looks at its folder: a sweep folder (``sweep.parquet``) gets the
comparison table of :mod:`sim.experiment`, a run's results folder
(``summary.json``) gets the plots of :mod:`sim.report` and, with ``--html``, one
self-contained page.

Exit codes: 0 success; 1 the run failed (its folder could not be written: a
full disk, a read-only folder, a concurrent run of the same ``--out``; for
``sweep``: some tasks failed, and the sweep folder records them; for
``validate-model``: a comparison with theory failed); 2 bad input (a scenario
that does not validate, a run larger than the resource limits, a wrong option,
an existing results folder, a folder holding another sweep); 3 a goal not met
though everything ran (a sweep's ``--precision`` not reached within
``--max-replications``, or no server count up to ``--max-servers`` meeting a
``capacity`` target); 130 interrupted. Bad scenarios are reported as a list of
problems by key path, never a traceback. ``run`` sizes a run with
:mod:`sim.run.guard` before anything is built, and refuses one expected to exceed
``--max-events`` or ``--max-memory`` with the estimate and the option that
would allow it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import errno
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sim.cli import store_options
from sim.cli.console import RunProgress, print_node_theory, print_summary
from sim.exits import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from sim.run import guard
from sim.run.guard import limits_of, too_large
from sim.scenario import Scenario, ScenarioError, load_scenario
from sim.scenario.units import UnitError, parse_bytes

__all__ = ["main"]

SCENARIO_HELP = "scenario file (YAML), or a shipped scenario's name (see: sscard-sim scenarios)"
SCENARIOS_HELP = "scenario files (YAML), or shipped scenarios' names (see: sscard-sim scenarios)"
NODE_NAMES = ["national", "provincial", "card_platform"]
"""Nodes ``capacity --node`` accepts (the keys of ``sim.experiment.capacity.NODES``)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sscard-sim",
        description="Simulate China's social-security card transaction system.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run one scenario and write a results folder")
    run.add_argument("scenario", type=Path, help=SCENARIO_HELP)
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
    _limit_options(run)
    run.add_argument(
        "--quiet", action="store_true", help="no progress bar, no tables: only the results folder"
    )
    run.add_argument(
        "--theory",
        action="store_true",
        help="also print each settlement node's wait beside its Erlang-C approximation",
    )
    validate = commands.add_parser("validate", help="check scenario files without running them")
    validate.add_argument("scenarios", type=Path, nargs="+", help=SCENARIOS_HELP)
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
        description="Run each scenario (default: the shipped validation/* cases, "
        "scenarios/validation/*.yaml in the repository) as replications, "
        "compare its figures with the theory it reduces to, and print the table. "
        "See docs/validation.md.",
    )
    model.add_argument("scenarios", type=Path, nargs="*", help=SCENARIOS_HELP)
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
    _experiment_parsers(commands)
    commands.add_parser(
        "scenarios",
        help="list the shipped scenarios, which every command accepts by name",
        description="List the scenarios that ship with sscard-sim and where their files are. "
        "Every command that takes a scenario file also takes one of these names.",
    )
    return parser


def _limit_options(command: argparse.ArgumentParser) -> None:
    """``--max-events`` and ``--max-memory``: every command that runs scenarios has them."""
    command.add_argument(
        "--max-events",
        type=_positive_number,
        default=guard.MAX_EVENTS,
        metavar="N",
        help="refuse a run expected to schedule more simulation events "
        f"(default {guard.MAX_EVENTS:g}; 'inf' for no limit)",
    )
    command.add_argument(
        "--max-memory",
        type=_memory_size,
        default=guard.MAX_MEMORY_BYTES,
        metavar="SIZE",
        help="refuse a run expected to need more memory, e.g. 16GB "
        f"(default {guard.MAX_MEMORY_BYTES / 1e9:g}GB; 'inf' for no limit)",
    )


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse, reporting an unknown option with the subcommand's usage, not the top level's."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        commands.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _version() -> str:
    """The installed package's version, or the source tree's when run from a checkout."""
    from importlib import metadata

    import sim

    try:
        return metadata.version("sscard-sim")
    except metadata.PackageNotFoundError:
        return f"{sim.__version__} (not installed: {Path(sim.__file__).parent})"


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


def _experiment_parsers(commands: Any) -> None:
    """The ``sweep``, ``report`` and ``capacity`` subcommands."""
    sweep = commands.add_parser(
        "sweep", help="replications of every combination of --vary values; intervals",
        epilog="sscard-sim sweep collect STORE [--out DIR]: the tables of a store filled "
        "by --shard jobs",
    )  # fmt: skip
    sweep.add_argument("scenario", type=Path, help=SCENARIO_HELP)
    sweep.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="a scenario key and its values; several --vary make a full factorial; "
        "KEY=LOW..HIGH is a range, sampled by --design",
    )
    sweep.add_argument(
        "--design",
        choices=["lhs", "sobol"],
        help="sample the --vary ranges: lhs (Latin hypercube; rank regression "
        "coefficients) or sobol (Saltelli sample, N·(k+2) variants; Sobol' indices)",
    )
    sweep.add_argument(
        "--samples", type=int, metavar="N", help="points of the --design (sobol: a power of two)"
    )
    sweep.add_argument(
        "--precision",
        action="append",
        default=[],
        metavar="FIGURE=HALFWIDTH",
        help="add replications until FIGURE's 95%% half-width is at most HALFWIDTH",
    )
    sweep.add_argument(
        "--max-replications",
        type=int,
        default=50,
        metavar="N",
        help="most replications --precision may ask for (default 50)",
    )
    store_options.add_store_options(sweep)
    capacity = commands.add_parser(
        "capacity", help="fewest servers of a node meeting a target, by bisection over sweeps"
    )
    capacity.add_argument("scenario", type=Path, help=SCENARIO_HELP)
    capacity.add_argument(
        "--node",
        choices=NODE_NAMES,
        default="national",
        help="node whose servers vary (default national)",
    )
    capacity.add_argument(
        "--target",
        required=True,
        metavar="FIGURE<=VALUE",
        help="the node's p99_latency_s, utilisation or wait_p99_s (e.g. p99_latency_s<=3), "
        "or any figure of sweep.parquet (e.g. national_utilisation<=0.7); >= also works",
    )
    capacity.add_argument(
        "--min-servers", type=int, default=1, metavar="N", help="fewest servers tried (default 1)"
    )
    capacity.add_argument(
        "--max-servers",
        type=int,
        default=4096,
        metavar="N",
        help="most servers tried (default 4096)",
    )
    knee = commands.add_parser(
        "knee", help="highest load factor meeting a target, by bisection over sweeps of load"
    )
    knee.add_argument("scenario", type=Path, help=SCENARIO_HELP)
    knee.add_argument(
        "--node",
        choices=NODE_NAMES,
        default="national",
        help="node that node-figure names (p99_latency_s, utilisation) refer to",
    )
    knee.add_argument(
        "--target",
        required=True,
        metavar="FIGURE<=VALUE",
        help="e.g. p99_latency_s<=1, utilisation<=0.7, or any figure of sweep.parquet",
    )
    knee.add_argument("--min-load", type=float, default=1.0 / 64, metavar="X",
                      help="lowest load factor tried (default 1/64)")  # fmt: skip
    knee.add_argument("--max-load", type=float, default=1024.0, metavar="X",
                      help="highest load factor tried (default 1024)")  # fmt: skip
    knee.add_argument("--tolerance", type=float, default=0.05, metavar="R",
                      help="stop once the bracket is this narrow (default 0.05)")  # fmt: skip
    for command, default in ((sweep, 5), (capacity, 5), (knee, 3)):
        command.add_argument(
            "--replications",
            type=int,
            default=default,
            metavar="N",
            help=f"replications per variant (default {default})",
        )
        command.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a scenario key in every variant (repeatable)",
        )
        command.add_argument(
            "--executor",
            choices=["local", "dask"],
            default="local",
            help="local processes (default) or a Dask cluster",
        )
        command.add_argument(
            "--scheduler",
            metavar="ADDRESS",
            help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 "
            "(default with --executor dask: a local cluster)",
        )
        command.add_argument(
            "--workers",
            type=int,
            metavar="K",
            help="worker processes (default: one per CPU; 1 runs tasks in this process)",
        )
        command.add_argument(
            "--out",
            type=Path,
            help="sweep folder (default: sweeps/<scenario-name>-…); re-run to resume",
        )
        command.add_argument("--quiet", action="store_true", help="no progress bar, no table")
        _limit_options(command)  # applied to each variant's run
    report = commands.add_parser(
        "report",
        help="plots of a run's results folder (PNG, --html page), or a sweep folder's table",
    )
    report.add_argument(
        "folder",
        type=Path,
        metavar="RESULTS_DIR",
        help="a results folder (sscard-sim run), a sweep folder (sscard-sim sweep) or a "
        "capacity folder (sscard-sim capacity)",
    )
    report.add_argument(
        "--html",
        action="store_true",
        help="results folder: also write report.html, one self-contained page with the "
        "summary tables and every plot",
    )
    report.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="results folder: where to write the plots (default: RESULTS_DIR/report/)",
    )
    report.add_argument(
        "--figure",
        dest="figures",
        action="append",
        default=[],
        metavar="FIGURE",
        help="sweep folder: a headline figure to show (repeatable; default: a few latency "
        "and load figures)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sscard-sim`` and ``python -m sim``; returns the exit code.

    SIGTERM is treated as Ctrl-C throughout. Once interrupted, the program
    (``argv`` None) ignores further signals: a burst of them, or a second
    SIGTERM, must not cut the clean-up short or end it with another code.
    """
    program = argv is None
    words = sys.argv[1:] if argv is None else list(argv)
    if words[:2] == ["sweep", store_options.COLLECT]:
        args = store_options.collect_parser().parse_args(words[2:])
        args.command = store_options.COLLECT
    else:
        args = _parse(_parser(), argv)
    with _terminate_as_interrupt(keep_ignoring=program), _invoked(argv, args):
        try:
            return _dispatch(args)
        except KeyboardInterrupt:
            if program:
                _ignore_interrupts()
            if args.command in ("sweep", "capacity", "knee"):
                print("interrupted: finished tasks are kept; run the same command again to "
                      "resume", file=sys.stderr)  # fmt: skip
            else:
                print("interrupted: no results folder was written", file=sys.stderr)
            return EXIT_INTERRUPTED


def _invoked(
    argv: Sequence[str] | None, args: argparse.Namespace
) -> contextlib.AbstractContextManager[None]:
    """The manifests' and plans' record of this command line (``sys.argv`` as run)."""
    from sim.run.provenance import Invocation, invoked

    redo = sys.argv[1:] if argv is None else list(argv)
    command = sys.argv if argv is None else ["python", "-m", "sim", *redo]
    return invoked(Invocation.of_command(command, redo, getattr(args, "scenario", None)))


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "validate":
        return _validate(args.scenarios, args.overrides)
    if args.command == "report":
        return _report(args)
    if args.command in ("sweep", "capacity", "knee", store_options.COLLECT):
        from sim.experiment import commands  # deferred: run and validate need none of it

        return commands.COMMANDS[args.command](args)
    if args.command == "validate-model":
        return _validate_model(args)
    if args.command == "scenarios":
        return _list_scenarios()
    return _run(args)


def _ignore_interrupts() -> None:
    """Ignore SIGINT and SIGTERM from now on (the program is ending)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


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
            _warn(path, scenario)
    return status


def _list_scenarios() -> int:
    """``scenarios``: each shipped scenario's name, then the folder they are in."""
    from sim.scenario.shipped import shipped_dir, shipped_names

    names = shipped_names()
    if not names:
        print(f"error: no shipped scenarios found in {shipped_dir()}", file=sys.stderr)
        return EXIT_FAILED
    for name in names:
        print(name)
    print(f"({len(names)} scenarios in {shipped_dir()})", file=sys.stderr)
    return EXIT_OK


def _warn(path: Path, scenario: Scenario) -> None:
    """What is valid but probably not meant (a fault after the horizon), on stderr."""
    from sim.scenario.fault_times import fault_warnings

    for problem in fault_warnings(scenario):
        print(f"{path}: warning: {problem}", file=sys.stderr)


def _validate_model(args: argparse.Namespace) -> int:
    from sim.scenario.shipped import shipped_dir
    from sim.validation.report import print_reports  # deferred: imports SciPy
    from sim.validation.runner import CaseReport, validate

    validation_dir = shipped_dir() / "validation"  # the shipped cases, from any folder
    paths = list(args.scenarios) or sorted(validation_dir.glob("*.yaml"))
    if not paths:
        print(f"error: no scenario named and none in {validation_dir}/", file=sys.stderr)
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
    from sim.money.ledger import MoneyError
    from sim.run.api import run_once  # deferred: validation alone need not import the model

    try:
        scenario = load_scenario(args.scenario, args.overrides, seed=args.seed)
    except ScenarioError as exc:
        print(exc.report(), file=sys.stderr)
        return EXIT_BAD_INPUT
    _warn(args.scenario, scenario)
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
    except OSError as exc:  # full disk, read-only folder, a file in the way, a concurrent run
        print(f"error: cannot write the results folder {out}: {_os_reason(exc, out)}\n"
              "no results folder was written", file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    except KeyboardInterrupt:
        if not out.exists():
            raise  # the staging folder is gone; main says no folder was written
        print(f"interrupted: the results folder {out} is complete", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        progress.close()
    if args.quiet:
        print(f"results: {out}")
    else:
        print_summary(result.summary, result.manifest, str(out))
    if args.theory:
        print_node_theory(result.summary)
    return EXIT_OK


def _os_reason(exc: OSError, out: Path) -> str:
    """What went wrong writing ``out``, in words (the loser of two concurrent runs too)."""
    exists = isinstance(exc, FileExistsError) or exc.errno in (errno.ENOTEMPTY, errno.EEXIST)
    if exists and out.is_dir():
        return "another run wrote it first"
    if exists and exc.filename and Path(exc.filename).is_file():
        return f"{exc.filename} is a file, not a folder"
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def _report(args: argparse.Namespace) -> int:
    """``report``: a sweep folder's comparison table, or a run folder's plots and page."""
    from sim.experiment.figures import figure_names
    from sim.report.frames import folder_kind  # deferred: pandas and matplotlib

    unknown = [f for f in args.figures if f not in figure_names()]
    if unknown:
        known = ", ".join(figure_names())
        print(f"error: unknown figure(s) {', '.join(unknown)} (known: {known})", file=sys.stderr)
        return EXIT_BAD_INPUT
    folder: Path = args.folder
    kind = folder_kind(folder) if folder.is_dir() else None
    if kind is None:
        why = "is a file, not a folder" if folder.exists() else "no such folder"
        print(f"error: {folder}: {why} (report reads the folder a run, sweep or capacity "
              "search wrote)", file=sys.stderr)  # fmt: skip
        return EXIT_BAD_INPUT
    if kind == "capacity":
        return _report_capacity(folder, args)
    if kind == "sweep":
        if (args.html or args.out is not None) and (folder / "sensitivity.parquet").is_file():
            return _report_sensitivity(folder, args)
        if args.html or args.out is not None:
            print(f"error: {folder} is a sweep folder without a --design; --html and --out "
                  "apply to a designed sweep's folder or a run's results folder (such as its "
                  "tasks/variant=v000/replication=000)", file=sys.stderr)  # fmt: skip
            return EXIT_BAD_INPUT
        from sim.experiment import commands

        return commands.COMMANDS["report"](args)
    if kind == "" and (folder / "store.json").is_file():
        print(f"error: {folder} is a store whose tables are not written yet: run "
              f"sscard-sim sweep collect {folder}", file=sys.stderr)  # fmt: skip
        return EXIT_BAD_INPUT
    if kind == "":
        print(f"error: {folder} is not a sweep folder (no sweep.parquet), a capacity folder "
              "(no capacity.parquet) nor a run's results folder (no summary.json and "
              "manifest.json)", file=sys.stderr)  # fmt: skip
        return EXIT_BAD_INPUT
    if args.figures:
        print(f"error: --figure applies to a sweep folder; {folder} is a run's results folder",
              file=sys.stderr)  # fmt: skip
        return EXIT_BAD_INPUT
    return _report_run(folder, args.out if args.out is not None else folder / "report", args.html)


def _report_sensitivity(folder: Path, args: argparse.Namespace) -> int:
    """``report --html`` on a designed sweep: its table, then the indices' charts and page."""
    from sim.experiment import commands
    from sim.report.sensitivity import write_sensitivity_report

    code = commands.COMMANDS["report"](args)
    out = args.out if args.out is not None else folder / "report"
    try:
        written = write_sensitivity_report(folder, out, args.figures, html_page=args.html)
    except OSError as exc:
        print(f"error: cannot write the report into {out}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for path in written:
        print(f"wrote {path}")
    return code


def _report_capacity(folder: Path, args: argparse.Namespace) -> int:
    """``report`` on a capacity folder: its curve and answer, printed again."""
    from sim.experiment.report import CapacityFolderError, print_curve, read_capacity

    if args.html or args.out is not None or args.figures:
        print(f"error: {folder} is a capacity folder; --html, --out and --figure apply to a "
              "run's results folder or a sweep folder (such as its servers-00004)",
              file=sys.stderr)  # fmt: skip
        return EXIT_BAD_INPUT
    try:
        print_curve(read_capacity(folder))
    except CapacityFolderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


def _report_run(folder: Path, out: Path, html: bool) -> int:
    import pyarrow as pa

    from sim.report import ResultsFolderError, load_run, write_report

    try:
        report = write_report(load_run(folder), out, html_page=html)
    except (ResultsFolderError, pa.ArrowException, ValueError) as exc:
        print(f"error: cannot report on {folder}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"error: cannot write the report into {out}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for path in report.pngs:
        print(f"wrote {path}")
    if report.html is not None:
        print(f"wrote {report.html}")
    for name, why in report.skipped:
        print(f"skipped {name}: {why}")
    return EXIT_OK


@contextlib.contextmanager
def _terminate_as_interrupt(keep_ignoring: bool = False) -> Iterator[None]:
    """Treat SIGTERM (``kill``, a job scheduler) like Ctrl-C while a run writes its results.

    Python's default for SIGTERM ends the process at once, leaving the hidden
    staging folder behind; raising KeyboardInterrupt instead runs the same
    clean-up as Ctrl-C. With ``keep_ignoring`` (the program itself), the first
    SIGINT or SIGTERM also sets both to be ignored before it raises, so a burst of
    signals cannot interrupt the clean-up the first one started.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    current = signal.getsignal(signal.SIGTERM)
    if current is _interrupt_once or current is signal.SIG_IGN:
        yield  # an outer context already handles them
        return
    handler = _interrupt_once if keep_ignoring else _interrupt
    previous = {signum: signal.signal(signum, handler)
                for signum in ((signal.SIGINT, signal.SIGTERM) if keep_ignoring
                               else (signal.SIGTERM,))}  # fmt: skip
    try:
        yield
    finally:
        for signum, old in previous.items():
            if not (keep_ignoring and signal.getsignal(signum) is signal.SIG_IGN):
                signal.signal(signum, old)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _interrupt_once(_signum: int, _frame: object) -> None:
    """The first interrupt: ignore any more (the clean-up must run whole), then raise."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _fits(scenario: Scenario, args: argparse.Namespace) -> bool:
    """Whether the run fits the limits; if not, say why and how to allow it."""
    refusal = too_large(scenario, limits_of(args), str(args.scenario))
    if refusal:
        print(refusal, file=sys.stderr)
    return not refusal


def default_out_dir(name: str, now: dt.datetime | None = None) -> Path:
    """``results/<name>-<UTC timestamp>``, made unique if that folder exists.

    The name is made a safe slug (:func:`sim.outputs.folders.slug`): never a path of its own.
    """
    from sim.outputs.folders import slug

    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    base = Path("results") / f"{slug(name)}-{stamp}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

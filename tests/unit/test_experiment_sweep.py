"""Running sweeps in this process: the folder, resume, failures, precision, the progress bar."""

from __future__ import annotations

import io
import json
from pathlib import Path

import attrs
import pyarrow.parquet as pq
import pytest

from sim.experiment import Plan, PlanError, Precision, SweepFolderError, run_sweep
from sim.experiment.figures import figure_names
from sim.experiment.progress import SweepProgress
from sim.experiment.report import number, print_comparison
from sim.experiment.stats import mean_interval
from sim.experiment.task import TaskKey, TaskOutcome, TaskSpec, run_task
from sim.outputs.results import (
    CLEARING,
    LEDGER,
    MANIFEST,
    STATIONS,
    SUMMARY,
    TIMESERIES,
    TRANSACTIONS,
)

SERVERS = "network.national.servers"
BROKEN = TaskKey(1, 1)


def broken_runner(spec: TaskSpec) -> TaskOutcome:
    """The real task, except that task variant=v001/replication=001 names a province table
    that does not exist: the run itself raises while building the model (validation never
    sees it)."""
    if spec.key == BROKEN:
        spec = attrs.evolve(spec, scenario=attrs.evolve(spec.scenario, provinces="builtin:1900"))
    return run_task(spec)


def interrupting_runner(spec: TaskSpec) -> TaskOutcome:
    """Ctrl-C arrives while the third task runs."""
    if spec.key == TaskKey(1, 0):
        raise KeyboardInterrupt
    return run_task(spec)


@pytest.fixture
def plan(smoke_path: Path) -> Plan:
    """Two variants of a short smoke run whose national node is slow enough to matter."""
    return Plan.load(
        smoke_path,
        [f"{SERVERS}=1,4"],
        ["horizon=40min", "warmup=5min", "network.national.service_time={constant: 2s}"],
    )


def _without_wall_time(path: Path):  # type: ignore[no-untyped-def]
    return pq.read_table(path).drop_columns(["wall_time_s"])


def test_sweep_writes_task_folders_and_both_tables(plan: Plan, tmp_path: Path) -> None:
    """Each task is a results folder; sweep.parquet has one row per task in key order;
    summary.parquet one row per variant with intervals and paired differences."""
    result = run_sweep(plan, tmp_path / "sw", 3)
    assert (result.ran, result.skipped, result.failed) == (6, 0, 0)
    task = tmp_path / "sw" / "tasks" / "variant=v001" / "replication=002"
    assert {p.name for p in task.iterdir()} == {TRANSACTIONS, STATIONS, TIMESERIES, LEDGER,
                                                CLEARING, SUMMARY, MANIFEST,
                                                "checksums.sha256"}  # fmt: skip
    tasks = pq.read_table(tmp_path / "sw" / "sweep.parquet")
    assert tasks.column("variant").to_pylist() == ["v000"] * 3 + ["v001"] * 3
    assert tasks.column(SERVERS).to_pylist() == [1, 1, 1, 4, 4, 4]
    assert tasks.column("replication").to_pylist() == [0, 1, 2] * 2
    assert set(tasks.column("status").to_pylist()) == {"ok"}
    assert set(figure_names()) < set(tasks.column_names)
    manifest = json.loads((task / MANIFEST).read_text())
    assert manifest["seed"] == tasks.column("seed")[5].as_py() == plan.seed(2)
    assert manifest["scenario"]["network"]["national"]["servers"] == 4
    summary = pq.read_table(tmp_path / "sw" / "summary.parquet").to_pylist()
    assert [row["variant"] for row in summary] == ["v000", "v001"]
    assert summary[1]["replications"] == 3 and summary[1]["failed"] == 0
    util = tasks.column("national_utilisation").to_pylist()
    assert summary[1]["national_utilisation_mean"] == pytest.approx(sum(util[3:]) / 3)
    assert summary[1]["national_utilisation_diff"] == pytest.approx(
        sum(b - a for a, b in zip(util[:3], util[3:], strict=True)) / 3
    )
    assert summary[0]["national_utilisation_diff"] == 0.0
    assert summary[1]["national_utilisation_diff"] < 0  # four servers are less busy than one


def test_a_share_near_zero_keeps_its_interval_inside_zero_one(plan: Plan, tmp_path: Path) -> None:
    """Three replications whose fallback share is 0, 2.1% and 2.5%: the Student-t interval
    reached below 0; summary.parquet's ends stay inside [0, 1] around the same mean, with
    each replication's count of transactions in sweep.parquet, and report prints the ends."""
    result = run_sweep(plan, tmp_path / "sw", 3)
    tasks = result.tasks.to_pylist()
    shares = [row["fallback_share"] for row in tasks[:3]]
    assert min(shares) == 0.0 < max(shares) < 0.05
    assert [row["fallback_share_trials"] for row in tasks[:3]] == [
        row["timeout_share_trials"] for row in tasks[:3]
    ]
    assert mean_interval(shares).low < 0.0  # what summary.parquet held before
    row = result.summary.to_pylist()[0]
    assert (
        0.0 < row["fallback_share_low"] < row["fallback_share_mean"] < row["fallback_share_high"]
    )
    assert row["fallback_share_high"] < 1.0
    assert row["fallback_share_halfwidth"] == pytest.approx(
        (row["fallback_share_high"] - row["fallback_share_low"]) / 2
    )
    latency = result.summary.column("settle_p99_local_s_low").to_pylist()  # symmetric: mean − h
    assert latency[0] == pytest.approx(row["settle_p99_local_s_mean"]
                                    - row["settle_p99_local_s_halfwidth"])  # fmt: skip
    out = io.StringIO()
    plan_json = json.loads((tmp_path / "sw" / "plan.json").read_text())
    print_comparison(result.tasks, result.summary, plan_json, ["fallback_share"], stream=out)
    low, high = (number(row[f"fallback_share_{end}"]) for end in ("low", "high"))
    assert "95% interval" in out.getvalue() and f"[{low}, {high}]" in out.getvalue()
    assert "± 95%" in out.getvalue()  # the paired difference keeps its half-width


def test_rerunning_skips_finished_tasks_and_adds_replications(plan: Plan, tmp_path: Path) -> None:
    """The same sweep again runs nothing; with more replications only the new tasks run,
    and finished task folders are left untouched."""
    folder = tmp_path / "sw"
    first = run_sweep(plan, folder, 2)
    done = folder / "tasks" / "variant=v000" / "replication=001" / SUMMARY
    stamp = done.stat().st_mtime_ns
    again = run_sweep(plan, folder, 2)
    assert (again.ran, again.skipped) == (0, 4)
    assert again.tasks.drop_columns(["wall_time_s"]).equals(
        first.tasks.drop_columns(["wall_time_s"])
    )
    assert again.tasks.column("wall_time_s").equals(first.tasks.column("wall_time_s"))
    more = run_sweep(plan, folder, 3)
    assert (more.ran, more.skipped) == (2, 4)
    assert done.stat().st_mtime_ns == stamp
    assert json.loads((folder / "plan.json").read_text())["replications"] == 3


def test_a_failed_task_is_recorded_and_the_sweep_carries_on(plan: Plan, tmp_path: Path) -> None:
    """The failing task gets status 'failed' and its error; every other task finishes; the
    summary counts the failure; running again retries only that task."""
    folder = tmp_path / "sw"
    result = run_sweep(plan, folder, 3, runner=broken_runner)
    assert (result.ran, result.failed) == (6, 1)
    rows = pq.read_table(folder / "sweep.parquet").to_pylist()
    failed = [r for r in rows if r["status"] != "ok"]
    assert [(r["variant"], r["replication"], r["status"]) for r in failed] == [
        ("v001", 1, "failed")
    ]
    assert "builtin:1900" in failed[0]["error"] and failed[0]["error"].startswith("KeyError")
    assert failed[0]["settle_p99_local_s"] is None
    assert not (folder / "tasks" / "variant=v001" / "replication=001").exists()
    summary = pq.read_table(folder / "summary.parquet").to_pylist()
    assert (summary[1]["replications"], summary[1]["failed"]) == (2, 1)
    assert summary[1]["national_utilisation_n"] == 2
    retried = run_sweep(plan, folder, 3)
    assert (retried.ran, retried.skipped, retried.failed) == (1, 5, 0)
    assert set(retried.tasks.column("status").to_pylist()) == {"ok"}


def test_an_interrupted_sweep_writes_its_tables_with_pending_tasks(
    plan: Plan, tmp_path: Path
) -> None:
    """Ctrl-C propagates, but sweep.parquet is written: finished tasks ok, the rest pending."""
    folder = tmp_path / "sw"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(plan, folder, 2, runner=interrupting_runner)
    status = pq.read_table(folder / "sweep.parquet").column("status").to_pylist()
    assert status == ["ok", "ok", "pending", "pending"]
    resumed = run_sweep(plan, folder, 2)
    assert (resumed.ran, resumed.skipped) == (2, 2)


def test_a_folder_holding_another_sweep_is_refused(plan: Plan, tmp_path: Path) -> None:
    """Resuming needs the same variants; a non-empty folder that is no sweep is not used."""
    folder = tmp_path / "sw"
    run_sweep(plan, folder, 1)
    other = plan.with_sets(["network.timeout=5s"])
    with pytest.raises(SweepFolderError, match="different sweep"):
        run_sweep(other, folder, 1)
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("mine")
    with pytest.raises(SweepFolderError, match="not a sweep folder"):
        run_sweep(plan, tmp_path / "stuff", 1)


def test_intervals_shrink_as_replications_grow(smoke_path: Path, tmp_path: Path) -> None:
    """Extending a sweep from 3 to 12 replications narrows every variant's interval."""
    plan = Plan.load(smoke_path, [f"{SERVERS}=1,4"], ["horizon=40min", "warmup=0s"])
    figure = "settled_per_day_full_scale"
    narrow = run_sweep(plan, tmp_path / "sw", 3).summary.column(f"{figure}_halfwidth")
    wide = run_sweep(plan, tmp_path / "sw", 12).summary.column(f"{figure}_halfwidth")
    for few, many in zip(narrow.to_pylist(), wide.to_pylist(), strict=True):
        assert many < few / 2


def test_precision_adds_replications_until_the_half_width_is_met(
    smoke_path: Path, tmp_path: Path
) -> None:
    """A loose target is met at once; a reachable one adds replications and is met; an
    impossible one stops at the maximum, unmet."""
    plan = Plan.load(smoke_path, sets=["horizon=40min", "warmup=0s"])
    figure = "settled_per_day_full_scale"
    loose = run_sweep(plan, tmp_path / "a", 3, precision=[Precision(figure, 1e12)])
    assert (loose.replications, loose.precision_met) == (3, True)
    start = loose.summary.column(f"{figure}_halfwidth")[0].as_py()
    target = Precision(figure, start / 2.5)
    met = run_sweep(plan, tmp_path / "a", 3, precision=[target], max_replications=40)
    assert met.precision_met and 3 < met.replications <= 40
    assert met.summary.column(f"{figure}_halfwidth")[0].as_py() <= target.half_width
    never = run_sweep(plan, tmp_path / "a", 3, precision=[Precision(figure, 1e-9)],
                      max_replications=met.replications + 2)  # fmt: skip
    assert (never.replications, never.precision_met) == (met.replications + 2, False)


def test_precision_targets_are_checked(smoke_path: Path) -> None:
    """--precision names a headline figure and a positive half-width."""
    assert Precision("fallback_share", 0.01) == Precision.parse("fallback_share=0.01")
    for text, message in [
        ("nope=1", "unknown figure"),
        ("fallback_share", "FIGURE=HALFWIDTH"),
        ("fallback_share=x", "a number"),
        ("fallback_share=0", "> 0"),
    ]:
        with pytest.raises(PlanError, match=message):
            Precision.parse(text)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_counts_tasks_on_a_terminal_only() -> None:
    """On a terminal the bar shows done/total and failures; on a pipe nothing is written."""
    pipe = io.StringIO()
    quiet = SweepProgress("smoke", stream=pipe)
    quiet.start(4, 1)
    quiet.advance(True)
    quiet.close()
    assert pipe.getvalue() == ""
    tty = _Tty()
    bar = SweepProgress("smoke", stream=tty)
    bar.start(4, 1)
    bar.advance(True)
    bar.advance(False)
    assert bar._progress is not None
    task = bar._progress.tasks[0]
    assert (task.completed, task.total, task.fields["failed"]) == (3, 4, 1)
    bar.close()
    assert "smoke" in tty.getvalue()


def test_public_names() -> None:
    """`sim.run_sweep` and `sim.Plan` are the experiment layer's; the CLI knows every node."""
    import sim
    from sim.cli.main import NODE_NAMES
    from sim.experiment.capacity import NODES

    assert sim.run_sweep is run_sweep and sim.Plan is Plan
    assert sorted(NODE_NAMES) == sorted(NODES)
    with pytest.raises(AttributeError):
        _ = sim.nothing_here


def test_two_sweeps_into_one_folder_both_succeed(plan: Plan, tmp_path: Path) -> None:
    """A task another sweep already stored intact counts as done: storing it again is no error.

    Two concurrent sweeps into one folder run the same tasks; the one that stores
    second used to fail every such task (its rename found the folder there).
    """
    from sim.experiment.catalogue import Catalogue

    first = run_sweep(plan, tmp_path / "sw", 1)
    assert first.failed == 0
    key = TaskKey(0, 0)
    summary = tmp_path / "sw" / "tasks" / key.name / "summary.json"
    stamp = summary.stat().st_mtime_ns
    outcome = run_task(TaskSpec(key, plan.task_scenario(key)))  # the other sweep's result
    Catalogue.open(tmp_path / "sw", plan).store(outcome)
    assert summary.stat().st_mtime_ns == stamp

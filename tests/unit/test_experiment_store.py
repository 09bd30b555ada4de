"""Stores, shards and ``collect``: a sweep split over jobs gives a one-machine sweep's tables.

One small sweep (two variants × two replications of a ten-minute smoke run) is run
once in this process as the reference; the store tests run it again in shards and
compare ``sweep.parquet`` (wall time aside) and ``summary.parquet``.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sim.cli import store_options
from sim.cli.main import main
from sim.experiment import Plan, run_sweep
from sim.experiment.figures import task_row
from sim.experiment.shards import collect, run_shard
from sim.experiment.store import Shard, StoreError, plan_keys, shard_keys
from sim.experiment.task import TaskKey, TaskOutcome, TaskSpec, run_task
from sim.experiment.taskfiles import KEEP, remove_stale_staging
from tests.conftest import SCENARIOS

SMOKE = SCENARIOS / "smoke.yaml"
VARY = ["network.national.servers=1,4"]
SETS = ["horizon=10min", "warmup=0s"]
CLI = ["sweep", str(SMOKE), "--vary", VARY[0], "--set", SETS[0], "--set", SETS[1],
       "--replications", "2", "--workers", "1", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def plan() -> Plan:
    """Two variants of a ten-minute smoke run."""
    return Plan.load(SMOKE, VARY, SETS)


@pytest.fixture(scope="module")
def reference(plan: Plan, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sweep run on one machine, task after task, with no store."""
    folder = tmp_path_factory.mktemp("reference") / "sweep"
    run_sweep(plan, folder, 2)
    return folder


def same_tables(a: Path, b: Path) -> bool:
    """Whether two sweep folders hold the same tables, wall times aside."""
    tasks = [pq.read_table(f / "sweep.parquet").drop_columns(["wall_time_s"]) for f in (a, b)]
    summaries = [pq.read_table(f / "summary.parquet") for f in (a, b)]
    return tasks[0].equals(tasks[1]) and summaries[0].equals(summaries[1])


def test_shards_split_the_tasks_into_disjoint_deterministic_shares(plan: Plan) -> None:
    """For any N, the N shards own every task exactly once, task i going to shard i % N + 1."""
    keys = plan_keys(plan, 5)
    for count in (1, 2, 3, 7, 11, 40):
        shares = [shard_keys(keys, Shard(i, count)) for i in range(1, count + 1)]
        assert sorted(k for share in shares for k in share) == sorted(keys)
        assert sum(len(s) for s in shares) == len(keys)
    assert shard_keys(keys, Shard(2, 3)) == [keys[1], keys[4], keys[7]]
    assert Shard.parse(" 2/4 ") == Shard(2, 4)


def test_two_shards_and_collect_give_the_one_machine_tables(
    plan: Plan, reference: Path, tmp_path: Path
) -> None:
    """Shard 1/2 and 2/2 into a store, then collect: sweep.parquet (wall time aside) and
    summary.parquet are those of the sweep on one machine; `report` reads the store."""
    store = tmp_path / "store"
    first = run_shard(plan, store, 2, Shard(1, 2))
    second = run_shard(plan, store, 2, Shard(2, 2))
    assert (first.ran, second.ran, first.failed + second.failed) == (2, 2, 0)
    result = collect(store)
    assert result.folder == store
    assert same_tables(store, reference)
    hashed = json.loads((store / "plan.json").read_text())["provenance"]["outputs_sha256"]
    tasks = sorted(n for n in hashed if n.startswith("tasks/"))  # every task's checksums
    assert len(tasks) == 4 and all(n.endswith("/checksums.sha256") for n in tasks)
    assert {"sweep.parquet", "summary.parquet"} <= set(hashed)
    again = run_shard(plan, store, 2, Shard(1, 2))  # resume: the store's tasks are done
    assert (again.ran, again.skipped) == (0, 2)
    assert main(["report", str(store), "--figure", "settle_p99_local_s"]) == 0


def test_collect_names_each_missing_task_and_its_shard_and_writes_nothing(
    plan: Plan, tmp_path: Path
) -> None:
    """With shard 2/2 never run, collect fails naming its two tasks; no table is written."""
    store = tmp_path / "store"
    run_shard(plan, store, 2, Shard(1, 2), keep="summary")
    with pytest.raises(StoreError) as caught:
        collect(store, tmp_path / "out")
    message = str(caught.value)
    assert "2 of 4 task(s) not done, nothing written" in message
    assert "variant=v000/replication=001 (shard 2/2: not ended: no shards/2-of-2.json)" in message
    assert "variant=v001/replication=001 (shard 2/2" in message
    assert not (tmp_path / "out").exists() and not (store / "sweep.parquet").exists()


def test_keep_summary_leaves_only_what_the_row_needs(
    plan: Plan, reference: Path, tmp_path: Path
) -> None:
    """--keep summary: four files per task (three the row is read from, and checksums), and
    sweep.parquet is unchanged; --keep tables keeps every Parquet table."""
    summary = run_sweep(plan, tmp_path / "summary", 2, keep="summary")
    task = tmp_path / "summary" / "tasks" / "variant=v001" / "replication=001"
    assert sorted(p.name for p in task.iterdir()) == [
        "checksums.sha256", "manifest.json", "stations.parquet", "summary.json"]  # fmt: skip
    assert same_tables(summary.folder, reference)
    run_sweep(plan, tmp_path / "tables", 1, keep="tables")
    tables = tmp_path / "tables" / "tasks" / "variant=v000" / "replication=000"
    assert len(list(tables.glob("*.parquet"))) == 5
    assert store_options.KEEP == KEEP


def test_a_sweep_with_a_store_resumes_from_it_and_ignores_half_written_folders(
    plan: Plan, reference: Path, tmp_path: Path
) -> None:
    """Workers write into the store (the sweep folder by default); a staging folder left by
    a killed writer of this host is not a finished task and is removed; a rerun runs only
    the missing task."""
    store = tmp_path / "store"
    out = tmp_path / "tables"
    run_sweep(plan, out, 1, store=store)
    assert json.loads((out / "plan.json").read_text())["store"] == str(store.resolve())
    variant = store / "tasks" / "variant=v001"
    dead = f".replication=001.staging-{platform.node()}-{2**22 + 7}-abc"  # no such pid
    other = f".replication=001.staging-another-host-{os.getpid()}-abc"
    (variant / dead).mkdir()
    (variant / other).mkdir()
    (variant / dead / "summary.json").write_text("{}")
    more = run_sweep(plan, out, 2, store=store)
    assert (more.ran, more.skipped) == (2, 2)
    assert same_tables(out, reference)
    assert not (variant / dead).exists()
    assert (variant / other).exists()  # another machine's: never touched
    remove_stale_staging(variant)
    assert (variant / other).exists()


def test_shard_options_are_checked_before_anything_runs(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """--shard needs --store; --out and --precision cannot go with it; I/N is checked."""
    cases = {
        ("--shard", "1/2"): "--shard needs --store DIR",
        ("--shard", "1/2", "--store", "s", "--out", "o"): "--out has no use",
        ("--shard", "3/2", "--store", "s"): "--shard 3/2: need 1 ≤ I ≤ N",
        ("--shard", "1/2", "--store", "s", "--precision", "fallback_share=0.1"): "--precision",
    }
    for extra, expected in cases.items():
        assert main([*CLI, *extra]) == 2
        assert expected in capsys.readouterr().err
    assert main(["sweep", "collect", str(tmp_path)]) == 2
    assert f"{tmp_path} is not a store (no store.json" in capsys.readouterr().err


def test_an_old_layout_sweep_folder_is_renamed_and_resumed(
    plan: Plan, reference: Path, tmp_path: Path
) -> None:
    """A sweep folder with tasks/v000/rep-000 (before the hive names) resumes with nothing
    to run: its folders get the new names."""
    folder = tmp_path / "sweep"
    run_sweep(plan, folder, 2)
    for new in sorted((folder / "tasks").glob("variant=*/replication=*")):
        old = folder / "tasks" / new.parent.name[len("variant=") :] / f"rep-{new.name[-3:]}"
        old.parent.mkdir(exist_ok=True)
        new.rename(old)
    (folder / "tasks" / "v001" / ".rep-001.partial-1-x").mkdir()  # an interrupted store's
    again = run_sweep(plan, folder, 2)
    assert (again.ran, again.skipped) == (0, 4)
    assert sorted(p.name for p in (folder / "tasks").iterdir()) == ["variant=v000", "variant=v001"]


def test_a_task_with_a_store_sends_back_its_row_not_its_files(plan: Plan, tmp_path: Path) -> None:
    """The worker writes the folder into the store; the outcome carries the row, no bytes."""
    key = TaskKey(0, 0)
    outcome = run_task(TaskSpec(key, plan.task_scenario(key), "all", str(tmp_path)))
    assert outcome.status == "ok" and outcome.files == {}
    folder = tmp_path / "tasks" / key.name
    assert outcome.row == task_row(folder) and (folder / "transactions.parquet").is_file()


def test_the_command_line_round_trip_of_two_shards_and_collect(
    reference: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    """As a job array runs it: two `--shard` commands, then `sweep collect`; what they
    print tells the user what happened and what to do next."""
    store = tmp_path / "store"
    assert main([*CLI, "--store", str(store), "--shard", "1/2", "--keep", "tables"]) == 0
    printed = capsys.readouterr().out
    assert "shard 1/2: 2 of 4 tasks: 2 run, 0 done earlier, 0 failed" in printed
    assert f"when every shard has ended: sscard-sim sweep collect {store}" in printed
    assert main(["sweep", "collect", str(store)]) == 2
    assert "(shard 2/2: not ended: no shards/2-of-2.json)" in capsys.readouterr().err
    assert main(["report", str(store)]) == 2
    assert "is a store whose tables are not written yet" in capsys.readouterr().err
    assert main([*CLI, "--store", str(store), "--shard", "2/2", "--keep", "tables"]) == 0
    assert main(["sweep", "collect", str(store), "--out", str(tmp_path / "out")]) == 0
    assert "collect: 4 tasks of 2 variant(s) × 2 replication(s)" in capsys.readouterr().out
    assert same_tables(tmp_path / "out", reference)


def test_the_store_may_be_the_sweep_folder_given_relative(
    plan: Plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--store sw` without `--out`: the tables go beside the tasks, and plan.json names no
    other store (before: the relative folder and the store's absolute path did not match,
    and the sweep refused its own store as 'not a sweep folder')."""
    monkeypatch.chdir(tmp_path)
    result = run_sweep(plan, "sw", 1, store="sw", keep="summary")
    assert result.ran == 2
    assert "store" not in json.loads((tmp_path / "sw" / "plan.json").read_text())
    assert (tmp_path / "sw" / "store.json").is_file()
    assert run_sweep(plan, "sw", 1, store="sw").skipped == 2


def test_a_failed_task_of_a_shard_is_named_by_collect_with_its_error(
    plan: Plan, tmp_path: Path
) -> None:
    """A task that fails in its shard is in the shard's record; collect quotes its error,
    and a rerun of that shard runs only it. A new store's temporary files (another shard
    describing it at the same moment) do not make it 'not a store'."""
    store = tmp_path / "store"
    store.mkdir()
    (store / ".store.json.otherhost-1.tmp").write_text("{}")

    def failing(spec: TaskSpec) -> TaskOutcome:
        if spec.key == TaskKey(1, 1):
            raise KeyError("province table")
        return run_task(spec)

    first = run_shard(plan, store, 2, Shard(2, 2), runner=failing)
    assert (first.ran, first.failed) == (2, 1)
    run_shard(plan, store, 2, Shard(1, 2))
    with pytest.raises(StoreError, match=r"replication=001 \(shard 2/2: failed: KeyError"):
        collect(store)
    again = run_shard(plan, store, 2, Shard(2, 2))
    assert (again.ran, again.skipped, again.failed) == (1, 1, 0)
    assert collect(store).tasks.num_rows == 4


def test_a_designed_sweep_in_shards_collects_its_sensitivity_indices(tmp_path: Path) -> None:
    """An LHS sweep run as two shards and collected: the same variants, tables and
    sensitivity.parquet as on one machine (the store keeps the ranges and the design)."""
    designed = Plan.load(SMOKE, ["network.national.servers=1..6"], SETS, "lhs", 3)
    alone = tmp_path / "alone"
    run_sweep(designed, alone, 1)
    store = tmp_path / "store"
    for i in (1, 2):
        run_shard(designed, store, 1, Shard(i, 2))
    collect(store)
    assert same_tables(store, alone)
    indices = [pq.read_table(f / "sensitivity.parquet") for f in (store, alone)]
    assert indices[0].num_rows > 0 and indices[0].equals(indices[1])

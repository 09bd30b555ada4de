"""The Dask executor on a real LocalCluster: worker loss, released results, no dashboard.

Worker processes are killed as the out-of-memory killer would: a lost worker is
replaced and its task rerun; losing every worker (and the nannies that would
restart them) stops the sweep with a clear error instead of waiting forever.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from sim.experiment import DaskExecutor, Plan, run_sweep
from sim.experiment.executors import NoWorkersError
from sim.experiment.task import OK, TaskKey, TaskOutcome, TaskSpec, run_task
from tests.conftest import SCENARIOS

distributed = pytest.importorskip("distributed")
QUIET = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}
"""Scheduler options of a cluster with no dashboard on port 8787."""


def kill_worker_once_runner(spec: TaskSpec) -> TaskOutcome:
    """Kills its worker process the first time task TaskKey(0, 1) runs (marker file in the
    scenario's description, which changes nothing in a run)."""
    marker = Path(spec.scenario.description)
    if spec.key == TaskKey(0, 1) and not marker.exists():
        marker.write_text("killed")
        os.kill(os.getpid(), signal.SIGKILL)
    return run_task(spec)


def kill_worker_runner(spec: TaskSpec) -> TaskOutcome:
    """Kills its worker process, every time."""
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def specs() -> list[TaskSpec]:
    """Four short tasks: two variants × two replications."""
    plan = Plan.load(SCENARIOS / "smoke.yaml", ["network.national.servers=1,4"],
                     ["horizon=10min", "warmup=0s"])  # fmt: skip
    return [TaskSpec(k, plan.task_scenario(k)) for k in (TaskKey(v, r) for v in (0, 1)
                                                         for r in (0, 1))]  # fmt: skip


@pytest.fixture(scope="module")
def executor() -> Iterator[DaskExecutor]:
    """A local cluster of two worker processes, one thread each."""
    dask = DaskExecutor(workers=2)
    yield dask
    dask.close()


def _in_memory(dask: DaskExecutor) -> list[str]:
    """Keys of the results the cluster still holds."""

    def held(dask_scheduler: object) -> list[str]:
        return sorted(str(k) for k, t in dask_scheduler.tasks.items()  # type: ignore[attr-defined]
                      if t.state == "memory")  # fmt: skip

    return dask._client.run_on_scheduler(held)  # type: ignore[no-any-return]


def test_local_cluster_serves_no_dashboard(executor: DaskExecutor) -> None:
    """No dashboard (port 8787 stays free for the user's own): its page is not served."""
    scheduler = executor._cluster.scheduler
    port = scheduler.http_server.port
    assert port != 8787
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5)
    assert caught.value.code == 404


def test_a_killed_worker_is_replaced_and_results_are_released(
    executor: DaskExecutor, specs: list[TaskSpec], tmp_path: Path
) -> None:
    """A worker killed mid-task: its task reruns elsewhere; results leave the cluster once read."""
    marked = [
        attrs.evolve(s, scenario=attrs.evolve(s.scenario, description=str(tmp_path / "killed")))
        for s in specs
    ]
    outcomes, kept = [], []
    for outcome in executor.run(kill_worker_once_runner, marked):
        outcomes.append(outcome)
        kept.append(_still_held(executor, [o.key for o in outcomes]))
    assert (tmp_path / "killed").exists()
    assert sorted(o.key for o in outcomes) == sorted(s.key for s in specs)
    assert {o.status for o in outcomes} == {OK}
    assert kept == [[]] * len(specs)  # nothing handed over stays on a worker


def _still_held(dask: DaskExecutor, keys: list[TaskKey], within_s: float = 3.0) -> list[str]:
    """Results of tasks already handed over that the cluster still holds after a moment."""
    ends = tuple(f"-v{k.variant}-r{k.replication}" for k in keys)
    deadline = time.monotonic() + within_s
    while True:
        held = [name for name in _in_memory(dask) if name.endswith(ends)]
        if not held or time.monotonic() > deadline:
            return held
        time.sleep(0.1)


def test_losing_every_worker_stops_with_a_clear_error(
    specs: list[TaskSpec], tmp_path: Path
) -> None:
    """A scheduler given by address whose only worker (no nanny) dies: an error, not a hang."""
    cluster = distributed.LocalCluster(n_workers=0, dashboard_address=None, scheduler_kwargs=QUIET)
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker",
                               cluster.scheduler_address, "--no-nanny", "--nthreads", "1",
                               "--no-dashboard"], stdout=log, stderr=log, cwd=tmp_path,
                              start_new_session=True)  # fmt: skip
    started = time.monotonic()
    try:
        dask = DaskExecutor(scheduler=cluster.scheduler_address, no_workers_s=2)
        try:
            expected = r"no Dask worker left at .* tcp://\S+ for 2s with 4 task\(s\) queued"
            with pytest.raises(NoWorkersError, match=expected):
                list(dask.run(kill_worker_runner, specs))
        finally:
            dask.close()
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait(timeout=10)
        log.close()
        cluster.close(timeout=5)
    assert time.monotonic() - started < 30


def test_a_store_on_a_local_cluster_gives_the_in_process_tables(
    executor: DaskExecutor, tmp_path: Path
) -> None:
    """With a store, Dask workers write the task folders and send back their rows only:
    sweep.parquet (wall time aside), summary.parquet and the tasks' files are those of
    the sweep run in this process without a store."""
    plan = Plan.load(SCENARIOS / "smoke.yaml", ["network.national.servers=1,4"],
                     ["horizon=10min", "warmup=0s"])  # fmt: skip
    local = run_sweep(plan, tmp_path / "local", 2)
    stored = run_sweep(plan, tmp_path / "tables", 2, executor, store=tmp_path / "store")
    assert stored.ran == 4 and stored.failed == 0
    wall = ["wall_time_s"]
    assert stored.tasks.drop_columns(wall).equals(local.tasks.drop_columns(wall))
    assert stored.summary.equals(local.summary)
    task = Path("tasks") / TaskKey(1, 1).name / "transactions.parquet"
    assert (tmp_path / "store" / task).read_bytes() == (tmp_path / "local" / task).read_bytes()
    assert not (tmp_path / "tables" / "tasks").exists()

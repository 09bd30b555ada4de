"""Executors: the same outcomes in key order whatever runs them, and crashed workers survived."""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import pytest

from sim.experiment import DaskExecutor, InProcessExecutor, LocalExecutor, Plan, make_executor
from sim.experiment.executors import ExecutorError
from sim.experiment.task import FAILED, OK, TaskKey, TaskOutcome, TaskSpec, run_task


def crash_once_runner(spec: TaskSpec) -> TaskOutcome:
    """Kills its worker process the first time task TaskKey(0, 1) runs, like a worker killed
    by the out-of-memory killer. A marker file, named in the scenario's description (which
    changes nothing in a run), remembers that it happened."""
    marker = Path(spec.scenario.description)
    if spec.key == TaskKey(0, 1) and not marker.exists():
        marker.write_text("crashed")
        os._exit(1)
    return run_task(spec)


def always_crash_runner(spec: TaskSpec) -> TaskOutcome:
    """Kills its worker process whenever task TaskKey(0, 1) runs."""
    if spec.key == TaskKey(0, 1):
        os._exit(1)
    return run_task(spec)


@pytest.fixture(scope="module")
def specs(smoke_path: Path) -> list[TaskSpec]:
    """Four short tasks: two variants × two replications."""
    plan = Plan.load(smoke_path, ["network.national.servers=1,4"], ["horizon=20min"])
    keys = [TaskKey(v, r) for v in (0, 1) for r in (0, 1)]
    return [TaskSpec(k, plan.task_scenario(k)) for k in keys]


@pytest.fixture(scope="module")
def smoke_path() -> Path:
    """The smoke scenario (module scope, for the specs fixture)."""
    from tests.conftest import SCENARIOS

    return SCENARIOS / "smoke.yaml"


def test_local_pool_gives_the_in_process_outcomes(specs: list[TaskSpec]) -> None:
    """Two worker processes return the same files for every task as running them here."""
    here = {o.key: o for o in InProcessExecutor().run(run_task, specs)}
    pool = LocalExecutor(2)
    try:
        there = {o.key: o for o in pool.run(run_task, specs)}
    finally:
        pool.close()
    assert sorted(here) == sorted(there) == sorted(s.key for s in specs)
    for key, outcome in here.items():
        assert outcome.status == there[key].status == OK
        assert outcome.files.keys() == there[key].files.keys()
        for name, data in outcome.files.items():
            if name != "manifest.json":  # it records the wall time
                assert data == there[key].files[name], name


def test_a_crashed_worker_is_replaced_and_its_tasks_rerun(
    specs: list[TaskSpec], tmp_path: Path
) -> None:
    """A worker process that dies breaks the pool; a new pool runs what was not finished."""
    marked = [
        attrs.evolve(s, scenario=attrs.evolve(s.scenario, description=str(tmp_path / "crashed")))
        for s in specs
    ]
    pool = LocalExecutor(2)
    try:
        outcomes = list(pool.run(crash_once_runner, marked))
    finally:
        pool.close()
    assert (tmp_path / "crashed").exists()
    assert sorted(o.key for o in outcomes) == sorted(s.key for s in specs)
    assert {o.status for o in outcomes} == {OK}


def test_a_task_that_keeps_killing_workers_fails_without_stopping_the_sweep(
    specs: list[TaskSpec],
) -> None:
    """After the allowed restarts, the unfinished tasks are reported failed, with the cause."""
    pool = LocalExecutor(2, max_restarts=0)
    try:
        outcomes = {o.key: o for o in pool.run(always_crash_runner, specs)}
    finally:
        pool.close()
    assert sorted(outcomes) == sorted(s.key for s in specs)
    assert outcomes[TaskKey(0, 1)].status == FAILED
    assert "BrokenProcessPool" in outcomes[TaskKey(0, 1)].error


def test_make_executor_picks_by_name() -> None:
    """One worker runs in-process; the pool otherwise; bad combinations are refused."""
    assert isinstance(make_executor("local", 1), InProcessExecutor)
    pool = make_executor("local", 3)
    assert isinstance(pool, LocalExecutor) and pool.workers == 3
    with pytest.raises(ExecutorError, match="unknown executor"):
        make_executor("slurm")
    with pytest.raises(ExecutorError, match="--scheduler needs --executor dask"):
        make_executor("local", 2, "tcp://127.0.0.1:8786")
    with pytest.raises(ExecutorError, match="--workers must be ≥ 1"):
        make_executor("local", 0)


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    """--scheduler pointing nowhere fails with a message naming the address."""
    pytest.importorskip("distributed")
    with pytest.raises(ExecutorError, match=r"scheduler at tcp://127\.0\.0\.1:9: "):
        DaskExecutor("tcp://127.0.0.1:9", connect_timeout_s=1.0)

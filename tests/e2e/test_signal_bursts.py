"""Runs killed or interrupted many times over: nothing left behind, exit code 130.

A burst of SIGINTs or a second SIGTERM must not cut the clean-up short; a run
or task killed outright leaves a staging or scratch folder named with its pid,
which the next run into the same place removes (those of live processes stay).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from sim.cli.main import main
from sim.experiment.task import TaskKey, TaskSpec, run_task
from sim.scenario import load_scenario
from tests.conftest import ROOT, SCENARIOS

SMOKE = str(SCENARIOS / "smoke.yaml")


def dead_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize(
    ("signum", "count", "gap_s"),
    [(signal.SIGINT, 50, 0.002), (signal.SIGTERM, 2, 0.1)],
    ids=["50 SIGINTs 2 ms apart", "two SIGTERMs 100 ms apart"],
)
def test_a_burst_of_signals_still_cleans_up_and_exits_130(
    tmp_path: Path, signum: signal.Signals, count: int, gap_s: float
) -> None:
    """However many signals arrive: exit 130, the message, and no folder left behind."""
    out = tmp_path / "out"
    run = subprocess.Popen(
        [sys.executable, "-m", "sim", "run", str(SCENARIOS / "baseline_weekday.yaml"),
         "--set", "scale=1e-2", "--out", str(out), "--quiet"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".out.partial-*")):
            assert run.poll() is None, "the run ended before it could be interrupted"
            assert time.monotonic() < deadline, "no staging folder appeared"
            time.sleep(0.02)
        time.sleep(0.5)
        for _ in range(count):
            if run.poll() is not None:
                break
            run.send_signal(signum)
            time.sleep(gap_s)
        _, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 130, stderr
    assert "interrupted: no results folder was written" in stderr
    assert "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []


def test_the_next_run_removes_staging_folders_of_dead_runs(tmp_path: Path) -> None:
    """A killed run's ``.NAME.partial-<pid>-…`` goes with the next run; a live one's stays."""
    dead = tmp_path / f".old.partial-{dead_pid()}-abc"
    live = tmp_path / f".other.partial-{os.getpid()}-def"
    for folder in (dead, live):
        folder.mkdir()
        (folder / "summary.json").write_text("{")
    out = tmp_path / "out"
    assert main(["run", SMOKE, "--set", "horizon=10min", "--set", "warmup=0s",
                 "--out", str(out), "--quiet"]) == 0  # fmt: skip
    assert not dead.exists() and live.exists() and out.is_dir()


def test_a_task_removes_scratch_folders_of_dead_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sscard-task-<pid>-…`` of a killed worker goes with the next task on the machine."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = tmp_path / f"sscard-task-{dead_pid()}-xyz"
    dead.mkdir()
    scenario = load_scenario(SMOKE, ["horizon=10min", "warmup=0s"])
    assert run_task(TaskSpec(TaskKey(0, 0), scenario)).status == "ok"
    assert list(tmp_path.iterdir()) == []

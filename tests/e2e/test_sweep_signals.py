"""A sweep stopped by a signal or killed outright: its workers go, its tables stay whole.

SIGINT and SIGTERM stop a sweep like Ctrl-C stops a run: exit 130, the worker
processes stopped, ``sweep.parquet`` written with the unfinished tasks
``pending``. A sweep killed with SIGKILL cannot clean up; its workers notice
and exit on their own. Each test runs the CLI in its own session and kills
what is left of it at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT, SCENARIOS

SLOW_SWEEP = [
    "sweep", str(SCENARIOS / "baseline_weekday.yaml"),
    "--vary", "network.national.servers=8,16",
    "--set", "scale=4e-3", "--set", "horizon=12h",
    "--replications", "2", "--workers", "2", "--quiet",
]  # fmt: skip
"""Four tasks of several seconds each on two worker processes."""


def descendants(pid: int) -> set[int]:
    """Processes below ``pid`` (children, grandchildren: the forkserver's workers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (zombies count as gone)."""
    left = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            left.add(pid)
    return left


def start_sweep(out: Path) -> tuple[subprocess.Popen[str], set[int]]:
    """Start the slow sweep; return it once its two workers are running a task."""
    sweep = subprocess.Popen(
        [sys.executable, "-m", "sim", *SLOW_SWEEP, "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while len(workers) < 3:  # the forkserver and two workers
        assert sweep.poll() is None, sweep.communicate()
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.2)
        workers = descendants(sweep.pid)
    time.sleep(2.0)  # into the tasks
    return sweep, workers


def gone_within(pids: set[int], seconds: float) -> set[int]:
    """Wait until every pid has ended, or the time is up; what is still running."""
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive(pids)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signalled_sweep_stops_its_workers_and_writes_its_tables(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """SIGINT or SIGTERM: exit 130, workers gone at once, tables with the pending tasks."""
    out = tmp_path / "sweep"
    sweep, workers = start_sweep(out)
    try:
        sweep.send_signal(signum)
        _, stderr = sweep.communicate(timeout=60)
        left = gone_within(workers, 10)
    finally:
        _kill_all(sweep, workers)
    assert sweep.returncode == 130, stderr
    assert "interrupted: finished tasks are kept" in stderr and "Traceback" not in stderr
    assert not left, f"workers still running: {left}"
    status = pq.read_table(out / "sweep.parquet")["status"].to_pylist()
    assert len(status) == 4 and "pending" in status


def test_workers_of_a_killed_sweep_exit_on_their_own(tmp_path: Path) -> None:
    """kill -9 of the sweep: its workers exit within seconds, not when their task ends."""
    sweep, workers = start_sweep(tmp_path / "sweep")
    try:
        sweep.kill()
        sweep.wait(timeout=30)
        left = gone_within(workers, 15)
    finally:
        _kill_all(sweep, workers)
    assert not left, f"orphaned workers still running: {left}"


def _kill_all(sweep: subprocess.Popen[str], workers: set[int]) -> None:
    """Leave nothing running, whatever the test found."""
    for pid in alive(workers | {sweep.pid}):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if sweep.poll() is None:
        sweep.wait(timeout=10)
    for stream in (sweep.stdout, sweep.stderr):
        if stream is not None:
            stream.close()

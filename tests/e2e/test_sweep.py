"""``sscard-sim sweep``, ``report`` and ``capacity`` as users run them, in subprocesses.

The central promise: a sweep's results do not depend on where its tasks ran. The same
sweep of smoke.yaml is run in-process, on two local worker processes, and on a Dask
LocalCluster with two worker processes, and the three ``sweep.parquet`` (wall time
aside) and ``summary.parquet`` are identical.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from rich.cells import cell_len

from sim.cli.main import main
from tests.conftest import ROOT, SCENARIOS

SMOKE = str(SCENARIOS / "smoke.yaml")
SWEEP = [
    "sweep", SMOKE,
    "--vary", "network.national.servers=1,4",
    "--vary", "network.national.service_time={constant: 2s},{constant: 200ms}",
    "--set", "horizon=40min", "--set", "warmup=5min",
    "--replications", "3", "--quiet",
]  # fmt: skip


def sim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m sim ARGS`` and capture its output."""
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=300)  # fmt: skip


def tables(folder: Path) -> tuple:  # type: ignore[type-arg]
    """sweep.parquet without its wall times, and summary.parquet."""
    tasks = pq.read_table(folder / "sweep.parquet").drop_columns(["wall_time_s"])
    return tasks, pq.read_table(folder / "summary.parquet")


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference sweep, run task after task in the command's own process."""
    out = tmp_path_factory.mktemp("sweeps") / "one"
    done = sim(*SWEEP, "--workers", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "4 variant(s) × 3 replication(s) = 12 tasks: 12 run" in done.stdout
    return out


@pytest.mark.parametrize(
    "executor",
    [["--workers", "2"], ["--executor", "dask", "--workers", "2"]],
    ids=["local-2-workers", "dask-local-cluster"],
)
def test_results_do_not_depend_on_executor_or_workers(
    in_process: Path, tmp_path: Path, executor: list[str]
) -> None:
    """Two local processes and a two-worker Dask cluster give the in-process tables exactly."""
    out = tmp_path / "sweep"
    done = sim(*SWEEP, *executor, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "12 run, 0 done earlier, 0 failed" in done.stdout
    assert "2 worker(s)" in done.stdout
    expected_tasks, expected_summary = tables(in_process)
    tasks, summary = tables(out)
    assert expected_tasks.num_rows == 12
    assert tasks.equals(expected_tasks)
    assert summary.equals(expected_summary)
    for task in ("variant=v000/replication=000", "variant=v003/replication=002"):
        a = (in_process / "tasks" / task / "transactions.parquet").read_bytes()
        assert a == (out / "tasks" / task / "transactions.parquet").read_bytes()


def test_failed_task_does_not_stop_the_sweep_and_rerun_resumes(tmp_path: Path) -> None:
    """Extending a sweep where one new task cannot be written: that task is recorded as
    failed, the others finish, exit code 1. Once unblocked, the same command runs only
    that task; finished folders are not touched."""
    out = tmp_path / "sweep"
    base = [a if a != "3" else "1" for a in SWEEP]  # the same sweep with 1 replication
    assert sim(*base, "--workers", "1", "--out", str(out)).returncode == 0
    kept = out / "tasks" / "variant=v001" / "replication=000" / "summary.json"
    stamp = kept.stat().st_mtime_ns
    blocker = out / "tasks" / "variant=v002" / "replication=001"
    blocker.write_text("not a results folder")
    done = sim(*SWEEP, "--workers", "2", "--out", str(out))
    assert done.returncode == 1
    assert "12 tasks: 8 run, 4 done earlier, 1 failed" in done.stdout
    assert "1 task(s) failed" in done.stderr and "Traceback" not in done.stderr
    rows = pq.read_table(out / "sweep.parquet").to_pylist()
    assert sum(r["status"] == "ok" for r in rows) == 11
    [failed] = [r for r in rows if r["status"] == "failed"]
    assert (failed["variant"], failed["replication"]) == ("v002", 1)
    assert failed["error"].startswith("storing its results: FileExistsError: results folder")
    blocker.unlink()
    again = sim(*SWEEP, "--workers", "1", "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert "12 tasks: 1 run, 11 done earlier, 0 failed" in again.stdout
    assert kept.stat().st_mtime_ns == stamp
    assert {r["status"] for r in pq.read_table(out / "sweep.parquet").to_pylist()} == {"ok"}


def test_default_folder_is_the_same_for_the_same_command(tmp_path: Path) -> None:
    """Without --out the sweep goes to sweeps/<name>-<hash>/, so repeating the command resumes."""
    args = ["sweep", SMOKE, "--set", "horizon=20min", "--replications", "2", "--workers", "1"]
    first = sim(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    [folder] = (tmp_path / "sweeps").iterdir()
    assert folder.name.startswith("smoke-")
    second = sim(*args, cwd=tmp_path)
    assert "2 run" not in second.stdout and "0 run, 2 done earlier" in second.stdout
    assert "settle_p99_cross_s" in second.stdout  # the comparison table


def test_report_prints_the_comparison(in_process: Path) -> None:
    """`report` shows each variant's mean ± half-width and its paired difference to v000."""
    done = sim("report", str(in_process), "--figure", "settle_p99_cross_s")
    assert done.returncode == 0, done.stderr
    assert "settle_p99_cross_s: settle latency, cross-province, p99 (s)" in done.stdout
    lines = {line.split()[0]: line for line in done.stdout.splitlines()
             if line.strip().startswith("v00")}  # fmt: skip
    assert sorted(lines) == ["v000", "v001", "v002", "v003"]
    # 200 ms instead of 2 s at both national visits: 3.6 s faster, replication by replication.
    assert "{constant: 200ms}" in lines["v001"]
    cells = lines["v001"].split()
    assert float(cells[-3]) == pytest.approx(-3.6, abs=0.15)  # the paired difference
    assert lines["v001"].rstrip().endswith("*")
    assert not lines["v002"].rstrip().endswith("*")  # more servers change nothing here


@pytest.fixture(scope="module")
def idle_capacity(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-step capacity search of a share (the node is idle: a warning, no answer)."""
    out = tmp_path_factory.mktemp("capacity") / "cap"
    done = sim("capacity", SMOKE, "--node", "national", "--target", "fallback_share<=0.5",
               "--replications", "2", "--set", "horizon=20min", "--set", "warmup=5min",
               "--max-servers", "2", "--workers", "1", "--quiet", "--out", str(out))  # fmt: skip
    assert done.returncode == 3, done.stderr  # 3: no answer
    return out


@pytest.mark.parametrize("columns", [80, 100])
def test_sweep_capacity_and_validation_tables_fit_the_terminal(
    in_process: Path, idle_capacity: Path, columns: int
) -> None:
    """`report` of a sweep and of a capacity search, and `validate-model`, obey COLUMNS:
    no line wider, no header or figure cut to an ellipsis, long keys wrapped at a dot."""
    env = {**os.environ, "COLUMNS": str(columns)}
    runs = [
        ["report", str(in_process), "--figure", "settle_p99_cross_s", "--figure",
         "national_utilisation"],
        ["report", str(idle_capacity)],
        ["validate-model", str(SCENARIOS / "validation" / "erlang_b.yaml"), "--quick",
         "--replications", "2", "--jobs", "1"],
    ]  # fmt: skip
    for args in runs:
        done = subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True,
                              text=True, cwd=ROOT, timeout=300, env=env)  # fmt: skip
        assert done.returncode == 0, done.stderr
        out = done.stdout
        tables = [line for line in out.splitlines()  # the closing sentences are plain lines
                  if not line.startswith(("sweep: ", "folder: "))]  # fmt: skip
        assert max(cell_len(line) for line in tables) <= columns, out
        assert "…" not in out, out
        if args[1] == str(in_process):
            assert "{constant:" in out and "200ms}" in out  # a value wraps between words
            assert "network." in out and "servers" in out  # the key, wrapped at its dots
            assert "interval" in out and "[0.00" in out  # the utilisation's, by its ends
        elif args[1] == str(idle_capacity):
            assert "interval" in out and "[0, " in out  # a share at 0: its Wilson interval
        else:
            assert "M/M/5/5" in out and "all cases pass" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sweep", SMOKE, "--vary", "network.national.servers=0,4"],
         "with network.national.servers=0: 1 problem(s)"),
        (["sweep", SMOKE, "--vary", "horizon"], "--vary: expected dotted.key=v1,v2"),
        (["sweep", SMOKE, "--precision", "nope=1"], "unknown figure 'nope'"),
        (["sweep", SMOKE, "--scheduler", "tcp://127.0.0.1:1"],
         "--scheduler needs --executor dask"),
        (["sweep", SMOKE, "--workers", "0"], "--workers must be ≥ 1"),
        (["report", str(SCENARIOS)], "is not a sweep folder"),
        (["report", str(SCENARIOS), "--figure", "speed"], "unknown figure(s) speed"),
        (["capacity", SMOKE, "--target", "p99_latency_s<3"], "expected FIGURE<=VALUE"),
        (["capacity", SMOKE, "--target", "utilisation<=1", "--min-servers", "9",
          "--max-servers", "3"], "--min-servers"),
    ],
)  # fmt: skip
def test_bad_input_is_a_message_and_exit_code_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad variants, options and folders are refused before anything runs, without a traceback.

    (In this process, through the same entry point, to keep the suite quick.)
    """
    assert 2 == main(args)
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_resuming_into_another_sweep_is_refused(in_process: Path, tmp_path: Path) -> None:
    """--out naming a folder of a different sweep exits 2 and leaves it alone."""
    copy = tmp_path / "copy"
    shutil.copytree(in_process, copy)
    done = sim("sweep", SMOKE, "--set", "horizon=20min", "--out", str(copy), "--workers", "1")
    assert done.returncode == 2 and "holds a different sweep" in done.stderr
    assert tables(copy)[0].equals(tables(in_process)[0])


def test_capacity_prints_the_curve_and_the_answer(tmp_path: Path) -> None:
    """The national node loaded to ≈ 0.43 Erlang needs 4 servers for utilisation ≤ 0.12."""
    sets = ["horizon=20min", "warmup=5min", "scale=1e-3", "outputs.transactions=false",
            "network.national.service_time={exponential: {mean: 500ms}}"] + [
        f"services.{s}.cross_province_share=1.0"
        for s in ("medical_outpatient", "medical_inpatient", "pharmacy")]  # fmt: skip
    args = ["capacity", SMOKE, "--node", "national", "--target", "utilisation<=0.12",
            "--replications", "3", "--workers", "2", "--out", str(tmp_path / "cap")]  # fmt: skip
    for item in sets:
        args += ["--set", item]
    done = sim(*args)
    assert done.returncode == 0, done.stderr
    assert "smallest national servers meeting the target: 4" in done.stdout
    title = " ".join(done.stdout.split())  # the title wraps at the terminal's width
    assert "national_utilisation; upper end of the 95% interval" in title
    assert (tmp_path / "cap" / "capacity.parquet").exists()
    assert (tmp_path / "cap" / "servers-00004" / "sweep.parquet").exists()
    again = sim("report", str(tmp_path / "cap"))
    assert again.returncode == 0, again.stderr
    curve = done.stdout.split("server counts measured")[0]
    assert curve == again.stdout.split("server counts measured")[0]
    assert "smallest national servers meeting the target: 4" in again.stdout
    (tmp_path / "cap" / "capacity.json").unlink()
    old = sim("report", str(tmp_path / "cap"))
    assert old.returncode == 2 and "no capacity.json (made by an older sscard-sim)" in old.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sweep_on_a_running_dask_scheduler_and_worker(in_process: Path, tmp_path: Path) -> None:
    """As the README says: `dask scheduler`, `dask worker ADDRESS`, then --scheduler ADDRESS.
    The worker runs in another folder, so results can only come back through Dask."""
    dask = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    if dask is None:
        pytest.skip("the dask command is not installed")
    address = f"tcp://127.0.0.1:{_free_port()}"
    port = address.rsplit(":", 1)[1]
    logs = (tmp_path / "scheduler.log").open("w"), (tmp_path / "worker.log").open("w")
    scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", port,
                                  "--no-dashboard"], stdout=logs[0], stderr=logs[0],
                                 start_new_session=True)  # fmt: skip
    worker_dir = tmp_path / "worker"
    worker_dir.mkdir()
    worker = subprocess.Popen([dask, "worker", address, "--nworkers", "2", "--nthreads", "1",
                               "--no-dashboard"], stdout=logs[1], stderr=logs[1], cwd=worker_dir,
                              start_new_session=True)  # fmt: skip
    try:
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        out = tmp_path / "sweep"
        done = sim(*SWEEP, "--executor", "dask", "--scheduler", address, "--out", str(out))
        assert done.returncode == 0, done.stderr
        assert "12 run" in done.stdout and "(dask, 2 worker(s))" in done.stdout
        assert tables(out)[0].equals(tables(in_process)[0])
    finally:
        for process in (worker, scheduler):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        for log in logs:
            log.close()


def test_ctrl_c_stops_a_sweep_at_once_and_leaves_no_partial_folder(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Ctrl-C (SIGINT to the process group) ends a running sweep within seconds, exit 130.

    Before, each worker went on to run a queued task to its end (22 s on a real sweep).
    """
    # A short scratch TMPDIR: the pool's forkserver puts a Unix socket in it, whose path
    # must stay under 108 bytes (pytest-xdist's temporary folders are longer).
    out, scratch = tmp_path / "s", Path(tempfile.mkdtemp(prefix="sscard-int-"))
    request.addfinalizer(lambda: shutil.rmtree(scratch, ignore_errors=True))
    args = [sys.executable, "-m", "sim", "sweep", SMOKE,
            "--vary", "network.national.servers=4,5,6",
            "--set", "horizon=2d", "--set", "scale=5e-3", "--replications", "2",
            "--workers", "2", "--quiet", "--out", str(out)]  # fmt: skip

    def default_sigint() -> None:  # a suite run in the background inherits SIGINT ignored
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    run = subprocess.Popen(args, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint,
                           env={**os.environ, "TMPDIR": str(scratch)})  # fmt: skip
    try:
        started = time.monotonic()
        while len(list(scratch.glob("sscard-task-*"))) < 2:  # both workers are running a task
            assert run.poll() is None, run.communicate()
            assert time.monotonic() - started < 60, "no task started"
            time.sleep(0.05)
        time.sleep(0.5)
        interrupted = time.monotonic()
        os.killpg(run.pid, signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
        took = time.monotonic() - interrupted
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert 130 == run.returncode, stderr
    assert took < 4.0, f"took {took:.1f}s to stop"
    assert "interrupted: finished tasks are kept" in stderr
    assert [] == list(scratch.glob("sscard-task-*"))

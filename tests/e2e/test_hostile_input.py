"""Hostile input to every command: the same loader limits and resource guard everywhere.

``run`` reads a scenario through the bounded reader and sizes it with the guard;
``sweep`` and ``capacity`` must do the same for every variant, and a scenario's
``name`` must never choose a folder outside ``results/`` or ``sweeps/``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sim.cli.main import main
from tests.conftest import SCENARIOS

SMOKE = str(SCENARIOS / "smoke.yaml")
FRANTIC = "faults={random_outages: [{node: national, mtbf: 1ms, mttr: 1ms}]}"


@pytest.mark.parametrize(
    "argv",
    [["sweep", "/dev/zero", "--vary", "network.national.servers=1,2"],
     ["capacity", "/dev/zero", "--target", "utilisation<=0.7"]],
    ids=["sweep", "capacity"],
)  # fmt: skip
def test_sweep_and_capacity_read_no_further_than_run(
    argv: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """/dev/zero as the scenario is refused at once, as ``run`` refuses it (exit 2)."""
    started = time.perf_counter()
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert "file larger than 4194304 bytes: not a scenario file" in capsys.readouterr().err
    assert time.perf_counter() - started < 5
    assert not (tmp_path / "out").exists()


def test_sweep_refuses_a_variant_too_large_to_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A rate of 1e30 in one variant: the guard refuses the sweep, naming that variant."""
    code = main(["sweep", SMOKE, "--vary", "services.pharmacy.rate.per_holder_per_year=1,1e30",
                 "--out", str(tmp_path / "out"), "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert "with services.pharmacy.rate.per_holder_per_year=1e30: too large to run" in err
    assert "per_holder_per_year=1:" not in err
    assert not (tmp_path / "out").exists()


def test_capacity_refuses_a_fault_schedule_too_large_to_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An outage every 2 ms over the baseline's day is refused by ``capacity`` as by ``run``."""
    scenario = str(SCENARIOS / "baseline_weekday.yaml")
    code = main(["capacity", scenario, "--target", "utilisation<=0.7", "--set", FRANTIC,
                 "--out", str(tmp_path / "out"), "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert "random outages" in err and "--max-memory" in err
    done = main(["run", scenario, "--set", FRANTIC, "--out", str(tmp_path / "run")])
    assert done == 2 and "random outages" in capsys.readouterr().err


def test_slug_keeps_a_name_one_safe_path_component() -> None:
    """Separators, dots and control characters go; long names are cut; nothing left: scenario."""
    from sim.outputs.folders import SLUG_MAX, slug

    assert slug("baseline-weekday") == "baseline-weekday"
    assert slug("../../x") == "x"
    assert slug("/etc/passwd") == "etc-passwd"
    assert slug("a b\x00c\nd") == "a-b-c-d"
    assert slug("..") == slug("") == slug("///") == "scenario"
    assert slug("成都 图书馆") == "成都-图书馆"
    assert len(slug("x" * 300)) == SLUG_MAX


@pytest.mark.parametrize("name", ["ABSOLUTE", "../../escaped", "n" * 300], ids=["absolute",
                                  "dot-dot", "300-chars"])  # fmt: skip
def test_scenario_name_never_places_folders_outside_results_or_sweeps(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --out, ``run`` and ``sweep`` write below results/ and sweeps/ whatever the name."""
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    name = str(tmp_path / "abs") if name == "ABSOLUTE" else name
    sets = ["--set", f"name={name!r}", "--set", "horizon=10min", "--set", "warmup=0s"]
    assert main(["run", SMOKE, *sets, "--quiet"]) == 0
    assert main(["sweep", SMOKE, *sets, "--replications", "1", "--workers", "1", "--quiet"]) == 0
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_dir())
    top = {p.parts[:3] for p in made}
    assert top == {("a",), ("a", "b"), ("a", "b", "results"), ("a", "b", "sweeps")}, made


@pytest.mark.parametrize("command", ["run", "validate", "sweep"])
def test_a_named_pipe_as_the_scenario_is_refused_not_waited_on(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A FIFO would block the open until a writer came: it is refused at once (exit 2)."""
    import os
    import threading

    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(main([command, str(fifo)])), daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():  # unblock the open so the thread can end
        with open(fifo, "w"):
            pass
        thread.join(10)
        pytest.fail(f"{command} waited on a named pipe")
    assert codes == [2]
    assert "a named pipe, not a scenario file" in capsys.readouterr().err


def test_report_on_a_one_second_run_skips_the_empty_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 1 s horizon ends no transaction: report draws the rest and says what it skipped."""
    out = tmp_path / "out"
    scenario = str(SCENARIOS / "baseline_weekday.yaml")
    assert main(["run", scenario, "--set", "horizon=1s", "--set", "scale=1e-4",
                 "--out", str(out), "--quiet"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["report", str(out), "--html"]) == 0
    printed = capsys.readouterr().out
    assert "skipped throughput_per_hour: no transaction ended in the run" in printed
    assert (out / "report" / "report.html").exists()


@pytest.mark.parametrize("damage", ["truncate summary", "flip a bit", "delete transactions"])
def test_resume_redoes_a_broken_task_and_keeps_the_rest(
    damage: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A finished task's files checked against its checksums: a broken one is run again."""
    out = tmp_path / "sweep"
    argv = ["sweep", SMOKE, "--set", "horizon=10min", "--set", "warmup=0s", "--replications",
            "2", "--workers", "1", "--quiet", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    before = tmp_path / "before.parquet"
    before.write_bytes((out / "sweep.parquet").read_bytes())
    task = out / "tasks" / "variant=v000" / "replication=001"
    assert (task / "checksums.sha256").is_file()
    if damage == "truncate summary":
        (task / "summary.json").write_bytes((task / "summary.json").read_bytes()[:100])
    elif damage == "flip a bit":
        data = bytearray((task / "transactions.parquet").read_bytes())
        data[len(data) // 2] ^= 0x10
        (task / "transactions.parquet").write_bytes(bytes(data))
    else:
        (task / "transactions.parquet").unlink()
    capsys.readouterr()
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "1 run, 1 done earlier, 0 failed" in printed
    import pyarrow.parquet as pq

    assert (
        pq.read_table(out / "sweep.parquet")
        .drop_columns(["wall_time_s"])
        .equals(pq.read_table(before).drop_columns(["wall_time_s"]))
    )


def test_a_results_folder_is_fsynced_before_its_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every file of a run, and its folder, reach the disk before the rename shows them."""
    import os

    from sim.outputs import folders

    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(folders.os, "fsync", fsync)
    out = tmp_path / "out"
    assert main(["run", SMOKE, "--set", "horizon=10min", "--set", "warmup=0s",
                 "--out", str(out), "--quiet"]) == 0  # fmt: skip
    names = {Path(p).name for p in synced if ".out.partial-" in p}
    assert {p.name for p in out.iterdir()} <= names  # each file, under the staging name
    assert any(Path(p).name.startswith(".out.partial-") for p in synced)  # the folder itself


SHORT = ["--set", "horizon=10min", "--set", "warmup=0s", "--quiet"]


def _no_staging_left(folder: Path) -> bool:
    return not list(folder.rglob(".*.partial-*"))


def test_a_file_in_the_way_of_the_results_folder_is_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--out FILE/x``: the message names the file; exit 1, no traceback."""
    (tmp_path / "afile").write_text("")
    assert main(["run", SMOKE, *SHORT, "--out", str(tmp_path / "afile" / "x")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'afile'} is a file, not a folder" in err
    assert "no results folder was written" in err


@pytest.mark.parametrize("trouble", ["full disk", "read-only", "concurrent winner"])
def test_a_failed_write_is_a_message_and_leaves_nothing(
    trouble: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Writing the folder fails: a message naming the folder and why, exit 1, no staging left."""
    import errno

    from sim.outputs import results

    out = tmp_path / "out"

    def trouble_at_the_end(work: Path, files: bool = True) -> None:
        if trouble == "full disk":
            raise OSError(errno.ENOSPC, "No space left on device", str(work / "summary.json"))
        if trouble == "read-only":
            raise OSError(errno.EROFS, "Read-only file system", str(work))
        if files:  # another run of the same --out renames its folder first
            out.mkdir()
            (out / "summary.json").write_text("{}")

    monkeypatch.setattr(results, "fsync_tree", trouble_at_the_end)
    assert main(["run", SMOKE, *SHORT, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    expected = {"full disk": "No space left on device", "read-only": "Read-only file system",
                "concurrent winner": "another run wrote it first"}[trouble]  # fmt: skip
    assert f"error: cannot write the results folder {out}: {expected}" in err
    assert _no_staging_left(tmp_path)
    assert out.exists() == (trouble == "concurrent winner")


def test_report_on_a_corrupted_parquet_is_a_read_error_not_a_write_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bit-flipped stations.parquet or a summary.json of the wrong shape: exit 2, named."""
    out = tmp_path / "out"
    assert main(["run", SMOKE, *SHORT, "--out", str(out)]) == 0
    data = bytearray((out / "stations.parquet").read_bytes())
    for i in range(len(data) - 40, len(data) - 10):
        data[i] ^= 0xFF
    (out / "stations.parquet").write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err
    assert "stations.parquet is not a readable Parquet table" in err
    assert "cannot write" not in err
    (out / "summary.json").write_text("[1, 2]")
    assert main(["report", str(out)]) == 2
    assert "summary.json holds list, not a JSON object" in capsys.readouterr().err

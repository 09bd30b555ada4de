"""Provenance in manifest.json and plan.json: every field, and that ``reproduce`` reproduces.

The runs are the smoke scenario over half an hour (well under a second each).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shlex
import socket
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from sim import run_once
from sim.cli.main import main
from sim.experiment import Plan, run_sweep
from sim.experiment.task import TaskKey
from sim.outputs.results import MANIFEST
from sim.run import provenance
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SHORT = ["--set", "horizon=30min", "--set", "warmup=5min"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _outputs(folder: Path) -> dict[str, str]:
    """sha256 of every file of a results folder but manifest.json."""
    return {p.name: _sha(p) for p in sorted(folder.iterdir()) if p.name != MANIFEST}


def _utc(text: str) -> dt.datetime:
    assert text.endswith("Z")
    return dt.datetime.fromisoformat(text)


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


def _check_common(record: dict[str, Any], scenario: Path | None) -> None:
    """The fields every provenance record has, checked against this machine."""
    assert _utc(record["started_utc"]) <= _utc(record["finished_utc"])
    assert record["host"] == socket.gethostname()
    assert record["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert record["python"]["executable"] == sys.executable
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for spec in project["dependencies"]:
        name = provenance._name(spec)
        assert record["dependencies"][name] == metadata.version(name)
    assert record["package"]["version"] == project["version"]
    code = record["git"]["code"]
    assert code["commit"] == _git("rev-parse", "HEAD")
    assert code["dirty"] == bool(_git("status", "--porcelain", "--untracked-files=no"))
    assert record["reproduce"]["code"].startswith(f"git checkout {code['commit']}")
    if scenario is not None:
        assert record["scenario_file"]["sha256"] == _sha(scenario)
        assert record["git"]["scenario"]["commit"] == code["commit"]
    assert "cannot hash itself" in record["note"]


def test_run_manifest_records_provenance_and_reproduces(
    tmp_path: Path, smoke_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CLI run's manifest has the command, times, host, git, versions and hashes of every
    output file; its reproduce command, run again, gives byte-identical outputs."""
    monkeypatch.chdir(tmp_path)
    args = ["run", str(smoke_path), *SHORT, "--quiet", "--out", "a"]
    assert main(args) == 0
    record = json.loads((tmp_path / "a" / MANIFEST).read_text())["provenance"]
    assert record["command"] == ["python", "-m", "sim", *args]
    _check_common(record, smoke_path)
    assert record["outputs_sha256"] == _outputs(tmp_path / "a")
    assert "manifest.json" not in record["outputs_sha256"]
    assert record["reproduce"]["cwd"] == str(tmp_path)
    redo = shlex.split(record["reproduce"]["command"])
    assert redo[:3] == ["python", "-m", "sim"]
    assert main([*redo[3:-1], "b"]) == 0  # the same command, another --out
    assert _outputs(tmp_path / "b") == record["outputs_sha256"]
    assert (tmp_path / "a" / MANIFEST).read_bytes() != (tmp_path / "b" / MANIFEST).read_bytes()


def test_api_run_replays_its_manifest(
    tmp_path: Path, smoke_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``run_once`` from Python records no command; its reproduce command replays the resolved
    scenario kept in the manifest, to the same bytes."""
    monkeypatch.chdir(tmp_path)
    scenario = load_scenario(smoke_path, ["horizon=30min", "warmup=5min"], seed=7)
    result = run_once(scenario, tmp_path / "api")
    record = result.manifest["provenance"]
    assert record["command"] is None and record["scenario_file"] is None
    assert record["git"]["scenario"] is None
    _check_common(record, None)
    extract, _, rerun = record["reproduce"]["command"].partition(" && ")
    subprocess.run(shlex.split(extract), check=True, cwd=tmp_path)
    assert shlex.split(rerun) == ["python", "-m", "sim", "run", "scenario.json"]
    assert main(["run", "scenario.json", "--quiet", "--out", "replayed"]) == 0
    assert _outputs(tmp_path / "replayed") == record["outputs_sha256"]


def test_sweep_plan_and_task_provenance(tmp_path: Path, smoke_path: Path) -> None:
    """plan.json records the sweep (an equivalent command when run from Python) with the
    hashes of its tables and tasks; a task's manifest has its own ``run`` command."""
    plan = Plan.load(smoke_path, ["network.national.servers=2,4"], SHORT[1::2])
    run_sweep(plan, tmp_path / "sweep", 1)
    stored = json.loads((tmp_path / "sweep" / "plan.json").read_text())["provenance"]
    _check_common(stored, smoke_path)
    assert stored["command"] is None
    assert stored["reproduce"]["command"] == shlex.join(
        ["python", "-m", "sim", "sweep", str(smoke_path), *SHORT, "--vary",
         "network.national.servers=2,4", "--replications", "1", "--out",
         str(tmp_path / "sweep")])  # fmt: skip
    hashed = stored["outputs_sha256"]
    tasks = [f"tasks/{TaskKey(v, 0).name}/checksums.sha256" for v in (0, 1)]
    assert set(hashed) == {"sweep.parquet", "summary.parquet", *tasks}
    assert all(hashed[name] == _sha(tmp_path / "sweep" / name) for name in hashed)
    task = tmp_path / "sweep" / "tasks" / TaskKey(1, 0).name
    record = json.loads((task / MANIFEST).read_text())["provenance"]
    redo = shlex.split(record["reproduce"]["command"])
    assert redo == ["python", "-m", "sim", "run", str(smoke_path), *SHORT, "--set",
                    "network.national.servers=4", "--seed", str(plan.seed(0))]  # fmt: skip
    assert main([*redo[3:], "--quiet", "--out", str(tmp_path / "alone")]) == 0
    alone = _outputs(tmp_path / "alone")
    assert {k: v for k, v in _outputs(task).items() if k in alone} == alone


def test_git_state_is_null_outside_a_repository_or_without_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside any repository, or with no git on PATH, the commit is null, never an error."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert provenance.git_state(tmp_path) is None
    assert provenance.git_state(ROOT)["commit"] == _git("rev-parse", "HEAD")  # type: ignore[index]
    monkeypatch.setenv("PATH", str(tmp_path))
    assert provenance.git_state(ROOT) is None


def test_scenario_hash_reads_no_device_or_oversized_file(tmp_path: Path) -> None:
    """/dev/zero and a file larger than a scenario may be get no hash, at once (the command
    line hashes its scenario before the loader refuses it)."""
    assert provenance.scenario_file("/dev/zero") == ("/dev/zero", None)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (4 * 1024 * 1024 + 1))
    assert provenance.scenario_file(big) == (str(big), None)
    small = tmp_path / "s.yaml"
    small.write_text("name: x\n")
    assert provenance.scenario_file(small)[1] == _sha(small)

"""The wheel carries the scenarios, and commands find them by name outside the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, SCENARIOS

BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "_build", "sim", "scenarios")
"""What ``pip wheel .`` reads: copied to a scratch folder so the build leaves the clone clean."""


def sim(*args: str, cwd: Path, path: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``python -m sim ARGS`` run in ``cwd`` with the package imported from ``path``."""
    env = {**os.environ, "PYTHONPATH": str(path)}
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)  # fmt: skip


@pytest.mark.packaging
def test_the_wheel_ships_every_scenario_and_runs_them_by_name(tmp_path: Path) -> None:
    """`pip wheel .` puts scenarios/**.yaml in sim/_scenarios/; unpacked, it runs them by name."""
    source = tmp_path / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w",
                            str(tmp_path / "dist")], capture_output=True, text=True, cwd=source,
                           timeout=600)  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("sscard_sim-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        shipped = {n.removeprefix("sim/_scenarios/") for n in archive.namelist()
                   if n.startswith("sim/_scenarios/")}  # fmt: skip
        licences = [n for n in archive.namelist() if n.endswith("LICENSE") and ".dist-info/" in n]
        archive.extractall(site)
    assert len(licences) == 1 and (site / licences[0]).read_text().startswith("MIT License")
    expected = {p.relative_to(SCENARIOS).as_posix() for p in SCENARIOS.rglob("*.yaml")}
    assert expected == shipped
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    listed = sim("scenarios", cwd=elsewhere, path=site)
    assert listed.returncode == 0, listed.stderr
    assert "baseline_weekday" in listed.stdout.splitlines()
    assert str(site / "sim" / "_scenarios") in listed.stderr
    checked = sim("validate", "baseline_weekday", "validation/mm1", cwd=elsewhere, path=site)
    assert checked.returncode == 0, checked.stderr
    assert "baseline_weekday: ok (baseline-weekday)" in checked.stdout
    model = sim("validate-model", "validation/mm1", "--quick", "--replications", "2",
                "--no-confirm", "--jobs", "1", cwd=elsewhere, path=site)  # fmt: skip
    assert model.returncode == 0, model.stderr
    assert "all cases pass" in model.stdout


def test_commands_take_a_name_outside_the_repository(tmp_path: Path) -> None:
    """`run smoke` from another folder runs the shipped file; a misspelt name exits 2."""
    done = sim("run", "smoke", "--quiet", "--out", "out", "--set", "horizon=30min",
               "--set", "warmup=5min", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "results: out" in done.stdout and (tmp_path / "out" / "summary.json").is_file()
    wrong = sim("sweep", "smok", "--replications", "2", cwd=tmp_path)
    assert wrong.returncode == 2
    assert "smok: 1 problem(s)\n  file not found, nor a shipped scenario (did you mean " in (
        wrong.stderr
    )
    assert "shipped: baseline_weekday, " in wrong.stderr and "Traceback" not in wrong.stderr

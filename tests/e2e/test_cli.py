"""The command line as users run it: a subprocess per command, exit codes and files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from tests.conftest import ROOT, SCENARIOS

RESULT_FILES = {"transactions.parquet", "stations.parquet", "timeseries.parquet",
                "ledger.parquet", "clearing.parquet", "summary.json", "manifest.json"}  # fmt: skip


def sim(
    *args: str, cwd: Path | None = None, columns: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m sim ARGS`` and capture its output (``COLUMNS`` wide, if given)."""
    env = None if columns is None else {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=600, env=env)  # fmt: skip


def test_run_writes_the_results_folder(tmp_path: Path) -> None:
    """`run` exits 0, writes the five files and prints the summary table."""
    out = tmp_path / "out"
    done = sim("run", str(SCENARIOS / "smoke.yaml"), "--out", str(out), "--seed", "1")
    assert done.returncode == 0, done.stderr
    assert {p.name for p in out.iterdir()} == RESULT_FILES
    assert "medical_outpatient" in done.stdout and str(out) in done.stdout
    columns = set(pq.read_schema(out / "transactions.parquet").names)
    assert {"txn_id", "service", "home_province", "site_province", "cross_province",
            "arrival_s", "end_s", "latency_s", "wait_s", "outcome", "attempts",
            "amount_fen", "fund_fen", "personal_fen"} <= columns  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 1 and manifest["events"] > 0 and manifest["wall_time_s"] > 0
    assert manifest["scenario"]["name"] == "smoke"


def test_default_results_folder_is_named_after_scenario(tmp_path: Path) -> None:
    """Without --out, results go to results/<name>-<UTC timestamp>/ under the working folder."""
    done = sim("run", str(SCENARIOS / "smoke.yaml"), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [folder] = (tmp_path / "results").iterdir()
    assert folder.name.startswith("smoke-") and folder.name.endswith("Z")


def test_same_seed_gives_identical_transactions(tmp_path: Path) -> None:
    """Two runs with the same scenario and seed write byte-identical transactions.parquet."""
    for name in ("a", "b"):
        done = sim("run", str(SCENARIOS / "smoke.yaml"), "--out", str(tmp_path / name),
                   "--seed", "7", "--quiet")  # fmt: skip
        assert done.returncode == 0, done.stderr
    a, b = (tmp_path / n / "transactions.parquet" for n in ("a", "b"))
    assert a.read_bytes() == b.read_bytes()


def test_set_overrides_a_key(tmp_path: Path) -> None:
    """--set changes the scenario that runs, and the manifest records the resolved value."""
    out = tmp_path / "out"
    done = sim("run", str(SCENARIOS / "smoke.yaml"), "--out", str(out), "--quiet",
               "--set", "network.national.servers=3", "--set", "horizon=30min")  # fmt: skip
    assert done.returncode == 0, done.stderr
    resolved = json.loads((out / "manifest.json").read_text())["scenario"]
    assert resolved["network"]["national"]["servers"] == 3
    assert resolved["horizon"] == "1800.0s"


BAD_FILES = {
    "capacity 0": ("services:\n  pharmacy:\n    points: {capacity: 0}\n",
                   "services.pharmacy.points.capacity: must be ≥ 1, got 0"),
    "unknown key": ("horizonn: 1d\n", "horizonn: unknown key (did you mean 'horizon'?)"),
    "negative rate": ("services:\n  pharmacy:\n    rate: {per_holder_per_year: -2}\n",
                      "services.pharmacy.rate.per_holder_per_year: must be ≥ 0, got -2"),
    "bad duration": ("horizon: 3 fortnights\n", "horizon: expected a duration"),
    "bad money": ("policy:\n  default:\n    pharmacy: {ratio: 0.5, deductible: lots}\n",
                  "policy.default.pharmacy.deductible: expected money"),
    "unknown province": ("policy:\n  provinces:\n    XX: {}\n",
                         "policy.provinces.XX: unknown province"),
    "wrong type": ("network:\n  timeout: [1, 2]\n", "network.timeout: expected a duration"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_FILES), ids=str)
def test_bad_scenario_is_rejected_by_path_without_traceback(case: str, tmp_path: Path) -> None:
    """Each kind of mistake: exit 2, the problem named by path, no traceback, no folder."""
    patch, expected = BAD_FILES[case]
    bad = tmp_path / "bad.yaml"
    bad.write_text(_patched((SCENARIOS / "smoke.yaml").read_text(), patch))
    out = tmp_path / "out"
    done = sim("run", str(bad), "--out", str(out))
    assert done.returncode == 2
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".out.partial-*"))


def _patched(base: str, patch: str) -> str:
    """The base scenario's YAML with a patch merged into it, key by key."""
    data = yaml.safe_load(base)
    _merge(data, yaml.safe_load(patch))
    return yaml.safe_dump(data, allow_unicode=True)


def _merge(into: dict, patch: dict) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def test_syntax_error_and_missing_file_exit_2(tmp_path: Path) -> None:
    """A YAML syntax error names the line; a missing file is reported, not raised."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nservices: [\n")
    done = sim("validate", str(bad))
    assert done.returncode == 2 and "YAML syntax error at line" in done.stderr
    done = sim("run", str(tmp_path / "missing.yaml"))
    assert done.returncode == 2 and "file not found" in done.stderr
    assert "Traceback" not in done.stderr


def test_existing_results_folder_is_not_overwritten(tmp_path: Path) -> None:
    """--out naming an existing folder is refused before running."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    done = sim("run", str(SCENARIOS / "smoke.yaml"), "--out", str(out))
    assert done.returncode == 2 and "already exists" in done.stderr
    assert (out / "keep.txt").read_text() == "precious"


def test_console_script_is_installed() -> None:
    """The `sscard-sim` entry point exists and shows the same commands."""
    exe = Path(sys.executable).with_name("sscard-sim")
    if not exe.exists():
        pytest.skip("package not installed with its console script")
    done = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "run" in done.stdout and "validate" in done.stdout


def test_run_with_theory_prints_erlang_c_per_node(tmp_path: Path) -> None:
    """`run --theory` adds the per-node Erlang-C table; summary.json always holds its rows."""
    out = tmp_path / "out"
    done = sim("run", str(SCENARIOS / "smoke.yaml"), "--out", str(out), "--quiet", "--theory")
    assert done.returncode == 0, done.stderr
    assert "simulated wait vs Erlang C" in done.stdout and "national" in done.stdout
    nodes = json.loads((out / "summary.json").read_text())["settlement_nodes"]
    assert len(nodes) == 33
    assert {"station", "erlang_c_wait_s", "wait_mean_s", "ratio", "verdict"} <= set(nodes[0])


VALIDATION = SCENARIOS / "validation"


def test_validate_model_quick_passes_and_prints_the_table() -> None:
    """validate-model in quick mode on two cases: exit 0, one table row per quantity."""
    cases = [str(VALIDATION / "erlang_b.yaml"), str(VALIDATION / "arrivals.yaml")]
    done = sim("validate-model", *cases, "--quick", "--replications", "3", "--jobs", "2",
               columns=200)  # wide enough for every cell on one line  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for text in ("M/M/5/5 (Erlang B)", "P(turned away)", "hourly counts Poisson (χ²)",
                 "rescaled gaps Exp(1) (KS)", "Little's law", "95% CI",
                 "all cases pass"):  # fmt: skip
        assert text in done.stdout, text
    assert "FAIL" not in done.stdout


def test_validate_model_fails_when_a_reduction_breaks(tmp_path: Path) -> None:
    """A tandem whose timeout is shorter than the round trip retries requests: exit 1."""
    text = (VALIDATION / "tandem.yaml").read_text().replace("timeout: 1min", "timeout: 150ms")
    broken = tmp_path / "tandem_timeouts.yaml"
    broken.write_text(text)
    done = sim("validate-model", str(broken), "--quick", "--replications", "2", "--jobs", "1",
               columns=200)  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "reduction assumptions" in done.stdout and "timeouts" in done.stdout
    assert "FAILED: tandem" in done.stdout


def test_validate_model_bad_input_exits_2(tmp_path: Path) -> None:
    """A name that is neither a file nor a shipped case, or an invalid file: exit 2.

    (With no scenario named it runs the shipped cases from any folder: see
    tests/unit/test_scenario_shipped.py.)
    """
    done = sim("validate-model", "validation/tandm", cwd=tmp_path)
    assert done.returncode == 2 and "did you mean 'validation/tandem'?" in done.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    done = sim("validate-model", str(bad))
    assert done.returncode == 2 and "required key is missing" in done.stderr
    done = sim("validate-model", str(VALIDATION / "mm1.yaml"), "--replications", "1")
    assert done.returncode == 2


def test_results_folders_follow_the_umask(tmp_path: Path) -> None:
    """Under umask 022 a results folder is readable by colleagues (drwxr-xr-x), not private."""
    out = tmp_path / "out"
    done = subprocess.run(
        ["sh", "-c", f'umask 022 && exec "{sys.executable}" -m sim run '
         f'"{SCENARIOS / "smoke.yaml"}" --out "{out}" --quiet'],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert 0o755 == out.stat().st_mode & 0o777


def test_run_once_without_a_folder_leaves_nothing_in_the_temporary_directory(
    tmp_path: Path,
) -> None:
    """run_once() with no out_dir writes a temporary folder, removed when Python exits."""
    code = ("from sim import load_scenario, run_once\n"
            f"r = run_once(load_scenario({str(SCENARIOS / 'smoke.yaml')!r}))\n"
            "assert (r.folder / 'summary.json').exists()\nprint(r.folder)\n")  # fmt: skip
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=600, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert str(tmp_path) in done.stdout
    assert [] == list(tmp_path.iterdir())


def test_quiet_run_still_names_its_results_folder(tmp_path: Path) -> None:
    """`run --quiet` prints no tables, but the one line saying where the results are."""
    out = tmp_path / "out"
    done = sim("run", str(SCENARIOS / "smoke.yaml"), "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert f"results: {out}\n" == done.stdout

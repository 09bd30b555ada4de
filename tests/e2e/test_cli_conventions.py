"""Command-line conventions: --version, help on every option, usage and exit codes."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

import sim
from sim.cli.main import _parser
from sim.exits import EXIT_NOT_MET
from tests.conftest import ROOT, SCENARIOS

SMOKE = str(SCENARIOS / "smoke.yaml")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m sim ARGS`` and capture its output."""
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)  # fmt: skip


def test_version_names_the_program_and_its_version() -> None:
    """`--version` prints "sscard-sim <version>" and exits 0."""
    done = run_cli("--version")
    assert done.returncode == 0
    assert done.stdout.startswith(f"sscard-sim {sim.__version__}")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_option_of_every_command_has_help_text() -> None:
    """No option or argument is listed in --help without saying what it does."""
    missing = [
        f"{name} {action.option_strings or action.dest}"
        for name, sub in _subparsers(_parser()).items()
        for action in sub._actions
        if not isinstance(action, argparse._HelpAction) and not action.help
    ]
    assert [] == missing


def test_an_unknown_option_prints_the_subcommands_usage() -> None:
    """`run --bogus` shows `sscard-sim run`'s usage, not the top level's, and exits 2."""
    done = run_cli("run", SMOKE, "--bogus")
    assert done.returncode == 2
    assert done.stderr.startswith("usage: sscard-sim run ")
    assert "sscard-sim run: error: unrecognized arguments: --bogus" in done.stderr


def test_target_help_names_the_figures_the_readme_uses() -> None:
    """`capacity --help` and README name the same target figures."""
    readme = (ROOT / "README.md").read_text()
    text = " ".join(run_cli("capacity", "--help").stdout.split())
    for name in ("p99_latency_s<=3", "national_utilisation<=0.7", "utilisation", "wait_p99_s"):
        assert name in text and name in readme


def test_precision_not_met_exits_non_zero(tmp_path: Path) -> None:
    """A sweep that stops at --max-replications short of its precision exits 3, and says so."""
    done = run_cli("sweep", SMOKE, "--set", "horizon=30min", "--set", "warmup=5min",
                   "--replications", "2", "--max-replications", "3", "--precision",
                   "settle_p99_local_s=0.000001", "--workers", "1", "--quiet",
                   "--out", str(tmp_path / "s"))  # fmt: skip
    assert done.returncode == EXIT_NOT_MET, done.stderr
    assert "NOT met with 3 replications" in done.stdout
    assert "precision not reached within --max-replications 3" in done.stderr


@pytest.mark.parametrize("code", [EXIT_NOT_MET])
def test_exit_codes_are_documented(code: int) -> None:
    """The README's exit codes include the one for a goal not met."""
    assert f"exit code {code}" in (ROOT / "README.md").read_text()

"""The code stays lint-clean, formatted and type-checked (ruff and mypy, as configured)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)  # fmt: skip


@pytest.fixture(autouse=True)
def _needs_tools() -> None:
    if shutil.which("ruff") is None and not (ROOT / ".venv").exists():
        pytest.importorskip("ruff")


def test_ruff_lint_is_clean() -> None:
    """`ruff check` finds nothing in the package, tests and benchmarks."""
    done = _tool("ruff", "check", "sim", "tests", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_is_clean() -> None:
    """`ruff format --check` would change nothing."""
    done = _tool("ruff", "format", "--check", "sim", "tests", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_is_clean() -> None:
    """`mypy` (strict, configured in pyproject.toml) passes on sim/."""
    pytest.importorskip("mypy")
    done = _tool("mypy", "sim")
    assert done.returncode == 0, done.stdout + done.stderr

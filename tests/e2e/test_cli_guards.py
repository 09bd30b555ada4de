"""The command line's resource guards, as users meet them: too-large runs and Ctrl-C.

A run expected to exceed ``--max-events`` or ``--max-memory`` is refused before
anything is built (exit 2, the estimate and the option that would allow it); a
run interrupted with SIGINT (Ctrl-C) or SIGTERM stops with exit code 130, says
no results folder was written, and leaves neither the folder nor its hidden
staging folder behind.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SCENARIOS
from tests.e2e.test_cli import sim


def test_run_over_the_event_limit_is_refused_and_the_suggested_limit_runs(
    tmp_path: Path,
) -> None:
    """--max-events below the estimate: exit 2 with the estimate and a limit; that limit runs."""
    out = tmp_path / "out"
    done = sim("run", str(SCENARIOS / "smoke.yaml"), "--out", str(out), "--max-events", "1000")
    assert done.returncode == 2, done.stderr
    assert "too large to run" in done.stderr
    assert "simulation events (" in done.stderr and "transactions ×" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists() and not list(tmp_path.glob(".out.partial-*"))
    suggested = re.search(r"to run it anyway: --max-events (\S+)", done.stderr)
    assert suggested is not None, done.stderr
    done = sim("run", str(SCENARIOS / "smoke.yaml"), "--out", str(out), "--quiet",
               "--max-events", suggested[1])  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (out / "manifest.json").exists()


def test_full_scale_population_is_refused_for_memory_before_building(tmp_path: Path) -> None:
    """scale=1 (1.38 billion holders) is refused in moments, without allocating them."""
    started = time.perf_counter()
    done = sim("run", str(SCENARIOS / "baseline_weekday.yaml"), "--set", "scale=1",
               "--out", str(tmp_path / "out"))  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "expected peak memory" in done.stderr and "1.38e+09 holders" in done.stderr
    assert "--max-memory" in done.stderr and "--set scale=" in done.stderr
    assert time.perf_counter() - started < 30


@pytest.mark.parametrize("option", ["--max-events=0", "--max-events=lots", "--max-memory=8XB"])
def test_bad_limit_option_exits_2(option: str) -> None:
    """A limit that is not a positive number or size is a usage error (exit 2)."""
    done = sim("run", str(SCENARIOS / "smoke.yaml"), option)
    assert done.returncode == 2 and "error: argument --max-" in done.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_leaves_no_folder(tmp_path: Path, signum: signal.Signals) -> None:
    """Interrupted once its staging folder exists: exit 130, says so, nothing left behind."""
    out = tmp_path / "out"
    run = subprocess.Popen(
        [sys.executable, "-m", "sim", "run", str(SCENARIOS / "baseline_weekday.yaml"),
         "--set", "scale=1e-2", "--out", str(out), "--quiet"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # A suite started in the background (``cmd &``) inherits SIGINT ignored, and
        # Python then installs no Ctrl-C handler: give the child the terminal default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".out.partial-*")):
            assert run.poll() is None, "the run ended before it could be interrupted"
            assert time.monotonic() < deadline, "no staging folder appeared"
            time.sleep(0.02)
        time.sleep(0.5)  # into building the model and simulating
        run.send_signal(signum)
        _, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, stderr
    assert "interrupted: no results folder was written" in stderr
    assert "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("finished", [False, True], ids=["while running", "after writing"])
def test_interrupt_message_says_what_is_on_disk(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    finished: bool,
) -> None:
    """Ctrl-C after the folder was renamed into place says it is complete, not missing."""
    from sim.cli import main as cli
    from sim.run import api

    def interrupted_run(_scenario: object, out: Path, progress: object = None) -> None:
        if finished:
            out.mkdir()
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "run_once", interrupted_run)
    out = tmp_path / "out"
    code = cli.main(["run", str(SCENARIOS / "smoke.yaml"), "--out", str(out), "--quiet"])
    message = capsys.readouterr().err
    assert 130 == code
    if finished:
        assert f"interrupted: the results folder {out} is complete" in message
    else:
        assert "interrupted: no results folder was written" in message

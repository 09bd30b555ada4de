"""What the console prints after a run: every figure labelled with what it measures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, SCENARIOS


def sim(*args: str, columns: int | None = 200) -> subprocess.CompletedProcess[str]:
    """Run ``python -m sim ARGS`` piped, with ``COLUMNS`` set (or unset when None)."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600, env=env)  # fmt: skip


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """The national platform outage scenario run once: its stdout and summary."""
    out = tmp_path_factory.mktemp("outage") / "run"
    done = sim("run", str(SCENARIOS / "national_platform_outage.yaml"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def payday(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """The three-day pension payday run once with --theory: its stdout and summary."""
    out = tmp_path_factory.mktemp("payday") / "run"
    done = sim("run", str(SCENARIOS / "pension_payday.yaml"), "--out", str(out), "--theory")
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads((out / "summary.json").read_text())


def _row(stdout: str, first: str, after: str = "") -> list[str]:
    """The cells of the first table row starting with ``first`` (below the line ``after``)."""
    lines = stdout.splitlines()
    begin = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(line.split() for line in lines[begin:] if line.split()[:1] == [first])


def test_latency_table_is_in_seconds_over_every_settlement(
    outage: tuple[str, dict[str, Any]],
) -> None:
    """p50 and p99 cover local and cross-province settlements, in seconds, under "(s)"."""
    stdout, summary = outage
    assert "settle latency (s), of settled transactions" in stdout
    assert " ms" not in stdout.split("settlement nodes")[0]
    settle = summary["services"]["medical_inpatient"]["settle_latency_s"]
    cells = _row(stdout, "medical_inpatient", after="settle latency (s)")
    assert [f"{settle['all']['p50']:.3f}", f"{settle['all']['p99']:.3f}"] == cells[1:3]
    assert f"{settle['cross_province']['p99']:.3f}" == cells[4]
    assert "cross: cross-province settlements only" in stdout
    assert "request → answer" in " ".join(cells)


def test_a_run_with_faults_prints_each_window_before_during_after(
    outage: tuple[str, dict[str, Any]],
) -> None:
    """The outage's window figures of summary.json are on the console, phase by phase."""
    stdout, summary = outage
    [window] = summary["faults"]["windows"]
    assert "faults: medical figures before, during and after each window" in stdout
    during = _row(stdout, "during")
    assert ["during", "10:00–12:00", f"{window['during']['arrivals']:,}"] == during[:3]
    assert f"{window['during']['fallbacks_by_faults']:,}" == during[5]
    assert f"{window['during']['fallback_share'] * 100:.2f}" == during[4]


def test_protocol_counters_explain_unacknowledged_reversals(
    outage: tuple[str, dict[str, Any]],
) -> None:
    """A reversal without an answer is explained where it is counted; zeros are grouped."""
    stdout, summary = outage
    n = summary["protocol"]["reversals_unacknowledged"]
    assert n > 0
    line = " ".join(stdout.split("protocol:")[1].split("transactions,")[0].split())
    assert f"reversals unacknowledged {n} (no answer to the reversal" in line
    assert "zero: duplicates suppressed" in line


def test_multi_day_runs_count_settlements_per_calendar_day(
    payday: tuple[str, dict[str, Any]],
) -> None:
    """Payday's credits all land on the 15th: the busiest day shows them all, not a third."""
    stdout, summary = payday
    credits = summary["services"]["pension_credit"]
    by_day = credits["settled_by_day_full_scale"]
    assert ["2024-03-15"] == list(by_day)
    assert by_day["2024-03-15"] == pytest.approx(credits["outcomes"]["settled"] / 1e-3)
    assert "settled, busiest day (full scale)" in " ".join(stdout.split())
    assert [f"{by_day['2024-03-15'] / 1e6:,.2f}", "M"] == _row(stdout, "pension_credit")[5:7]
    withdrawals = summary["services"]["bank_withdrawal"]["settled_by_day_full_scale"]
    assert ["2024-03-15", "2024-03-16", "2024-03-17"] == list(withdrawals)
    assert "bank_withdrawal settled per day (full scale): 2024-03-15" in stdout


def test_theory_does_not_flag_batch_fed_bank_nodes(payday: tuple[str, dict[str, Any]]) -> None:
    """Bank nodes land payout files: --theory says "batch arrivals", not "differs"."""
    stdout, summary = payday
    banks = [r for r in summary["settlement_nodes"] if r["station"].startswith("node:bank:")]
    assert len(banks) == 31 and {r["verdict"] for r in banks} == {"batch arrivals"}
    rows = [line for line in stdout.splitlines() if "bank:" in line]
    assert len(rows) == 31 and all(row.split()[-2:] == ["batch", "arrivals"] for row in rows)


@pytest.mark.parametrize("columns", [80, 100])
def test_tables_fit_the_terminal_width(tmp_path: Path, columns: int) -> None:
    """COLUMNS is obeyed, and no header or cell is cut to an ellipsis."""
    done = sim("run", str(SCENARIOS / "smoke.yaml"), "--out", str(tmp_path / "r"),
               columns=columns)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert max(len(line) for line in done.stdout.splitlines()) <= columns
    assert "…" not in done.stdout
    header = next(line.split() for line in done.stdout.splitlines() if "service" in line)
    assert ["service", "arrivals", "settled", "fallback", "declined"] == header[:5]
    assert "medical_outpatient" in done.stdout


def test_a_pipe_without_columns_gets_whole_lines(tmp_path: Path) -> None:
    """Piped with no COLUMNS, lines are not wrapped at 80 (nor forced to 132) columns."""
    done = sim("run", str(SCENARIOS / "smoke.yaml"), "--out", str(tmp_path / "r"), columns=None)
    assert done.returncode == 0, done.stderr
    [protocol] = [line for line in done.stdout.splitlines() if line.startswith("protocol:")]
    assert len(protocol) > 132

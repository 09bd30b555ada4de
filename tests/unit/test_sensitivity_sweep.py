"""The LHS sweep of docs/designs.md: its commands run and print what the page shows.

One real designed sweep (eight samples of the smoke scenario's first 20 minutes,
one replication each), then ``report --html`` on its folder.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sim.cli.main import main
from sim.experiment.figures import figure_names
from tests.conftest import ROOT

DOC = ROOT / "docs" / "designs.md"
PNG = b"\x89PNG\r\n\x1a\n"


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text("utf-8"), flags=re.S)


def _commands() -> list[list[str]]:
    """The page's ``sh`` block, one command a line (backslash continuations joined)."""
    (block,) = _blocks("sh")
    lines = block.replace("\\\n", " ").strip().splitlines()
    return [shlex.split(line) for line in lines]


def _squeeze(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip("─ ")]


def test_the_pages_lhs_sweep_prints_its_indices_and_plots_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The LHS sweep writes SRRC and R² rows with intervals for every figure; the report
    prints the page's lines, and its HTML page embeds a real PNG bar chart per figure."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")  # the page shows the tables as printed to a pipe
    sweep, report = _commands()
    assert sweep[:2] == ["sscard-sim", "sweep"] and "--design" in sweep
    assert main([*sweep[1:], "--workers", "1"]) == 0  # in this process: same results, faster
    folder = tmp_path / "sweeps" / "lhs-demo"
    table = pq.read_table(folder / "sensitivity.parquet").to_pylist()
    assert {r["figure"] for r in table} == set(figure_names())
    assert {r["measure"] for r in table} == {"SRRC", "R2_rank"}
    mine = [r for r in table if r["figure"] == "national_utilisation"]
    assert all(r["low"] <= r["estimate"] <= r["high"] for r in mine)
    plan = json.loads((folder / "plan.json").read_text())
    assert plan["design"]["method"] == "lhs" and len(plan["design"]["values"]) == 8
    capsys.readouterr()
    assert main(report[1:]) == 0
    printed = _squeeze(capsys.readouterr().out)
    (shown,) = _blocks("text")
    for line in _squeeze(shown):
        assert line in printed
    page = (folder / "report" / "report.html").read_text()
    (image,) = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert base64.b64decode(image)[:8] == PNG
    assert (folder / "report" / "sensitivity_national_utilisation.png").read_bytes()[:8] == PNG
    assert "standardized rank regression coefficient" in page and "Sobol" not in page
    resumed = [*sweep[1:], "--workers", "1"]  # the same command again: nothing runs, same plan
    assert main(resumed) == 0
    again = json.loads((folder / "plan.json").read_text())
    plan.pop("provenance"), again.pop("provenance")
    assert again == plan

"""Every notebook runs top to bottom, and its committed outputs match a fresh run.

Each notebook is executed with nbclient in a scratch folder (see
``tests/notebook_runner.py``), so nothing is written into the repository. The
committed copy must be a clean top-to-bottom run of the same code with the same
kinds of output per cell (text, table, image) and the same printed lines: a
notebook edited without re-running it, or whose printed figures changed with
the model, fails here. Refresh the committed outputs with
``python -m tests.notebook_runner``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

import nbformat

from tests.notebook_runner import NOTEBOOKS, execute, notebook_paths

REFRESH = "refresh the committed outputs with `python -m tests.notebook_runner`"
BUDGET_S = 300.0
"""A guard against a runaway notebook, not a speed test (the machines are shared and noisy;
speed is measured in benchmarks/): each runs in 10-80 s alone on two cores."""
EXPECTED = {
    "01_baseline_day.ipynb",
    "02_cross_province_settlement.ipynb",
    "03_capacity_planning.ipynb",
    "04_faults.ipynb",
    "05_card_fraud.ipynb",
}


def _kinds(cell: Any) -> list[tuple[str, tuple[str, ...]]]:
    """A code cell's outputs as (output type, MIME types) — what it showed, not how."""
    return [(o.output_type, tuple(sorted(o.get("data", {})))) for o in cell.outputs]


def _printed(cell: Any) -> str:
    return "".join(o.text for o in cell.outputs if o.output_type == "stream")


def test_the_five_notebooks_are_there() -> None:
    """The notebooks the README promises exist, and nothing else hides beside them."""
    assert {p.name for p in notebook_paths()} == EXPECTED


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_committed_notebook_is_a_clean_run_with_outputs(path: Path) -> None:
    """Cells were executed once each, in order; no errors; at least one plot is stored."""
    notebook = nbformat.read(path, as_version=4)
    assert notebook.cells[0].cell_type == "markdown", "start with the question it answers"
    assert "**Question.**" in notebook.cells[0].source
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), REFRESH
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs), REFRESH


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_notebook_runs_and_matches_its_committed_outputs(path: Path, tmp_path: Path) -> None:
    """A fresh run raises nothing, stays in budget, writes nothing into the repository,
    and shows per cell what the committed copy shows, printing the same lines."""
    before = sorted(p.name for p in NOTEBOOKS.iterdir())
    fresh, seconds = execute(path, tmp_path)
    assert seconds < BUDGET_S, f"{path.name} took {seconds:.0f} s"
    assert sorted(p.name for p in NOTEBOOKS.iterdir()) == before
    committed = nbformat.read(path, as_version=4)
    pairs = [
        (old, new)
        for old, new in zip(committed.cells, fresh.cells, strict=True)
        if old.cell_type == "code"
    ]
    for n, (old, new) in enumerate(pairs, start=1):
        assert _kinds(old) == _kinds(new), f"cell {n} of {path.name}: {REFRESH}"
        assert _printed(old) == _printed(new), f"cell {n} of {path.name}: {REFRESH}"

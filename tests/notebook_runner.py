"""Execute the notebooks of ``notebooks/`` the way the tests do, and refresh their outputs.

A notebook runs in a scratch folder laid out like the repository (``notebooks/``
beside a link to ``scenarios/``), so it finds the scenarios at ``../scenarios``
as when opened from a checkout, and writes nothing into the repository.

After changing a notebook or the code it calls, refresh the committed outputs
from the repository root with::

    python -m tests.notebook_runner            # every notebook
    python -m tests.notebook_runner 03         # those whose name contains 03
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
TIMEOUT_S = 120
"""Most seconds one cell may take; every notebook should finish well within it."""


def notebook_paths() -> list[Path]:
    """The committed notebooks, in name order."""
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def execute(path: Path, scratch: Path) -> tuple[NotebookNode, float]:
    """Run a notebook top to bottom in ``scratch``; return it with its outputs, and seconds."""
    notebook = nbformat.read(path, as_version=4)
    workdir = scratch / "notebooks"
    workdir.mkdir(parents=True, exist_ok=True)
    scenarios = scratch / "scenarios"
    if not scenarios.exists():
        try:
            scenarios.symlink_to(ROOT / "scenarios", target_is_directory=True)
        except OSError:  # no symlinks here: copy the (small) scenario files
            shutil.copytree(ROOT / "scenarios", scenarios)
    client = NotebookClient(notebook, timeout=TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})  # fmt: skip
    started = time.perf_counter()
    client.execute()
    return notebook, time.perf_counter() - started


def clean(notebook: NotebookNode) -> NotebookNode:
    """Drop what changes from run to run without meaning anything (cell timing metadata)."""
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    return notebook


def refresh(paths: list[Path]) -> None:
    """Execute each notebook and write it back with its new outputs."""
    for path in paths:
        with tempfile.TemporaryDirectory(prefix="sscard-notebook-") as scratch:
            notebook, seconds = execute(path, Path(scratch))
        nbformat.write(clean(notebook), path)
        print(f"{path.relative_to(ROOT)}: executed in {seconds:.1f} s")


if __name__ == "__main__":
    wanted = sys.argv[1:]
    refresh([p for p in notebook_paths() if not wanted or any(w in p.name for w in wanted)])

"""The programmatic way in: run a scenario and get its results folder back.

Notebooks and the experiment layer call :func:`run_once`; the command line is
a thin shell around it.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from sim.outputs.results import MANIFEST, Result, staging, write_json
from sim.run import provenance
from sim.run.model import Progress, build, simulate
from sim.scenario import Scenario

__all__ = ["run_once"]


def run_once(
    scenario: Scenario, out_dir: str | Path | None = None, progress: Progress | None = None
) -> Result:
    """Run one scenario and write its results folder (all or nothing).

    Without ``out_dir`` the results go to a new temporary folder, whose path is
    ``result.folder``; it is removed when the Python process exits (or at once if
    the run fails), so notebooks and scripts leave nothing behind in the system's
    temporary directory. Pass ``out_dir`` to keep the results. ``manifest.json``
    records the run's provenance (:mod:`sim.run.provenance`).
    """
    if out_dir is not None:
        return _run_into(scenario, Path(out_dir), progress)
    scratch = Path(tempfile.mkdtemp(prefix=f"sscard-{scenario.name}-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    try:
        return _run_into(scenario, scratch / "results", progress)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _run_into(scenario: Scenario, out: Path, progress: Progress | None) -> Result:
    started = provenance.utc_now()
    with staging(out) as work:
        result = simulate(build(scenario, work), progress)
        _stamp(work, out, started, result.manifest)
    return Result.read(out)


def _stamp(work: Path, out: Path, started: str, manifest: dict[str, object]) -> None:
    """Add ``provenance`` to the manifest, once every other file is written and closed."""
    outputs = {p.name: p for p in work.iterdir() if p.is_file() and p.name != MANIFEST}
    replay = provenance.replay_command(out / MANIFEST)
    record = provenance.provenance(started, provenance.current(), outputs, replay)
    write_json({**manifest, "provenance": record}, work / MANIFEST)

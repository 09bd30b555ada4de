"""The scenarios that ship with sscard-sim, found by name from any folder.

Every command that takes a scenario accepts a path, as before, or the name of a
shipped scenario (``baseline_weekday``, ``validation/mm1``), so
``sscard-sim run baseline_weekday`` works outside the repository. The files are
the repository's top-level ``scenarios/`` folder: an installed wheel carries them
as ``sim/_scenarios/`` (``setup.py`` maps that package onto ``scenarios/``, so git
holds one copy), and a clone run with ``PYTHONPATH`` reads ``scenarios/`` beside
``sim/``. A path that exists always wins over a name.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from sim.scenario.codec import Problem

__all__ = ["resolve", "shipped_dir", "shipped_names", "unknown_scenario"]

_PACKAGE = Path(__file__).resolve().parents[1]


def shipped_dir() -> Path:
    """The folder of shipped scenarios: inside the installed package, else the clone's."""
    installed = _PACKAGE / "_scenarios"
    return installed if installed.is_dir() else _PACKAGE.parent / "scenarios"


def shipped_names() -> dict[str, Path]:
    """Each shipped scenario's name (its path under the folder, without ``.yaml``), sorted."""
    root = shipped_dir()
    files = sorted(root.rglob("*.yaml")) if root.is_dir() else []
    return {path.relative_to(root).with_suffix("").as_posix(): path for path in files}


def resolve(path: str | Path) -> Path:
    """``path`` itself when it exists or names no shipped scenario, else the shipped file.

    A missing path that is not a name is returned unchanged, so the reader reports
    it (with :func:`unknown_scenario`'s list of names).
    """
    given = Path(path)
    if given.exists():
        return given
    name = given.as_posix().removesuffix(".yaml")
    return shipped_names().get(name, given)


def unknown_scenario(path: str | Path) -> Problem:
    """Why ``path`` cannot be read: not found, and, if it reads as a name, the names there are.

    A path with folders of its own (``/data/x.yaml``) is simply not found; a bare
    name, or one close to a shipped name, gets "did you mean" and the list.
    """
    names = shipped_names()
    word = Path(path).as_posix().removesuffix(".yaml")
    close = difflib.get_close_matches(word, list(names), n=1, cutoff=0.6)
    if not close and Path(word).name in names:
        close = [Path(word).name]  # scenarios/smoke.yaml typed outside the clone
    folders = {Path(name).parent.as_posix() for name in names}
    if not close and Path(word).parent.as_posix() not in folders:
        return Problem("", "file not found")
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listing = ", ".join(names) or f"none found in {shipped_dir()}"
    return Problem("", f"file not found, nor a shipped scenario{hint}; shipped: {listing}")

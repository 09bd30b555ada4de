"""Folders on disk: safe names from scenario names, durable writes, stale staging.

A results or sweep folder is named after its scenario when ``--out`` is not
given, and a scenario's ``name`` is free text: :func:`slug` makes it one safe
path component. Results are written to a hidden staging folder and renamed
into place (:func:`sim.results.staging`); :func:`fsync_tree` makes the files
durable before that rename, and :func:`remove_stale_staging` removes what a
killed process left behind.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

__all__ = ["SLUG_MAX", "fsync_tree", "slug"]

SLUG_MAX = 64
"""Most characters of a name in a folder name (a path component may hold 255 bytes)."""


def slug(name: str) -> str:
    """``name`` as one safe path component: letters, digits, ``.``, ``_`` and ``-`` only.

    Separators, ``..`` and control characters become ``-`` or go, so an absolute
    name or ``../../x`` cannot place a folder outside ``results/``; a name with
    nothing left is ``scenario``.
    """
    text = unicodedata.normalize("NFKC", name)
    text = re.sub(r"[^\w.-]+", "-", text, flags=re.UNICODE)
    text = re.sub(r"-{2,}", "-", text).strip(".-_")
    return text[:SLUG_MAX].rstrip(".-_") or "scenario"


def fsync_tree(folder: Path) -> None:
    """Flush every file in ``folder`` and the folder itself to disk (before a rename)."""
    for path in sorted(folder.iterdir()):
        if path.is_file():
            _fsync(path, os.O_RDONLY)
    _fsync(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

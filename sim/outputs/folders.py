"""Folders on disk: safe names from scenario names, durable writes, stale staging.

A results or sweep folder is named after its scenario when ``--out`` is not
given, and a scenario's ``name`` is free text: :func:`slug` makes it one safe
path component. Results are written to a hidden staging folder and renamed
into place (:func:`sim.outputs.results.staging`); :func:`fsync_tree` makes the files
durable before that rename, and :func:`remove_stale_staging` removes what a
killed process left behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import unicodedata
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "CHECKSUMS",
    "SLUG_MAX",
    "fsync_tree",
    "remove_stale",
    "slug",
    "verify_checksums",
    "write_checksums",
]

CHECKSUMS = "checksums.sha256"
"""A folder's file digests, in ``sha256sum`` format (``sha256sum -c`` checks them)."""

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


def write_checksums(folder: Path, files: Mapping[str, bytes]) -> None:
    """Write :data:`CHECKSUMS` into ``folder`` for ``files`` (name → contents)."""
    lines = [
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())
    ]
    (folder / CHECKSUMS).write_text("".join(lines), encoding="utf-8")


def verify_checksums(folder: Path) -> str:
    """What is wrong with ``folder``'s files against its :data:`CHECKSUMS`; empty if nothing."""
    try:
        lines = (folder / CHECKSUMS).read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read {CHECKSUMS}: {exc}"
    for line in lines:
        digest, sep, name = line.partition("  ")
        if not sep or "/" in name or name in ("", ".", ".."):
            return f"malformed line in {CHECKSUMS}: {line!r}"
        try:
            data = (folder / name).read_bytes()
        except OSError as exc:
            return f"{name}: {exc.strerror or exc}"
        if hashlib.sha256(data).hexdigest() != digest:
            return f"{name} does not match its checksum (truncated or corrupted)"
    return "" if lines else f"{CHECKSUMS} is empty"


def fsync_tree(folder: Path, files: bool = True) -> None:
    """Flush every file in ``folder`` (unless not ``files``) and the folder itself to disk."""
    for path in sorted(folder.iterdir()) if files else ():
        if path.is_file():
            _fsync(path, os.O_RDONLY)
    _fsync(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale(parent: Path, marker: str) -> list[Path]:
    """Remove folders in ``parent`` named ``…{marker}<pid>-…`` whose process has ended.

    Staging folders and task scratch folders carry the pid of the process that
    made them, so a process killed outright (``kill -9``, out of memory) leaves
    something the next one into the same place can recognise and remove. Those
    of live processes are left alone.
    """
    removed: list[Path] = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for path in entries:
        _, sep, tail = path.name.partition(marker)
        pid = tail.split("-", 1)[0]
        if not sep or not pid.isdigit() or _alive(int(pid)) or not path.is_dir():
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True

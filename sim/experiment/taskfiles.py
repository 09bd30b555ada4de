"""A task's results folder in a sweep: its name, which files it keeps, how it is written.

A task folder is named ``variant=v000/replication=000`` below ``tasks/`` (the
hive layout, so a dataset reader sees the factors in the path). It is staged
under a hidden name and renamed whole once its files and their checksums are
on disk, so a folder with a visible name is always a finished task, whoever
wrote it: the sweep's own process, or a worker writing into a shared store.
Staging names carry the host and process id (``.replication=000.staging-HOST-PID-…``):
on a store shared by many machines, a writer removes only the leftovers of
processes of its own host that have ended, never another machine's work.
``--keep`` chooses which of the run's files stay, to spare a sweep of many
tasks thousands of files nobody reads.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from sim.outputs.folders import CHECKSUMS, fsync_tree, verify_checksums, write_checksums
from sim.outputs.results import MANIFEST, STATIONS, SUMMARY, current_umask

__all__ = [
    "KEEP",
    "KEEP_ALL",
    "TASKS",
    "intact",
    "kept",
    "remove_stale_staging",
    "task_name",
    "write_task_folder",
]

TASKS = "tasks"
"""The folder of a sweep folder (or a store) that holds the task folders."""

KEEP_ALL = "all"
KEEP = ("summary", "tables", KEEP_ALL)
"""``--keep`` choices: what a task folder keeps of the files its run wrote."""

SUMMARY_FILES = frozenset({SUMMARY, MANIFEST, STATIONS})
"""What the task's row of ``sweep.parquet`` is read from (with ``--keep summary``)."""


def task_name(variant: int, replication: int) -> str:
    """``variant=v000/replication=000``: a task's folder below ``tasks/``."""
    return f"variant=v{variant:03d}/replication={replication:03d}"


def kept(files: Mapping[str, bytes], keep: str) -> dict[str, bytes]:
    """The files a task folder keeps of its run's (``--keep``).

    ``summary``: summary.json, manifest.json, stations.parquet; ``tables``: those and
    every Parquet table; ``all``: everything.
    """
    if keep not in KEEP:
        raise ValueError(f"--keep: expected one of {', '.join(KEEP)}, got {keep!r}")
    if keep == KEEP_ALL:
        return dict(files)
    if keep == "tables":
        return {n: d for n, d in files.items() if n in SUMMARY_FILES or n.endswith(".parquet")}
    return {n: d for n, d in files.items() if n in SUMMARY_FILES}


def intact(folder: Path) -> bool:
    """Whether ``folder`` has its checksums and every file matches them."""
    return (folder / CHECKSUMS).is_file() and not verify_checksums(folder)


def write_task_folder(folder: Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` and their checksums as ``folder``, all or nothing (staged, renamed).

    An intact folder already there (the same task, written by a concurrent sweep or
    shard: the same bytes) is kept; a broken one, left by an earlier session, is replaced.
    """
    if intact(folder):
        return
    if folder.is_dir() and not folder.is_symlink():
        broken = folder.with_name(f".{folder.name}.broken-{os.getpid()}")
        folder.rename(broken)
        shutil.rmtree(broken, ignore_errors=True)
    try:
        _write_staged(folder, files)
    except OSError:
        if not intact(folder):  # not beaten to it by a concurrent writer: a failure
            raise


STAGING_MARK = ".staging-"


def _write_staged(folder: Path, files: Mapping[str, bytes]) -> None:
    if folder.exists():
        raise FileExistsError(f"results folder already exists: {folder}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(folder.parent)
    prefix = f".{folder.name}{STAGING_MARK}{platform.node()}-{os.getpid()}-"
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=folder.parent))
    try:
        work.chmod(0o777 & ~current_umask())  # colleagues on a shared store can read it
        for name, data in files.items():
            (work / name).write_bytes(data)
        write_checksums(work, files)
        fsync_tree(work)  # durable before the rename makes it visible
        work.rename(folder)
        fsync_tree(folder.parent, files=False)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def remove_stale_staging(parent: Path) -> None:
    """Remove staging folders in ``parent`` left by ended processes of this host."""
    host = platform.node()
    for path in parent.glob(f".*{STAGING_MARK}*"):
        where, _, pid = path.name.partition(STAGING_MARK)[2].rpartition("-")[0].rpartition("-")
        if where == host and pid.isdigit() and not _alive(int(pid)) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True

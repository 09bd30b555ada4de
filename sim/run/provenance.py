"""Provenance: where, when, from what and how a results folder was made, and how to redo it.

``manifest.json`` gets a ``provenance`` object (and a sweep's ``plan.json`` one
of its own, :mod:`sim.experiment.sweep_record`): the command line as run, UTC
start and end, the host, the git commit and a dirty flag of the code and of
the scenario file when they sit in a git repository, Python and the installed
version of every dependency of the project, the sha256 of the scenario file and
of every output file, and ``reproduce``, the exact command that makes the same
results again. ``manifest.json`` cannot hold its own hash, and it is the one
file of a results folder that differs between two runs of the same scenario
and seed (times, host, wall time): every other file is byte-identical.

The caller says how it was invoked with :func:`invoked` (the command line
does; a sweep passes each task's own command); a bare API call records
``command: null`` and a reproduce command that replays the manifest's
resolved scenario. Nothing here fails a run: an absent ``git``, a folder
outside any repository or a vanished scenario file is recorded as ``null``.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import hashlib
import os
import platform
import re
import shlex
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs

__all__ = [
    "Invocation",
    "current",
    "dependencies",
    "file_sha256",
    "git_state",
    "invoked",
    "provenance",
    "utc_now",
]

PROJECT = "sscard-sim"
GIT_TIMEOUT_S = 5.0
"""How long a ``git`` call may take before the commit is recorded as unknown."""
_CODE = Path(__file__).resolve().parents[1]
"""The ``sim`` package folder: its git repository is the code's."""
NOTE = (
    "manifest.json cannot hash itself; it is the one file of a results folder that "
    "differs between runs of the same scenario and seed (times, host, wall time)"
)


@attrs.frozen
class Invocation:
    """How a run or sweep was asked for: the command as run, its scenario file, its redo."""

    command: tuple[str, ...] | None
    """The command line as run (program first), or None for an API call."""
    reproduce: str
    """A shell command that makes the same results again, run from ``cwd``."""
    cwd: str
    scenario_file: str | None = None
    scenario_sha256: str | None = None

    @classmethod
    def of_command(
        cls, command: Sequence[str], redo: Sequence[str], scenario: str | Path | None
    ) -> Invocation:
        """The invocation of a command line; ``redo`` is its arguments after ``python -m sim``."""
        path, digest = scenario_file(scenario)
        reproduce = shlex.join(["python", "-m", "sim", *redo])
        return cls(tuple(command), reproduce, os.getcwd(), path, digest)


_CURRENT: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar(
    "sscard_invocation", default=None
)


@contextlib.contextmanager
def invoked(invocation: Invocation | None) -> Iterator[None]:
    """Runs inside this block record ``invocation`` in their manifests."""
    token = _CURRENT.set(invocation)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current() -> Invocation | None:
    """The invocation set by the innermost :func:`invoked` block (None outside any)."""
    return _CURRENT.get()


def utc_now() -> str:
    """The current UTC time, ISO 8601 with microseconds (``2026-12-03T17:10:00.123456Z``)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in blocks (a transactions file may be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def scenario_file(scenario: str | Path | None) -> tuple[str | None, str | None]:
    """The scenario file a path or shipped name resolves to, and its sha256 (None if unread)."""
    if scenario is None:
        return None, None
    from sim.scenario import shipped
    from sim.scenario.yaml_text import MAX_BYTES

    path = shipped.resolve(scenario)
    try:  # a regular file no larger than a scenario may be (not /dev/zero, not a pipe)
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return str(path), None
        return str(path), file_sha256(path)
    except OSError:
        return str(path), None


def git_state(path: Path) -> dict[str, Any] | None:
    """The commit checked out where ``path`` lies and whether tracked files differ from it.

    None when ``git`` is absent, slow, or ``path`` is outside any repository.
    """
    folder = path if path.is_dir() else path.parent
    head = _git(folder, "rev-parse", "HEAD", "--show-toplevel")
    if head is None or len(head.splitlines()) != 2:
        return None
    commit, root = head.splitlines()
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status), "root": root}


def _scenario_git(path: str | None, code: dict[str, Any] | None) -> dict[str, Any] | None:
    """The scenario file's repository: the code's when the file lies in it (no second look)."""
    if path is None:
        return None
    if code is not None and code["root"] and Path(path).resolve().is_relative_to(code["root"]):
        return code
    return git_state(Path(path))


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.cache
def dependencies() -> dict[str, str | None]:
    """Installed version of each of the project's requirements (None: not installed).

    The requirements come from the installed package's metadata, or, in a clone
    where the package is not installed, from ``pyproject.toml``; the optional
    extras are listed when installed. Read once per process (a sweep's tasks
    would otherwise scan the installed packages each time).
    """
    required, optional = _requirements()
    out: dict[str, str | None] = {}
    for name in sorted({*required, *optional}, key=str.lower):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name in required:
                out[name] = None
    return out


def _requirements() -> tuple[set[str], set[str]]:
    """Names of the main requirements and of the optional extras' ones."""
    try:
        listed = metadata.requires(PROJECT) or []
    except metadata.PackageNotFoundError:
        listed = _pyproject_requirements()
    required: set[str] = set()
    optional: set[str] = set()
    for spec in listed:
        name = _name(spec)
        (optional if "extra ==" in spec else required).add(name)
    return required, optional - required


def _pyproject() -> dict[str, Any]:
    """The ``[project]`` table of the clone's ``pyproject.toml`` (empty if there is none)."""
    path = _CODE.parent / "pyproject.toml"
    try:
        project = tomllib.loads(path.read_text("utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    return project if isinstance(project, dict) else {}


def _pyproject_requirements() -> list[str]:
    project = _pyproject()
    listed = list(project.get("dependencies", []))
    for extra, specs in project.get("optional-dependencies", {}).items():
        listed += [f'{spec}; extra == "{extra}"' for spec in specs]
    return listed


def _name(spec: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    return match.group(1) if match else spec.strip()


def replay_command(manifest: Path) -> str:
    """A command that reruns the resolved scenario kept in ``manifest`` (seed included)."""
    code = (
        "import json, sys; "
        "json.dump(json.load(open(sys.argv[1]))['scenario'], open('scenario.json', 'w'))"
    )
    extract = shlex.join(["python", "-c", code, str(manifest)])
    return f"{extract} && python -m sim run scenario.json"


def provenance(
    started_utc: str,
    invocation: Invocation | None,
    outputs: Mapping[str, Path],
    replay: str,
) -> dict[str, Any]:
    """The ``provenance`` object of a results folder or sweep.

    Args:
        started_utc: When the run or sweep session started (:func:`utc_now`).
        invocation: How it was asked for (None: an API call without :func:`invoked`).
        outputs: The files to hash, by the name to record them under.
        replay: The reproduce command when ``invocation`` gives none.
    """
    scenario_path = invocation.scenario_file if invocation is not None else None
    code = git_state(_CODE)
    git = {"code": code, "scenario": _scenario_git(scenario_path, code)}
    return {
        "command": list(invocation.command) if invocation and invocation.command else None,
        "started_utc": started_utc,
        "finished_utc": utc_now(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "package": {"name": PROJECT, "version": _version()},
        "dependencies": dependencies(),
        "git": git,
        "scenario_file": None
        if scenario_path is None
        else {"path": scenario_path, "sha256": invocation.scenario_sha256 if invocation else None},
        "outputs_sha256": {name: file_sha256(outputs[name]) for name in sorted(outputs)},
        "reproduce": {
            "cwd": invocation.cwd if invocation is not None else os.getcwd(),
            "command": invocation.reproduce if invocation is not None else replay,
            "code": _checkout(git["code"]),
        },
        "note": NOTE,
    }


def _checkout(state: dict[str, Any] | None) -> str:
    """What code to run the command with: a commit, or the package version outside git."""
    if state is None:
        return f"{PROJECT} {_version()} (not run from a git repository)"
    dirty = " plus the uncommitted changes that were in the tree" if state["dirty"] else ""
    return f"git checkout {state['commit']}{dirty}"


def _version() -> str:
    try:
        return metadata.version(PROJECT)
    except metadata.PackageNotFoundError:
        return str(_pyproject().get("version", "unknown"))

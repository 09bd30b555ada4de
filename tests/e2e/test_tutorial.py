"""docs/tutorial.md as a new user follows it: every command run, its shown output found.

The ``yaml`` block is written to ``delta.yaml`` in a scratch folder; each ``$ ``
line of the ``console`` blocks runs there (``sscard-sim`` as ``python -m sim``, on
a 100-column terminal) and must exit 0; each output line shown under it must be
a line of what it printed (``…`` matches anything); the ``python`` block runs last.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

TUTORIAL = ROOT / "docs" / "tutorial.md"
_BLOCK = re.compile(r"^```(yaml|console|python)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _steps(console: str) -> list[tuple[str, list[str]]]:
    """Each command of a console block with the output lines shown under it."""
    steps: list[tuple[str, list[str]]] = []
    for line in console.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif line.strip():
            steps[-1][1].append(line.rstrip())
    return steps


def _pattern(shown: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in shown.split("…")) + "$")


def test_every_tutorial_command_runs_and_prints_what_is_shown(tmp_path: Path) -> None:
    """The tutorial's scenario validates, and each command prints the lines it shows."""
    blocks = _BLOCK.findall(TUTORIAL.read_text(encoding="utf-8"))
    (yaml_text,) = [body for kind, body in blocks if kind == "yaml"]
    (tmp_path / "delta.yaml").write_text(yaml_text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    commands = [step for kind, body in blocks if kind == "console" for step in _steps(body)]
    assert len(commands) >= 5
    for command, shown in commands:
        argv = shlex.split(command)
        assert argv[0] == "sscard-sim", command
        done = subprocess.run([sys.executable, "-m", "sim", *argv[1:]], capture_output=True,
                              text=True, cwd=tmp_path, env=env, timeout=300)  # fmt: skip
        assert done.returncode == 0, f"{command}\n{done.stderr}"
        printed = [line.rstrip() for line in (done.stdout + done.stderr).splitlines()]
        missing = [s for s in shown if not any(_pattern(s).match(p) for p in printed)]
        assert missing == [], f"{command}: not printed: {missing}\n{done.stdout}"
    (code,) = [body for kind, body in blocks if kind == "python"]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "medical_outpatient" in done.stdout and (tmp_path / "latency.png").stat().st_size > 0

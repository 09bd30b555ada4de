"""Every shipped scenario validates and runs on a short horizon."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from sim import load_scenario, run_once
from tests.conftest import SCENARIOS
from tests.e2e.test_cli import sim

ALL = sorted(SCENARIOS.rglob("*.yaml"))


def test_scenarios_are_shipped() -> None:
    """The baseline, smoke, payday and library interconnection scenarios exist."""
    names = {p.name for p in ALL}
    assert {"baseline_weekday.yaml", "smoke.yaml", "pension_payday.yaml",
            "chengdu_chongqing_libraries.yaml"} <= names  # fmt: skip


def test_all_scenarios_validate_from_the_command_line() -> None:
    """`validate` accepts every file in scenarios/ in one call."""
    done = sim("validate", *map(str, ALL))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(": ok") == len(ALL)


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_scenario_runs_on_a_short_horizon(path: Path, tmp_path: Path) -> None:
    """Each scenario runs 40 simulated minutes at a small scale and writes its summary."""
    scenario = load_scenario(path, ["horizon=40min", "warmup=0s"])
    scenario = attrs.evolve(scenario, scale=min(scenario.scale, 1e-3))
    result = run_once(scenario, tmp_path / "out")
    assert result.manifest["events"] > 0  # a quiet night may hold no transaction at all
    assert (tmp_path / "out" / "summary.json").exists()

"""A fault's ``at``: hours after the start or a local date-time, never an ambiguous clock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.scenario import parse_scenario
from sim.scenario.fault_times import fault_warnings
from tests.conftest import ROOT, SCENARIOS
from tests.unit.test_scenario import MINIMAL, problems_of


@pytest.fixture
def raw() -> dict[str, Any]:
    """The minimal scenario (start 2024-03-12T00:00+08:00, horizon 1 h, no transit)."""
    data: dict[str, Any] = yaml.safe_load(
        MINIMAL.replace("start: 2024-03-12T00:00:00", "start: 2024-03-12T06:00:00")
    )
    data["horizon"] = "1d"
    return data  # fmt: skip


def _outage(raw: dict[str, Any], at: Any) -> dict[str, Any]:
    raw["faults"] = {"outages": [{"node": "national", "at": at, "duration": "1h"}]}
    return raw


def test_a_local_date_time_is_the_time_after_the_start(raw: dict[str, Any]) -> None:
    """2024-03-12T10:00 in a run starting at 06:00 (+08:00) is 4 h in; an offset is honoured."""
    scenario = parse_scenario(_outage(raw, "2024-03-12T10:00"))
    assert 4 * 3600.0 == float(scenario.faults.outages[0].at)
    scenario = parse_scenario(_outage(raw, "2024-03-12T10:00:00+09:00"))
    assert 3 * 3600.0 == float(scenario.faults.outages[0].at)
    assert 10 * 3600.0 == float(parse_scenario(_outage(raw, "10h")).faults.outages[0].at)


def test_a_clock_time_is_refused_as_ambiguous(raw: dict[str, Any]) -> None:
    """'10:00' could mean 10 h in or 10:00 local: the message offers both spellings."""
    assert [("faults.outages[0].at", "'10:00' is ambiguous: write '10h' for 10 h after the "
             "start, or a local date-time such as '2024-03-12T10:00'")] == problems_of(
        _outage(raw, "10:00"))  # fmt: skip


def test_a_date_time_before_the_start_is_one_problem(raw: dict[str, Any]) -> None:
    """One message at the key, not a second one from the duration reader."""
    [(path, message)] = problems_of(_outage(raw, "2024-03-11T10:00"))
    assert "faults.outages[0].at" == path and "is before the start" in message


def test_a_fault_after_the_horizon_is_a_warning(raw: dict[str, Any], tmp_path: Path) -> None:
    """It validates (exit 0) but `validate` warns that it never happens."""
    scenario = parse_scenario(_outage(raw, "30h"))
    [warning] = fault_warnings(scenario)
    assert "faults.outages[0].at" == warning.path and "it never happens" in warning.message
    path = tmp_path / "late.yaml"
    path.write_text(yaml.safe_dump(_outage(raw, "30h")))
    done = subprocess.run([sys.executable, "-m", "sim", "validate", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (f"{path}: warning: faults.outages[0].at: begins 30 h after the start, at or after "
            "the horizon (24 h): it never happens") in done.stderr  # fmt: skip


def test_lower_case_province_ids_get_a_suggestion_and_nothing_else(raw: dict[str, Any]) -> None:
    """region: [sh, ah] names both with "did you mean", without false single-province errors."""
    raw["region"] = ["sh", "ah"]
    raw["services"]["pharmacy"]["cross_province_share"] = 0.05
    found = problems_of(raw)
    assert ["region[0]", "region[1]"] == [path for path, _ in found]
    assert found[0][1].startswith("unknown province 'sh' (did you mean 'SH'?) (known: AH,")
    _outage(raw, "1h")["faults"]["outages"][0]["node"] = "gd"
    raw["region"] = None
    assert ("faults.outages[0].node", "unknown node 'gd' (did you mean 'GD'?) (known: national, "
            "card_platform, a province id)") in problems_of(raw)  # fmt: skip


def test_validating_a_folder_says_so() -> None:
    """A folder is not a scenario: a sentence saying what to write instead, no "[Errno 21]"."""
    done = subprocess.run([sys.executable, "-m", "sim", "validate", str(SCENARIOS)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert "Errno" not in done.stderr
    assert f"is a folder, not a scenario file (name its files: {SCENARIOS}/*.yaml)" in done.stderr

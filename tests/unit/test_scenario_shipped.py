"""Shipped scenarios found by name (``sim.scenario.shipped``), from any folder."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
import sim.validation.runner
from sim.cli.main import main
from sim.experiment import Plan
from sim.scenario import ScenarioError
from sim.scenario.shipped import resolve, shipped_dir, shipped_names
from tests.conftest import SCENARIOS


def test_every_scenario_file_has_a_name() -> None:
    """From a clone, the shipped folder is the repository's scenarios/, every file in it."""
    assert SCENARIOS == shipped_dir()
    names = shipped_names()
    assert {"baseline_weekday", "smoke", "validation/mm1"} <= set(names)
    assert sorted(SCENARIOS.rglob("*.yaml")) == sorted(names.values())


def test_the_api_loads_a_name_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sim.load_scenario("smoke")` and `Plan.load("smoke")` work outside the repository."""
    monkeypatch.chdir(tmp_path)
    assert "smoke" == sim.load_scenario("smoke").name
    assert "smoke" == sim.load_scenario("smoke.yaml").name
    assert "mm1" == sim.load_scenario("validation/mm1").name
    assert "smoke" == Plan.load("smoke").base.name


def test_an_existing_path_wins_over_a_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file in the current folder called like a shipped scenario is the one read."""
    monkeypatch.chdir(tmp_path)
    text = (SCENARIOS / "smoke.yaml").read_text().replace("name: smoke", "name: mine")
    Path("smoke.yaml").write_text(text)
    assert Path("smoke.yaml") == resolve("smoke.yaml")
    assert "mine" == sim.load_scenario("smoke.yaml").name
    assert "smoke" == sim.load_scenario("smoke").name  # no file "smoke": the shipped one


def test_an_unknown_name_lists_the_shipped_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A misspelt name gets "did you mean" and the list; a path elsewhere is not found."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as info:
        sim.load_scenario("baseline_wekday")
    message = str(info.value.problems[0])
    assert message.startswith(
        "file not found, nor a shipped scenario (did you mean 'baseline_weekday'?)"
    )
    assert "shipped: baseline_weekday, " in message and "validation/mm1" in message
    with pytest.raises(ScenarioError, match="did you mean 'smoke'"):
        Plan.load("scenarios/smoke.yaml")  # the repository's path, typed outside it
    with pytest.raises(ScenarioError) as info:
        sim.load_scenario(tmp_path / "data" / "mine.yaml")
    assert "file not found" == str(info.value.problems[0])


def test_validate_model_defaults_to_the_shipped_cases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`validate-model` with no scenario reads the shipped validation cases, not ./scenarios."""
    monkeypatch.chdir(tmp_path)
    seen: list[str] = []

    def validate(scenarios: list[sim.Scenario], *args: object, **kwargs: object) -> list[object]:
        seen.extend(s.name for s in scenarios)
        return []

    monkeypatch.setattr(sim.validation.runner, "validate", validate)
    assert 0 == main(["validate-model", "--jobs", "1"])
    expected = [
        sim.load_scenario(p).name for p in sorted((SCENARIOS / "validation").glob("*.yaml"))
    ]
    assert expected == seen and len(seen) >= 9


def test_scenarios_command_lists_the_names(capsys: pytest.CaptureFixture[str]) -> None:
    """`sscard-sim scenarios` prints one name a line, the folder on stderr."""
    assert 0 == main(["scenarios"])
    out, err = capsys.readouterr()
    assert list(shipped_names()) == out.splitlines()
    assert str(shipped_dir()) in err

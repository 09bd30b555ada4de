"""A family added in its own module plus one registry entry reaches every output.

The card desk (``sim/services/card_desk.py``, its section in
``sim/scenario/card_desk.py`` and one entry in ``FAMILIES``) is edited nowhere
else: these tests read it back from the transactions, the stations, the summary,
the ledger, the guard, the fault targets and the console.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import attrs
import pyarrow.parquet as pq
import pytest

from sim import load_scenario
from sim.run.guard import estimate
from sim.scenario import ScenarioError
from sim.scenario.families import FAMILIES, SERVICES, family
from sim.scenario.schema import ServicesSpec
from tests.conftest import SCENARIOS
from tests.e2e.test_cli import sim

SCENARIO = SCENARIOS / "card_replacement.yaml"
SHORT = ("--set", "horizon=12h")
"""Midnight to noon: the desks' first three opening hours."""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The card-replacement scenario's morning, run from the command line."""
    out = tmp_path_factory.mktemp("card_desk") / "out"
    done = sim("run", str(SCENARIO), "--out", str(out), *SHORT)
    assert done.returncode == 0, done.stderr
    return out, done.stdout


def test_the_registry_is_the_one_list_of_families() -> None:
    """Schema fields, labels and runtime modules all come from FAMILIES, in its order."""
    assert [f.name for f in attrs.fields(ServicesSpec)] == [fam.key for fam in FAMILIES]
    assert SERVICES == tuple(lab.name for fam in FAMILIES for lab in fam.labels)
    # Files written before a family was added keep their codes: new labels go last.
    first = ("medical_outpatient", "medical_inpatient", "pharmacy", "library", "transit",
             "pension_credit", "benefit_credit", "bank_withdrawal")  # fmt: skip
    assert SERVICES[: len(first)] == first
    for fam in FAMILIES:
        module = importlib.import_module(fam.runtime)
        assert callable(module.build) and callable(module.expected_load), fam.key


def test_the_family_runs_end_to_end_into_every_output(run: tuple[Path, str]) -> None:
    """Its transactions, its desks' stations, its figures and its events are all written."""
    out, _ = run
    txns = pq.read_table(out / "transactions.parquet").to_pydict()
    assert txns["txn_id"], "no case arrived"
    assert set(txns["service"]) == {"card_replacement"}
    assert set(txns["outcome"]) == {"settled"}
    assert all(s < e for s, e in zip(txns["start_s"], txns["end_s"], strict=True))
    stations = pq.read_table(out / "stations.parquet").to_pydict()
    desks = [n for n in stations["station"] if n.startswith("point:card_desk:")]
    assert len(desks) == 31
    summary = json.loads((out / "summary.json").read_text())
    figures = summary["figures"]["card_desk"]
    assert figures["cases"] == len(txns["txn_id"])
    assert figures["issued_on_the_spot"] + figures["applications"] == figures["cases"]
    assert 0 < figures["issued_on_the_spot"] < figures["cases"]  # instant_share 0.8
    manifest = json.loads((out / "manifest.json").read_text())
    events = manifest["events_by_service"]["card_replacement"]
    assert events["transactions"] == figures["cases"] and events["events"] > 2 * figures["cases"]
    ledger = pq.read_table(out / "ledger.parquet")
    assert ledger.num_rows == 0 or "card_replacement" not in ledger["service"].to_pylist()


def test_the_console_shows_the_family(run: tuple[Path, str]) -> None:
    """A row in both tables, what its latency measures, and its own headline line."""
    out, stdout = run
    cases = json.loads((out / "summary.json").read_text())["figures"]["card_desk"]["cases"]
    rows = [
        line.split() for line in stdout.splitlines() if line.split()[:1] == ["card_replacement"]
    ]
    assert len(rows) == 2 and rows[0][1] == f"{cases:,}"
    words = " ".join(stdout.split())  # the console wraps to the terminal's width
    assert "request → checked by home" in words
    assert f"card desks: {cases:,} replacements" in words


def test_the_guard_sizes_the_family() -> None:
    """The resource guard counts a day's cases: the daily rate, whatever the opening hours."""
    cases = estimate(load_scenario(SCENARIO)).transactions
    assert cases == pytest.approx(1.38e9 * 1e-3 * 0.02 / 365, rel=0.01)


def test_faults_reach_the_family(tmp_path: Path) -> None:
    """A provincial platform down all morning sends that province's holders home unchecked."""
    out = tmp_path / "out"
    done = sim("run", str(SCENARIO), "--out", str(out), *SHORT, "--set",
               "faults.outages=[{node: GD, at: 0s, duration: 12h}]")  # fmt: skip
    assert done.returncode == 0, done.stderr
    txns = pq.read_table(out / "transactions.parquet").to_pydict()
    gd = [o for o, s in zip(txns["outcome"], txns["site_province"], strict=True) if s == "GD"]
    others = [o for o, s in zip(txns["outcome"], txns["site_province"], strict=True) if s != "GD"]
    assert gd and set(gd) == {"fallback"} and set(others) == {"settled"}
    assert "sent home unchecked" in " ".join(done.stdout.split())


def test_only_families_named_in_the_registry_are_accepted() -> None:
    """An unknown service key is refused with the registry's names."""
    with pytest.raises(ScenarioError, match="card_desk"):
        load_scenario(SCENARIO, ["services.card_desks={}"])
    assert family("card_desk").labels[0].money is None

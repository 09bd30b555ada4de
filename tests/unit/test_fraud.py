"""Labelled fraud: every kind is drawn, labelled, and meets the card checks as it would.

One module-scoped run of the smoke scenario (one hour, one holder in ten
thousand) with every kind at a high rate; the tests read its transactions back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from sim.run.model import build, simulate
from sim.scenario import ScenarioError
from sim.world.cards import CardBook
from sim.world.domain import CardState
from tests.unit.test_cards import CARDS, smoke

FRAUD = {
    "stolen": {"share": 0.5, "uses_per_day": 5, "gives_up_after": "3d"},
    "cloned": {"rate": {"per_holder_per_year": 0.05}, "uses_per_day": 4},
    "replayed_qr": 0.05,
    "replay_within": "1min",
    "lent": 0.05,
    "duplicate_bill": 0.05,
    "duplicate_after": "10min",
}
"""Every kind, often enough to be seen in an hour."""

Rows = dict[str, list[Any]]


@pytest.fixture(scope="module")
def fraud_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Rows, CardBook]:
    """The smoke scenario's hour with lost cards and every kind of fraud."""
    model = build(smoke(cards=CARDS, fraud=FRAUD), tmp_path_factory.mktemp("fraud"))
    simulate(model)
    assert model.cards is not None
    RESIDENCE.update(enumerate(model.population.residence[:].tolist()))
    IDS.extend(model.provinces.ids)
    return pq.read_table(model.workdir / "transactions.parquet").to_pydict(), model.cards


RESIDENCE: dict[int, int] = {}
"""Each holder's province of residence in the run (index), filled by the fixture."""
IDS: list[str] = []


def rows(txns: Rows, kind: str) -> list[int]:
    """Indices of the rows of one true kind."""
    return [i for i, f in enumerate(txns["fraud"]) if f == kind]


def test_every_kind_is_drawn_and_ids_stay_contiguous(fraud_run: tuple[Rows, CardBook]) -> None:
    """Each kind labels some rows; genuine rows are ``none``; ids run 0, 1, 2, ..."""
    txns, _ = fraud_run
    kinds = set(txns["fraud"])
    assert kinds == {"none", "stolen", "cloned", "replayed_qr", "lent", "duplicate_bill"}
    assert txns["txn_id"] == list(range(len(txns["txn_id"])))


def test_a_thief_is_served_until_the_report_and_refused_after(
    fraud_run: tuple[Rows, CardBook],
) -> None:
    """A stolen card is active before the report, frozen after it, dead once replaced."""
    txns, cards = fraud_run
    seen = {"active": 0, "frozen": 0, "replaced": 0}
    for i in rows(txns, "stolen"):
        assert (txns["service"][i], txns["card_kind"][i]) == ("pharmacy", "chip")
        start = cards.old_card(txns["holder_id"][i], txns["arrival_s"][i])
        end = cards.old_card(txns["holder_id"][i], txns["end_s"][i])
        assert txns["card_state"][i] == start.name.lower()
        if start is not end:
            continue  # reported or replaced while at the counter
        seen[start.name.lower()] += 1
        if start is CardState.ACTIVE:
            assert not txns["reason"][i].startswith("card_")
        else:
            assert (txns["outcome"][i], txns["reason"][i]) == (
                "declined", f"card_{start.name.lower()}",
            )  # fmt: skip
    assert min(seen.values()) > 0, seen


def test_a_clone_is_used_in_another_province(fraud_run: tuple[Rows, CardBook]) -> None:
    """Clones are chips at the fraud's service, away from where the holder lives."""
    txns, _ = fraud_run
    clones = rows(txns, "cloned")
    assert clones
    assert {txns["card_kind"][i] for i in clones} == {"chip"}
    assert {txns["service"][i] for i in clones} == {"pharmacy"}
    for i in clones:
        assert txns["site_province"][i] != IDS[RESIDENCE[txns["holder_id"][i]]]


def test_a_replay_follows_a_genuine_qr_use_within_its_validity(
    fraud_run: tuple[Rows, CardBook],
) -> None:
    """Every replayed QR code copies an e-card visit of the same holder, service and site."""
    txns, _ = fraud_run
    genuine = {
        (txns["holder_id"][i], txns["service"][i], txns["site_province"][i]):
        txns["arrival_s"][i] for i in rows(txns, "none")
    }  # fmt: skip
    replays = rows(txns, "replayed_qr")
    assert replays
    for i in replays:
        key = (txns["holder_id"][i], txns["service"][i], txns["site_province"][i])
        assert txns["card_kind"][i] == "ecard"
        assert 0 <= txns["arrival_s"][i] - genuine[key] <= 60.0


def test_a_duplicate_bill_repeats_a_bill_at_the_same_point(
    fraud_run: tuple[Rows, CardBook],
) -> None:
    """A duplicate has the holder, point, service and amount of a bill ten minutes before."""
    txns, _ = fraud_run
    originals = [i for i, f in enumerate(txns["fraud"]) if f != "duplicate_bill"]
    bills = {
        (txns["holder_id"][i], txns["point"][i], txns["service"][i], txns["amount_fen"][i]):
        txns["arrival_s"][i] for i in originals
    }  # fmt: skip
    duplicates = rows(txns, "duplicate_bill")
    assert duplicates
    for i in duplicates:
        key = (txns["holder_id"][i], txns["point"][i], txns["service"][i], txns["amount_fen"][i])
        assert txns["arrival_s"][i] - bills[key] == pytest.approx(600.0)


def test_cards_are_lent_only_at_outpatient_desks_and_pharmacies(
    fraud_run: tuple[Rows, CardBook],
) -> None:
    """The lent label falls on genuine visits of those two services only."""
    txns, _ = fraud_run
    lent = rows(txns, "lent")
    assert lent
    assert {txns["service"][i] for i in lent} <= {"medical_outpatient", "pharmacy"}


def test_the_section_is_checked_against_the_scenario() -> None:
    """Fraud needs a medical service to happen at, and stolen cards need lost ones."""
    with pytest.raises(ScenarioError, match=r"fraud\.service.*library"):
        smoke(fraud={"service": "library", "lent": 0.1})
    with pytest.raises(ScenarioError, match=r"fraud\.stolen\.share.*cards\.loss"):
        smoke(fraud={"stolen": {"share": 0.5}})


def test_zero_rates_change_nothing(tmp_path: Path) -> None:
    """A ``fraud`` section whose rates are all zero gives the very files of a run without it."""
    files = []
    for k, extra in enumerate(({}, {"fraud": {"service": "pharmacy"}})):
        (tmp_path / str(k)).mkdir()
        model = build(smoke(**extra), tmp_path / str(k))
        simulate(model)
        files.append((tmp_path / str(k) / "transactions.parquet").read_bytes())
    assert files[0] == files[1]

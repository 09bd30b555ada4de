"""Card states: the book of changed cards, and the platforms refusing them online.

Unit tests read :class:`sim.world.cards.CardBook` directly; the run tests build
the smoke scenario with a ``cards`` section (one hour, one holder in ten
thousand) and read the platforms' answers back from ``transactions.parquet``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from sim.run.model import build, simulate
from sim.scenario import Scenario, ScenarioError, parse_scenario
from sim.scenario.cards import CardsSpec
from sim.scenario.loader import read_yaml
from sim.scenario.primitives import Constant, PerHolderPerYear
from sim.scenario.units_types import Quantity
from sim.world.cards import HISTORY_S, CardBook, build_cards
from sim.world.domain import CardKind, CardState
from tests.conftest import SCENARIOS

CHIP, ECARD = int(CardKind.CHIP), int(CardKind.ECARD)
CARDS = {
    "loss": {"per_holder_per_year": 5.0},
    "report_delay": {"constant": "1h"},
    "desk_delay": {"exponential": {"mean": "10d"}},
    "ecard_delay": {"exponential": {"mean": "10d"}},
}
"""Losses often enough that about one holder in ten has a frozen card."""
LIBRARY = {
    "rate": {"per_holder_per_year": 20},
    "opening_hours": {"opens": "00:00", "closes": "23:59"},
    "libraries": {"total": 3000, "counter": {"capacity": 2, "service_time": {"constant": "1min"}},
                  "self_service": {"capacity": 2, "service_time": {"constant": "30s"}}},
}  # fmt: skip


def book(**spec: Any) -> CardBook:
    """A book of one loss (holder 7) and one expiry (holder 9), at known times."""
    return CardBook(
        CardsSpec(**spec),
        holder=np.array([7, 9]),
        kind=np.array([0, 1], dtype=np.uint8),
        changed_s=np.array([100.0, 200.0]),
        reported_s=np.array([150.0, 200.0]),
        ecard_s=np.array([400.0, 200.0]),
        desk_s=np.array([500.0, 300.0]),
        renewed_s=np.array([600.0, 300.0]),
    )


def smoke(**sections: Any) -> Scenario:
    """The smoke scenario cut to one hour, with extra top-level or service sections."""
    raw = read_yaml((SCENARIOS / "smoke.yaml").read_text(encoding="utf-8"), "smoke")
    raw["horizon"], raw["warmup"] = "1h", "0s"
    raw["services"].update(sections.pop("services", {}))
    raw.update(sections)
    scenario: Scenario = parse_scenario(raw, "smoke")
    return scenario


def test_a_lost_card_is_active_until_reported_then_frozen_until_renewed() -> None:
    """Physical card: active before the report, frozen until the new card, active after."""
    cards = book()
    assert [cards.state(7, CHIP, t) for t in (120.0, 150.0, 599.0, 600.0)] == [
        CardState.ACTIVE, CardState.FROZEN, CardState.FROZEN, CardState.ACTIVE,
    ]  # fmt: skip
    assert cards.old_card(7, 600.0) is CardState.REPLACED
    assert cards.state(8, CHIP, 300.0) is CardState.ACTIVE  # a holder not in the book


def test_the_ecard_is_frozen_with_the_card_only_if_the_scenario_says_so() -> None:
    """``freeze_ecard``: the e-card is frozen from the report until re-issued online."""
    assert book().state(7, ECARD, 200.0) is CardState.FROZEN
    assert book().state(7, ECARD, 400.0) is CardState.ACTIVE
    assert book(freeze_ecard=False).state(7, ECARD, 200.0) is CardState.ACTIVE


def test_an_expired_card_is_refused_until_renewed_and_the_ecard_still_works() -> None:
    """Expiry touches the physical card only."""
    cards = book()
    assert cards.state(9, CHIP, 250.0) is CardState.EXPIRED
    assert cards.state(9, ECARD, 250.0) is CardState.ACTIVE
    assert cards.state(9, CHIP, 300.0) is CardState.ACTIVE


def test_a_desk_renews_only_a_holder_waiting_for_a_card() -> None:
    """With a simulated desk the new card works from the service; other holders are ignored."""
    cards = book()
    cards.renewed_s[0] = cards._renewed[0] = float("inf")
    cards.renew(7, 520.0)
    cards.renew(8, 520.0)  # not in the book: nothing happens
    assert cards.state(7, CHIP, 519.0) is CardState.FROZEN
    assert cards.state(7, CHIP, 520.0) is CardState.ACTIVE
    assert len(cards) == 2


def test_the_batch_states_equal_the_single_lookups() -> None:
    """``states`` (the arrival batch's column) agrees with ``state`` row by row."""
    cards = book()
    holder = np.array([7, 7, 9, 3, 7])
    card = np.array([CHIP, ECARD, CHIP, CHIP, CHIP], dtype=np.uint8)
    time_s = np.array([160.0, 160.0, 250.0, 250.0, 700.0])
    expected = [
        cards.state(int(h), int(c), float(t)) for h, c, t in zip(holder, card, time_s, strict=True)
    ]
    assert cards.states(holder, card, time_s).tolist() == expected


def test_only_holders_whose_card_changes_cost_memory() -> None:
    """The book's rows are the holders with an event: about rate × holders × span."""
    spec = CardsSpec(loss=PerHolderPerYear(0.5), report_delay=Constant(Quantity(60.0)))
    holders, horizon = 1_000_000, 86400.0
    cards = build_cards(spec, holders, horizon, np.random.default_rng(1), False)
    expected = holders * 0.5 / 365 * (HISTORY_S + horizon) / 86400
    assert abs(len(cards) - expected) < 5 * np.sqrt(expected)
    assert cards.nbytes < 200 * len(cards)
    assert np.all(np.diff(cards.holder) > 0)  # sorted, one row per holder
    zero = build_cards(CardsSpec(), holders, horizon, np.random.default_rng(1), False)
    assert len(zero) == 0


def test_the_section_is_validated_with_the_key_named() -> None:
    """A negative rate or an unknown key is refused, naming ``cards.<key>``."""
    with pytest.raises(ScenarioError, match=r"cards\.loss"):
        smoke(cards={"loss": {"per_holder_per_year": -1}})
    with pytest.raises(ScenarioError, match=r"cards\.lost"):
        smoke(cards={"lost": {"per_holder_per_year": 1}})


@pytest.fixture(scope="module")
def frozen_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], CardBook]:
    """One hour of the smoke scenario with libraries, many lost cards and no desk."""
    scenario = smoke(cards=CARDS, services={"library": LIBRARY})
    model = build(scenario, tmp_path_factory.mktemp("cards"))
    simulate(model)
    assert model.cards is not None
    return pq.read_table(model.workdir / "transactions.parquet").to_pydict(), model.cards


def test_a_frozen_card_is_refused_online_at_once(
    frozen_run: tuple[dict[str, Any], CardBook],
) -> None:
    """Settlement, library verification and the e-card check all refuse a frozen card.

    Every medical or library use of a card frozen from its arrival to its end is
    declined ``card_frozen``; a card active throughout is never refused for its state.
    """
    txns, cards = frozen_run
    kinds = {"chip": CHIP, "ecard": ECARD}
    refused = {"frozen": 0, "active": 0}
    for i, service in enumerate(txns["service"]):
        h, card = txns["holder_id"][i], kinds[txns["card_kind"][i]]
        at_start = cards.state(h, card, txns["arrival_s"][i])
        at_end = cards.state(h, card, txns["end_s"][i])
        assert txns["card_state"][i] == at_start.name.lower()
        if at_start is at_end is CardState.FROZEN:
            assert (txns["outcome"][i], txns["reason"][i]) == ("declined", "card_frozen"), i
            refused["frozen"] += 1
        elif at_start is at_end is CardState.ACTIVE:
            assert not txns["reason"][i].startswith("card_"), (i, service)
            refused["active"] += 1
    assert refused["frozen"] >= 10
    frozen_services = {
        (s, k) for s, k, r in zip(txns["service"], txns["card_kind"], txns["reason"], strict=True)
        if r == "card_frozen"
    }  # fmt: skip
    assert {("library", "chip"), ("library", "ecard"), ("pharmacy", "ecard")} <= frozen_services


def test_a_desk_issues_the_new_card_and_it_works_from_then(tmp_path: Path) -> None:
    """With a simulated desk, holders due there are served and their card works again."""
    desk = {
        "rate": {"per_holder_per_year": 0.0},
        "opening_hours": {"opens": "00:00", "closes": "23:59"},
        "desks": {"total": 60000, "capacity": 4, "service_time": {"constant": "5min"}},
    }
    cards = {**CARDS, "desk_delay": {"exponential": {"mean": "1h"}}}
    model = build(smoke(cards=cards, services={"card_desk": desk}), tmp_path)
    result = simulate(model)
    txns = pq.read_table(model.workdir / "transactions.parquet").to_pydict()
    visits = [i for i, s in enumerate(txns["service"]) if s == "card_replacement"]
    assert visits, "nobody came to a desk"
    assert {txns["card_state"][i] for i in visits} <= {"frozen", "expired", "active"}
    book = model.cards
    assert book is not None
    renewed = [i for i in visits if txns["outcome"][i] == "settled"]
    for i in renewed:  # the desk never refuses the card it replaces, and renews it
        row = book.rows[txns["holder_id"][i]]
        assert book.renewed_s[row] == pytest.approx(txns["end_s"][i])
    assert result.summary["cards"]["lost"] > 0


def _decoded(path: Path) -> dict[str, list[Any]]:
    return pq.read_table(path).to_pydict()  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", ["smoke", "baseline_weekday"])
def test_zero_rates_change_nothing(name: str, tmp_path: Path) -> None:
    """A ``cards`` section whose rates are zero gives the very outputs of a run without it."""
    from sim.scenario import load_scenario

    small = ["horizon=20min", "warmup=0s"] + (["scale=2e-6"] if name != "smoke" else [])
    without = load_scenario(SCENARIOS / f"{name}.yaml", small)
    zero = load_scenario(SCENARIOS / f"{name}.yaml", [*small, "cards.freeze_ecard=false"])
    assert zero.cards is not None and not zero.cards.changes
    outs = []
    for k, scenario in enumerate((without, zero)):
        (tmp_path / str(k)).mkdir()
        model = build(scenario, tmp_path / str(k))
        result = simulate(model)
        outs.append((_decoded(model.workdir / "transactions.parquet"), result.summary))
    (txns_a, summary_a), (txns_b, summary_b) = outs
    assert txns_a == txns_b
    assert set(txns_a["card_state"]) <= {"active"}
    assert summary_a == summary_b
    for file in ("transactions.parquet", "stations.parquet", "clearing.parquet"):
        assert (tmp_path / "0" / file).read_bytes() == (tmp_path / "1" / file).read_bytes(), file

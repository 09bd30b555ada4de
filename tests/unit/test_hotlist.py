"""The transit hot list: a frozen card refused at the gate once its reader has the list.

Unit tests drive :class:`sim.network.hotlist.HotList` directly; the run test takes
the smoke hour with transit, many lost cards and a list pushed once an hour (at
each reader's phase, within the first minute), so a card reported before the
push is refused at the gate and one reported after it is let through offline and
refused at its upload, its fare lost to the operator.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from sim.network.hotlist import HotList
from sim.run.model import build, simulate
from sim.world.transaction import Transaction
from tests.unit.test_cards import CARDS, book, smoke

TRANSIT = {
    "rate": {"per_holder_per_year": 400},
    "fare": {"constant": "3 yuan"},
    "stations": {"total": 10000, "gates": 4, "tap_time": {"constant": "1s"}},
    "upload_every": "1min",
}
"""Busy gates, uploading every minute (so each reader's phase is within the first minute)."""


def tap(holder: int, t: float, *, card: int = 0, stolen: bool = False) -> Transaction:
    """A tap of ``holder``'s card at a gate of province 0 at ``t``."""
    batch = SimpleNamespace(fraud=np.array([1 if stolen else 0], dtype=np.uint8))
    made = Transaction(0, batch, 0, 4, 0, 0, card, True, False, 300, t)
    made.holder = holder
    return made


def test_a_reader_keeps_its_last_list_through_misses_and_faults() -> None:
    """Pushes every 100 s; offline in [250, 450): the push at 300 and 400 never arrive."""
    hot = HotList(book(), 100.0, 0.0, [[(250.0, 450.0)]], key=1)
    assert hot.last_push(0, 0.0, 0, 299.0) == 200.0
    assert hot.last_push(0, 0.0, 0, 420.0) == 200.0
    assert hot.last_push(0, 0.0, 0, 520.0) == 500.0
    missing = HotList(book(), 100.0, 0.5, [[]], key=1)
    pushes = [missing.last_push(g, 0.0, 0, 10_000.0) for g in range(200)]
    assert 0.3 < np.mean([p == 10_000.0 for p in pushes]) < 0.7  # about half got the last one


def test_the_gate_refuses_the_card_only_from_its_next_list() -> None:
    """Holder 7 reported at 150 s: let through until the 200 s push, refused after."""
    hot = HotList(book(), 100.0, 0.0, [[]], key=1)
    assert hot.accepts(tap(7, 180.0), 0, 0.0, 180.0)
    assert not hot.accepts(tap(7, 210.0), 0, 0.0, 210.0)
    assert hot.accepts(tap(7, 610.0), 0, 0.0, 610.0)  # the holder's new card (renewed at 600)
    assert not hot.accepts(tap(7, 610.0, stolen=True), 0, 0.0, 610.0)  # the thief's old one
    assert hot.accepts(tap(7, 210.0, card=1), 0, 0.0, 210.0)  # e-cards: checked at upload
    assert not hot.accepts(tap(9, 250.0), 0, 0.0, 250.0)  # expired: the reader sees the date


@pytest.fixture(scope="module")
def transit_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, list[Any]], Any]:
    """The smoke hour with transit gates, lost cards and an hourly hot list."""
    folder = tmp_path_factory.mktemp("hotlist")
    scenario = smoke(cards={**CARDS, "hotlist_every": "1h"}, services={"transit": TRANSIT})
    model = build(scenario, folder)
    result = simulate(model)
    assert model.cards is not None
    txns = pq.read_table(folder / "transactions.parquet").to_pydict()
    return txns, (
        model.cards,
        result.summary,
        pq.read_table(folder / "ledger.parquet").to_pydict(),
    )


def test_a_frozen_card_is_refused_offline_after_the_next_hot_list(
    transit_run: tuple[dict[str, list[Any]], Any],
) -> None:
    """Reported before the push: refused at the gate; after it: let through, refused at upload."""
    txns, (cards, _, _) = transit_run
    seen = {"at_gate": 0, "at_upload": 0}
    for i, service in enumerate(txns["service"]):
        h = txns["holder_id"][i]
        if service != "transit" or txns["card_kind"][i] != "chip" or h not in cards.rows:
            continue
        row, t = cards.rows[h], txns["arrival_s"][i]
        reported, renewed = cards.reported_s[row], cards.renewed_s[row]
        if t < 60.0 or cards.kind[row] != 0 or renewed <= txns["end_s"][i]:
            continue  # before every reader's push, an expiry, or renewed meanwhile
        if reported <= 0.0:
            assert txns["reason"][i] == "hot_listed", i
            seen["at_gate"] += 1
        elif 60.0 < reported <= t:
            assert (txns["outcome"][i], txns["reason"][i]) == ("declined", "card_frozen"), i
            assert txns["end_s"][i] > txns["start_s"][i]  # the rider went through first
            seen["at_upload"] += 1
    assert min(seen.values()) > 0, seen


def test_the_fares_refused_at_upload_are_the_operators_loss(
    transit_run: tuple[dict[str, list[Any]], Any],
) -> None:
    """The ledger books each fare refused at upload to the operator's losses, to the fen."""
    txns, (_, summary, ledger) = transit_run
    rows = zip(txns["service"], txns["reason"], txns["amount_fen"], strict=True)
    refused = sum(a for s, r, a in rows if s == "transit" and r.startswith("card_"))
    assert refused > 0
    legs = zip(ledger["kind"], ledger["account"], ledger["point"], ledger["amount_fen"],
               strict=True)  # fmt: skip
    booked = sum(a for k, acct, p, a in legs if k == "loss" and acct == "losses" and p == 1)
    assert booked == refused
    assert summary["ledger"]["balances_fen"]["losses"] == refused
    assert all(summary["ledger"]["checks"].values())

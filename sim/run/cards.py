"""Wiring the card states into a run: the book drawn, and every platform checking it.

:mod:`sim.world.cards` keeps the states; the platforms that refuse a card are
in the network layer (:class:`sim.network.settlement.CardCheck`). This is where
the two meet when :func:`sim.run.model.build` builds a run.
"""

from __future__ import annotations

from sim.engine.streams import Streams
from sim.network.protocol import Protocol
from sim.network.settlement import CardCheck
from sim.scenario import Scenario
from sim.scenario.families import codes_unchecked
from sim.world.cards import CardBook, build_cards
from sim.world.population import Population

__all__ = ["card_book"]


def card_book(
    scenario: Scenario, population: Population, streams: Streams, protocol: Protocol
) -> CardBook | None:
    """The run's card states, checked by every platform; none when no card can change.

    Drawn from their own stream (``cards``), so a scenario without them, or with
    zero rates, draws every other number exactly as before.
    """
    spec = scenario.cards
    if spec is None or not spec.changes:
        return None
    desk = scenario.services.card_desk is not None
    book = build_cards(spec, population.size, float(scenario.horizon),
                       streams.generator("cards"), desk)  # fmt: skip
    protocol.check_cards(CardCheck(book, codes_unchecked()))
    return book

"""Wiring the card states and the fraud into a run.

:mod:`sim.world.cards` keeps the states and :mod:`sim.world.fraud` draws the
fraud; the platforms that refuse a card are in the network layer
(:class:`sim.network.settlement.CardCheck`) and the points where fraud is tried
are the medical families' (:mod:`sim.services.medical`). This is where they meet
when :func:`sim.run.model.build` builds a run.
"""

from __future__ import annotations

from sim.engine.streams import Streams
from sim.network.detection import HomeRules, QrRule
from sim.network.hotlist import HotList
from sim.network.protocol import Protocol
from sim.network.settlement import CardCheck
from sim.scenario import Scenario
from sim.scenario.families import SERVICE_CODES, codes_unchecked
from sim.services import ServiceRuntime
from sim.world.cards import CardBook, build_cards
from sim.world.fraud import FraudDraws, PointStream
from sim.world.population import Population

__all__ = ["LENT_AT", "card_book", "detect_fraud", "fraud_draws", "hot_list"]

LENT_AT = ("medical_outpatient", "pharmacy")
"""Where a card is lent: a treatment or a purchase at a desk that does not check faces."""


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


def fraud_draws(
    scenario: Scenario,
    population: Population,
    streams: Streams,
    cards: CardBook | None,
    services: dict[str, ServiceRuntime],
) -> FraudDraws | None:
    """The run's fraud, drawn at the medical services; none when no kind can happen."""
    spec = scenario.fraud
    if spec is None or not spec.attempted:
        return None
    medical = scenario.services.medical()
    arrivals: dict[str, PointStream] = {name: services[name].arrivals[0] for name in medical}  # type: ignore[misc]
    gates = scenario.services.transit
    transit = (services["transit"].arrivals[0], gates.fare) if gates is not None else None
    return FraudDraws(
        spec, cards, population, arrivals,
        {name: m.amount for name, m in medical.items()},
        {name: m.filed_in_advance for name, m in medical.items()},
        tuple(SERVICE_CODES[name] for name in LENT_AT if name in medical),
        float(scenario.horizon), streams.generator("fraud"), transit,  # type: ignore[arg-type]
    )  # fmt: skip


def detect_fraud(scenario: Scenario, protocol: Protocol, fraud: FraudDraws | None) -> None:
    """Have the platforms run the scenario's detection rules (none without the section)."""
    spec = scenario.detection
    if spec is None or not spec.any:
        return
    cloned_at = fraud.cloned_at if fraud is not None else {}
    protocol.detect(HomeRules(spec, cloned_at), QrRule(spec), spec.refuse)


def hot_list(
    scenario: Scenario, streams: Streams, cards: CardBook | None,
    services: dict[str, ServiceRuntime],
) -> HotList | None:  # fmt: skip
    """The transit readers' hot list and the clearing's card check (with transit and cards)."""
    transit = services.get("transit")
    if cards is None or transit is None or scenario.cards is None:
        return None
    gates = transit.readers
    spec = scenario.cards
    key = int(streams.generator("cards:hotlist").integers(0, 2**63))
    hotlist = HotList(cards, float(spec.hotlist_every), spec.hotlist_miss, gates.offline, key)
    gates.hotlist = hotlist
    gates.flow.cards = CardCheck(cards, codes_unchecked())
    return hotlist

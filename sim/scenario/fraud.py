"""Schema of the labelled fraud: its kinds, each at a rate, and where it is attempted.

Mirrors the top-level ``fraud`` section. The fraudulent transactions are drawn by
:mod:`sim.world.fraud`, every one labelled with its kind in the ``fraud`` column
(the ground truth); this section is all the scenario layer needs to know of them.
"""

from __future__ import annotations

import attrs

from sim.scenario.primitives import HolderRate
from sim.scenario.primitives import PerHolderPerYear as _PerYear
from sim.scenario.units_types import DurationS, at_least, greater_than
from sim.scenario.units_types import share as a_share

__all__ = ["ClonedSpec", "FraudSpec", "StolenSpec"]


@attrs.frozen
class StolenSpec:
    """Lost cards that were stolen and used by the thief, before and after the report."""

    share: float = attrs.field(default=0.0, validator=a_share)
    """Share of the lost cards (``cards.loss``) that a thief uses."""
    uses_per_day: float = attrs.field(default=3.0, validator=at_least(0))
    """The thief's uses per day, from the loss on."""
    gives_up_after: DurationS = attrs.field(default=DurationS(3 * 86400.0), validator=at_least(0))
    """How long after the loss the thief keeps trying (refused or not)."""
    at_transit: float = attrs.field(default=0.0, validator=a_share)
    """Share of the thief's uses made at transit gates (with ``services.transit``)."""


@attrs.frozen
class ClonedSpec:
    """Chip cards cloned (skimmed) and used in another province while the holder keeps theirs."""

    rate: HolderRate = _PerYear(0.0)  # noqa: RUF009 - a frozen attrs instance
    """Chips cloned per holder."""
    uses_per_day: float = attrs.field(default=3.0, validator=at_least(0))
    """The clone's uses per day, from the cloning on."""
    lasts: DurationS = attrs.field(default=DurationS(7 * 86400.0), validator=at_least(0))
    """How long the clone is used."""


@attrs.frozen
class FraudSpec:
    """Fraud attempted on the cards, each kind at its own rate, every attempt labelled.

    Thieves and clones use the card at ``service`` (a medical service of the
    scenario); a replayed QR code, a lent card and a duplicate bill ride on the
    holders' own medical visits.
    """

    service: str = "pharmacy"
    """The medical service where stolen and cloned cards are used."""
    stolen: StolenSpec = StolenSpec()
    cloned: ClonedSpec = ClonedSpec()
    replayed_qr: float = attrs.field(default=0.0, validator=a_share)
    """Share of e-card medical visits whose QR code is captured and replayed elsewhere."""
    replay_within: DurationS = attrs.field(default=DurationS(60.0), validator=greater_than(0))
    """The QR code's validity: a replay comes within it."""
    lent: float = attrs.field(default=0.0, validator=a_share)
    """Share of outpatient and pharmacy visits by another person on the holder's card."""
    duplicate_bill: float = attrs.field(default=0.0, validator=a_share)
    """Share of medical bills a point sends again under a new key."""
    duplicate_after: DurationS = attrs.field(default=DurationS(600.0), validator=greater_than(0))
    """How long after the bill its duplicate is sent."""

    @property
    def attempted(self) -> bool:
        """Whether any kind can happen."""
        return bool(
            self.stolen.share * self.stolen.uses_per_day
            or self.cloned.rate.per_holder_per_day * self.cloned.uses_per_day
            or self.replayed_qr
            or self.lent
            or self.duplicate_bill
        )

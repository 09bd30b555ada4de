"""Schema of the card service desks: replacing a lost or damaged card.

Mirrors the ``services.card_desk`` section. The family itself is in
:mod:`sim.services.card_desk`; this section is all the scenario layer needs
to know of it, so a file can be validated without building the engine.
"""

from __future__ import annotations

import attrs

from sim.scenario.card_services import OpeningHours
from sim.scenario.primitives import HolderRate, PointsSpec, Profile
from sim.scenario.units_types import DurationS, share

__all__ = ["CardDeskService"]


@attrs.frozen
class CardDeskService:
    """Card replacements at the service desks (社保卡服务网点), checked by the home platform.

    A holder whose card was lost or damaged queues at a desk's counter while it is
    open; the counter asks the province's platform to freeze the old card and
    register the new one, then issues it on the spot (即时制卡) or takes the
    application for a card made centrally.
    """

    rate: HolderRate
    """Replacements per holder (the share of cards lost or damaged in a year)."""
    desks: PointsSpec
    """Desks per province (or in total) at full scale, counters per desk, time per case."""
    profile: Profile = "office_hours"
    opening_hours: OpeningHours = OpeningHours(DurationS(9 * 3600.0), DurationS(17 * 3600.0))  # noqa: RUF009
    instant_share: float = attrs.field(default=1.0, validator=share)
    """Share of cases where the desk prints the new card on the spot; the rest are mailed."""

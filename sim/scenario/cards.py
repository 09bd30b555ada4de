"""Schema of the card states: lost cards, their freeze and replacement, expiry.

Mirrors the top-level ``cards`` section. The states themselves are kept by
:mod:`sim.world.cards`; this section is all the scenario layer needs to know,
so a file is validated without building the engine.
"""

from __future__ import annotations

import attrs

from sim.scenario.primitives import IN_DURATION, Constant, Distribution, Exponential, HolderRate
from sim.scenario.primitives import PerHolderPerYear as _PerYear
from sim.scenario.units_types import Quantity

__all__ = ["CardsSpec"]


@attrs.frozen
class CardsSpec:
    """What can happen to a holder's card during the run (挂失, 补换卡, 到期换卡).

    A physical card is lost at ``loss`` per holder; the holder reports it after
    ``report_delay`` and the platforms freeze it at once; the holder goes to a card
    desk ``desk_delay`` after the report, and the new card works once the desk has
    served them (the old one is dead: ``replaced``). The e-card is frozen with the
    physical card (``freeze_ecard``, an assumption) and re-issued online
    ``ecard_delay`` after the report. A physical card expires at ``expiry`` per
    holder and works again once renewed at a desk, ``desk_delay`` later.
    """

    loss: HolderRate = _PerYear(0.0)  # noqa: RUF009 - a frozen attrs instance
    """Physical cards lost (or stolen) per holder."""
    report_delay: Distribution = attrs.field(
        default=Exponential(Quantity(2 * 86400.0)), metadata=IN_DURATION
    )
    """From the loss to the holder's report (the card is frozen at the report)."""
    desk_delay: Distribution = attrs.field(
        default=Exponential(Quantity(3 * 86400.0)), metadata=IN_DURATION
    )
    """From the report (or the expiry) to the holder's visit at a card desk."""
    ecard_delay: Distribution = attrs.field(
        default=Constant(Quantity(3600.0)), metadata=IN_DURATION
    )
    """From the report to the e-card re-issued online (with ``freeze_ecard``)."""
    freeze_ecard: bool = True
    """Whether reporting the physical card lost freezes the holder's e-card too."""
    expiry: HolderRate = _PerYear(0.0)  # noqa: RUF009 - a frozen attrs instance
    """Physical cards reaching their expiry date per holder (the e-card does not expire)."""

    @property
    def changes(self) -> bool:
        """Whether any card can change state in a run."""
        return self.loss.per_holder_per_day > 0 or self.expiry.per_holder_per_day > 0

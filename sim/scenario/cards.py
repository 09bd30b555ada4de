"""Schema of the card states: lost cards, their freeze and replacement, expiry.

Mirrors the top-level ``cards`` section. The states themselves are kept by
:mod:`sim.world.cards`; this section is all the scenario layer needs to know,
so a file is validated without building the engine.
"""

from __future__ import annotations

import attrs

from sim.scenario.primitives import (
    IN_DURATION,
    Constant,
    Distribution,
    Exponential,
    HolderRate,
    Problems,
)
from sim.scenario.primitives import PerHolderPerYear as _PerYear
from sim.scenario.units_types import DurationS, Quantity, greater_than, share

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
    hotlist_every: DurationS = attrs.field(default=DurationS(3600.0), validator=greater_than(0))
    """How often the transit operator pushes the hot list of blocked cards to its readers."""
    hotlist_miss: float = attrs.field(default=0.0, validator=share)
    """Probability that a reader misses one push (it keeps the list it had)."""

    def check(self) -> Problems:
        """A reader that missed every push would never learn of a blocked card."""
        if self.hotlist_miss >= 1.0:
            return [("hotlist_miss", f"must be < 1, got {self.hotlist_miss:g}")]
        return []

    @property
    def changes(self) -> bool:
        """Whether any card can change state in a run."""
        return self.loss.per_holder_per_day > 0 or self.expiry.per_holder_per_day > 0

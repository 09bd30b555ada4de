"""A transaction: one use of the card, from arrival at a service point to its end.

The object lives only while the transaction is in flight and carries what the
callbacks along its way need; its arrival attributes were drawn in a numpy
batch by :mod:`sim.world.demand`. When it ends, :mod:`sim.outputs.recorder` keeps its
outcome in columns and the object is dropped.
"""

from __future__ import annotations

from typing import Any

from sim.world.domain import Outcome, Reason

__all__ = ["Transaction"]


class Transaction:
    """In-flight state of one transaction (slots only: there are millions)."""

    __slots__ = (
        "amount_fen",
        "arrival_s",
        "asked_s",
        "attempts",
        "batch",
        "card",
        "closed",
        "cross",
        "end_s",
        "filed",
        "flagged_by",
        "fund_fen",
        "holder",
        "home",
        "id",
        "in_flight",
        "ineligible",
        "leave_s",
        "level",
        "outcome",
        "personal_fen",
        "point",
        "reason",
        "row",
        "scheme",
        "service",
        "settle_s",
        "settled_at_s",
        "site",
        "start_s",
        "station",
    )

    def __init__(
        self,
        txn_id: int,
        batch: Any,
        row: int,
        service: int,
        site: int,
        home: int,
        card: int,
        filed: bool,
        ineligible: bool,
        amount_fen: int,
        arrival_s: float,
    ) -> None:
        self.id = txn_id
        self.batch = batch
        self.row = row
        self.service = service
        self.site = site
        self.home = home
        self.cross = site != home
        self.card = card
        self.filed = filed
        self.ineligible = ineligible
        self.amount_fen = amount_fen
        self.arrival_s = arrival_s
        self.point = -1
        """Index of its service point within the site province and service (from the draw)."""
        self.station: Any = None
        """The station or gate serving it, once it has one."""
        self.in_flight = 0
        """Messages of this transaction still in the network (sent, not answered or lost)."""
        self.closed = False
        """The requester has ended the transaction (its outcome is final)."""
        self.holder = -1
        self.scheme = 0
        self.level = 0
        self.start_s = -1.0
        self.asked_s = -1.0
        """When its settlement or verification request was sent."""
        self.settle_s = -1.0
        """How long that request took to be answered (negative: none was sent)."""
        self.settled_at_s = -1.0
        """When the home platform settled it (kept for the books if it is undone)."""
        self.end_s = -1.0
        self.leave_s = -1.0
        self.attempts = 0
        self.flagged_by = 0
        """The detection rule that flagged it (:class:`sim.world.domain.FlagRule`), if any."""
        self.outcome = Outcome.FALLBACK
        self.reason = Reason.NONE
        self.fund_fen = 0
        self.personal_fen = amount_fen

    def __repr__(self) -> str:
        return (
            f"Transaction(id={self.id}, service={self.service}, "
            f"site={self.site}, home={self.home})"
        )

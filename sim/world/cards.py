"""Card states: which holders' cards are lost, frozen, replaced or expired, and when.

Most holders' cards stay active all run, so nothing is kept for them: the book
holds a row only for the holders whose physical card is lost or expires (a dict
from holder to row, and a few aligned arrays), as the year-to-date store keeps
only the holders who paid. Every change is drawn when the run is built, from the
book's own random stream, between :data:`HISTORY_S` before the start and the
horizon (so a run starts with the cards frozen in the month before it); only a
replacement served at a simulated card desk (:mod:`sim.services.card_desk`)
is known when it happens.

The online checks (the home platform's settlement and verification, the card
platform's e-card check: :mod:`sim.network.settlement`) ask :meth:`CardBook.state`
at the moment they run; the arrival batches get the state at arrival as their
``card_state`` column (:meth:`CardBook.stamp`).

Assumptions (``docs/cards.md``): a holder's own demand is drawn as without the
book; before the report a lost card is still active to every check; the e-card
is frozen with the physical card (``freeze_ecard``) and re-issued online
``ecard_delay`` after the report; an expired physical card leaves the e-card
working; a replacement is a new card on the same holder id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from sim.engine.distributions import sample
from sim.scenario.cards import CardsSpec
from sim.world.demand import ArrivalBatch
from sim.world.domain import CardKind, CardState, FraudKind

__all__ = ["HISTORY_S", "LOSS", "ROW_BYTES", "CardBook", "build_cards", "expected_bytes"]

HISTORY_S = 30 * 86400.0
"""How long before the start losses and expiries are drawn from."""

LOSS, EXPIRY = 0, 1
ACTIVE, FROZEN, REPLACED, EXPIRED = (
    CardState.ACTIVE, CardState.FROZEN, CardState.REPLACED, CardState.EXPIRED,
)  # fmt: skip
ECARD = int(CardKind.ECARD)
NEVER = float("inf")

ROW_BYTES = 200.0
"""Memory per holder of the book at its peak: seven 8-byte columns, a dict entry, and
the draws of its events while it is built."""


def expected_bytes(spec: CardsSpec | None, holders: float, horizon_s: float) -> float:
    """Memory the book will hold, from the scenario alone (for the resource guard)."""
    if spec is None:
        return 0.0
    rate = spec.loss.per_holder_per_day + spec.expiry.per_holder_per_day
    return ROW_BYTES * holders * rate * (HISTORY_S + horizon_s) / 86400.0


class CardBook:
    """The holders whose card changes state in the run: what happened, and when.

    Row ``r`` is holder ``holder[r]``: a loss (``kind`` 0) at ``changed_s``, reported
    (and frozen) at ``reported_s``, the e-card back at ``ecard_s``; or an expiry
    (``kind`` 1) at ``changed_s``. Either way the holder is due at a desk at
    ``desk_s`` and holds a new (or renewed) card from ``renewed_s``: infinite
    while a simulated desk has not yet served them.
    """

    def __init__(
        self,
        spec: CardsSpec,
        holder: npt.NDArray[np.int64],
        kind: npt.NDArray[np.uint8],
        changed_s: npt.NDArray[np.float64],
        reported_s: npt.NDArray[np.float64],
        ecard_s: npt.NDArray[np.float64],
        desk_s: npt.NDArray[np.float64],
        renewed_s: npt.NDArray[np.float64],
    ) -> None:
        self.spec = spec
        self.holder = holder
        self.kind = kind
        self.changed_s = changed_s
        self.reported_s = reported_s
        self.ecard_s = ecard_s
        self.desk_s = desk_s
        self.renewed_s = renewed_s
        self.rows: dict[int, int] = {h: r for r, h in enumerate(holder.tolist())}
        self._kind = kind.tolist()
        self._reported = reported_s.tolist()
        self._ecard = ecard_s.tolist()
        self._renewed = renewed_s.tolist()

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def nbytes(self) -> int:
        """Memory held for the changed holders (arrays, and about 100 bytes per dict entry)."""
        arrays = (self.holder, self.kind, self.changed_s, self.reported_s, self.ecard_s,
                  self.desk_s, self.renewed_s)  # fmt: skip
        return sum(a.nbytes for a in arrays) + 100 * len(self.rows)

    def state(self, holder: int, card: int, now: float) -> CardState:
        """The state of the card ``holder`` presents (chip or e-card) at ``now``."""
        row = self.rows.get(holder)
        if row is None:
            return ACTIVE
        if self._kind[row] == LOSS:
            if card == ECARD:
                frozen = self.spec.freeze_ecard and self._reported[row] <= now < self._ecard[row]
            else:
                frozen = self._reported[row] <= now < self._renewed[row]
            return FROZEN if frozen else ACTIVE
        if card != ECARD and self._reported[row] <= now < self._renewed[row]:
            return EXPIRED
        return ACTIVE

    def old_card(self, holder: int, now: float) -> CardState:
        """The state of the holder's *old* physical card: dead once a new one is issued."""
        row = self.rows.get(holder)
        if row is None:
            return ACTIVE
        if now >= self._renewed[row]:
            return REPLACED if self._kind[row] == LOSS else EXPIRED
        return self.state(holder, 0, now)

    def has_new_card(self, holder: int, now: float) -> bool:
        """Whether ``holder`` holds a new (or renewed) physical card at ``now``."""
        row = self.rows.get(holder)
        return row is not None and now >= self._renewed[row]

    def states(
        self,
        holder: npt.NDArray[np.int64],
        card: npt.NDArray[np.uint8],
        time_s: npt.NDArray[np.float64],
        old: npt.NDArray[np.bool_] | None = None,
    ) -> npt.NDArray[np.uint8]:
        """:meth:`state` of each (holder, card, time), for a batch of arrivals.

        Where ``old`` is set (a thief's use of a lost card) it is the old card's state.
        """
        out = np.zeros(holder.size, dtype=np.uint8)
        if not self.rows or not holder.size:
            return out
        pos = np.searchsorted(self.holder, holder)
        hit = pos < self.holder.size
        hit[hit] = self.holder[pos[hit]] == holder[hit]
        for i in np.flatnonzero(hit).tolist():
            if old is not None and old[i]:
                out[i] = self.old_card(int(holder[i]), float(time_s[i]))
            else:
                out[i] = self.state(int(holder[i]), int(card[i]), float(time_s[i]))
        return out

    def stamp(self, batches: Iterator[ArrivalBatch]) -> Iterator[ArrivalBatch]:
        """The arrival batches with their ``card_state`` at arrival."""
        for batch in batches:
            old = batch.fraud == FraudKind.STOLEN
            batch.card_state = self.states(batch.holder, batch.card, batch.time_s, old)
            yield batch

    def due_at_desk(self, t0_s: float, t1_s: float) -> npt.NDArray[np.int64]:
        """Rows of the holders due at a desk in ``[t0_s, t1_s)`` (still without a new card)."""
        rows: npt.NDArray[np.int64] = np.flatnonzero(
            (self.desk_s >= t0_s) & (self.desk_s < t1_s) & np.isinf(self.renewed_s)
        )
        return rows

    def renew(self, holder: int, now: float) -> None:
        """A desk issued ``holder`` a new card at ``now`` (no-op for a holder not waiting)."""
        row = self.rows.get(holder)
        if row is None or self._renewed[row] != NEVER or now < self._reported[row]:
            return
        self._renewed[row] = now
        self.renewed_s[row] = now

    def figures(self, horizon_s: float) -> dict[str, Any]:
        """Cards lost, reported, expired and renewed within the run, and still frozen at its end.

        ``summary.json``'s ``cards``; ``holders_tracked`` and ``bytes`` are what the
        book keeps (the month before the start included).
        """
        in_run = (self.changed_s >= 0) & (self.changed_s < horizon_s)
        loss = self.kind == LOSS
        frozen_end = loss & (self.reported_s <= horizon_s) & (self.renewed_s > horizon_s)
        return {
            "lost": int((in_run & loss).sum()),
            "reported": int((loss & (self.reported_s >= 0) & (self.reported_s < horizon_s)).sum()),
            "expired": int((in_run & ~loss).sum()),
            "renewed": int(((self.renewed_s >= 0) & (self.renewed_s < horizon_s)).sum()),
            "frozen_at_end": int(frozen_end.sum()),
            "holders_tracked": len(self),
            "bytes": self.nbytes,
        }


def build_cards(
    spec: CardsSpec,
    holders: int,
    horizon_s: float,
    rng: np.random.Generator,
    desk_simulated: bool,
) -> CardBook:
    """Draw every loss and expiry of the run (and of :data:`HISTORY_S` before it).

    Events are a Poisson number at the summed rate over the holders, each at a
    uniform time and for a uniform holder; a holder drawn twice keeps the first.
    Without a simulated desk (``desk_simulated`` false) the new card works from
    the holder's desk visit; with one, from when the desk serves them.
    """
    span = HISTORY_S + horizon_s
    loss, expiry = spec.loss.per_holder_per_day, spec.expiry.per_holder_per_day
    n = int(rng.poisson(holders * (loss + expiry) * span / 86400.0)) if holders else 0
    holder = rng.integers(0, max(holders, 1), n).astype(np.int64)
    changed = rng.random(n) * span - HISTORY_S
    kind = np.where(rng.random(n) * (loss + expiry) < loss, LOSS, EXPIRY).astype(np.uint8)
    delay = np.where(kind == LOSS, sample(spec.report_delay, rng, n), 0.0)
    ecard = sample(spec.ecard_delay, rng, n)
    desk = sample(spec.desk_delay, rng, n)
    first = np.unique(holder, return_index=True)[1]  # sorted by holder
    holder, kind, changed, delay = holder[first], kind[first], changed[first], delay[first]
    reported = changed + delay
    desk_s = reported + desk[first]
    renewed = desk_s.copy()
    if desk_simulated:
        renewed[desk_s >= 0] = NEVER  # the desk of the run serves them (or not)
    return CardBook(spec, holder, kind, changed, reported, reported + ecard[first], desk_s,
                    renewed)  # fmt: skip

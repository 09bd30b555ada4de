"""The transit readers' hot list: blocked cards pushed to the gates every so often.

A transit gate validates a chip offline, so it learns that a card was frozen only
from its hot list (黑名单), which the operator pushes to every reader every
``cards.hotlist_every`` (at the reader's own phase). A push can fail to arrive: a
reader misses each push with probability ``cards.hotlist_miss`` (drawn from a
counter-based hash of the gate and the push, so nothing is stored), and
receives none while its province's readers are offline (``faults.readers``).
The gate refuses the old chip of a holder whose card was not active at its last
push received; a card frozen since is let through offline, and refused only at
its upload (:mod:`sim.services.transit`), when the fare is lost to the operator.

E-card QR codes are not on the list (they are checked when the tap is uploaded),
and a holder's new card never is: the list names the old card.
"""

from __future__ import annotations

import math

from sim.world.cards import HISTORY_S, CardBook
from sim.world.domain import CardKind, CardState, FraudKind
from sim.world.population import hash_uniform
from sim.world.transaction import Transaction

__all__ = ["HotList"]

ECARD, STOLEN = int(CardKind.ECARD), int(FraudKind.STOLEN)
GIVE_UP = 10_000
"""Pushes looked back at most for the last one a reader received (``hotlist_miss`` < 1)."""


class HotList:
    """When each reader last received the list, and whether a card was on it."""

    def __init__(
        self,
        cards: CardBook,
        every_s: float,
        miss: float,
        offline: list[list[tuple[float, float]]],
        key: int,
    ) -> None:
        self.cards = cards
        self.every_s = every_s
        self.miss = miss
        self.offline = offline
        """Per province, the windows its readers are offline (shared with the gates)."""
        self.key = key
        self.refused = 0

    def last_push(self, gate: int, phase_s: float, site: int, now: float) -> float:
        """When the gate last received the list, at or before ``now`` (``-inf``: never)."""
        k = math.floor((now - phase_s) / self.every_s)
        for back in range(GIVE_UP):
            t = phase_s + (k - back) * self.every_s
            if self._received(gate, k - back, site, t):
                return t
        return -math.inf

    def _received(self, gate: int, push: int, site: int, t: float) -> bool:
        if any(a <= t < b for a, b in self.offline[site]):
            return False
        if not self.miss:
            return True
        draw = hash_uniform([(gate * 1_000_003 + push) % 2**63], self.key)[0]
        return bool(draw >= self.miss)

    def accepts(self, txn: Transaction, gate: int, phase_s: float, now: float) -> bool:
        """Whether the gate lets the card through: not expired, not on its last list."""
        old = txn.batch is not None and txn.batch.fraud[txn.row] == STOLEN
        holder, cards = txn.holder, self.cards
        if (txn.card == ECARD and not old) or holder not in cards.rows:
            return True
        if not old and cards.has_new_card(holder, now):
            return True  # the holder's new card: on no list
        if cards.old_card(holder, now) is CardState.EXPIRED:
            self.refused += 1
            return False  # the reader reads the expiry date on the chip itself
        pushed = max(self.last_push(gate, phase_s, txn.site, now), -HISTORY_S)
        if cards.old_card(holder, pushed) is CardState.ACTIVE:
            return True
        self.refused += 1
        return False

"""Fraud detection rules, run by the platforms on the requests they serve.

Each rule runs where it would in reality: the holder's home platform checks a
settlement's application counter, the holder's last place of use and the
recent bills (:class:`HomeRules`); the card platform checks that an e-card QR
code is used once (:class:`QrRule`). A rule sees only what its platform sees
(holders, places, times, amounts, counters); the ``fraud`` label is never read,
except as the physical fact it stands for: a clone is another chip, with its own
application counter. Every rule's ``cost`` is added to the platform's service
time of each request it checks, so detection is paid for in the settlement path.

State is kept only as long as a rule needs it: the last use of each holder and
the bills of the last ``within``, the QR codes of the last validity window, and
the counters of the holders whose chip was cloned. Without a ``detection``
section nothing here runs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

from sim.scenario.detection import DetectionSpec
from sim.world.domain import CardKind, FlagRule, FraudKind
from sim.world.transaction import Transaction

__all__ = ["HomeRules", "QrRule", "RecentKeys"]

NONE = FlagRule.NONE
CHIP, CLONED = int(CardKind.CHIP), int(FraudKind.CLONED)


class RecentKeys:
    """Keys seen in the last ``within`` seconds, with a value each, forgotten after that."""

    __slots__ = ("_order", "_seen", "within_s")

    def __init__(self, within_s: float) -> None:
        self.within_s = within_s
        self._seen: dict[Hashable, tuple[float, object]] = {}
        self._order: deque[tuple[float, Hashable]] = deque()

    def get(self, key: Hashable, now: float) -> object | None:
        """The value stored for ``key`` in the last ``within`` seconds, if any."""
        self._forget(now)
        entry = self._seen.get(key)
        return entry[1] if entry is not None and now - entry[0] <= self.within_s else None

    def put(self, key: Hashable, value: object, now: float) -> None:
        """Remember ``key`` (with ``value``) from ``now``."""
        self._seen[key] = (now, value)
        self._order.append((now, key))

    def _forget(self, now: float) -> None:
        order, seen = self._order, self._seen
        while order and now - order[0][0] > self.within_s:
            t, key = order.popleft()
            entry = seen.get(key)
            if entry is not None and entry[0] == t:
                del seen[key]

    def __len__(self) -> int:
        return len(self._seen)


class HomeRules:
    """The home platform's rules on each new settlement, after the card check."""

    def __init__(self, spec: DetectionSpec, cloned_at: dict[int, float]) -> None:
        self.spec = spec
        counter, travel, bills = spec.counter_sequence, spec.impossible_travel, spec.duplicate_bill
        self.cost_s = sum(float(r.cost) for r in (counter, travel, bills) if r is not None)
        """Time the rules add to each settlement at the home platform."""
        self.counter = counter is not None
        self.cloned_at = cloned_at
        """When each cloned holder's chip was copied: the clone's counter starts there."""
        self._counts: dict[tuple[int, bool], int] = {}
        self._at_copy: dict[int, int] = {}
        self._highest: dict[int, int] = {}
        self.travel = RecentKeys(float(travel.within)) if travel is not None else None
        self.bills = RecentKeys(float(bills.within)) if bills is not None else None

    def check(self, txn: Transaction, now: float) -> FlagRule:
        """The first rule that flags the settlement, or ``NONE``; every rule records it."""
        flagged = NONE
        cloned = self.counter and txn.card == CHIP and txn.holder in self.cloned_at
        if cloned and not self._counter_rises(txn):
            flagged = FlagRule.COUNTER_SEQUENCE
        if self.travel is not None:
            last = self.travel.get(txn.holder, now)
            if last is not None and last != txn.site and flagged is NONE:
                flagged = FlagRule.IMPOSSIBLE_TRAVEL
            self.travel.put(txn.holder, txn.site, now)
        if self.bills is not None:
            key = (txn.holder, txn.site, txn.service, txn.point, txn.amount_fen)
            if self.bills.get(key, now) is not None and flagged is NONE:
                flagged = FlagRule.DUPLICATE_BILL
            self.bills.put(key, True, now)
        return flagged

    def _counter_rises(self, txn: Transaction) -> bool:
        """Count the chip's use; whether its counter is above every one the platform has seen.

        The genuine chip and its clone each count their own uses; the clone starts
        from the genuine chip's count when it was copied.
        """
        holder = txn.holder
        clone = txn.batch is not None and txn.batch.fraud[txn.row] == CLONED
        key = (holder, clone)
        if clone and key not in self._counts:
            self._counts[key] = self._at_copy.get(holder, 0)
        value = self._counts[key] = self._counts.get(key, 0) + 1
        if not clone and txn.arrival_s < self.cloned_at[holder]:
            self._at_copy[holder] = value
        highest = self._highest.get(holder, 0)
        self._highest[holder] = max(highest, value)
        return value > highest


class QrRule:
    """The card platform's single-use check of e-card QR codes, within their validity."""

    def __init__(self, spec: DetectionSpec) -> None:
        rule = spec.qr_single_use
        self.cost_s = float(rule.cost) if rule is not None else 0.0
        self.seen = RecentKeys(float(rule.within)) if rule is not None else None

    def check(self, txn: Transaction, now: float) -> FlagRule:
        """``QR_SINGLE_USE`` if the transaction's QR code was presented before."""
        if self.seen is None or txn.card == CHIP or txn.batch is None:
            return NONE
        key = (txn.holder, float(txn.batch.token_s[txn.row]))
        if self.seen.get(key, now) is not None:
            return FlagRule.QR_SINGLE_USE
        self.seen.put(key, True, now)
        return NONE

"""Medical settlement at hospitals and pharmacies.

A visit holds one counter from start to end: the cashier reads the card (an
e-card QR code is first verified online with the card platform), spends the
service time on the bill, then sends the settlement request and waits for the
answer. Settled: the patient pays the personal share. Not filed, out of
retries or unverified: the patient pays in full and claims later (fallback).
Ineligible: declined. A patient who finds the point's queue at its limit is
turned away at once, unserved: declined with reason ``blocked``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy

from sim.domain import CardKind, Outcome, Reason
from sim.kernel import call_later
from sim.points import PointGroup
from sim.protocol import Answer, Protocol
from sim.recorder import TransactionRecorder
from sim.transaction import Transaction

__all__ = ["MedicalDesk"]

_OUTCOMES = {
    Answer.SETTLED: (Outcome.SETTLED, Reason.NONE),
    Answer.NOT_FILED: (Outcome.FALLBACK, Reason.NOT_FILED),
    Answer.INELIGIBLE: (Outcome.DECLINED, Reason.INELIGIBLE),
    Answer.TIMEOUT: (Outcome.FALLBACK, Reason.TIMEOUT),
}


class MedicalDesk:
    """Runs the visits of one medical service across all provinces."""

    def __init__(
        self,
        env: simpy.Environment,
        groups: list[PointGroup],
        service_time: Callable[[], float],
        protocol: Protocol,
        recorder: TransactionRecorder,
    ) -> None:
        self.env = env
        self.groups = groups
        self.service_time = service_time
        self.protocol = protocol
        self.recorder = recorder

    def arrive(self, txn: Transaction) -> None:
        """A patient arrives at the point drawn for them and queues for a counter."""
        station = self.groups[txn.site].points[txn.point]
        txn.point = station
        if not station.request(txn, self._start):
            self._turn_away(txn)

    def _turn_away(self, txn: Transaction) -> None:
        """The queue is full: the transaction ends now, never served, holding no counter."""
        now = self.env._now
        txn.start_s = txn.end_s = now
        txn.outcome = Outcome.DECLINED
        txn.reason = Reason.BLOCKED
        txn.fund_fen = 0
        txn.personal_fen = txn.amount_fen
        self.recorder.finish(txn)

    def _start(self, txn: Transaction) -> None:
        txn.start_s = self.env._now
        if txn.card == CardKind.ECARD:
            self.protocol.verify(txn, self._verified)
        else:
            call_later(self.env, self.service_time(), self._served, txn)

    def _verified(self, txn: Transaction, answer: Answer) -> None:
        if answer is Answer.VERIFIED:
            call_later(self.env, self.service_time(), self._served, txn)
        else:
            self._end(txn, Outcome.FALLBACK, Reason.VERIFY_TIMEOUT)

    def _served(self, event: Any) -> None:
        txn: Transaction = event._value
        txn.settle_s = self.env._now
        self.protocol.settle(txn, self._settled)

    def _settled(self, txn: Transaction, answer: Answer) -> None:
        txn.settle_s = self.env._now - txn.settle_s
        outcome, reason = _OUTCOMES[answer]
        self._end(txn, outcome, reason)

    def _end(self, txn: Transaction, outcome: Outcome, reason: Reason) -> None:
        txn.outcome = outcome
        txn.reason = reason
        if outcome is not Outcome.SETTLED:
            txn.fund_fen = 0
            txn.personal_fen = txn.amount_fen
        txn.end_s = self.env._now
        txn.point.release()
        self.recorder.finish(txn)

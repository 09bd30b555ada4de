"""One request's life: send, time out, retry with the same key, answer once, reverse.

The requester (a service point) opens an :class:`Exchange` per logical request
(settle this bill, verify this card). Every attempt carries the transaction id as
its idempotency key; the home platform answers a repeated key with its first
answer (:mod:`sim.network.settlement`), so a retry, or a response lost on its way back,
never settles twice. A settlement that runs out of attempts is reversed (冲正)
before the patient falls back to paying in full: the reversal travels the same
path with the same key and is retried in its turn; it undoes a settlement the
home platform made and bars one still on its way. Every message a transaction
sends is counted until it is answered or lost, so when the requester has closed
the transaction and nothing of it is left in the network, the home platform's
word on the key can be checked against the outcome and the key forgotten.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from sim.engine.kernel import Environment, call_later
from sim.money.policy import PolicyTable
from sim.network.detection import HomeRules, QrRule
from sim.network.nodes import Answer, Message, Network, Role, Route
from sim.network.settlement import CardCheck, ReverseHandler, SettleHandler, VerifyHandler
from sim.world.domain import Outcome
from sim.world.transaction import Transaction

__all__ = ["Answer", "Exchange", "Message", "Protocol"]

OnAnswer = Callable[[Transaction, Answer], None]


class Exchange:
    """A logical request with timeout and bounded retries under one idempotency key."""

    __slots__ = (
        "answer",
        "attempt",
        "done",
        "limit",
        "on_answer",
        "protocol",
        "records",
        "route",
        "txn",
    )

    def __init__(
        self,
        protocol: Protocol,
        txn: Transaction,
        route: Route,
        on_answer: OnAnswer,
        records: bool,
        limit: int,
    ) -> None:
        self.protocol = protocol
        self.txn = txn
        self.route = route
        self.on_answer = on_answer
        self.records = records
        """Whether its attempts are the transaction's ``attempts`` column."""
        self.limit = limit
        """Attempts allowed (the first plus retries)."""
        self.attempt = 0
        self.done = False
        self.answer = Answer.TIMEOUT

    def send(self, _event: Any = None) -> None:
        """Send the next attempt and arm its timer (no-op if already answered)."""
        if self.done:
            return
        self.attempt += 1
        protocol = self.protocol
        protocol.attempts += 1
        if self.attempt > 1:
            protocol.retries += 1
        self.txn.in_flight += 1
        protocol.network.send(Message(self, self.attempt))
        protocol.timers.arm(self, self.attempt)

    def on_response(self, event: Any) -> None:
        """A response reached the requester: the first one answers the exchange."""
        msg: Message = event.value
        txn = self.txn
        txn.in_flight -= 1
        if self.done:
            self.protocol.late_responses += 1
            if msg.result is Answer.SETTLED and self.answer is not Answer.SETTLED:
                self.protocol.late_settlements += 1  # it will be reversed, never kept
            self.protocol.release(txn)
            return
        self._finish(msg.result)

    def lost(self, _msg: Message) -> None:
        """One of the exchange's messages was lost in the network."""
        self.txn.in_flight -= 1
        self.protocol.release(self.txn)

    def expire(self, attempt: int) -> None:
        """Attempt ``attempt``'s timeout has passed (no-op if answered or superseded)."""
        if self.done or attempt != self.attempt:
            return
        protocol = self.protocol
        protocol.timeouts += 1
        if self.attempt < self.limit:
            call_later(protocol.env, protocol.backoff_s, self.send, None, self.txn.service)
        else:
            self._finish(Answer.TIMEOUT)

    def _finish(self, answer: Answer) -> None:
        self.done = True
        self.answer = answer
        if self.records:
            self.txn.attempts = self.attempt
        self.on_answer(self.txn, answer)


class Timers:
    """Every exchange's timeout, with one event on the queue instead of one per attempt.

    The timeout is the same for every attempt, so deadlines come in the order the
    attempts were sent: a FIFO of (deadline, exchange, attempt) and a single wake-up
    at the earliest deadline still pending. At a wake-up, attempts whose deadline has
    come are expired (each exactly at its own deadline, as a timer of its own would);
    answered ones are skipped; the next wake-up is armed at the first attempt still
    waiting. Most attempts are answered long before their deadline, so a wake-up
    happens about once a timeout, not once an attempt.
    """

    __slots__ = ("armed", "env", "pending", "timeout_s")

    def __init__(self, env: Environment, timeout_s: float) -> None:
        self.env = env
        self.timeout_s = timeout_s
        self.pending: deque[tuple[float, Exchange, int]] = deque()
        self.armed = False

    def arm(self, exchange: Exchange, attempt: int) -> None:
        """Start the timer of an exchange's attempt."""
        deadline = self.env.now + self.timeout_s
        self.pending.append((deadline, exchange, attempt))
        if not self.armed:
            self.armed = True
            call_later(self.env, self.timeout_s, self._wake, None)

    def _wake(self, _event: Any) -> None:
        now = self.env.now
        pending = self.pending
        while pending:
            deadline, exchange, attempt = pending[0]
            if exchange.done or attempt != exchange.attempt:
                pending.popleft()  # answered or superseded: its timer no longer matters
            elif deadline <= now:
                pending.popleft()
                exchange.expire(attempt)
            else:
                call_later(self.env, deadline - now, self._wake, None)
                return
        self.armed = False


class Protocol:
    """Opens exchanges for requesters, keeps the protocol's counters and checks its books."""

    def __init__(
        self,
        env: Environment,
        network: Network,
        policy: PolicyTable,
        settle_times: list[Callable[[], float] | None],
    ) -> None:
        spec = network.spec
        self.env = env
        self.network = network
        self.timeout_s = spec.timeout
        self.timers = Timers(env, float(spec.timeout))
        self.backoff_s = spec.retry.backoff
        self.attempts_allowed = spec.retry.max + 1
        self.reversal_attempts = spec.retry.reversals
        self.settlers = [SettleHandler(env, node, policy, settle_times)
                         for node in network.provincial]  # fmt: skip
        self.reversers = [ReverseHandler(settler) for settler in self.settlers]
        # A home platform vouches for its card; the card platform checks e-card QR codes.
        self.verifiers = [VerifyHandler(node) for node in [*network.provincial,
                                                           network.card_platform]]  # fmt: skip
        for node, settler, reverser, verifier in zip(
            network.provincial, self.settlers, self.reversers, self.verifiers, strict=False
        ):
            node.handlers[Role.SETTLE] = settler
            node.handlers[Role.REVERSE] = reverser
            node.handlers[Role.VERIFY] = verifier
        network.card_platform.handlers[Role.VERIFY] = self.verifiers[-1]
        self.attempts = 0
        self.retries = 0
        self.timeouts = 0
        self.late_responses = 0
        self.late_settlements = 0
        self.reversals_sent = 0
        self.reversals_unacknowledged = 0
        self.reconciled = 0
        self.settled_by_requesters = 0
        self.kept_by_homes = 0
        self.violations: list[str] = []

    def check_cards(self, check: CardCheck) -> None:
        """Have every platform look the card up before settling or verifying it."""
        handlers: list[SettleHandler | VerifyHandler] = [*self.settlers, *self.verifiers]
        for handler in handlers:
            handler.cards = check

    def detect(self, home: HomeRules, qr: QrRule, refuse: bool) -> None:
        """Have the home platforms and the card platform run the fraud detection rules."""
        for settler in self.settlers:
            settler.rules, settler.refuse_flagged = home, refuse
        card_platform = self.verifiers[-1]
        card_platform.rules, card_platform.refuse_flagged = qr, refuse

    # --- requests -----------------------------------------------------------------

    def settle(self, txn: Transaction, on_answer: OnAnswer) -> None:
        """Ask the holder's home platform to settle the bill; reverse if no answer comes.

        ``on_answer`` gets the home platform's answer, or ``TIMEOUT`` once the
        settlement has run out of attempts and its reversal has been tried.
        """
        route = self.network.settlement_route(txn.site, txn.home)

        def answered(txn: Transaction, answer: Answer) -> None:
            if answer is Answer.TIMEOUT:
                self._reverse(txn, on_answer)
            else:
                on_answer(txn, answer)

        Exchange(self, txn, route, answered, True, self.attempts_allowed).send()

    def _reverse(self, txn: Transaction, on_answer: OnAnswer) -> None:
        self.reversals_sent += 1
        route = self.network.reversal_route(txn.site, txn.home)

        def reversed_(txn: Transaction, answer: Answer) -> None:
            if answer is not Answer.REVERSED:
                self.reversals_unacknowledged += 1  # reconciliation will settle the books
            on_answer(txn, Answer.TIMEOUT)

        Exchange(self, txn, route, reversed_, False, self.reversal_attempts).send()

    def verify(self, txn: Transaction, on_answer: OnAnswer) -> None:
        """Ask the card platform to verify the holder's e-card QR code."""
        route = self.network.verify_route
        Exchange(self, txn, route, on_answer, False, self.attempts_allowed).send()

    def request(self, txn: Transaction, route: Route, on_answer: OnAnswer) -> None:
        """Send the transaction's own request along ``route``, with timeout and retries.

        Library loans use it to have the holder's home platform verify the card;
        the exchange's attempts are recorded as the transaction's.
        """
        Exchange(self, txn, route, on_answer, True, self.attempts_allowed).send()

    # --- closing the books ------------------------------------------------------------

    def close(self, txn: Transaction) -> None:
        """The requester has ended the transaction; forget its key once nothing is in flight."""
        if txn.closed:
            self.violations.append(f"transaction {txn.id} ended twice")
            return
        txn.closed = True
        if txn.outcome == Outcome.SETTLED:
            self.settled_by_requesters += 1
        self.release(txn)

    def release(self, txn: Transaction) -> None:
        """If the transaction is closed and has nothing in flight, check and forget its key."""
        if not txn.closed or txn.in_flight:
            return
        settler = self.settlers[txn.home]
        entry = settler.book.pop(txn.id)
        home_settled = entry is not None and entry[0] is Answer.SETTLED
        requester_settled = txn.outcome == Outcome.SETTLED
        if home_settled and not requester_settled:
            settler.undo(txn, entry[1])  # type: ignore[index]
            self.reconciled += 1
        elif requester_settled and not home_settled:
            self.violations.append(f"transaction {txn.id} settled without its home's settlement")
        if requester_settled and home_settled:
            self.kept_by_homes += 1

    def books(self) -> dict[str, bool]:
        """End-of-run checks: every key forgotten, and settled exactly where accepted."""
        open_keys = sum(len(s.book) for s in self.settlers)
        if open_keys:
            self.violations.append(f"{open_keys} key(s) still open at home platforms")
        return {
            "no_key_settled_twice": self.kept_by_homes == self.settled_by_requesters
            and not any("settled without" in v for v in self.violations),
            "every_transaction_ended_once": not any("ended twice" in v for v in self.violations),
            "every_key_closed": open_keys == 0,
        }

    def counters(self) -> dict[str, int]:
        """The protocol's counters for the summary."""
        return {
            "attempts": self.attempts,
            "retries": self.retries,
            "timeouts": self.timeouts,
            "duplicates_suppressed": sum(s.duplicates for s in self.settlers),
            "late_responses": self.late_responses,
            "late_settlements": self.late_settlements,
            "messages_lost": self.network.lost,
            "reversals_sent": self.reversals_sent,
            "settlements_reversed": sum(r.reversed for r in self.reversers),
            "reversals_before_settlement": sum(r.before_settlement for r in self.reversers),
            "settles_refused_after_reversal": sum(s.refused_after_reversal for s in self.settlers),
            "reversals_unacknowledged": self.reversals_unacknowledged,
            "reconciled_at_close": self.reconciled,
        }

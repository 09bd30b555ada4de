"""One request's life: send, time out, retry with the same key, answer once.

The requester (a service point) opens an :class:`Exchange` per logical request
(settle this bill, verify this QR code). Every attempt carries the exchange's
idempotency key (the transaction id). The home platform remembers the first
answer it gave each key in an :class:`IdempotencyCache` and gives the same
answer to any retry, so a retry never settles twice. The requester takes the
first answer that reaches it; answers arriving after it gave up are counted as
late (their reversal is a fault-handling concern).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from enum import IntEnum
from typing import Any

import simpy

from sim.kernel import call_later
from sim.network import Network, Node, Role, Route
from sim.policy import PolicyTable
from sim.transaction import Transaction

__all__ = [
    "Answer",
    "Exchange",
    "IdempotencyCache",
    "Message",
    "Protocol",
    "SettleHandler",
    "VerifyHandler",
]


class Answer(IntEnum):
    """What a requester learns at the end of an exchange."""

    SETTLED = 0
    NOT_FILED = 1
    INELIGIBLE = 2
    VERIFIED = 3
    TIMEOUT = 4


class Message:
    """One attempt of an exchange travelling its route."""

    __slots__ = ("attempt", "exchange", "hop", "result", "route")

    def __init__(self, exchange: Exchange, attempt: int) -> None:
        self.exchange = exchange
        self.route: Route = exchange.route
        self.attempt = attempt
        self.hop = 0
        self.result = Answer.TIMEOUT


class Exchange:
    """A logical request with timeout and bounded retries under one idempotency key."""

    __slots__ = ("attempt", "done", "is_settlement", "on_answer", "protocol", "route", "txn")

    def __init__(
        self,
        protocol: Protocol,
        txn: Transaction,
        route: Route,
        on_answer: Callable[[Transaction, Answer], None],
        is_settlement: bool,
    ) -> None:
        self.protocol = protocol
        self.txn = txn
        self.route = route
        self.on_answer = on_answer
        self.is_settlement = is_settlement
        self.attempt = 0
        self.done = False

    @property
    def key(self) -> int:
        """The idempotency key every attempt carries."""
        return self.txn.id

    def send(self, _event: Any = None) -> None:
        """Send the next attempt and arm its timer (no-op if already answered)."""
        if self.done:
            return
        self.attempt += 1
        protocol = self.protocol
        protocol.attempts += 1
        if self.attempt > 1:
            protocol.retries += 1
        protocol.network.send(Message(self, self.attempt))
        call_later(protocol.env, protocol.timeout_s, self._expire, self.attempt)

    def on_response(self, event: Any) -> None:
        """A response reached the requester: the first one answers the exchange."""
        msg: Message = event._value
        if self.done:
            self.protocol.late_responses += 1
            if msg.result is Answer.SETTLED and self._gave_up:
                self.protocol.late_settlements += 1
            return
        self._finish(msg.result)

    def _expire(self, event: Any) -> None:
        if self.done or event._value != self.attempt:
            return
        protocol = self.protocol
        protocol.timeouts += 1
        if self.attempt <= protocol.max_retries:
            call_later(protocol.env, protocol.backoff_s, self.send, None)
        else:
            self._finish(Answer.TIMEOUT)

    @property
    def _gave_up(self) -> bool:
        return self.attempt > self.protocol.max_retries

    def _finish(self, answer: Answer) -> None:
        self.done = True
        if self.is_settlement:
            self.txn.attempts = self.attempt
        self.on_answer(self.txn, answer)


class IdempotencyCache:
    """First answers by key, forgotten once no retry can still arrive.

    Keys expire after ``retention_s``: longer than any exchange can last, so a
    retry always finds its key, while memory stays bounded on long runs.
    """

    __slots__ = ("_answers", "_expiry", "retention_s")

    def __init__(self, retention_s: float) -> None:
        self.retention_s = retention_s
        self._answers: dict[int, Answer] = {}
        self._expiry: deque[tuple[float, int]] = deque()

    def get(self, key: int) -> Answer | None:
        """The first answer given for ``key``, if it is still remembered."""
        return self._answers.get(key)

    def put(self, key: int, answer: Answer, now: float) -> None:
        """Remember the answer for ``key``; forget keys past their retention."""
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            del self._answers[expiry.popleft()[1]]
        self._answers[key] = answer
        expiry.append((now + self.retention_s, key))

    def __len__(self) -> int:
        return len(self._answers)


class SettleHandler:
    """The home platform's settlement step: filing check, eligibility, policy split."""

    __slots__ = ("cache", "duplicates", "env", "node", "policy", "service_times", "settled")

    def __init__(
        self,
        env: simpy.Environment,
        node: Node,
        policy: PolicyTable,
        service_times: list[Callable[[], float] | None],
        retention_s: float,
    ) -> None:
        self.env = env
        self.node = node
        self.policy = policy
        self.service_times = service_times
        self.cache = IdempotencyCache(retention_s)
        self.duplicates = 0
        self.settled = 0

    def service_time(self, msg: Message) -> float:
        """Settlement processing time of the transaction's service at this node."""
        draw = self.service_times[msg.exchange.txn.service]
        return draw() if draw is not None else self.node.service_time()

    def handle(self, msg: Message) -> None:
        """Decide once per key; a repeated key gets the first decision back."""
        txn = msg.exchange.txn
        first = self.cache.get(txn.id)
        if first is not None:
            self.duplicates += 1
            msg.result = first
            return
        answer = self._decide(txn)
        self.cache.put(txn.id, answer, self.env._now)
        msg.result = answer

    def _decide(self, txn: Transaction) -> Answer:
        if txn.cross and not txn.filed:
            return Answer.NOT_FILED
        if txn.ineligible:
            return Answer.INELIGIBLE
        fund, personal = self.policy.split(
            txn.home,
            txn.service,
            txn.amount_fen,
            site=txn.site,
            scheme=txn.scheme,
            level=txn.level,
            holder=txn.holder,
            now=self.env._now,
        )
        txn.fund_fen = fund
        txn.personal_fen = personal
        self.settled += 1
        return Answer.SETTLED


class VerifyHandler:
    """A verification at a node (the card platform's QR check, a home platform's card check).

    A lookup that is always valid in this model; it takes the node's own service time.
    """

    __slots__ = ("node",)

    def __init__(self, node: Node) -> None:
        self.node = node

    def service_time(self, _msg: Message) -> float:
        """Verification time at the node."""
        return self.node.service_time()

    def handle(self, msg: Message) -> None:
        """Mark the code verified."""
        msg.result = Answer.VERIFIED


class Protocol:
    """Opens exchanges for requesters and keeps the protocol's counters."""

    def __init__(
        self,
        env: simpy.Environment,
        network: Network,
        policy: PolicyTable,
        settle_times: list[Callable[[], float] | None],
    ) -> None:
        spec = network.spec
        self.env = env
        self.network = network
        self.timeout_s = spec.timeout
        self.backoff_s = spec.retry.backoff
        self.max_retries = spec.retry.max
        retention = (spec.retry.max + 1) * (spec.timeout + spec.retry.backoff) * 2 + 60.0
        self.settlers = [
            SettleHandler(env, node, policy, settle_times, retention)
            for node in network.provincial
        ]
        for node, settler in zip(network.provincial, self.settlers, strict=True):
            node.handlers[Role.SETTLE] = settler
        network.card_platform.handlers[Role.VERIFY] = VerifyHandler(network.card_platform)
        for node in network.provincial:  # a holder's home platform can vouch for its card
            node.handlers[Role.VERIFY] = VerifyHandler(node)
        self.attempts = 0
        self.retries = 0
        self.timeouts = 0
        self.late_responses = 0
        self.late_settlements = 0

    def settle(self, txn: Transaction, on_answer: Callable[[Transaction, Answer], None]) -> None:
        """Ask the holder's home platform to settle the transaction's bill."""
        route = self.network.settlement_route(txn.site, txn.home)
        Exchange(self, txn, route, on_answer, is_settlement=True).send()

    def verify(self, txn: Transaction, on_answer: Callable[[Transaction, Answer], None]) -> None:
        """Ask the card platform to verify the holder's e-card QR code."""
        Exchange(self, txn, self.network.verify_route, on_answer, is_settlement=False).send()

    def request(
        self, txn: Transaction, route: Route, on_answer: Callable[[Transaction, Answer], None]
    ) -> None:
        """Send the transaction's own request along ``route``, with timeout and retries.

        Library loans use it to have the holder's home platform verify the card;
        the exchange's attempts are recorded as the transaction's.
        """
        Exchange(self, txn, route, on_answer, is_settlement=True).send()

    @property
    def duplicates_suppressed(self) -> int:
        """Retries answered from a home platform's idempotency cache."""
        return sum(s.duplicates for s in self.settlers)

    def counters(self) -> dict[str, int]:
        """The protocol's counters for the summary."""
        return {
            "attempts": self.attempts,
            "retries": self.retries,
            "timeouts": self.timeouts,
            "duplicates_suppressed": self.duplicates_suppressed,
            "late_responses": self.late_responses,
            "late_settlements": self.late_settlements,
        }

"""The home platform's side of settlement: decide once per key, reverse on request.

A :class:`KeyBook` holds, for every transaction still in flight, the answer the
home platform gave its key (and the fund share it paid). A retry of a settled key
gets the same answer back, so nothing settles twice. A reversal undoes a
settlement (and the holder's year-to-date payments); a settle request arriving
after its key was reversed is refused, so a late success can never be kept. When
the requester has closed a transaction and none of its messages is left in the
network, the protocol forgets the key and checks the home's final word against
the requester's outcome; a settlement the requester never accepted is undone
there (reconciliation), and counted.

With card states (:mod:`sim.world.cards`) every platform also looks the card up
first (:class:`CardCheck`): a frozen, replaced or expired card is refused at once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import simpy

from sim.money.policy import PolicyTable
from sim.network.detection import HomeRules, QrRule
from sim.network.nodes import Answer, Message, Platform
from sim.world.cards import CardBook
from sim.world.domain import CardState, FraudKind, Reason
from sim.world.transaction import Transaction

__all__ = [
    "REFUSAL_REASONS",
    "Answer",
    "CardCheck",
    "KeyBook",
    "ReverseHandler",
    "SettleHandler",
    "VerifyHandler",
]

_REFUSALS = {
    CardState.FROZEN: Answer.CARD_FROZEN,
    CardState.REPLACED: Answer.CARD_REPLACED,
    CardState.EXPIRED: Answer.CARD_EXPIRED,
}
REFUSAL_REASONS: dict[Answer, Reason] = {
    Answer.CARD_FROZEN: Reason.CARD_FROZEN,
    Answer.CARD_REPLACED: Reason.CARD_REPLACED,
    Answer.CARD_EXPIRED: Reason.CARD_EXPIRED,
    Answer.FLAGGED: Reason.FRAUD_SUSPECTED,
}
"""The reason a requester records for each refusal of a card or of a flagged request."""


class CardCheck:
    """A platform's look-up of the card presented: its state now, refused unless active."""

    __slots__ = ("book", "exempt")

    def __init__(self, book: CardBook, exempt: Collection[int]) -> None:
        self.book = book
        self.exempt = frozenset(exempt)
        """Service codes not refused for their card (a desk replacing a frozen card)."""

    def refusal(self, txn: Transaction, now: float) -> Answer | None:
        """The refusal of the transaction's card at ``now``, or ``None`` if it may go on."""
        if txn.service in self.exempt:
            return None
        batch = txn.batch
        if batch is not None and batch.fraud[txn.row] == FraudKind.STOLEN:
            state = self.book.old_card(txn.holder, now)  # the thief holds the old card
        else:
            state = self.book.state(txn.holder, txn.card, now)
        return None if state is CardState.ACTIVE else _REFUSALS[state]


class KeyBook:
    """First answers by idempotency key, for the keys still in flight at one home platform."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[int, tuple[Answer, int]] = {}

    def get(self, key: int) -> tuple[Answer, int] | None:
        """(answer, fund share paid) for ``key``, if the platform has seen it."""
        return self._entries.get(key)

    def put(self, key: int, answer: Answer, fund_fen: int = 0) -> None:
        """Record the platform's (latest) word on ``key``."""
        self._entries[key] = (answer, fund_fen)

    def pop(self, key: int) -> tuple[Answer, int] | None:
        """Forget ``key``; returns what was recorded for it."""
        return self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


class SettleHandler:
    """The home platform's settlement step: filing check, eligibility, policy split."""

    __slots__ = (
        "book",
        "cards",
        "duplicates",
        "env",
        "node",
        "on_undo",
        "policy",
        "refuse_flagged",
        "refused_after_reversal",
        "rules",
        "service_times",
        "settled",
    )

    def __init__(
        self,
        env: simpy.Environment,
        node: Platform,
        policy: PolicyTable,
        service_times: list[Callable[[], float] | None],
    ) -> None:
        self.env = env
        self.node = node
        self.policy = policy
        self.service_times = service_times
        self.book = KeyBook()
        self.duplicates = 0
        """Settle requests answered from the book (retries of a key already decided)."""
        self.settled = 0
        """Settlements made (before any reversal)."""
        self.refused_after_reversal = 0
        """Settle requests that arrived after their key had been reversed."""
        self.on_undo: Callable[[Transaction, int, float], None] | None = None
        """Told (transaction, fund share, now) of every settlement undone, for the books."""
        self.cards: CardCheck | None = None
        """The card look-up, when the scenario has card states."""
        self.rules: HomeRules | None = None
        """The fraud detection rules, when the scenario has any."""
        self.refuse_flagged = True

    def service_time(self, msg: Message) -> float:
        """Settlement processing time of the transaction's service at this node (and its rules)."""
        draw = self.service_times[msg.exchange.txn.service]
        base = draw() if draw is not None else self.node.service_time()
        return base if self.rules is None else base + self.rules.cost_s

    def handle(self, msg: Message) -> None:
        """Decide once per key; a repeated key gets the first decision back."""
        txn = msg.exchange.txn
        entry = self.book.get(txn.id)
        if entry is not None:
            if entry[0] is Answer.REVERSED:
                self.refused_after_reversal += 1
            else:
                self.duplicates += 1
            msg.result = entry[0]
            return
        answer = self._decide(txn)
        self.book.put(txn.id, answer, txn.fund_fen if answer is Answer.SETTLED else 0)
        msg.result = answer

    def _decide(self, txn: Transaction) -> Answer:
        refused = self.cards.refusal(txn, self.env.now) if self.cards is not None else None
        if refused is not None:
            return refused
        if self.rules is not None:
            txn.flagged_by = self.rules.check(txn, self.env.now)
            if txn.flagged_by and self.refuse_flagged:
                return Answer.FLAGGED
        if txn.cross and not txn.filed:
            return Answer.NOT_FILED
        if txn.ineligible:
            return Answer.INELIGIBLE
        fund, personal = self.policy.split(
            txn.home, txn.service, txn.amount_fen, site=txn.site, scheme=txn.scheme,
            level=txn.level, holder=txn.holder, now=self.env.now,
        )  # fmt: skip
        txn.fund_fen = fund
        txn.personal_fen = personal
        txn.settled_at_s = self.env.now
        self.settled += 1
        return Answer.SETTLED

    def undo(self, txn: Transaction, fund_fen: int) -> None:
        """Take back a settlement: the holder's year to date loses its fund share.

        The books keep both: the fund share paid at the settlement and its reversal now.
        """
        now = self.env.now
        self.policy.undo(txn.holder, txn.service, fund_fen, now)
        if self.on_undo is not None:
            self.on_undo(txn, fund_fen, now)


class ReverseHandler:
    """The home platform's reversal step (冲正): undo a settlement, or bar one to come."""

    __slots__ = ("before_settlement", "reversed", "settler")

    def __init__(self, settler: SettleHandler) -> None:
        self.settler = settler
        self.reversed = 0
        """Settlements undone by a reversal."""
        self.before_settlement = 0
        """Reversals that found no settlement (the key is barred from settling later)."""

    def service_time(self, _msg: Message) -> float:
        """A reversal takes the node's own service time."""
        return self.settler.node.service_time()

    def handle(self, msg: Message) -> None:
        """Undo the key's settlement if there is one; either way the key is reversed."""
        txn = msg.exchange.txn
        book = self.settler.book
        entry = book.get(txn.id)
        if entry is not None and entry[0] is Answer.SETTLED:
            self.settler.undo(txn, entry[1])
            self.reversed += 1
        elif entry is None:
            self.before_settlement += 1
        if entry is None or entry[0] is Answer.SETTLED:
            book.put(txn.id, Answer.REVERSED)
        msg.result = Answer.REVERSED


class VerifyHandler:
    """A verification at a node (the card platform's QR check, a home platform's card check).

    Valid unless the scenario has card states and the card is not active; it takes
    the node's own service time.
    """

    __slots__ = ("cards", "node", "refuse_flagged", "rules")

    def __init__(self, node: Platform) -> None:
        self.node = node
        self.cards: CardCheck | None = None
        """The card look-up, when the scenario has card states."""
        self.rules: QrRule | None = None
        """The card platform's QR single-use rule, when the scenario runs it."""
        self.refuse_flagged = True

    def service_time(self, _msg: Message) -> float:
        """Verification time at the node (and its rule's)."""
        base = self.node.service_time()
        return base if self.rules is None else base + self.rules.cost_s

    def handle(self, msg: Message) -> None:
        """Mark the code verified, or refused for the card's state."""
        txn, now, cards = msg.exchange.txn, self.node.env.now, self.cards
        refused = cards.refusal(txn, now) if cards is not None else None
        if refused is None and self.rules is not None:
            txn.flagged_by = self.rules.check(txn, now)
            if txn.flagged_by and self.refuse_flagged:
                refused = Answer.FLAGGED
        msg.result = Answer.VERIFIED if refused is None else refused

"""A province's bank node on payday: lands credits one after another, a block per event.

The fund's batches (:class:`PayoutBatch`) queue first come first served; the
node lands their credits back to back at its throughput ``R``, so credit *j* of
a block begun at ``b`` starts at ``b + j/R`` and lands at ``b + (j+1)/R``. One
SimPy event covers a block of :data:`BLOCK_CREDITS` credits, but the figures are
kept per credit (:class:`CreditQueueStats`): each credit waits from its batch's
send to its own start, and leaves the queue then, so waits, the queue's time
integral and Little's law are those of the credits, at any scale. An outage stops
the node at once: the credit in service lands, the rest of the block waits for
the recovery with the queued batches (the fund's files are durable).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final, Protocol

import attrs
import numpy as np
import numpy.typing as npt

from sim.engine.kernel import Environment, call_later
from sim.engine.stations import StationStats
from sim.outputs.recorder import TransactionRecorder
from sim.world.domain import Channel, Outcome, Reason
from sim.world.population import Column

__all__ = ["BLOCK_CREDITS", "BankNode", "CreditQueueStats", "PayoutBatch"]

BLOCK_CREDITS = 4096
"""Credits a bank node lands per simulation event."""

Floats = npt.NDArray[np.float64]
_NONE = np.zeros(0, dtype=np.float64)


class LandingRegistry(Protocol):
    """When each recipient's latest credit is due and lands (:class:`.Recipients`)."""

    due_s: Floats
    landed_s: Floats


@attrs.define(eq=False)
class PayoutBatch:
    """One scheme's credits for one province: recipients in landing order and amounts."""

    name: str
    province: int
    service: int
    scheme: int
    holders: npt.NDArray[np.int64]
    amounts: npt.NDArray[np.int64]
    rows: npt.NDArray[np.int64]
    """Positions of the recipients in :attr:`Recipients.ids` (for the landing registry)."""
    sent_s: float = -1.0
    begun_s: float = -1.0
    done: int = 0
    """Credits taken into a block that will land (the next block starts from here)."""
    last_landed_s: float = -1.0
    """When the batch's latest credit landed (or will, once its block is recorded)."""


CREDIT_QUEUE_SLOTS: Final = (
    "block_ends",
    "block_sent",
    "block_starts",
    "landed",
    "pending",
    "started",
)
"""The attributes of :class:`CreditQueueStats` (a compiled class has no ``__slots__`` to read)."""


class CreditQueueStats(StationStats):
    """A bank node's figures, per credit, although the node moves a block per event.

    Besides the queued batches (``pending``: credits not yet in a block and their
    send time), it knows the block in progress (its credits' start times), so
    :meth:`advance` can count exactly the credits that started since the last
    call: their waits, the queue falling one credit at a time, their landings.
    """

    __slots__ = CREDIT_QUEUE_SLOTS

    def __init__(self, name: str, kind: str, province: str = "", service: str = "") -> None:
        super().__init__(name, kind, province, service)
        self.block_starts: Floats = _NONE
        self.block_ends: Floats = _NONE
        self.block_sent = 0.0
        self.started = 0
        """Credits of the block in progress whose start has been counted."""
        self.landed = 0
        """Credits of the block in progress whose landing has been counted."""
        self.pending: tuple[tuple[int, float], ...] = ()
        """(credits, send time) of the queued batches' credits not yet in a block."""

    def copy_into(self, clone: StationStats) -> None:
        """Copy these figures into ``clone`` (:meth:`StationStats.__copy__`), its own too."""
        super().copy_into(clone)
        for name in CREDIT_QUEUE_SLOTS:
            setattr(clone, name, getattr(self, name))

    def advance(self, now: float) -> None:
        """Accumulate up to ``now``, counting the block's credits that started by then."""
        super().advance(now)  # the queue as it was at the last call, up to now
        starts = self.block_starts
        j0 = self.started
        j1 = int(starts.searchsorted(now, side="right"))
        if j1 > j0:
            begun = starts[j0:j1]  # all after the last call: it counted those before it
            self.queue_area -= float((now - begun).sum())  # each left the queue at its start
            self.queue -= j1 - j0
            self.waits.frombytes((begun - self.block_sent).astype(np.float32).tobytes())
            self.started = j1
        k1 = int(self.block_ends.searchsorted(now, side="right"))
        self.completions += k1 - self.landed
        self.landed = k1

    def receive(self, credits: int, now: float) -> None:
        """A batch of ``credits`` sent at ``now`` joins the queue (see :meth:`peak`)."""
        self.advance(now)
        self.arrivals += credits
        self.queue += credits
        self.pending = (*self.pending, (credits, now))

    def peak(self) -> None:
        """Note the queue's length as a peak, once a credit that starts at once has started."""
        self.max_queue = max(self.max_queue, self.queue)

    def start_block(self, starts: Floats, ends: Floats, sent_s: float, now: float) -> None:
        """A block of credits starting at ``starts`` and landing at ``ends`` begins at ``now``."""
        self.advance(now)
        self.take_pending(starts.size)
        self.block_starts, self.block_ends, self.block_sent = starts, ends, sent_s
        self.started = self.landed = 0
        self.busy = 1
        self.advance(now)  # the block's first credit starts at once

    def idle(self, now: float) -> None:
        """No block in progress from ``now`` (nothing queued, or the node is down)."""
        self.advance(now)
        self.busy = 0
        self.block_starts = self.block_ends = _NONE
        self.started = self.landed = 0

    def cut_block(self, now: float) -> int:
        """An outage at ``now``: the credits of the block not yet started go back to the queue.

        Returns how many went back; the block keeps those that started.
        """
        self.advance(now)
        kept = self.started
        back = self.block_starts.size - kept
        if back:
            self.pending = ((back, self.block_sent), *self.pending)
            self.block_starts = self.block_starts[:kept]
            self.block_ends = self.block_ends[:kept]
        return back

    def end_block(self) -> None:
        """The block's end event: count its landings (the event may round to before the last)."""
        self.completions += self.block_ends.size - self.landed
        self.landed = self.block_ends.size

    def take_pending(self, n: int) -> None:
        """``n`` credits leave the queued batches for a block (oldest first)."""
        pending = list(self.pending)
        while n:
            count, sent = pending[0]
            used = min(count, n)
            n -= used
            if used == count:
                pending.pop(0)
            else:
                pending[0] = (count - used, sent)
        self.pending = tuple(pending)

    def open_wait(self, now: float) -> float:
        """How long the credits still queued at ``now`` have waited so far."""
        waiting = (self.block_starts.size - self.started) * (now - self.block_sent)
        return float(waiting + sum(n * (now - sent) for n, sent in self.pending))


class BankNode:
    """A province's bank node: lands the credits of its batches in order, a block per event."""

    def __init__(
        self,
        env: Environment,
        province: str,
        credits_per_s: float,
        recorder: TransactionRecorder,
        recipients: LandingRegistry,
        card_kind: Column,
    ) -> None:
        self.env = env
        self.card_kind = card_kind
        self.rate = credits_per_s
        """Credits landed per second, at the run's scale."""
        self.recorder = recorder
        self.recipients = recipients
        self.stats = CreditQueueStats(f"node:bank:{province}", "node", province, "pension_payout")
        self.stats.servers = 1
        self.queue: deque[PayoutBatch] = deque()
        self.history: list[PayoutBatch] = []
        self.busy = False
        self.down = False
        """An outage pauses the node: batches wait (the fund's files are durable)."""
        self._block: tuple[PayoutBatch, int] | None = None
        """The block in progress, not yet recorded: its batch and its first credit."""
        self._epoch = 0
        """Counts failures: a block end scheduled before the latest failure is void."""

    def fail(self) -> None:
        """Stop landing credits now: the credit in service lands, the others wait."""
        self.down = True
        if self._block is None:
            return
        now = self.env.now
        stats = self.stats
        batch, first = self._block
        if stats.cut_block(now):
            kept = stats.started
            self.recipients.landed_s[batch.rows[first + kept : batch.done]] = np.inf
            batch.done = first + kept
        self._record_block()
        self._epoch += 1
        ends_at = float(stats.block_ends[-1])
        call_later(self.env, max(ends_at - now, 0.0), self._next_block, self._epoch, batch.service)

    def recover(self) -> None:
        """Resume landing credits where the node stopped."""
        self.down = False
        if not self.busy:
            self._start_block(self.env.now)

    def receive(self, event: Any) -> None:
        """The fund's batch arrives: its credits are due and wait their turn."""
        batch: PayoutBatch = event.value
        now = self.env.now
        batch.sent_s = now
        self.recipients.due_s[batch.rows] = now
        self.recipients.landed_s[batch.rows] = np.inf
        self.history.append(batch)
        self.queue.append(batch)
        self.stats.receive(int(batch.holders.size), now)
        if not self.busy:
            self._start_block(now)
        self.stats.peak()

    def _next_block(self, event: Any) -> None:
        """A block has landed: record it and begin the next (unless the block was cut short)."""
        if event.value != self._epoch:
            return  # the block was cut short by a failure; its new end is scheduled
        now = self.env.now
        stats = self.stats
        stats.advance(now)
        stats.end_block()
        self._record_block()
        self._start_block(now)

    def _start_block(self, now: float) -> None:
        stats = self.stats
        while self.queue and self.queue[0].done == self.queue[0].holders.size:
            self.queue.popleft()
        if not self.queue or self.down:
            self.busy = False
            stats.idle(now)
            return
        batch = self.queue[0]
        if batch.begun_s < 0:
            batch.begun_s = now
        first = batch.done
        last = min(first + BLOCK_CREDITS, batch.holders.size)
        n = last - first
        # Back to back from now: the same as from the batch start unless an outage paused it.
        landing = now + np.arange(1, n + 1, dtype=np.float64) / self.rate
        self.recipients.landed_s[batch.rows[first:last]] = landing
        stats.start_block(np.maximum(landing - 1.0 / self.rate, now), landing, batch.sent_s, now)
        batch.done = last
        self._block = (batch, first)
        self.busy = True
        end_s = max(float(landing[-1]) - now, 0.0)
        call_later(self.env, end_s, self._next_block, self._epoch, batch.service)

    def _record_block(self) -> None:
        """Record the credits of the block in progress (all of it, or what an outage left)."""
        if self._block is None:
            return
        batch, first = self._block
        self._block = None
        starts, ends = self.stats.block_starts, self.stats.block_ends
        n = ends.size
        if n == 0:
            return
        last = first + n
        holders = batch.holders[first:last]
        batch.last_landed_s = float(ends[-1])
        self.recorder.record_block(
            {
                "service": np.full(n, batch.service, dtype=np.uint8),
                "home": np.full(n, batch.province),
                "site": np.full(n, batch.province),
                "holder": holders,
                "card": self.card_kind[holders],
                "scheme": np.full(n, batch.scheme, dtype=np.uint8),
                "channel": np.full(n, Channel.BANK, dtype=np.uint8),
                "arrival_s": np.full(n, batch.sent_s),
                "start_s": starts,
                "end_s": ends,
                "settle_s": ends - batch.sent_s,
                "leave_s": np.full(n, -1.0),
                "outcome": np.full(n, Outcome.SETTLED, dtype=np.uint8),
                "reason": np.full(n, Reason.NONE, dtype=np.uint8),
                "attempts": np.ones(n),
                "amount_fen": batch.amounts[first:last],
                "fund_fen": batch.amounts[first:last],
                "personal_fen": np.zeros(n, np.int64),
            }
        )

"""The arrival feed: puts each batch's arrivals on the event queue, one at a time.

Only the next arrival is ever scheduled, so the event queue stays small however
many arrivals an hour holds. Each arrival becomes a :class:`Transaction` handed
to its service's ``arrive``; a batch is drawn when its hour begins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sim.engine.kernel import Environment, call_later
from sim.outputs.recorder import TransactionRecorder
from sim.world.demand import ArrivalBatch
from sim.world.transaction import Transaction

__all__ = ["ArrivalFeed"]


class ArrivalFeed:
    """Feeds arrival batches into the services, in time order."""

    def __init__(
        self,
        env: Environment,
        batches: Iterator[ArrivalBatch],
        recorder: TransactionRecorder,
        handlers: Sequence[Callable[[Transaction], None] | None],
    ) -> None:
        self.env = env
        self.batches = batches
        self.recorder = recorder
        self.handlers = handlers
        self.arrived = 0
        self.exhausted = False
        self._batch: ArrivalBatch | None = None
        self._columns: tuple[list[Any], ...] = ()
        self._next = 0

    def start(self) -> None:
        """Schedule the first batch at the current time."""
        call_later(self.env, 0.0, self._open_batch, None)

    def _open_batch(self, _event: Any) -> None:
        batch = next(self.batches, None)
        if batch is None:
            self.exhausted = True
            return
        self._batch = batch
        self.recorder.open(batch)
        self._columns = (
            batch.time_s.tolist(),
            batch.service.tolist(),
            batch.site.tolist(),
            batch.home.tolist(),
            batch.card.tolist(),
            batch.filed.tolist(),
            batch.ineligible.tolist(),
            batch.amount_fen.tolist(),
            batch.point.tolist(),
            batch.holder.tolist(),
            batch.scheme.tolist(),
            batch.level.tolist(),
        )
        self._next = 0
        self._schedule_next()

    def _schedule_next(self) -> None:
        batch = self._batch
        assert batch is not None
        now = self.env.now
        if self._next < batch.size:
            i = self._next  # an arrival is its service's first event
            call_later(
                self.env, self._columns[0][i] - now, self._arrive, None, self._columns[1][i]
            )
        else:
            call_later(self.env, max(batch.t1_s - now, 0.0), self._open_batch, None)

    def _arrive(self, _event: Any) -> None:
        i = self._next
        batch = self._batch
        assert batch is not None
        (times, service, site, home, card, filed, ineligible, amount, point, holder, scheme,
         level) = self._columns  # fmt: skip
        txn = Transaction(batch.first_id + i, batch, i, service[i], site[i], home[i], card[i],
                          filed[i], ineligible[i], amount[i], times[i])  # fmt: skip
        txn.point = point[i]
        txn.holder = holder[i]
        txn.scheme = scheme[i]
        txn.level = level[i]
        self.arrived += 1
        self._next = i + 1
        self._schedule_next()
        handler = self.handlers[service[i]]
        assert handler is not None, "arrival for a service that is not simulated"
        handler(txn)

"""Carrying out the scenario's faults, and measuring the run inside their windows.

Each fault is a small SimPy process that waits for its moment, breaks something
and, after its duration, mends it: a settlement node goes down (what it held is
lost), a bank node stops landing credits, a class of links adds latency or loses
messages, two nodes are partitioned, a province's transit readers stop uploading.
Random outages draw exponential up- and down-times from their own stream.
:func:`window_figures` then compares throughput, fallbacks and latency inside each
fault window with the equally long stretches just before and after it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import simpy

from sim.engine.streams import Streams
from sim.network.nodes import Network, Platform
from sim.outputs.metrics import percentiles
from sim.scenario.faults import FaultsSpec

__all__ = ["Failable", "FaultInjector", "window_figures"]


class Failable(Protocol):
    """Something other than a settlement node that can be taken down (a bank node)."""

    def fail(self) -> None:
        """Stop working."""
        ...

    def recover(self) -> None:
        """Work again."""
        ...


class ReaderControl(Protocol):
    """Transit gates whose uploads can be suspended per province."""

    def readers_offline(self, province: int, start_s: float, end_s: float) -> None:
        """No uploads from the province's readers in ``[start_s, end_s)``."""
        ...


class FaultInjector:
    """Schedules every fault of a scenario on one run's components."""

    def __init__(
        self,
        env: simpy.Environment,
        spec: FaultsSpec,
        network: Network,
        province_ids: tuple[str, ...],
        others: dict[str, Failable],
        readers: ReaderControl | None,
        streams: Streams,
        horizon_s: float,
    ) -> None:
        self.env = env
        self.spec = spec
        self.network = network
        self.ids = province_ids
        self.others = others
        self.readers = readers
        self.rng = streams.generator("faults")
        self.horizon_s = horizon_s
        self.failures: list[tuple[str, float, float]] = []
        """(node, down at, up at) of every outage that happened, fixed or random."""

    def _target(self, name: str) -> Platform | Failable:
        if name == "national":
            return self.network.national
        if name == "card_platform":
            return self.network.card_platform
        if name in self.ids:
            return self.network.provincial[self.ids.index(name)]
        return self.others[name]

    def start(self) -> None:
        """Start a process per fault (validation has checked every name)."""
        env = self.env
        for outage in self.spec.outages:
            env.process(self._outage(outage.node, float(outage.at), float(outage.duration)))
        for random in self.spec.random_outages:
            env.process(self._random(random.node, float(random.mtbf), float(random.mttr)))
        for link in self.spec.links:
            duration = None if link.duration is None else float(link.duration)
            env.process(self._link(link.link, link.loss, float(link.added_latency),
                                   float(link.at), duration))  # fmt: skip
        for part in self.spec.partitions:
            pair = frozenset(self._target(n) for n in part.between)
            env.process(self._partition(pair, float(part.at), float(part.duration)))  # type: ignore[arg-type]
        for reader in self.spec.readers:
            if self.readers is not None:
                start = float(reader.at)
                self.readers.readers_offline(self.ids.index(reader.province), start,
                                             start + float(reader.duration))  # fmt: skip

    def _down(self, name: str) -> None:
        target = self._target(name)
        if isinstance(target, Platform):
            self.network.fail(target)
        else:
            target.fail()

    def _up(self, name: str) -> None:
        target = self._target(name)
        if isinstance(target, Platform):
            self.network.recover(target)
        else:
            target.recover()

    def _outage(self, name: str, at: float, duration: float) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(at)
        self._down(name)
        self.failures.append((name, at, at + duration))
        yield self.env.timeout(duration)
        self._up(name)

    def _random(self, name: str, mtbf: float, mttr: float) -> Generator[simpy.Event, Any, None]:
        env = self.env
        while True:
            yield env.timeout(float(self.rng.exponential(mtbf)))
            if env.now >= self.horizon_s:
                return  # no new failures once arrivals have stopped
            down_for = float(self.rng.exponential(mttr))
            self._down(name)
            self.failures.append((name, env.now, env.now + down_for))
            yield env.timeout(down_for)
            self._up(name)

    def _link(
        self, kind: str, loss: float, added_s: float, at: float, duration: float | None
    ) -> Generator[simpy.Event, Any, None]:
        state = self.network.link_states[kind]
        yield self.env.timeout(at)
        self.network.catch_up(self.env.now)  # background messages before now see the old state
        state.loss = 1.0 - (1.0 - state.loss) * (1.0 - loss)  # faults on one class compound
        state.added_s += added_s
        if duration is None:
            return
        yield self.env.timeout(duration)
        self.network.catch_up(self.env.now)
        state.loss = 0.0 if loss >= 1.0 else 1.0 - (1.0 - state.loss) / (1.0 - loss)
        state.added_s -= added_s

    def _partition(
        self, pair: frozenset[Platform], at: float, duration: float
    ) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(at)
        self.network.catch_up(self.env.now)
        self.network.partitions.add(pair)
        yield self.env.timeout(duration)
        self.network.catch_up(self.env.now)
        self.network.partitions.discard(pair)

    def outages(self) -> list[dict[str, Any]]:
        """Every outage that happened, for the summary."""
        return [{"node": n, "down_s": a, "up_s": b} for n, a, b in self.failures]


def window_figures(
    columns: dict[str, npt.NDArray[Any]],
    windows: list[tuple[str, float, float]],
    settled_code: int,
    fallback_code: int,
    timeout_reasons: tuple[int, ...],
    horizon_s: float = float("inf"),
) -> list[dict[str, Any]]:
    """Per fault window: the window itself and equally long stretches before and after.

    Each stretch reports arrivals, settled per hour, fallbacks (all, and those
    caused by faults: timeouts), and the settlement latency of what settled.
    ``columns`` are numpy columns of the transactions that have a settlement
    (arrival_s, outcome, reason, settle_latency_s).
    """
    arrival = columns["arrival_s"]
    out = []
    for label, start, end in windows:
        length = end - start
        stretches = {"before": (start - length, start), "during": (start, end),
                     "after": (end, end + length)}  # fmt: skip
        figures: dict[str, Any] = {"fault": label, "from_s": start, "to_s": end}
        for name, (a, b) in stretches.items():
            if a < 0.0 or b > horizon_s + 1e-9:
                figures[name] = None  # the stretch lies outside the run (a fault over it all)
                continue
            mine = (arrival >= a) & (arrival < b)
            outcome = columns["outcome"][mine]
            hours = max(min(b, float(arrival.max(initial=b))) - max(a, 0.0), 1e-9) / 3600.0
            settled = outcome == settled_code
            fallback = outcome == fallback_code
            by_fault = fallback & np.isin(columns["reason"][mine], timeout_reasons)
            figures[name] = {
                "from_s": a, "to_s": b, "arrivals": int(mine.sum()),
                "settled_per_hour": int(settled.sum()) / hours,
                "fallbacks": int(fallback.sum()),
                "fallbacks_by_faults": int(by_fault.sum()),
                "fallback_share": float(fallback.mean()) if mine.any() else None,
                "settle_latency_s": percentiles(columns["settle_latency_s"][mine][settled]),
            }  # fmt: skip
        out.append(figures)
    return out

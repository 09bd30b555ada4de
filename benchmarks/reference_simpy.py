"""A plain, idiomatic SimPy model of the cross-province settlement path, for comparison.

This is how the model would be written by the book: one ``Process`` per
transaction, one ``simpy.Resource`` per service point and settlement node, a
``Timeout`` per link and per service, no recording and no domain logic. The
benchmark in ``test_reference.py`` feeds it the same arrival stream as the full
model and compares transactions per CPU-second. Everything it is given is plain
Python (floats and ints, not numpy scalars): a numpy float64 arrival time would
become SimPy's clock, and every ``now + delay`` after it would be numpy
arithmetic, slowing the reference by 4-13% and flattering the full model.

Path of every transaction: point counter (service) → treatment platform →
national platform → home platform → national platform → treatment platform →
point; six links and five node visits, as in :mod:`sim.network.nodes`.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import numpy as np
import simpy


class Reference:
    """The reference model: Resources for points and nodes, a process per transaction."""

    def __init__(
        self,
        points_per_province: Sequence[int],
        point_capacity: int,
        provincial_servers: int,
        national_servers: int,
        seed: int = 1,
    ) -> None:
        self.env = simpy.Environment()
        self.rng = np.random.default_rng(seed)
        self.points = [[simpy.Resource(self.env, point_capacity) for _ in range(n)]
                       for n in points_per_province]  # fmt: skip
        self.provincial = [simpy.Resource(self.env, provincial_servers)
                           for _ in points_per_province]  # fmt: skip
        self.national = simpy.Resource(self.env, national_servers)
        self.completed = 0

    def transaction(
        self, site: int, home: int, point: int, times: Sequence[float]
    ) -> Generator[simpy.Event, Any, None]:
        """One transaction: hold a counter for its service and the settlement round trip."""
        env = self.env
        point_service, link, provincial, national, settle = times
        with self.points[site][point].request() as counter:
            yield counter
            yield env.timeout(point_service)
            for node, service in (
                (self.provincial[site], provincial),
                (self.national, national),
                (self.provincial[home], settle),
                (self.national, national),
                (self.provincial[site], provincial),
            ):
                yield env.timeout(link)
                with node.request() as server:
                    yield server
                    yield env.timeout(service)
            yield env.timeout(link)
        self.completed += 1

    def source(
        self, arrivals: list[float], sites: list[int], homes: list[int], points: list[int],
        times: list[list[float]],
    ) -> Generator[simpy.Event, Any, None]:  # fmt: skip
        """Start a transaction at each arrival time."""
        env = self.env
        for arrival, site, home, point, steps in zip(arrivals, sites, homes, points, times,
                                                     strict=True):  # fmt: skip
            yield env.timeout(arrival - env.now)
            env.process(self.transaction(site, home, point, steps))

    def run(
        self, arrivals: np.ndarray, sites: np.ndarray, homes: np.ndarray, points: np.ndarray,
        means: tuple[float, float, float, float, float],
    ) -> int:  # fmt: skip
        """Run the stream to the end; returns the number of completed transactions."""
        times = self.rng.exponential(means, size=(arrivals.size, len(means))).tolist()
        self.env.process(self.source(arrivals.tolist(), sites.tolist(), homes.tolist(),
                                     points.tolist(), times))  # fmt: skip
        self.env.run()
        assert type(self.env.now) is float, "the reference's clock must be a Python float"
        return self.completed

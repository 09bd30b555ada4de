"""Kernel costs: one transaction through a service point, one settlement hop, one record.

Each benchmark times a batch of N operations on fresh state; divide the time by N
for the cost of one (the figures in benchmarks/README.md are per operation).
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.engine.kernel import Environment, call_later, run_until
from sim.engine.stations import Station, StationStats
from sim.engine.streams import Streams
from sim.money.policy import PolicyTable
from sim.network.nodes import Network
from sim.network.protocol import Protocol
from sim.scenario.families import SERVICES
from sim.scenario.schema import (
    SERVICE_NAMES,
    Constant,
    LinkSpec,
    NetworkSpec,
    NodeSpec,
    PolicyRule,
    PolicySpec,
)
from sim.world.provinces import load_provinces
from sim.world.transaction import Transaction

N = 20_000


def _through_a_point() -> int:
    """N jobs arrive one per second at a 2-server station, each served for 0.5 s."""
    env = Environment(tags=len(SERVICES))
    station = Station(env, 2, StationStats("p", "point"))
    done = [0]

    def served(_event: object) -> None:
        station.release()
        done[0] += 1

    def start(job: int) -> None:
        call_later(env, 0.5, served, job)

    def arrive(event: object) -> None:
        i = event.value  # type: ignore[attr-defined]
        if i + 1 < N:
            call_later(env, 1.0, arrive, i + 1)
        station.request(i, start)

    call_later(env, 0.0, arrive, 0)
    run_until(env)
    return done[0]


@pytest.mark.benchmark(group="kernel")
def test_transaction_through_a_service_point(benchmark) -> None:
    """Arrival event, queue, service event, release: per transaction ≈ time / N."""
    assert benchmark(_through_a_point) == N


def _settlement_hops() -> int:
    """N local settlements (one platform visit, two links) through the protocol."""
    env = Environment(tags=len(SERVICES))
    ids = load_provinces().ids
    spec = NetworkSpec(provincial=NodeSpec(8, Constant(0.02)), access=LinkSpec(Constant(0.01)))
    network = Network(env, spec, ids, Streams(1))
    rule = PolicyRule(0.7)
    policy = PolicyTable(PolicySpec(default={"medical_inpatient": rule}), ids, SERVICE_NAMES)
    protocol = Protocol(env, network, policy, [None] * len(SERVICE_NAMES))
    answered = [0]

    def done(_txn: Transaction, _answer: object) -> None:
        answered[0] += 1

    def arrive(event: object) -> None:
        i = event.value  # type: ignore[attr-defined]
        if i + 1 < N:
            call_later(env, 0.05, arrive, i + 1)
        txn = Transaction(i, None, i, 1, i % 31, i % 31, 0, True, False, 100_000, env.now)
        protocol.settle(txn, done)

    call_later(env, 0.0, arrive, 0)
    run_until(env)
    return answered[0]


@pytest.mark.benchmark(group="kernel")
def test_one_settlement_hop(benchmark) -> None:
    """A settlement request and its answer over one platform (3 events), per ≈ time / N."""
    assert benchmark(_settlement_hops) == N


@pytest.mark.benchmark(group="kernel")
def test_one_recorder_append(benchmark, tmp_path) -> None:
    """Recording N ended transactions of one batch (the per-transaction part of recording)."""
    from sim.outputs.recorder import TransactionFile, TransactionRecorder
    from sim.world.demand import ArrivalBatch

    zeros = np.zeros(N, dtype=np.int64)
    small = np.zeros(N, dtype=np.uint8)

    def setup() -> tuple[tuple[TransactionRecorder, list[Transaction]], dict[str, object]]:
        batch = ArrivalBatch(0, 0.0, 1.0, 0, np.linspace(0, 1, N), small, zeros, zeros, zeros,
                             small, small, np.ones(N, bool), np.zeros(N, bool), zeros + 100,
                             zeros, small, small)  # fmt: skip
        recorder = TransactionRecorder()
        sink = TransactionFile(tmp_path / f"t{np.random.randint(1 << 30)}.parquet", ["AA"])
        recorder.subscribe(sink.write)
        recorder.open(batch)
        txns = [Transaction(i, batch, i, 0, 0, 0, 0, True, False, 100, 0.0) for i in range(N)]
        return (recorder, txns), {}

    def record(recorder: TransactionRecorder, txns: list[Transaction]) -> int:
        for txn in txns:
            recorder.finish(txn)
        recorder.close()
        return recorder.rows_written

    assert benchmark.pedantic(record, setup=setup, rounds=5) == N

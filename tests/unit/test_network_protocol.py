"""Routes, message timing, timeouts, retries and idempotent settlement.

Constant service times and latencies make every response time exact, so the
tests can state the expected timeline of each message.
"""

from __future__ import annotations

import pytest

from sim.engine.kernel import Environment, call_later
from sim.engine.streams import Streams
from sim.money.policy import PolicyTable
from sim.network.nodes import Network, Role
from sim.network.protocol import Answer, Protocol
from sim.network.settlement import KeyBook
from sim.scenario.schema import (
    SERVICE_NAMES,
    Constant,
    LinkSpec,
    NetworkSpec,
    NodeSpec,
    PolicyRule,
    PolicySpec,
    RetrySpec,
)
from sim.world.domain import Outcome
from sim.world.transaction import Transaction

PROVINCES = ("AA", "BB", "CC")
INPATIENT = SERVICE_NAMES.index("medical_inpatient")


def _spec(provincial_s: float = 0.1, timeout_s: float = 3.0, retries: int = 2) -> NetworkSpec:
    return NetworkSpec(
        provincial=NodeSpec(1, Constant(provincial_s)),
        national=NodeSpec(1, Constant(0.05)),
        card_platform=NodeSpec(1, Constant(0.005)),
        access=LinkSpec(Constant(0.01)),
        backbone=LinkSpec(Constant(0.02)),
        timeout=timeout_s,
        retry=RetrySpec(max=retries, backoff=0.5),
    )


def _protocol(env: Environment, spec: NetworkSpec) -> Protocol:
    network = Network(env, spec, PROVINCES, Streams(1))
    rule = PolicyRule(ratio=0.7, deductible=80000, ceiling=None)
    policy = PolicyTable(PolicySpec(default={"medical_inpatient": rule}), PROVINCES, SERVICE_NAMES)
    return Protocol(env, network, policy, [None] * len(SERVICE_NAMES))


def _txn(site: int, home: int, *, filed: bool = True, ineligible: bool = False) -> Transaction:
    return Transaction(7, None, 0, INPATIENT, site, home, 0, filed, ineligible, 1_000_000, 0.0)


def _settle(env: Environment, protocol: Protocol, txn: Transaction) -> list[tuple]:
    answers: list[tuple] = []
    protocol.settle(txn, lambda t, answer: answers.append((env.now, answer, t.attempts)))
    env.run()
    return answers


def test_local_route_visits_own_platform_once(env: Environment) -> None:
    """Local settlement: point → own platform (settles) → point."""
    network = Network(env, _spec(), PROVINCES, Streams(1))
    route = network.settlement_route(1, 1)
    assert [n.name for n in route.nodes] == ["node:BB"]
    assert route.roles == (Role.SETTLE,)
    assert len(route.links) == 2


def test_cross_route_goes_through_national_and_home(env: Environment) -> None:
    """Cross-province: treatment → national → home (settles) → national → treatment."""
    network = Network(env, _spec(), PROVINCES, Streams(1))
    route = network.settlement_route(0, 2)
    names = [n.name for n in route.nodes]
    assert names == ["node:AA", "node:national", "node:CC", "node:national", "node:AA"]
    assert route.roles == (Role.FORWARD, Role.FORWARD, Role.SETTLE, Role.FORWARD, Role.FORWARD)
    assert len(route.links) == 6


def test_local_settlement_response_time_is_links_plus_service(env: Environment) -> None:
    """0.01 access + 0.1 platform + 0.01 access = 0.12 s, settled in one attempt."""
    protocol = _protocol(env, _spec())
    txn = _txn(1, 1)
    [(t, answer, attempts)] = _settle(env, protocol, txn)
    assert t == pytest.approx(0.12)
    assert (answer, attempts) == (Answer.SETTLED, 1)
    assert (txn.fund_fen, txn.personal_fen) == (644_000, 356_000)  # 70% of (10000 − 800) yuan


def test_cross_settlement_response_time_sums_six_links_and_five_visits(
    env: Environment,
) -> None:
    """2 × 0.01 access + 4 × 0.02 backbone + 3 × 0.1 platform + 2 × 0.05 national = 0.5 s."""
    protocol = _protocol(env, _spec())
    [(t, answer, _)] = _settle(env, protocol, _txn(0, 2))
    assert t == pytest.approx(0.5)
    assert answer is Answer.SETTLED


def test_home_platform_answers_not_filed_and_ineligible(env: Environment) -> None:
    """The home platform refuses unfiled cross-province cases and ineligible holders."""
    protocol = _protocol(env, _spec())
    [(_, unfiled, _)] = _settle(env, protocol, _txn(0, 2, filed=False))
    [(_, ineligible, _)] = _settle(env, protocol, _txn(1, 1, ineligible=True))
    assert (unfiled, ineligible) == (Answer.NOT_FILED, Answer.INELIGIBLE)


def test_retry_uses_same_key_and_never_settles_twice(env: Environment) -> None:
    """A slow platform: attempt 1 times out, attempt 2 is sent; attempt 1's late answer
    settles the exchange, and attempt 2 is answered from the idempotency cache."""
    protocol = _protocol(env, _spec(provincial_s=5.0))
    [(t, answer, attempts)] = _settle(env, protocol, _txn(1, 1))
    # Attempt 1: served 0.01–5.01, answer back at 5.02 (after its 3 s timer and the retry).
    assert t == pytest.approx(5.02)
    assert (answer, attempts) == (Answer.SETTLED, 2)
    settler = protocol.settlers[1]
    assert (settler.settled, settler.duplicates) == (1, 1)
    assert protocol.late_responses == 1  # attempt 2's answer, after the exchange ended
    assert protocol.late_settlements == 0


def test_out_of_retries_reverses_before_falling_back(env: Environment) -> None:
    """Every attempt outlives the timeout: the requester gives up after 1 + max retries,
    reverses (5 attempts, none answered in time), then falls back. The settlement the
    platform makes later is undone by the reversal that reaches it after, and the late
    success is counted, never kept."""
    protocol = _protocol(env, _spec(provincial_s=20.0, timeout_s=1.0, retries=1))
    txn = _txn(1, 1)
    [(t, answer, attempts)] = _settle(env, protocol, txn)
    assert (answer, attempts) == (Answer.TIMEOUT, 2)
    # settle: timer, backoff, timer (2.5 s); reversal: 5 timers and 4 backoffs (7 s).
    assert t == pytest.approx(2.5 + 5 * 1.0 + 4 * 0.5)
    counters = protocol.counters()
    assert counters["retries"] == 1 + 4
    assert (counters["reversals_sent"], counters["reversals_unacknowledged"]) == (1, 1)
    assert protocol.settlers[1].settled == 1  # made at 20 s, after the patient left
    assert counters["settlements_reversed"] == 1  # undone by the first reversal to arrive
    assert counters["late_settlements"] >= 1
    _close(protocol, txn)
    assert all(protocol.books().values())
    assert protocol.kept_by_homes == protocol.settled_by_requesters == 0


def test_reversal_undoes_a_settlement_whose_answer_was_lost(env: Environment) -> None:
    """Cross-province: the home platform settles, the national platform fails before the
    answer passes back, retries are lost too; after recovery the reversal undoes the
    settlement and the holder's year to date is restored."""
    protocol = _protocol(env, _spec())
    network = protocol.network

    def outage(_ev: object) -> None:
        network.fail(network.national)
        call_later(env, 9.8, lambda _e: network.recover(network.national), None)

    call_later(env, 0.2, outage, None)  # the request passed national at 0.18 s
    txn = _txn(0, 2)
    [(_, answer, attempts)] = _settle(env, protocol, txn)
    assert (answer, attempts) == (Answer.TIMEOUT, 3)
    counters = protocol.counters()
    assert (counters["settlements_reversed"], counters["reversals_unacknowledged"]) == (1, 0)
    assert counters["messages_lost"] == 3  # the answer, and both retries at national
    assert protocol.settlers[2].policy.year_to_date(txn.service).paid(txn.holder, env.now) == 0
    _close(protocol, txn)
    assert all(protocol.books().values())


def test_closed_transaction_is_checked_and_forgotten(env: Environment) -> None:
    """Closing a settled transaction forgets its key; closing it twice is a violation."""
    protocol = _protocol(env, _spec())
    txn = _txn(1, 1)
    _settle(env, protocol, txn)
    assert len(protocol.settlers[1].book) == 1
    txn.outcome = Outcome.SETTLED
    protocol.close(txn)
    assert len(protocol.settlers[1].book) == 0
    assert protocol.books() == {"no_key_settled_twice": True, "every_transaction_ended_once": True,
                                "every_key_closed": True}  # fmt: skip
    protocol.close(txn)
    assert not protocol.books()["every_transaction_ended_once"]


def test_key_book_keeps_the_latest_word() -> None:
    """The book remembers one entry per key until it is popped."""
    book = KeyBook()
    book.put(1, Answer.SETTLED, 500)
    book.put(2, Answer.NOT_FILED)
    book.put(1, Answer.REVERSED)
    assert (book.get(1), book.get(2), len(book)) == ((Answer.REVERSED, 0),
                                                     (Answer.NOT_FILED, 0), 2)  # fmt: skip
    assert book.pop(2) == (Answer.NOT_FILED, 0)
    assert (book.pop(2), len(book)) == (None, 1)


def _close(protocol: Protocol, txn: Transaction) -> None:
    """End a transaction the way a desk does after a fallback."""
    txn.outcome = Outcome.FALLBACK
    txn.fund_fen = 0
    protocol.close(txn)

"""The shipped fault scenarios: what breaks shows in the figures, and nothing is paid twice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim import Result, load_scenario, run_once
from tests.conftest import SCENARIOS


def _run(name: str, tmp_path_factory: pytest.TempPathFactory) -> Result:
    out: Path = tmp_path_factory.mktemp(name) / "out"
    return run_once(load_scenario(SCENARIOS / f"{name}.yaml"), out)


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """The national platform down 10:00–12:00."""
    return _run("national_platform_outage", tmp_path_factory)


@pytest.fixture(scope="module")
def lossy(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """5% loss on every backbone link, all day."""
    return _run("lossy_links", tmp_path_factory)


def _books_balance(result: Result) -> None:
    """No key settled twice, every transaction ended once, every money check passed."""
    checks = result.summary["ledger"]["checks"]
    assert checks["no_key_settled_twice"]
    assert checks["every_transaction_ended_once"]
    assert checks["every_key_closed"]
    assert all(checks.values()), checks
    ids = result.transactions(["txn_id"])["txn_id"].to_numpy()
    assert np.array_equal(ids, np.arange(ids.size))


def test_outage_fallbacks_rise_in_the_window_and_return_after(outage: Result) -> None:
    """During the outage, cross-province settlements fall back by timeout; in the two hours
    before and after, none does, and the fallback share is back near its level before."""
    [window] = outage.summary["faults"]["windows"]
    assert (window["from_s"], window["to_s"]) == (36000.0, 43200.0)
    before, during, after = window["before"], window["during"], window["after"]
    assert during["fallbacks_by_faults"] > 20
    assert before["fallbacks_by_faults"] == 0
    assert after["fallbacks_by_faults"] == 0
    assert during["fallback_share"] > 3 * before["fallback_share"]
    assert after["fallback_share"] < during["fallback_share"] / 3
    assert outage.summary["faults"]["outages"] == [
        {"node": "national", "down_s": 36000.0, "up_s": 43200.0}
    ]


def test_outage_fallbacks_are_cross_province_timeouts(outage: Result) -> None:
    """Every fault-caused fallback is a cross-province settlement begun in the window (or just
    before it), each reversed before the patient paid in full."""
    t = outage.transactions(["arrival_s", "cross_province", "reason"])
    timeout = np.asarray(t["reason"].to_pylist()) == "timeout"
    arrival = t["arrival_s"].to_numpy()[timeout]
    assert t["cross_province"].to_numpy(zero_copy_only=False)[timeout].all()
    assert ((arrival >= 36000 - 600) & (arrival <= 43200)).all()
    assert outage.summary["protocol"]["reversals_sent"] == int(timeout.sum())


def test_outage_books_balance(outage: Result) -> None:
    """Zero duplicate settlements, and the money adds up."""
    _books_balance(outage)


def test_lossy_links_lose_messages_but_never_settle_twice(lossy: Result) -> None:
    """About 19% of cross-province attempts lose a message; retries with the same key are
    answered from the home platform's book (duplicates suppressed) and nearly all settle."""
    protocol = lossy.summary["protocol"]
    assert protocol["messages_lost"] > 30
    assert protocol["duplicates_suppressed"] > 10
    _books_balance(lossy)
    rate = lossy.summary["medical"]["cross_province_share_of_settled"]["value"]
    assert rate > 0.015  # cross-province settlements still go through

"""Invariants under random faults (Hypothesis): outages, losses and partitions in any mix.

A small network (the smoke scenario, 40 minutes) with a random fault schedule must
still end every transaction exactly once, never settle a key twice, and keep its
books: any violation stops the run with an error, so a completed run with all
checks true is the property. The suite tries 12 schedules; ``HYPOTHESIS_PROFILE=deep``
tries 500, as does the slow-marked deep test.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import load_scenario, run_once
from tests.conftest import DEEP_EXAMPLES, SCENARIOS, examples

NODES = ["national", "card_platform", "GD", "BJ", "SC", "HA"]

outages = st.lists(
    st.fixed_dictionaries({
        "node": st.sampled_from(NODES),
        "at": st.integers(0, 2300).map("{}s".format),
        "duration": st.integers(1, 900).map("{}s".format),
    }),
    max_size=3,
)  # fmt: skip
links = st.lists(
    st.fixed_dictionaries({
        "link": st.sampled_from(["access", "backbone"]),
        "loss": st.floats(0.0, 0.4),
        "added_latency": st.sampled_from(["0s", "50ms", "2s", "4s"]),
    }).filter(lambda f: f["loss"] > 0 or f["added_latency"] != "0s"),
    max_size=2,
)  # fmt: skip
partitions = st.lists(
    st.fixed_dictionaries({
        "between": st.sampled_from([["GD", "national"], ["national", "BJ"], ["SC", "HA"]]),
        "at": st.integers(0, 2300).map("{}s".format),
        "duration": st.integers(1, 900).map("{}s".format),
    }),
    max_size=2,
)  # fmt: skip


TRIED: list[int] = [0]
"""Fault schedules run so far in this session."""


def _check(outages: list, links: list, partitions: list) -> None:
    """Every transaction ends once, no key settles twice, the money checks all pass."""
    import json

    faults = json.dumps({"outages": outages, "links": links, "partitions": partitions})
    scenario = load_scenario(SCENARIOS / "smoke.yaml",
                             ["horizon=40min", "warmup=0s", f"faults={faults}",
                              "network.retry.reversals=2"])  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="sscard-faults-") as scratch:
        result = run_once(scenario, Path(scratch) / "out")
        checks = result.summary["ledger"]["checks"]
        assert all(checks.values()), checks
        table = result.transactions(["txn_id", "outcome", "fund_fen"])
    outcome = np.asarray(table["outcome"].to_pylist())
    assert np.array_equal(table["txn_id"].to_numpy(), np.arange(table.num_rows))
    assert set(outcome.tolist()) <= {"settled", "fallback", "declined"}
    assert (table["fund_fen"].to_numpy()[outcome != "settled"] == 0).all()
    TRIED[0] += 1


@settings(max_examples=examples(12), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(outages=outages, links=links, partitions=partitions)
def test_random_faults_keep_every_invariant(outages: list, links: list, partitions: list) -> None:
    """Every transaction ends once, no key settles twice, the money checks all pass."""
    _check(outages, links, partitions)


@pytest.mark.slow
def test_deep_profile_keeps_every_invariant_in_500_schedules(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The deep profile: at least 500 random fault schedules, every one with its invariants."""
    deep = settings(settings.get_profile("deep"), suppress_health_check=[HealthCheck.too_slow])
    before = TRIED[0]
    deep(given(outages=outages, links=links, partitions=partitions)(_check))()
    with capsys.disabled():
        print(f"\nfault schedules tried: {TRIED[0] - before}, violations: 0")
    assert TRIED[0] - before >= DEEP_EXAMPLES

"""The model against queueing theory on the shipped reduced scenarios (scenarios/validation/).

Each case runs as replications (seed + r) with its warm-up cut. A figure passes
when theory lies inside the 99% interval of the replication means and, at the
documented run length, the relative error is under 3%; a case that misses by
chance is judged again on an independent confirmation set (see
``sim.validation.runner``). The default run checks the three cheapest cases at
full length and every case in quick mode (windows ten times shorter, interval
only); the full run, ``-m slow``, is exactly ``sscard-sim validate-model``.
"""

from __future__ import annotations

import pytest

from sim.scenario import load_scenario
from sim.validation.runner import CaseReport, validate
from tests.theory.conftest import CASES, JOBS, failures

FULL_IN_DEFAULT_RUN = ("mmck", "erlang_b", "arrivals")


def _check(reports: list[CaseReport]) -> None:
    bad = [failures(r) for r in reports if not r.passed]
    assert not bad, "\n".join(bad)


def test_every_case_is_shipped() -> None:
    """The reduced scenarios cover M/M/1, M/M/c, M/D/1, M/G/1, M/M/c/K, Erlang B, networks."""
    assert set(CASES) == {"mm1", "mmc", "md1", "mg1_lognormal", "mmck", "erlang_b", "tandem",
                          "jackson", "arrivals"}  # fmt: skip


def test_cheap_cases_at_full_length() -> None:
    """Finite queues and the arrival process, 10 replications at the documented length."""
    scenarios = [load_scenario(CASES[name]) for name in FULL_IN_DEFAULT_RUN]
    reports = validate(scenarios, replications=10, jobs=JOBS)
    _check(reports)
    rows = {(r.case.name, row.quantity) for r in reports for row in r.rows}
    assert ("erlang-b", "P(turned away)") in rows
    assert ("arrivals", "hourly counts Poisson (χ²)") in rows


def test_every_case_quick() -> None:
    """Every case, 5 replications of a ten times shorter window: theory inside the 99% CI."""
    reports = validate([load_scenario(p) for p in CASES.values()], 5, jobs=JOBS, quick=True)
    _check(reports)
    assert len(reports) == len(CASES)


@pytest.mark.slow
def test_every_case_at_full_length() -> None:
    """What `sscard-sim validate-model` runs: every case, 10 replications, full length."""
    _check(validate([load_scenario(p) for p in CASES.values()], replications=10, jobs=JOBS))

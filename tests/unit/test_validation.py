"""The validation machinery without long runs: Little's closure, node checks, statistics,
and how scenarios are recognised as cases theory can answer."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

from sim.outputs import theory
from sim.outputs.theory import node_theory
from sim.scenario import Scenario, load_scenario
from sim.scenario.schema import Constant, LinkSpec, Lognormal
from sim.validation.cases import reduce_scenario
from sim.validation.little import littles_law
from sim.validation.probes import ArrivalProbe, NetworkProbe, PointProbe, rescaled_gaps
from sim.validation.stats import chi_square_poisson, estimate, ks_exponential
from tests.conftest import SCENARIOS

VALIDATION = SCENARIOS / "validation"


def _row(**values: Any) -> dict[str, list[Any]]:
    """A one-row stations table with neutral defaults."""
    base = {"station": "s", "kind": "point", "servers": 1, "window_s": 100.0, "arrivals": 0,
            "blocked": 0, "completions": 0, "arrival_rate_per_s": 0.0, "wait_mean_s": math.nan,
            "mean_busy": 0.0, "mean_queue": 0.0, "queue_start": 0, "queue_end": 0,
            "wait_carried_in_s": 0.0, "wait_open_s": 0.0}  # fmt: skip
    base.update(values)
    return {key: [value] for key, value in base.items()}


# --- Little's law ----------------------------------------------------------------------


def test_little_holds_exactly_for_a_window_without_edges() -> None:
    """Ten arrivals waiting 3 s each over 100 s: L = 0.3 = λW, no edge term."""
    [check] = littles_law(_row(arrivals=12, blocked=2, wait_mean_s=3.0, mean_queue=0.3))
    assert check.ok
    assert check.arrival_rate == pytest.approx(0.1)  # turned-away arrivals never wait
    assert (check.lambda_w, check.edge, check.relative_gap) == pytest.approx((0.3, 0.0, 0.0))


def test_little_edge_term_accounts_for_jobs_queued_at_the_ends() -> None:
    """Two jobs queued at the end, waiting 10 s in the window: area 30 + 20 = 50 → L = 0.5.

    Admitted 12, started 10 with mean wait 3 s, so λW = 0.36; the gap 0.14 is the edge.
    """
    [check] = littles_law(
        _row(arrivals=12, wait_mean_s=3.0, queue_end=2, wait_open_s=20.0, mean_queue=0.5)
    )
    assert check.ok
    assert check.lambda_w == pytest.approx(0.36)
    assert check.edge == pytest.approx(0.14)
    assert check.relative_gap == pytest.approx(0.28)


def test_little_detects_inconsistent_figures() -> None:
    """A queue area that the waits do not explain breaks the identity."""
    [check] = littles_law(_row(arrivals=10, wait_mean_s=3.0, mean_queue=0.31))
    assert not check.ok
    assert check.residual == pytest.approx(0.01)


# --- Erlang C per node -----------------------------------------------------------------


def test_node_theory_compares_nodes_only_and_flags_a_factor_of_two() -> None:
    """An M/M/1-like node agrees; one waiting 3× the prediction is flagged; points are skipped."""
    mm1 = theory.mmc(10.0, 0.07, 1)
    table = {key: v * 4 for key, v in _row(kind="node", arrivals=5000, arrival_rate_per_s=10.0,
                                           mean_busy=0.7).items()}  # fmt: skip
    table["station"] = ["ok", "slow", "few", "point"]
    table["kind"] = ["node", "node", "node", "point"]
    table["wait_mean_s"] = [mm1.wait_s * 1.1, mm1.wait_s * 3, mm1.wait_s, 1.0]
    table["arrivals"] = [5000, 5000, 50, 5000]
    rows = node_theory(table)
    assert ["ok", "slow", "few"] == [r["station"] for r in rows]
    assert rows[0]["erlang_c_wait_s"] == pytest.approx(mm1.wait_s)
    assert rows[0]["mean_service_s"] == pytest.approx(0.07)
    assert ["ok", "differs", "too few"] == [r["verdict"] for r in rows]
    assert rows[1]["ratio"] == pytest.approx(3.0)


def test_node_theory_saturated_and_negligible() -> None:
    """Load at the servers has no steady state; waits far below the service time are noise."""
    full = node_theory(_row(kind="node", arrivals=500, arrival_rate_per_s=2.0, mean_busy=1.0,
                            wait_mean_s=9.0))  # fmt: skip
    idle = node_theory(_row(kind="node", arrivals=500, arrival_rate_per_s=0.1, mean_busy=0.001,
                            wait_mean_s=0.0))  # fmt: skip
    assert "saturated" == full[0]["verdict"]
    assert "negligible" == idle[0]["verdict"] and math.isnan(idle[0]["ratio"])


# --- statistics ------------------------------------------------------------------------


def test_estimate_uses_student_t() -> None:
    """1..5: mean 3, sd √2.5; half-widths t(0.975, 4) = 2.7764 and t(0.995, 4) = 4.6041 × sd/√5."""
    est = estimate([1, 2, 3, 4, 5])
    assert (est.mean, est.sd, est.n) == pytest.approx((3.0, math.sqrt(2.5), 5))
    assert est.ci95 == pytest.approx((3 - 1.96324, 3 + 1.96324), abs=1e-4)
    assert est.ci99 == pytest.approx((3 - 3.25561, 3 + 3.25561), abs=1e-4)
    assert est.contains(6.2) and not est.contains(6.3)
    with pytest.raises(ValueError, match="two replications"):
        estimate([1.0])


def test_chi_square_for_poisson_counts() -> None:
    """Σ(O−E)²/E over cells with E ≥ 5, one degree of freedom per cell used."""
    fit = chi_square_poisson(np.array([12.0, 8.0, 1.0]), np.array([10.0, 10.0, 2.0]))
    assert (fit.statistic, fit.df, fit.n) == pytest.approx((0.8, 2, 20))
    assert fit.p_value == pytest.approx(math.exp(-0.4))  # chi-square(2) survival: e^(−x/2)


def test_ks_exponential_accepts_exponential_and_rejects_uniform(rng: np.random.Generator) -> None:
    """Exp(1) draws pass; uniform draws on [0, 2] (same mean) fail."""
    assert ks_exponential(rng.exponential(1.0, 5000)).p_value > 0.01
    assert ks_exponential(rng.uniform(0.0, 2.0, 5000)).p_value < 1e-6


# --- recognising cases -----------------------------------------------------------------


@pytest.fixture(scope="module")
def cases() -> dict[str, Scenario]:
    """The shipped validation scenarios by file stem."""
    return {p.stem: load_scenario(p) for p in sorted(VALIDATION.glob("*.yaml"))}


def test_point_scenarios_reduce_to_their_queues(cases: dict[str, Scenario]) -> None:
    """Each one-point scenario is recognised as the queue its file name says."""
    kinds = {name: reduce_scenario(s).kind for name, s in cases.items()}
    assert kinds["mm1"] == "M/M/1"
    assert kinds["mmc"] == "M/M/4"
    assert kinds["md1"] == "M/D/1"
    assert kinds["mg1_lognormal"].startswith("M/G/1 (lognormal")
    assert kinds["mmck"] == "M/M/2/6"
    assert kinds["erlang_b"] == "M/M/5/5 (Erlang B)"
    assert kinds["tandem"] == "Kelly network, 3 nodes"
    assert kinds["jackson"] == "Kelly network, 4 nodes"
    assert kinds["arrivals"] == "arrival process"


def test_point_theory_uses_the_scenarios_own_figures(cases: dict[str, Scenario]) -> None:
    """M/M/1's predictions are theory.mmc at the scenario's rate and mean service time."""
    case = reduce_scenario(cases["mm1"])
    service = cases["mm1"].services.pharmacy
    assert service is not None
    lam = service.rate.value / 3600
    expected = theory.mmc(lam, service.points.service_time.mean, 1)
    values = {q.key: q.theory for q in case.quantities}
    assert values["wait_s"] == pytest.approx(expected.wait_s)
    assert values["p_wait"] == pytest.approx(expected.p_wait)
    assert isinstance(case.probe, PointProbe)
    assert (case.probe.service, case.probe.province) == ("pharmacy", "XZ")


def test_tandem_routes_visit_national_twice(cases: dict[str, Scenario]) -> None:
    """All demand at SC, all of it homed in CQ: national carries twice the arrival rate."""
    case = reduce_scenario(cases["tandem"])
    assert isinstance(case.probe, NetworkProbe)
    assert set(case.probe.nodes) == {"SC", "CQ", "national"}
    keys = [q.key for q in case.quantities]
    assert "e2e:cross" in keys and "e2e:local" not in keys


def test_a_latency_breaks_the_point_reduction_and_says_why(cases: dict[str, Scenario]) -> None:
    """With a non-zero access latency the counter is held longer: only arrival checks remain."""
    scenario = cases["mm1"]
    slow = attrs.evolve(scenario, network=attrs.evolve(
        scenario.network, access=LinkSpec(Lognormal(0.01, 0.5))))  # fmt: skip
    case = reduce_scenario(slow)
    assert case.kind == "arrival process"
    assert isinstance(case.probe, ArrivalProbe)
    assert "not one service point: network.access.latency is not {constant: 0s}" in case.notes


def test_non_exponential_multi_server_has_no_exact_case(cases: dict[str, Scenario]) -> None:
    """M/D/4 has no closed form: the reasons say so."""
    scenario = cases["mmc"]
    service = scenario.services.pharmacy
    assert service is not None
    points = attrs.evolve(service.points, service_time=Constant(8.0))
    changed = attrs.evolve(scenario, services=attrs.evolve(
        scenario.services, pharmacy=attrs.evolve(service, points=points)))  # fmt: skip
    notes = reduce_scenario(changed).notes
    assert any("no exact formula" in n for n in notes)


def test_arrival_case_expects_the_profile(cases: dict[str, Scenario], tmp_path: Path) -> None:
    """The arrival case's expected total is rate × Σ profile weights over the horizon."""
    case = reduce_scenario(cases["arrivals"])
    scenario = cases["arrivals"]
    service = scenario.services.medical_outpatient
    assert service is not None
    days = scenario.horizon / 86400
    assert case.quantities[0].theory == pytest.approx(service.rate.value * 24 * days)


def test_rescaled_gaps_of_short_streams_are_exactly_exponential() -> None:
    """3000 Poisson streams of 20 expected arrivals over two hours with different rates.

    Rescaled by their hourly means, the kept gaps are Exp(1); keeping every observed gap
    instead leaves out the one that outlasts each stream and fails the same test.
    """
    rng = np.random.default_rng(7)
    edges = np.array([0.0, 3600.0, 7200.0])
    means = np.array([5.0, 15.0])
    kept, naive = [], []
    for _ in range(3000):
        counts = rng.poisson(means)
        times = np.concatenate([rng.uniform(a, b, n) for a, b, n in
                                zip(edges[:-1], edges[1:], counts, strict=True)])  # fmt: skip
        kept.append(rescaled_gaps(times, edges, means))
        z = np.interp(np.sort(times), edges, np.concatenate(([0.0], np.cumsum(means))))
        naive.append(np.diff(z, prepend=0.0))
    assert ks_exponential(np.concatenate(kept)).p_value > 0.01
    assert ks_exponential(np.concatenate(naive)).p_value < 1e-6


# --- judging replications, with an independent confirmation set ------------------------


def _fake_replicate(bias_first: float, bias_second: float) -> Any:
    """A stand-in for runner.replicate: a point case's figures, off by a bias on each set."""
    from sim.validation.probes import Measurement
    from sim.validation.runner import CONFIRM_SEED_OFFSET, _Run

    def replicate(scenario: Scenario, probe: Any) -> _Run:
        case = reduce_scenario(attrs.evolve(scenario, seed=0))
        confirmation = scenario.seed >= CONFIRM_SEED_OFFSET
        bias = bias_second if confirmation else bias_first
        noise = 1 + 0.001 * ((scenario.seed % 7) - 3)  # a small spread between replications
        values = {q.key: q.theory * (1 + bias) * noise for q in case.quantities}
        return _Run(Measurement(values), 4, (), 0.0, 0.01)

    return replicate


def test_a_miss_is_confirmed_on_an_independent_set(
    cases: dict[str, Scenario], monkeypatch: pytest.MonkeyPatch
) -> None:
    """First set 5% off, confirmation set on target: the case passes, the miss is kept."""
    from sim.validation import runner

    monkeypatch.setattr(runner, "replicate", _fake_replicate(0.05, 0.0))
    [report] = runner.validate([cases["mmck"]], replications=5)
    assert report.passed
    assert report.seeds == (501 + 10_000, 505 + 10_000)
    assert {m.quantity for m in report.missed} == {q.label for q in report.case.quantities}
    [strict] = runner.validate([cases["mmck"]], replications=5, confirm=False)
    assert not strict.passed and strict.seeds == (501, 505) and not strict.missed


def test_a_bias_fails_both_sets(
    cases: dict[str, Scenario], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model 5% off on every set fails, whatever the seeds."""
    from sim.validation import runner

    monkeypatch.setattr(runner, "replicate", _fake_replicate(0.05, 0.05))
    [report] = runner.validate([cases["mmck"]], replications=5)
    assert not report.passed
    failing = [row for row in report.rows if not row.passed]
    assert failing and all(row.rel_error == pytest.approx(0.05, abs=0.005) for row in failing)


def test_node_theory_does_not_compare_batch_fed_nodes() -> None:
    """A bank node lands payout files (batches): hours of wait at 1% load is no false alarm."""
    row = _row(kind="node", arrivals=5000, arrival_rate_per_s=0.02, mean_busy=0.014,
               wait_mean_s=870_000.0)  # fmt: skip
    assert "differs" == node_theory(row)[0]["verdict"]
    rows = node_theory({**row, "service": ["pension_payout"]})
    assert "batch arrivals" == rows[0]["verdict"]
    assert math.isnan(rows[0]["ratio"]) and math.isnan(rows[0]["erlang_c_wait_s"])

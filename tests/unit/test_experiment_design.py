"""Designed sweeps: ranges, LHS and Sobol' samples, and the sensitivity estimators.

The estimators are checked against functions with known indices (Ishigami's for
Sobol', a linear model for SRRC) without any simulation; planning builds
variants without running them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import qmc

from sim.experiment import Plan, PlanError
from sim.experiment.sensitivity import rank_regression, sobol_indices

SERVERS = "network.national.servers"
SHORT = ["horizon=20min", "network.national.service_time={constant: 2s}"]


def _ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_indices_of_the_ishigami_function() -> None:
    """Saltelli's S1 and Jansen's ST on the Ishigami function (a=7, b=0.1) come within 0.05
    of the analytic indices, and every 95% bootstrap interval holds the true value."""
    a, b, n = 7.0, 0.1, 4096
    variance = a**2 / 8 + b * math.pi**4 / 5 + b**2 * math.pi**8 / 18 + 0.5
    v1 = 0.5 * (1 + b * math.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * math.pi**8 * (1 / 18 - 1 / 50)
    s1 = np.array([v1, v2, 0.0]) / variance
    st = np.array([v1 + v13, v2, v13]) / variance
    unit = qmc.Sobol(d=6, scramble=True, rng=np.random.default_rng(1)).random(n)
    xa, xb = (-math.pi + 2 * math.pi * unit[:, :3]), (-math.pi + 2 * math.pi * unit[:, 3:])
    yab = []
    for i in range(3):
        mixed = xa.copy()
        mixed[:, i] = xb[:, i]
        yab.append(_ishigami(mixed))
    found = sobol_indices(_ishigami(xa), _ishigami(xb), np.array(yab),
                          np.random.default_rng(2), resamples=300)  # fmt: skip
    assert np.allclose(found["S1"], s1, atol=0.05)
    assert np.allclose(found["ST"], st, atol=0.05)
    for name, truth in (("S1", s1), ("ST", st)):
        assert np.all(found[f"{name}_low"] <= truth + 1e-9)
        assert np.all(truth - 1e-9 <= found[f"{name}_high"])


def test_rank_regression_of_a_linear_model() -> None:
    """SRRC of y = 2·x1 + x2 (+ an unused x3) on uniform factors is about (2, 1, 0)/√5, the
    intervals hold it, and the rank R² is near 1."""
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(400, 3))
    y = 2 * x[:, 0] + x[:, 1]
    found = rank_regression(x, y, np.random.default_rng(4), resamples=300)
    truth = np.array([2, 1, 0]) / math.sqrt(5)
    assert np.allclose(found["SRRC"], truth, atol=0.05)
    assert np.all(found["SRRC_low"] <= truth) and np.all(truth <= found["SRRC_high"])
    assert found["R2"] > 0.95


def test_a_range_without_a_design_is_an_error_naming_the_key(smoke_path: Path) -> None:
    """``--vary KEY=LOW..HIGH`` without ``--design`` is refused, naming the key; so are lists
    with a design, and --samples without one."""
    with pytest.raises(PlanError, match=rf"--vary {SERVERS}: a range LOW..HIGH needs --design"):
        Plan.load(smoke_path, [f"{SERVERS}=2..8"], SHORT)
    with pytest.raises(PlanError, match=f"every --vary must be a range.*{SERVERS} lists"):
        Plan.load(smoke_path, [f"{SERVERS}=2,8"], SHORT, "lhs", 4)
    with pytest.raises(PlanError, match="--samples needs --design"):
        Plan.load(smoke_path, [f"{SERVERS}=2,8"], SHORT, None, 4)
    with pytest.raises(PlanError, match="LOW must be below HIGH"):
        Plan.load(smoke_path, [f"{SERVERS}=8..2"], SHORT, "lhs", 4)
    with pytest.raises(PlanError, match="numbers or durations"):
        Plan.load(smoke_path, ["load=low..high"], SHORT, "lhs", 4)


def test_sobol_needs_a_power_of_two(smoke_path: Path) -> None:
    """Scrambled Sobol' points need N a power of two: 6 is refused with the nearest choices."""
    with pytest.raises(PlanError, match=r"power of two.*got 6; try 4 or 8"):
        Plan.load(smoke_path, [f"{SERVERS}=2..8"], SHORT, "sobol", 6)


def test_lhs_plan_is_seeded_rounded_and_stratified(smoke_path: Path) -> None:
    """LHS variants come from the scenario's seed (the same twice, others with another seed);
    an integer key is rounded into its range; a duration range is written in seconds; each
    of a real factor's N strata holds one sample."""
    vary = [f"{SERVERS}=2..8", "network.national.service_time.constant=100ms..2s", "load=0.5..2"]
    plan = Plan.load(smoke_path, vary, SHORT, "lhs", 8)
    again = Plan.load(smoke_path, vary, SHORT, "lhs", 8)
    other = Plan.load(smoke_path, vary, [*SHORT, "seed=2"], "lhs", 8)
    assert [v.settings for v in plan.variants] == [v.settings for v in again.variants]
    assert plan.identity() == again.identity()
    assert [v.settings for v in plan.variants] != [v.settings for v in other.variants]
    servers = [v.scenario.network.national.servers for v in plan.variants]
    assert all(isinstance(s, int) and 2 <= s <= 8 for s in servers)
    times = [dict(v.settings)["network.national.service_time.constant"] for v in plan.variants]
    assert all(t.endswith("s") and 0.1 <= float(t[:-1]) <= 2 for t in times)
    loads = np.array([v.scenario.load for v in plan.variants])
    assert sorted(np.floor((loads - 0.5) / 1.5 * 8).astype(int)) == list(range(8))


def test_sobol_plan_is_the_saltelli_sample(smoke_path: Path) -> None:
    """N·(k+2) variants: A, B, then per factor AB_i, A's rows with column i from B."""
    plan = Plan.load(smoke_path, [f"{SERVERS}=2..8", "load=0.5..2"], SHORT, "sobol", 4)
    assert plan.design is not None
    assert len(plan.variants) == 4 * (2 + 2)
    points = plan.design.points(plan.base.seed)
    a, b, ab0, ab1 = points[:4], points[4:8], points[8:12], points[12:]
    assert np.array_equal(ab0[:, 0], b[:, 0]) and np.array_equal(ab0[:, 1], a[:, 1])
    assert np.array_equal(ab1[:, 0], a[:, 0]) and np.array_equal(ab1[:, 1], b[:, 1])
    assert plan.design.roles()[8] == f"AB:{SERVERS}"
    assert [v.scenario.load for v in plan.variants[:4]] == list(a[:, 1])


def test_invalid_samples_are_reported_before_anything_runs(smoke_path: Path) -> None:
    """A range reaching an invalid value (0 servers) fails planning, naming the variant."""
    with pytest.raises(PlanError, match=f"{SERVERS}=0"):
        Plan.load(smoke_path, [f"{SERVERS}=0..1"], SHORT, "lhs", 8)


def test_sensitivity_table_of_a_sobol_sweep(smoke_path: Path) -> None:
    """On a sweep table whose every figure is the variant's server count (load unused), the
    servers' S1 and ST intervals hold 1 and the load's indices are 0, exactly (an unused
    factor's AB_i rows equal A's, as common random numbers make them); rows are S1 and ST."""
    import pyarrow as pa

    from sim.experiment.figures import figure_names
    from sim.experiment.sensitivity import sensitivity_table

    plan = Plan.load(smoke_path, [f"{SERVERS}=2..8", "load=0.5..2"], SHORT, "sobol", 8)
    servers = [float(v.scenario.network.national.servers) for v in plan.variants]
    columns = {
        "variant": [v.id for v in plan.variants],
        "replication": [0] * len(servers),
        "status": ["ok"] * len(servers),
        **dict.fromkeys(figure_names(), servers),
    }
    table = sensitivity_table(pa.table(columns), plan).to_pylist()
    assert {r["measure"] for r in table} == {"S1", "ST"}
    mine = {(r["factor"], r["measure"]): r for r in table if r["figure"] == "national_utilisation"}
    assert mine[("load", "S1")]["estimate"] == mine[("load", "ST")]["estimate"] == 0.0
    for measure in ("S1", "ST"):
        row = mine[(SERVERS, measure)]
        assert row["low"] <= 1.0 <= row["high"] and abs(row["estimate"] - 1) < 0.35
    assert all(r["samples"] == 8 for r in table)

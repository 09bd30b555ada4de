"""Warm-up truncation: MSER-5 on synthetic series, and ``warmup: auto`` in a whole run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim import load_scenario, run_once
from sim.outputs.warmup import mser
from sim.scenario import Scenario
from tests.conftest import SCENARIOS


@pytest.mark.parametrize("seed", range(10))
def test_mser5_finds_a_known_initial_transient(seed: int) -> None:
    """N(10, 1) plus a bias 20·e^(−i/60): the bias falls below the noise's sd near i = 180
    and below a tenth of it near i = 320, so the cut lands in between (give or take)."""
    rng = np.random.default_rng(seed)
    i = np.arange(2000)
    series = rng.normal(10.0, 1.0, i.size) + 20.0 * np.exp(-i / 60.0)
    got = mser(series)
    assert 150 <= got.observations <= 400
    assert got.observations == 5 * got.batches and got.batch_size == 5
    assert got.total_batches == 400 and not got.at_limit


@pytest.mark.parametrize("seed", range(10))
def test_mser5_keeps_almost_all_of_a_stationary_series(seed: int) -> None:
    """Without a transient, MSER drops little or nothing (here at most 5%)."""
    series = np.random.default_rng(seed).normal(10.0, 1.0, 2000)
    assert mser(series).observations <= 100


def test_mser_on_a_trend_stops_at_the_limit_and_says_so() -> None:
    """A series that keeps rising has no steady state: the minimum sits at half the batches."""
    series = np.linspace(0.0, 50.0, 1000) + np.random.default_rng(1).normal(0.0, 1.0, 1000)
    got = mser(series)
    assert got.at_limit and got.batches == 100


def test_plain_mser_on_a_hand_computed_series() -> None:
    """Batch size 1: dropping the two 10s leaves four equal values, MSER(2) = 0."""
    got = mser([10.0, 10.0, 1.0, 1.0, 1.0, 1.0], batch_size=1)
    assert (got.observations, got.batches, got.total_batches) == (2, 2, 6)


def test_mser_of_short_or_bad_series() -> None:
    """Fewer than three batch means: no cut. Non-finite values are refused."""
    assert 0 == mser(np.ones(14)).observations
    with pytest.raises(ValueError, match="finite"):
        mser([1.0, math.nan] * 20)


CONGESTED = [
    "services.medical_outpatient.points.service_time={exponential: {mean: 15min}}",
    "services.medical_outpatient.rate={per_holder_per_year: 14}",
    "services.medical_outpatient.profile=flat",
    "horizon=4h",
]
"""Smoke dominated by busy outpatient desks (ρ ≈ 0.9) under flat demand: queues build up
from empty, so the time-in-system series starts with a transient."""


@pytest.fixture(scope="module")
def auto_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, dict, object]:
    """The congested smoke scenario with ``warmup: auto``."""
    scenario = load_scenario(SCENARIOS / "smoke.yaml", [*CONGESTED, "warmup=auto"])
    result = run_once(scenario, tmp_path_factory.mktemp("auto") / "out")
    return scenario, result.summary, result


def test_auto_warmup_is_estimated_and_reported(auto_run: tuple) -> None:
    """The estimate is in summary.json and manifest.json; the cut is the next station sample."""
    scenario, summary, result = auto_run
    warmup = summary["warmup"]
    assert warmup["method"] == "MSER-5" and warmup["transactions_dropped"] > 0
    every = float(scenario.outputs.sample_every)
    assert warmup["estimate_s"] <= warmup["cut_s"] < warmup["estimate_s"] + every
    assert warmup["cut_s"] % every == 0.0
    assert summary["window"]["from_s"] == warmup["cut_s"]
    assert result.manifest["warmup"] == warmup
    assert result.manifest["scenario"]["warmup"] == "auto"


def test_auto_warmup_cuts_like_the_same_fixed_warmup(auto_run: tuple, tmp_path) -> None:
    """Summary and every station's figures equal those of a run with that cut written in."""
    _scenario, summary, result = auto_run
    cut = summary["warmup"]["cut_s"]
    fixed_scenario = load_scenario(SCENARIOS / "smoke.yaml", [*CONGESTED, f"warmup={cut}s"])
    fixed = run_once(fixed_scenario, tmp_path / "fixed")
    assert fixed.summary["warmup"] == {"method": "fixed", "cut_s": cut}
    drop = {"warmup"}
    # Settlement nodes integrate busy and queue time from their server pools: the
    # same figure reached by another sum may differ in its last bits.
    _assert_close({k: v for k, v in summary.items() if k not in drop},
                  {k: v for k, v in fixed.summary.items() if k not in drop})  # fmt: skip
    auto_rows, fixed_rows = result.stations.to_pylist(), fixed.stations.to_pylist()
    assert len(auto_rows) == len(fixed_rows) > 100
    for a, f in zip(auto_rows, fixed_rows, strict=True):
        for key, value in a.items():
            if isinstance(value, float):
                assert value == pytest.approx(f[key], rel=1e-9, abs=1e-9, nan_ok=True), key
            else:
                assert value == f[key], key


def _assert_close(a: object, b: object, where: str = "summary") -> None:
    """Equal structures, floats equal to 1e-12 relative."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_close(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15, nan_ok=True), where
    else:
        assert a == b, where


def test_run_summary_names_the_estimated_cut(auto_run: tuple) -> None:
    """The table `sscard-sim run` prints says where MSER-5 cut and how much it dropped."""
    import io

    from sim.cli.console import print_summary

    _scenario, summary, result = auto_run
    out = io.StringIO()
    print_summary(summary, result.manifest, "folder", stream=out)
    dropped = summary["warmup"]["transactions_dropped"]
    cut = int(summary["warmup"]["cut_s"])
    clock = f"{cut // 3600:02d}:{cut % 3600 // 60:02d}"
    assert f"warm-up (MSER-5): cut at {clock}, {dropped:,} transactions dropped" in out.getvalue()


@pytest.mark.parametrize(
    "name", ["baseline_weekday.yaml", "chengdu_chongqing_libraries.yaml", "pension_payday.yaml"]
)
def test_auto_warmup_runs_with_library_transit_and_withdrawals(name: str, tmp_path) -> None:
    """``warmup: auto`` runs with every service family (they count from the start then)."""
    overrides = ["warmup=auto", "horizon=2h", "scale=1e-5"]
    result = run_once(load_scenario(SCENARIOS / name, overrides), tmp_path / "out")
    assert result.summary["warmup"]["method"] == "MSER-5"

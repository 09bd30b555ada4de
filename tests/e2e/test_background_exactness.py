"""The background is exact: a foreground request meets the full-scale node queues.

A two-province region (Ningxia and Qinghai) with platforms loaded to 50-70% is run
at ``scale: 1`` with ``network.load: sampled`` (every holder simulated: the truth)
and at ``scale: 0.05`` with ``network.load: full`` (a twentieth simulated, the rest
as background). Over replications with different seeds, each node's mean and p99
wait and the foreground's p99 settle latency must agree: the difference of the two
means lies within its 99.9% Welch interval (Bonferroni-style for the dozen figures
compared). As a control that the comparison can fail, the same region at
``scale: 0.05`` with ``sampled`` load differs from the truth at every platform. The
same holds under a national platform outage (the retry storm and its load on the
provincial platforms included).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from scipy import stats

from sim import load_scenario, run_once

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

REGION = [
    "region=[NX, QH]",
    "horizon=75min",
    "warmup=15min",
    "services.medical_outpatient.rate={per_holder_per_year: 18}",
    "services.medical_inpatient.rate={per_holder_per_year: 1}",
    "services.medical_outpatient.profile=flat",
    "services.medical_inpatient.profile=flat",
    "services.pharmacy.profile=flat",
    "network.provincial={servers: 2, service_time: {exponential: {mean: 200ms}}}",
    "network.national={servers: 1, service_time: {exponential: {mean: 300ms}}}",
    "network.card_platform={servers: 1, service_time: {exponential: {mean: 120ms}}}",
]
"""Flat demand, about 6 settlements a second per province; ρ ≈ 0.6-0.7 at the provincial
platforms, 0.45 at the national platform, 0.3 at the card platform."""

OUTAGE = [
    "faults={outages: [{node: national, at: 40min, duration: 2min}]}",
    "network.national={servers: 1, service_time: {exponential: {mean: 150ms}}}",
]
"""Two minutes without the national platform, lightly loaded (ρ ≈ 0.25) so that every
replication recovers: retries and reversals pile up, then drain."""

TRUTH = ["scale=1", "network.load=sampled"]
FULL = ["scale=0.05", "network.load=full"]
SAMPLED = ["scale=0.05", "network.load=sampled"]

NODES = ("node:NX", "node:QH", "node:national", "node:card_platform")
REPLICATIONS = 6
LEVEL = 0.999


def _figures(sets: list[str], seed: int, tmp: Path) -> dict[str, float]:
    scenario = load_scenario(SCENARIOS / "smoke.yaml", [*REGION, *sets, f"seed={seed}"])
    result = run_once(scenario, tmp / f"seed-{seed}")
    rows = {r["station"]: r for r in result.stations.to_pylist()}
    figures = {}
    for node in NODES:
        figures[f"{node} wait mean"] = rows[node]["wait_mean_s"]
        figures[f"{node} wait p99"] = rows[node]["wait_p99_s"]
    table = pq.read_table(result.folder / "transactions.parquet",
                          columns=["outcome", "settle_latency_s", "arrival_s"])  # fmt: skip
    measured = pc.greater_equal(table["arrival_s"], 15 * 60.0)
    settled = pc.and_(measured, pc.equal(table["outcome"], "settled"))
    latency = table.filter(settled)["settle_latency_s"].to_numpy()
    figures["foreground settle p99"] = float(np.quantile(latency, 0.99))
    figures["national arrivals"] = float(rows["node:national"]["arrivals"])
    background = result.summary["network_load"].get("background", {})
    figures["retries"] = float(
        result.summary["protocol"]["retries"] + background.get("retries", 0)
    )
    return figures


def _runs(sets: list[str], tmp: Path) -> dict[str, np.ndarray]:
    runs = [_figures(sets, seed, tmp) for seed in range(1, REPLICATIONS + 1)]
    return {key: np.array([r[key] for r in runs]) for key in runs[0]}


def _welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Difference of means and its Welch half-width at :data:`LEVEL`."""
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1)) if se > 0 else 1.0
    return float(a.mean() - b.mean()), float(stats.t.ppf(0.5 + LEVEL / 2, df) * se)


@pytest.fixture(scope="module")
def steady(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, np.ndarray]]:
    """Replications of the truth, of full load and of sampled load, without faults."""
    tmp = tmp_path_factory.mktemp("exact")
    cases = (("truth", TRUTH), ("full", FULL), ("sampled", SAMPLED))
    return {name: _runs(sets, tmp / name) for name, sets in cases}


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, np.ndarray]]:
    """Replications of the truth and of full load, with the national outage."""
    tmp = tmp_path_factory.mktemp("exact-outage")
    return {name: _runs([*sets, *OUTAGE], tmp / name)
            for name, sets in (("truth", TRUTH), ("full", FULL))}  # fmt: skip


def _agree(runs: dict[str, dict[str, np.ndarray]]) -> list[str]:
    """Figures whose difference between truth and full load is outside its interval."""
    bad = []
    for key, truth in runs["truth"].items():
        diff, half = _welch(runs["full"][key], truth)
        if abs(diff) > half:
            bad.append(f"{key}: truth {truth.mean():.4g}, full {runs['full'][key].mean():.4g} "
                       f"(difference {diff:.3g} ± {half:.3g})")  # fmt: skip
    return bad


def test_full_load_at_a_twentieth_matches_every_holder_simulated(steady: dict) -> None:
    """Node waits (mean, p99) and the foreground's p99 settle latency agree with scale 1."""
    assert _agree(steady) == []
    truth = steady["truth"]
    assert truth["node:NX wait mean"].mean() > 0.05  # the platforms do queue
    assert truth["node:national wait p99"].mean() > 0.1


def test_sampled_load_at_a_twentieth_does_not(steady: dict) -> None:
    """The control: without the background, every node's mean wait is far from the truth."""
    for node in NODES:
        diff, half = _welch(steady["sampled"][f"{node} wait mean"],
                            steady["truth"][f"{node} wait mean"])  # fmt: skip
        assert diff < 0 and abs(diff) > half, node


def test_full_load_matches_under_a_national_outage(outage: dict) -> None:
    """A national outage: the retry storm and the waits after it agree too."""
    assert _agree(outage) == []
    # The storm is there: every request caught by the outage is retried, some reversed.
    assert outage["truth"]["retries"].mean() > 150

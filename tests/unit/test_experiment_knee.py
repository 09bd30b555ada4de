"""The knee search over ``load``, and the warnings that stop a capacity search."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sim.experiment import Plan, PlanError, Target, search_capacity
from sim.experiment.capacity import unchanged_warning
from sim.experiment.knee import _bracket, search_knee
from sim.experiment.report import number, print_knee
from sim.experiment.stats import mean_interval

ROOT = Path(__file__).resolve().parents[2]

LOADED = [
    "horizon=20min",
    "warmup=5min",
    "scale=1e-3",
    "services.medical_outpatient.cross_province_share=1.0",
    "services.medical_inpatient.cross_province_share=1.0",
    "services.pharmacy.cross_province_share=1.0",
    "network.national={servers: 1, service_time: {exponential: {mean: 500ms}}}",
    "outputs.transactions=false",
]
"""Smoke at 1:1000 with every settlement cross-province: about 0.43 Erlang on one national
server at ``load: 1``."""


@pytest.mark.parametrize(("knee", "reached"), [(3.3, False), (0.3, False), (5000.0, True)])
def test_bracket_finds_the_highest_load_within_tolerance(knee: float, reached: bool) -> None:
    """Doubling or halving from 1, then geometric bisection to 5%: the answer is below the knee
    and within 5% of it (or the highest load allowed, when that still meets the target)."""
    asked: list[float] = []

    def meets(x: float) -> bool:
        asked.append(x)
        return x <= knee

    answer, at_top = _bracket(meets, 1 / 64, 1024.0, 0.05)
    assert at_top is reached and answer is not None
    if reached:
        assert answer == 1024.0
    else:
        assert answer <= knee < answer * 1.05
    assert len(asked) == len(set(asked)) < 20


def test_bracket_reports_no_load_meeting_the_target() -> None:
    """Even the lowest load fails: no answer."""
    assert _bracket(lambda x: False, 1 / 8, 8.0, 0.05) == (None, False)


def test_knee_of_the_national_platform(smoke_path: Path, tmp_path: Path) -> None:
    """Utilisation ≤ 0.6 on one national server with 500 ms a message: at load 1 the server is
    saturated (requests time out and are retried until it is busy all the time), at half the
    load it is a quarter busy; the knee lies in between, where the retries begin to feed
    themselves, and the search brackets it to 10%."""
    plan = Plan.load(smoke_path, sets=LOADED)
    target = Target.parse("utilisation<=0.6", "national")
    result = search_knee(plan, "national", target, tmp_path / "knee", 3, tolerance=0.1)
    assert result.answer is not None and 0.5 <= result.answer < 1.0
    above = [p for p in result.curve if p.load > result.answer]
    assert above and not above[0].met and above[0].load <= result.answer * 1.1 + 1e-9
    assert all(p.met == (p.load <= result.answer) for p in result.curve)
    assert not result.reached_highest and result.warnings == ()
    loads = [p.load for p in result.curve]
    assert loads == sorted(loads) and 1.0 in loads
    utilisation = [p.context["utilisation"] for p in result.curve]
    assert utilisation == sorted(utilisation)  # load drives the node
    table = pq.read_table(tmp_path / "knee" / "knee.parquet").to_pylist()
    assert [row["load"] for row in table] == loads
    assert max(r["load"] for r in table if r["meets_target"]) == result.answer
    # Near the knee one replication saturates and another does not: the Student-t interval
    # of the utilisation spread past 0 and 1; the proportion's stays inside, as stored.
    t_intervals = [mean_interval(pq.read_table(p.folder / "sweep.parquet")["national_utilisation"]
                                 .to_numpy()) for p in result.curve]  # fmt: skip
    assert any(t.low < 0.0 or t.high > 1.0 for t in t_intervals)
    for point, row in zip(result.curve, table, strict=True):
        assert 0.0 <= point.interval.low <= point.interval.mean <= point.interval.high <= 1.0
        ends = (row["national_utilisation_low"], row["national_utilisation_high"])
        assert ends == (point.interval.low, point.interval.high)
    out = io.StringIO()
    print_knee(result, out)
    assert "95% interval" in out.getvalue() and "± 95%" not in out.getvalue()
    assert f"[{number(table[0]['national_utilisation_low'])}, " in out.getvalue()


def test_knee_refuses_what_it_cannot_do(smoke_path: Path, tmp_path: Path) -> None:
    """A varied factor, one replication or a bad range are refused up front."""
    target = Target.parse("utilisation<=0.6", "national")
    with pytest.raises(PlanError, match="drop --vary"):
        search_knee(
            Plan.load(smoke_path, ["network.timeout=2s,3s"]), "national", target, tmp_path, 3
        )
    with pytest.raises(PlanError, match="at least 2"):
        search_knee(Plan.load(smoke_path), "national", target, tmp_path, 1)
    with pytest.raises(PlanError, match="min-load"):
        search_knee(Plan.load(smoke_path), "national", target, tmp_path, 3, lowest=2.0)


def test_capacity_stops_at_an_idle_node_and_says_why(smoke_path: Path, tmp_path: Path) -> None:
    """Sampled load at 1:10,000: the national platform does 1e-5 of one server's work; the
    search stops after one step with the advice to set network.load: full."""
    plan = Plan.load(smoke_path, sets=["horizon=20min", "warmup=5min"])
    target = Target.parse("p99_latency_s<=3", "national")
    result = search_capacity(plan, "national", target, tmp_path / "idle", 2)
    assert result.answer is None and len(result.curve) == 1
    [warning] = result.warnings
    assert "1/10,000 of their traffic" in warning and "network.load: full" in warning


def test_a_figure_that_does_not_move_is_named() -> None:
    """The same mean at every value measured: a warning; any change: none."""
    assert "does not change" in (unchanged_warning("load", "x_s", [1.5, 1.5, 1.5]) or "")
    assert unchanged_warning("load", "x_s", [1.5, 1.5, 1.6]) is None
    assert unchanged_warning("load", "x_s", [1.5]) is None


def test_knee_command_prints_its_curve_and_answer(smoke_path: Path, tmp_path: Path) -> None:
    """``sscard-sim knee`` on the loaded smoke case: a table, the knee and its folder."""
    sets = [arg for s in LOADED for arg in ("--set", s)]
    done = subprocess.run(
        [sys.executable, "-m", "sim", "knee", str(smoke_path), "--target", "utilisation<=0.6",
         "--replications", "2", "--tolerance", "0.2", "--workers", "1", "--out",
         str(tmp_path / "k"), *sets],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "knee: load" in done.stdout and "highest measured that meets" in done.stdout
    assert (tmp_path / "k" / "knee.parquet").exists()


def test_sweep_warns_of_idle_nodes_and_figures_that_never_move(smoke_path: Path) -> None:
    """Varying national servers at sampled load: the nodes are nearly idle (a warning); a
    summary whose means are the same for every variant: another."""
    import pyarrow as pa

    from sim.experiment.capacity import sweep_warnings

    plan = Plan.load(smoke_path, ["network.national.servers=32,64"])
    flat = pa.table({"variant": ["v000", "v001"], "a_mean": [1.5, 1.5], "b_mean": [2.0, 2.0]})
    warnings = sweep_warnings(plan, flat)
    assert any("1/10,000 of their traffic" in w for w in warnings)
    assert any("no headline figure changes" in w for w in warnings)
    moved = pa.table({"variant": ["v000", "v001"], "a_mean": [1.5, 1.6]})
    full = Plan.load(smoke_path, ["network.national.servers=32,64"], ["network.load=full"])
    assert sweep_warnings(full, moved) == []

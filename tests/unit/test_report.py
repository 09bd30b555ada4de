"""sim.report: each plot renders to a real image, the HTML page is self-contained, and
``sscard-sim report`` tells run folders, sweep folders and anything else apart.

The plots are drawn from one small run (smoke.yaml, with a 20-minute national
outage so that the fault timeline has something to show) and one tiny sweep.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

from sim import Plan, load_scenario, run_once, run_sweep
from sim.cli.main import main
from sim.report import (
    PLOTS,
    ResultsFolderError,
    RunFrames,
    SweepFrames,
    busiest_stations,
    capacity_curve,
    capacity_table,
    describe_station,
    direct_settlement_heatmap,
    fault_spans,
    fault_timeline,
    fault_windows_table,
    folder_kind,
    fund_share,
    headline_table,
    knee,
    latency_cdf,
    load_run,
    load_sweep,
    money_checks,
    net_positions,
    outcome_breakdown,
    reason_breakdown,
    save_png,
    service_table,
    station_timeline,
    throughput_per_hour,
    utilisation_heatmap,
    write_report,
)
from tests.conftest import ROOT, SCENARIOS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OUTAGE = "faults.outages=[{node: national, at: 40min, duration: 20min}]"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunFrames:
    """Smoke (two hours, 1:10,000) with the national platform down from 08:40 to 09:00."""
    scenario = load_scenario(SCENARIOS / "smoke.yaml", [OUTAGE])
    result = run_once(scenario, tmp_path_factory.mktemp("report") / "smoke")
    assert result.folder is not None
    return load_run(result.folder)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> SweepFrames:
    """Smoke for 20 minutes with 1, 2 and 4 national servers, two replications each."""
    sets = ["horizon=20min", "warmup=5min", "outputs.transactions=false"]
    plan = Plan.load(SCENARIOS / "smoke.yaml", vary=["network.national.servers=1,2,4"], sets=sets)
    folder = tmp_path_factory.mktemp("report") / "sweep"
    run_sweep(plan, folder, replications=2)
    return load_sweep(folder)


def assert_real_png(path: Path, min_width: int = 500, min_height: int = 250) -> None:
    """A valid PNG of a sensible size, with many colours and visible structure."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= min_width and height >= min_height
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.int64)
    assert pixels.shape == (height, width, 3)
    assert pixels.std() > 10.0, "nearly a single colour"
    colours = np.unique(pixels[..., 0] << 16 | pixels[..., 1] << 8 | pixels[..., 2])
    assert colours.size > 30, "too few colours for a plot"
    ink = (pixels.min(axis=2) < 200).mean()
    assert 0.01 < ink < 0.9, f"{ink:.1%} of the pixels are drawn on"


PLOT_FUNCTIONS: dict[str, Callable[[RunFrames], Figure]] = {
    "latency_cdf": latency_cdf,
    "latency_cdf_time_in_system": lambda r: latency_cdf(r, "latency_s", settled_only=False),
    "throughput_per_hour": throughput_per_hour,
    "station_timeline": lambda r: station_timeline(r, busiest_stations(r, points=True)),
    "station_timeline_unknown": lambda r: station_timeline(r, ["node:national", "node:nowhere"]),
    "utilisation_points": utilisation_heatmap,
    "utilisation_platforms": lambda r: utilisation_heatmap(r, "platform"),
    "outcome_breakdown": outcome_breakdown,
    "reason_breakdown": lambda r: reason_breakdown(r, cross_province=True),
    "direct_settlement_heatmap": lambda r: direct_settlement_heatmap(r, min_count=1),
    "fund_share": lambda r: fund_share(r, by="scheme", service=None, cross_province=None),
    "net_positions": net_positions,
    "fault_timeline": fault_timeline,
}


@pytest.mark.parametrize("name", PLOT_FUNCTIONS)
def test_each_plot_renders_a_real_image(run: RunFrames, name: str, tmp_path: Path) -> None:
    """Every plot of a run is a Figure with a title and labelled axes, saved as a valid,
    non-trivial PNG."""
    figure = PLOT_FUNCTIONS[name](run)
    assert isinstance(figure, Figure)
    axes = [ax for ax in figure.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert axes
    assert any(ax.get_title() for ax in axes) or figure.get_suptitle()
    assert any(ax.get_xlabel() for ax in axes) and any(ax.get_ylabel() for ax in axes)
    assert_real_png(save_png(figure, tmp_path / f"{name}.png"))


def test_capacity_curve_renders_a_real_image(sweep: SweepFrames, tmp_path: Path) -> None:
    """The p99 curve of a real sweep, with its band, SLA line and knee, is a real PNG."""
    figure = capacity_curve(sweep, sla=3.0)
    ax = figure.axes[0]
    assert ax.get_xlabel() == "network.national.servers"
    assert "(s)" in ax.get_ylabel() and "SLA: 3 s" in [t.get_text() for t in ax.get_legend().texts]
    assert_real_png(save_png(figure, tmp_path / "capacity.png"))


def test_knee_is_where_a_decreasing_curve_bends() -> None:
    """The Kneedle point of a hockey stick is its bend; a straight line has none."""
    assert knee([1, 2, 3, 4, 6], [27.0, 2.5, 2.0, 1.95, 1.93]) == 2
    assert knee([1, 2, 3, 4, 6], [27.0, 27.0, 2.0, 1.95, 1.93]) == 3
    assert knee([1, 2, 3, 4], [4.0, 3.0, 2.0, 1.0]) is None
    assert knee([1, 2], [5.0, 1.0]) is None
    assert knee([1, 2, 3, 4], [9.0, np.nan, 1.1, 1.0]) == 3


def test_capacity_table_needs_the_whole_interval_under_the_sla() -> None:
    """A mean under the SLA with an interval reaching over it does not count (as `capacity`)."""
    summary = pd.DataFrame({
        "variant": [f"v{i:03d}" for i in range(8)],
        "network.national.servers": [1, 2, 3, 4] * 2,
        "scale": [1.0] * 4 + [1.4] * 4,
        "replications": [5] * 8,
        "request_p99_cross_s_mean": [27, 2.9, 2.0, 1.9, 27, 27, 2.6, 2.0],
        "request_p99_cross_s_halfwidth": [0, 0.2, 0.1, 0.1, 0, 0, 0.5, 0.1],
    })  # fmt: skip
    plan = {"name": "synthetic", "vary": [{"key": "network.national.servers"}, {"key": "scale"}]}
    sweep = SweepFrames(Path("."), pd.DataFrame(), summary, plan)
    table = capacity_table(sweep, group="scale", sla=3.0).set_index("scale")
    smallest = "smallest network.national.servers with request_p99_cross_s ≤ 3"
    assert table.loc[1.0, smallest] == 3 and table.loc[1.4, smallest] == 4
    assert table.loc[1.0, "knee"] == 2 and table.loc[1.4, "knee"] == 3
    with pytest.raises(ValueError, match="also varies scale"):
        capacity_table(sweep)


def test_tables_summarise_the_run(run: RunFrames) -> None:
    """The summary tables carry the run's counts, and the money checks all passed."""
    services = service_table(run)
    assert {"medical_outpatient", "medical_inpatient", "pharmacy"} <= set(services.index)
    measured = run.summary["transactions"]["measured"]
    assert services[["settled", "fallback", "declined"]].to_numpy().sum() == measured
    assert headline_table(run).loc["transactions measured", "value"] == measured
    checks = money_checks(run)
    assert len(checks) > 0 and checks["passed"].all()


def test_faults_are_read_from_the_summary(run: RunFrames) -> None:
    """The outage is one shaded span, and its window compares before, during and after."""
    assert fault_spans(run) == [(2400.0, 3600.0, "outage national")]
    windows = fault_windows_table(run)
    assert list(windows.index.get_level_values("stretch")) == ["before", "during", "after"]
    during = windows.loc[("outage national", "during")]
    assert during["fallbacks"] >= during["by faults"] > 0


def test_run_frames_know_the_run(run: RunFrames) -> None:
    """Tables load lazily as DataFrames; times are drawn in local hours of the start day."""
    assert run.name == "smoke" and run.scale == 1e-4 and run.warmup_s == 600.0
    assert len(run.transactions) > 0 and isinstance(run.transactions, pd.DataFrame)
    axis = run.time_axis()
    assert axis(0.0) == 8.0 and axis(7200.0) == 10.0  # smoke starts at 08:00 local time
    assert axis.label.startswith("local time")
    assert set(run.station_names("platform")) == {f"node:{p}" for p in run.provinces}
    assert busiest_stations(run)[-1] == "node:national"
    assert describe_station("node:GD") == "provincial platform GD"
    assert describe_station("point:bank_withdrawal:GD:atm") == "bank_withdrawal points GD (atm)"


def test_load_run_refuses_what_is_not_a_results_folder(tmp_path: Path) -> None:
    """A missing folder, or one without summary.json, is a ResultsFolderError naming it."""
    with pytest.raises(ResultsFolderError, match="no such folder"):
        load_run(tmp_path / "nope")
    with pytest.raises(ResultsFolderError, match="not a results folder"):
        load_run(SCENARIOS)
    assert folder_kind(SCENARIOS) == ""


DRAWN = [plot for plot in PLOTS if plot.name != "fraud"]
"""The plots of the faults run (it has no fraud): every one but the fraud plot."""


def test_report_writes_the_plots_and_a_self_contained_page(run: RunFrames, tmp_path: Path) -> None:
    """Every standard plot is a real PNG; the page embeds each one and loads nothing."""
    report = write_report(run, tmp_path / "out", html_page=True)
    assert [p.name for p in report.pngs] == [f"{plot.name}.png" for plot in DRAWN]
    assert report.skipped == (("fraud", "the run had no fraud or detection rules"),)
    for path in report.pngs:
        assert_real_png(path)
    assert report.html is not None
    page = report.html.read_text("utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    sources = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]+)""", page, flags=re.I)
    assert len(sources) == len(DRAWN)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r"https?:|<link|<script|@import|url\(", page, flags=re.I)
    assert "medical_outpatient" in page and "Money checks" in page
    for section in ("Faults", "Settlement nodes", "Protocol", "Clearing"):
        assert f"<h2>{section}</h2>\n<table>" in page, f"no {section} table"
    assert 'class="dataframe"' not in page  # pandas' tables have a row of index names


def test_report_without_transactions_draws_what_it_can(run: RunFrames, tmp_path: Path) -> None:
    """A run that kept no transactions.parquet still gets its station plots; the others
    are skipped with the reason."""
    folder = tmp_path / "no-transactions"
    folder.mkdir()
    for path in run.folder.iterdir():
        if path.name != "transactions.parquet":
            (folder / path.name).write_bytes(path.read_bytes())
    report = write_report(load_run(folder), tmp_path / "out")
    assert [p.name for p in report.pngs] == ["busiest_stations.png", "utilisation_heatmap.png"]
    assert dict(report.skipped)["latency_cdf"] == "the run kept no transactions.parquet"
    with pytest.raises(ResultsFolderError, match=r"outputs\.transactions: false"):
        _ = load_run(folder).transactions


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_report_on_a_sweep_folder_prints_the_comparison(
    sweep: SweepFrames, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sweep folder still gets the comparison table; no plots are written into it."""
    code, out, err = _cli(["report", str(sweep.folder), "--figure", "national_utilisation"],
                          capsys)  # fmt: skip
    assert code == 0, err
    assert "national_utilisation: national platform utilisation" in out
    assert not (sweep.folder / "report").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "{tmp}/missing"], "no such folder"),
        (["report", str(SCENARIOS)], "is not a sweep folder (no sweep.parquet), a capacity"),
        (["report", str(SCENARIOS / "smoke.yaml")], "smoke.yaml: is a file, not a folder"),
        (["report", "{sweep}", "--html"], "a sweep folder without a --design; --html and --out"),
        (["report", "{run}", "--figure", "fallback_share"], "--figure applies to a sweep folder"),
        (["report", "{broken}"], "cannot report on"),
    ],
    ids=["missing", "not-results", "a-file", "html-on-sweep", "figure-on-run", "broken-table"],
)
def test_cli_report_bad_input_exits_2_without_traceback(
    args: list[str],
    message: str,
    run: RunFrames,
    sweep: SweepFrames,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Bad folders and options are a one-line message and exit code 2."""
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("summary.json", "manifest.json"):
        (broken / name).write_bytes((run.folder / name).read_bytes())
    (broken / "transactions.parquet").write_bytes(b"not parquet")
    (broken / "stations.parquet").write_bytes(b"not parquet")
    (broken / "timeseries.parquet").write_bytes(b"not parquet")
    places = {"tmp": str(tmp_path), "sweep": str(sweep.folder), "run": str(run.folder),
              "broken": str(broken)}  # fmt: skip
    code, _out, err = _cli([a.format(**places) for a in args], capsys)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_report_command_on_a_results_folder(run: RunFrames, tmp_path: Path) -> None:
    """`python -m sim report RESULTS_DIR --html --out DIR` (headless, as users run it) writes
    the PNGs and the page, names them, exits 0 and leaves the results folder as it was."""
    before = sorted(p.name for p in run.folder.iterdir())
    headless = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND")}
    out = tmp_path / "plots"
    done = subprocess.run([sys.executable, "-m", "sim", "report", str(run.folder), "--html",
                           "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
                          env=headless, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.glob("*.png")) == sorted(f"{p.name}.png" for p in DRAWN)
    assert (out / "report.html").is_file()
    assert f"wrote {out / 'latency_cdf.png'}" in done.stdout
    assert sorted(p.name for p in run.folder.iterdir()) == before

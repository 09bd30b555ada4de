"""The HTML page of ``sscard-sim report --html``: one number rule, whole tables, plots that
fit, and the page as headless Chromium renders it (a screenshot, no console errors,
nothing fetched from the network).

One small run (smoke.yaml with a 20-minute national outage, seed 20240312 so that a
seed with separators would show) and its page, written once for the module.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from sim import load_scenario, run_once
from sim.report import (
    PLOTS,
    RunFrames,
    latency_cdf,
    load_run,
    station_timeline,
    throughput_per_hour,
    write_report,
)
from sim.report.cells import duration, format_cell, html_table, kind_of
from sim.report.page import render_html
from sim.report.tables import protocol_table
from tests.conftest import SCENARIOS

OUTAGE = "faults.outages=[{node: national, at: 40min, duration: 20min}]"
SEED = 20240312
NAME = "smoke-with-the-national-platform-down"
"""A long name, as real scenarios have: figure titles must still fit."""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunFrames:
    """Smoke (two hours, 1:10,000, three services) with the national platform down 20 min."""
    scenario = load_scenario(SCENARIOS / "smoke.yaml", [OUTAGE, f"seed={SEED}", f"name={NAME}"])
    result = run_once(scenario, tmp_path_factory.mktemp("page") / "smoke")
    assert result.folder is not None
    return load_run(result.folder)


@pytest.fixture(scope="module")
def page(run: RunFrames, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's report.html, plots embedded."""
    report = write_report(run, tmp_path_factory.mktemp("page") / "report", html_page=True)
    assert report.html is not None
    return report.html


class Tables(HTMLParser):
    """The page's tables as lists of rows of (tag, text) cells, under their section heading."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[tuple[str, str]]]] = {}
        self.heading = ""
        self.in_heading = False
        self.cell: list[str] | None = None
        self.rows: list[list[tuple[str, str]]] = []
        self.thead_rows = 0
        self.in_thead = False
        self.header_rows: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h2":
            self.in_heading, self.heading = True, ""
        elif tag == "table":
            self.rows, self.thead_rows = [], 0
        elif tag == "thead":
            self.in_thead = True
        elif tag == "tr":
            self.rows.append([])
            self.thead_rows += self.in_thead
        elif tag in ("th", "td"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self.in_heading = False
        elif tag == "thead":
            self.in_thead = False
        elif tag in ("th", "td") and self.cell is not None:
            self.rows[-1].append((tag, "".join(self.cell).strip()))
            self.cell = None
        elif tag == "table":
            self.tables[self.heading] = self.rows
            self.header_rows[self.heading] = self.thead_rows

    def handle_data(self, data: str) -> None:
        if self.in_heading:
            self.heading += data
        if self.cell is not None:
            self.cell.append(data)


def tables_of(page: Path) -> Tables:
    """The page's tables, parsed."""
    parser = Tables()
    parser.feed(page.read_text("utf-8"))
    return parser


@pytest.mark.parametrize(
    ("value", "label", "text"),
    [
        (20240312, "seed", "20240312"),
        (12954, "arrivals", "12,954"),
        (5495, "arrivals", "5,495"),
        (np.int64(5495), "settled", "5,495"),
        (12699999.999999998, "settled per day (full scale)", "12,700,000"),
        (10.5833, "settled per hour", "10.58"),
        (0.02353, "cross-province share", "2.35%"),
        (0.5, "utilisation", "50.0%"),
        (3e-6, "utilisation", "< 0.01%"),
        (0.0, "fallback share", "0.00%"),
        (0.25, "cross-province inpatient direct settlement rate", "25.0%"),
        (0.794, "clearing netting ratio", "0.794"),
        (0.1424, "settle p99 local (s)", "142 ms"),
        (1.0029, "settle p99 (s)", "1.00 s"),
        (0.9997, "wait p99 (s)", "1.00 s"),
        (300.0, "wait mean (s)", "5.00 min"),
        (24.0, "measured window (h)", "24.0 h"),
        (0.0, "warm-up cut (s)", "0 s"),
        (1234.5, "net transfers (¥)", "1,234.50"),
        (True, "passed", "yes"),
        (None, "settle p50 cross (s)", "–"),
        (float("nan"), "cross-province share", "–"),
    ],
)
def test_one_rule_for_every_cell(value: object, label: str, text: str) -> None:
    """Counts with separators from 1,000, identifiers never, shares as %, times with units."""
    assert format_cell(value, kind_of(label)) == text


def test_durations_pick_their_unit() -> None:
    """A time is written in the unit that gives it one to three digits before the point."""
    assert [duration(s) for s in (2e-5, 0.0344, 59.99, 7200.0, 1e-9)] == [
        "20.0 µs", "34.4 ms", "1.00 min", "2.00 h", "< 1 µs"
    ]  # fmt: skip


def test_html_table_has_one_header_row_and_spans_repeated_row_headers() -> None:
    """No header row of index names alone (as pandas writes); the fault spans its stretches."""
    frame = pd.DataFrame(
        {"fault": ["outage national"] * 2 + ["loss"], "stretch": ["before", "during", "during"],
         "settle p99 (s)": [0.2, 3.5, 1.0]}
    ).set_index(["fault", "stretch"])  # fmt: skip
    text = html_table(frame)
    assert text.count("<tr>") == 4 and text.count("<thead>") == 1
    head = text.split("</thead>")[0]
    assert '<th scope="col">settle p99</th>' in head and "(s)" not in head
    assert '<th scope="row" rowspan="2">outage national</th>' in text
    assert "3.50 s" in text and "200 ms" in text


def test_page_has_every_table_written_by_the_rule(page: Path) -> None:
    """Faults, settlement nodes, protocol and clearing have tables; each table has one
    header row with no empty cell; the seed has no separators; shares are percentages;
    no count of four digits or more lacks its separator."""
    parsed = tables_of(page)
    for section in ("Headline figures", "Services", "Faults", "Settlement nodes", "Protocol",
                    "Clearing", "Money checks"):  # fmt: skip
        assert section in parsed.tables, f"no table under {section!r}"
        assert parsed.header_rows[section] == 1, f"{section}: more than one header row"
        header = parsed.tables[section][0]
        assert all(text for _tag, text in header), f"{section}: an empty header cell"
        assert len(parsed.tables[section]) > 1, f"{section}: a header and no rows"
    headline = {row[0][1]: row[1][1] for row in parsed.tables["Headline figures"][1:]}
    assert headline["seed"] == str(SEED)
    assert headline["measured window"].endswith(" h")
    services = parsed.tables["Services"]
    share = [text for _tag, text in services[0]].index("cross-province share")
    assert all(row[share][1].endswith("%") for row in services[1:])
    faults = [[text for _tag, text in row] for row in parsed.tables["Faults"]]
    assert faults[1][:2] == ["outage national", "before"] and faults[2][0] == "during"
    nodes = parsed.tables["Settlement nodes"]
    assert [text for _tag, text in nodes[0]][:5] == [
        "settlement node", "servers", "arrivals", "completed per hour", "utilisation"
    ]  # fmt: skip
    assert {row[0][1] for row in nodes[1:]} >= {"national platform", "provincial platform GD"}
    assert any(row[0][1] == "reversals unacknowledged" for row in parsed.tables["Protocol"])
    for section, rows in parsed.tables.items():
        for row in rows[1:]:
            for tag, text in row:
                if tag == "td" and re.fullmatch(r"-?\d{4,}(\.\d+)?", text):
                    assert text == str(SEED), f"{section}: {text!r} has no separator"


def test_protocol_table_sets_the_background_beside_the_holders(
    run: RunFrames, tmp_path: Path
) -> None:
    """Under full load the background's counters stand beside the simulated holders', and
    the node note says what the node columns count."""
    folder = tmp_path / "full"
    folder.mkdir()
    for path in run.folder.iterdir():
        if path.is_file():
            shutil.copy(path, folder / path.name)
    summary = json.loads((folder / "summary.json").read_text("utf-8"))
    background = {"requests": 25_109_846, "retries": 553_293}
    summary["network_load"] = {"mode": "full", "load_factor": 1.0, "background": background}
    (folder / "summary.json").write_text(json.dumps(summary), "utf-8")
    full = load_run(folder)
    table = protocol_table(full)
    assert table.loc["retries", "background"] == 553_293
    assert pd.isna(table.loc["reconciled at close", "background"])
    assert "unacknowledged" not in table.loc["attempts", "what it counts"]
    assert "no answer to the reversal" in table.loc["reversals unacknowledged", "what it counts"]
    assert "background" not in protocol_table(run).columns
    text = render_html(full, [])
    assert "25,109,846 background requests" in text and "553,293" in text


def texts_outside(fig: Figure) -> list[str]:
    """The titles, axis labels and legend texts of ``fig`` that reach past its edges."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    texts: list[Text] = [fig._suptitle] if fig._suptitle is not None else []
    for legend in fig.legends:
        texts += legend.get_texts()
    for ax in fig.axes:
        if ax.get_visible():
            texts += [ax.title, ax.xaxis.label, ax.yaxis.label]
            texts += ax.get_legend().get_texts() if ax.get_legend() is not None else []
    width, height = fig.bbox.width, fig.bbox.height
    outside = []
    for text in texts:
        if text.get_visible() and text.get_text().strip():
            box = text.get_window_extent(renderer)
            if box.x0 < -1 or box.y0 < -1 or box.x1 > width + 1 or box.y1 > height + 1:
                outside.append(text.get_text())
    return outside


@pytest.fixture(scope="module")
def one_service(run: RunFrames, tmp_path_factory: pytest.TempPathFactory) -> RunFrames:
    """The run with only its pharmacy transactions: every per-service grid has one panel."""
    folder = tmp_path_factory.mktemp("page") / "pharmacy"
    folder.mkdir()
    for path in run.folder.iterdir():
        if path.is_file():
            shutil.copy(path, folder / path.name)
    txns = run.transactions
    txns[txns["service"].astype(str) == "pharmacy"].to_parquet(folder / "transactions.parquet")
    return load_run(folder)


PER_SERVICE = ("latency_cdf", "throughput_per_hour", "outcomes")
"""The standard plots drawn per service (the others do not change with the services)."""


def test_plot_titles_and_labels_fit_one_service(one_service: RunFrames) -> None:
    """With one service (one narrow panel) every title and label stays inside its figure."""
    for plot in PLOTS:
        if plot.name in PER_SERVICE:
            assert texts_outside(plot.draw(one_service)) == [], plot.name


def test_plot_titles_fit_three_services(run: RunFrames) -> None:
    """Three panels: the long figure title wraps instead of being cut at both ends."""
    for draw in (latency_cdf, throughput_per_hour):
        assert texts_outside(draw(run)) == [], draw.__name__


def test_a_station_of_one_server_says_server(run: RunFrames) -> None:
    """The station timeline's panel titles count servers in words that agree."""
    stations = run.stations
    one = str(stations.loc[stations["servers"] == 1, "station"].iloc[0])
    fig = station_timeline(run, [one, "node:national"])
    titles = [" ".join(ax.get_title().split()) for ax in fig.axes if ax.get_visible()]
    assert any("(1 server)" in t for t in titles) and any("(8 servers)" in t for t in titles)


CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser", "google-chrome")
     if (found := shutil.which(name)) is not None),
    None,
)  # fmt: skip
WINDOW = (1280, 2400)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (.ci/run installs it)")
def test_page_renders_in_headless_chromium(page: Path) -> None:
    """Chromium opens the page from file://, draws it (a screenshot with tables and plots),
    logs no console message, and fetches nothing: every request the page made is local."""
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="sscard-chromium-") as profile:
        shot = Path(profile) / "page.png"
        netlog = Path(profile) / "net.json"
        done = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
             "--host-resolver-rules=MAP * ~NOTFOUND", f"--log-net-log={netlog}",
             f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}", "--dump-dom",
             page.as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
        assert console == [], "\n".join(console)
        dom = done.stdout
        drawn = [plot for plot in PLOTS if plot.name != "fraud"]  # the run has no fraud
        assert dom.count("<table>") >= 7 and dom.count("data:image/png;base64,") == len(drawn)
        requests = _page_requests(json.loads(netlog.read_text("utf-8")))
        assert all(u.startswith(("file:", "data:")) for u in requests), requests
        image = Image.open(shot)
        assert image.size == WINDOW
        pixels = np.asarray(image.convert("RGB"), dtype=np.int64)
    colours = np.unique(pixels[..., 0] << 16 | pixels[..., 1] << 8 | pixels[..., 2])
    assert colours.size > 200, f"{colours.size} colours: the page looks blank"
    ink = (pixels.min(axis=2) < 128).mean()
    assert 0.005 < ink < 0.5, f"{ink:.1%} of the screenshot is dark"


def _page_requests(netlog: dict[str, object]) -> set[str]:
    """URLs requested on behalf of a file:// page (not the browser's own background calls)."""
    events = netlog.get("events")
    assert isinstance(events, list), "the net log has no events"
    requests = set()
    for event in events:
        params = event.get("params") or {}
        if "file://" in str(params.get("network_isolation_key", "")) and "url" in params:
            requests.add(str(params["url"]))
    return requests

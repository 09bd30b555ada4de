"""Reports: a run's or a sweep's results as DataFrames, standard plots and an HTML page.

Notebooks and ``sscard-sim report`` share these helpers, so no plotting code is
copied between notebooks. Load a folder with :func:`load_run` (or
:func:`load_sweep`), then draw: each plot function takes the loaded results and
returns a :class:`matplotlib.figure.Figure` on the Agg canvas (nothing is
displayed; a notebook shows the figure returned by its last line, and
:func:`save_png` writes it). :func:`write_report` writes the standard set.

Modules: ``frames`` (loading), ``style`` (how plots look), ``traffic`` (load over
time), ``latency``, ``outcomes`` (outcomes, fallbacks, direct settlement, fund
share), ``clearing``, ``capacity`` (sweeps), ``faults``, ``fraud`` (fraud, detection
rules and the hot list), ``tables``, ``cells`` (how the page writes a figure),
``page``.
"""

from sim.report.capacity import capacity_curve, capacity_table, knee
from sim.report.clearing import gross_flows, net_positions, net_positions_table
from sim.report.faults import fault_spans, fault_timeline, fault_windows_table
from sim.report.frames import (
    ResultsFolderError,
    RunFrames,
    SweepFrames,
    folder_kind,
    load_run,
    load_sweep,
)
from sim.report.fraud import fraud_outcomes, hotlist_losses, rule_scores
from sim.report.latency import ecdf, latency_cdf
from sim.report.outcomes import (
    direct_settlement_heatmap,
    direct_settlement_table,
    fund_share,
    outcome_breakdown,
    reason_breakdown,
)
from sim.report.page import PLOTS, Report, write_report
from sim.report.style import png_bytes, save_png
from sim.report.tables import (
    clearing_table,
    headline_table,
    money_checks,
    node_table,
    protocol_table,
    service_table,
)
from sim.report.traffic import (
    busiest_point_service,
    busiest_stations,
    describe_station,
    station_timeline,
    throughput_per_hour,
    utilisation_heatmap,
)

__all__ = [
    "PLOTS",
    "Report",
    "ResultsFolderError",
    "RunFrames",
    "SweepFrames",
    "busiest_point_service",
    "busiest_stations",
    "capacity_curve",
    "capacity_table",
    "clearing_table",
    "describe_station",
    "direct_settlement_heatmap",
    "direct_settlement_table",
    "ecdf",
    "fault_spans",
    "fault_timeline",
    "fault_windows_table",
    "folder_kind",
    "fraud_outcomes",
    "fund_share",
    "gross_flows",
    "headline_table",
    "hotlist_losses",
    "knee",
    "latency_cdf",
    "load_run",
    "load_sweep",
    "money_checks",
    "net_positions",
    "net_positions_table",
    "node_table",
    "outcome_breakdown",
    "png_bytes",
    "protocol_table",
    "reason_breakdown",
    "rule_scores",
    "save_png",
    "service_table",
    "station_timeline",
    "throughput_per_hour",
    "utilisation_heatmap",
    "write_report",
]

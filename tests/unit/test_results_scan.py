"""``sim.results.scan`` and ``tidy_summary``: a run, a sweep or a store queried as one dataset.

One small sweep (two variants × two replications of a ten-minute smoke run) is run
once; a per-variant p99 asked of the dataset must be the one a loop over the task
folders computes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from sim.experiment import Plan, run_sweep
from sim.experiment.figures import figure_names
from sim.experiment.shards import run_shard
from sim.experiment.store import Shard
from sim.results import ScanError, scan, tidy_summary
from tests.conftest import SCENARIOS

SERVERS = "network.national.servers"


@pytest.fixture(scope="module")
def plan() -> Plan:
    """Two variants of a ten-minute smoke run."""
    return Plan.load(SCENARIOS / "smoke.yaml", [f"{SERVERS}=1,4"], ["horizon=10min", "warmup=0s"])


@pytest.fixture(scope="module")
def sweep(plan: Plan, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sweep folder, its tasks in its own tasks/."""
    folder = tmp_path_factory.mktemp("scan") / "sweep"
    run_sweep(plan, folder, 2)
    return folder


def test_scan_of_a_sweep_answers_p99_per_variant_as_a_loop_over_tasks_does(sweep: Path) -> None:
    """The factors lead the columns; each variant's p99 latency over its tasks' rows, from
    one query of the dataset, is the loop's over every task's transactions.parquet."""
    dataset = scan(sweep)
    assert dataset.schema.names[:3] == ["variant", SERVERS, "replication"]
    table = dataset.to_table(columns=["variant", SERVERS, "latency_s"])
    frame = table.to_pandas().groupby(["variant", SERVERS]).latency_s.quantile(0.99)
    for (variant, servers), p99 in frame.items():
        files = sorted((sweep / "tasks" / f"variant={variant}").glob("*/transactions.parquet"))
        latency = np.concatenate([pq.read_table(f)["latency_s"].to_numpy() for f in files])
        assert p99 == pytest.approx(np.quantile(latency, 0.99), rel=1e-12)
        assert servers == {"v000": 1, "v001": 4}[variant]
    only = dataset.to_table(filter=pc.field(SERVERS) == 4, columns=["replication"])
    assert set(only["replication"].to_pylist()) == {0, 1}


def test_scan_of_a_store_and_of_a_sweep_folder_pointing_at_it(
    plan: Plan, sweep: Path, tmp_path: Path
) -> None:
    """A store filled by shards and a sweep folder whose tasks are in a store scan to the
    sweep's rows; stations scan too."""
    store = tmp_path / "store"
    for index in (1, 2):
        run_shard(plan, store, 2, Shard(index, 2))
    run_sweep(plan, tmp_path / "tables", 2, store=store)
    expected = scan(sweep).to_table().sort_by([("variant", "ascending"), ("replication",
                                               "ascending"), ("txn_id", "ascending")])  # fmt: skip
    for folder in (store, tmp_path / "tables"):
        got = scan(folder).to_table().sort_by([("variant", "ascending"), ("replication",
                                               "ascending"), ("txn_id", "ascending")])  # fmt: skip
        assert got.equals(expected)
    assert scan(store, "stations").count_rows() == scan(sweep, "stations").count_rows() > 0


def test_scan_of_one_run_and_the_errors_name_the_folder(sweep: Path, tmp_path: Path) -> None:
    """A run's folder scans to its own table; an empty folder, an unknown table and a sweep
    that kept no transactions are errors naming what is wrong and where."""
    task = sweep / "tasks" / "variant=v000" / "replication=000"
    assert scan(task).count_rows() == pq.read_metadata(task / "transactions.parquet").num_rows
    with pytest.raises(ScanError, match=f"{tmp_path} is not a run's results folder"):
        scan(tmp_path)
    with pytest.raises(ScanError, match="unknown table 'transaction' \\(known: transactions,"):
        scan(sweep, "transaction")
    plan = Plan.load(SCENARIOS / "smoke.yaml", (), ["horizon=10min", "warmup=0s"])
    run_sweep(plan, tmp_path / "lean", 1, keep="summary")
    with pytest.raises(ScanError, match=r"no task folder under .*lean/tasks holds transactions"):
        scan(tmp_path / "lean")


def test_tidy_summary_has_one_row_per_variant_and_figure(sweep: Path) -> None:
    """variant, factor, figure, mean, interval, n: the wide summary's numbers, long."""
    tidy = tidy_summary(sweep)
    wide = pq.read_table(sweep / "summary.parquet").to_pylist()
    assert tidy.num_rows == 2 * len(figure_names())
    assert tidy.column_names[:3] == ["variant", SERVERS, "figure"]
    rows = {(r["variant"], r["figure"]): r for r in tidy.to_pylist()}
    for variant in wide:
        row = rows[(variant["variant"], "settle_p99_local_s")]
        assert row["mean"] == variant["settle_p99_local_s_mean"]
        assert row["half_width"] == variant["settle_p99_local_s_halfwidth"]
        assert row["n"] == variant["settle_p99_local_s_n"] == 2
        assert row[SERVERS] == variant[SERVERS]

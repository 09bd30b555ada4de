"""Every task's table as one dataset, and the summary as a tidy long table.

:func:`scan` reads a run's results folder, a sweep folder or a store as one
:class:`pyarrow.dataset.Dataset`: the rows of one table (transactions,
stations, ledger, …) of every task, with the variant, each varied key and the
replication as columns. Nothing is read until the dataset is queried, so a
notebook asks "p99 per variant" over a hundred tasks in one query, and DuckDB
or polars can be handed the same dataset (or the same files: the task folders
are named ``variant=v000/replication=000``, the hive layout).
:func:`tidy_summary` turns ``summary.parquet`` (one wide row per variant) into
one row per variant and figure.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from sim.experiment.catalogue import (
    PLAN_FILE,
    SUMMARY_TABLE,
    SweepFolderError,
    factor_type,
    tasks_root,
)
from sim.experiment.figures import figure_names
from sim.experiment.plan import Factor
from sim.experiment.store import STORE_FILE
from sim.experiment.taskfiles import TASKS
from sim.outputs.results import (
    CLEARING,
    LEDGER,
    MANIFEST,
    STATIONS,
    TIMESERIES,
    TRANSACTIONS,
)

__all__ = ["TABLES", "ScanError", "scan", "tidy_summary"]

TABLES = tuple(n.removesuffix(".parquet") for n in (TRANSACTIONS, STATIONS, TIMESERIES,
                                                     LEDGER, CLEARING))  # fmt: skip
"""The tables a run writes, by the name :func:`scan` takes."""


class ScanError(SweepFolderError):
    """Nothing to scan: not a run, sweep or store folder, or no task kept the table."""


def scan(folder: str | Path, table: str = "transactions") -> ds.Dataset:
    """One table of a run, a sweep or a store, every task's rows with their factors.

    Args:
        folder: A run's results folder, a sweep folder or a store.
        table: ``transactions``, ``stations``, ``timeseries``, ``ledger`` or ``clearing``.

    Returns:
        A dataset; for a sweep or a store its first columns are ``variant``, one per
        varied key (typed as in ``sweep.parquet``) and ``replication``.

    Raises:
        ScanError: ``folder`` is none of those, or no task folder holds the table.
    """
    folder = Path(folder)
    if table not in TABLES:
        raise ScanError(f"scan: unknown table {table!r} (known: {', '.join(TABLES)})")
    name = f"{table}.parquet"
    if (folder / STORE_FILE).is_file() or (folder / PLAN_FILE).is_file():
        return _scan_tasks(folder, name)
    if (folder / MANIFEST).is_file():
        if not (folder / name).is_file():
            raise ScanError(f"scan: the run in {folder} kept no {name}")
        return ds.dataset(folder / name, format="parquet")
    raise ScanError(f"scan: {folder} is not a run's results folder, a sweep folder or a "
                    f"store (no {MANIFEST}, {PLAN_FILE} or {STORE_FILE})")  # fmt: skip


def _scan_tasks(folder: Path, name: str) -> ds.Dataset:
    """The dataset of one table over every finished task folder of a sweep or a store."""
    described = folder / (PLAN_FILE if (folder / PLAN_FILE).is_file() else STORE_FILE)
    plan = json.loads(described.read_text("utf-8"))
    factors = [Factor(v["key"], tuple(v["values"])) for v in plan.get("vary", [])]
    combos = list(itertools.product(*(f.typed() for f in factors)))
    root = tasks_root(folder, plan) / TASKS
    paths = sorted(root.glob(f"variant=v*/replication=*/{name}"))  # not .staging-… ones
    keys = [_key(p) for p in paths]
    found = [(p, k) for p, k in zip(paths, keys, strict=True) if k and k[0] < len(combos)]
    if not found:
        kept = " (a sweep run with --keep summary keeps no tables but stations)"
        raise ScanError(f"scan: no task folder under {root} holds {name}"
                        f"{kept if name != STATIONS else ''}")  # fmt: skip
    local = pafs.LocalFileSystem()
    parquet = ds.ParquetFileFormat()
    columns = [pa.field("variant", pa.string())]
    columns += [pa.field(f.key, factor_type(f)) for f in factors]
    columns += [pa.field("replication", pa.int32())]
    physical = parquet.inspect(str(found[0][0]), local)
    clash = sorted({c.name for c in columns} & set(physical.names))
    if clash:
        raise ScanError(f"scan: {name} has columns named like the factors: {', '.join(clash)}")
    fragments = []
    for path, (variant, replication) in found:
        values: list[tuple[pa.Field, Any]] = [(columns[0], f"v{variant:03d}")]
        values += list(zip(columns[1:-1], combos[variant], strict=True))
        values.append((columns[-1], replication))
        where = [ds.field(f.name) == pa.scalar(v, f.type) for f, v in values]
        expression = where[0]
        for term in where[1:]:
            expression = expression & term
        fragments.append(parquet.make_fragment(str(path), local, partition_expression=expression))
    schema = pa.schema([*columns, *physical])
    return ds.FileSystemDataset(fragments, schema, parquet, local)


def _key(path: Path) -> tuple[int, int] | None:
    """(variant, replication) from ``variant=v000/replication=000/<table>``, or None."""
    variant = path.parent.parent.name.removeprefix("variant=v")
    replication = path.parent.name.removeprefix("replication=")
    if variant.isdigit() and replication.isdigit():
        return int(variant), int(replication)
    return None


def tidy_summary(folder: str | Path) -> pa.Table:
    """``summary.parquet`` as one row per variant and figure (a long, tidy table).

    Columns: ``variant``, each varied key, ``figure``, ``mean``, ``low``, ``high``,
    ``half_width``, ``n`` (the figure's 95% interval over the replications) and
    ``diff``, ``diff_low``, ``diff_high``, ``diff_half_width``, ``diff_n`` (the
    paired difference to ``v000``). Rows are in figure order, then variant order.
    """
    import pyarrow.parquet as pq

    folder = Path(folder)
    path = folder / SUMMARY_TABLE
    if not path.is_file():
        raise ScanError(f"tidy_summary: {folder} is not a sweep folder (no {SUMMARY_TABLE})")
    wide = pq.read_table(path)
    plan = json.loads((folder / PLAN_FILE).read_text("utf-8"))
    keys = ["variant", *(v["key"] for v in plan.get("vary", []))]
    parts = {"mean": "_mean", "low": "_low", "high": "_high", "half_width": "_halfwidth",
             "n": "_n", "diff": "_diff", "diff_low": "_diff_low", "diff_high": "_diff_high",
             "diff_half_width": "_diff_halfwidth", "diff_n": "_diff_n"}  # fmt: skip
    blocks = []
    for figure in figure_names():
        if f"{figure}_mean" not in wide.column_names:  # a table from an older version
            continue
        columns = {k: wide[k] for k in keys}
        columns["figure"] = pa.array([figure] * wide.num_rows, pa.string())
        for part, suffix in parts.items():
            kind = pa.int64() if part in ("n", "diff_n") else pa.float64()
            columns[part] = wide[f"{figure}{suffix}"].cast(kind)  # all-null columns typed
        blocks.append(pa.table(columns))
    return pa.concat_tables(blocks)

"""The sweep's store options (``--store``, ``--shard``, ``--keep``) and ``sweep collect``.

Kept apart from :mod:`sim.cli.main` so the sweep's parser there stays short.
``sscard-sim sweep collect STORE`` is recognised before the sweep's own parser,
whose first argument is a scenario file (a scenario file named ``collect`` is
run as ``./collect``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["COLLECT", "add_store_options", "collect_parser"]

COLLECT = "collect"

KEEP = ("summary", "tables", "all")
"""The ``--keep`` choices (see :mod:`sim.experiment.taskfiles`)."""


def add_store_options(sweep: Any) -> None:
    """Add ``--store``, ``--shard`` and ``--keep`` to the sweep's parser."""
    sweep.add_argument(
        "--store",
        type=Path,
        metavar="DIR",
        help="a folder every worker sees: workers write the task folders there and send "
        "back only their row (default --out: the store itself)",
    )
    sweep.add_argument(
        "--shard",
        metavar="I/N",
        help="run only shard I of N of the tasks into --store, and no table (one job of a "
        "job array each; then: sscard-sim sweep collect STORE)",
    )
    sweep.add_argument(
        "--keep",
        choices=KEEP,
        default="all",
        help="what each task folder keeps: summary (summary.json, manifest.json, "
        "stations.parquet), tables (and every Parquet table) or all (default)",
    )


def collect_parser() -> argparse.ArgumentParser:
    """The parser of ``sscard-sim sweep collect``."""
    parser = argparse.ArgumentParser(
        prog="sscard-sim sweep collect",
        description="Write sweep.parquet and summary.parquet from a store that shards "
        "(sweep --shard I/N) have filled; nothing is written while a task is missing.",
    )
    parser.add_argument("store", type=Path, metavar="STORE", help="the --store of the shards")
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="sweep folder to write (default: the store)"
    )
    parser.add_argument("--quiet", action="store_true", help="no table")
    return parser

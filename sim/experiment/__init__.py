"""Experiments: replications, sweeps over scenario keys, intervals, capacity searches.

A :class:`Plan` turns a scenario and ``--vary`` factors into variants;
:func:`run_sweep` runs replications of each (common random numbers) on an
executor (in process, local processes, or Dask) into a sweep folder, and
summarises them with Student-t intervals and paired differences;
:func:`search_capacity` bisects a node's server count against a target.
"""

from sim.experiment.capacity import CapacityResult, Target, search_capacity
from sim.experiment.catalogue import Catalogue, SweepFolderError, read_tables
from sim.experiment.executors import (
    DaskExecutor,
    ExecutorError,
    InProcessExecutor,
    LocalExecutor,
    make_executor,
)
from sim.experiment.plan import Factor, Plan, PlanError, Variant
from sim.experiment.stats import Interval, mean_interval, paired_interval
from sim.experiment.sweep import Precision, SweepResult, run_sweep

__all__ = [
    "CapacityResult",
    "Catalogue",
    "DaskExecutor",
    "ExecutorError",
    "Factor",
    "InProcessExecutor",
    "Interval",
    "LocalExecutor",
    "Plan",
    "PlanError",
    "Precision",
    "SweepFolderError",
    "SweepResult",
    "Target",
    "Variant",
    "make_executor",
    "mean_interval",
    "paired_interval",
    "read_tables",
    "run_sweep",
    "search_capacity",
]

"""Results one can query: every task of a run, a sweep or a store as one dataset.

``scan(folder, table="transactions")`` gives one :class:`pyarrow.dataset.Dataset`
of that table over every task, with ``variant``, the varied keys and
``replication`` as columns; ``tidy_summary(folder)`` gives a sweep's
``summary.parquet`` as one row per variant and figure. Both live in
:mod:`sim.experiment.scan`; this module is their short public address.
"""

from sim.experiment.scan import TABLES, ScanError, scan, tidy_summary

__all__ = ["TABLES", "ScanError", "scan", "tidy_summary"]

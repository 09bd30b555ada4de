"""Little's law on every station of a run, closed exactly at the window's edges.

Over a measured window of length τ, the queue's area ∫Q dt and the waits of the
jobs that started service in it differ only by the jobs queued at the window's
two ends: those waiting at its start recorded part of their wait before it
(``wait_carried_in_s``), and those still waiting at its end have not recorded
their wait yet (``wait_open_s``). Hence, exactly,

    L τ = Σ w − carried_in + open,     n = A − Q_end + Q_start,

with L the mean queue, A the admitted arrivals, n the waits recorded and Σ w
their sum. Little's law L = λW (λ = A/τ, W = Σw/n; Little 1961) follows up to
the edge term

    L − λW = (W (Q_start − Q_end) − carried_in + open) / τ,

which vanishes when the window starts and ends with empty queues and shrinks
as 1/τ otherwise. :func:`littles_law` checks the identity on every row of
``stations.parquet`` to float precision (any bookkeeping slip breaks it) and
reports the plain gap |L − λW| / L, the edge effect a reader sees.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import pyarrow as pa

__all__ = ["LittleCheck", "littles_law"]

RTOL = 1e-6
"""Relative tolerance of the identity: waits are kept as float32 (6e-8 relative)."""


@attrs.frozen
class LittleCheck:
    """Little's law on one station over its measured window."""

    station: str
    queue: float
    """L: the time-average number waiting."""
    arrival_rate: float
    """λ: admitted arrivals per second (turned-away ones never wait)."""
    wait_s: float
    """W: mean wait of the jobs that started service in the window (0 if none)."""
    edge: float
    """The edge term L − λW owed to jobs queued at the window's start or end."""
    residual: float
    """L − λW − edge: zero up to rounding when the station's figures are consistent."""

    @property
    def lambda_w(self) -> float:
        """λW."""
        return self.arrival_rate * self.wait_s

    @property
    def relative_gap(self) -> float:
        """|L − λW| / max(L, λW), the plain edge effect (0 when both are 0)."""
        scale = max(self.queue, self.lambda_w)
        return abs(self.queue - self.lambda_w) / scale if scale > 0 else 0.0

    @property
    def ok(self) -> bool:
        """Whether the identity holds to float precision."""
        scale = self.queue + self.lambda_w + abs(self.edge)
        return abs(self.residual) <= RTOL * scale + 1e-12


QUEUES = ("point", "node", "backlog")
"""Kinds of station that are queues: their waits are recorded, so Little's law applies
(an upload backlog's records wait from the tap to their gate's upload)."""


def littles_law(stations: pa.Table | Mapping[str, Sequence[Any]]) -> list[LittleCheck]:
    """Check Little's law on each row of a stations table (``stations.parquet``)."""
    cols = stations.to_pydict() if isinstance(stations, pa.Table) else stations
    checks = []
    for i, name in enumerate(cols["station"]):
        if cols["kind"][i] not in QUEUES:
            continue
        tau = float(cols["window_s"][i])
        admitted = int(cols["arrivals"][i]) - int(cols["blocked"][i])
        q_start, q_end = int(cols["queue_start"][i]), int(cols["queue_end"][i])
        started = admitted - q_end + q_start
        wait = cols["wait_mean_s"][i]
        wait = 0.0 if started == 0 or wait is None or math.isnan(wait) else float(wait)
        carried, open_ = float(cols["wait_carried_in_s"][i]), float(cols["wait_open_s"][i])
        queue = float(cols["mean_queue"][i])
        if tau <= 0:
            checks.append(LittleCheck(name, queue, 0.0, wait, 0.0, 0.0))
            continue
        rate = admitted / tau
        edge = (wait * (q_start - q_end) - carried + open_) / tau
        checks.append(LittleCheck(name, queue, rate, wait, edge, queue - rate * wait - edge))
    return checks

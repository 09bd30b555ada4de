"""Erlang C beside every settlement node of any run: a quick sanity check on the waits.

From a node's measured figures alone (its arrival rate λ and its mean number of
busy servers a = λ × mean service time, by Little's law on the servers), the
M/M/c formula predicts the mean wait. Real nodes are not M/M/c: their service
times need not be exponential and their load follows the day. But a simulated
wait more than twice or less than half the prediction deserves a look: it
signals a modelling mistake, a strongly non-exponential service, or load that
changes so much over the window that an average says little (a node saturated
at the morning peak and idle at night). Waits that are both tiny compared with
the service time are not compared: their ratio is noise. Nor are nodes fed in
batches (a bank node lands a payout file of thousands of credits at once): M/M/c
assumes Poisson arrivals, and a batch makes waits of hours at 1% load, so the
comparison would be a false alarm.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from sim.scenario.families import FAMILIES
from sim.theory import erlang_c

__all__ = ["FACTOR", "node_theory"]

FACTOR = 2.0
"""Simulated and predicted waits differing by more than this factor are flagged."""
MIN_ARRIVALS = 100
"""Nodes with fewer arrivals in the window are not compared."""
NEGLIGIBLE = 0.01
"""Waits below this share of the mean service time count as none."""
BATCH_FED = frozenset(fam.key for fam in FAMILIES if fam.batch_arrivals)
"""Families whose nodes receive work in batches, not as a Poisson stream (not compared)."""


def node_theory(stations: pa.Table | Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Per settlement node: measured load and wait, the Erlang-C wait, their ratio, a verdict.

    The verdict is ``ok``, ``differs`` (by more than :data:`FACTOR`), ``saturated``
    (measured load at or above the servers: no steady state to compare with),
    ``batch arrivals`` (a node of a :data:`BATCH_FED` service), ``negligible``
    (both waits below 1% of the service time) or ``too few`` arrivals to say.
    """
    cols = stations.to_pydict() if isinstance(stations, pa.Table) else stations
    rows = []
    for i, kind in enumerate(cols["kind"]):
        if kind != "node":
            continue
        servers = int(cols["servers"][i])
        rate = float(cols["arrival_rate_per_s"][i])
        load = float(cols["mean_busy"][i])
        wait = cols["wait_mean_s"][i]
        wait = math.nan if wait is None else float(wait)
        service = load / rate if rate > 0 else math.nan
        predicted, ratio, verdict = math.nan, math.nan, "too few"
        service_name = cols["service"][i] if "service" in cols else ""
        if service_name in BATCH_FED:
            verdict = "batch arrivals"
        elif cols["arrivals"][i] >= MIN_ARRIVALS and service > 0:
            if load >= servers:
                verdict = "saturated"
            else:
                predicted = erlang_c(servers, load) * service / (servers - load)
                verdict, ratio = _compare(wait, predicted, service)
        rows.append(
            {
                "station": cols["station"][i],
                "servers": servers,
                "arrival_rate_per_s": rate,
                "mean_service_s": service,
                "utilisation": load / servers,
                "wait_mean_s": wait,
                "erlang_c_wait_s": predicted,
                "ratio": ratio,
                "verdict": verdict,
            }
        )
    return rows


def _compare(wait: float, predicted: float, service: float) -> tuple[str, float]:
    if max(wait, predicted) < NEGLIGIBLE * service:
        return "negligible", math.nan
    if predicted <= 0:
        return "differs", math.inf
    ratio = wait / predicted
    return ("differs" if not 1 / FACTOR <= ratio <= FACTOR else "ok"), ratio

"""Reading the figures theory predicts out of one run's results folder.

A probe is small, picklable data naming what to read (which point, which
nodes, which arrival streams); :meth:`measure` turns one run's
``transactions.parquet``, ``stations.parquet`` and summary into plain numbers,
and into the arrays that are pooled over replications (hourly counts,
rescaled inter-arrival times). It also reports any sign that the run broke
an assumption of its reduction, such as a timeout or a request that waited
for a counter.

Customer averages (P(wait), mean wait, time at the point, settle latency) are
taken over the transactions that arrived in the measured window, whenever
they ended; time averages (mean queue, busy counters) and per-node figures
come from the stations table over the same window.
"""

from __future__ import annotations

from typing import Any, Protocol

import attrs
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from sim.outputs.results import Result

__all__ = [
    "WAIT_EPS_S",
    "ArrivalProbe",
    "Measurement",
    "NetworkProbe",
    "PointProbe",
    "Probe",
    "rescaled_gaps",
]

WAIT_EPS_S = 1e-6
"""Waits shorter than this count as none: arrival times are rounded to the event clock."""

GAP_MARGIN = 10.0
"""Rescaled gaps are kept if they start at least this far before the stream's end."""

Array = npt.NDArray[np.float64]


@attrs.define
class Measurement:
    """What one run says: figures by quantity key, arrays to pool, broken assumptions."""

    values: dict[str, float] = attrs.Factory(dict)
    arrays: dict[str, Array] = attrs.Factory(dict)
    problems: list[str] = attrs.Factory(list)


class Probe(Protocol):
    """Reads one run's results into a :class:`Measurement`."""

    def measure(self, result: Result) -> Measurement:
        """The figures of one run."""
        ...


def _labels(column: pa.ChunkedArray) -> npt.NDArray[np.str_]:
    """A dictionary-encoded column as an array of its labels."""
    array = column.combine_chunks()
    if len(array) == 0:
        return np.zeros(0, dtype=str)
    labels = np.asarray(array.dictionary.to_pylist(), dtype=str)
    picked: npt.NDArray[np.str_] = labels[array.indices.to_numpy()]
    return picked


def _window(result: Result, arrival: Array) -> npt.NDArray[np.bool_]:
    window = result.summary["window"]
    mask: npt.NDArray[np.bool_] = (arrival >= window["from_s"]) & (arrival < window["to_s"])
    return mask


def _station(result: Result, name: str) -> dict[str, Any]:
    cols = result.stations.to_pydict()
    i = cols["station"].index(name)
    return {key: values[i] for key, values in cols.items()}


@attrs.frozen
class PointProbe:
    """One service point (its point group holds exactly one point)."""

    service: str
    province: str

    def measure(self, result: Result) -> Measurement:
        """P(turned away), P(wait), mean wait and time at the point, mean queue and busy."""
        table = result.transactions(["arrival_s", "wait_s", "latency_s", "settle_latency_s",
                                     "reason"])  # fmt: skip
        window = _window(result, table["arrival_s"].to_numpy())
        blocked = _labels(table["reason"]) == "blocked"
        admitted = window & ~blocked
        wait = table["wait_s"].to_numpy()[admitted]
        row = _station(result, f"point:{self.service}:{self.province}")
        out = Measurement()
        out.values = {
            "p_block": float(blocked[window].mean()),
            "p_wait": float((wait > WAIT_EPS_S).mean()),
            "wait_s": float(wait.mean()),
            "sojourn_s": float(table["latency_s"].to_numpy()[admitted].mean()),
            "queue": float(row["mean_queue"]),
            "busy": float(row["mean_busy"]),
        }
        settle = table["settle_latency_s"].to_numpy()[admitted]
        if settle.size and np.nanmax(settle) > WAIT_EPS_S:
            out.problems.append(
                f"a settlement exchange took {np.nanmax(settle):.3g} s: the counter was held "
                "beyond the service time"
            )
        return out


@attrs.frozen
class NetworkProbe:
    """The settlement nodes of a Kelly network and its end-to-end settle latency."""

    nodes: tuple[str, ...]
    """Node names as in theory: a province id or ``national``."""

    def measure(self, result: Result) -> Measurement:
        """Mean sojourn per node visit and mean settle latency, local and cross-province (ms)."""
        out = Measurement()
        for node in self.nodes:
            row = _station(result, f"node:{node}")
            service = row["mean_busy"] * row["window_s"] / max(row["completions"], 1)
            out.values[f"sojourn:{node}"] = 1000 * (row["wait_mean_s"] + service)
        table = result.transactions(["arrival_s", "cross_province", "settle_latency_s"])
        window = _window(result, table["arrival_s"].to_numpy())
        cross = table["cross_province"].to_numpy(zero_copy_only=False)
        settle = table["settle_latency_s"].to_numpy()
        for key, mask in (("e2e:local", window & ~cross), ("e2e:cross", window & cross)):
            if mask.any():
                out.values[key] = 1000 * float(settle[mask].mean())
        timeouts = result.summary["protocol"]["timeouts"]
        if timeouts:
            out.problems.append(f"{timeouts} timeouts: retries add traffic theory does not see")
        cols = result.stations.to_pydict()
        queued = [s for s, k, q in zip(cols["station"], cols["kind"], cols["max_queue"],
                                       strict=True) if k == "point" and q > 0]  # fmt: skip
        if queued:
            out.problems.append(f"requests waited for a counter at {', '.join(queued)}")
        return out


@attrs.frozen(eq=False)
class ArrivalProbe:
    """Every arrival stream of a run: counts per hour piece, rescaled inter-arrival times."""

    services: tuple[str, ...]
    province_ids: tuple[str, ...]
    edges: dict[str, Array]
    """Per service, the hour edges of the run."""
    means: dict[str, Array]
    """Per service, expected arrivals per (hour piece, province)."""

    def measure(self, result: Result) -> Measurement:
        """Arrival count, counts per (service, hour piece, province), rescaled gaps.

        By the time-rescaling theorem (Brown et al., *Neural Computation* 14,
        2002), mapping each arrival time t of a stream with cumulative rate Λ to
        Λ(t) turns a non-homogeneous Poisson stream into a unit-rate one, whose
        gaps are independent Exp(1); within a constant-rate hour this is the
        gap times that hour's rate (see :func:`rescaled_gaps`).
        """
        table = result.transactions(["arrival_s", "service", "site_province"])
        arrival = table["arrival_s"].to_numpy()
        service = _labels(table["service"])
        site = _labels(table["site_province"])
        counts, gaps = [], []
        for name in self.services:
            edges, means = self.edges[name], self.means[name]
            mine = service == name
            for p, pid in enumerate(self.province_ids):
                times = np.sort(arrival[mine & (site == pid)])
                counts.append(np.histogram(times, bins=edges)[0].astype(np.float64))
                if times.size:
                    gaps.append(rescaled_gaps(times, edges, means[:, p]))
        out = Measurement()
        out.values["arrivals"] = float(np.isin(service, self.services).sum())
        out.arrays["counts"] = np.concatenate(counts) if counts else np.zeros(0)
        out.arrays["gaps"] = np.concatenate(gaps) if gaps else np.zeros(0)
        return out

    def expected_counts(self) -> Array:
        """Expected counts, in the order of ``arrays["counts"]``."""
        parts = [self.means[n][:, p] for n in self.services for p in range(len(self.province_ids))]
        return np.concatenate(parts) if parts else np.zeros(0)


def rescaled_gaps(times: Array, edges: Array, means: Array) -> Array:
    """Gaps of one arrival stream after time rescaling, kept so that they are exactly Exp(1).

    ``means[k]`` is the expected count in ``[edges[k], edges[k + 1])``; the
    cumulative rate Λ is linear within each piece. The gap running past the end
    of the run is never seen, so keeping every observed gap would favour short
    ones (noticeably when a stream holds few arrivals). A gap is kept when it
    starts at least :data:`GAP_MARGIN` before the end (Λ units): that choice
    depends only on the past, so by the strong Markov property the kept gaps
    are independent Exp(1), but for the e^-10 chance that one outlasts the run.
    """
    cumulative = np.concatenate(([0.0], np.cumsum(means)))
    ends = np.interp(np.sort(times), edges, cumulative)
    starts = np.concatenate(([0.0], ends[:-1]))
    kept: Array = (ends - starts)[starts <= cumulative[-1] - GAP_MARGIN]
    return kept

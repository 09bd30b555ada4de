"""The resource guard: size a run from its scenario, and refuse one that would not fit.

A scenario is a few lines of text, and a few lines can ask for centuries of
simulated time or every one of 1.38 billion holders (``scale: 1``). Such a run
would not end, or would exhaust memory long before writing anything. The guard
estimates, from the scenario and the province table alone and without building
any of the model, how many simulation events the run will schedule and how much
memory it will need at its peak, and :func:`check` compares them with limits
that ``sscard-sim run`` lets the user raise (``--max-events``, ``--max-memory``).

Events: each service's expected transactions over the horizon times the events
one transaction schedules (both from :func:`sim.services.expected_loads`, next
to each service's own code), plus the run's own events: opening each hour's
arrival batch, station samples and clearing periods. Memory: what a service
needs per simulated holder (holders themselves are computed, not stored, but
the pension payout scans them all for its recipients), service-point stations,
the hour-by-hour schedule, the busiest hour's arrival batch and the station time
series, with constants measured on the shipped scenarios. With ``network.load:
full``, the background's requests (the full-scale node traffic less the simulated
holders') are counted too, each as a fraction of an event (they are processed
outside the kernel, most without an event), and the busiest ten minutes of them
are held at once.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from sim.engine.stations import FOLD_WAITS_AT
from sim.scenario import Scenario
from sim.scenario.units import format_bytes
from sim.services import expected_loads
from sim.world import cards
from sim.world.demand import MAX_BATCH
from sim.world.provinces import ProvinceTable, simulated_provinces

__all__ = [
    "MAX_EVENTS",
    "MAX_MEMORY_BYTES",
    "Estimate",
    "Excess",
    "Limits",
    "check",
    "estimate",
    "limits_of",
    "smaller_scale",
    "too_large",
]

MAX_EVENTS = 1e9
"""Default limit on expected events: 2.5 to 3.5 hours at 83,000-115,000 events a second."""
MAX_MEMORY_BYTES = 8e9
"""Default limit on expected peak memory."""

BASE_BYTES = 150e6
"""Interpreter, numpy, pyarrow and SimPy before the model is built (resident, measured)."""
POINT_BYTES = 120.0
"""One service-point station and its figures (about 100 measured: its queue is made
only when a job first waits)."""
HOUR_BYTES = 200.0
"""One hour of the demand schedule (its edges and piece; 136 measured)."""
ARRIVAL_BYTES = 1000.0
"""One arrival of the busiest hour's batch: columns, their Python lists, the ended record."""
SAMPLE_BYTES = 64.0
"""One station at one sample time: the series arrays, then the time-series table."""
WAITS_BYTES = FOLD_WAITS_AT * 4.0 + 120e3
"""One station group's waits at most: those held exactly, then the sketch."""
BACKGROUND_EVENTS_PER_REQUEST = 0.3
"""The cost of one background request in simulation events of the foreground's: about
1.3 µs against about 4-5 µs an event (benchmarks/README.md)."""
BACKGROUND_BYTES = 400.0
"""One background request of the ten minutes drawn at a time (its columns as numpy
arrays and Python lists; 170 MB measured for the baseline's busiest 435,000)."""
OUTAGE_EVENTS = 4.0
"""One random outage in events' worth of time: its two timeouts, failing and mending the
node, its record (32 µs measured per outage, where an event takes about 10)."""
OUTAGE_BYTES = 1400.0
"""One random outage's record, through to the summary's list (1,350 measured)."""
TRANSACTION_BYTES = 80.0
"""What a run holds per transaction beyond the items above (allocator growth, rows
waiting on slower ones, the end-of-run summary), measured on the full-scale national
day: 4.55 GB peak for 41.6 M transactions, where the other terms give 1.14 GB. Kept
since the summary reads a row group at a time (the peak is 3.85 GB in plain Python
and 3.92 GB compiled now), so the estimate errs high."""


@attrs.frozen
class Estimate:
    """What a run is expected to cost, worked out before anything is built."""

    transactions: float
    """Expected transactions over the horizon, all services."""
    transaction_events: float
    """Expected events scheduled by those transactions."""
    run_events: float
    """Events of the run itself: hourly batches, station samples, clearing periods, the
    requesters' timeout wake-ups."""
    holders: float
    """Holders simulated (after ``scale``)."""
    points: float
    """Service-point stations simulated."""
    memory_bytes: float
    """Expected peak memory."""
    background_requests: float = 0.0
    """Expected requests of the unsimulated holders at the nodes (``network.load: full``)."""
    background_bytes: float = 0.0
    """Memory the background holds at its peak (its busiest ten minutes), included above."""
    outages: float = 0.0
    """Expected random outages (``faults.random_outages``), included in the above."""

    @property
    def events(self) -> float:
        """Expected simulation events in all (background requests at their event cost)."""
        return (self.transaction_events + self.run_events
                + self.background_requests * BACKGROUND_EVENTS_PER_REQUEST)  # fmt: skip

    @property
    def events_per_transaction(self) -> float:
        """Transaction events per expected transaction (0 when there are none)."""
        return self.transaction_events / self.transactions if self.transactions > 0 else 0.0


@attrs.frozen
class Limits:
    """Largest run ``sscard-sim run`` accepts (``inf`` turns a limit off)."""

    max_events: float = MAX_EVENTS
    max_memory_bytes: float = MAX_MEMORY_BYTES


@attrs.frozen
class Excess:
    """One limit an estimate exceeds: what, by how much, and a limit that would let it run."""

    resource: str
    """``events`` or ``memory``."""
    message: str
    suggested_limit: str
    """A round limit above the estimate, as the command-line option would take it."""


def estimate(scenario: Scenario) -> Estimate:
    """Expected events and peak memory of a run of ``scenario``.

    Works in floats throughout, so an absurd scenario (``population.holders: 1e300``,
    ``points.total: 1e40``) gives an absurd estimate rather than an overflow.
    """
    table = simulated_provinces(scenario)  # the model's provinces: its region, its holders
    given = scenario.population.holders
    total = float(table.holders.sum()) if given is None else float(given)
    holders = _rounded(total * scenario.scale)
    loads = expected_loads(scenario, holders, table).values()
    horizon = float(scenario.horizon)
    hours = horizon / 3600.0 + 2.0
    samples = horizon / float(scenario.outputs.sample_every) + 2.0
    period = scenario.clearing.period_s
    periods = horizon / (period if period is not None else 28 * 86400.0) + 2.0
    points = sum(load.points for load in loads)
    busiest = min(sum(load.busiest_hour for load in loads), float(MAX_BATCH))
    stations = len(table) * (2 * len(loads) + 1) + 4  # point groups (≤ 2 each), then nodes
    memory = (
        BASE_BYTES
        + points * POINT_BYTES
        + hours * HOUR_BYTES
        + busiest * ARRIVAL_BYTES
        + samples * stations * SAMPLE_BYTES
        + stations * WAITS_BYTES
        + sum(load.memory_bytes for load in loads)
        + sum(load.transactions for load in loads) * TRANSACTION_BYTES
        + cards.expected_bytes(scenario.cards, holders, horizon)
    )
    exchanges = sum(load.transactions * load.exchanges_per_transaction for load in loads)
    # The requesters' shared timeout wake-up fires at most once per timeout, and only
    # while some request is pending: at light load, about once per request.
    wake_ups = min(exchanges, horizon / float(scenario.network.timeout) + 1.0)
    background, background_peak = _background(scenario, table, total, holders)
    memory += background_peak * BACKGROUND_BYTES
    outages = expected_outages(scenario)
    return Estimate(
        transactions=sum(load.transactions for load in loads),
        transaction_events=sum(load.transactions * load.events_per_transaction for load in loads),
        run_events=hours
        + samples
        + periods
        + wake_ups
        + 2.0  # + feed start, warm-up reset
        + outages * OUTAGE_EVENTS,
        holders=holders,
        points=points,
        memory_bytes=memory + outages * OUTAGE_BYTES,
        background_requests=background,
        background_bytes=background_peak * BACKGROUND_BYTES,
        outages=outages,
    )


def expected_outages(scenario: Scenario) -> float:
    """Random outages a run will draw: one per mean up-and-down cycle over the horizon.

    Each is recorded and reported, so ``mtbf: 1ms`` over a day (43 million of
    them) costs more than the transactions do.
    """
    horizon = float(scenario.horizon)
    return sum(
        horizon / (float(spec.mtbf) + float(spec.mttr)) + 1.0
        for spec in scenario.faults.random_outages
    )


def _background(
    scenario: Scenario, table: ProvinceTable, total: float, holders: float
) -> tuple[float, float]:
    """Background requests over the run and in its busiest ten minutes (0 if sampled).

    What the families with a background send at full scale, less what the simulated
    holders send, from the same expected loads (:func:`sim.services.expected_loads`).
    """
    if not scenario.network.full_load:
        return 0.0, 0.0
    full = expected_loads(attrs.evolve(scenario, scale=1.0), total, table)
    sampled = expected_loads(scenario, holders, table)
    requests = peak = 0.0
    for name, load in full.items():
        if not load.background:
            continue
        per = load.exchanges_per_transaction
        requests += max(load.transactions - sampled[name].transactions, 0.0) * per
        peak += max(load.busiest_hour - sampled[name].busiest_hour, 0.0) * per / 6.0
    return requests, peak


def check(cost: Estimate, limits: Limits) -> list[Excess]:
    """The limits ``cost`` exceeds (none: the run may go ahead)."""
    excesses = []
    if cost.events > limits.max_events:
        excesses.append(
            Excess(
                "events",
                f"expected {cost.events:.3g} simulation events ({cost.transactions:.3g} "
                f"transactions × {cost.events_per_transaction:.2f} events each, plus "
                f"{cost.run_events:.3g} for hours, samples and clearing{_outages(cost)}"
                + (
                    f", plus {cost.background_requests:.3g} background requests at "
                    f"{BACKGROUND_EVENTS_PER_REQUEST:g} events each"
                    if cost.background_requests
                    else ""
                )
                + f"), more than the limit of {limits.max_events:.3g}",
                _round_up(cost.events),
            )
        )
    if cost.memory_bytes > limits.max_memory_bytes:
        excesses.append(
            Excess(
                "memory",
                f"expected peak memory {format_bytes(cost.memory_bytes)} ({cost.holders:.3g} "
                f"holders, {cost.points:.3g} service points{_outages(cost)}), more than the "
                "limit of "
                f"{format_bytes(limits.max_memory_bytes)}",
                _round_up(cost.memory_bytes / 1e9) + "GB",
            )
        )
    return excesses


def smaller_scale(cost: Estimate, limits: Limits, scale: float) -> float | None:
    """A round ``scale`` at which the run would fit, if lowering scale alone can do it.

    Events and memory above the fixed base grow in proportion to scale (holders,
    points and demand all scale); the run's own events (hours, samples) do not, and
    neither does the background (a smaller scale only moves requests into it).
    """
    factors = []
    fixed_events = cost.run_events + cost.background_requests * BACKGROUND_EVENTS_PER_REQUEST
    if cost.events > limits.max_events and cost.transaction_events > 0:
        factors.append((limits.max_events - fixed_events) / cost.transaction_events)
    if cost.memory_bytes > limits.max_memory_bytes:
        # Outages and the background do not scale either.
        fixed = BASE_BYTES + cost.outages * OUTAGE_BYTES + cost.background_bytes
        factors.append((limits.max_memory_bytes - fixed) / (cost.memory_bytes - fixed))
    factor = min(factors, default=1.0)
    if not 0.0 < factor < 1.0:
        return None
    target = scale * factor
    exponent = math.floor(math.log10(target))
    return math.floor(target / 10.0**exponent) * 10.0**exponent


def limits_of(args: Any) -> Limits:
    """The limits a command was given: its ``max_events`` and ``max_memory`` options."""
    return Limits(max_events=args.max_events, max_memory_bytes=args.max_memory)


def too_large(scenario: Scenario, limits: Limits, label: str) -> str:
    """Why ``scenario`` exceeds ``limits`` and how to allow it; empty when it fits.

    ``run``, ``sweep`` (each variant) and ``capacity`` all refuse with this.
    """
    cost = estimate(scenario)
    excesses = check(cost, limits)
    if not excesses:
        return ""
    lines = [f"{label}: too large to run (nothing was written)"]
    for excess in excesses:
        lines.append(f"  {excess.message}")
        lines.append(f"  to run it anyway: --max-{excess.resource} {excess.suggested_limit}")
    scale = smaller_scale(cost, limits, scenario.scale)
    hint = f", e.g. --set scale={scale:g}" if scale is not None else ""
    lines.append(f"  or make it smaller: lower scale or horizon{hint}")
    return "\n".join(lines)


def _outages(cost: Estimate) -> str:
    """``, 3.6e+06 random outages`` when there are any: the part of an estimate they make."""
    return f", {cost.outages:.3g} random outages" if cost.outages > 0 else ""


def _rounded(count: float) -> float:
    """A count as :func:`sim.world.provinces.apportion` rounds it (floats, past exact ints)."""
    return float(round(count)) if count < 2.0**53 else count


def _round_up(value: float) -> str:
    """A short number at least as large as ``value``: 1.43e11 → ``2e+11``, 37.5 → ``40``."""
    if not math.isfinite(value) or value <= 0:
        return "inf"
    exponent = math.floor(math.log10(value))
    return f"{math.ceil(value / 10.0**exponent) * 10.0**exponent:g}"

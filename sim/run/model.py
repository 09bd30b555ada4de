"""Building a model from a scenario and running it: construct, elaborate, simulate, collect.

:func:`build` creates every component for one (scenario, seed) and wires them
together: population and demand, service points, the settlement network and
its protocol, the recorder. It is the one place processes are started.
:func:`simulate` runs the model to the horizon, lets in-flight transactions
finish, and writes the results folder's files into a working directory.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pyarrow as pa

from sim.engine.calendar import Clock
from sim.engine.distributions import sampler
from sim.engine.kernel import Environment, call_later, events_scheduled, few_collections, run_until
from sim.engine.native import build_name
from sim.engine.stations import StationStats
from sim.engine.streams import Streams
from sim.money.clearing import CLEARING_SCHEMA, ClearingHouse, initial_advances, period_boundaries
from sim.money.ledger import AccountKind, Ledger, MoneyError, PostingKind
from sim.money.policy import PolicyTable
from sim.network.background import Background
from sim.network.faults import FaultInjector, window_figures
from sim.network.nodes import Network
from sim.network.protocol import Protocol
from sim.outputs import results
from sim.outputs.fraud import fraud_figures
from sim.outputs.metrics import STATION_SCHEMA, station_table
from sim.outputs.recorder import (
    IdCounter,
    StationSeries,
    TransactionFile,
    TransactionRecorder,
    sample_stations,
)
from sim.outputs.theory import node_theory
from sim.outputs.warmup import AutoWarmup, checkpoints_needed
from sim.run.cards import card_book, detect_fraud, fraud_draws, hot_list
from sim.scenario import Scenario, dump_scenario
from sim.scenario.families import SERVICES, medical_labels
from sim.scenario.faults import FaultsSpec
from sim.scenario.load import with_load
from sim.services import ServiceContext, ServiceRuntime, build_services
from sim.world.arrivals import ArrivalFeed
from sim.world.cards import CardBook
from sim.world.demand import Demand
from sim.world.domain import Outcome, Reason, labels
from sim.world.population import Population, build_population
from sim.world.provinces import ProvinceTable, simulated_provinces
from sim.world.transaction import Transaction

__all__ = ["Model", "build", "simulate"]

Progress = Callable[[float], None]
"""Called with the simulated time reached, a few hundred times per run."""


@attrs.define(eq=False)
class Model:
    """Every runtime component of one run, wired and ready to simulate."""

    scenario: Scenario
    env: Environment
    provinces: ProvinceTable
    population: Population
    demand: Demand
    network: Network
    protocol: Protocol
    recorder: TransactionRecorder
    feed: ArrivalFeed
    stations: list[StationStats]
    workdir: Path
    services: dict[str, ServiceRuntime]
    ledger: Ledger
    clearing: ClearingHouse
    faults: FaultInjector
    background: Background | None = None
    """The unsimulated holders' node traffic (``network.load: full``)."""
    cards: CardBook | None = None
    """The holders whose card changes state (``cards``), if any can."""


def build(scenario: Scenario, workdir: Path) -> Model:
    """Construct and wire all components for ``scenario``; no file is opened yet.

    The results go into ``workdir`` when :func:`simulate` runs the model.
    """
    written, scenario = scenario, with_load(scenario)
    env = Environment(tags=len(SERVICES))
    streams = Streams(scenario.seed)
    clock = Clock(scenario.start)
    provinces = simulated_provinces(scenario)
    population = build_population(
        provinces, scenario.population, scenario.scale, streams.generator("population")
    )
    everyone = None
    if scenario.network.full_load:  # the same layout at scale 1 (its keys are not used)
        everyone = build_population(provinces, scenario.population, 1.0,
                                    np.random.default_rng(0))  # fmt: skip
    network = Network(env, scenario.network, provinces.ids, streams)
    medical = scenario.services.medical()
    settle_times = [
        sampler(spec.settlement.service_time, streams.generator(f"settle:{name}"))
        if (spec := medical.get(name)) is not None and spec.settlement.service_time is not None
        else None
        for name in SERVICES
    ]
    horizon = float(scenario.horizon)
    policy = PolicyTable(scenario.policy, provinces.ids, SERVICES,
                         clock.year_starts(horizon + 86400.0 * 366))  # fmt: skip
    protocol = Protocol(env, network, policy, settle_times)
    ledger = Ledger(provinces.ids)
    for settler in protocol.settlers:
        settler.on_undo = ledger.post_reversal  # an undone settlement stays in the books
    ids = IdCounter()
    recorder = TransactionRecorder(ids)
    clearing = ClearingHouse(
        scenario.clearing, provinces.ids, population.holders_per_province,
        period_boundaries(scenario.clearing, clock, horizon), horizon, ledger,
        initial_advances(scenario, provinces, population, policy),
    )  # fmt: skip
    cards = card_book(scenario, population, streams, protocol)
    ctx = ServiceContext(env, scenario, clock, provinces, population, streams, network,
                         protocol, recorder, ledger, clearing, everyone, cards)  # fmt: skip
    services = build_services(ctx)
    handlers: list[Callable[[Transaction], None] | None] = [None] * len(SERVICES)
    stations: list[StationStats] = []
    arrivals = []
    for runtime in services.values():
        for code, handler in runtime.handlers.items():
            handlers[code] = handler
        stations += runtime.stations
        arrivals += runtime.arrivals
    stations += [node.stats for node in network.nodes]
    stations += [node.stats for runtime in services.values() for node in runtime.nodes]
    hot_list(scenario, streams, cards, services)
    fraud = fraud_draws(scenario, population, streams, cards, services)
    detect_fraud(scenario, protocol, fraud)
    demand = Demand(clock, horizon, arrivals, fraud)
    batches = demand.batches(ids=ids)
    feed = ArrivalFeed(env, batches if cards is None else cards.stamp(batches), recorder, handlers)
    faults = FaultInjector(
        env, scenario.faults, network, provinces.ids,
        {name: target for r in services.values() for name, target in r.failable.items()},
        next((r.readers for r in services.values() if r.readers is not None), None),
        streams, horizon,
    )  # fmt: skip
    background = None
    if everyone is not None:
        flows = [flow for runtime in services.values() for flow in runtime.background]
        background = Background(network, flows, clock, horizon, streams,
                                faultless=not scenario.faults.changes_links,
                                changes=scenario.faults.node_changes())  # fmt: skip
    return Model(written, env, provinces, population, demand, network, protocol, recorder,
                 feed, stations, workdir, services, ledger, clearing, faults,
                 background, cards)  # fmt: skip


def simulate(model: Model, progress: Progress | None = None) -> results.Result:
    """Run to the horizon, drain in-flight transactions, and write the result files."""
    scenario, env = model.scenario, model.env
    horizon = float(scenario.horizon)
    every = float(scenario.outputs.sample_every)
    wall_start = time.perf_counter()
    samples = math.ceil(horizon / every - 1e-9) + 1  # 0, every, …, and the horizon
    series = StationSeries(model.stations, samples)
    # The ended transactions' subscribers, in this order: the books, then the file.
    model.ledger.open(model.workdir / results.LEDGER)
    transactions = TransactionFile(model.workdir / results.TRANSACTIONS, model.provinces.ids)
    model.recorder.subscribe(model.ledger.post_rows)
    model.recorder.subscribe(transactions.write)
    model.feed.start()
    model.clearing.start(env)
    model.faults.start()
    warmup = scenario.warmup
    # An automatic warm-up cuts the wait series at a checkpoint found after the run,
    # so it keeps every wait; otherwise busy stations fold theirs into a sketch.
    auto_warmup = isinstance(warmup, str)  # WARMUP_AUTO
    env.process(sample_stations(env, series, every, horizon, fold_waits=not auto_warmup))
    auto: AutoWarmup | None = None
    if isinstance(warmup, str):
        # The cut is estimated after the run; until then, checkpoint the stations.
        auto = AutoWarmup(model.stations, checkpoints_needed(horizon, every))
        env.process(auto.checkpoint(env, every, horizon))
    elif warmup > 0:
        call_later(env, float(warmup), _reset_stations, model.stations)
    try:
        with few_collections():
            _run_until(env, horizon, progress)
            stations: dict[str, list[Any]] = {}
            if auto is None:
                stations = station_table(model.stations, horizon)
            else:
                for st in model.stations:
                    st.advance(horizon)
                auto.freeze()
            run_until(env)  # no new arrivals: let every transaction in flight reach its end
        model.clearing.finish(env.now)
        model.recorder.close()
        transactions.close()
        money = _close_books(model)
    except BaseException:
        transactions.abort()
        model.ledger.abort()
        raise
    wall_s = time.perf_counter() - wall_start
    events = events_scheduled(env)
    return _collect(model, series, stations, wall_s, events, money, auto)


def _close_books(model: Model) -> dict[str, Any]:
    """Run the money checks; any failure stops the run (no results folder is kept)."""
    ledger, clearing = model.ledger, model.clearing
    checks = ledger.close()
    advances = [ledger.balance((AccountKind.ADVANCE, p, -1, -1))
                for p in range(len(model.provinces))]  # fmt: skip
    checks["advance_funds_agree"] = advances == clearing.advance
    clearing_summary = clearing.summary()
    checks["net_positions_sum_to_zero"] = clearing_summary["net_positions_sum_to_zero"]
    checks.update(model.protocol.books())
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        details = "; ".join([*ledger.failures, *model.protocol.violations[:10]])
        details = details or ", ".join(failed)
        raise MoneyError(f"money does not add up ({', '.join(failed)}): {details}")
    return {
        "ledger": {
            "postings": ledger.next_posting,
            "totals_fen": {k.name.lower(): ledger.totals[k] for k in PostingKind},
            "postings_by_kind": {k.name.lower(): ledger.count[k] for k in PostingKind},
            "balances_fen": ledger.balances_by_kind(),
            "checks": checks,
        },
        "clearing": clearing_summary,
    }


def _run_until(env: Environment, horizon: float, progress: Progress | None) -> None:
    steps = 200 if progress is not None else 1
    for k in range(1, steps + 1):
        run_until(env, horizon * k / steps)
        if progress is not None:
            progress(env.now)


def _reset_stations(event: Any) -> None:
    now = event.env.now
    for st in event.value:
        st.reset(now)


def _collect(
    model: Model,
    series: StationSeries,
    stations: dict[str, list[Any]],
    wall_s: float,
    events: int,
    money: dict[str, Any],
    auto: AutoWarmup | None,
) -> results.Result:
    scenario = model.scenario
    workdir = model.workdir
    txns = model.recorder.rows_written
    path = workdir / results.TRANSACTIONS
    if auto is None:
        warmup_s = float(scenario.warmup)
        warmup: dict[str, Any] = {"method": "fixed", "cut_s": warmup_s}
    else:
        table = results.pq_read(path, ["arrival_s", "latency_s"])
        cut = auto.cut(table["arrival_s"].to_numpy(), table["latency_s"].to_numpy())
        stations = station_table(auto.stations_from(cut), float(scenario.horizon))
        warmup_s, warmup = cut.cut_s, cut.report()
    extra = {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "scale": scenario.scale,
        "warmup": warmup,
        "protocol": model.protocol.counters(),
        "network_load": _network_load(model),
        **money,
    }
    codes = sorted({code for r in model.services.values() for code in [*r.handlers, *r.recorded]})
    if model.cards is not None:
        extra["cards"] = model.cards.figures(float(scenario.horizon))
    figures = {name: r.figures() for name, r in model.services.items() if r.figures is not None}
    if figures:
        extra = {**extra, "figures": figures}
    summary = results.summarise(
        results.iter_transactions(path, results.SUMMARY_COLUMNS),
        services=[SERVICES[code] for code in codes],
        service_names=list(SERVICES),
        warmup_s=warmup_s,
        horizon_s=float(scenario.horizon),
        scale=scenario.scale,
        extra=extra,
        start=scenario.start,
    )
    if scenario.faults != FaultsSpec():
        columns = ["service", "arrival_s", "outcome", "reason", "settle_latency_s"]
        summary["faults"] = _fault_figures(model, results.pq_read(path, columns))
    if scenario.fraud is not None or scenario.detection is not None:
        summary["fraud"] = fraud_figures(path, warmup_s)
    summary["settlement_nodes"] = node_theory(stations)
    manifest = {
        "scenario": dump_scenario(scenario),
        "seed": scenario.seed,
        "warmup": warmup,
        "package": {"name": "sscard-sim", "version": _version()},
        "python": platform.python_version(),
        "libraries": {name: _version(name) for name in ("simpy", "numpy", "pyarrow")},
        "machine": platform.machine(),
        "build": build_name(),
        "wall_time_s": wall_s,
        "events": events,
        "transactions": txns,
        "events_per_transaction": events / txns if txns else None,
        "events_per_wall_second": events / wall_s if wall_s > 0 else None,
        "events_by_service": _events_by_service(model, events),
        "holders_simulated": model.population.size,
        "population_bytes": model.population.nbytes,
    }
    stations_table = pa.table(stations, schema=STATION_SCHEMA)
    timeseries = _timeseries_table(series)
    results.write_table(stations_table, workdir / results.STATIONS)
    results.write_table(timeseries, workdir / results.TIMESERIES)
    results.write_table(
        pa.table(model.clearing.rows(), schema=CLEARING_SCHEMA), workdir / results.CLEARING
    )
    results.write_json(summary, workdir / results.SUMMARY)
    results.write_json(manifest, workdir / results.MANIFEST)
    if not scenario.outputs.transactions:
        (workdir / results.TRANSACTIONS).unlink()
    return results.Result(summary, manifest, stations_table, timeseries, workdir)


def _network_load(model: Model) -> dict[str, Any]:
    """Which traffic the settlement nodes carried, and what the background did."""
    scenario = model.scenario
    figures: dict[str, Any] = {"mode": scenario.network.load, "load_factor": scenario.load}
    if model.background is not None:
        figures["background"] = model.background.counters
    return figures


def _events_by_service(model: Model, events: int) -> dict[str, Any]:
    """Events each service's transactions caused, per transaction, and the shared rest.

    A service's events are its arrivals, its point service, every link crossed and
    node visited by its messages (retries included) and its own batch work (transit
    uploads, bank credit blocks): each counted where it is scheduled. The rest are
    shared: hourly arrival batches, station samples, the requesters' timeout
    wake-ups, clearing periods, faults.
    """
    tally = model.env.tally[:-1]  # the last entry is the kernel's SHARED tag
    rows = model.recorder.rows_by_service
    figures: dict[str, Any] = {
        name: {
            "events": tally[code],
            "transactions": int(rows[code]),
            "events_per_transaction": tally[code] / int(rows[code]) if rows[code] else None,
        }
        for code, name in enumerate(SERVICES)
        if tally[code] or rows[code]
    }
    figures["shared"] = {"events": events - sum(tally)}
    return figures


def _fault_figures(model: Model, table: pa.Table) -> dict[str, Any]:
    """Outages that happened, and medical settlement inside and around each fault window."""
    service = results.codes(table["service"], list(SERVICES))
    medical = np.isin(
        service,
        [SERVICES.index(s) for s in medical_labels()],
    )
    columns = {
        "arrival_s": table["arrival_s"].to_numpy()[medical],
        "outcome": results.codes(table["outcome"], labels(Outcome))[medical],
        "reason": results.codes(table["reason"], labels(Reason))[medical],
        "settle_latency_s": table["settle_latency_s"].to_numpy()[medical],
    }
    windows = model.scenario.faults.windows(float(model.scenario.horizon))
    return {
        "outages": model.faults.outages(),
        "windows": window_figures(columns, windows, Outcome.SETTLED, Outcome.FALLBACK,
                                  (Reason.TIMEOUT, Reason.VERIFY_TIMEOUT),
                                  float(model.scenario.horizon)),
    }  # fmt: skip


def _timeseries_table(series: StationSeries) -> pa.Table:
    n, k = series.count, len(series.stations)
    names = [st.name for st in series.stations]
    return pa.table(
        {
            "time_s": np.repeat(series.time_s[:n], k),
            "station": pa.array(names * n).dictionary_encode(),
            "queue": series.queue[:n].ravel(),
            "busy": series.busy[:n].ravel(),
            "completions": series.completions[:n].ravel(),
        }
    )


def _version(name: str = "sscard-sim") -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"

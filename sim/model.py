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
import simpy

from sim import results
from sim.arrivals import ArrivalFeed
from sim.demand import SERVICE_CODES, Demand
from sim.distributions import sampler
from sim.kernel import call_later, events_scheduled
from sim.metrics import station_table
from sim.network import Network
from sim.points import PointGroup, point_counts
from sim.policy import PolicyTable
from sim.population import Population, build_population
from sim.protocol import Protocol
from sim.provinces import ProvinceTable, load_provinces
from sim.recorder import StationSeries, TransactionRecorder, sample_stations
from sim.scenario import SERVICE_NAMES, Scenario, dump_scenario
from sim.services.medical import MedicalDesk
from sim.stations import StationStats
from sim.streams import Streams
from sim.transaction import Transaction
from sim.validation.nodes import node_theory

__all__ = ["Model", "build", "simulate"]

Progress = Callable[[float], None]
"""Called with the simulated time reached, a few hundred times per run."""


@attrs.define(eq=False)
class Model:
    """Every runtime component of one run, wired and ready to simulate."""

    scenario: Scenario
    env: simpy.Environment
    provinces: ProvinceTable
    population: Population
    demand: Demand
    network: Network
    protocol: Protocol
    recorder: TransactionRecorder
    feed: ArrivalFeed
    stations: list[StationStats]
    workdir: Path


def build(scenario: Scenario, workdir: Path) -> Model:
    """Construct and wire all components for ``scenario`` (writing into ``workdir``)."""
    env = simpy.Environment()
    streams = Streams(scenario.seed)
    provinces = load_provinces(scenario.provinces)
    if scenario.region is not None:
        provinces = provinces.subset(scenario.region)
    population = build_population(
        provinces, scenario.population, scenario.scale, streams.generator("population")
    )
    services = scenario.services.enabled()
    full_holders = provinces.holders
    counts = {
        name: point_counts(s.points, full_holders, scenario.scale) for name, s in services.items()
    }
    demand = Demand(scenario, population, counts, streams, provinces.ids)
    network = Network(env, scenario.network, provinces.ids, streams)
    settle_times = [
        sampler(s.settlement.service_time, streams.generator(f"settle:{name}"))
        if (s := services.get(name)) is not None and s.settlement.service_time is not None
        else None
        for name in SERVICE_NAMES
    ]
    policy = PolicyTable(scenario.policy, provinces.ids, SERVICE_NAMES)
    protocol = Protocol(env, network, policy, settle_times)
    recorder = TransactionRecorder(workdir / results.TRANSACTIONS, provinces.ids)
    handlers: list[Callable[[Transaction], None] | None] = [None] * len(SERVICE_NAMES)
    stations: list[StationStats] = []
    for name, service in services.items():
        groups = [
            PointGroup(env, name, pid, int(n), service.points.capacity, service.points.queue_limit)
            for pid, n in zip(provinces.ids, counts[name], strict=True)
        ]
        stations += [g.stats for g in groups]
        desk = MedicalDesk(
            env,
            groups,
            sampler(service.points.service_time, streams.generator(f"point:{name}")),
            protocol,
            recorder,
        )
        handlers[SERVICE_CODES[name]] = desk.arrive
    stations += [node.stats for node in network.nodes]
    feed = ArrivalFeed(env, demand.batches(), recorder, handlers)
    return Model(
        scenario,
        env,
        provinces,
        population,
        demand,
        network,
        protocol,
        recorder,
        feed,
        stations,
        workdir,
    )


def simulate(model: Model, progress: Progress | None = None) -> results.Result:
    """Run to the horizon, drain in-flight transactions, and write the result files."""
    scenario, env = model.scenario, model.env
    horizon = float(scenario.horizon)
    every = float(scenario.outputs.sample_every)
    wall_start = time.perf_counter()
    samples = math.ceil(horizon / every - 1e-9) + 1  # 0, every, …, and the horizon
    series = StationSeries(model.stations, samples)
    model.feed.start()
    env.process(sample_stations(env, series, every, horizon))
    if scenario.warmup > 0:
        call_later(env, float(scenario.warmup), _reset_stations, model.stations)
    try:
        _run_until(env, horizon, progress)
        stations = station_table(model.stations, horizon)
        env.run()  # no new arrivals: let every transaction in flight reach its end
        model.recorder.close()
    except BaseException:
        model.recorder.abort()
        raise
    wall_s = time.perf_counter() - wall_start
    events = events_scheduled(env)
    return _collect(model, series, stations, wall_s, events)


def _run_until(env: simpy.Environment, horizon: float, progress: Progress | None) -> None:
    steps = 200 if progress is not None else 1
    for k in range(1, steps + 1):
        env.run(until=horizon * k / steps)
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
) -> results.Result:
    scenario = model.scenario
    workdir = model.workdir
    txns = model.recorder.rows_written
    extra = {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "scale": scenario.scale,
        "protocol": model.protocol.counters(),
    }
    table = results.pq_read(workdir / results.TRANSACTIONS, results.SUMMARY_COLUMNS)
    summary = results.summarise(
        table,
        services=list(scenario.services.enabled()),
        service_names=list(SERVICE_NAMES),
        warmup_s=float(scenario.warmup),
        horizon_s=float(scenario.horizon),
        scale=scenario.scale,
        extra=extra,
    )
    summary["settlement_nodes"] = node_theory(stations)
    manifest = {
        "scenario": dump_scenario(scenario),
        "seed": scenario.seed,
        "package": {"name": "sscard-sim", "version": _version()},
        "python": platform.python_version(),
        "libraries": {name: _version(name) for name in ("simpy", "numpy", "pyarrow")},
        "machine": platform.machine(),
        "wall_time_s": wall_s,
        "events": events,
        "transactions": txns,
        "events_per_transaction": events / txns if txns else None,
        "events_per_wall_second": events / wall_s if wall_s > 0 else None,
        "holders_simulated": model.population.size,
        "population_bytes": model.population.nbytes,
    }
    stations_table = pa.table(stations)
    timeseries = _timeseries_table(series)
    results.write_table(stations_table, workdir / results.STATIONS)
    results.write_table(timeseries, workdir / results.TIMESERIES)
    results.write_json(summary, workdir / results.SUMMARY)
    results.write_json(manifest, workdir / results.MANIFEST)
    if not scenario.outputs.transactions:
        (workdir / results.TRANSACTIONS).unlink()
    return results.Result(summary, manifest, stations_table, timeseries, workdir)


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

"""Services: what happens to a holder at each kind of service point.

Each module holds one service family: its arrival stream (see :mod:`sim.world.demand`)
and its lifecycle as small callback steps. :func:`build_services` asks each
enabled family to build itself from a :class:`ServiceContext` and collects
what the model needs: streams to merge, a handler per service code, and the
stations to report. A handler must end every transaction it is given through
the recorder exactly once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import attrs
import numpy as np

from sim.engine.calendar import Clock
from sim.engine.kernel import Environment
from sim.engine.stations import StationStats
from sim.engine.streams import Streams
from sim.money.clearing import ClearingHouse
from sim.money.ledger import Ledger
from sim.network.background import BackgroundFlow
from sim.network.nodes import Network, Node
from sim.network.protocol import Protocol
from sim.outputs.recorder import TransactionRecorder
from sim.scenario import Scenario
from sim.scenario.families import FAMILIES
from sim.world.cards import CardBook
from sim.world.demand import ArrivalStream
from sim.world.population import Population
from sim.world.provinces import ProvinceTable
from sim.world.transaction import Transaction

__all__ = [
    "ServiceContext",
    "ServiceLoad",
    "ServiceRuntime",
    "build_services",
    "exchange_events",
    "expected_loads",
    "scaled_count",
]


@attrs.define(eq=False)
class ServiceContext:
    """Everything a service family may use to build itself."""

    env: Environment
    scenario: Scenario
    clock: Clock
    provinces: ProvinceTable
    population: Population
    streams: Streams
    network: Network
    protocol: Protocol
    recorder: TransactionRecorder
    ledger: Ledger
    clearing: ClearingHouse
    full_population: Population | None = None
    """Every holder of the simulated provinces (``network.load: full``), for the background."""
    cards: CardBook | None = None
    """The holders whose card changes state (``cards`` section), if any can."""

    def generator(self, name: str) -> np.random.Generator:
        """A named random stream for this run."""
        return self.streams.generator(name)

    def window_s(self) -> tuple[float, float]:
        """The measurement window a family's own figures count in, known before the run.

        ``warmup: auto`` finds its cut only after the run, when these counts are
        already made: the families then count from the start.
        """
        warmup = self.scenario.warmup
        return (0.0 if isinstance(warmup, str) else float(warmup), float(self.scenario.horizon))


@attrs.define(eq=False)
class ServiceRuntime:
    """What one service family contributes to the run."""

    arrivals: list[ArrivalStream] = attrs.Factory(list)
    handlers: dict[int, Callable[[Transaction], None]] = attrs.Factory(dict)
    stations: list[StationStats] = attrs.Factory(list)
    nodes: list[Node] = attrs.Factory(list)
    """Nodes of the family's own (banks, transit clearing), reported with the others."""
    recorded: list[int] = attrs.Factory(list)
    """Service codes the family records directly as blocks (no handler), such as credits."""
    figures: Callable[[], dict[str, Any]] | None = None
    """Family-specific headline figures for ``summary.json`` (computed after the run)."""
    failable: dict[str, Any] = attrs.Factory(dict)
    """Components a ``faults.outages`` entry may name (``bank:<ID>``), by name."""
    readers: Any = None
    """The family's transit gates, if it has readers that ``faults.readers`` may take offline."""
    background: list[BackgroundFlow] = attrs.Factory(list)
    """Node traffic of the holders not simulated (``network.load: full``)."""


@attrs.frozen
class ServiceLoad:
    """What one service is expected to ask of a run, worked out from the scenario alone.

    The resource guard (:mod:`sim.run.guard`) sums these before anything is built, so
    every figure must come from the scenario and the province table: building the
    model to count would itself be the cost being guarded against.
    """

    transactions: float
    """Expected transactions over the horizon."""
    events_per_transaction: float
    """Expected simulation events one transaction schedules, from arrival to its end."""
    busiest_hour: float
    """Expected transactions in the busiest local hour (one arrival batch)."""
    points: float
    """Service points (stations) simulated."""
    memory_bytes: float = 0.0
    """Other memory the service holds at its peak, beyond points and arrival batches."""
    exchanges_per_transaction: float = 0.0
    """Requests with a timeout (settle, verify) one transaction sends, on average."""
    background: bool = False
    """Whether the family sends background requests at the nodes (``network.load: full``):
    then its ``exchanges_per_transaction`` at full scale, less the foreground's."""


def exchange_events(nodes: int) -> int:
    """Simulation events of one request and its answer over a route through ``nodes`` nodes.

    Each link crossed (one more than the nodes, see :class:`sim.network.nodes.Route`)
    and each node's service is one event. Timeouts are not per request: the
    requesters share one wake-up (:class:`sim.network.protocol.Timers`), which the guard
    counts for the run as a whole.
    """
    return (nodes + 1) + nodes


def scaled_count(per_province: float | None, total: float | None, scale: float,
                 provinces: int) -> float:  # fmt: skip
    """Points, libraries or stations simulated, as :func:`sim.world.points.scaled_counts` does.

    At least one per province; in floats, so a typo such as ``total: 1e40`` gives
    a huge estimate rather than an integer overflow.
    """
    if per_province is not None:
        return provinces * max(float(per_province) * scale, 1.0)
    return float(total or 0) * scale + provinces


Builder = Callable[[ServiceContext, str, Any], ServiceRuntime]
Estimator = Callable[[Scenario, Any, float, ProvinceTable], ServiceLoad]


def _families() -> dict[str, ModuleType]:
    """The runtime module of each family (:data:`sim.scenario.families.FAMILIES`), by key.

    Imported by name, as plug-ins are: the registry sits below the engine, so it
    names the modules that build on the engine rather than importing them.
    """
    return {fam.key: importlib.import_module(fam.runtime) for fam in FAMILIES}


def build_services(ctx: ServiceContext) -> dict[str, ServiceRuntime]:
    """Build every service the scenario enables, keyed by scenario name."""
    families = _families()
    built: dict[str, ServiceRuntime] = {}
    for name, spec in ctx.scenario.services.enabled().items():
        build: Builder = families[name].build
        built[name] = build(ctx, name, spec)
    return built


def expected_loads(
    scenario: Scenario, holders: float, table: ProvinceTable
) -> dict[str, ServiceLoad]:
    """Each enabled service's expected load, given the simulated holders and the provinces."""
    families = _families()
    loads: dict[str, ServiceLoad] = {}
    for name, spec in scenario.services.enabled().items():
        estimate: Estimator = families[name].expected_load
        loads[name] = estimate(scenario, spec, holders, table)
    return loads

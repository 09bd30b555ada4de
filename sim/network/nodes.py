"""The settlement network: provincial platforms, the national platform, the card platform.

A message travels a :class:`Route`: a fixed sequence of node visits, each
preceded by a one-way link latency, and a last link back to the requester.
Local settlement visits the province's own platform once. Cross-province
settlement goes treatment platform → national → home platform (which settles)
→ national → treatment platform, as the 2022 NHSA rules describe. An e-card QR
code is verified by one visit to the national card platform.

Each platform is a :class:`~sim.engine.servers.ServerPool` with its own service-time
stream: a message's start and end of service are known when it arrives, so a node
visit is one event. What a node *does* with a message (forward, settle, verify,
reverse) is the protocol's business, passed in as the route's roles. With
``network.load: full`` the requests of the holders not simulated travel the same
nodes and links (:mod:`sim.network.background`); before each foreground arrival at a node,
and before any fault changes a node or a link, the background is brought up to the
present, so every pool admits its jobs in arrival order.

Faults act here: a node that is down accepts nothing and loses what it held; a
:class:`Link` can add latency or lose messages; two nodes can be partitioned. A
lost message is simply gone: the network tells the message's exchange, which
keeps count, and the requester learns only by its timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Any, Protocol

import attrs

from sim.engine.distributions import sampler
from sim.engine.kernel import Environment, call_later
from sim.engine.servers import NodeStats, ServerPool
from sim.engine.stations import Station, StationStats
from sim.engine.streams import Streams
from sim.scenario.schema import Distribution, NetworkSpec, NodeSpec, Uniform
from sim.scenario.units_types import Quantity
from sim.world.transaction import Transaction

__all__ = [
    "LOST",
    "Answer",
    "Handler",
    "Link",
    "LinkState",
    "Message",
    "Network",
    "Node",
    "Platform",
    "Role",
    "Route",
    "Sender",
]


class Role(IntEnum):
    """What a node does with a message on a given route."""

    FORWARD = 0
    SETTLE = 1
    VERIFY = 2
    REVERSE = 3


class Answer(IntEnum):
    """What a node answers a request, and so what a requester learns."""

    SETTLED = 0
    NOT_FILED = 1
    INELIGIBLE = 2
    VERIFIED = 3
    TIMEOUT = 4
    """No answer: the requester ran out of attempts (never sent by a node)."""
    REVERSED = 5
    """The key was reversed: nothing is (or will be) settled under it."""
    CARD_FROZEN = 6
    """The card is frozen (reported lost): refused (:mod:`sim.world.cards`)."""
    CARD_REPLACED = 7
    """The card was replaced and is dead: refused."""
    CARD_EXPIRED = 8
    """The card has expired: refused."""
    FLAGGED = 9
    """A detection rule flagged the request: refused (:mod:`sim.network.detection`)."""


class Sender(Protocol):
    """What the network needs of a message's sender (the protocol's exchange)."""

    route: Route
    txn: Transaction

    def on_response(self, event: Any) -> None:
        """The message came back to the requester (the event's value)."""
        ...

    def lost(self, msg: Message) -> None:
        """The message was lost on a link or at a node."""
        ...


class Message:
    """One attempt of an exchange travelling its route.

    It lives with the network that carries it, so the network, the home
    platform's handlers (:mod:`sim.network.settlement`) and the protocol above all
    share it without importing each other.
    """

    __slots__ = ("attempt", "epoch", "exchange", "hop", "result", "route", "service")

    def __init__(self, exchange: Sender, attempt: int) -> None:
        self.exchange = exchange
        self.route: Route = exchange.route
        self.service: int = exchange.txn.service
        """The transaction's service code: the kernel's tag for the message's events."""
        self.attempt = attempt
        self.hop = 0
        self.epoch = 0
        self.result = Answer.TIMEOUT


class Handler(Protocol):
    """What a node does with a message in one role (settle, verify)."""

    def service_time(self, msg: Message) -> float:
        """How long processing this message takes (drawn when service starts)."""
        ...

    def handle(self, msg: Message) -> None:
        """Act on the message when its service completes (decide, record)."""
        ...


class Node:
    """A settlement node: a station plus the time each message takes to process."""

    __slots__ = ("env", "handlers", "name", "service_time", "station")

    def __init__(
        self,
        env: Environment,
        name: str,
        servers: int,
        service_time: Callable[[], float],
        province: str = "",
    ) -> None:
        self.env = env
        self.name = name
        self.station = Station(env, servers, StationStats(name, "node", province=province))
        self.service_time = service_time
        self.handlers: dict[Role, Handler] = {}
        """Per role other than forwarding, what the node does with a message."""

    @property
    def stats(self) -> StationStats:
        """The node's running figures."""
        return self.station.stats


class Platform:
    """A settlement platform: a pool of FIFO servers and the time a message takes there."""

    __slots__ = ("env", "handlers", "name", "pool", "service_time", "spec")

    def __init__(
        self,
        env: Environment,
        name: str,
        spec: NodeSpec,
        streams: Streams,
        province: str = "",
    ) -> None:
        self.env = env
        self.name = name
        self.spec = spec
        """Servers and service-time distribution (the background draws from it too)."""
        self.pool = ServerPool(spec.servers, NodeStats(name, "node", province=province))
        self.service_time = sampler(spec.service_time, streams.generator(name))
        self.handlers: dict[Role, Handler] = {}
        """Per role other than forwarding, what the node does with a message."""

    @property
    def stats(self) -> NodeStats:
        """The node's running figures (all traffic, and the foreground's own)."""
        return self.pool.stats


class LinkState:
    """Faults currently on a class of links: extra latency and a loss probability."""

    __slots__ = ("added_s", "loss", "uniform")

    def __init__(self, uniform: Callable[[], float]) -> None:
        self.added_s = 0.0
        self.loss = 0.0
        self.uniform = uniform


class Link:
    """A class of links: draws one message's latency; ``LOST`` if the message is lost."""

    __slots__ = ("dist", "latency", "state")

    def __init__(
        self, latency: Callable[[], float], state: LinkState, dist: Distribution | None = None
    ) -> None:
        self.latency = latency
        self.state = state
        self.dist = dist
        """The latency's distribution, for the background's own draws (None: not known)."""

    def __call__(self) -> float:
        """One message's one-way latency, or ``LOST``."""
        delay = self.latency()
        state = self.state
        if state.loss and state.uniform() < state.loss:
            return LOST
        return delay + state.added_s


LOST = -1.0
"""What a :class:`Link` returns for a message it loses."""


@attrs.frozen(eq=False)
class Route:
    """Node visits in order, their roles, and the links (one more than nodes)."""

    nodes: tuple[Platform, ...]
    roles: tuple[Role, ...]
    links: tuple[Callable[[], float], ...]

    def with_role(self, old: Role, new: Role) -> Route:
        """The same path with one role changed (a reversal follows its settlement's path)."""
        return Route(self.nodes, tuple(new if r is old else r for r in self.roles), self.links)


class Network:
    """Nodes and links of one run, and the movement of messages along routes."""

    def __init__(
        self,
        env: Environment,
        spec: NetworkSpec,
        province_ids: tuple[str, ...],
        streams: Streams,
    ) -> None:
        self.env = env
        self.spec = spec
        self.provincial = [
            Platform(env, f"node:{pid}", spec.provincial, streams, pid) for pid in province_ids
        ]
        self.national = Platform(env, "node:national", spec.national, streams)
        self.card_platform = Platform(env, "node:card_platform", spec.card_platform, streams)
        uniform = sampler(Uniform(Quantity(0.0), Quantity(1.0)), streams.generator("link:loss"))
        self.link_states = {"access": LinkState(uniform), "backbone": LinkState(uniform)}
        """Fault state per class of links (see :mod:`sim.network.faults`)."""
        access = sampler(spec.access.latency, streams.generator("link:access"))
        backbone = sampler(spec.backbone.latency, streams.generator("link:backbone"))
        self.access = self.link("access", access, spec.access.latency)
        self.backbone = self.link("backbone", backbone, spec.backbone.latency)
        self.partitions: set[frozenset[Platform]] = set()
        """Pairs of nodes that cannot reach each other right now."""
        self.lost = 0
        """Messages lost: at a node that was down or failed, on a link, across a partition."""
        self._routes: dict[tuple[int, int], Route] = {}
        self._reversals: dict[tuple[int, int], Route] = {}
        self.verify_route = Route(
            (self.card_platform,), (Role.VERIFY,), (self.access, self.access)
        )
        self.catch_up: Callable[[float], None] = _nothing
        """Brings the background traffic up to a time (set by :mod:`sim.network.background`)."""

    def link(
        self, kind: str, latency: Callable[[], float], dist: Distribution | None = None
    ) -> Link:
        """A link of class ``kind`` (``access`` or ``backbone``) subject to its faults."""
        return Link(latency, self.link_states[kind], dist)

    @property
    def nodes(self) -> list[Platform]:
        """Every node, provincial platforms first."""
        return [*self.provincial, self.national, self.card_platform]

    def settlement_route(self, site: int, home: int) -> Route:
        """The route of a settlement request from a point in ``site`` for a holder of ``home``."""
        key = (site, home)
        route = self._routes.get(key)
        if route is None:
            route = self._routes[key] = self._build_route(site, home)
        return route

    def reversal_route(self, site: int, home: int) -> Route:
        """The route of a reversal: the settlement's path, reversing at the home platform."""
        key = (site, home)
        route = self._reversals.get(key)
        if route is None:
            route = self.settlement_route(site, home).with_role(Role.SETTLE, Role.REVERSE)
            self._reversals[key] = route
        return route

    def _build_route(self, site: int, home: int) -> Route:
        here = self.provincial[site]
        if site == home:
            return Route((here,), (Role.SETTLE,), (self.access, self.access))
        there, hub = self.provincial[home], self.national
        forward, settle = Role.FORWARD, Role.SETTLE
        return Route(
            (here, hub, there, hub, here),
            (forward, forward, settle, forward, forward),
            (self.access, self.backbone, self.backbone, self.backbone, self.backbone, self.access),
        )

    # --- moving messages --------------------------------------------------------
    # send → (link) → _arrive → server pool → (wait and service) → _end → next link …

    def send(self, msg: Message) -> None:
        """Put a message on the first link of its route."""
        delay = msg.route.links[0]()
        if delay < 0.0:
            self.lose(msg)
        else:
            call_later(self.env, delay, self._arrive, msg, msg.service)

    def lose(self, msg: Message) -> None:
        """A message is gone: count it and tell its exchange."""
        self.lost += 1
        msg.exchange.lost(msg)

    def _arrive(self, event: Any) -> None:
        msg: Message = event.value
        now = self.env.now
        self.catch_up(now)
        route = msg.route
        node = route.nodes[msg.hop]
        pool = node.pool
        if pool.down:
            self.lose(msg)
            return
        role = route.roles[msg.hop]
        if role is Role.FORWARD:
            service_s = node.service_time()
        else:
            service_s = node.handlers[role].service_time(msg)
        msg.epoch = pool.epoch
        end = pool.admit_foreground(now, service_s)
        call_later(self.env, end - now, self._end, msg, msg.service)

    def _end(self, event: Any) -> None:
        msg: Message = event.value
        route = msg.route
        hop = msg.hop
        node = route.nodes[hop]
        if msg.epoch != node.pool.epoch:  # the node failed while the message was in it
            self.lose(msg)
            return
        role = route.roles[hop]
        if role is not Role.FORWARD:
            node.handlers[role].handle(msg)
        hop += 1
        msg.hop = hop
        delay = route.links[hop]()
        if delay < 0.0 or (self.partitions and self._cut(node, route, hop)):
            self.lose(msg)
            return
        if hop < len(route.nodes):
            call_later(self.env, delay, self._arrive, msg, msg.service)
        else:
            call_later(self.env, delay, msg.exchange.on_response, msg, msg.service)

    def _cut(self, node: Platform, route: Route, hop: int) -> bool:
        """Whether the link from ``node`` to the route's next node is partitioned."""
        return hop < len(route.nodes) and frozenset((node, route.nodes[hop])) in self.partitions

    def fail(self, node: Platform) -> None:
        """Take a node down: what it held is lost (each message learns at its service end)."""
        node.pool.fail(self.env.now)

    def recover(self, node: Platform) -> None:
        """Bring a node back up, empty."""
        node.pool.recover(self.env.now)


def _nothing(_now: float) -> None:
    """No background: nothing to bring up to date."""

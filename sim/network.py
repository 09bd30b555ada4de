"""The settlement network: provincial platforms, the national platform, the card platform.

A message travels a :class:`Route`: a fixed sequence of node visits, each
preceded by a one-way link latency, and a last link back to the requester.
Local settlement visits the province's own platform once. Cross-province
settlement goes treatment platform → national → home platform (which settles)
→ national → treatment platform, as the 2022 NHSA rules describe. An e-card QR
code is verified by one visit to the national card platform.

Each node is a :class:`~sim.stations.Station` with its own service-time stream;
what a node *does* with a message (forward, settle, verify) is the protocol's
business, passed in as the route's roles.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol

import attrs
import simpy

from sim.distributions import sampler
from sim.kernel import call_later
from sim.scenario.schema import NetworkSpec
from sim.stations import Station, StationStats
from sim.streams import Streams

if TYPE_CHECKING:
    from sim.protocol import Message

__all__ = ["Handler", "Network", "Node", "Role", "Route"]


class Role(IntEnum):
    """What a node does with a message on a given route."""

    FORWARD = 0
    SETTLE = 1
    VERIFY = 2


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
        env: simpy.Environment,
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


@attrs.frozen(eq=False)
class Route:
    """Node visits in order, their roles, and the link samplers (one more than nodes)."""

    nodes: tuple[Node, ...]
    roles: tuple[Role, ...]
    links: tuple[Callable[[], float], ...]


class Network:
    """Nodes and links of one run, and the movement of messages along routes."""

    def __init__(
        self,
        env: simpy.Environment,
        spec: NetworkSpec,
        province_ids: tuple[str, ...],
        streams: Streams,
    ) -> None:
        self.env = env
        self.spec = spec
        self.provincial = [
            Node(
                env,
                f"node:{pid}",
                spec.provincial.servers,
                sampler(spec.provincial.service_time, streams.generator(f"node:{pid}")),
                pid,
            )
            for pid in province_ids
        ]
        self.national = Node(
            env,
            "node:national",
            spec.national.servers,
            sampler(spec.national.service_time, streams.generator("node:national")),
        )
        self.card_platform = Node(
            env,
            "node:card_platform",
            spec.card_platform.servers,
            sampler(spec.card_platform.service_time, streams.generator("node:card_platform")),
        )
        self.access = sampler(spec.access.latency, streams.generator("link:access"))
        self.backbone = sampler(spec.backbone.latency, streams.generator("link:backbone"))
        self._routes: dict[tuple[int, int], Route] = {}
        self.verify_route = Route(
            (self.card_platform,), (Role.VERIFY,), (self.access, self.access)
        )

    @property
    def nodes(self) -> list[Node]:
        """Every node, provincial platforms first."""
        return [*self.provincial, self.national, self.card_platform]

    def settlement_route(self, site: int, home: int) -> Route:
        """The route of a settlement request from a point in ``site`` for a holder of ``home``."""
        key = (site, home)
        route = self._routes.get(key)
        if route is None:
            route = self._routes[key] = self._build_route(site, home)
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
    # send → (link) → _arrive → station queue → _begin → (service) → _end → next link …

    def send(self, msg: Message) -> None:
        """Put a message on the first link of its route."""
        call_later(self.env, msg.route.links[0](), self._arrive, msg)

    def _arrive(self, event: Any) -> None:
        msg: Message = event._value
        node = msg.route.nodes[msg.hop]
        node.station.request(msg, self._begin)

    def _begin(self, msg: Message) -> None:
        route = msg.route
        node = route.nodes[msg.hop]
        role = route.roles[msg.hop]
        if role is Role.FORWARD:
            delay = node.service_time()
        else:
            delay = node.handlers[role].service_time(msg)
        call_later(self.env, delay, self._end, msg)

    def _end(self, event: Any) -> None:
        msg: Message = event._value
        route = msg.route
        node = route.nodes[msg.hop]
        role = route.roles[msg.hop]
        if role is not Role.FORWARD:
            node.handlers[role].handle(msg)
        node.station.release()
        msg.hop += 1
        if msg.hop < len(route.nodes):
            call_later(self.env, route.links[msg.hop](), self._arrive, msg)
        else:
            call_later(self.env, route.links[msg.hop](), msg.exchange.on_response, msg)

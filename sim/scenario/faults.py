"""Schema of the ``faults`` section: what breaks, when, and for how long.

Node outages (fixed windows or random failures from a mean time between failures
and a mean time to repair), link faults (added latency, message loss), partitions
between two nodes, and transit readers that cannot upload. Node names are those
of ``stations.parquet`` without the ``node:`` prefix: ``national``,
``card_platform``, a province id for its platform, ``bank:<ID>`` for a
province's bank node. :mod:`sim.network.faults` carries them out.
"""

from __future__ import annotations

import attrs

from sim.scenario.units_types import DurationS, at_least, greater_than, share

__all__ = [
    "FaultsSpec",
    "LinkFaultSpec",
    "OutageSpec",
    "PartitionSpec",
    "RandomOutagesSpec",
    "ReaderFaultSpec",
]

Problems = list[tuple[str, str]]
LINK_CLASSES = ("access", "backbone")


@attrs.frozen
class OutageSpec:
    """A node is down from ``at`` for ``duration``."""

    node: str
    at: DurationS = attrs.field(validator=at_least(0))
    duration: DurationS = attrs.field(validator=greater_than(0))


@attrs.frozen
class RandomOutagesSpec:
    """A node fails at random (exponential up-times and repair times) until the horizon."""

    node: str
    mtbf: DurationS = attrs.field(validator=greater_than(0))
    """Mean time between failures (mean up-time)."""
    mttr: DurationS = attrs.field(validator=greater_than(0))
    """Mean time to repair (mean down-time)."""


@attrs.frozen
class LinkFaultSpec:
    """Faults on a class of links: extra latency and/or message loss, in a window."""

    link: str
    loss: float = attrs.field(default=0.0, validator=share)
    """Probability that a message on such a link is lost."""
    added_latency: DurationS = attrs.field(default=DurationS(0.0), validator=at_least(0))
    at: DurationS = attrs.field(default=DurationS(0.0), validator=at_least(0))
    duration: DurationS | None = attrs.field(default=None, validator=greater_than(0))
    """How long the fault lasts; ``null`` (the default): to the end of the run."""

    def check(self) -> Problems:
        """A known link class, and some fault."""
        problems: Problems = []
        if self.link not in LINK_CLASSES:
            problems.append(("link", f"expected one of {', '.join(LINK_CLASSES)}, "
                                     f"got {self.link!r}"))  # fmt: skip
        if self.loss == 0.0 and float(self.added_latency) == 0.0:
            problems.append(("", "a link fault needs a loss or an added_latency"))
        return problems


@attrs.frozen
class PartitionSpec:
    """Two nodes cannot reach each other from ``at`` for ``duration``."""

    between: tuple[str, ...]
    at: DurationS = attrs.field(validator=at_least(0))
    duration: DurationS = attrs.field(validator=greater_than(0))

    def check(self) -> Problems:
        """Exactly two different nodes."""
        if len(self.between) != 2 or self.between[0] == self.between[1]:
            return [("between", f"expected two different nodes, got {list(self.between)}")]
        return []


@attrs.frozen
class ReaderFaultSpec:
    """A province's transit readers are offline: taps are validated, uploads wait."""

    province: str
    at: DurationS = attrs.field(validator=at_least(0))
    duration: DurationS = attrs.field(validator=greater_than(0))


@attrs.frozen
class FaultsSpec:
    """Everything that breaks during the run (nothing, by default)."""

    outages: tuple[OutageSpec, ...] = ()
    random_outages: tuple[RandomOutagesSpec, ...] = ()
    links: tuple[LinkFaultSpec, ...] = ()
    partitions: tuple[PartitionSpec, ...] = ()
    readers: tuple[ReaderFaultSpec, ...] = ()

    @property
    def changes_links(self) -> bool:
        """Whether a fault changes links or partitions, or takes nodes down at random times."""
        randomly = [o.node for o in self.random_outages if not o.node.startswith("bank:")]
        return bool(self.links or self.partitions or randomly)

    def node_changes(self) -> list[float]:
        """Times a fixed outage takes a settlement node down or brings it back."""
        times = []
        for o in self.outages:
            if not o.node.startswith("bank:"):
                times += [float(o.at), float(o.at) + float(o.duration)]
        return sorted(times)

    def windows(self, horizon_s: float) -> list[tuple[str, float, float]]:
        """(label, start, end) of every fault with a fixed window, in the order written."""
        out = [(f"outage {o.node}", float(o.at), float(o.at + o.duration))
               for o in self.outages]  # fmt: skip
        for link in self.links:
            end = horizon_s if link.duration is None else float(link.at + link.duration)
            what = ", ".join(x for x in (f"loss {link.loss:g}" if link.loss else "",
                                         f"+{link.added_latency:g}s" if link.added_latency
                                         else "") if x)  # fmt: skip
            out.append((f"{link.link} links ({what})", float(link.at), end))
        out += [(f"partition {p.between[0]}–{p.between[1]}", float(p.at),
                 float(p.at + p.duration)) for p in self.partitions]  # fmt: skip
        out += [(f"readers offline {r.province}", float(r.at), float(r.at + r.duration))
                for r in self.readers]  # fmt: skip
        return out

"""The background: requests of the holders who are not simulated, at the settlement nodes.

``scale`` samples holders, and with them service points and demand; settlement nodes
are shared by everyone, so at ``scale: 1e-3`` they would see a thousandth of their
traffic. With ``network.load: full``, every family declares the node traffic its
unsimulated holders would send (:class:`BackgroundFlow`: a route, a rate per second
at profile weight 1 — the full-scale rate minus the foreground's — an hourly profile,
the delay from arrival to sending and the service times at each hop). Demand is
Poisson, so the foreground and the background together are the full-scale stream and
a foreground request meets the node queues of the full-scale system, in distribution.

Background requests follow the foreground's protocol: link latency, the node queues
(the same :class:`~sim.engine.servers.ServerPool`), timeouts, retries after the backoff,
a reversal when a settlement runs out of attempts, message loss, partitions and
outages. They have no holder, policy, ledger or row: they are counted at the nodes
and in :attr:`Background.counters`. Their random numbers are drawn in numpy batches
from streams of their own, so the foreground's draws are the same under either load.

They do not go through the kernel: :mod:`sim.network.background.flows` draws the requests
ten minutes at a time, :mod:`sim.network.background.engine` processes them in time order up
to the foreground's present.
"""

from sim.network.background.engine import Background
from sim.network.background.flows import CHUNK_S, BackgroundFlow

__all__ = ["CHUNK_S", "Background", "BackgroundFlow"]

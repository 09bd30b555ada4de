"""Public transit: fare taps validated offline at the gate, debited later in batches.

A rider taps the card at a gate of a metro station or bus (each gate one reader
with its own queue; riders pick the shortest). The reader validates the card
offline, records the fare and opens the gate: the rider leaves after the tap
time. Records wait on the gate and are uploaded every ``upload_every`` to the
province's transit clearing node, which debits the card accounts of local
riders. Records of riders from another city (a share) or another province
(always) go on over the backbone to the national transit interconnection node,
which passes them to the home province's clearing node for the debit. A tap's
transaction ends at its debit; its settle latency is the tap-to-debit delay.

Uploads cross the network's own access and backbone links, so link faults reach
them: a sender whose records a link loses sends them again after the network's
timeout, up to its retries, then gives them up (not debited: fallback, timeout).

A gate's upload is scheduled only when it has a record waiting, at the next of
its own upload times (each gate has its own phase), so idle gates cost nothing.

With card states (:mod:`sim.world.cards`) a reader refuses a card on the hot list
it last received (:mod:`sim.network.hotlist`; declined, ``hot_listed``), and the
clearing node checks each card online at the debit: a card frozen since the
reader's list is refused there (declined, ``card_frozen``), the fare lost to the
operator.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import attrs
import numpy as np
import numpy.typing as npt

from sim.engine.calendar import Clock, hourly_weights
from sim.engine.distributions import sample_fen, sampler, uniform_sampler
from sim.engine.kernel import Environment, call_later
from sim.engine.stations import Station, StationStats
from sim.network.hotlist import HotList
from sim.network.nodes import Link, Node
from sim.network.settlement import REFUSAL_REASONS, CardCheck
from sim.outputs.metrics import percentiles
from sim.outputs.recorder import TransactionRecorder
from sim.outputs.text import ms, secs_whole
from sim.scenario.card_services import TransitService
from sim.scenario.families import SERVICE_CODES
from sim.world.demand import Columns, holder_columns, poisson_hour
from sim.world.domain import Channel, Outcome, Reason
from sim.world.points import scaled_counts
from sim.world.population import Population
from sim.world.provinces import ProvinceTable, full_scale_counts
from sim.world.transaction import Transaction

if TYPE_CHECKING:
    from sim.scenario import Scenario
    from sim.services import ServiceContext, ServiceLoad, ServiceRuntime

__all__ = ["FareClearing", "Gate", "TransitArrivals", "TransitGates", "build", "expected_load"]

CODE = SERVICE_CODES["transit"]
SETTLED, DECLINED, NONE = Outcome.SETTLED, Outcome.DECLINED, Reason.NONE
HOT_LISTED = Reason.HOT_LISTED
SITE, HUB, HOME = 0, 1, 2
"""Stages of an upload: at the site clearing node, the interconnection node, the home node."""


def build(ctx: ServiceContext, name: str, spec: TransitService) -> ServiceRuntime:
    """Gates, clearing nodes, the interconnection node, the arrival stream and the flow."""
    from sim.services import ServiceRuntime

    table, env = ctx.provinces, ctx.env
    stations = spec.stations
    full = full_scale_counts(table, stations.per_province, stations.total)
    counts = scaled_counts(full, ctx.scenario.scale)
    phases = ctx.generator(f"upload_phase:{name}")
    gate_stats = [StationStats(f"point:{name}:{pid}", "point", pid, name) for pid in table.ids]
    backlog = [UploadBacklog(f"backlog:{name}:{pid}", "backlog", pid, name) for pid in table.ids]
    gates = [
        [
            [
                Gate(env, gate_stats[p], p, float(phase))
                for phase in phases.uniform(0.0, float(spec.upload_every), stations.gates)
            ]
            for _ in range(int(n))
        ]
        for p, n in enumerate(counts)
    ]
    clearing = [
        Node(
            env,
            f"node:transit_clearing:{pid}",
            spec.clearing.servers,
            sampler(spec.clearing.service_time, ctx.generator(f"node:transit_clearing:{pid}")),
            pid,
        )
        for pid in table.ids
    ]
    hub = Node(
        env,
        "node:transit_interconnection",
        spec.interconnection.servers,
        sampler(spec.interconnection.service_time, ctx.generator("node:transit_interconnection")),
    )
    window = ctx.window_s()
    net = ctx.scenario.network
    flow = FareClearing(
        env,
        spec,
        clearing,
        hub,
        # The network's links: their faults (loss, added latency) reach the uploads too.
        ctx.network.link(
            "access", sampler(net.access.latency, ctx.generator(f"link:access:{name}"))
        ),
        ctx.network.link(
            "backbone", sampler(net.backbone.latency, ctx.generator(f"link:backbone:{name}"))
        ),
        uniform_sampler(ctx.generator(f"other_city:{name}")),
        ctx.recorder,
        window,
        Resend(float(net.timeout) + float(net.retry.backoff), net.retry.max),
    )
    tap_time = sampler(stations.tap_time, ctx.generator(f"point:{name}"))
    desk = TransitGates(env, gates, backlog, spec, tap_time, flow)
    arrivals = TransitArrivals(spec, ctx.population, counts, ctx.generator(f"demand:{name}"))
    return ServiceRuntime(
        arrivals=[arrivals],
        handlers={CODE: desk.arrive},
        stations=[*gate_stats, *backlog],
        nodes=[*clearing, hub],
        figures=lambda: {**desk.figures(), **flow.figures()},
        readers=desk,
    )


def expected_load(
    scenario: Scenario, spec: TransitService, holders: float, table: ProvinceTable
) -> ServiceLoad:
    """Expected taps, their events and the gates, without building them.

    A tap is its arrival and its tap time. Uploads carry many taps: a gate with
    records uploads at its next upload time, so each (station, upload period)
    with at least one tap costs one upload (riders take a station's first idle
    gate, so at light load one gate per station does the uploading); with
    ``n`` such cells an hour and ``m`` taps expected in it, ``n (1 − e^(−m/n))``
    of them have a tap. An upload is the gate's event, a link and the clearing
    node's service, and when it holds records for another city or province,
    four more (backbone, interconnection node, backbone, home clearing node).
    """
    from sim.services import ServiceLoad, scaled_count

    weights = hourly_weights(spec.profile)
    per_s = holders * spec.rate.per_holder_per_day / 86400.0
    horizon = float(scenario.horizon)
    taps = per_s * Clock(scenario.start).weighted_seconds(weights, horizon)
    spec_stations = spec.stations
    stations = scaled_count(
        spec_stations.per_province, spec_stations.total, scenario.scale, len(table)
    )
    cells = stations * 3600.0 / float(spec.upload_every)  # (station, period) pairs an hour
    hourly_taps = per_s * weights * 3600.0
    uploads_a_day = float((cells * -np.expm1(-hourly_taps / cells)).sum())
    uploads = min(taps, uploads_a_day * horizon / 86400.0)
    onward = spec.cross_province_share + (1 - spec.cross_province_share) * spec.other_city_share
    per_upload = 3.0 + 4.0 * min(1.0, onward * taps / uploads) if uploads > 0 else 0.0
    return ServiceLoad(
        transactions=taps,
        events_per_transaction=2.0 + (uploads * per_upload / taps if taps > 0 else 0.0),
        busiest_hour=per_s * float(weights.max()) * 3600.0,
        points=stations * spec_stations.gates,
    )


class TransitArrivals:
    """Taps at the province's stations: local riders, other provinces' riders, their fares."""

    def __init__(
        self,
        spec: TransitService,
        population: Population,
        station_counts: npt.NDArray[np.int64],
        rng: np.random.Generator,
    ) -> None:
        self.code = CODE
        self.spec = spec
        self.population = population
        self.station_counts = station_counts
        self.rng = rng
        self.weights = hourly_weights(spec.profile)
        holders = population.holders_per_province.astype(np.float64)
        self.base_rate = holders * spec.rate.per_holder_per_day / 86400.0

    def expected(self, hour: int, t0_s: float, t1_s: float) -> float:
        """Expected taps in the piece of the run."""
        return float(self.base_rate.sum() * self.weights[hour] * (t1_s - t0_s))

    def draw(self, hour: int, t0_s: float, t1_s: float) -> Columns:
        """Taps in ``[t0_s, t1_s)``: rider, station, fare."""
        spec, rng, population = self.spec, self.rng, self.population
        site, time_s = poisson_hour(self.base_rate * self.weights[hour], t0_s, t1_s, rng)
        n = site.size
        cross = rng.random(n) < spec.cross_province_share
        resident = rng.random(n) < spec.resident_share
        holder = population.draw_local(site, rng)
        if cross.any():
            holder[cross] = population.draw_cross(site[cross], resident[cross], rng)
        return {
            **holder_columns(CODE, time_s, site, holder, population),
            "amount_fen": sample_fen(spec.fare, rng, n),
            "point": (rng.random(n) * self.station_counts[site]).astype(np.int64),
            "channel": np.full(n, Channel.GATE, dtype=np.uint8),
        }

    def points_at(self, site: npt.NDArray[np.int64], rng: np.random.Generator) -> Columns:
        """A station (and the gate channel) at each site, drawn from ``rng`` (the fraud's taps)."""
        point = (rng.random(site.size) * self.station_counts[site]).astype(np.int64)
        return {"point": point, "channel": np.full(site.size, Channel.GATE, dtype=np.uint8)}


class Gate:
    """One reader: a single-server station, its fare records awaiting upload, its phase."""

    __slots__ = ("pending", "phase_s", "site", "station")

    def __init__(self, env: Environment, stats: StationStats, site: int, phase_s: float) -> None:
        self.station = Station(env, 1, stats)
        self.site = site
        self.phase_s = phase_s
        self.pending: list[Transaction] = []

    def next_upload(self, now: float, every_s: float) -> float:
        """The first of this gate's upload times strictly after ``now``."""
        k = math.floor((now - self.phase_s) / every_s) + 1
        t = self.phase_s + k * every_s
        return t if t > now else t + every_s


_FIXED = 2.0**64
"""Tap times are summed as integers in units of 2⁻⁶⁴ s, exactly (any float time is one)."""


UPLOAD_BACKLOG_SLOTS: Final = ("tap_sum",)
"""The attributes of :class:`UploadBacklog` (a compiled class has no ``__slots__`` to read)."""


class UploadBacklog(StationStats):
    """Fare records waiting on a province's gates for upload, as a station's queue.

    A record waits from its tap (the rider leaving the gate) to its gate's upload.
    The records waiting at a moment are spread over many gates, so their open wait
    comes from their count and the exact sum of their tap times, which a copy of
    the figures (the warm-up's snapshot at the horizon) keeps as they were.
    """

    __slots__ = UPLOAD_BACKLOG_SLOTS

    def __init__(self, name: str, kind: str, province: str = "", service: str = "") -> None:
        super().__init__(name, kind, province, service)
        self.tap_sum = 0
        """Sum of the waiting records' tap times, in units of 2⁻⁶⁴ s."""

    def copy_into(self, clone: StationStats) -> None:
        """Copy these figures into ``clone`` (:meth:`StationStats.__copy__`), its own too."""
        super().copy_into(clone)
        for name in UPLOAD_BACKLOG_SLOTS:
            setattr(clone, name, getattr(self, name))

    def tapped(self, now: float) -> None:
        """A record joins the backlog at ``now``."""
        self.advance(now)
        self.arrivals += 1
        self.queue += 1
        self.tap_sum += int(now * _FIXED)
        if self.queue > self.max_queue:
            self.max_queue = self.queue

    def uploaded(self, now: float, taps: list[float]) -> None:
        """Records tapped at ``taps`` leave the backlog at ``now``: each waited ``now − tap``."""
        self.advance(now)
        self.queue -= len(taps)
        self.completions += len(taps)
        self.tap_sum -= sum(int(t * _FIXED) for t in taps)
        self.waits.extend([now - t for t in taps])

    def open_wait(self, now: float) -> float:
        """How long the records waiting at ``now`` have waited so far."""
        return (self.queue * int(now * _FIXED) - self.tap_sum) / _FIXED


class TransitGates:
    """Runs taps at the gates and hands each gate's records to clearing at upload time."""

    def __init__(
        self,
        env: Environment,
        gates: list[list[list[Gate]]],
        backlog: list[UploadBacklog],
        spec: TransitService,
        tap_time: Callable[[], float],
        flow: FareClearing,
    ) -> None:
        self.env = env
        self.gates = gates
        """``gates[province][station]``: the gates of each station."""
        self.backlog = backlog
        """Per province, records waiting on gates for upload (as a station's queue)."""
        self.every_s = float(spec.upload_every)
        self.tap_time = tap_time
        self.flow = flow
        self.warmup_s = float(flow.window[0])
        self.max_gate_queue = [0] * len(gates)
        self.uploads = 0
        self.records_uploaded = 0
        self.offline: list[list[tuple[float, float]]] = [[] for _ in gates]
        """Per province, windows in which its readers cannot upload (reader faults)."""
        self.hotlist: HotList | None = None
        """The readers' hot list, with card states (:mod:`sim.network.hotlist`)."""

    def readers_offline(self, province: int, start_s: float, end_s: float) -> None:
        """No uploads from the province's readers in ``[start_s, end_s)``: taps go on."""
        self.offline[province].append((start_s, end_s))

    def arrive(self, txn: Transaction) -> None:
        """A rider joins the shortest queue among the station's gates."""
        gates = self.gates[txn.site][txn.point]
        best = gates[0]
        station = best.station
        load = station.queue_length + station.busy
        for gate in gates[1:]:
            if load == 0:
                break
            other = gate.station.queue_length + gate.station.busy
            if other < load:
                best, load = gate, other
        txn.station = best
        best.station.request(txn, self._start)
        queue = best.station.queue_length
        if queue > self.max_gate_queue[txn.site] and self.env.now >= self.warmup_s:
            self.max_gate_queue[txn.site] = queue

    def _start(self, txn: Transaction) -> None:
        txn.start_s = self.env.now
        call_later(self.env, self.tap_time(), self._tapped, txn, CODE)

    def _tapped(self, event: Any) -> None:
        txn: Transaction = event.value
        now = self.env.now
        txn.leave_s = now
        gate: Gate = txn.station
        gate.station.release()
        if self.hotlist is not None and not self._let_through(txn, gate, now):
            return
        gate.pending.append(txn)
        self.backlog[gate.site].tapped(now)
        if len(gate.pending) == 1:
            call_later(
                self.env, gate.next_upload(now, self.every_s) - now, self._upload, gate, CODE
            )

    def _let_through(self, txn: Transaction, gate: Gate, now: float) -> bool:
        """The reader's offline check against its hot list; a refused tap ends here."""
        assert self.hotlist is not None
        number = (txn.site * 1_000_003 + txn.point) * 64 + self.gates[txn.site][txn.point].index(
            gate
        )
        if self.hotlist.accepts(txn, number, gate.phase_s, now):
            return True
        txn.end_s, txn.outcome, txn.reason = now, DECLINED, HOT_LISTED
        self.flow.recorder.finish(txn)
        return False

    def _upload(self, event: Any) -> None:
        gate: Gate = event.value
        now = self.env.now
        for start, end in self.offline[gate.site]:
            if start <= now < end:  # offline: try again at the first upload time after it
                call_later(
                    self.env, gate.next_upload(end, self.every_s) - now, self._upload, gate, CODE
                )
                return
        records, gate.pending = gate.pending, []
        self.backlog[gate.site].uploaded(now, [txn.leave_s for txn in records])
        self.uploads += 1
        self.records_uploaded += len(records)
        self.flow.upload(records, gate.site)

    def figures(self) -> dict[str, Any]:
        """Gate queues at their worst and the upload backlog."""
        ids = [st.province for st in self.backlog]
        return {
            "max_gate_queue": max(self.max_gate_queue, default=0),
            "max_gate_queue_by_province": dict(zip(ids, self.max_gate_queue, strict=True)),
            "upload_backlog_max_records": max((st.max_queue for st in self.backlog), default=0),
            "uploads": self.uploads,
            "records_per_upload": self.records_uploaded / self.uploads if self.uploads else None,
            "upload_every_s": self.every_s,
        }


class _Upload:
    """Fare records travelling together to a clearing node or the interconnection node."""

    __slots__ = ("arrive", "link", "province", "records", "sends", "stage")

    def __init__(
        self,
        records: list[Transaction],
        province: int,
        stage: int,
        link: Link,
        arrive: Callable[[Any], None],
    ) -> None:
        self.records = records
        self.province = province
        self.stage = stage
        self.link = link
        """The link this leg crosses, and what the records do at its end."""
        self.arrive = arrive
        self.sends = 0
        """Times this leg was sent (a lost one is sent again)."""


@attrs.frozen
class Resend:
    """How a sender of fare records treats a lost message: the network's retry rule.

    The sender keeps the records until the next stage acknowledges them; without an
    acknowledgement by ``after_s`` (the network's timeout plus its backoff) it sends
    them again, at most ``retries`` times, then gives them up (the fares are not
    debited through the network: outcome fallback, reason timeout).
    """

    after_s: float
    retries: int


class FareClearing:
    """Clearing of uploaded records: site node, interconnection node, home node, debit."""

    def __init__(
        self,
        env: Environment,
        spec: TransitService,
        clearing: list[Node],
        hub: Node,
        access: Link,
        backbone: Link,
        uniform: Callable[[], float],
        recorder: TransactionRecorder,
        window: tuple[float, float],
        resend: Resend,
    ) -> None:
        self.env = env
        self.resend = resend
        self.given_up = 0
        """Records given up after their sender ran out of resends (lost on links)."""
        self.clearing = clearing
        self.hub = hub
        self.per_record_s = float(spec.clearing.per_record)
        self.other_city_share = spec.other_city_share
        self.access = access
        self.backbone = backbone
        self.uniform = uniform
        self.recorder = recorder
        self.window = window
        self.tap_s = array("d")
        self.local_s = array("d")
        self.interconnected_s = array("d")
        self.cards: CardCheck | None = None
        """The online card check at the debit, with card states (refused: the fare is lost)."""

    def upload(self, records: list[Transaction], site: int) -> None:
        """A gate's records leave for the site province's clearing node."""
        self._send(_Upload(records, site, SITE, self.access, self._arrive))

    def _send(self, upload: _Upload) -> None:
        """Put records on their link; if the link loses them, send again after the timeout."""
        upload.sends += 1
        delay = upload.link()
        if delay >= 0.0:
            call_later(self.env, delay, upload.arrive, upload, CODE)
        elif upload.sends <= self.resend.retries:
            call_later(self.env, self.resend.after_s, self._send_again, upload, CODE)
        else:
            self._give_up(upload.records)

    def _send_again(self, event: Any) -> None:
        self._send(event.value)

    def _give_up(self, records: list[Transaction]) -> None:
        """Records lost on every send: not debited (the operator claims them by hand)."""
        now = self.env.now
        self.given_up += len(records)
        for txn in records:
            txn.end_s = now
            txn.settle_s = -1.0
            txn.outcome = Outcome.FALLBACK
            txn.reason = Reason.TIMEOUT
            txn.fund_fen = 0
            txn.personal_fen = 0
            self.recorder.finish(txn)

    def _arrive(self, event: Any) -> None:
        upload: _Upload = event.value
        self.clearing[upload.province].station.request(upload, self._clear)

    def _clear(self, upload: _Upload) -> None:
        node = self.clearing[upload.province]
        delay = node.service_time() + self.per_record_s * len(upload.records)
        call_later(self.env, delay, self._cleared, upload, CODE)

    def _cleared(self, event: Any) -> None:
        upload: _Upload = event.value
        self.clearing[upload.province].station.release()
        if upload.stage == HOME:
            self._debit(upload.records, interconnected=True)
            return
        local: list[Transaction] = []
        onward: list[Transaction] = []
        share, uniform = self.other_city_share, self.uniform
        for txn in upload.records:
            if txn.cross or (share > 0 and uniform() < share):
                onward.append(txn)
            else:
                local.append(txn)
        if local:
            self._debit(local, interconnected=False)
        if onward:
            self._send(_Upload(onward, -1, HUB, self.backbone, self._at_hub))

    def _at_hub(self, event: Any) -> None:
        self.hub.station.request(event.value, self._hub_start)

    def _hub_start(self, upload: _Upload) -> None:
        call_later(self.env, self.hub.service_time(), self._hub_done, upload, CODE)

    def _hub_done(self, event: Any) -> None:
        upload: _Upload = event.value
        self.hub.station.release()
        by_home: dict[int, list[Transaction]] = {}
        for txn in upload.records:
            by_home.setdefault(txn.home, []).append(txn)
        for home, records in by_home.items():
            self._send(_Upload(records, home, HOME, self.backbone, self._arrive))

    def _debit(self, records: list[Transaction], interconnected: bool) -> None:
        now = self.env.now
        low, high = self.window
        delays = self.interconnected_s if interconnected else self.local_s
        for txn in records:
            txn.end_s = now
            txn.settle_s = now - txn.leave_s
            refused = self.cards.refusal(txn, now) if self.cards is not None else None
            if refused is not None:  # let through offline, refused at upload: the fare is lost
                txn.outcome, txn.reason = DECLINED, REFUSAL_REASONS[refused]
                self.recorder.finish(txn)
                continue
            txn.outcome = SETTLED
            txn.reason = NONE
            txn.fund_fen = 0
            txn.personal_fen = txn.amount_fen
            self.recorder.finish(txn)
            if low <= txn.arrival_s < high:
                delays.append(txn.settle_s)
                self.tap_s.append(txn.leave_s - txn.arrival_s)

    def figures(self) -> dict[str, Any]:
        """Tap latency and tap-to-debit delay (local and through the interconnection)."""
        both = np.concatenate([np.frombuffer(self.local_s), np.frombuffer(self.interconnected_s)])
        return {
            "records_given_up": self.given_up,
            "tap_latency_s": percentiles(np.frombuffer(self.tap_s)),
            "tap_to_debit_s": {
                "all": percentiles(both),
                "local": percentiles(np.frombuffer(self.local_s)),
                "interconnected": percentiles(np.frombuffer(self.interconnected_s)),
            },
        }


def headline(figures: dict[str, Any]) -> list[str]:
    """The family's console line: taps, gate queues, the upload backlog, tap to debit."""
    debit = figures["tap_to_debit_s"]
    return [
        f"transit: tap p99 {ms(figures['tap_latency_s']['p99'])} ms, max gate queue "
        f"{figures['max_gate_queue']}, upload backlog max "
        f"{figures['upload_backlog_max_records']:,} records, tap-to-debit p99 "
        f"{secs_whole(debit['all']['p99'])} (local {secs_whole(debit['local']['p99'])}, "
        f"interconnected {secs_whole(debit['interconnected']['p99'])})"
    ]

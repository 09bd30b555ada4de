"""The callback kernel and stations: ordering, FIFO service, and the figures kept."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from sim.engine.kernel import Environment, call_later, events_scheduled
from sim.engine.servers import NodeStats
from sim.engine.stations import Station, StationStats
from sim.scenario import Scenario
from sim.services.bank import CreditQueueStats
from sim.services.transit import UploadBacklog


def test_call_later_runs_callbacks_in_time_order(env: Environment) -> None:
    """Calls fire at their delay, ties in the order they were scheduled."""
    seen: list[tuple[float, str]] = []
    for delay, name in [(2.0, "c"), (1.0, "a"), (1.0, "b")]:
        call_later(env, delay, lambda ev: seen.append((ev.env.now, ev.value)), name)
    env.run()
    assert seen == [(1.0, "a"), (1.0, "b"), (2.0, "c")]


def test_events_scheduled_counts_every_scheduled_event(env: Environment) -> None:
    """The event counter equals the number of events put on the queue."""
    for _ in range(5):
        call_later(env, 1.0, lambda ev: None, None)
    env.timeout(3)
    assert events_scheduled(env) == 6


def _serve(env: Environment, station: Station, service_s: float, log: list[str]):
    def start(job: str) -> None:
        log.append(f"start {job} @{env.now:g}")
        call_later(env, service_s, lambda ev: station.release(), None)

    return start


def test_station_serves_fifo_with_its_servers(env: Environment) -> None:
    """Two servers: the third job waits for the first free server, in arrival order."""
    stats = StationStats("s", "node")
    station = Station(env, 2, stats)
    log: list[str] = []
    start = _serve(env, station, 10.0, log)
    for i, t in enumerate([0.0, 1.0, 2.0, 3.0]):
        call_later(env, t, lambda ev: station.request(ev.value, start), f"j{i}")
    env.run()
    assert log == ["start j0 @0", "start j1 @1", "start j2 @10", "start j3 @11"]
    assert list(stats.wait_array()) == [0.0, 0.0, 8.0, 8.0]
    assert stats.max_queue == 2
    assert (stats.arrivals, stats.completions, stats.busy, stats.queue) == (4, 4, 0, 0)


def test_station_time_integrals_give_utilisation_and_queue(env: Environment) -> None:
    """Busy and queue integrals are exact areas under the step functions."""
    stats = StationStats("s", "node")
    station = Station(env, 1, stats)
    start = _serve(env, station, 4.0, [])
    call_later(env, 0.0, lambda ev: station.request("a", start), None)
    call_later(env, 1.0, lambda ev: station.request("b", start), None)
    env.run()
    stats.advance(10.0)
    assert stats.busy_area == pytest.approx(8.0)  # busy 0-8
    assert stats.queue_area == pytest.approx(3.0)  # b waits 1-4
    # Little's law on the queue: mean queue over 10 s = arrival rate × mean wait.
    assert stats.queue_area / 10.0 == pytest.approx(2 / 10.0 * stats.wait_array().mean())


def test_group_stats_aggregate_several_stations(env: Environment) -> None:
    """Stations sharing one StationStats add up servers, busy and arrivals."""
    stats = StationStats("g", "point")
    a, b = Station(env, 2, stats), Station(env, 3, stats)
    a.request("x", lambda job: None)
    b.request("y", lambda job: None)
    assert (stats.servers, stats.busy, stats.arrivals) == (5, 2, 2)


def test_reset_starts_measuring_afresh_but_keeps_state(env: Environment) -> None:
    """After a reset, counts since the reset start at zero; busy servers stay busy."""
    stats = StationStats("s", "node")
    station = Station(env, 1, stats)
    station.request("a", lambda job: None)
    station.request("b", lambda job: None)
    stats.reset(5.0)
    assert (stats.measured_arrivals, stats.busy, stats.queue, stats.max_queue) == (0, 1, 1, 1)
    assert stats.arrivals == 2
    assert len(stats.waits) == 0


def test_station_needs_a_server(env: Environment) -> None:
    """A station without servers is refused at construction."""
    with pytest.raises(ValueError, match="at least one server"):
        Station(env, 0, StationStats("s", "node"))


def test_queue_limit_turns_arrivals_away(env: Environment) -> None:
    """One server, queue limit 1: the third simultaneous job is refused and counted blocked."""
    stats = StationStats("s", "point")
    station = Station(env, 1, stats, queue_limit=1)
    started: list[str] = []
    assert [True, True, False] == [station.request(j, started.append) for j in "abc"]
    assert ["a"] == started
    assert (3, 1, 1, 1) == (stats.arrivals, stats.blocked, stats.queue, station.queue_length)
    station.release()
    assert ["a", "b"] == started
    assert station.request("d", started.append) is True


def test_queue_limit_zero_is_a_loss_system(env: Environment) -> None:
    """With no waiting room, an arrival finding every server busy leaves at once."""
    stats = StationStats("s", "point")
    station = Station(env, 2, stats, queue_limit=0)
    assert [True, True, False] == [station.request(j, lambda job: None) for j in "abc"]
    assert (0, 0, 1) == (stats.queue, stats.max_queue, stats.blocked)
    with pytest.raises(ValueError, match="queue limit"):
        Station(env, 1, stats, queue_limit=-1)


def test_waits_in_progress_close_littles_law_over_a_window(env: Environment) -> None:
    """Jobs queued at a reset carry their earlier wait in; jobs queued at the end are open.

    One server busy 0-10 with jobs queued at 1 and 2; reset at 4, read at 6:
    carried in (4-1) + (4-2) = 5; open at 6: 5 + 4 = 9; queue area over 4-6 = 2 × 2 = 4
    = recorded waits (none started) − carried in + open = 0 − 5 + 9.
    """
    stats = StationStats("s", "node")
    station = Station(env, 1, stats)
    for t, job in [(0.0, "a"), (1.0, "b"), (2.0, "c")]:
        call_later(env, t, lambda ev: station.request(ev.value, lambda j: None), job)
    env.run(until=4.0)
    stats.reset(4.0)
    assert (2, 5.0) == (stats.queue_at_reset, stats.wait_carried_in)
    env.run(until=6.0)
    stats.advance(6.0)
    assert 9.0 == stats.open_wait(6.0)
    assert stats.queue_area == pytest.approx(0.0 - stats.wait_carried_in + stats.open_wait(6.0))
    assert 0 == stats.measured_blocked


def test_few_collections_raises_thresholds_and_restores_them() -> None:
    """Inside, the model built so far is frozen and collections are rarer; after, as before."""
    import gc
    import weakref

    from sim.engine.kernel import GC_THRESHOLDS, few_collections

    before = gc.get_threshold()
    with few_collections():
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0

        class Node:
            other: object = None

        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: only the collector frees it
        ref = weakref.ref(a)
        del a, b
        gc.collect()
        assert ref() is None
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_folded_waits_keep_the_mean_exact_and_percentiles_within_a_bin() -> None:
    """Folding moves waits into the sketch: same mean, percentiles within 0.1%."""
    import numpy as np

    from sim.engine.quantiles import percentiles

    waits = np.random.default_rng(7).exponential(2.0, 50_000).astype(np.float32)
    waits[::4] = 0.0  # a quarter served at once
    stats = StationStats("s", "point")
    for part in np.array_split(waits, 5):
        stats.waits.frombytes(part.tobytes())
        stats.fold_waits()
    stats.waits.frombytes(waits[:10].tobytes())  # some still held exactly
    every = np.concatenate([waits, waits[:10]]).astype(np.float64)
    exact, folded = percentiles(every), stats.wait_summary()
    assert folded["mean"] == pytest.approx(exact["mean"], rel=1e-9)
    for q in ("p50", "p95", "p99"):
        assert folded[q] == pytest.approx(exact[q], rel=2e-3)
    assert len(stats.waits) == 0 and stats.wait_sketch is not None
    stats.reset(1.0)
    assert stats.wait_sketch is None


def test_a_run_folding_its_waits_reports_the_same_stations(
    smoke: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every station folding early, the station table agrees with the exact run."""
    import numpy as np

    from sim import run_once

    exact = run_once(smoke, tmp_path / "exact").stations
    monkeypatch.setattr("sim.outputs.recorder.FOLD_WAITS_AT", 50)
    folded = run_once(smoke, tmp_path / "folded").stations
    assert exact["station"].to_pylist() == folded["station"].to_pylist()
    assert exact["arrivals"].to_pylist() == folded["arrivals"].to_pylist()
    np.testing.assert_allclose(folded["wait_mean_s"].to_numpy(), exact["wait_mean_s"].to_numpy(),
                               rtol=1e-6)  # fmt: skip
    busy = exact["wait_p95_s"].to_numpy() > 1e-3
    assert busy.any()
    np.testing.assert_allclose(folded["wait_p95_s"].to_numpy()[busy],
                               exact["wait_p95_s"].to_numpy()[busy], rtol=3e-3)  # fmt: skip


@pytest.mark.parametrize(
    "kind",
    [StationStats, NodeStats, CreditQueueStats, UploadBacklog],
    ids=lambda k: k.__name__,
)
def test_copying_station_figures_copies_every_attribute(kind: type[StationStats]) -> None:
    """copy.copy (the warm-up's snapshot at the horizon) keeps every attribute of every class.

    The compiled build has no ``__slots__`` to walk, so each class lists its own
    attributes; a class that adds one and forgets to copy it fails here.
    """
    stats = kind("point:x:AA", "point", "AA", "x")
    names = [n for cls in kind.__mro__ for n in getattr(cls, "__slots__", ())]
    for i, name in enumerate(names):
        setattr(stats, name, ("sentinel", i))
    clone = copy.copy(stats)
    assert type(clone) is kind and clone is not stats
    assert [getattr(clone, n) for n in names] == [("sentinel", i) for i in range(len(names))]

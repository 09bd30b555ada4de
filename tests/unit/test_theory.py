"""Queueing formulas against textbook values and against their definitions."""

from __future__ import annotations

import math
import time

import pytest

from sim.outputs import theory
from sim.outputs.theory import erlang_b, erlang_c


def _erlang_c_by_definition(c: int, a: float) -> float:
    """C(c, a) from its textbook sum (Kleinrock 1975, eq. 3.40), without the B recursion."""
    tail = a**c / math.factorial(c) * c / (c - a)
    return tail / (sum(a**k / math.factorial(k) for k in range(c)) + tail)


def test_erlang_b_textbook_values() -> None:
    """B(1, a) = a/(1+a); B(3, 2) = 4/19; B(5, 3) = 0.1101 (Erlang B tables)."""
    assert theory.erlang_b(1, 0.5) == pytest.approx(1 / 3)
    assert theory.erlang_b(3, 2.0) == pytest.approx(4 / 19)
    assert theory.erlang_b(5, 3.0) == pytest.approx(0.110054, abs=1e-6)
    assert theory.erlang_b(4, 0.0) == 0.0


def test_erlang_c_textbook_values() -> None:
    """C(1, ρ) = ρ; C(2, 1) = 1/3; C(10, 8) = 0.40918 (Erlang C tables)."""
    assert theory.erlang_c(1, 0.7) == pytest.approx(0.7)
    assert theory.erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert theory.erlang_c(10, 8.0) == pytest.approx(0.409180, abs=1e-6)


@pytest.mark.parametrize(("c", "a"), [(1, 0.3), (3, 2.4), (8, 7.9), (40, 31.0)])
def test_erlang_c_equals_its_definition(c: int, a: float) -> None:
    """The stable recursion gives the textbook sum for small and large c."""
    assert theory.erlang_c(c, a) == pytest.approx(_erlang_c_by_definition(c, a), rel=1e-10)


def test_erlang_c_refuses_an_unstable_load() -> None:
    """a ≥ c has no steady state."""
    with pytest.raises(ValueError, match="steady state"):
        theory.erlang_c(2, 2.0)
    with pytest.raises(ValueError, match="servers"):
        theory.erlang_b(0, 1.0)


def test_mm1_closed_forms() -> None:
    """M/M/1 at ρ = 0.7, s = 2 s: Wq = ρ s/(1−ρ) = 4.667 s, Lq = ρ²/(1−ρ), W = s/(1−ρ)."""
    q = theory.mmc(0.35, 2.0, 1)
    assert q.p_wait == pytest.approx(0.7)
    assert q.wait_s == pytest.approx(0.7 * 2 / 0.3)
    assert q.queue == pytest.approx(0.49 / 0.3)
    assert q.sojourn_s == pytest.approx(2 / 0.3)
    assert q.busy == pytest.approx(0.7)


def test_mmc_worked_example_obeys_littles_law() -> None:
    """M/M/3 with λ = 6/h, s = 20 min (a = 2): C = 4/9, Wq = 533.3 s, Lq = 8/9 = λ Wq."""
    q = theory.mmc(6 / 3600, 1200.0, 3)
    assert q.p_wait == pytest.approx(4 / 9)
    assert q.wait_s == pytest.approx(1600 / 3)
    assert q.queue == pytest.approx(8 / 9)
    assert q.queue == pytest.approx(theory.little_l(q.arrival_rate, q.wait_s))


def test_pollaczek_khinchine_special_cases() -> None:
    """P-K with cv = 1 is M/M/1; M/D/1 waits half as long; Wq grows with (1 + cv²)/2."""
    assert theory.mg1(0.35, 2.0, 1.0).wait_s == pytest.approx(theory.mmc(0.35, 2.0, 1).wait_s)
    md1 = theory.mg1(0.4, 2.0, 0.0)
    assert md1.wait_s == pytest.approx(0.8 * 2.0 / (2 * 0.2))
    assert md1.p_wait == pytest.approx(0.8)
    ratio = theory.mg1(0.3, 2.0, 1.5).wait_s / theory.mg1(0.3, 2.0, 1.0).wait_s
    assert ratio == pytest.approx((1 + 1.5**2) / 2)
    with pytest.raises(ValueError, match="utilisation"):
        theory.mg1(0.5, 2.0, 1.0)


def test_mmck_reduces_to_known_cases() -> None:
    """K = c is Erlang B; M/M/1/K has p_K = (1−ρ)ρ^K/(1−ρ^(K+1)); large K tends to M/M/c."""
    assert theory.mmck(2.0, 1.0, 3, 3).p_block == pytest.approx(theory.erlang_b(3, 2.0))
    assert theory.mmck(0.5, 1.0, 1, 3).p_block == pytest.approx(0.5 * 0.125 / (1 - 0.0625))
    big = theory.mmck(1.6, 1.0, 2, 400)
    inf = theory.mmc(1.6, 1.0, 2)
    assert big.wait_s == pytest.approx(inf.wait_s, rel=1e-9)
    assert big.p_wait == pytest.approx(inf.p_wait, rel=1e-9)
    assert big.queue == pytest.approx(inf.queue, rel=1e-9)


def test_mmck_at_and_above_saturation() -> None:
    """ρ = 1 with c = 1, K = 4 gives p_n = 1/5; heavy overload loses about 1 − 1/ρ."""
    q = theory.mmck(1.0, 1.0, 1, 4)
    assert q.p_block == pytest.approx(0.2)
    assert q.queue == pytest.approx((1 + 2 + 3) / 5)
    assert q.wait_s == pytest.approx(q.queue / 0.8)
    heavy = theory.mmck(1000.0, 1.0, 1, 200)
    assert heavy.p_block == pytest.approx(1 - 1 / 1000, rel=1e-6)
    assert heavy.busy == pytest.approx(1.0, rel=1e-6)
    assert theory.mmck(0.0, 1.0, 2, 5).p_block == 0.0


def test_kelly_tandem_of_single_servers() -> None:
    """Two M/M/1 nodes in series: sojourns 1/(μ_i − λ) add; a revisit doubles a node's rate."""
    net = theory.kelly_network({"a": (1, 0.1), "b": (1, 0.05)}, [(4.0, ["a", "b"])])
    assert net.route_sojourn_s[0] == pytest.approx(1 / (10 - 4) + 1 / (20 - 4))
    loop = theory.kelly_network({"a": (1, 0.1), "b": (1, 0.05)}, [(4.0, ["a", "b", "a"])])
    assert loop.node_arrival_rate == {"a": 8.0, "b": 4.0}
    assert loop.route_sojourn_s[0] == pytest.approx(2 / (10 - 8) + 1 / (20 - 4))


def test_kelly_cross_province_route_mix() -> None:
    """Local and cross-province routes share nodes; the mix's mean weights routes by rate."""
    nodes = {"SC": (2, 0.04), "CQ": (2, 0.04), "national": (4, 0.08)}
    routes = [(10.0, ["SC"]), (5.0, ["SC", "national", "CQ", "national", "SC"])]
    net = theory.kelly_network(nodes, routes)
    assert net.node_arrival_rate == {"SC": 20.0, "CQ": 5.0, "national": 10.0}
    sc, cq, nat = (net.node[n].sojourn_s for n in ("SC", "CQ", "national"))
    assert net.route_sojourn_s == pytest.approx((sc, 2 * sc + 2 * nat + cq))
    assert net.mean_sojourn_s([10.0, 5.0], [0, 1]) == pytest.approx((10 * sc + 5 * (
        2 * sc + 2 * nat + cq)) / 15)  # fmt: skip


def test_kelly_refuses_unknown_nodes_and_overload() -> None:
    """A route through a node that does not exist, or a node past its capacity, is an error."""
    with pytest.raises(ValueError, match="unknown node"):
        theory.kelly_network({"a": (1, 0.1)}, [(1.0, ["b"])])
    with pytest.raises(ValueError, match="steady state"):
        theory.kelly_network({"a": (1, 0.1)}, [(6.0, ["a", "a"])])


def _recursion(servers: int, load: float) -> float:
    """Erlang B by the plain recursion to the last server (the reference)."""
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b


@pytest.mark.parametrize(("servers", "load"), [(10, 5.0), (300, 290.0), (15_000, 14_990.0),
                                               (50_000, 49_000.0), (20_000, 3.0)])  # fmt: skip
def test_erlang_b_shortcuts_agree_with_the_full_recursion(servers: int, load: float) -> None:
    """Stopping at underflow and the closed form beyond 10,000 servers change no figure."""
    assert erlang_b(servers, load) == pytest.approx(_recursion(servers, load), rel=1e-9)


@pytest.mark.parametrize("load", [0.3, 5e8, 999_999_000.0])
def test_erlang_figures_of_a_billion_servers_are_immediate(load: float) -> None:
    """A billion servers (``network.national.servers=1e9``) costs no more than ten."""
    started = time.perf_counter()
    assert 0.0 <= erlang_c(10**9, load) <= 1.0
    assert time.perf_counter() - started < 0.5

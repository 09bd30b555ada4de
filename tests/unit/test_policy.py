"""Tests for sim.policy: splitting a bill into fund and personal shares."""

# Assertions read `expected == actual` (STYLE.md section 6), which SIM300 calls Yoda style.

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.policy import CompiledRule, PolicyTable, split
from sim.scenario.schema import PolicyRule, PolicySpec

INPATIENT = CompiledRule(deductible_fen=80_000, ratio_bp=7_000, ceiling_fen=30_000_000)
"""800 yuan deductible, 70%, ceiling 300,000 yuan."""


@pytest.mark.parametrize(
    ("amount", "fund", "personal"),
    [
        (0, 0, 0),
        (50_000, 0, 50_000),  # below the deductible: the patient pays all
        (80_000, 0, 80_000),  # exactly the deductible
        (80_001, 0, 80_001),  # 70% of 1 fen rounds down to 0
        (80_010, 7, 80_003),  # 70% of 10 fen
        (1_280_000, 840_000, 440_000),  # 12,000 yuan bill: 70% of 11,200 yuan
        (50_000_000, 30_000_000, 20_000_000),  # the ceiling binds
    ],
)
def test_split_examples(amount: int, fund: int, personal: int) -> None:
    """fund = min(ceiling, ratio × (amount − deductible)), rounded down to a fen."""
    assert (fund, personal) == split(amount, INPATIENT)


def test_split_ratio_zero_and_one() -> None:
    """Ratio 0 leaves everything to the patient; ratio 1 pays all above the deductible."""
    assert (0, 12_345) == split(12_345, CompiledRule(0, 0, None))
    assert (12_245, 100) == split(12_345, CompiledRule(100, 10_000, None))
    assert (12_345, 0) == split(12_345, CompiledRule(0, 10_000, None))


def test_split_without_ceiling() -> None:
    """Without a ceiling the fund share grows with the bill."""
    assert (700_000_000, 300_000_000) == split(1_000_000_000, CompiledRule(0, 7_000, None))


def test_split_ceiling_zero() -> None:
    """A ceiling of 0 means the fund pays nothing."""
    assert (0, 5_000) == split(5_000, CompiledRule(0, 5_000, 0))


@given(
    amount=st.integers(0, 10**12),
    deductible=st.integers(0, 10**9),
    ratio_bp=st.integers(0, 10_000),
    ceiling=st.none() | st.integers(0, 10**10),
)
def test_shares_sum_to_amount(
    amount: int, deductible: int, ratio_bp: int, ceiling: int | None
) -> None:
    """The shares are integers that add up to the bill; the fund share obeys every limit."""
    fund, personal = split(amount, CompiledRule(deductible, ratio_bp, ceiling))
    assert amount == fund + personal
    assert isinstance(fund, int)
    assert isinstance(personal, int)
    assert 0 <= fund <= max(0, amount - deductible)
    assert fund * 10_000 <= max(0, amount - deductible) * ratio_bp
    if ceiling is not None:
        assert fund <= ceiling
    assert personal >= min(amount, deductible)


@given(st.integers(0, 10**10), st.integers(0, 10**10))
def test_fund_share_never_falls_as_bill_rises(a: int, b: int) -> None:
    """A larger bill never gets a smaller fund share (monotone split)."""
    low, high = sorted((a, b))
    assert split(low, INPATIENT)[0] <= split(high, INPATIENT)[0]


@pytest.mark.parametrize(
    ("ratio", "bp"),
    [(0.0, 0), (1.0, 10_000), (0.7, 7_000), (0.85, 8_500), (0.123456, 1_235), (0.12344, 1_234)],
)
def test_ratio_rounded_to_basis_point(ratio: float, bp: int) -> None:
    """Ratios compile to the nearest basis point (0.7 × 10000 is 7000.000000000001)."""
    assert bp == CompiledRule.from_rule(PolicyRule(ratio)).ratio_bp


def test_compile_rule_keeps_money() -> None:
    """Deductible and ceiling carry over as integer fen; no ceiling stays None."""
    assert CompiledRule(80_000, 7_000, 30_000_000) == CompiledRule.from_rule(
        PolicyRule(0.7, 80_000, 30_000_000)
    )
    assert None is CompiledRule.from_rule(PolicyRule(0.5)).ceiling_fen


SPEC = PolicySpec(
    default={
        "medical_inpatient": PolicyRule(0.7, 80_000, 30_000_000),
        "pharmacy": PolicyRule(0.5),
    },
    provinces={"BJ": {"medical_inpatient": PolicyRule(0.85, 130_000, 50_000_000)}},
)
SERVICES = ("medical_outpatient", "medical_inpatient", "pharmacy")


def test_spec_rule_lookup() -> None:
    """A province's own rule replaces the default for that service only."""
    assert PolicyRule(0.85, 130_000, 50_000_000) == SPEC.rule("BJ", "medical_inpatient")
    assert PolicyRule(0.7, 80_000, 30_000_000) == SPEC.rule("GD", "medical_inpatient")
    assert PolicyRule(0.5) == SPEC.rule("BJ", "pharmacy")
    assert None is SPEC.rule("BJ", "medical_outpatient")


def test_table_uses_home_province_rule() -> None:
    """PolicyTable splits by the home province's rule, the default elsewhere."""
    table = PolicyTable(SPEC, ("BJ", "GD"), SERVICES)
    bill = 2_130_000  # 21,300 yuan
    assert (1_700_000, 430_000) == table.split(0, 1, bill)  # BJ: 85% of 20,000 yuan
    assert (1_435_000, 695_000) == table.split(1, 1, bill)  # GD: 70% of 20,500 yuan
    assert (5_000, 5_001) == table.split(0, 2, 10_001)  # pharmacy default everywhere


def test_table_without_rule_raises() -> None:
    """Splitting for a service without any rule is a LookupError naming the indices."""
    table = PolicyTable(SPEC, ("BJ", "GD"), SERVICES)
    with pytest.raises(LookupError, match="province #1, service #0"):
        table.split(1, 0, 100)

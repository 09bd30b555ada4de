"""Tests for sim.money.policy: splitting a bill into fund and personal shares."""

# Assertions read `expected == actual` (STYLE.md section 6), which SIM300 calls Yoda style.

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.money.policy import CompiledRule, PolicyTable, YearToDate, split
from sim.scenario.schema import (
    CatalogueSpec,
    LevelRatios,
    PolicyRule,
    PolicySpec,
    RatioTable,
)
from sim.world.domain import Level, Scheme


def _split(amount: int, rule: CompiledRule) -> tuple[int, int]:
    """Split one bill by a flat rule, the ceiling applying to this bill alone."""
    return split(amount, rule.deductible_fen, rule.ratio_for(0, Level.TERTIARY), rule.ceiling_fen)


INPATIENT = CompiledRule.flat(deductible_fen=80_000, ratio_bp=7_000, ceiling_fen=30_000_000)
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
    assert (fund, personal) == _split(amount, INPATIENT)


def test_split_ratio_zero_and_one() -> None:
    """Ratio 0 leaves everything to the patient; ratio 1 pays all above the deductible."""
    assert (0, 12_345) == _split(12_345, CompiledRule.flat(0, 0, None))
    assert (12_245, 100) == _split(12_345, CompiledRule.flat(100, 10_000, None))
    assert (12_345, 0) == _split(12_345, CompiledRule.flat(0, 10_000, None))


def test_split_without_ceiling() -> None:
    """Without a ceiling the fund share grows with the bill."""
    assert (700_000_000, 300_000_000) == _split(1_000_000_000, CompiledRule.flat(0, 7_000, None))


def test_split_ceiling_zero() -> None:
    """A ceiling of 0 means the fund pays nothing."""
    assert (0, 5_000) == _split(5_000, CompiledRule.flat(0, 5_000, 0))


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
    fund, personal = _split(amount, CompiledRule.flat(deductible, ratio_bp, ceiling))
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
    assert _split(low, INPATIENT)[0] <= _split(high, INPATIENT)[0]


@pytest.mark.parametrize(
    ("ratio", "bp"),
    [(0.0, 0), (1.0, 10_000), (0.7, 7_000), (0.85, 8_500), (0.123456, 1_235), (0.12344, 1_234)],
)
def test_ratio_rounded_to_basis_point(ratio: float, bp: int) -> None:
    """Ratios compile to the nearest basis point (0.7 × 10000 is 7000.000000000001)."""
    assert bp == CompiledRule.from_rule(PolicyRule(ratio)).ratio_for(
        Scheme.RESIDENT, Level.PRIMARY
    )


def test_compile_rule_keeps_money() -> None:
    """Deductible and ceiling carry over as integer fen; no ceiling stays None."""
    assert CompiledRule.flat(80_000, 7_000, 30_000_000) == CompiledRule.from_rule(
        PolicyRule(0.7, deductible=80_000, ceiling=30_000_000)
    )
    assert None is CompiledRule.from_rule(PolicyRule(0.5)).ceiling_fen


SPEC = PolicySpec(
    default={
        "medical_inpatient": PolicyRule(0.7, deductible=80_000, ceiling=30_000_000),
        "pharmacy": PolicyRule(0.5),
    },
    provinces={
        "BJ": {"medical_inpatient": PolicyRule(0.85, deductible=130_000, ceiling=50_000_000)}
    },
)
SERVICES = ("medical_outpatient", "medical_inpatient", "pharmacy")


def test_spec_rule_lookup() -> None:
    """A province's own rule replaces the default for that service only."""
    assert PolicyRule(0.85, deductible=130_000, ceiling=50_000_000) == SPEC.rule(
        "BJ", "medical_inpatient"
    )
    assert PolicyRule(0.7, deductible=80_000, ceiling=30_000_000) == SPEC.rule(
        "GD", "medical_inpatient"
    )
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


def test_ratio_table_by_scheme_and_level() -> None:
    """A ratio table gives each scheme and hospital level its own ratio."""
    ratios = RatioTable(LevelRatios(0.95, 0.9, 0.85), LevelRatios(0.8, 0.7, 0.6))
    rule = CompiledRule.from_rule(PolicyRule(ratios=ratios))
    assert 9_500 == rule.ratio_for(Scheme.EMPLOYEE, Level.PRIMARY)
    assert 7_000 == rule.ratio_for(Scheme.RESIDENT, Level.SECONDARY)
    assert 6_000 == rule.ratio_for(Scheme.RESIDENT, Level.TERTIARY)
    table = PolicyTable(PolicySpec(default={"pharmacy": PolicyRule(ratios=ratios)}),
                        ("BJ",), SERVICES)  # fmt: skip
    assert (8_000, 2_000) == table.split(0, 2, 10_000, scheme=Scheme.RESIDENT,
                                         level=Level.PRIMARY)  # fmt: skip


def test_catalogue_share_is_the_treatment_provinces() -> None:
    """Only the covered share of the bill (treatment province's catalogue) is reimbursed."""
    spec = PolicySpec(
        default={"pharmacy": PolicyRule(0.5)},
        catalogue=CatalogueSpec(default={"pharmacy": 0.8}, provinces={"GD": {"pharmacy": 0.6}}),
    )
    table = PolicyTable(spec, ("BJ", "GD"), SERVICES)
    assert (4_000, 6_000) == table.split(0, 2, 10_000, site=0)  # covered 8,000 × 50%
    assert (3_000, 7_000) == table.split(0, 2, 10_000, site=1)  # BJ holder treated in GD


def test_annual_ceiling_counts_year_to_date() -> None:
    """The ceiling caps a holder's fund payments over the year, not per bill."""
    spec = PolicySpec(default={"pharmacy": PolicyRule(1.0, ceiling=15_000)})
    table = PolicyTable(spec, ("BJ",), SERVICES, year_starts_s=[1_000.0])
    assert (10_000, 0) == table.split(0, 2, 10_000, holder=7, now=1.0)
    assert (5_000, 5_000) == table.split(0, 2, 10_000, holder=7, now=2.0)
    assert (0, 10_000) == table.split(0, 2, 10_000, holder=7, now=3.0)
    assert (10_000, 0) == table.split(0, 2, 10_000, holder=8, now=3.0)  # another holder
    table.undo(8, 2, 10_000, now=4.0)
    assert 0 == table.year_to_date(2).paid(8, 4.0)
    assert (10_000, 0) == table.split(0, 2, 10_000, holder=7, now=1_000.0)  # new year
    assert 0 == table.year_to_date(2).paid(8, 1_000.0)


OUTPATIENT_CODE, INPATIENT_CODE, PHARMACY_CODE = 0, 1, 2  # in SERVICES above


def test_outpatient_and_inpatient_ceilings_are_separate_annual_limits() -> None:
    """Inpatient stays count against the inpatient limit only; outpatient visits and
    pharmacy purchases share the outpatient limit (门诊统筹), each year to date.

    Before, one year to date summed every medical service, so an inpatient stay used
    up the outpatient ceiling and a later outpatient bill got no fund share.
    """
    spec = PolicySpec(default={
        "medical_outpatient": PolicyRule(1.0, ceiling=3_000),
        "pharmacy": PolicyRule(1.0, ceiling=3_000),
        "medical_inpatient": PolicyRule(1.0, ceiling=300_000),
    })  # fmt: skip
    table = PolicyTable(spec, ("BJ",), SERVICES, year_starts_s=[1_000.0])
    assert (50_000, 0) == table.split(0, INPATIENT_CODE, 50_000, holder=7, now=1.0)
    assert (2_000, 0) == table.split(0, OUTPATIENT_CODE, 2_000, holder=7, now=2.0)
    assert (1_000, 1_000) == table.split(0, PHARMACY_CODE, 2_000, holder=7, now=3.0)
    assert (0, 500) == table.split(0, OUTPATIENT_CODE, 500, holder=7, now=4.0)
    assert (10_000, 0) == table.split(0, INPATIENT_CODE, 10_000, holder=7, now=5.0)
    assert 60_000 == table.year_to_date(INPATIENT_CODE).paid(7, 5.0)
    assert 3_000 == table.year_to_date(OUTPATIENT_CODE).paid(7, 5.0)
    assert table.year_to_date(PHARMACY_CODE) is table.year_to_date(OUTPATIENT_CODE)
    table.undo(7, PHARMACY_CODE, 1_000, now=6.0)  # a reversed pharmacy sale frees its share
    assert (1_000, 0) == table.split(0, OUTPATIENT_CODE, 1_000, holder=7, now=7.0)
    assert 60_000 == table.year_to_date(INPATIENT_CODE).paid(7, 7.0)


def test_year_to_date_is_sparse() -> None:
    """Only holders who were paid take memory."""
    ytd = YearToDate()
    ytd.add(3, 500, 0.0)
    ytd.add(3, 200, 1.0)
    assert (700, 0, 1) == (ytd.paid(3, 2.0), ytd.paid(4, 2.0), len(ytd))


def test_year_to_date_merges_recent_totals_into_arrays(monkeypatch: pytest.MonkeyPatch) -> None:
    """Totals survive the merge into the sorted arrays, and later payments add to them."""
    monkeypatch.setattr(YearToDate, "MERGE_AT", 4)
    ytd = YearToDate(year_starts_s=[100.0])
    rng = np.random.default_rng(3)
    holders = rng.integers(0, 50, size=400)
    amounts = rng.integers(-5, 100, size=400)
    expected: dict[int, int] = {}
    for h, a in zip(holders.tolist(), amounts.tolist(), strict=True):
        ytd.add(h, a, 1.0)
        expected[h] = expected.get(h, 0) + a
    assert all(ytd.paid(h, 2.0) == v for h, v in expected.items())
    assert (len(expected), 0) == (len(ytd), ytd.paid(50, 2.0))
    ids = ytd._ids
    assert ids.size > 0 and bool(np.all(ids[1:] > ids[:-1]))  # sorted, each holder once
    ytd.add(7, 10, 100.0)  # a new year forgets the old one
    assert (10, 0, 1) == (ytd.paid(7, 100.0), ytd.paid(int(holders[0]), 100.0), len(ytd))

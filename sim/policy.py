"""Reimbursement: how the home province splits a bill into fund and personal shares.

The rule (deductible, ratio, ceiling) is the *home* province's, as in real
cross-province settlement. Arithmetic is in integer fen with the ratio in basis
points, so the split is exact and the two shares always add up to the bill.
"""

from __future__ import annotations

import attrs

from sim.domain import Fen
from sim.scenario.schema import PolicyRule, PolicySpec

__all__ = ["CompiledRule", "PolicyTable", "split"]

BASIS_POINTS = 10_000


@attrs.frozen
class CompiledRule:
    """A policy rule in the integer form the split uses."""

    deductible_fen: Fen
    ratio_bp: int
    ceiling_fen: Fen | None

    @classmethod
    def from_rule(cls, rule: PolicyRule) -> CompiledRule:
        """Compile a scenario rule (ratio rounded to a basis point)."""
        return cls(
            int(rule.deductible),
            round(rule.ratio * BASIS_POINTS),
            None if rule.ceiling is None else int(rule.ceiling),
        )


def split(amount_fen: Fen, rule: CompiledRule) -> tuple[Fen, Fen]:
    """Fund share and personal share of a bill; they sum to ``amount_fen`` exactly."""
    eligible = amount_fen - rule.deductible_fen
    if eligible <= 0:
        return 0, amount_fen
    fund = eligible * rule.ratio_bp // BASIS_POINTS
    if rule.ceiling_fen is not None and fund > rule.ceiling_fen:
        fund = rule.ceiling_fen
    return fund, amount_fen - fund


class PolicyTable:
    """Rules looked up by (home province, service) in constant time."""

    def __init__(
        self, spec: PolicySpec, province_ids: tuple[str, ...], services: tuple[str, ...]
    ) -> None:
        self.rules: list[list[CompiledRule | None]] = []
        for pid in province_ids:
            row: list[CompiledRule | None] = []
            for service in services:
                rule = spec.rule(pid, service)
                row.append(None if rule is None else CompiledRule.from_rule(rule))
            self.rules.append(row)

    def split(self, home: int, service: int, amount_fen: Fen) -> tuple[Fen, Fen]:
        """Split a bill by the rule of the holder's home province for the service."""
        rule = self.rules[home][service]
        if rule is None:
            raise LookupError(f"no policy rule for province #{home}, service #{service}")
        return split(amount_fen, rule)

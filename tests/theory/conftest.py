"""Shared helpers of the theory checks: the validation scenarios and a failure report."""

from __future__ import annotations

from pathlib import Path

from sim.validation.runner import CaseReport
from tests.conftest import SCENARIOS

VALIDATION = SCENARIOS / "validation"
CASES: dict[str, Path] = {p.stem: p for p in sorted(VALIDATION.glob("*.yaml"))}
"""The shipped validation scenarios, by file stem."""

JOBS = 2
"""Worker processes for replications (CI has two cores)."""


def failures(report: CaseReport) -> str:
    """The failing rows of a case, one per line, for an assertion message."""
    return "\n".join(
        f"{report.case.name}: {row.quantity}: theory {row.theory}, simulated {row.mean}, "
        f"95% CI {row.ci95}, rel. error {row.rel_error}, p {row.p_value} {row.detail}"
        for row in report.rows
        if not row.passed
    )

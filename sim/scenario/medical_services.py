"""Schema of the medical services: outpatient, inpatient and pharmacy sections.

All three are settled with the card through the platforms and share one
section shape; each is a family of its own in :mod:`sim.scenario.families`.
"""

from __future__ import annotations

import attrs

from sim.scenario.primitives import (
    IN_DURATION,
    IN_MONEY,
    Distribution,
    HospitalPointsSpec,
    Profile,
    Rate,
)
from sim.scenario.units_types import share

__all__ = ["MedicalService", "SettlementSpec"]


@attrs.frozen
class SettlementSpec:
    """How the home platform handles this service's settlement requests."""

    service_time: Distribution | None = attrs.field(default=None, metadata=IN_DURATION)
    """Processing time at the home platform; default: the node's own service time."""


@attrs.frozen
class MedicalService:
    """A medical service settled with the card: outpatient, inpatient or pharmacy."""

    rate: Rate
    amount: Distribution = attrs.field(metadata=IN_MONEY)
    points: HospitalPointsSpec
    profile: Profile = "office_hours"
    cross_province_share: float = attrs.field(default=0.0, validator=share)
    resident_share: float = attrs.field(default=0.5, validator=share)
    filed_in_advance: float = attrs.field(default=1.0, validator=share)
    ineligible_share: float = attrs.field(default=0.0, validator=share)
    networked_share: float = attrs.field(default=1.0, validator=share)
    """Share of points connected to cross-province direct settlement (in every level)."""
    settlement: SettlementSpec = SettlementSpec()
    sites: tuple[str, ...] | None = None
    """Province ids where the service has demand; default: every simulated province."""

"""Schema of the fraud detection rules: which run, where, and what each costs.

Mirrors the top-level ``detection`` section; the rules themselves run at the
platforms (:mod:`sim.network.detection`). A rule left out does not run.
"""

from __future__ import annotations

import attrs

from sim.scenario.units_types import DurationS, at_least, greater_than

__all__ = ["DetectionSpec", "RuleSpec", "WindowRuleSpec"]


@attrs.frozen
class RuleSpec:
    """One rule: the time it adds to the platform's work on every request it checks."""

    cost: DurationS = attrs.field(default=DurationS(0.001), validator=at_least(0))


@attrs.frozen
class WindowRuleSpec:
    """A rule that compares a request with those of the last ``within``."""

    within: DurationS = attrs.field(validator=greater_than(0))
    cost: DurationS = attrs.field(default=DurationS(0.001), validator=at_least(0))


@attrs.frozen
class DetectionSpec:
    """The detection rules, each at the platform where it would run in reality.

    The home platform checks each settlement's application counter
    (``counter_sequence``), the holder's last place of use (``impossible_travel``)
    and recent bills (``duplicate_bill``); the card platform checks that an e-card
    QR code is used once (``qr_single_use``). A request a rule flags is refused
    (declined, ``fraud_suspected``) unless ``refuse`` is false (then only marked).
    """

    counter_sequence: RuleSpec | None = None
    impossible_travel: WindowRuleSpec | None = None
    qr_single_use: WindowRuleSpec | None = None
    """``within``: the QR code's validity, how long a code is remembered."""
    duplicate_bill: WindowRuleSpec | None = None
    refuse: bool = True
    """Whether a flagged request is refused, or settled and only marked for review."""

    @property
    def any(self) -> bool:
        """Whether any rule runs."""
        rules = (self.counter_sequence, self.impossible_travel, self.qr_single_use,
                 self.duplicate_bill)  # fmt: skip
        return any(rule is not None for rule in rules)

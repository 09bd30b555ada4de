"""The service families: one registry that every layer reads.

A family is what a scenario enables under ``services.<key>``: its section's
schema (``spec``), the module that builds it for a run (``runtime``, imported
by name when a model is built, so a scenario can be validated without the
engine), and the labels its transactions carry in the ``service`` column, each
with how it moves money and what its ``settle_latency_s`` measures. The schema
(:class:`sim.scenario.schema.ServicesSpec`), the build, the resource guard, the
ledger's posting rules, the summaries, the console and the fault targets all
read this table; adding a family is a section class, a runtime module and one
entry in :data:`FAMILIES` (see ``docs/families.md``).

A runtime module provides ``build(ctx, key, spec) -> ServiceRuntime`` and
``expected_load(scenario, spec, holders, table) -> ServiceLoad``, and may
provide ``headline(figures) -> list[str]``, its lines on the console.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import attrs

from sim.scenario.card_desk import CardDeskService
from sim.scenario.card_services import LibraryService, PensionPayoutService, TransitService
from sim.scenario.medical_services import MedicalService

__all__ = [
    "FAMILIES",
    "SERVICES",
    "SERVICE_CODES",
    "Family",
    "Label",
    "Money",
    "codes_moving",
    "codes_unchecked",
    "family",
    "label",
    "medical_labels",
]

Money = Literal["bill", "credit", "fare", "withdrawal"]
"""How an ended transaction of a label moves money (:mod:`sim.money.postings` has the rules):
``bill`` a medical bill (personal share, fund share, or self-pay); ``credit`` a pension
or benefit credit (fund → bank → card); ``fare`` a transit fare (card → operator);
``withdrawal`` cash out of the card account."""


@attrs.frozen
class Label:
    """One value of the ``service`` column: what a family's transaction is."""

    name: str
    money: Money | None = None
    """How its transactions move money; ``None``: they move none."""
    settles: str = "request → answer"
    """What its ``settle_latency_s`` measures, as the console says it."""
    medical: bool = False
    """Settled through the medical insurance platforms (fund shares, fault-window figures)."""
    card_checked: bool = True
    """Whether platforms refuse its transactions for a frozen, replaced or expired card
    (with card states); a desk replacing a lost card is not."""


@attrs.frozen
class Family:
    """A service family: its scenario section, its runtime module and its labels."""

    key: str
    """Its key under ``services`` in a scenario file."""
    spec: type
    """The attrs class of its section."""
    runtime: str
    """Dotted name of the module that builds it (``build``, ``expected_load``)."""
    labels: tuple[Label, ...]
    outage_nodes: str | None = None
    """Prefix of nodes of its own that ``faults.outages`` may name, one per simulated
    province (``bank`` → ``bank:GD``)."""
    readers: bool = False
    """Whether ``faults.readers`` may take its card readers offline."""
    batch_arrivals: bool = False
    """Whether its own nodes are fed in batches (no Erlang C comparison for them)."""


def _medical(key: str) -> Family:
    return Family(key, MedicalService, "sim.services.medical",
                  (Label(key, money="bill", medical=True),))  # fmt: skip


FAMILIES: tuple[Family, ...] = (
    _medical("medical_outpatient"),
    _medical("medical_inpatient"),
    _medical("pharmacy"),
    Family("library", LibraryService, "sim.services.library",
           (Label("library", settles="request → verified by home"),)),
    Family("transit", TransitService, "sim.services.transit",
           (Label("transit", money="fare", settles="tap → fare debited"),), readers=True),
    Family("pension_payout", PensionPayoutService, "sim.services.pension", (
        Label("pension_credit", money="credit", settles="file sent → credit landed"),
        Label("benefit_credit", money="credit", settles="file sent → credit landed"),
        Label("bank_withdrawal", money="withdrawal", settles="(none: served at the bank)"),
    ), outage_nodes="bank", batch_arrivals=True),
    Family("card_desk", CardDeskService, "sim.services.card_desk",
           (Label("card_replacement", settles="request → checked by home", card_checked=False),)),
)  # fmt: skip
"""Every family, in the order of their codes: a new family goes at the end, so the
codes of the others (and the files written before it) keep their meaning."""

LABELS: tuple[Label, ...] = tuple(lab for fam in FAMILIES for lab in fam.labels)

SERVICES: tuple[str, ...] = tuple(lab.name for lab in LABELS)
"""Every service label a transaction can carry, in code order (``service`` column)."""

SERVICE_CODES: Mapping[str, int] = {name: code for code, name in enumerate(SERVICES)}
"""Fixed code of every service label, used in columns and policy tables."""

_BY_KEY = {fam.key: fam for fam in FAMILIES}
_BY_LABEL = {lab.name: lab for lab in LABELS}


def family(key: str) -> Family:
    """The family enabled by ``services.<key>``."""
    return _BY_KEY[key]


def label(name: str) -> Label:
    """The label of a ``service`` column value."""
    return _BY_LABEL[name]


def medical_labels() -> tuple[str, ...]:
    """Labels settled through the medical insurance platforms."""
    return tuple(lab.name for lab in LABELS if lab.medical)


def codes_moving(money: Money) -> tuple[int, ...]:
    """Service codes whose transactions move money this way."""
    return tuple(SERVICE_CODES[lab.name] for lab in LABELS if lab.money == money)


def codes_unchecked() -> tuple[int, ...]:
    """Service codes the platforms never refuse for the card's state."""
    return tuple(SERVICE_CODES[lab.name] for lab in LABELS if not lab.card_checked)

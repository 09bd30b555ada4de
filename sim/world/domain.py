"""The simulator's vocabulary: type aliases and the small closed sets of codes.

Every module speaks in these names, so a holder is always a holder and simulated
time is always seconds. Codes are small integers because they live in numpy
columns; their labels are what users see in Parquet files and summaries.
"""

from __future__ import annotations

from enum import IntEnum

SimTime = float
"""Simulated time in seconds since the scenario's ``start``."""

Fen = int
"""Money in fen (1 yuan = 100 fen). Money is never a float."""

HolderId = int
"""Index of a card holder in the population's columns."""

ProvinceIdx = int
"""Position of a province in the province table (0..30)."""


class CardKind(IntEnum):
    """How the holder presents the card at a service point."""

    CHIP = 0
    """Physical chip card: checked at the terminal (PIN, secure module), no network hop."""
    ECARD = 1
    """Electronic card QR code: verified online with the national card platform first."""


class Scheme(IntEnum):
    """Basic medical insurance scheme the holder is enrolled in."""

    EMPLOYEE = 0
    """Urban employee basic medical insurance (城镇职工)."""
    RESIDENT = 1
    """Urban-rural resident basic medical insurance (城乡居民)."""


class Level(IntEnum):
    """Hospital level (医院等级); ``NONE`` for service points that are not hospitals."""

    NONE = 0
    PRIMARY = 1
    SECONDARY = 2
    TERTIARY = 3


class Outcome(IntEnum):
    """Terminal state of a transaction: every transaction ends in exactly one."""

    SETTLED = 0
    """Settled directly: the patient paid only the personal share."""
    FALLBACK = 1
    """Not settled directly: the patient pays in full and claims later by hand."""
    DECLINED = 2
    """Refused: by the home platform (insurance not active), or unserved by a full point."""


class Reason(IntEnum):
    """Why a transaction ended as it did (``NONE`` for a plain settlement)."""

    NONE = 0
    NOT_FILED = 1
    """Cross-province treatment not filed with the home province in advance."""
    TIMEOUT = 2
    """The settlement request ran out of retries."""
    VERIFY_TIMEOUT = 3
    """The e-card QR verification ran out of retries."""
    INELIGIBLE = 4
    """The home platform found the holder not eligible."""
    NOT_NETWORKED = 5
    """The hospital is not connected to cross-province direct settlement."""
    NOT_INTERCONNECTED = 6
    """A library cannot verify a holder insured in a province it is not interconnected with."""
    CREDIT_PENDING = 7
    """A withdrawal on payday before the holder's credit has landed: nothing to withdraw yet."""

    BLOCKED = 8
    """Turned away unserved: the point's queue was at its ``queue_limit``."""
    CARD_FROZEN = 9
    """Refused online: the card was reported lost and is frozen."""
    CARD_REPLACED = 10
    """Refused online: the card was replaced by a new one and is dead."""
    CARD_EXPIRED = 11
    """Refused online: the card has expired and is not yet renewed."""
    FRAUD_SUSPECTED = 12
    """Refused online: a detection rule flagged the request (``flagged_by`` says which)."""
    HOT_LISTED = 13
    """Refused at a transit gate: the card is on the reader's hot list, or expired."""


class FraudKind(IntEnum):
    """The true kind of fraud a transaction is (``fraud`` column), ``NONE`` for a genuine one."""

    NONE = 0
    STOLEN = 1
    """A thief using a lost card, before or after the holder's report."""
    CLONED = 2
    """A clone of the holder's chip, used in another province."""
    REPLAYED_QR = 3
    """An e-card QR code captured and used again within its validity."""
    LENT = 4
    """Another person's treatment on the holder's card."""
    DUPLICATE_BILL = 5
    """A point sending a bill again under a new key."""


class FlagRule(IntEnum):
    """The detection rule that flagged a transaction (``flagged_by``), ``NONE`` if none did."""

    NONE = 0
    COUNTER_SEQUENCE = 1
    """The chip's application counter did not increase (a clone used the same values)."""
    IMPOSSIBLE_TRAVEL = 2
    """Used in another province too soon after the last use."""
    QR_SINGLE_USE = 3
    """An e-card QR code seen before (a replay)."""
    DUPLICATE_BILL = 4
    """The same bill (holder, point, amount) seen before under another key."""


class CardState(IntEnum):
    """The state of the card a holder presents, as the platforms know it (``card_state``)."""

    ACTIVE = 0
    FROZEN = 1
    """Reported lost (挂失): refused online at once, offline once the hot list has it."""
    REPLACED = 2
    """A new card was issued: this one is dead."""
    EXPIRED = 3
    """Past its validity, not yet renewed."""


# The service labels (the ``service`` column) and their codes come from the family
# registry, :data:`sim.scenario.families.SERVICES`.


class Channel(IntEnum):
    """The kind of service point a transaction used."""

    COUNTER = 0
    """A staffed counter or desk (hospital cashier, library desk, bank counter)."""
    SELF_SERVICE = 1
    """A self-service terminal (library kiosk)."""
    GATE = 2
    """A transit gate or bus reader."""
    ATM = 3
    """An automated teller machine."""
    BANK = 4
    """No point: a credit processed by a bank node."""


def labels(codes: type[IntEnum]) -> list[str]:
    """Lower-case labels of an enum, in code order, for dictionary-encoded columns."""
    return [member.name.lower() for member in sorted(codes, key=int)]

"""What each ended transaction moves, and why: posting kinds, accounts and the rules.

The ledger (:mod:`sim.money.ledger`) writes and checks postings; this module says what
they are. Transactions' postings are derived in numpy, a batch at a time, from the
columns ``transactions.parquet`` is written from (:func:`transaction_postings`), and
:func:`expected_movements` states plainly what each transaction must move, so the
ledger can check one against the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from sim.scenario.families import codes_moving
from sim.world.domain import Outcome, Reason
from sim.world.fraud import WALKS_AWAY, losses

__all__ = [
    "Account",
    "AccountKind",
    "Bearer",
    "PostingKind",
    "expected_movements",
    "transaction_postings",
]

Ints = npt.NDArray[np.int64]

# Which services move money how comes from the family registry (each label's ``money``).
MEDICAL = codes_moving("bill")
CREDITS = codes_moving("credit")
FARES = codes_moving("fare")
WITHDRAWALS = codes_moving("withdrawal")


class AccountKind(IntEnum):
    """Kinds of account in the ledger."""

    HOLDERS = 0
    """Card holders of a province, paying out of pocket."""
    HOSPITAL = 1
    """One designated medical institution (service, province, point)."""
    FUND = 2
    """A province's medical insurance fund (as the holders' home)."""
    ADVANCE = 3
    """A treatment province's advance fund for cross-province bills."""
    NATIONAL = 4
    """The national platform's clearing account (always back to zero after clearing)."""
    PENSION_FUND = 5
    """A province's pension and benefit funds."""
    BANK = 6
    """The banks behind a province's cards' financial accounts."""
    CARD = 7
    """The financial accounts of a province's cards (holders' money in the bank)."""
    TRANSIT = 8
    """The transit operators of a province."""
    CASH = 9
    """Cash in holders' hands (withdrawn from card accounts)."""
    LOSSES = 10
    """Money lost to fraud, by province and bearer (``point``: a :class:`Bearer` code)."""


class Bearer(IntEnum):
    """Who bears a fraud loss (the ``point`` of a ``LOSSES`` account)."""

    FUND = 0
    TRANSIT_OPERATOR = 1
    BANK = 2
    HOLDER = 3


class PostingKind(IntEnum):
    """Why money moved."""

    PERSONAL_SHARE = 0
    FUND_SHARE = 1
    SELF_PAY = 2
    INITIAL_ADVANCE = 3
    TOP_UP = 4
    CLEARING_INTERNAL = 5
    CLEARING_NET = 6
    PAYOUT_TRANSFER = 7
    """Pension fund → bank, for each credit (made when the batch is sent)."""
    CREDIT = 8
    """Bank → card account, when the credit lands."""
    FARE = 9
    """Card account → transit operator, when the tap is debited."""
    WITHDRAWAL = 10
    """Card account → cash, at a bank counter or ATM."""
    REVERSAL = 11
    """Hospital → the fund that paid a fund share, when its settlement is undone (冲正):
    by a reversal, or at reconciliation of a late success. The settlement's own fund
    share posting stays, at the time it was made."""
    LOSS = 12
    """The bearer → its ``LOSSES`` account: what a card that should not have worked took
    from it (:func:`sim.world.fraud.losses`): an accepted fraud's shares or fare, a fare
    refused at upload. A memo pair: the shares moved with the settlement, and the
    refused fare is the ride the operator gave."""


BEARERS = {
    AccountKind.FUND: Bearer.FUND,
    AccountKind.HOLDERS: Bearer.HOLDER,
    AccountKind.CARD: Bearer.HOLDER,
    AccountKind.TRANSIT: Bearer.TRANSIT_OPERATOR,
}
"""Who bears a loss posted from each kind of account."""

NATIONAL_PROVINCE = -1
Account = tuple[int, int, int, int]
"""(account kind, province index or -1, service code or -1, point or -1)."""


def transaction_postings(columns: Mapping[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
    """Postings of ended transactions, as aligned arrays (one entry per posting).

    Medical, settled: the patient pays the personal share and the fund share is
    paid to the hospital, by the home fund for a local patient and by the treatment
    province's advance fund for a cross-province one (cleared later). Medical, not
    settled: the patient pays the whole bill; nothing moves on the fund side.
    A credit: the pension fund pays the bank when the batch is sent, the bank pays
    the card account when the credit lands. A debited fare: card account → the
    operator where the tap was. A withdrawal: card account → cash. A library loan
    moves no money.
    """
    service, outcome = columns["service"], columns["outcome"]
    settled = outcome == Outcome.SETTLED
    fund_lost, holder_lost, card_lost, operator_lost = losses(columns)
    medical = np.isin(service, MEDICAL)
    served = _billed(columns)
    paid = settled & medical
    cross = columns["site"] != columns["home"]
    credit = settled & np.isin(service, CREDITS)
    rules = [
        # mask, kind, amount column, time column, (from kind, province column), (to kind, …)
        (paid & (columns["personal_fen"] > 0), PostingKind.PERSONAL_SHARE, "personal_fen",
         "end_s", (AccountKind.HOLDERS, "home"), (AccountKind.HOSPITAL, "site")),
        (paid & (columns["fund_fen"] > 0) & ~cross, PostingKind.FUND_SHARE, "fund_fen",
         "end_s", (AccountKind.FUND, "home"), (AccountKind.HOSPITAL, "site")),
        (paid & (columns["fund_fen"] > 0) & cross, PostingKind.FUND_SHARE, "fund_fen",
         "end_s", (AccountKind.ADVANCE, "site"), (AccountKind.HOSPITAL, "site")),
        (medical & ~settled & served & (columns["amount_fen"] > 0), PostingKind.SELF_PAY,
         "amount_fen",
         "end_s", (AccountKind.HOLDERS, "home"), (AccountKind.HOSPITAL, "site")),
        (credit & (columns["amount_fen"] > 0), PostingKind.PAYOUT_TRANSFER, "amount_fen",
         "arrival_s", (AccountKind.PENSION_FUND, "home"), (AccountKind.BANK, "home")),
        (credit & (columns["amount_fen"] > 0), PostingKind.CREDIT, "amount_fen",
         "end_s", (AccountKind.BANK, "home"), (AccountKind.CARD, "home")),
        (settled & np.isin(service, FARES) & (columns["amount_fen"] > 0), PostingKind.FARE,
         "amount_fen", "end_s", (AccountKind.CARD, "home"), (AccountKind.TRANSIT, "site")),
        (settled & np.isin(service, WITHDRAWALS) & (columns["amount_fen"] > 0),
         PostingKind.WITHDRAWAL, "amount_fen", "end_s", (AccountKind.CARD, "home"),
         (AccountKind.CASH, "home")),
        (fund_lost > 0, PostingKind.LOSS, "fund_fen", "end_s",
         (AccountKind.FUND, "home"), (AccountKind.LOSSES, "home")),
        (holder_lost > 0, PostingKind.LOSS, "personal_fen", "end_s",
         (AccountKind.HOLDERS, "home"), (AccountKind.LOSSES, "home")),
        (card_lost > 0, PostingKind.LOSS, "amount_fen", "end_s",
         (AccountKind.CARD, "home"), (AccountKind.LOSSES, "home")),
        (operator_lost > 0, PostingKind.LOSS, "amount_fen", "end_s",
         (AccountKind.TRANSIT, "site"), (AccountKind.LOSSES, "site")),
    ]  # fmt: skip
    parts = []
    for mask, kind, amount, time, (from_kind, from_prov), (to_kind, to_prov) in rules:
        rows = np.flatnonzero(mask)
        hospital = to_kind == AccountKind.HOSPITAL
        point = (columns["point"][rows].astype(np.int64) if hospital
                 else np.full(rows.size, -1, dtype=np.int64))  # fmt: skip
        if to_kind == AccountKind.LOSSES:
            point = np.full(rows.size, int(BEARERS[from_kind]), dtype=np.int64)
        parts.append({
            "row": rows,
            "txn_id": columns["txn_id"][rows],
            "time_s": columns[time][rows],
            "kind": np.full(rows.size, kind, dtype=np.int8),
            "amount_fen": columns[amount][rows].astype(np.int64),
            "from_kind": np.full(rows.size, from_kind, dtype=np.int8),
            "from_province": columns[from_prov][rows].astype(np.int64),
            "from_service": np.full(rows.size, -1, dtype=np.int64),
            "from_point": np.full(rows.size, -1, dtype=np.int64),
            "to_kind": np.full(rows.size, to_kind, dtype=np.int8),
            "to_province": columns[to_prov][rows].astype(np.int64),
            "to_service": (columns["service"][rows].astype(np.int64) if hospital
                           else np.full(rows.size, -1, dtype=np.int64)),
            "to_point": point,
        })  # fmt: skip
    merged = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.lexsort((merged["kind"], merged["row"]))  # by transaction, then rule
    return {key: value[order] for key, value in merged.items()}


def expected_movements(columns: Mapping[str, npt.NDArray[Any]]) -> tuple[Ints, Ints]:
    """What each transaction must move, stated plainly: (fund-side, everything else).

    Fund side: a settled medical bill's fund share. Everything else: the rest of a
    medical bill (personal share, or the whole bill if not settled); a landed credit
    twice (fund → bank → card); a debited fare or a withdrawal once; an accepted
    fraud's or a refused fare's losses once more (:func:`sim.world.fraud.losses`);
    nothing else.
    """
    service, settled = columns["service"], columns["outcome"] == Outcome.SETTLED
    medical = np.isin(service, MEDICAL) & _billed(columns)
    amount = columns["amount_fen"].astype(np.int64)
    fund = np.where(medical & settled, columns["fund_fen"], 0).astype(np.int64)
    other = np.where(medical, amount - fund, 0)
    other += sum(losses(columns))  # written off as losses, by bearer
    other += np.where(settled & np.isin(service, CREDITS), 2 * amount, 0)
    other += np.where(settled & np.isin(service, FARES + WITHDRAWALS), amount, 0)
    return fund, other


def _billed(columns: Mapping[str, npt.NDArray[Any]]) -> npt.NDArray[np.bool_]:
    """Rows whose bill someone pays: all but those turned away and refused frauds.

    A patient turned away at a full queue has no bill; the author of a refused fraud
    walks away (a settled fraud's shares are paid).
    """
    billed: npt.NDArray[np.bool_] = columns["reason"] != Reason.BLOCKED
    fraud = columns.get("fraud")
    if fraud is not None:
        billed &= ~np.isin(fraud, WALKS_AWAY) | (columns["outcome"] == Outcome.SETTLED)
    return billed

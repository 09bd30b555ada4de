"""Double-entry bookkeeping in fen: every money movement is a posting with two legs.

A posting moves ``amount_fen`` from one account to another; it is written as two
legs (``-amount`` on the source, ``+amount`` on the destination), so the legs of
the whole ledger sum to zero by construction and any bug that breaks a pair shows
up in the checks. Accounts are aggregated where individuals do not matter
(holders and funds per province) and kept apart where they do (each hospital).
Transactions' postings are derived in numpy, a batch at a time, from the same
columns ``transactions.parquet`` is written from (the rules and the kinds of
posting and account are in :mod:`sim.money.postings`); clearing and advance-fund
postings, and undone settlements, are made one by one as they happen. Legs
stream to ``ledger.parquet``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from sim.money.postings import (
    MEDICAL,
    Account,
    AccountKind,
    PostingKind,
    expected_movements,
    transaction_postings,
)
from sim.outputs.parquet_io import ParquetSink
from sim.outputs.record import ledger_view
from sim.scenario.families import SERVICES
from sim.world.domain import Outcome, labels
from sim.world.transaction import Transaction

__all__ = [
    "Account",
    "AccountKind",
    "Ledger",
    "MoneyError",
    "PostingKind",
    "expected_movements",
    "transaction_postings",
]

Ints = npt.NDArray[np.int64]


class MoneyError(RuntimeError):
    """A conservation check failed: the run's money does not add up."""


def _key(kind: Ints, province: Ints, service: Ints, point: Ints) -> Ints:
    """One integer per account (kind, province, service, point), for grouping."""
    return (((kind * 64 + province + 1) * 32 + service + 1) << 32) + point + 1


def _unkey(key: int) -> Account:
    point = (key & 0xFFFFFFFF) - 1
    rest = key >> 32
    service = rest % 32 - 1
    rest //= 32
    return (rest // 64, rest % 64 - 1, service, point)


class Ledger:
    """All postings of one run, their running balances, and the conservation checks."""

    def __init__(self, province_ids: Sequence[str]) -> None:
        self.path: Path | None = None
        self.province_ids = list(province_ids)
        self._sink: ParquetSink | None = None
        self._single: list[tuple[float, int, int, int, Account, Account]] = []
        self.next_posting = 0
        self.balances: dict[int, int] = {}
        self.totals: dict[int, int] = dict.fromkeys(map(int, PostingKind), 0)
        self.count: dict[int, int] = dict.fromkeys(map(int, PostingKind), 0)
        self.hospital_from_transactions: dict[int, int] = {}
        """Fund shares of settled transactions, per hospital (from the transactions' side)."""
        self.hospital_from_ledger: dict[int, int] = {}
        """Fund-share legs received less reversals paid back, per hospital (the ledger's side)."""
        self.failures: list[str] = []
        vocab = [*self.province_ids, "national"]
        self._dicts = {
            "kind": pa.array(labels(PostingKind), pa.string()),
            "account": pa.array(labels(AccountKind), pa.string()),
            "province": pa.array(vocab, pa.string()),
            "service": pa.array([*SERVICES, ""], pa.string()),
        }

    def open(self, path: Path) -> None:
        """Write the postings to ``ledger.parquet`` at ``path`` from now on (and any kept)."""
        schema = ledger_schema()
        self.path = path
        self._sink = ParquetSink(path, schema)

    # --- posting ------------------------------------------------------------------

    def post(self, time_s: float, kind: PostingKind, source: Account, destination: Account,
             amount_fen: int, txn_id: int = -1) -> None:  # fmt: skip
        """Record one posting (written with the next batch, in posting order)."""
        if amount_fen < 0:
            raise ValueError(f"posting amounts are never negative, got {amount_fen}")
        if amount_fen:
            self._single.append((time_s, int(kind), txn_id, amount_fen, source, destination))

    def post_reversal(self, txn: Transaction, fund_fen: int, now: float) -> None:
        """A settlement was undone: post its fund share (when it was settled) and the reversal.

        The transaction ends unsettled, so its own postings (from its row) are the
        patient's self-pay; these two net to zero on each account, and the hospitals'
        receivables (fund shares less reversals) stay those of kept settlements.
        """
        payer = (AccountKind.ADVANCE, txn.site, -1, -1) if txn.cross else (
            AccountKind.FUND, txn.home, -1, -1)  # fmt: skip
        hospital = (AccountKind.HOSPITAL, txn.site, txn.service, txn.point)
        self.post(txn.settled_at_s, PostingKind.FUND_SHARE, payer, hospital, fund_fen, txn.id)
        self.post(now, PostingKind.REVERSAL, hospital, payer, fund_fen, txn.id)

    def post_rows(self, first_id: int, fields: Mapping[str, npt.NDArray[Any]]) -> None:
        """Post a row group released by the recorder (the ledger subscribes to it)."""
        self.post_transactions(ledger_view(first_id, fields))

    def post_transactions(self, columns: Mapping[str, npt.NDArray[Any]]) -> None:
        """Post and check the ended transactions of one batch (and any single postings)."""
        postings = transaction_postings(columns)
        self._check_transactions(columns, postings)
        self._write(postings)

    def flush(self) -> None:
        """Write single postings made since the last batch."""
        self._write(transaction_postings(_EMPTY))

    def balance(self, account: Account) -> int:
        """Current balance of one account (money in minus money out)."""
        return self.balances.get(int(_key(*(np.array([a]) for a in account))[0]), 0)

    def balances_by_kind(self) -> dict[str, int]:
        """Total balance per account kind (all provinces, all hospitals)."""
        out = dict.fromkeys(labels(AccountKind), 0)
        for key, value in self.balances.items():
            out[labels(AccountKind)[_unkey(key)[0]]] += value
        return out

    def _write(self, postings: dict[str, npt.NDArray[Any]]) -> None:
        if self._single:
            postings = _concat(_singles(self._single), postings)
            self._single = []
        n = postings["amount_fen"].size
        if n == 0:
            return
        ids = self.next_posting + np.arange(n, dtype=np.int64)
        self.next_posting += n
        legs = _legs(ids, postings)
        kinds = postings["kind"].astype(np.int64)
        totals = np.zeros(len(PostingKind), dtype=np.int64)  # bincount's weights are floats
        np.add.at(totals, kinds, postings["amount_fen"].astype(np.int64))
        counts = np.bincount(kinds, minlength=len(PostingKind))
        for kind in PostingKind:
            self.totals[kind] += int(totals[kind])
            self.count[kind] += int(counts[kind])
        keys = _key(legs["account"], legs["province"], legs["service"], legs["point"])
        _accumulate(self.balances, keys, legs["amount_fen"])
        receivable = np.isin(legs["kind"], (PostingKind.FUND_SHARE, PostingKind.REVERSAL)) & (
            legs["account"] == AccountKind.HOSPITAL
        )
        _accumulate(self.hospital_from_ledger, keys[receivable], legs["amount_fen"][receivable])
        if int(legs["amount_fen"].sum()) != 0:
            self.failures.append(f"legs of postings {ids[0]}–{ids[-1]} do not sum to zero")
        if self._sink is not None:
            self._sink.write(lambda: self._table(legs))  # legs: this batch's own arrays

    def _table(self, legs: dict[str, npt.NDArray[Any]]) -> pa.Table:
        def cat(codes: npt.NDArray[Any], name: str) -> pa.DictionaryArray:
            dictionary = self._dicts[name]
            codes = np.where(codes < 0, len(dictionary) - 1, codes) if name in (
                "province", "service") else codes  # fmt: skip
            return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int8)), dictionary)

        return pa.Table.from_arrays(
            [
                pa.array(legs["posting_id"]),
                pa.array(legs["time_s"]),
                pa.array(legs["txn_id"]),
                cat(legs["kind"], "kind"),
                cat(legs["account"], "account"),
                cat(legs["province"], "province"),
                cat(legs["service"], "service"),
                pa.array(legs["point"].astype(np.int32)),
                pa.array(legs["amount_fen"]),
            ],
            schema=ledger_schema(),
        )

    # --- checks ---------------------------------------------------------------------

    def _check_transactions(self, columns: Mapping[str, npt.NDArray[Any]],
                            postings: dict[str, npt.NDArray[Any]]) -> None:  # fmt: skip
        """Each transaction has exactly its postings; hospitals' receivables add up."""
        n = columns["txn_id"].size
        row = postings["row"]
        is_fund = postings["kind"] == PostingKind.FUND_SHARE
        fund = np.bincount(row[is_fund], postings["amount_fen"][is_fund], minlength=n)
        paid = np.bincount(row[~is_fund], postings["amount_fen"][~is_fund], minlength=n)
        want_fund, want_paid = expected_movements(columns)
        settled = np.isin(columns["service"], MEDICAL) & (columns["outcome"] == Outcome.SETTLED)
        bad = np.flatnonzero((fund != want_fund) | (paid != want_paid))
        if bad.size:
            ids = ", ".join(map(str, columns["txn_id"][bad[:10]].tolist()))
            self.failures.append(
                f"{bad.size} transaction(s) without exactly their postings "
                f"(txn_id {ids}{', …' if bad.size > 10 else ''})"
            )
        # Receivables from the transactions' side, to compare with the ledger's at the end.
        mine = np.flatnonzero(settled & (columns["fund_fen"] > 0))
        keys = _key(np.full(mine.size, AccountKind.HOSPITAL, dtype=np.int64),
                    columns["site"][mine].astype(np.int64),
                    columns["service"][mine].astype(np.int64),
                    columns["point"][mine].astype(np.int64))  # fmt: skip
        _accumulate(self.hospital_from_transactions, keys, columns["fund_fen"][mine])

    def hospital_receivables(self) -> dict[Account, int]:
        """Fund shares received by each hospital, from the ledger's fund-share legs."""
        return {_unkey(k): v for k, v in self.hospital_from_ledger.items()}

    def abort(self) -> None:
        """Close the file without checks (the run failed; the folder will be discarded)."""
        if self._sink is not None:
            self._sink.close()

    def close(self) -> dict[str, bool]:
        """Write what is left, close the file, and run the end-of-run checks."""
        self.flush()
        if self._sink is not None:
            self._sink.close()
        checks = {
            "postings_sum_to_zero": sum(self.balances.values()) == 0 and not any(
                "sum to zero" in f for f in self.failures),
            "transactions_have_exactly_their_postings": not any(
                "exactly their postings" in f for f in self.failures),
            "national_account_cleared": self.balance((AccountKind.NATIONAL, -1, -1, -1)) == 0,
            "hospital_receivables_equal_fund_shares":
                _nonzero(self.hospital_from_ledger) == _nonzero(self.hospital_from_transactions),
        }  # fmt: skip
        if not checks["hospital_receivables_equal_fund_shares"]:
            self.failures.append(
                "hospitals' receivables differ from their transactions' fund shares"
            )
        if not checks["postings_sum_to_zero"]:
            self.failures.append(f"ledger balances sum to {sum(self.balances.values())} fen")
        if not checks["national_account_cleared"]:
            self.failures.append("the national clearing account is not back to zero")
        return checks


_EMPTY: dict[str, npt.NDArray[Any]] = {
    "txn_id": np.zeros(0, np.int64), "service": np.zeros(0, np.int64),
    "outcome": np.zeros(0, np.int64), "site": np.zeros(0, np.int64),
    "home": np.zeros(0, np.int64), "personal_fen": np.zeros(0, np.int64),
    "fund_fen": np.zeros(0, np.int64), "amount_fen": np.zeros(0, np.int64),
    "end_s": np.zeros(0), "arrival_s": np.zeros(0), "point": np.zeros(0, np.int64),
    "reason": np.zeros(0, np.int64),
}  # fmt: skip


def _accumulate(into: dict[int, int], keys: Ints, amounts: npt.NDArray[Any]) -> None:
    """Add amounts into a dict of totals by key (exact Python integers)."""
    if keys.size == 0:
        return
    unique, inverse = np.unique(keys, return_inverse=True)
    sums = np.zeros(unique.size, dtype=np.int64)
    np.add.at(sums, inverse, amounts)
    for key, value in zip(unique.tolist(), sums.tolist(), strict=True):
        into[key] = into.get(key, 0) + value


def _nonzero(totals: dict[int, int]) -> dict[int, int]:
    return {k: v for k, v in totals.items() if v}


def _singles(items: list[tuple[float, int, int, int, Account, Account]]) -> dict[str, Any]:
    return {
        "row": np.full(len(items), -1, dtype=np.int64),
        "time_s": np.array([i[0] for i in items], dtype=np.float64),
        "kind": np.array([i[1] for i in items], dtype=np.int8),
        "txn_id": np.array([i[2] for i in items], dtype=np.int64),
        "amount_fen": np.array([i[3] for i in items], dtype=np.int64),
        **{f"from_{f}": np.array([i[4][k] for i in items], dtype=np.int64)
           for k, f in enumerate(("kind", "province", "service", "point"))},
        **{f"to_{f}": np.array([i[5][k] for i in items], dtype=np.int64)
           for k, f in enumerate(("kind", "province", "service", "point"))},
    }  # fmt: skip


def _concat(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {key: np.concatenate([a[key], b[key]]) for key in a}


def _legs(ids: Ints, p: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
    """Two legs per posting: the source loses the amount, the destination gains it."""

    def both(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[Any]:
        out = np.empty(2 * a.size, dtype=np.result_type(a, b))
        out[0::2], out[1::2] = a, b
        return out

    return {
        "posting_id": both(ids, ids),
        "time_s": both(p["time_s"], p["time_s"]),
        "txn_id": both(p["txn_id"], p["txn_id"]),
        "kind": both(p["kind"], p["kind"]).astype(np.int64),
        "account": both(p["from_kind"], p["to_kind"]).astype(np.int64),
        "province": both(p["from_province"], p["to_province"]).astype(np.int64),
        "service": both(p["from_service"], p["to_service"]).astype(np.int64),
        "point": both(p["from_point"], p["to_point"]).astype(np.int64),
        "amount_fen": both(-p["amount_fen"], p["amount_fen"]).astype(np.int64),
    }


def ledger_schema() -> pa.Schema:
    """The columns of ``ledger.parquet``: one row per leg, two legs per posting."""
    category = pa.dictionary(pa.int8(), pa.string())
    return pa.schema([
        ("posting_id", pa.int64()), ("time_s", pa.float64()), ("txn_id", pa.int64()),
        ("kind", category), ("account", category), ("province", category),
        ("service", category), ("point", pa.int32()), ("amount_fen", pa.int64()),
    ])  # fmt: skip

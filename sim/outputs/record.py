"""The transaction record: one table of its fields and of the columns written from them.

A transaction's record is filled in two places: what is drawn with its arrival
(:class:`sim.world.demand.ArrivalBatch`) and what is known when it ends (the in-flight
:class:`sim.world.transaction.Transaction`). A block of transactions that never exist
as objects (a bank's credits) gives every field at once. :data:`FIELDS` says,
once, each field's name, its type in memory and where it is filled;
:data:`COLUMNS` says how each column of ``transactions.parquet`` is made from
the fields. The recorder, the Parquet file, the ledger's view and the docs are
generated from these two tables, so a field keeps one name and one meaning
from its draw to the file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = [
    "ARRIVAL_FIELDS",
    "BLOCK_FIELDS",
    "COLUMNS",
    "ENDED_FIELDS",
    "FIELDS",
    "Column",
    "Field",
    "Vocabularies",
    "ledger_view",
    "table",
    "transaction_schema",
    "typed",
]

Arrays = Mapping[str, npt.NDArray[Any]]


@attrs.frozen
class Field:
    """One value a transaction's record carries, before it is written."""

    name: str
    dtype: np.dtype[Any] = attrs.field(converter=np.dtype)
    filled: Literal["arrival", "end"]
    """Drawn with the arrival batch, or set on the transaction by the time it ends."""
    doc: str
    batch: str | None = None
    """The arrival batch's name for it, when it differs (``time_s`` for ``arrival_s``)."""
    optional: bool = False
    """A block may leave it out: then it is ``default`` in every row."""
    default: float = 0


FIELDS: tuple[Field, ...] = (
    Field("service", np.uint8, "arrival", "service code (the family registry's labels)"),
    Field("home", np.int64, "arrival", "index of the holder's home (insuring) province"),
    Field("site", np.int64, "arrival", "index of the province where the card was used"),
    Field("holder", np.int64, "arrival", "index of the holder in the population"),
    Field("card", np.uint8, "arrival", "card kind code (chip, e-card)"),
    Field("scheme", np.uint8, "arrival", "insurance scheme code"),
    Field("channel", np.uint8, "arrival", "channel code (counter, self-service, gate, ATM, bank)"),
    Field("level", np.uint8, "arrival", "hospital level code (none for other points)",
          optional=True),
    Field("point", np.int64, "arrival", "index of the point within its province and service",
          optional=True, default=-1),
    Field("arrival_s", np.float64, "arrival", "arrival time", batch="time_s"),
    Field("amount_fen", np.int64, "arrival", "the bill, fare, credit or withdrawal, in fen"),
    Field("card_state", np.uint8, "arrival", "state of the card presented, at arrival",
          optional=True),
    Field("fraud", np.uint8, "arrival", "the true kind of fraud (none: genuine)", optional=True),
    Field("start_s", np.float64, "end", "time service started at the point or node"),
    Field("end_s", np.float64, "end", "time the transaction reached its terminal state"),
    Field("settle_s", np.float64, "end",
          "duration of the settlement or verification round trip; negative: none"),
    Field("leave_s", np.float64, "end", "time the holder left the point; negative: none"),
    Field("outcome", np.uint8, "end", "outcome code"),
    Field("reason", np.uint8, "end", "reason code"),
    Field("attempts", np.int8, "end", "settlement attempts sent (retries included)"),
    Field("fund_fen", np.int64, "end", "the fund's share of the bill, in fen"),
    Field("personal_fen", np.int64, "end", "the holder's share of the bill, in fen"),
    Field("flagged_by", np.uint8, "end", "the detection rule that flagged it (none: none did)",
          optional=True),
)  # fmt: skip
"""Every field of the record, in the order of a row group's columns."""

ARRIVAL_FIELDS = tuple(f for f in FIELDS if f.filled == "arrival")
ENDED_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.filled == "end")
"""What the recorder keeps of a transaction when it ends, in this order."""
BLOCK_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if not f.optional)
"""What a block of transactions recorded at once must give."""


@attrs.frozen
class Vocabularies:
    """The labels behind each code column, for the dictionary-encoded Parquet columns."""

    service: pa.Array
    province: pa.Array
    card: pa.Array
    scheme: pa.Array
    channel: pa.Array
    level: pa.Array
    outcome: pa.Array
    reason: pa.Array
    card_state: pa.Array
    fraud: pa.Array
    flagged_by: pa.Array


Make = Callable[[Arrays, int, Vocabularies], pa.Array]


@attrs.frozen
class Column:
    """One column of ``transactions.parquet`` and how it is made from the fields."""

    name: str
    arrow: pa.DataType
    make: Make
    doc: str


_CATEGORY = pa.dictionary(pa.int8(), pa.string())


def _code(field: str, vocabulary: str) -> Make:
    def make(f: Arrays, _first: int, v: Vocabularies) -> pa.Array:
        indices = pa.array(np.asarray(f[field], dtype=np.int8))
        return pa.DictionaryArray.from_arrays(indices, getattr(v, vocabulary))

    return make


def _plain(field: str, dtype: type) -> Make:
    return lambda f, _first, _v: pa.array(np.asarray(f[field]).astype(dtype, copy=False))


def _since_arrival(field: str) -> Make:
    return lambda f, _first, _v: pa.array(f[field] - f["arrival_s"])


def _ids(f: Arrays, first: int, _v: Vocabularies) -> pa.Array:
    return pa.array(first + np.arange(f["service"].size, dtype=np.int64))


COLUMNS: tuple[Column, ...] = (
    Column("txn_id", pa.int64(), _ids, "transaction id, in arrival-batch order"),
    Column("service", _CATEGORY, _code("service", "service"), "service label"),
    Column("home_province", _CATEGORY, _code("home", "province"), "holder's home province"),
    Column("site_province", _CATEGORY, _code("site", "province"), "province of the point"),
    Column("cross_province", pa.bool_(), lambda f, _i, _v: pa.array(f["site"] != f["home"]),
           "used outside the home province"),
    Column("holder_id", pa.int64(), _plain("holder", np.int64), "holder index"),
    Column("card_kind", _CATEGORY, _code("card", "card"), "chip or e-card"),
    Column("scheme", _CATEGORY, _code("scheme", "scheme"), "insurance scheme"),
    Column("channel", _CATEGORY, _code("channel", "channel"), "kind of station used"),
    Column("level", _CATEGORY, _code("level", "level"), "hospital level"),
    Column("point", pa.int32(), _plain("point", np.int32), "point index (-1: none)"),
    Column("arrival_s", pa.float64(), _plain("arrival_s", np.float64), "arrival time (s)"),
    Column("start_s", pa.float64(), _plain("start_s", np.float64), "service start (s)"),
    Column("end_s", pa.float64(), _plain("end_s", np.float64), "terminal time (s)"),
    Column("latency_s", pa.float64(), _since_arrival("end_s"), "arrival to end (s)"),
    Column("wait_s", pa.float64(), _since_arrival("start_s"), "queueing before service (s)"),
    Column("point_latency_s", pa.float64(), lambda f, _i, _v: pa.array(np.where(
        f["leave_s"] >= 0, f["leave_s"] - f["arrival_s"], np.nan)),
        "arrival to leaving the point (s); null: none"),
    Column("settle_latency_s", pa.float64(), lambda f, _i, _v: pa.array(np.where(
        f["settle_s"] >= 0, f["settle_s"], np.nan)),
        "the settlement or verification round trip (s); null: none"),
    Column("outcome", _CATEGORY, _code("outcome", "outcome"), "settled, fallback or declined"),
    Column("reason", _CATEGORY, _code("reason", "reason"), "why it ended so"),
    Column("attempts", pa.int8(), _plain("attempts", np.int8), "settlement attempts"),
    Column("amount_fen", pa.int64(), _plain("amount_fen", np.int64), "amount (fen)"),
    Column("fund_fen", pa.int64(), _plain("fund_fen", np.int64), "fund share (fen)"),
    Column("personal_fen", pa.int64(), _plain("personal_fen", np.int64), "personal share (fen)"),
    Column("card_state", _CATEGORY, _code("card_state", "card_state"),
           "the card's state at arrival (active, frozen, replaced, expired)"),
    Column("fraud", _CATEGORY, _code("fraud", "fraud"),
           "the true kind of fraud (stolen, cloned, replayed_qr, lent, duplicate_bill) or none"),
    Column("flagged_by", _CATEGORY, _code("flagged_by", "flagged_by"),
           "the detection rule that flagged it, or none"),
)  # fmt: skip
"""Every column of ``transactions.parquet``, in file order (the contract notebooks rely on)."""


def transaction_schema() -> pa.Schema:
    """The schema of ``transactions.parquet``."""
    return pa.schema([(c.name, c.arrow) for c in COLUMNS])


def typed(fields: Mapping[str, npt.ArrayLike]) -> dict[str, npt.NDArray[Any]]:
    """The fields as arrays of their declared types (money read back as floats becomes int)."""
    return {f.name: np.asarray(fields[f.name]).astype(f.dtype, copy=False) for f in FIELDS}


def table(
    first_id: int, fields: Arrays, vocabularies: Vocabularies, schema: pa.Schema
) -> pa.Table:
    """A row group of ``transactions.parquet`` from typed fields."""
    arrays = [c.make(fields, first_id, vocabularies) for c in COLUMNS]
    return pa.Table.from_arrays(arrays, schema=schema)


def ledger_view(first_id: int, fields: Arrays) -> dict[str, npt.NDArray[Any]]:
    """The fields the ledger posts from: codes and money as 64-bit integers, and the ids."""
    view = {
        f.name: fields[f.name].astype(np.int64) if f.dtype.kind in "iu" else fields[f.name]
        for f in FIELDS
    }
    view["txn_id"] = first_id + np.arange(fields["service"].size, dtype=np.int64)
    return view

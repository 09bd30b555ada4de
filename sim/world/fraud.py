"""Labelled fraud: the fraudulent arrivals of a run, each with its true kind.

The payment simulators that label fraud (PaySim, AMLSim) have no queues, no
offline terminals and no settlement network; here every fraudulent use is a
transaction like any other, served at a point and settled through the
platforms, and its ``fraud`` column says what it truly is (the ground truth a
detection rule is scored against). The kinds (``docs/cards.md``):

- **stolen**: a thief uses a lost card (a ``fraud.stolen.share`` of
  ``cards.loss``) at ``fraud.service`` in the holder's province of residence (or
  at its transit gates, ``at_transit`` of the uses), from the loss on: accepted
  before the report, refused after it (at a gate: once its hot list has it);
- **cloned**: a clone of a holder's chip used in another province;
- **replayed_qr**: an e-card medical visit's QR code used again at another point
  of the same province within its validity;
- **lent**: another person's outpatient or pharmacy visit on the holder's card
  (a label on a genuine arrival: nothing at a point tells it apart);
- **duplicate_bill**: a point sends a medical bill again, ``duplicate_after``
  later, under a new key.

Thieves' and clones' uses are drawn when the run is built; the replays and
duplicates are drawn from each merged arrival batch (:class:`FraudDraws`, the
``extend`` step of :class:`sim.world.demand.Demand`) and join the batch their
time falls in. Every draw comes from the ``fraud`` stream, so without fraud the
other streams draw exactly as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from sim.engine.distributions import sample_fen
from sim.scenario.families import codes_moving
from sim.scenario.fraud import FraudSpec
from sim.scenario.primitives import Distribution
from sim.world.cards import LOSS, CardBook
from sim.world.demand import COLUMNS, LABELS, ArrivalBatch, Columns, holder_columns
from sim.world.domain import CardKind, FraudKind, Outcome, Reason
from sim.world.population import Population

__all__ = ["WALKS_AWAY", "FraudDraws", "PointStream", "losses"]

Fen = npt.NDArray[np.int64]
"""Money per row, in fen."""

Rows = dict[str, Any]
"""Aligned columns of arrivals (the batch's, and the fraud's own)."""

ECARD = int(CardKind.ECARD)
MEDICAL = codes_moving("bill")
FARES = codes_moving("fare")
CARD_REASONS = (Reason.CARD_FROZEN, Reason.CARD_REPLACED, Reason.CARD_EXPIRED)
DECLINED = Outcome.DECLINED
_ALL = (*COLUMNS, *LABELS)
_DTYPES = {
    **dict.fromkeys(("service", "card", "scheme", "channel", "level", *LABELS), np.uint8),
    **dict.fromkeys(("site", "holder", "home", "amount_fen", "point"), np.int64),
    **dict.fromkeys(("filed", "ineligible"), np.bool_),
    "time_s": np.float64,
    "token_s": np.float64,
}
"""The arrival batch's columns and their types (kept through every concatenation)."""


class PointStream(Protocol):
    """What the fraud needs of a family's arrival stream: its code, and points to use."""

    code: int

    def points_at(self, site: npt.NDArray[np.int64], rng: np.random.Generator) -> Columns:
        """A point and its level at each site."""
        ...


class FraudDraws:
    """Adds the fraudulent arrivals to each merged batch, before the batch takes its ids."""

    def __init__(
        self,
        spec: FraudSpec,
        cards: CardBook | None,
        population: Population,
        streams: dict[str, PointStream],
        amounts: dict[str, Distribution],
        filed_share: dict[str, float],
        lent_codes: tuple[int, ...],
        horizon_s: float,
        rng: np.random.Generator,
        transit: tuple[PointStream, Distribution] | None = None,
    ) -> None:
        self.spec = spec
        self.population = population
        self.streams = {s.code: s for s in streams.values()}
        self.medical = np.array(sorted(self.streams), dtype=np.uint8)
        self.lent_codes = np.array(lent_codes, dtype=np.uint8)
        self.rng = rng
        self._pending: Rows = _empty()
        self.cloned_at: dict[int, float] = {}
        """When each cloned holder's chip was copied (the first clone of a holder)."""
        target, amount, filed = (
            streams[spec.service],
            amounts[spec.service],
            filed_share[spec.service],
        )
        holder, time_s = self._stolen(cards, horizon_s)
        gate = np.zeros(holder.size, dtype=np.bool_)
        parts = []
        if transit is not None and spec.stolen.at_transit:
            gate = self.rng.random(holder.size) < spec.stolen.at_transit
            parts.append(self._users(FraudKind.STOLEN, holder[gate], time_s[gate], *transit,
                                     1.0, far=False))  # fmt: skip
        parts += [
            self._users(FraudKind.STOLEN, holder[~gate], time_s[~gate], target, amount, filed,
                        far=False),
            self._users(FraudKind.CLONED, *self._cloned(horizon_s), target, amount, filed,
                        far=True),
        ]  # fmt: skip
        self._pending = _sorted(_concat([self._pending, *parts]))

    # --- drawn when the run is built --------------------------------------------------

    def _uses(
        self, start: npt.NDArray[np.float64], span_s: float, per_day: float, horizon_s: float
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """(row, time) of each use: a Poisson number per row, uniform over its span."""
        counts = self.rng.poisson(per_day * span_s / 86400.0, start.size)
        row = np.repeat(np.arange(start.size, dtype=np.int64), counts)
        time_s = start[row] + self.rng.random(row.size) * span_s
        keep = (time_s >= 0) & (time_s < horizon_s)
        return row[keep], time_s[keep]

    def _stolen(
        self, cards: CardBook | None, horizon_s: float
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        stolen = self.spec.stolen
        if cards is None or not stolen.share * stolen.uses_per_day:
            return np.zeros(0, np.int64), np.zeros(0)
        lost = np.flatnonzero(cards.kind == LOSS)
        thefts = lost[self.rng.random(lost.size) < stolen.share]
        row, time_s = self._uses(cards.changed_s[thefts], float(stolen.gives_up_after),
                                 stolen.uses_per_day, horizon_s)  # fmt: skip
        return cards.holder[thefts][row], time_s

    def _cloned(self, horizon_s: float) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        cloned = self.spec.cloned
        lasts = float(cloned.lasts)
        rate = cloned.rate.per_holder_per_day
        if not rate * cloned.uses_per_day:
            return np.zeros(0, np.int64), np.zeros(0)
        n = int(self.rng.poisson(self.population.size * rate * (horizon_s + lasts) / 86400.0))
        holder = self.rng.integers(0, self.population.size, n).astype(np.int64)
        start = self.rng.random(n) * (horizon_s + lasts) - lasts
        for h, t in zip(holder.tolist(), start.tolist(), strict=True):
            self.cloned_at.setdefault(h, t)
        row, time_s = self._uses(start, lasts, cloned.uses_per_day, horizon_s)
        return holder[row], time_s

    def _users(
        self,
        kind: FraudKind,
        holder: npt.NDArray[np.int64],
        time_s: npt.NDArray[np.float64],
        stream: PointStream,
        amount: Distribution,
        filed_share: float,
        far: bool,
    ) -> Rows:
        """The uses of a stolen or cloned chip: at home (a thief) or elsewhere (a clone)."""
        rng, population = self.rng, self.population
        site = population.residence[holder].astype(np.int64)
        if far:
            site = _elsewhere(site, len(population.holders_per_province), rng)
        columns = {
            **holder_columns(stream.code, time_s, site, holder, population),
            **stream.points_at(site, rng),
            "card": np.zeros(site.size, dtype=np.uint8),  # the physical chip
            "amount_fen": sample_fen(amount, rng, site.size),
        }
        cross = site != columns["home"]
        columns["filed"] = ~cross | (rng.random(site.size) < filed_share)
        return _labelled(columns, kind)

    # --- drawn from each batch --------------------------------------------------------------

    def __call__(self, batch: ArrivalBatch) -> ArrivalBatch:
        """The batch with its lent visits labelled and the fraud whose time falls in it."""
        spec, rng = self.spec, self.rng
        columns: Rows = {k: getattr(batch, k).copy() for k in _ALL}
        medical = np.isin(columns["service"], self.medical)
        if spec.lent:
            lent = np.isin(columns["service"], self.lent_codes)
            lent &= rng.random(lent.size) < spec.lent
            columns["fraud"][lent & (columns["fraud"] == 0)] = FraudKind.LENT
        new = []
        if spec.replayed_qr:
            rows = np.flatnonzero(medical & (columns["card"] == ECARD)
                                  & (rng.random(medical.size) < spec.replayed_qr))  # fmt: skip
            new.append(self._replays(columns, rows))
        if spec.duplicate_bill:
            rows = np.flatnonzero(medical & (rng.random(medical.size) < spec.duplicate_bill))
            copy = _labelled({k: columns[k][rows] for k in COLUMNS}, FraudKind.DUPLICATE_BILL)
            copy["time_s"] = copy["time_s"] + float(spec.duplicate_after)
            new.append(copy)
        pending = _concat([self._pending, *new])
        now = pending["time_s"] < batch.t1_s
        self._pending = _sorted({k: v[~now] for k, v in pending.items()})
        merged = _sorted(_concat([columns, {k: v[now] for k, v in pending.items()}]))
        return ArrivalBatch(batch.index, batch.t0_s, batch.t1_s, batch.first_id, **merged)

    def _replays(self, columns: Rows, rows: npt.NDArray[np.int64]) -> Rows:
        """Each row's QR code used again at another point of its province, within its validity."""
        copy = {k: columns[k][rows] for k in (*COLUMNS, "token_s")}  # the code replayed
        within = float(self.spec.replay_within)
        copy["time_s"] = copy["time_s"] + self.rng.random(rows.size) * within
        for code, stream in self.streams.items():
            mine = np.flatnonzero(copy["service"] == code)
            for key, value in stream.points_at(copy["site"][mine], self.rng).items():
                copy[key][mine] = value
        return _labelled(copy, FraudKind.REPLAYED_QR)


WALKS_AWAY = (FraudKind.STOLEN, FraudKind.CLONED, FraudKind.REPLAYED_QR, FraudKind.DUPLICATE_BILL)
"""Fraud whose attempt, unless settled, moves no money (nobody pays a refused fraud)."""


def losses(columns: Mapping[str, npt.NDArray[Any]]) -> tuple[Fen, Fen, Fen, Fen]:
    """Per row, what a card that should not have worked took, in fen, by whom it was borne.

    (fund, holder's medical account, holder's card account, transit operator): an
    accepted (settled) fraudulent medical bill takes its fund share from the fund
    and its personal share from the holder (but for a lent card: the borrower paid
    their own share); an accepted fraudulent fare is debited from the holder's card
    account; a tap let through offline and refused at its upload (the card was
    frozen, replaced or expired) is a ride the operator gave for nothing, fraud or
    not. A refused attempt took nothing.
    """
    n = columns["service"].size
    zero = np.zeros(n, dtype=np.int64)
    service, settled = columns["service"], columns["outcome"] == Outcome.SETTLED
    fares = np.isin(service, FARES)
    refused = fares & np.isin(columns["reason"], CARD_REASONS) & (columns["outcome"] == DECLINED)
    operator = np.where(refused, columns["amount_fen"], 0).astype(np.int64)
    fraud = columns.get("fraud")
    if fraud is None:
        return zero, zero, zero, operator
    taken = (fraud != FraudKind.NONE) & settled
    medical = taken & np.isin(service, MEDICAL)
    fund = np.where(medical, columns["fund_fen"], 0).astype(np.int64)
    holder = np.where(medical & (fraud != FraudKind.LENT), columns["personal_fen"], 0)
    card = np.where(taken & fares & (fraud != FraudKind.LENT), columns["amount_fen"], 0)
    return fund, holder.astype(np.int64), card.astype(np.int64), operator


def _elsewhere(
    site: npt.NDArray[np.int64], provinces: int, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """A uniformly drawn province other than each site (the site itself if it is the only one)."""
    if provinces < 2:
        return site
    other = rng.integers(0, provinces - 1, site.size)
    return np.where(other >= site, other + 1, other).astype(np.int64)


def _labelled(columns: Rows, kind: FraudKind) -> Rows:
    """New rows of one kind: a QR code of their own unless they copy one (``token_s`` given)."""
    n = columns["time_s"].size
    return {
        "token_s": columns["time_s"].copy(),
        **columns,
        "card_state": np.zeros(n, dtype=np.uint8),
        "fraud": np.full(n, int(kind), dtype=np.uint8),
    }


def _empty() -> Rows:
    return {k: np.zeros(0, dtype=_DTYPES[k]) for k in _ALL}


def _concat(parts: list[Rows]) -> Rows:
    return {k: np.concatenate([p[k] for p in parts]).astype(_DTYPES[k], copy=False)
            for k in _ALL}  # fmt: skip


def _sorted(columns: Rows) -> Rows:
    order = np.argsort(columns["time_s"], kind="stable")
    return {k: v[order] for k, v in columns.items()}

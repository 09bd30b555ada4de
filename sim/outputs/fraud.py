"""Fraud figures for ``summary.json``: per kind what was tried, caught and lost; per rule, alarms.

Read from ``transactions.parquet``, whose ``fraud`` column is the ground truth and
``flagged_by`` the detection rules' word, so every figure here can be recomputed
by a notebook from the same file. Counted over the measurement window (arrivals
from the warm-up cut to the horizon).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq

from sim.outputs.metrics import percentiles
from sim.outputs.results import codes
from sim.scenario.families import SERVICES
from sim.world.domain import FlagRule, FraudKind, Outcome, Reason, labels
from sim.world.fraud import losses

__all__ = ["COLUMNS", "RULE_TARGETS", "fraud_figures"]

COLUMNS = ["service", "holder_id", "arrival_s", "end_s", "outcome", "reason", "fraud",
           "flagged_by", "amount_fen", "fund_fen", "personal_fen"]  # fmt: skip
"""The columns the figures are read from."""

RULE_TARGETS: dict[str, tuple[str, ...]] = {
    "counter_sequence": ("cloned",),
    "impossible_travel": ("cloned",),
    "qr_single_use": ("replayed_qr",),
    "duplicate_bill": ("duplicate_bill",),
}
"""The kinds each rule is meant for: its flags on them are hits, on genuine rows false alarms."""

_CARD_REFUSALS = (Reason.CARD_FROZEN, Reason.CARD_REPLACED, Reason.CARD_EXPIRED,
                  Reason.HOT_LISTED)  # fmt: skip


def fraud_figures(path: Path, warmup_s: float) -> dict[str, Any]:
    """Per kind and per rule, over the arrivals from ``warmup_s`` on.

    Per kind: ``attempts``; ``accepted`` (settled); ``refused_for_the_card`` (frozen,
    replaced, expired, hot-listed); ``caught`` (flagged by a rule); ``missed`` (accepted
    without a flag); ``detection_delay_s``, per holder caught, from the first attempt on
    their card to the first catch; ``lost_fen`` by bearer. Per rule: its ``flags``,
    ``hits`` (on the kinds it is meant for, :data:`RULE_TARGETS`), ``false_alarms``
    (on genuine rows) and flags ``on_other_fraud``. No kind is tried at banks, so
    their losses are 0. ``fares_refused_at_upload_fen``: every fare the operator
    lost to a card let through offline, fraud or not.
    """
    table = pq.read_table(path, columns=COLUMNS)
    c = {name: table[name] for name in COLUMNS}
    keep = c["arrival_s"].to_numpy() >= warmup_s
    kind = codes(c["fraud"], labels(FraudKind))[keep]
    rule = codes(c["flagged_by"], labels(FlagRule))[keep]
    outcome = codes(c["outcome"], labels(Outcome))[keep]
    reason = codes(c["reason"], labels(Reason))[keep]
    amount, fund, personal = (c[k].to_numpy()[keep] for k in ("amount_fen", "fund_fen",
                                                               "personal_fen"))  # fmt: skip
    service = codes(c["service"], list(SERVICES))[keep]
    fund_lost, holder_lost, card_lost, operator_lost = losses({
        "fraud": kind, "outcome": outcome, "reason": reason, "service": service,
        "amount_fen": amount, "fund_fen": fund, "personal_fen": personal,
    })  # fmt: skip
    holder_lost = holder_lost + card_lost
    holder = c["holder_id"].to_numpy()[keep]
    arrival, end = c["arrival_s"].to_numpy()[keep], c["end_s"].to_numpy()[keep]
    kinds: dict[str, dict[str, Any]] = {}
    for k in list(FraudKind)[1:]:
        mine = kind == k
        caught = mine & (rule != FlagRule.NONE)
        kinds[k.name.lower()] = {
            "attempts": int(mine.sum()),
            "accepted": int((mine & (outcome == Outcome.SETTLED)).sum()),
            "refused_for_the_card": int((mine & np.isin(reason, _CARD_REFUSALS)).sum()),
            "caught": int(caught.sum()),
            "missed": int((mine & (rule == FlagRule.NONE) & (outcome == Outcome.SETTLED)).sum()),
            "detection_delay_s": percentiles(
                _delays(holder[mine], arrival[mine], end[mine], caught[mine])
            ),
            "lost_fen": {
                "fund": int(fund_lost[mine].sum()),
                "transit_operator": int(operator_lost[mine].sum()),
                "bank": 0,
                "holder": int(holder_lost[mine].sum()),
            },
        }
    rules = {}
    for r in list(FlagRule)[1:]:
        name = r.name.lower()
        flagged = rule == r
        targets = np.isin(kind, [FraudKind[t.upper()] for t in RULE_TARGETS[name]])
        rules[name] = {
            "flags": int(flagged.sum()),
            "hits": int((flagged & targets).sum()),
            "false_alarms": int((flagged & (kind == FraudKind.NONE)).sum()),
            "on_other_fraud": int((flagged & ~targets & (kind != FraudKind.NONE)).sum()),
        }
    bearers = ("fund", "transit_operator", "bank", "holder")
    return {
        "kinds": kinds,
        "rules": rules,
        "lost_fen": {b: sum(k["lost_fen"][b] for k in kinds.values()) for b in bearers},
        "false_alarms": int(((rule != FlagRule.NONE) & (kind == FraudKind.NONE)).sum()),
        "fares_refused_at_upload_fen": int(operator_lost.sum()),
    }


def _delays(
    holder: npt.NDArray[np.int64],
    arrival: npt.NDArray[np.float64],
    end: npt.NDArray[np.float64],
    caught: npt.NDArray[np.bool_],
) -> npt.NDArray[np.float64]:
    """Per holder caught, from their first attempt's arrival to the end of the first catch."""
    first: dict[int, float] = {}
    for h, t in zip(holder.tolist(), arrival.tolist(), strict=True):
        first[h] = min(t, first.get(h, t))
    delays: dict[int, float] = {}
    for h, t in zip(holder[caught].tolist(), end[caught].tolist(), strict=True):
        delays[h] = min(t - first[h], delays.get(h, t - first[h]))
    return np.array(list(delays.values()), dtype=np.float64)

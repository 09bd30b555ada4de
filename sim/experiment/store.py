"""A store: task folders written by the workers themselves, on a path every machine sees.

With ``--store DIR`` a worker writes its task's folder into the store and hands
back only the task's row, instead of sending every file (gigabytes at full
scale) back to the client. ``--shard I/N`` runs one share of the tasks into the
store with no scheduler at all (one job of a SLURM or PBS job array each), and
``sweep collect STORE`` assembles the tables once every shard is done.

Layout::

    store.json            the plan: scenario path, --set, --vary, replications, identity
    scenario.yaml         the scenario file's contents, so collect needs nothing else
    tasks/variant=v000/replication=000/   each task's results folder (see taskfiles)
    shards/2-of-4.json    written by shard 2 of 4 as it ends: tasks run, failures

The split is deterministic: task i of the plan (variants in order, each
variant's replications in order) belongs to shard ``i % N + 1``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import yaml

from sim.experiment.catalogue import Catalogue, SweepFolderError, plan_record
from sim.experiment.plan import Plan, PlanError
from sim.experiment.task import TaskKey
from sim.scenario.loader import read_yaml

__all__ = ["STORE_FILE", "Shard", "Store", "StoreError"]

STORE_FILE = "store.json"
SCENARIO_COPY = "scenario.yaml"
SHARDS = "shards"
FORMAT = 1


class StoreError(SweepFolderError):
    """A store cannot be used: another sweep's, not a store, or incomplete for collect."""


@attrs.frozen
class Shard:
    """Shard ``index`` of ``count`` (1-based, as ``--shard 2/4`` writes it)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Read ``I/N`` with 1 ≤ I ≤ N (``--shard ${SLURM_ARRAY_TASK_ID}/N``)."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if match is None:
            raise PlanError(f"--shard: expected I/N such as 1/4, got {text!r}")
        index, count = int(match[1]), int(match[2])
        if not 1 <= index <= count:
            raise PlanError(f"--shard {text}: need 1 ≤ I ≤ N")
        return cls(index, count)

    @property
    def name(self) -> str:
        """``2-of-4``: the name of the shard's record in ``shards/``."""
        return f"{self.index}-of-{self.count}"

    def owns(self, position: int) -> bool:
        """Whether the task at ``position`` in the plan's task order is this shard's."""
        return position % self.count + 1 == self.index


def plan_keys(plan: Plan, replications: int) -> list[TaskKey]:
    """Every task of the plan, in its fixed order (variant, then replication)."""
    return [TaskKey(v.index, r) for v in plan.variants for r in range(replications)]


class Store:
    """The store folder of one plan: its description, task folders and shard records."""

    def __init__(self, root: Path, plan: Plan) -> None:
        self.root = root
        self.plan = plan

    @classmethod
    def open(cls, root: str | Path, plan: Plan, replications: int) -> Store:
        """Create the store for ``plan``, or check that it holds this plan (to resume it).

        Several shards may open the same new store at once: each writes the same
        description under a name of its own and renames it into place.
        """
        root = Path(root)
        described = root / STORE_FILE
        if described.exists():
            stored = _read_json(described)
            if stored.get("identity") != plan.identity():
                raise StoreError(
                    f"store {root} holds a different sweep (other variants, scenario or seed); "
                    "choose another --store"
                )
            replications = max(replications, int(stored.get("replications", 0)))
        elif root.exists() and any(not _ours(p.name) for p in root.iterdir()):
            raise StoreError(f"{root} exists and is not a store (no {STORE_FILE})")
        store = cls(root, plan)
        store.describe(replications)
        return store

    def describe(self, replications: int) -> None:
        """Write ``store.json`` and ``scenario.yaml`` (atomically, safe among writers)."""
        plan = self.plan
        data = plan_record(plan, replications, FORMAT)
        self.root.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(plan.raw, sort_keys=False, allow_unicode=True)
        _write_shared(self.root / SCENARIO_COPY, text)
        _write_shared(self.root / STORE_FILE, json.dumps(data, indent=2) + "\n")

    @classmethod
    def read(cls, root: str | Path) -> tuple[Store, int]:
        """The store at ``root`` and its replications, its plan rebuilt from its own copy."""
        root = Path(root)
        if not (root / STORE_FILE).is_file():
            raise StoreError(f"{root} is not a store (no {STORE_FILE}; see sweep --store)")
        data = _read_json(root / STORE_FILE)
        source = str(data.get("scenario", root / SCENARIO_COPY))
        try:
            text = (root / SCENARIO_COPY).read_text("utf-8")
        except OSError as exc:
            raise StoreError(f"store {root}: cannot read {SCENARIO_COPY}: {exc}") from None
        vary = [f"{v['key']}={','.join(v['values'])}" for v in data.get("vary", [])]
        designed = data.get("planned_by")  # a designed sweep: its ranges, design and samples
        if designed:
            plan = Plan.from_raw(
                read_yaml(text, source),
                source,
                designed["vary"],
                data.get("set", []),
                designed["design"],
                designed["samples"],
            )
        else:
            plan = Plan.from_raw(read_yaml(text, source), source, vary, data.get("set", []))
        if plan.identity() != data.get("identity"):
            raise StoreError(f"store {root}: {SCENARIO_COPY} does not give the plan in "
                             f"{STORE_FILE} (edited by hand?)")  # fmt: skip
        return cls(root, plan), int(data.get("replications", 0))

    def record_shard(
        self, shard: Shard, replications: int, ran: int, failed: dict[str, str]
    ) -> None:
        """Write ``shards/I-of-N.json``: what this shard did, for ``collect`` to report."""
        data = {
            "shard": shard.index,
            "of": shard.count,
            "replications": replications,
            "ran": ran,
            "failed": failed,
            "host": platform.node(),
            "finished_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        (self.root / SHARDS).mkdir(parents=True, exist_ok=True)
        _write_shared(self.root / SHARDS / f"{shard.name}.json", json.dumps(data, indent=2) + "\n")

    def shard_records(self) -> Iterator[dict[str, Any]]:
        """The records of the shards that have ended, latest split (largest N) first."""
        paths = sorted((self.root / SHARDS).glob("*-of-*.json"))
        records = [r for r in (_read_json(p) for p in paths) if "of" in r and "shard" in r]
        yield from sorted(records, key=lambda r: (-int(r["of"]), int(r["shard"])))

    def missing(self, replications: int) -> list[str]:
        """What is not done in the store, one line per task, naming its shard."""
        catalogue = Catalogue(self.root, self.plan, self.root)
        records = list(self.shard_records())
        count = int(records[0]["of"]) if records else 0
        ended = {int(r["shard"]): r for r in records if int(r["of"]) == count}
        lines = []
        for position, key in enumerate(plan_keys(self.plan, replications)):
            if catalogue.is_done(key):
                continue
            where = ""
            if count:
                index = position % count + 1
                record = ended.get(index)
                error = (record or {}).get("failed", {}).get(key.name)
                state = (f"failed: {error}" if error else "ended without it") if record else (
                    f"not ended: no {SHARDS}/{index}-of-{count}.json")  # fmt: skip
                where = f" (shard {index}/{count}: {state})"
            lines.append(f"{key.name}{where}")
        return lines


_STORE_NAMES = {STORE_FILE, SCENARIO_COPY, SHARDS, "tasks"}


def _ours(name: str) -> bool:
    """Whether a name in a new store is its own (or a shard's temporary file beside it)."""
    return name in _STORE_NAMES or name.startswith(".")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path}: cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise StoreError(f"{path}: expected a JSON object")
    return data


def _write_shared(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary name of this host and process."""
    temp = path.with_name(f".{path.name}.{platform.node()}-{os.getpid()}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def shard_keys(keys: Iterable[TaskKey], shard: Shard | None) -> list[TaskKey]:
    """The keys ``shard`` owns among ``keys`` (all of them without a shard)."""
    keys = list(keys)
    return keys if shard is None else [k for i, k in enumerate(keys) if shard.owns(i)]

"""Named random streams: one seed, an independent generator per component.

Each stream is keyed by its name (``"demand:pharmacy"``, ``"node:national"``)
through a stable hash, not by creation order, so adding a component does not
shift any other component's random numbers. This is what makes common random
numbers work across scenario variants: replication r of every variant draws
the same arrivals.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["Streams"]


class Streams:
    """Factory of independent, reproducible ``numpy`` generators for one run."""

    def __init__(self, seed: int) -> None:
        if seed < 0:
            raise ValueError(f"seed must be ≥ 0, got {seed}")
        self.seed = seed
        self._issued: set[str] = set()

    def generator(self, name: str) -> np.random.Generator:
        """The generator for ``name``; each name may be asked for once per run.

        Handing the same stream to two components would correlate them silently,
        so a second request for a name is an error.
        """
        if name in self._issued:
            raise ValueError(f"random stream {name!r} was already issued")
        self._issued.add(name)
        return np.random.Generator(np.random.PCG64(self.seed_sequence(name)))

    def seed_sequence(self, name: str) -> np.random.SeedSequence:
        """The seed sequence behind a named stream (stable across runs and machines)."""
        digest = hashlib.blake2b(name.encode("utf-8"), digest_size=16).digest()
        words = tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))
        return np.random.SeedSequence(self.seed, spawn_key=words)

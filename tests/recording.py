"""A recorder writing to a file of its own, as ``simulate()`` wires it, for unit tests."""

from __future__ import annotations

from pathlib import Path

from sim.outputs.recorder import IdCounter, TransactionFile, TransactionRecorder


class FileRecorder(TransactionRecorder):
    """A recorder whose only subscriber is a transactions file, closed with it."""

    def __init__(self, path: Path, ids: IdCounter | None = None) -> None:
        super().__init__(ids)
        self.file = TransactionFile(path, ["AA"])
        self.subscribe(self.file.write)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.file.close()


def recording(path: Path, ids: IdCounter | None = None) -> FileRecorder:
    """A recorder writing ``transactions.parquet`` at ``path`` (one province, AA)."""
    return FileRecorder(path, ids)

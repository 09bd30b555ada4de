"""Counting fuzzed inputs, and a knob to try more of them.

Fuzz tests add each input they try to :data:`FUZZED` (by kind); the total is
printed at the end of the test session. ``SSCARD_FUZZ_EXAMPLES=N`` raises the
number of examples each fuzz test tries (CI uses the defaults in the tests).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

FUZZED: Counter[str] = Counter()
"""Inputs tried so far in this session, by kind."""


def fuzz_examples(default: int) -> int:
    """How many examples a fuzz test tries: ``default``, or ``SSCARD_FUZZ_EXAMPLES``."""
    return int(os.environ.get("SSCARD_FUZZ_EXAMPLES", default))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Report how many inputs the loader fuzz tests tried."""
    if FUZZED:
        kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(FUZZED.items()))
        terminalreporter.write_line(
            f"scenario loader fuzz: {sum(FUZZED.values())} inputs tried ({kinds})"
        )

"""Which modules a compiled build turns into C extensions, and whether this one did.

``SSCARD_SIM_COMPILE=1 pip install .`` compiles the modules of the event loop's
inner paths with mypyc, as black and mypy ship: the same source, the same
results byte for byte, about a third less CPU per run (``benchmarks/README.md``).
Without a C compiler the build falls back to plain Python. ``setup.py`` reads
:data:`COMPILED` from this file by path (it cannot import the package while
building), so this module imports nothing but the standard library.
"""

from __future__ import annotations

import importlib
import importlib.machinery

__all__ = ["COMPILED", "build_name", "compiled_modules"]

COMPILED: tuple[str, ...] = (
    "sim.engine.calendar",
    "sim.engine.distributions",
    "sim.engine.kernel",
    "sim.engine.servers",
    "sim.engine.stations",
    "sim.money.clearing",
    "sim.money.policy",
    "sim.money.postings",
    "sim.network.nodes",
    "sim.network.protocol",
    "sim.network.settlement",
    "sim.outputs.recorder",
    "sim.services.bank",
    "sim.services.card_desk",
    "sim.services.library",
    "sim.services.medical",
    "sim.services.pension",
    "sim.services.transit",
    "sim.services.withdrawals",
    "sim.world.arrivals",
    "sim.world.demand",
    "sim.world.domain",
    "sim.world.points",
    "sim.world.population",
    "sim.world.provinces",
    "sim.world.transaction",
)
"""The modules compiled: per event or per transaction, nothing that runs once per run.

A compiled class cannot be subclassed by plain Python, so a module whose
classes other modules extend is compiled together with them."""


def compiled_modules() -> list[str]:
    """The modules of :data:`COMPILED` this interpreter loaded as C extensions."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    found = []
    for name in COMPILED:
        path = getattr(importlib.import_module(name), "__file__", "") or ""
        if path.endswith(suffixes):
            found.append(name)
    return found


def build_name() -> str:
    """What this run executes: ``compiled``, ``plain Python``, or ``partly compiled (k of n)``."""
    found = len(compiled_modules())
    if found == len(COMPILED):
        return "compiled"
    return "plain Python" if found == 0 else f"partly compiled ({found} of {len(COMPILED)})"

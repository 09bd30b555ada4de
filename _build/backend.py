"""The build backend: setuptools, plus mypyc when a compiled build is asked for.

``SSCARD_SIM_COMPILE=1`` makes the isolated build environment install mypy
(which carries mypyc) so that ``setup.py`` can compile the hot modules; without
it a build needs nothing beyond setuptools and installs plain Python.
"""

from __future__ import annotations

import os
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403 (the backend's hooks, unchanged)

COMPILER = ["mypy>=1.10"]


def _compiling() -> bool:
    return os.environ.get("SSCARD_SIM_COMPILE", "") == "1"


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    """What building a wheel needs: setuptools' list, plus mypy for a compiled build."""
    extra = COMPILER if _compiling() else []
    return [*_setuptools.get_requires_for_build_wheel(config_settings), *extra]


def get_requires_for_build_editable(config_settings: dict[str, Any] | None = None) -> list[str]:
    """What an editable install needs: as for a wheel."""
    extra = COMPILER if _compiling() else []
    return [*_setuptools.get_requires_for_build_editable(config_settings), *extra]

"""Build configuration beyond pyproject.toml: the shipped scenarios, the optional compiled build.

The top-level ``scenarios/`` folder is the one copy of the scenario files in git
(users and docs point at it). ``package_dir`` maps the package ``sim._scenarios``
onto that folder, so a wheel (``pip install .``) carries the YAML files at
``sim/_scenarios/`` without a second copy in the repository; running from a clone
with ``PYTHONPATH`` finds ``scenarios/`` beside ``sim/`` instead (see
``sim.scenario.shipped``). pyproject.toml cannot say this alone: its
``packages.find`` only discovers folders that exist under ``sim/``.

With ``SSCARD_SIM_COMPILE=1`` the modules listed in ``sim/engine/native.py`` are
compiled with mypyc (``_build/backend.py`` brings mypy into the build). If they
cannot be compiled (no C compiler, no Python headers), the build says why and
installs plain Python: the same package, slower.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent


class OptionalBuildExt(build_ext):
    """Compile the extensions if possible; otherwise warn and ship plain Python."""

    def run(self) -> None:
        """Build every extension, or none of them."""
        try:
            super().run()
        except Exception as error:  # a compiler's failure has no common type
            for path in self.get_outputs():
                Path(path).unlink(missing_ok=True)  # never a half-compiled package
            print(
                f"WARNING: compiling sscard-sim failed ({error}); installing plain Python "
                "(same results, slower). A compiled build needs a C compiler and the "
                "Python headers.",
                file=sys.stderr,
            )


def compiled_extensions() -> list[object]:
    """The mypyc extensions, when ``SSCARD_SIM_COMPILE=1``."""
    if os.environ.get("SSCARD_SIM_COMPILE", "") != "1":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print(
            "WARNING: SSCARD_SIM_COMPILE=1 but mypyc is not installed: plain Python",
            file=sys.stderr,
        )
        return []
    modules = runpy.run_path(str(HERE / "sim" / "engine" / "native.py"))["COMPILED"]
    paths = [str(Path(*name.split(".")).with_suffix(".py")) for name in modules]
    return list(mypycify(paths, opt_level="3"))


setup(
    packages=[
        *find_packages(include=["sim", "sim.*"]),
        "sim._scenarios",
        "sim._scenarios.validation",
    ],
    package_dir={"sim._scenarios": "scenarios"},
    ext_modules=compiled_extensions(),
    cmdclass={"build_ext": OptionalBuildExt},
)

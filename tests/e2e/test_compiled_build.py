"""The compiled build (mypyc): built as a user builds it, it gives plain Python's bytes.

``SSCARD_SIM_COMPILE=1 pip wheel .`` compiles the modules of
``sim/engine/native.py``; a run of the unpacked wheel must write the same files,
byte for byte, as the same run of the source tree, for every family and for
faults. Without a C compiler the build must still install plain Python.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sim.engine.native import COMPILED
from tests.conftest import ROOT

BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "_build", "sim", "scenarios")
"""What a build reads: copied to a scratch folder so the build leaves the clone clean."""

RUNS = {
    "smoke": ("smoke", []),
    "baseline": ("baseline_weekday", ["scale=1e-4", "horizon=4h", "warmup=auto"]),
    "outage": ("national_platform_outage", ["scale=1e-4", "horizon=11h", "network.load=sampled"]),
    "lossy links": ("lossy_links", ["scale=1e-4", "horizon=2h"]),
    "payday": ("pension_payday", ["scale=1e-5", "horizon=1d"]),
    "card desk": ("card_replacement", ["scale=1e-4", "horizon=12h"]),
    "full load": ("smoke", ["horizon=30min", "warmup=5min", "network.load=full"]),
    "card fraud": ("card_fraud", ["horizon=2h"]),
}
"""Runs compared between the builds: every family, link faults, an outage, auto warm-up, the
background at full load, card states with fraud and detection rules."""

pytestmark = pytest.mark.packaging


def _copy_sources(target: Path) -> Path:
    target.mkdir()
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.so")
            shutil.copytree(ROOT / name, target / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, target / name)
    return target


def _cannot_compile() -> str:
    """Why this machine cannot build C extensions ('' if it can)."""
    import sysconfig

    if shutil.which(os.environ.get("CC", "cc")) is None:
        return "no C compiler"
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file():
        return "no Python headers"
    return ""


@pytest.fixture(scope="module")
def compiled_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The compiled wheel, built with pip exactly as the README says, unpacked."""
    why = _cannot_compile()
    if why and not os.environ.get("SSCARD_SIM_CI"):
        pytest.skip(f"cannot compile here: {why}")
    root = tmp_path_factory.mktemp("compiled")
    source = _copy_sources(root / "source")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(root / "dist")],
        capture_output=True, text=True, cwd=source, timeout=1200,
        env={**os.environ, "SSCARD_SIM_COMPILE": "1"},
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    assert "WARNING" not in built.stderr, built.stderr
    (wheel,) = (root / "dist").glob("sscard_sim-*.whl")
    site = root / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def _sim(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(path)}
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          cwd=path, env=env, timeout=600)  # fmt: skip


def _outputs(folder: Path) -> dict[str, bytes]:
    """Every output file's bytes; the manifest without its wall-clock and memory figures."""
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
             if p.is_file() and p.name != "manifest.json"}  # fmt: skip
    manifest = json.loads((folder / "manifest.json").read_text())
    for volatile in ("wall_time_s", "events_per_wall_second", "package", "build", "provenance"):
        manifest.pop(volatile, None)
    files["manifest.json"] = json.dumps(manifest, sort_keys=True).encode()
    return files


def test_the_compiled_wheel_holds_every_listed_module_compiled(compiled_site: Path) -> None:
    """Each module of COMPILED loads from a C extension, and a run's manifest says so."""
    probe = subprocess.run(
        [sys.executable, "-c", "from sim.engine.native import compiled_modules as c; print(c())"],
        capture_output=True, text=True, cwd=compiled_site, timeout=120,
        env={**os.environ, "PYTHONPATH": str(compiled_site)},
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == repr(list(COMPILED))


@pytest.mark.parametrize("case", sorted(RUNS))
def test_the_compiled_build_writes_the_same_bytes(
    case: str, compiled_site: Path, tmp_path: Path
) -> None:
    """Same scenario and seed: the compiled and the plain build write identical files."""
    name, overrides = RUNS[case]
    sets = [arg for item in overrides for arg in ("--set", item)]
    outs = {}
    for build, path in (("plain", ROOT), ("compiled", compiled_site)):
        out = tmp_path / build
        done = _sim(path, "run", name, "--quiet", "--out", str(out), *sets)
        assert done.returncode == 0, f"{build}: {done.stderr}"
        outs[build] = _outputs(out)
    plain, compiled = outs["plain"], outs["compiled"]
    assert sorted(plain) == sorted(compiled)
    differ = [name for name in plain if plain[name] != compiled[name]]
    assert differ == [], f"{case}: files differ between the builds: {differ}"


def test_without_a_compiler_the_build_installs_plain_python(tmp_path: Path) -> None:
    """SSCARD_SIM_COMPILE=1 with a compiler that fails: a warning, no extension, a working sim."""
    source = _copy_sources(tmp_path / "source")
    env = {**os.environ, "SSCARD_SIM_COMPILE": "1", "CC": "false", "LDSHARED": "false"}
    built = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
        capture_output=True, text=True, cwd=source, timeout=1200, env=env,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    assert "compiling sscard-sim failed" in built.stderr
    assert "installing plain Python" in built.stderr
    assert list((source / "sim").rglob("*.so")) == []
    done = _sim(source, "run", "smoke", "--quiet", "--out", "out", "--set", "horizon=20min")
    assert done.returncode == 0, done.stderr
    assert (source / "out" / "summary.json").is_file()

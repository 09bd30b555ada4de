"""Fuzzing the scenario loader: whatever the file holds, a scenario or a list of problems.

Property: ``load_scenario`` returns a :class:`Scenario` or raises
:class:`ScenarioError` whose problems each name a key path or are about the file
as a whole; never any other exception, and never unbounded time. Inputs are
random YAML documents (random data, token soup, hostile tags, alias bombs) and
random mutations of every shipped scenario (keys deleted or renamed, values of
the wrong type, extreme or non-finite numbers, duplicated lines, truncation).
A sample of mutated files also goes through ``python -m sim validate`` and
``run`` in a subprocess: exit code 0 or 2, never a traceback.

Each input tried is counted in ``tests/property/conftest.py``; set
``SSCARD_FUZZ_EXAMPLES`` to try more.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.run import guard
from sim.scenario import Scenario, ScenarioError, dump_scenario, load_scenario, parse_scenario
from sim.scenario.codec import Problem
from tests.conftest import SCENARIOS
from tests.property.conftest import FUZZED, fuzz_examples

SHIPPED = {
    path.name: path.read_text(encoding="utf-8") for path in sorted(SCENARIOS.glob("*.yaml"))
}
PARSED = {name: yaml.safe_load(text) for name, text in SHIPPED.items()}
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # the C emitter, when built: faster

FUZZ = settings(
    max_examples=fuzz_examples(250),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


# --- the property --------------------------------------------------------------------


def check_load(path: Path, kind: str) -> Scenario | None:
    """Load a file: a Scenario, or a ScenarioError listing problems; anything else fails."""
    FUZZED[kind] += 1
    started = time.perf_counter()
    error: ScenarioError | None = None
    try:
        scenario: Scenario | None = load_scenario(path)
    except ScenarioError as exc:
        error, scenario = exc, None
    if error is not None:
        assert error.problems, "a ScenarioError must list at least one problem"
        assert all(isinstance(p, Problem) and p.message for p in error.problems)
        assert error.source == str(path)
        error.report()  # printable, whatever the values
    else:
        assert isinstance(scenario, Scenario)
        # What is accepted must be runnable data: it round-trips, and the guard can size it.
        assert parse_scenario(dump_scenario(scenario)) == scenario
        estimate = guard.estimate(scenario)
        assert estimate.events >= 0 and estimate.memory_bytes > 0
    assert time.perf_counter() - started < 10.0, "loading took too long"
    return scenario


def write(tmp_path: Path, text: str) -> Path:
    """The text as a scenario file (one file per test, overwritten by each example)."""
    path = tmp_path / "fuzzed.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


# --- random YAML documents --------------------------------------------------------------


def _keys(data: Any) -> set[str]:
    """Every mapping key in a parsed document (to aim random documents at the schema)."""
    if isinstance(data, dict):
        return {str(k) for k in data} | {k for v in data.values() for k in _keys(v)}
    if isinstance(data, list):
        return {k for v in data for k in _keys(v)}
    return set()


KEYS = sorted({k for text in SHIPPED.values() for k in _keys(yaml.safe_load(text))})

ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1, -0.0, 0.5, 1.5, 2**63, 2**64 + 1, -(10**40), 10**99,
    1e308, -1e308, 5e-324, math.inf, -math.inf, math.nan,
    "", " ", "0", "-1", "1e400", "1e-400", "NaN", ".inf", "1e999 billion", "1.38 billion",
    "90s", "0s", "-5min", "1e400s", "inf s", "99:99", "24:00", "48:00:00", "2h", "1d", "1w",
    "12000 yuan", "-1 yuan", "8.005 yuan", "1e30 yuan", "¥", "¥8.50", "35 fen", "0.5 fen",
    "2024-03-12T08:00:00+08:00", "2024-03-12T08:00:00", "2024-13-45", "9999-12-31T23:59:59+00:00",
    "0001-01-01T00:00:00-14:00", dt.date(2024, 1, 1), dt.datetime(2024, 1, 1),
    dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.UTC), "month", "builtin:2020", "builtin:1990",
    "../../etc/passwd", "/etc/passwd", "file:///etc/passwd", "~/x", "C:\\x", "office_hours",
    "１２", "😀", "\u202e", "\x00", "\ufeff", "a" * 500, [], {}, [1, 2], [0] * 24, [-1] * 24,
    {"exponential": {"mean": "-1s"}}, {"constant": "1e308 yuan"}, {"lognormal": None},
    {"uniform": {"low": 2, "high": 1}}, {"per_holder_per_year": 1e300}, {"per_holder_per_day": -1},
]  # fmt: skip

scalars = st.one_of(
    st.sampled_from(ODD_VALUES),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(KEYS),
    st.dates(),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=6),
    ),
    max_leaves=40,
)


@FUZZ
@given(doc=documents)
def test_random_documents(tmp_path: Path, doc: Any) -> None:
    """Random data (aimed at the schema's keys) written as YAML: loaded or refused by path."""
    check_load(write(tmp_path, yaml.safe_dump(doc, allow_unicode=True)), "random document")


TOKENS = [
    "{", "}", "[", "]", ", ", ": ", "- ", "? ", "\n", "\n  ", "\n    ", "  ", "#", "'", '"',
    "|", ">", "&a ", "*a", "&b ", "*b", "<<: ", "---\n", "...\n", "%YAML 1.1\n", "%TAG ! x\n",
    "!!python/object/apply:os.system ['touch /tmp/pwned']", "!!python/name:os.system",
    "!!python/object:__main__.X", "!!binary ", "!!timestamp ", "!!set ", "!!omap ", "!!int ",
    "!!float ", "!!str ", "!custom ", "0x", "0o7", "0b1", "1_000", "1e400", ".nan", "~", "null",
    "yes", "2024-13-45", "2024-03-12T08:00:00+99:00", "1" * 5000, "name", "services",
    "pharmacy", "rate", "points", "horizon", "start", "\t", "\r\n", "\x85", "\u2028", "é", "中",
    "\x00", "\x1b[31m",
]  # fmt: skip
TEXT_TOKENS = [*TOKENS, "\ud800"]
"""Also a lone surrogate, which only text can carry (the file is then not valid UTF-8)."""

soups = st.one_of(
    st.lists(st.sampled_from(TEXT_TOKENS) | st.text(max_size=5), max_size=40).map("".join),
    st.text(max_size=200),
)


@FUZZ
@given(text=soups)
def test_token_soup(tmp_path: Path, text: str) -> None:
    """Random text built from YAML syntax, hostile tags and odd unicode: never a crash."""
    check_load(write(tmp_path, text), "token soup")


@st.composite
def alias_bombs(draw: st.DrawFn) -> str:
    """Anchors that each repeat the previous one ``fanout`` times ("billion laughs")."""
    depth = draw(st.integers(1, 12))
    fanout = draw(st.integers(1, 12))
    flow = draw(st.booleans())
    lines = ["a0: &a0 lol"]
    for i in range(1, depth + 1):
        refs = [f"*a{i - 1}"] * fanout
        body = "[" + ", ".join(refs) + "]" if flow else "".join(f"\n  - {r}" for r in refs)
        lines.append(f"a{i}: &a{i} {body}")
    where = draw(st.sampled_from(["name", "description", "seed", "services", "profile"]))
    lines.append(f"{where}: *a{depth}")
    return "\n".join(lines) + "\n" + SHIPPED["smoke.yaml"].split("\nseed:", 1)[1][2:]


@settings(FUZZ, max_examples=fuzz_examples(60))
@given(text=alias_bombs())
def test_alias_bombs_are_bounded(tmp_path: Path, text: str) -> None:
    """However far aliases would expand, loading takes moments and ends in an answer."""
    check_load(write(tmp_path, text), "alias bomb")


# --- mutations of the shipped scenarios ---------------------------------------------------


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every position in a parsed document (mapping keys and list items)."""
    found: list[tuple[Any, ...]] = []
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for key, value in items:
        found.append((*prefix, key))
        found += _paths(value, (*prefix, key))
    return found  # fmt: skip


def _odd_value(rnd: random.Random) -> Any:
    choice = rnd.randrange(5)
    if choice == 0:
        return copy.deepcopy(rnd.choice(ODD_VALUES))  # later mutations may change it in place
    if choice == 1:
        return float(f"{rnd.uniform(-10, 10):.6f}e{rnd.randint(-400, 400)}")  # 0 or inf at ends
    if choice == 2:
        return rnd.randint(-(2**70), 2**70)
    if choice == 3:
        return f"{rnd.uniform(-10, 10) * 10 ** rnd.randint(-5, 12):g} " + rnd.choice(
            ["s", "ms", "min", "h", "d", "yuan", "fen", "billion", "parsecs", ""]
        )
    return "".join(rnd.choice(TOKENS) for _ in range(rnd.randint(1, 4)))


def _rename(key: Any, rnd: random.Random) -> Any:
    text = str(key)
    choice = rnd.randrange(6)
    if choice == 0 and text:
        i = rnd.randrange(len(text))
        return text[:i] + text[i + 1 :]
    if choice == 1:
        return text + rnd.choice(["s", "_", "x", " "])
    if choice == 2:
        return text.upper()
    if choice == 3:
        return rnd.choice([None, True, 3, 1.5, "", "中文", "\u202e" + text])
    if choice == 4:
        return rnd.choice(KEYS)
    return text.replace("_", "-")


def mutate_data(data: Any, rnd: random.Random) -> Any:
    """One change at a random position: delete, retype, rename, add, wrap."""
    paths = _paths(data)
    if not paths:
        return _odd_value(rnd)
    path = rnd.choice(paths)
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    op = rnd.randrange(6)
    if op == 0:
        del parent[key]
    elif op in (1, 2):
        parent[key] = _odd_value(rnd)
    elif op == 3 and isinstance(parent, dict):
        parent[_rename(key, rnd)] = parent.pop(key)
    elif op == 4 and isinstance(parent, dict):
        parent[rnd.choice(KEYS)] = _odd_value(rnd)
    else:
        parent[key] = rnd.choice([[parent[key]], {"x": parent[key]}, {str(parent[key]): 1}])
    return data


def mutate_text(text: str, rnd: random.Random) -> str:
    """One change to the text itself: truncate, duplicate or drop a line, splice in tokens."""
    lines = text.splitlines(keepends=True)
    op = rnd.randrange(5)
    if op == 0:
        return text[: rnd.randrange(len(text) + 1)]
    i = rnd.randrange(len(lines))
    if op == 1:
        lines.insert(i, lines[rnd.randrange(len(lines))])  # often a duplicate key
    elif op == 2:
        del lines[i]
    elif op == 3:
        lines[i] = rnd.choice(["", " ", "  ", "\t"]) + lines[i]
    else:
        at = rnd.randrange(len(lines[i]) + 1)
        lines[i] = lines[i][:at] + rnd.choice(TEXT_TOKENS) + lines[i][at:]
    return "".join(lines)


def mutate(name: str, rnd: random.Random) -> str:
    """A shipped scenario after zero to three data changes, then sometimes one text change."""
    data = copy.deepcopy(PARSED[name])
    for _ in range(rnd.randint(0, 3)):
        data = mutate_data(data, rnd)
    unicode = rnd.random() < 0.5
    out = yaml.dump(data, Dumper=_Dumper, allow_unicode=unicode, sort_keys=False)
    return mutate_text(out, rnd) if rnd.random() < 0.5 else out


@settings(FUZZ, max_examples=fuzz_examples(150))
@given(name=st.sampled_from(sorted(SHIPPED)), rnd=st.randoms(use_true_random=False))
def test_mutated_shipped_scenarios(tmp_path: Path, name: str, rnd: random.Random) -> None:
    """Random mutations of every shipped scenario: loaded or refused with problems by path."""
    check_load(write(tmp_path, mutate(name, rnd)), "mutated scenario")


def test_unmutated_shipped_scenarios_pass_the_property(tmp_path: Path) -> None:
    """The starting points themselves load (so mutations start from valid files)."""
    for text in SHIPPED.values():
        assert check_load(write(tmp_path, text), "shipped scenario") is not None


# --- through the command line ----------------------------------------------------------------


def test_mutated_files_through_the_cli(tmp_path: Path) -> None:
    """`validate` and `run` on a batch of mutated files: exit 0 or 2, never a traceback.

    ``run --max-events 1`` refuses every scenario that validates, so the batch runs
    nothing but still goes through the resource guard's estimate.
    """
    rnd = random.Random(20240312)
    count = fuzz_examples(40)
    files = []
    for i in range(count):
        name = sorted(SHIPPED)[i % len(SHIPPED)]
        path = tmp_path / f"m{i:04d}.yaml"
        path.write_text(mutate(name, rnd), encoding="utf-8", errors="surrogatepass")
        files.append(str(path))
    FUZZED["cli file"] += count
    runs = [["validate", *files]] + [["run", f, "--max-events", "1", "--quiet"] for f in files[:4]]
    for args in runs:
        done = subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True,
                              text=True, cwd=tmp_path, timeout=600)  # fmt: skip
        assert done.returncode in (0, 2), done.stderr[-2000:]
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_truncations_of_shipped_scenarios(tmp_path: Path, name: str) -> None:
    """Sixty truncation points through each shipped file: loaded or refused."""
    text = SHIPPED[name]
    for end in range(0, len(text), max(len(text) // 60, 1)):
        check_load(write(tmp_path, text[:end]), "truncation")

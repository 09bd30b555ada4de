"""The scenario file reference (``docs/scenarios.md``) against the schema it documents.

Convention: every scenario key is documented under a Markdown heading whose whole
text is its dotted path in backticks, for example ``### `network.retry.max```.
Keys that repeat under a name the user chooses use placeholders:

- ``services.<medical service>`` for medical_outpatient, medical_inpatient and
  pharmacy (they share one schema class), and ``services.pension_payout.<payout
  batch>`` for the three payout batches;
- ``policy.default.<service>`` and ``policy.provinces.<ID>.<service>`` for the
  keys of the ``policy`` mappings, and ``<ID>`` for the province ids of the
  library and payout mappings.

Distributions and rates are one-key mappings documented in their own sections,
so their inner fields (``mean``, ``cv``, ``value`` …) are not key paths.

Every ``yaml`` code block is checked: a complete scenario (one with every
required top-level key: ``name``, ``start``, ``horizon``) must validate on its
own; a fragment must validate once merged into the first complete scenario of
the file; a block whose first line starts with ``# invalid`` must be refused.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from sim.scenario import ScenarioError, parse_scenario
from sim.scenario.card_services import PayoutBatchSpec
from sim.scenario.loader import read_yaml
from sim.scenario.schema import MedicalService, PolicyRule, Scenario

DOC = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"

CLASS_PLACEHOLDERS: dict[type, str] = {
    MedicalService: "<medical service>",
    PayoutBatchSpec: "<payout batch>",
}
"""Fields of these classes are documented once, under a placeholder name."""

DICT_PLACEHOLDERS = {
    "policy.default": "<service>",
    "policy.provinces": "<ID>",
    "policy.provinces.<ID>": "<service>",
    "policy.catalogue.default": "<service>",
    "policy.catalogue.provinces": "<ID>",
    "policy.catalogue.provinces.<ID>": "<service>",
    "population.inflow": "<ID>",
    "population.outflow": "<ID>",
    "services.library.libraries.provinces": "<ID>",
    "services.library.interconnection.libraries": "<ID>",
    "services.pension_payout.paydays": "<ID>",
    "services.pension_payout.bank.provinces": "<ID>",
}
"""Placeholder for the user-chosen keys of each ``dict`` in the schema."""

WHOLE: frozenset[type] = frozenset({PolicyRule})
"""Sections an example gives whole (a rule's ``ratio`` and ``ratios`` exclude each other)."""

REQUIRED_TOP_LEVEL = frozenset(
    f.name for f in attrs.fields(Scenario) if f.default is attrs.NOTHING
)
"""Top-level keys without a default: an example with all of them is a complete scenario."""

_HEADING = re.compile(r"^#{1,6}\s+`([^`]+)`\s*$", re.MULTILINE)
_YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _options(tp: Any) -> tuple[Any, ...]:
    """The alternatives of a type, without ``None`` (a plain type is its only option)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return tuple(o for o in typing.get_args(tp) if o is not type(None))
    return (tp,)


def _is_tagged(tp: Any) -> bool:
    """A one-key mapping such as ``{exponential: {mean: 4min}}`` (distribution, rate)."""
    return attrs.has(tp) and hasattr(tp, "TAG")


def _key_paths(tp: Any, path: str) -> Iterator[str]:
    """Dotted key paths below ``path`` for a schema type (placeholders for free keys)."""
    for option in _options(tp):
        if attrs.has(option) and not _is_tagged(option):
            hints = typing.get_type_hints(option)
            for field in attrs.fields(option):
                sub_options = _options(hints[field.name])
                name = next(
                    (CLASS_PLACEHOLDERS[o] for o in sub_options if o in CLASS_PLACEHOLDERS),
                    field.name,
                )
                child = f"{path}.{name}" if path else name
                yield child
                yield from _key_paths(hints[field.name], child)
        elif typing.get_origin(option) is dict:
            child = f"{path}.{DICT_PLACEHOLDERS.get(path, '<key>')}"
            yield child
            yield from _key_paths(typing.get_args(option)[1], child)
        elif typing.get_origin(option) is tuple:
            yield from _key_paths(typing.get_args(option)[0], path)


def schema_key_paths() -> set[str]:
    """Every key path a scenario file can hold, as documented in ``docs/scenarios.md``."""
    return set(_key_paths(Scenario, ""))


def documented_key_paths(text: str) -> list[str]:
    """Key paths documented in the reference: headings that are one backticked path."""
    return _HEADING.findall(text)


def is_complete(raw: Any) -> bool:
    """Whether a parsed example is a whole scenario rather than a fragment."""
    return isinstance(raw, dict) and raw.keys() >= REQUIRED_TOP_LEVEL


def yaml_examples(text: str) -> list[str]:
    """The bodies of the ``yaml`` code blocks of a Markdown text, in order."""
    return _YAML_BLOCK.findall(text)


def merge(base: Any, fragment: Any, tp: Any = Scenario) -> Any:
    """``fragment`` laid over ``base`` key by key; values that are not sections replace."""
    if not (isinstance(base, dict) and isinstance(fragment, dict)):
        return fragment
    if any(o in WHOLE for o in _options(tp)):
        return fragment  # a policy rule in an example is complete: it replaces the base's
    sections = [o for o in _options(tp) if attrs.has(o) and not _is_tagged(o)]
    mappings = [o for o in _options(tp) if typing.get_origin(o) is dict]
    if not sections and not mappings:
        return fragment  # a distribution, rate or profile: the fragment's value wins
    merged = dict(base)
    for key, value in fragment.items():
        if sections:
            hints = typing.get_type_hints(sections[0])
            sub = hints.get(key)
        else:
            sub = typing.get_args(mappings[0])[1]
        merged[key] = merge(base.get(key), value, sub) if sub is not None else value
    return merged


@pytest.fixture(scope="module")
def doc() -> str:
    """The text of ``docs/scenarios.md``."""
    return DOC.read_text(encoding="utf-8")


def test_schema_walk_finds_nested_and_placeholder_keys() -> None:
    """The walk reaches sections, dict placeholders and node specs, not distribution fields."""
    paths = schema_key_paths()
    for expected in (
        "name",
        "population.holders",
        "services.<medical service>.points.service_time",
        "services.<medical service>.settlement.service_time",
        "network.card_platform.servers",
        "network.backbone.latency",
        "network.retry.backoff",
        "policy.default.<service>.ceiling",
        "policy.provinces.<ID>.<service>.ratio",
        "outputs.sample_every",
    ):
        assert expected in paths
    assert not any(p.endswith((".mean", ".cv", ".value", ".low")) for p in paths)
    assert not any("medical_outpatient" in p for p in paths)


def test_every_schema_key_is_documented(doc: str) -> None:
    """Each key path of the schema has its own heading in docs/scenarios.md."""
    missing = sorted(schema_key_paths() - set(documented_key_paths(doc)))
    assert missing == [], f"undocumented scenario keys: {missing}"


def test_every_documented_key_exists_once(doc: str) -> None:
    """No heading documents a key the schema does not have, and none is documented twice."""
    documented = documented_key_paths(doc)
    unknown = sorted(set(documented) - schema_key_paths())
    assert unknown == [], f"documented keys that are not in the schema: {unknown}"
    repeated = sorted({p for p in documented if documented.count(p) > 1})
    assert repeated == [], f"keys documented more than once: {repeated}"


def test_yaml_examples_are_valid(doc: str) -> None:
    """Complete examples validate; fragments validate merged into the first complete one.

    Blocks marked ``# invalid`` on their first line must be refused instead.
    """
    bodies = yaml_examples(doc)
    sources = [f"docs/scenarios.md yaml block #{i}" for i in range(len(bodies))]
    examples = [read_yaml(body, source) for body, source in zip(bodies, sources, strict=True)]
    complete = [raw for raw in examples if is_complete(raw)]
    assert complete, "docs/scenarios.md has no complete scenario example"
    for body, source, raw in zip(bodies, sources, examples, strict=True):
        scenario = raw if is_complete(raw) else merge(complete[0], raw)
        if body.startswith("# invalid"):
            with pytest.raises(ScenarioError):
                parse_scenario(scenario, source)
            continue
        try:
            parse_scenario(scenario, source)
        except ScenarioError as exc:
            pytest.fail(f"{exc.report()}\n--- block ---\n{body}")


ROOT = DOC.parents[1]
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _markdown_pages() -> list[Path]:
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        ROOT / "notebooks" / "README.md",
    ]


@pytest.mark.parametrize("page", _markdown_pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page: Path) -> None:
    """Every relative link of README.md and docs/*.md names a file of the repository."""
    text = page.read_text(encoding="utf-8")
    targets = [t.split("#")[0] for t in _LINK.findall(text) if not t.startswith(("http", "#"))]
    broken = [t for t in targets if not (page.parent / t).resolve().is_relative_to(ROOT)
              or not (page.parent / t).exists()]  # fmt: skip
    assert broken == [], f"{page.name}: links to missing files: {broken}"


def test_the_repository_stands_alone() -> None:
    """Docs, scenarios and data cite docs/calibration.md, not files outside the repository."""
    files = [*_markdown_pages(), *sorted((ROOT / "scenarios").rglob("*.yaml")),
             *sorted((ROOT / "sim" / "data").glob("*.csv"))]  # fmt: skip
    pattern = re.compile(r"\.\./shared|CALIBRATION\.md")
    outside = [f.relative_to(ROOT).as_posix() for f in files
               if pattern.search(f.read_text(encoding="utf-8"))]  # fmt: skip
    assert outside == []
    assert (ROOT / "docs" / "calibration.md").is_file()


def test_calibration_doc_names_tests_that_exist() -> None:
    """Each `tests/…py::test_name` docs/calibration.md cites is a test function of that file."""
    text = (ROOT / "docs" / "calibration.md").read_text(encoding="utf-8")
    cited = _TEST_REF.findall(text)
    assert len(cited) >= 6
    missing = [f"{path}::{name}" for path, name in cited
               if f"def {name}(" not in (ROOT / path).read_text(encoding="utf-8")]  # fmt: skip
    assert missing == []


def test_license_is_the_mit_licence_pyproject_names() -> None:
    """LICENSE holds the MIT text with the project's copyright line, as pyproject says."""
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the sscard-sim authors\n")
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text
    assert 'license = { text = "MIT" }' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_every_transaction_column_is_in_the_readme() -> None:
    """The README's outputs table names every column of transactions.parquet (outputs.record)."""
    from sim.outputs.record import COLUMNS
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `transactions.parquet`"))
    missing = [c.name for c in COLUMNS if f"`{c.name}`" not in row]
    assert missing == [], f"README's transactions.parquet row lacks {missing}"

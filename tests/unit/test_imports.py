"""The import graph of ``sim/``: no circles, and the layer rules the design sets.

Imports are read from the source with ``ast`` (nothing is imported), including
those under ``TYPE_CHECKING`` and inside functions: a circle hidden in a function
is still a circle in the design.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

SIM = Path(__file__).resolve().parents[2] / "sim"


def _modules() -> dict[str, Path]:
    out = {}
    for path in SIM.rglob("*.py"):
        parts = path.relative_to(SIM.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


@functools.cache
def _graph() -> dict[str, set[str]]:
    """Module -> the modules of ``sim`` it imports (a package stands for its ``__init__``)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]  # fmt: skip
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def _circles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """Strongly connected sets of more than one module, ignoring package ``__init__`` files
    (a package re-exporting its submodules is not a circle of the design)."""
    packages = {n for n in graph if (SIM.parent / n.replace(".", "/") / "__init__.py").exists()}
    edges = {n: graph[n] - packages for n in graph if n not in packages}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: set[frozenset[str]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            members = set()
            while True:
                w = stack.pop()
                members.add(w)
                if w == v:
                    break
            if len(members) > 1:
                found.add(frozenset(members))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles_in_sim() -> None:
    """No two modules of ``sim/`` import each other, directly or round a loop (before:
    network <-> protocol <-> settlement, cli <-> experiment.commands, pension <-> withdrawals,
    scenario.schema <-> scenario.card_services)."""
    circles = [sorted(c) for c in _circles(_graph())]
    assert circles == [], f"import circles in sim/: {circles}"


def test_the_finder_sees_imports_in_functions_and_loops() -> None:
    """The check itself: the CLI's deferred import of the commands counts; loops are found."""
    assert "sim.experiment.commands" in _graph()["sim.cli.main"]
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == {frozenset({"a", "b", "c"})}


def _reachable(start: str) -> set[str]:
    graph, seen, todo = _graph(), set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += graph[name]
    return seen


def test_a_run_does_not_import_the_validation_layer() -> None:
    """Building and running a model reaches no module of ``sim.validation`` (before: the
    model imported ``sim.validation.nodes`` for the Erlang-C column of every summary)."""
    layer = sorted(m for m in _reachable("sim.run.model") if m.startswith("sim.validation"))
    assert layer == [], f"sim.run.model reaches the validation layer: {layer}"

"""The layout by role holds: packages depend one way, and production code never needs a driver.

A package here is a folder under services/segmad (or a top-level module). Every import counts,
also one inside a function: a lazy import is still a dependency a newcomer has to follow.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import segmad

ROOT = Path(segmad.__file__).parent
DRIVERS = {"demo", "e2e", "bench", "study", "examples"}  # runs and measurements; production never imports them


def _package_of(path: Path) -> str:
    parts = path.relative_to(ROOT).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    """The segmad packages a module imports (`from segmad import x` names x)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = ([f"segmad.{a.name}" for a in node.names] if node.module == "segmad" else [node.module])
        else:
            continue
        found |= {name.split(".")[1] for name in names if name.startswith("segmad.")}
    return found


def package_graph() -> dict[str, set[str]]:
    """package -> the other packages its modules import."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts or "proto" in path.relative_to(ROOT).parts[:1]:
            continue
        package = _package_of(path)
        graph[package] |= _imports(path) - {package}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_package_imports_a_package_that_depends_on_it():
    assert cycles(package_graph()) == []


def test_production_code_never_imports_a_driver():
    graph = package_graph()
    offenders = {p: sorted(graph[p] & DRIVERS) for p in graph if p not in DRIVERS and graph[p] & DRIVERS}
    assert offenders == {}


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []

"""No import circles among billdb's modules (read statically with ast, nothing imported).

Every import counts, at module level or inside a function: a deferred import is how a circle
hides, and it still couples the two modules both ways.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path = SRC / "billdb") -> dict[str, set[str]]:
    files = {_module_name(p): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, *([base] if base else [])])
                # `from pkg import mod` imports the submodule when there is one
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base
                           for a in node.names]
            for t in targets:
                while t and t not in files:
                    t = t.rpartition(".")[0]
                # importing a package's submodule does not import its children's importers
                if t and t != mod and not mod.startswith(t + "."):
                    graph[mod].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


@pytest.mark.unit
def test_the_finder_sees_a_circle(tmp_path):
    pkg = tmp_path / "billdb"
    (pkg / "cli").mkdir(parents=True)
    for f in ("__init__.py", "cli/__init__.py"):
        (pkg / f).write_text("")
    (pkg / "cli" / "main.py").write_text("from billdb.cli import sub\n")
    (pkg / "cli" / "sub.py").write_text("def f():\n    from .main import app\n")
    global SRC
    old, SRC = SRC, tmp_path
    try:
        assert cycles(import_graph(pkg)) == [["billdb.cli.main", "billdb.cli.sub"]]
    finally:
        SRC = old


@pytest.mark.unit
def test_no_import_circles_in_billdb():
    graph = import_graph()
    assert len(graph) > 100
    assert cycles(graph) == []

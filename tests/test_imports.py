"""No import circles among billdb's modules, and packages that only import their own layer or
the layers below (read statically with ast, nothing imported).

Every import counts, at module level or inside a function: a deferred import is how a circle
hides, and it still couples the two modules both ways. docs/architecture.md draws the layers.
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


# billdb's packages (and top-level modules), bottom to top: a module may import its own layer
# and the layers below it, never one above (docs/architecture.md). A new package must be
# placed here before it can be imported.
LAYERS: tuple[frozenset[str], ...] = tuple(frozenset(layer.split()) for layer in (
    "billdb errors internal fsutil retry times scram logsetup sql data layout backup_layout "
    "secret_volume",
    "plan",
    "render",
    "engines",
    "context",
    "state",  # the live system read into shared values: cluster, pg values, scratch server
    "converge",
    "appconfig client",  # what the service itself runs, and its configuration
    "ops",
    "monitoring operations azure lint cost cost_meters cost_refresh",  # the satellites
    "cli",  # the composition root (cli.satellites) and the commands
))


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    rank = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}
    bad = []
    for mod, targets in sorted(graph.items()):
        for t in sorted(targets):
            a, b = _package(mod), _package(t)
            if a not in rank or b not in rank:
                bad.append(f"{mod} -> {t}: {a if a not in rank else b} is in no layer")
            elif rank[b] > rank[a]:
                bad.append(f"{mod} ({a}) imports {t} ({b}), a layer above")
    return bad


@pytest.mark.unit
def test_packages_only_import_their_layer_or_below():
    assert upward_imports(import_graph()) == []


@pytest.mark.unit
def test_the_layer_check_sees_an_upward_import():
    graph = {"billdb.converge.parameters": {"billdb.ops.status", "billdb.state.cluster"},
             "billdb.ops.status": {"billdb.newpkg.x"}}
    assert upward_imports(graph) == [
        "billdb.converge.parameters (converge) imports billdb.ops.status (ops), a layer above",
        "billdb.ops.status -> billdb.newpkg.x: newpkg is in no layer"]

"""The import graph of the three packages: no cycle among the project's modules, and no import
that runs upward. The layers, bottom to top:

* ``zc_proxies``: the proxies, the generic :class:`~zc_proxies.registry.Registry` and the error
  base class; imports nothing from the other two packages.
* ``search_spaces``: spaces, input data, ground-truth readers; imports from ``zc_proxies`` only
  the shared foundation (``zc_proxies.registry``, ``zc_proxies.errors``), never a proxy.
* ``experiments``: configs, the runner, the store, the reports, the CLI; may import both.

Imports inside functions count as much as those at the top of a module: a lazy import still
ties the two modules together, and a relative import (``from .config import x``) counts as the
absolute one it stands for. Subpackages (``experiments/search/``, ``experiments/benchmarks/``) are
modules like any other: their ``__init__`` imports its modules, so a module of the subpackage that
imports the subpackage itself closes a cycle. Read from the source (``ast``), so nothing is
imported here.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("zc_proxies", "search_spaces", "experiments")  # bottom to top
FOUNDATION = {"zc_proxies", "zc_proxies.registry", "zc_proxies.errors"}  # what search_spaces may use
# a module kept only so that old imports keep working, with why; it may reach upward
COMPAT = {"zc_proxies.testing": "re-exports experiments.conformance for plugin authors' existing "
                                "`from experiments.conformance import check_proxy`"}


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(path: Path, known: set[str], name: str = "") -> set[str]:
    """The project modules that ``path`` (the module ``name``) imports (``from a.b import c`` is
    a.b.c when that is a module, else a.b; a relative import is resolved against ``name``)."""
    found = set()
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or node.level):
            module = node.module
            if node.level:  # from . import x, from ..a import b
                base = package[:len(package) - (node.level - 1)] if node.level - 1 <= len(package) else []
                module = ".".join(base + ([node.module] if node.module else []))
            names = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
        else:
            continue
        found |= {n for n in names if n.split(".")[0] in PACKAGES}
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    edges = {}
    for name, path in mods.items():
        # importing a package's own __init__ from inside it is not an edge worth a cycle
        edges[name] = {m for m in imports(path, known, name) if m in known and m != name
                       and not (name.startswith(m + ".") and m in PACKAGES)}
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def upward(edges: dict[str, set[str]]) -> list[str]:
    level = {p: i for i, p in enumerate(PACKAGES)}
    bad = []
    for src, targets in edges.items():
        if src in COMPAT:
            continue
        for dst in targets:
            a, b = level[src.split(".")[0]], level[dst.split(".")[0]]
            if b > a or (src.startswith("search_spaces") and dst.startswith("zc_proxies")
                         and dst not in FOUNDATION):
                bad.append(f"{src} -> {dst}")
    return sorted(bad)


def test_the_project_has_no_import_cycle():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_module_imports_upward():
    assert upward(graph()) == []


def test_the_checks_catch_a_cycle_and_an_upward_import():
    """The two checks fail on the faults they look for (so a passing run means something)."""
    edges = {"experiments.a": {"experiments.b"}, "experiments.b": {"experiments.a"},
             "zc_proxies.x": {"search_spaces.y"}, "search_spaces.y": {"zc_proxies.swap"},
             "search_spaces.z": {"zc_proxies.registry"}}
    assert find_cycle(edges) == ["experiments.a", "experiments.b", "experiments.a"]
    assert upward(edges) == ["search_spaces.y -> zc_proxies.swap", "zc_proxies.x -> search_spaces.y"]


def test_the_compatibility_modules_are_only_re_exports():
    """A module excused from the layering holds no code of its own: only imports and a docstring."""
    for name in COMPAT:
        path = modules()[name]
        body = ast.parse(path.read_text()).body
        kinds = {type(n).__name__ for n in body[1:]}
        assert kinds <= {"ImportFrom", "Import"}, (name, kinds)


def test_relative_imports_and_subpackages_are_seen(tmp_path):
    """``from .b import f`` in a.sub.c is an edge to a.sub.b, ``from .. import x`` one to a; and
    the modules of a subpackage, such as experiments/search/, are nodes of the graph."""
    (tmp_path / "c.py").write_text("from .b import f\nfrom .. import x\nfrom . import d\n")
    known = {"experiments.sub.b", "experiments.sub.d", "experiments"}
    assert imports(tmp_path / "c.py", known, "experiments.sub.c") == {"experiments.sub.b", "experiments",
                                                                      "experiments.sub.d"}
    edges = graph()
    assert "experiments.search.run" in edges["experiments.search"]
    assert "experiments.search.evolution" in edges["experiments.search.run"]

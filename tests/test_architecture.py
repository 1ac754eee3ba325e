"""The package layout is the architecture: checked by reading every import.

Every ``import impsy...`` in ``impsy/`` counts, at the top of a module, inside
a function or under ``TYPE_CHECKING`` alike: a type-only import is still a
dependency a reader has to follow. Three rules:

- the packages stand in layers, and each imports only from layers below it
  (``impsy.app``, the composition root, is the only module that knows every
  part; the engine knows no adapter, feature or front end);
- no module imports itself back through others (no import cycle);
- the engine package imports nothing from io, sequencer, web, cli or app.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.paths import ROOT

PACKAGE = ROOT / "impsy"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("impsy", "impsy.errors", "impsy.ratelimit", "impsy.clock"),
    ("impsy.mapping",),
    ("impsy.config",),
    ("impsy.dataset",),
    ("impsy.model",),
    ("impsy.engine",),
    ("impsy.io", "impsy.training"),
    ("impsy.sequencer", "impsy.conformance", "impsy.studio"),
    ("impsy.web",),
    ("impsy.app",),
    ("impsy.cli",),
    ("impsy.__main__",),
)
"""Bottom to top: a package may import its own modules and those of lower layers."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def resolve(name: str) -> str:
    """The module an imported name lives in: the longest prefix that is a module."""
    parts = name.split(".")
    while parts and ".".join(parts) not in MODULES:
        parts.pop()
    return ".".join(parts)


def imports_of(module: str) -> set[str]:
    """Every impsy module ``module`` imports, wherever the import statement stands."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {resolve(name) for name in names if name.split(".")[0] == "impsy"}
    found.discard(module)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def layer_of(module: str) -> int:
    """The layer of the longest listed package that contains ``module``."""
    best, best_length = None, -1
    for index, layer in enumerate(LAYERS):
        for package in layer:
            if (module == package or module.startswith(package + ".")) and len(
                package
            ) > best_length:
                best, best_length = index, len(package)
    assert best is not None, f"{module} is in no layer: add its package to LAYERS"
    return best


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_every_module_is_read_and_imports_were_found():
    assert len(MODULES) > 120
    assert "impsy.engine.core" in GRAPH["impsy.app"], "the reader sees imports inside functions"
    assert "impsy.engine.ports" in GRAPH["impsy.io.osc"]


def test_each_package_imports_only_from_the_layers_below_it():
    wrong = []
    for module, imported in sorted(GRAPH.items()):
        for other in sorted(imported):
            if package_of(module) == package_of(other) and module != "impsy":
                continue
            if layer_of(other) >= layer_of(module) and other != "impsy":
                wrong.append(f"{module} -> {other}")
    assert not wrong, "imports from the same or a higher layer:\n" + "\n".join(wrong)


def test_the_engine_imports_no_adapter_feature_or_front_end():
    forbidden = ("impsy.io", "impsy.sequencer", "impsy.web", "impsy.cli", "impsy.app")
    wrong = [
        f"{module} -> {other}"
        for module, imported in GRAPH.items()
        if module.startswith("impsy.engine")
        for other in imported
        if other.startswith(forbidden)
    ]
    assert not wrong, "\n".join(sorted(wrong))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]

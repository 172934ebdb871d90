"""The layer contract: every module imports only the layers below it, and no module
is part of an import circle.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``, layer order in
``docs/internals.md``); import-linter checks them here and in CI (``lint-imports``).
The circle check walks grimp's import graph of the whole package, imports inside
functions and ``TYPE_CHECKING`` blocks included.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("ntphase", cache_dir=None)


def test_import_contracts_are_kept(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.find_modules_directly_imported_by(v)):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles(graph):
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_planted_cycle():
    # the check above can fail: plant a circle between two real modules (in a fresh graph)
    graph = grimp.build_graph("ntphase", cache_dir=None)
    graph.add_import(importer="ntphase.conventions", imported="ntphase.kernels.empirical")
    cycles = _cycles(graph)
    assert cycles and any({"ntphase.conventions", "ntphase.kernels.empirical"} <= set(c) for c in cycles)


@pytest.mark.parametrize("layer", ["ntphase.runtime", "ntphase.linalg"])
def test_layer_has_modules(graph, layer):
    # a contract on an empty or misspelled layer would pass vacuously
    assert graph.find_children(layer)

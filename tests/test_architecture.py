"""The layering is true: read from the imports of every module, not from the folder names.

Layers, lowest first: ``errors``, ``units``, ``files`` and ``parallel`` (modules), ``routing`` (pure), ``model``, ``cluster``,
``deploy``, ``reports``, ``advice``, ``cli``.  A module imports only from its
own layer or lower ones, at module level and inside functions alike; no
import cycle exists between modules; the routing core reaches no I/O.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from commandline import ROOT

PACKAGE = ROOT / "mongoshard"
LAYERS = ["errors", "units", "files", "parallel", "routing", "model", "cluster", "deploy", "reports", "advice", "cli"]
BOTTOM_MODULES = {"errors", "units", "files", "parallel"}
# Modules outside the layers: the lazy public API and the ``python -m`` entry point.
ENTRY_POINTS = {"mongoshard", "mongoshard.__main__"}
# What the pure routing core must not reach: clients, processes, files, networks, user interfaces.
IMPURE = {"pymongo", "mongoengine", "os", "pathlib", "socket", "subprocess", "shutil", "threading", "typer", "rich",
          "yaml", "importlib", "io", "tempfile", "urllib", "http"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it (TYPE_CHECKING and function bodies included)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # "from . import x" names a module
    return found


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {name: {target for target in _imports(path) if target in MODULES and target != name} for name, path in MODULES.items()}


def _layer(module: str) -> int:
    return LAYERS.index(module.split(".")[1])


@pytest.mark.parametrize("module", sorted(set(MODULES) - ENTRY_POINTS))
def test_a_module_imports_only_its_own_layer_or_lower_ones(module: str) -> None:
    upward = sorted(target for target in GRAPH[module] if target not in ENTRY_POINTS and _layer(target) > _layer(module))
    assert not upward, f"{module} ({LAYERS[_layer(module)]}) imports from higher layers: {upward}"


def test_the_layers_are_the_packages_folders() -> None:
    folders = {path.name for path in PACKAGE.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    assert folders == set(LAYERS) - BOTTOM_MODULES
    assert {m.split(".")[1] for m in MODULES if m not in ENTRY_POINTS} == set(LAYERS)


def test_no_import_cycle() -> None:
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "visiting"
        for target in sorted(GRAPH[module] - ENTRY_POINTS):
            if state.get(target) == "visiting":
                cycle = path[path.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(MODULES):
        if module not in state:
            visit(module, [module])


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("mongoshard.routing")))
def test_the_routing_core_does_no_io(module: str) -> None:
    external = {name.split(".")[0] for name in _imports(MODULES[module]) if not name.startswith("mongoshard")}
    assert not external & IMPURE, f"{module} imports {sorted(external & IMPURE)}"


def test_every_public_name_imports_from_the_package() -> None:
    # A fresh interpreter: nothing imported by other tests can hide a broken re-export.
    program = ("import mongoshard\n"
               "for name in mongoshard.__all__:\n"
               "    value = getattr(mongoshard, name)\n"
               "    assert name == '__version__' or value.__module__.startswith('mongoshard.'), name\n"
               "print(len(mongoshard.__all__))")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 35


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_holds_two_concepts(module: str) -> None:
    """A proxy, and a prompt to split: no module grows past a few hundred lines."""
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= 400, f"{module} has {lines} lines; split it by concept"

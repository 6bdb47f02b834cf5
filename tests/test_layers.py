"""The layers of docs/architecture.md, kept by walking every import (issue 11).

The map, in the words of docs/architecture.md:

- inventory: the domain, imports nothing of ours
- ground: pubnet/ except pubnet/app/ and pubnet/cli.py, imports only inventory
- components: collectors, exporters, alerting, dashboards, simulator; import ground and
  inventory, never each other, never the app
- app: pubnet/app/ and pubnet/cli.py, may import anything

and tests/, bench/ and testbed/ stand outside the layers: they may import anything, and
nothing shipped imports them (they are not installed with pubnet).

Every ``import`` and ``from ... import`` is read with :mod:`ast`, wherever it stands: at
the top, inside a function (a lazy import is still a dependency), under ``TYPE_CHECKING``
(a type-only import still ties the layers together), relative or absolute.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

INVENTORY = "inventory"
GROUND = "ground"
APP = "app"
OUTSIDE = "outside"
COMPONENTS = ("collectors", "exporters", "alerting", "dashboards", "simulator")
OUTSIDE_PACKAGES = ("tests", "bench", "testbed")
PRODUCT = ("pubnet", INVENTORY, *COMPONENTS)
OURS = (*PRODUCT, *OUTSIDE_PACKAGES)


def layer(module: str) -> str:
    """The layer of a dotted module name of ours (a component is its own name)."""
    parts = module.split(".")
    top = parts[0]
    if top == "pubnet":
        return APP if parts[1:2] in (["app"], ["cli"]) else GROUND
    if top == INVENTORY:
        return INVENTORY
    if top in COMPONENTS:
        return top
    return OUTSIDE


def allowed(importer: str, imported: str) -> bool:
    """Whether a module of layer ``importer`` may import one of layer ``imported``."""
    if imported == OUTSIDE:
        return importer == OUTSIDE  # nothing shipped imports what is not shipped
    if importer in (APP, OUTSIDE):
        return True
    if importer == INVENTORY:
        return imported == INVENTORY
    if importer == GROUND:
        return imported in (GROUND, INVENTORY)
    # a component: the ground, the inventory and itself
    return imported in (GROUND, INVENTORY, importer)


@dataclass(frozen=True, slots=True)
class Import:
    path: Path
    line: int
    importer: str
    """Dotted name of the importing module."""
    imported: str
    """Dotted name of the imported module (a submodule when ``from pkg import sub``)."""


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(root: Path, dotted: str) -> bool:
    base = root.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports(root: Path, path: Path) -> list[Import]:
    """Every import of ours in one file, wherever it stands in the file."""
    name = module_name(root, path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            # ``from pubnet import ber`` depends on pubnet.ber, not only on pubnet/__init__
            targets = [f"{module}.{a.name}" if _is_module(root, f"{module}.{a.name}")
                       else module for a in node.names]
        for target in dict.fromkeys(targets):  # ``from m import a, b``: m once
            if target.split(".")[0] in OURS:
                found.append(Import(path, node.lineno, name, target))
    return found


def violations(root: Path, packages: tuple[str, ...] = OURS) -> list[str]:
    """``file:line: module (layer) imports module (layer)`` for every import out of place."""
    problems = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if ".venv" in path.parts:
                continue
            for imp in imports(root, path):
                have, want = layer(imp.importer), layer(imp.imported)
                if not allowed(have, want):
                    problems.append(f"{imp.path.relative_to(root)}:{imp.line}: {imp.importer} "
                                    f"({have}) imports {imp.imported} ({want})")
    return problems


def test_the_layers_hold() -> None:
    assert violations(ROOT) == []


def test_bench_and_testbed_do_not_import_the_tests() -> None:
    """A benchmark measures the product with the shared servers of testbed/, so that a test
    can change without breaking a measurement."""
    found = [f"{imp.path.relative_to(ROOT)}:{imp.line}: {imp.imported}"
             for package in ("bench", "testbed")
             for path in sorted((ROOT / package).rglob("*.py"))
             for imp in imports(ROOT, path) if imp.imported.split(".")[0] == "tests"]
    assert found == []


def test_the_map_is_the_one_in_the_docs() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for package in (*PRODUCT, *OUTSIDE_PACKAGES):
        assert f"`{package}/`" in doc, package
    for phrase in ("nothing of ours", "never each other, never the app", "anything"):
        assert phrase in doc, phrase


@pytest.mark.parametrize(("module", "expected"), [
    ("pubnet.model", GROUND), ("pubnet", GROUND), ("pubnet.config.loading", GROUND),
    ("pubnet.app", APP), ("pubnet.app.web", APP), ("pubnet.cli", APP),
    ("pubnet.apple", GROUND), ("inventory.model", INVENTORY),
    ("collectors.snmp.poller", "collectors"), ("simulator", "simulator"),
    ("testbed.snmpd", OUTSIDE), ("tests.support", OUTSIDE),
], ids=["model", "package", "config", "app-package", "app-module", "cli",
        "name-starting-with-app", "inventory", "collector", "simulator", "testbed", "tests"])
def test_layer_of_a_module(module: str, expected: str) -> None:
    assert layer(module) == expected


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_the_walk_finds_every_kind_of_import(tmp_path: Path) -> None:
    """The checker itself: each wrong import below is found, wherever it hides."""
    root = _tree(tmp_path, {
        "pubnet/__init__.py": "",
        "pubnet/model.py": "",
        "pubnet/app/__init__.py": "",
        "pubnet/app/runtime.py": "import collectors.snmp\nfrom tests import support\n",
        "pubnet/cli.py": "from pubnet.app import runtime\n",
        "pubnet/state.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from pubnet.app.runtime import Context\n"),
        "inventory/__init__.py": "from pubnet import model\n",
        "collectors/__init__.py": "",
        "collectors/snmp/__init__.py": "from . import poller\nfrom ..snmp import poller as p\n",
        "collectors/snmp/poller.py": (
            "import pubnet.model\nfrom pubnet import model\n"
            "def build():\n    from exporters.prometheus import render\n"),
        "exporters/__init__.py": "",
        "exporters/prometheus/__init__.py": "",
        "exporters/prometheus/render.py": "from ...pubnet.app import runtime\n",
        "simulator/__init__.py": "from testbed.process import find_binary\n",
        "testbed/process.py": "import simulator\n",
    })
    assert sorted(violations(root)) == sorted([
        "pubnet/state.py:3: pubnet.state (ground) imports pubnet.app.runtime (app)",
        "inventory/__init__.py:1: inventory (inventory) imports pubnet.model (ground)",
        "collectors/snmp/poller.py:4: collectors.snmp.poller (collectors) imports "
        "exporters.prometheus.render (exporters)",
        "exporters/prometheus/render.py:1: exporters.prometheus.render (exporters) imports "
        "pubnet.app.runtime (app)",
        "simulator/__init__.py:1: simulator (simulator) imports testbed.process (outside)",
        "pubnet/app/runtime.py:2: pubnet.app.runtime (app) imports tests (outside)",
    ])

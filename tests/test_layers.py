"""The package's layers: a module imports only from its own layer or lower ones (imports inside functions and
under ``TYPE_CHECKING`` count too). ARCHITECTURE.md draws the same order."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "monitor"

# Lowest first. Packages on one line are independent of each other: neither imports the other.
LAYERS: list[tuple[str, ...]] = [
    ("core",),
    ("dedup",),
    ("tagging",),
    ("store",),
    ("ingest",),
    ("alerts", "web"),
    ("service",),
    ("evaluation",),
    ("cli",),
]
RANK = {name: (rank, i) for rank, names in enumerate(LAYERS) for i, name in enumerate(names)}


def imports(path: Path, package: str) -> set[str]:
    """The ``monitor.*`` modules a file imports, anywhere in it (relative imports resolved against ``package``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names)  # "from monitor import metrics"
    return {m for m in found if m == "monitor" or m.startswith("monitor.")}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None


def violations(root: Path) -> list[str]:
    """Every import of a higher layer, or of an independent neighbour, as "importer -> imported"."""
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent).with_suffix("")
        module = ".".join(relative.parts)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        mine = layer_of(module)
        if mine is None:
            continue
        for imported in sorted(imports(path, package.removesuffix(".__init__"))):
            theirs = layer_of(imported)
            if theirs is None or theirs == mine:
                continue
            (my_rank, _), (their_rank, _) = RANK[mine], RANK[theirs]
            if their_rank >= my_rank:
                found.append(f"{module} -> {imported}")
    return found


def test_no_module_imports_a_higher_layer() -> None:
    assert violations(PACKAGE) == []


def test_every_package_has_a_layer() -> None:
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert packages == set(RANK), "add the package to LAYERS (and ARCHITECTURE.md)"
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py", "__main__.py"]


@pytest.mark.parametrize(
    ("importer", "source", "expected"),
    [
        ("store/feeds.py", "from monitor.ingest.fetcher import Fetcher\n",
         ["monitor.store.feeds -> monitor.ingest.fetcher", "monitor.store.feeds -> monitor.ingest.fetcher.Fetcher"]),
        ("core/config.py", "def f():\n    import monitor.cli\n", ["monitor.core.config -> monitor.cli"]),
        ("web/pages.py", "from monitor import alerts\n", ["monitor.web.pages -> monitor.alerts"]),
        ("ingest/x.py", "from ..service import app\n",
         ["monitor.ingest.x -> monitor.service", "monitor.ingest.x -> monitor.service.app"]),
        ("tagging/y.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from monitor.store import Store\n",
         ["monitor.tagging.y -> monitor.store", "monitor.tagging.y -> monitor.store.Store"]),
        ("service/app.py", "from monitor.store import Store\nfrom monitor.web import app\nfrom . import daemon\n", []),
    ],
)
def test_the_rule_catches_upward_imports(tmp_path: Path, importer: str, source: str, expected: list[str]) -> None:
    file = tmp_path / "monitor" / importer
    file.parent.mkdir(parents=True)
    file.write_text(source)
    assert violations(tmp_path / "monitor") == expected


def package_graph(root: Path = PACKAGE) -> str:
    """The packages' import graph as a Mermaid diagram, lowest layer last (ARCHITECTURE.md holds a copy)."""
    edges: set[tuple[str, str]] = set()
    for path in sorted(root.rglob("*.py")):
        module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        mine = layer_of(module)
        for imported in imports(path, package.removesuffix(".__init__")):
            theirs = layer_of(imported)
            if mine and theirs and theirs != mine:
                edges.add((mine, theirs))
    order = [name for names in reversed(LAYERS) for name in names]
    ranked = sorted(edges, key=lambda e: (order.index(e[0]), order.index(e[1])))
    lines = ["flowchart TD"] + [f"    {a} --> {b}" for a, b in ranked]
    return "\n".join(lines) + "\n"


def test_architecture_md_draws_the_current_imports() -> None:
    text = (PACKAGE.parent / "ARCHITECTURE.md").read_text()
    drawn = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert drawn == package_graph(), "redraw it: python tests/test_layers.py"


if __name__ == "__main__":
    print(package_graph(), end="")

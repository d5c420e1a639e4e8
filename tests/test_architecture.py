"""The floors of ARCHITECTURE.md hold: what may import what, where streamlit lives, and the size limits that keep
pages thin and modules readable. A change that breaks the layering fails here, not in review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from effnets.ui import navigation

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "effnets"
CORE = {"cost", "shapes", "spec", "units", "report", "counting", "layer_table", "blocks", "models"}
"""The core floor: the cost model, specs, counting conventions, tracers, the block and model registries."""
ALLOWED = {
    "core": {"core"},
    "runtime": {"core", "runtime"},
    "networks": {"core", "runtime", "networks"},
    "analysis": {"core", "runtime", "networks", "analysis", "api"},
    "figures": {"core", "analysis", "figures"},
    "cli": {"core", "runtime", "networks", "analysis", "figures", "cli", "api"},
    "ui": {"core", "runtime", "networks", "analysis", "figures", "ui", "api"},
    "api": {"core", "runtime"},
    "entry": {"cli"},
}
"""Floor -> the floors it may import ("api" is effnets/__init__.py, "entry" is python -m effnets)."""


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _floor(module: str) -> str:
    parts = module.split(".")
    if module == "effnets":
        return "api"
    if parts[1] == "__main__":
        return "entry"
    return "core" if parts[1] in CORE else parts[1]


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "effnets":  # from effnets import cost, model_cost: each name is a module or the API
                out += [f"effnets.{a.name}" if (LIB / f"{a.name}.py").exists() or (LIB / a.name).is_dir()
                        else "effnets" for a in node.names]  # fmt: skip
            else:
                out.append(node.module)
    return out


LIBRARY = sorted(LIB.rglob("*.py"))


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_floor_imports_only_the_floors_below_it(path):
    floor = _floor(_module(path))
    for target in _imports(path):
        if target.split(".")[0] == "streamlit":
            assert floor == "ui", f"{_module(path)} imports streamlit: only effnets/ui may"
        if target.split(".")[0] == "effnets":
            assert _floor(target) in ALLOWED[floor], f"{_module(path)} ({floor}) imports {target} ({_floor(target)})"


def test_cli_verbs_import_only_the_shared_cli_module():
    for path in (LIB / "cli").glob("*.py"):
        if path.name != "__init__.py":
            bad = [t for t in _imports(path) if t == "effnets.cli"]
            assert not bad, f"{path.name} imports effnets.cli (a cycle): import effnets.cli.common instead"


def test_no_library_module_is_over_600_lines_and_the_top_floor_stays_small():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in LIBRARY}
    assert max(sizes.values()) <= 600, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
    top = [p.name for p in LIB.glob("*.py")]
    assert len(top) <= 12, top


@pytest.mark.parametrize("entry", navigation.PAGES, ids=lambda e: e.file)
def test_pages_are_thin(entry):
    path = ROOT / entry.file
    lines = path.read_text().splitlines()
    assert len(lines) <= 180, f"{entry.file} has {len(lines)} lines (a page reads its schema, calls effnets, renders)"
    heavy = {t.split(".")[0] for t in _imports(path)} & {"torch", "numpy", "PIL", "torchvision"}
    assert not heavy, f"{entry.file} imports {heavy}: computations belong in effnets/"
    assert "query_params" not in path.read_text(), f"{entry.file} reads the link itself (use effnets.ui.state)"


def test_every_page_file_is_in_the_navigation():
    files = {p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py")}
    assert files == {e.file for e in navigation.PAGES}

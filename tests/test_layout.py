"""The house's rules, checked: imports flow one way, every package says what it holds, no function hides a module."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import mae_ort

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "mae_ort"

BASE = {"errors", "_checks", "_system", "_progress", "_workers", "_files", "_version", "_hold"}
#: What each part of the package may import of mae-ort (its own part always).
ALLOWED = {
    "errors": set(),
    "_checks": {"errors"},
    "_system": {"errors"},
    "_progress": {"errors"},
    "_workers": {"errors", "_system"},
    "_files": set(),
    "_version": set(),
    "_hold": set(),
    "data": {"errors", "_checks"},
    "long_format": {"errors", "_checks", "data"},
    "model": BASE | {"data"},
    "runtimes": BASE | {"data", "model", "kernels"},
    "sampling": BASE | {"data", "model", "runtimes", "kernels"},
    "results": BASE | {"data", "model", "sampling"},
    "screening": BASE | {"data", "long_format", "model", "runtimes", "sampling", "results"},
    "search": BASE | {"data", "model", "runtimes", "sampling", "results", "screening", "study"},
    "study": BASE | {"data", "model", "runtimes", "sampling", "results", "screening"},
    "integrations": BASE | {"data", "model", "runtimes", "sampling", "results", "screening", "search", "study"},
    "cli": BASE | {"data", "long_format", "model", "runtimes", "sampling", "results", "screening", "search", "study",
                   "kernels"},
}


def _part(module: str) -> str:
    """``mae_ort.sampling.stats`` -> ``sampling``."""
    return module.split(".")[1] if module.count(".") >= 1 else ""


def _imports(path: Path, module: str) -> set[str]:
    """Every mae_ort module that ``path`` imports (at the top or inside functions)."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("mae_ort"):
                out.add(target)
                if node.module is None or target == "mae_ort":
                    out.update(f"{target}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("mae_ort"))
    return out


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield path, ".".join(parts)


@pytest.mark.parametrize("path,module", list(_modules()), ids=lambda v: str(v) if isinstance(v, str) else "")
def test_imports_flow_one_way(path, module):
    part = _part(module)
    if part in ("", "__main__"):
        return  # the top-level API gathers everything
    allowed = ALLOWED[part] | {part}
    bad = sorted(m for m in _imports(path, module) if m != "mae_ort" and _part(m) not in allowed)
    assert not bad, f"{module} reaches {bad}; {part} may import only {sorted(allowed)}"


def test_kernels_are_a_leaf():
    own = {p.stem for p in (ROOT / "kernels").glob("*.py")} - {"__init__"}
    assert {"forward", "random"} <= own
    for path in sorted((ROOT / "kernels").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert (node.module or "").split(".")[0] in own | {""}, (path, node.module)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.startswith(("mae_ort", "kernels")) for n in names), (path, names)


def test_every_package_says_what_it_holds_and_must_not_import():
    for info in pkgutil.iter_modules(mae_ort.__path__):
        if not info.ispkg or info.name == "kernels":
            continue
        doc = importlib.import_module(f"mae_ort.{info.name}").__doc__ or ""
        assert "Holds" in doc and "Must not" in doc, info.name


def test_no_function_shadows_a_module():
    """In mae_ort and every package of it, a public name that is also a submodule's name is that module (no
    function hides a module), and no module is made callable."""
    import sys
    import types

    for path, module in _modules():
        if path.name != "__init__.py":
            continue
        pkg = importlib.import_module(module)
        assert type(pkg) is types.ModuleType, f"{module} is made callable"
        for name in getattr(pkg, "__all__", []):
            there = path.parent / name
            if (there.with_suffix(".py")).exists() or there.is_dir():
                obj = getattr(pkg, name)
                assert obj is sys.modules[f"{module}.{name}"], f"{module}.{name} hides the module of that name"


def test_every_package_is_in_the_readme_layout_table():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Layout"):]
    for info in pkgutil.iter_modules(mae_ort.__path__):
        if info.ispkg and info.name != "kernels":
            assert f"`mae_ort/{info.name}/`" in table, info.name
    assert "`kernels/`" in table


def test_every_package_is_listed_for_the_wheel():
    import re

    text = (ROOT / "pyproject.toml").read_text()
    listed = set(re.findall(r'"([\w.]+)"', re.search(r"^packages = \[(.*?)\]", text, re.S | re.M).group(1)))
    found = {"mae_ort"} | {f"mae_ort.{i.name}" for i in pkgutil.iter_modules(mae_ort.__path__) if i.ispkg}
    assert found <= listed, sorted(found - listed)


def test_bench_modules_import_no_circle():
    """No two modules of bench/ import each other, directly or through others (at the top or in functions)."""
    bench = ROOT / "bench"
    graph = {}
    for path in sorted(bench.glob("*.py")):
        out = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bench"):
                mods = [node.module] if node.module != "bench" else [f"bench.{a.name}" for a in node.names]
                out.update(m for m in mods if (ROOT / f"{m.replace('.', '/')}.py").exists())
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names if a.name.startswith("bench."))
        graph[f"bench.{path.stem}"] = out - {f"bench.{path.stem}"}

    def reach(start):
        seen, todo = set(), list(graph.get(start, ()))
        while todo:
            m = todo.pop()
            if m not in seen:
                seen.add(m)
                todo.extend(graph.get(m, ()))
        return seen

    circles = sorted(m for m in graph if m in reach(m))
    assert not circles, circles

"""igym_core/runtime must run unchanged in Pyodide: standard library only, no clocks, no I/O."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

RUNTIME = Path(__file__).resolve().parents[2] / "igym_core" / "runtime"
FORBIDDEN = {
    "time", "datetime", "threading", "multiprocessing", "concurrent", "asyncio", "socket",
    "subprocess", "os", "io", "pathlib", "secrets", "uuid", "numpy",
}  # fmt: skip


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


MODULES = sorted(p for p in RUNTIME.glob("*.py") if p.name != "adapter.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_runtime_modules_use_only_the_standard_library(path: Path) -> None:
    for name in imports(path):
        top = name.split(".")[0]
        if name.startswith("igym_core.runtime") or top == "__future__":
            continue
        assert top in sys.stdlib_module_names, f"{path.name} imports {name}"
        assert top not in FORBIDDEN, f"{path.name} imports {name} (clock, I/O or threads)"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_randomness_is_always_seeded(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value
            if isinstance(target, ast.Name) and target.id == "random":
                assert node.func.attr == "Random" and node.args, (
                    f"{path.name}:{node.lineno} uses the process-wide random generator"
                )

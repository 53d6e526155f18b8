"""Every ``collage`` import in benchmarks/ and scripts/ names a module and attribute that exist.

The benchmarks are not run by the tests (they are slow), so a moved or renamed library
function would otherwise break them silently.
"""

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted([*ROOT.glob("benchmarks/*.py"), *ROOT.glob("scripts/*.py")])


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "collage":
                    yield node.lineno, a.name, None
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "collage":
            for a in node.names:
                yield node.lineno, node.module, a.name


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_collage_imports_resolve(path):
    for line, module, name in _imports(path):
        mod = importlib.import_module(module)  # ModuleNotFoundError names the module
        if name is not None and name != "*" and not hasattr(mod, name):
            importlib.import_module(f"{module}.{name}")  # a submodule; else this raises, naming it

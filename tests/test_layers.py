"""The import layers hold: the import-linter contracts in pyproject.toml pass on the real tree and fail on a
copy of it with a wrong import, and no two collage modules import each other, directly or through others.

Run as a script (``python tests/test_layers.py``), this file prints the import cycles among the ``collage``
modules found on ``sys.path`` as JSON (the tests run it on a copy of the package).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "collage"
LAYERS = "Layers: cli > evaluation > training"
LIBRARY = "The library never imports training or evaluation code"
CLI = "In the CLI only collage.cli.train imports training"


def import_cycles(package: str = "collage") -> list[list[str]]:
    """The strongly connected components of more than one module in ``package``'s import graph (grimp's: a
    ``from pkg import submodule`` counts as importing the submodule; imports inside functions count too)."""
    import grimp

    graph = grimp.build_graph(package, cache_dir=None)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    for start in sorted(edges):  # Tarjan's algorithm, iterative
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = len(index)
                stack.append(v)
                on_stack.add(v)
            recursed = False
            for j in range(i, len(edges[v])):
                w = edges[v][j]
                if w not in index:
                    work.append((v, j + 1))
                    work.append((w, 0))
                    recursed = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if recursed:
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
    return sorted(out)


def _lint_imports(pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    cmd = [str(exe)] if exe.exists() else [shutil.which("lint-imports") or "lint-imports"]
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([*cmd, "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def _copy_with(tmp_path: Path, module: str, line: str) -> Path:
    """A copy of the package's sources under ``tmp_path`` with ``line`` appended to ``module``'s file."""
    dest = tmp_path / "collage"
    shutil.copytree(SRC, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pt", "*.json", "*.mid"))
    path = dest.joinpath(*module.split(".")[1:]).with_suffix(".py")
    if not path.exists():
        path = path.with_suffix("") / "__init__.py"
    path.write_text(path.read_text() + f"\n{line}  # wrong on purpose\n")
    return tmp_path


def _broken(output: str) -> set[str]:
    """The contracts that lint-imports' summary reports BROKEN (a long name wraps over lines there)."""
    text = " ".join(output.split())
    out = set()
    for name in (LAYERS, LIBRARY, CLI, "No import cycles"):
        m = re.search(re.escape(name) + r".*?\b(KEPT|BROKEN)\b", text)
        if m and m.group(1) == "BROKEN":
            out.add(name)
    return out


def test_the_real_tree_keeps_every_contract():
    res = _lint_imports()
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 broken" in res.stdout and "BROKEN" not in res.stdout


def test_a_low_layer_importing_training_breaks_the_contracts(tmp_path):
    res = _lint_imports(_copy_with(tmp_path, "collage.io.midi", "import collage.training"))
    assert res.returncode == 1, res.stdout + res.stderr
    assert {LAYERS, LIBRARY} <= _broken(res.stdout), res.stdout
    assert "collage.io.midi -> collage.training" in res.stdout


def test_a_cli_command_importing_training_breaks_the_cli_contract(tmp_path):
    res = _lint_imports(_copy_with(tmp_path, "collage.cli.fuse", "import collage.training.loop"))
    assert res.returncode == 1, res.stdout + res.stderr
    assert CLI in _broken(res.stdout), res.stdout
    assert "collage.cli.fuse -> collage.training.loop" in res.stdout


def test_no_import_cycles():
    assert import_cycles() == []


def test_a_cycle_is_found(tmp_path):
    """``fusion.vertical`` imports ``fusion.inputs``; the reverse import closes a cycle the check must see."""
    copy = _copy_with(tmp_path, "collage.fusion.inputs", "from collage.fusion import vertical")
    res = subprocess.run([sys.executable, __file__], env=dict(os.environ, PYTHONPATH=str(copy)), capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    cycles = json.loads(res.stdout)
    assert any({"collage.fusion.inputs", "collage.fusion.vertical"} <= set(c) for c in cycles), cycles


if __name__ == "__main__":
    print(json.dumps(import_cycles()))

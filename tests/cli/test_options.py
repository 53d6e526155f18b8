"""The CLI as one package: shared options spelled once, old spellings kept for a release, help texts, progress on stderr."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from collage.cli import app
from collage.cli.common import max_minutes_option, renamed, run_app

from cli_helpers import run

SRC = Path(__file__).resolve().parents[2] / "src" / "collage"


def _commands(group: click.Group = app, path: tuple[str, ...] = ()):
    """``(path, command)`` of every leaf command under ``group``."""
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, path + (name,))
        else:
            yield path + (name,), cmd


def _visible_options(cmd: click.Command) -> set[str]:
    return {o for p in cmd.params if isinstance(p, click.Option) and not p.hidden for o in p.opts}


COMMANDS = list(_commands())


def test_one_spelling_per_shared_option():
    for path, cmd in COMMANDS:
        opts = _visible_options(cmd)
        assert not opts & {"--batch", "--max-seconds", "--md"}, (path, opts)
        if "--json" in opts:  # a flag everywhere: print the result as JSON on stdout
            param = next(p for p in cmd.params if "--json" in p.opts)
            assert param.is_flag, path
        if "--out" in opts:  # --out is the weights folder of a training command
            assert path[0] == "train", path
    train = dict((p[1], c) for p, c in COMMANDS if p[0] == "train")
    for name in ("judge", "accomp-vae", "melody-vae", "critic", "actor", "arrange", "join-critic", "join-actor",
                 "join-judge", "mashability"):
        opts = _visible_options(train[name])
        assert {"--batch-size", "--max-minutes", "--out"} <= opts, (name, opts)
        out = next(p for p in train[name].params if "--out" in p.opts)
        assert out.default is None and "package's weights folder" in out.help, name


def _toy(max_minutes_seen: list):
    @click.command()
    @max_minutes_option()
    @click.option("-o", "--out-dir", "out_dir", default=None)
    @renamed("--out", "-o/--out-dir", "out_dir")
    def toy(max_minutes, out_dir):
        max_minutes_seen.append((max_minutes, out_dir))

    return toy


def test_old_spellings_still_work_with_a_one_line_note(capsys):
    seen = []
    assert run_app(_toy(seen), ["--max-seconds", "90", "--out", "x"]) == 0
    assert seen == [(1.5, "x")]  # seconds read as minutes
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["collage: warning: --max-seconds is deprecated and will be removed; use --max-minutes",
                   "collage: warning: --out is deprecated and will be removed; use -o/--out-dir"]
    assert run_app(_toy(seen), ["--max-minutes", "2", "-o", "y"]) == 0
    assert seen[-1] == (2.0, "y") and capsys.readouterr().err == ""


def test_renamed_options_reach_the_command(capsys, tmp_path):
    rc, out, err = run(capsys, "mashup", "generate", tmp_path / "none.db", "--out", tmp_path / "o")
    assert rc == 2
    lines = err.strip().splitlines()
    assert lines[0] == "collage: warning: --out is deprecated and will be removed; use -o/--out-dir"
    assert lines[1].startswith("collage: error: ") and "none.db" in lines[1]  # got past the missing -o check
    rc, out, err = run(capsys, "mashup", "generate", tmp_path / "none.db")
    assert rc == 2 and "--out-dir" in err


JARGON = re.compile(r"session|issue \d|#\d|headline|mission|λ|\bLP\b|Ωh|Ωdh|omega_h|Ω")


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS] + [("train",), ("eval",), ("mashup",), ()],
                         ids=lambda p: " ".join(p) or "collage")
def test_help_has_an_example_and_no_internal_history(capsys, path):
    rc, out, err = run(capsys, *path, "--help")
    assert rc == 0, err
    assert "Example:" in out, path
    text = out
    if "Ωh stands for" in text:  # collage stats prints the paper's symbols, defined in its help
        text = text.replace("Ωh", "").replace("Ωdh", "")
    if path == ("eval", "fusion"):  # its JSON rows are named omega_h / omega_dh, explained in the help
        text = text.replace("omega_h", "").replace("omega_dh", "")
    assert not JARGON.search(text), (path, JARGON.search(text).group(0))


def test_constants_spelled_for_help_match_the_library():
    from collage.arrangement.pipeline import METHODS
    from collage.cli import common, mashup
    from collage.mashup.builder import SOURCES
    from collage.mashup.combination import SCORERS

    assert common.ARRANGE_MODELS == METHODS
    from collage.fusion import vertical

    assert common.FUSE_METHODS == vertical.METHODS and common.FUSE_DEFAULT_METHOD == vertical.DEFAULT_METHOD
    assert mashup.SCORERS == SCORERS and mashup.SOURCES == SOURCES


def _imports(path: Path) -> set[str]:
    mods = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            mods.add(node.module)
        elif isinstance(node, ast.Import):
            mods.update(a.name for a in node.names)
    return mods


def test_only_the_train_and_eval_modules_import_training_and_evaluation():
    for path in sorted((SRC / "cli").glob("*.py")):
        mods = _imports(path)
        training = {m for m in mods if m == "collage.training" or m.startswith("collage.training.")}
        evaluation = {m for m in mods if m == "collage.evaluation" or m.startswith("collage.evaluation.")}
        assert not training or path.name == "train.py", (path.name, training)
        assert not evaluation or path.name == "evaluate.py", (path.name, evaluation)


def test_every_progress_bar_is_made_by_collage_progress():
    """rich's own Progress and track draw on stdout; only collage.progress may call them (it passes stderr)."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "progress.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "rich.progress":
                bad = {a.name for a in node.names} & {"Progress", "track"}
                if bad:
                    offenders.append(f"{path.relative_to(SRC)}: imports {sorted(bad)} from rich.progress")
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "progressbar":
                offenders.append(f"{path.relative_to(SRC)}: click.progressbar")
    assert not offenders, offenders


def test_progress_goes_to_stderr(capsys):
    from collage.progress import progress_bar, track

    assert list(track(range(3), "counting")) == [0, 1, 2]
    with progress_bar(transient=False) as bar:
        bar.add_task("more", total=1, completed=1)
    out, err = capsys.readouterr()
    assert out == ""


def test_help_imports_no_heavy_library():
    code = ("import sys\nfrom collage.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'librosa', 'matplotlib', 'collage.training', 'collage.evaluation') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert out.strip().splitlines()[-1] == "[]", out

"""Every command with ``--json`` run for real on a tiny input: stdout holds the JSON alone, messages go to stderr.

(The ``--json`` runs of ``fuse``, ``join``, ``stats``, ``eval fusion``, ``eval arrange`` and ``mashup score``
are in their own test modules; ``mashup retrieve`` is in tests/mashup/test_cli_mashup.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from collage import examples

from cli_helpers import run

MEL = str(examples.path("melody"))


def test_info_json_is_all_of_stdout(capsys):
    rc, out, err = run(capsys, "info", MEL, "--json")
    assert rc == 0, err
    info = json.loads(out)  # the whole of stdout parses
    assert info["path"] == MEL and info["tracks"] and info["n_notes"] == sum(t["n_notes"] for t in info["tracks"])


def test_json_in_a_real_process_with_progress_and_logging(tmp_path):
    """The installed entry point, as a user runs it: ``collage -v fuse ... --json > out.json`` gives JSON."""
    exe = Path(sys.executable).with_name("collage")
    if not exe.exists():
        pytest.skip(f"no {exe} (the package is not installed in this environment)")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    acc = str(examples.path("accompaniment"))
    proc = subprocess.run([str(exe), "-v", "fuse", MEL, acc, "-o", str(tmp_path / "f.mid"), "--method", "rule",
                           "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["method"] == "rule" and summary["outputs"] == [str(tmp_path / "f.mid")]
    assert "collage: INFO" in proc.stderr  # -v logs, on stderr only


def _write_protocol_set(path: Path, n_seeds: int, n_matched: int, rng) -> None:
    """A protocol npz as :func:`collage.evaluation.mashup.build_protocol_set` caches it, with random features."""
    from collage.mashup.score import N_CHROMA, N_MELS, WINDOW_FRAMES

    per_seed = [1, 0] + [-1] * n_matched
    labels = np.asarray(per_seed * n_seeds, np.int8)
    seeds = np.repeat(np.arange(n_seeds), len(per_seed)).astype(np.int32)
    recipes = [{"condition": {1: "original", 0: "unmatched", -1: "matched"}[int(v)],
                "unmatched_mode": "key" if v == 0 else None} for v in labels]
    np.savez(path, x=rng.standard_normal((len(labels), 4, N_MELS + N_CHROMA, WINDOW_FRAMES)).astype(np.float16), label=labels,
             seed_index=seeds, amu=rng.uniform(0, 1, (len(labels), 4)).astype(np.float32),
             recipes=np.asarray(json.dumps(recipes)), data_hash=np.asarray("test"))


def test_eval_mashup_json_on_a_tiny_protocol_set(tmp_path, capsys):
    """``collage eval mashup --json --analysis skip --seeds 2 --val-seeds 2 --data-root DIR > out.json``.

    The protocol sets are cached npz files under DIR (built here from random features, so that the
    test needs no rendering); the command loads every scorer and scores them for real.
    """
    from collage.evaluation.mashup import PROTOCOL_SONGS

    rng = np.random.default_rng(0)
    _write_protocol_set(tmp_path / f"test_protocol_{PROTOCOL_SONGS['test'][0]}songs_2x5_25s.npz", 2, 5, rng)
    _write_protocol_set(tmp_path / f"val_protocol_{PROTOCOL_SONGS['val'][0]}songs_2x0_25s.npz", 2, 0, rng)
    rc, out, err = run(capsys, "eval", "mashup", "--json", "--analysis", "skip", "--seeds", "2", "--val-seeds", "2",
                       "--data-root", tmp_path)
    assert rc == 0, err
    res = json.loads(out)
    assert res["protocol"]["seeds"] == 2 and res["protocol"]["mashups"] == 14 and res["analysis"] == {}
    assert "automashupper" in res["models"] and len(res["models"]) == 5
    for name, m in res["models"].items():
        assert 0.0 <= m["accuracy"] <= 1.0 and 1.0 <= m["avg_rank"] <= 6.0, name


@pytest.mark.pop909
def test_eval_join_json_tiny(pop909_root, monkeypatch, capsys):
    monkeypatch.setenv("COLLAGE_POP909", str(pop909_root))
    rc, out, err = run(capsys, "eval", "join", "--json", "--tiny", "--pairs", "8")
    assert rc == 0, err
    res = json.loads(out)
    assert {p["method"] for p in res["points"]} == {"ours", "lp"}
    assert all(0 <= p["coherency"] <= 1 for p in res["points"])

"""`collage join` / `collage eval join` through collage.cli.main: outputs, and one-line errors that write nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from collage.io import read_midi, write_midi
from collage.piece import Piece, Tempo, TimeSignature, Track

from cli_helpers import assert_user_error, run

Q = 480


def _write(path, pitches, qpm=110.0):
    notes = np.array([[i * Q, Q, p, 80] for i, p in enumerate(pitches)])
    write_midi(Piece([Track(notes, name="MELODY")], tpq=Q, tempos=[Tempo(0, qpm)],
                     time_signatures=[TimeSignature(0, 4, 4)]), path)
    return str(path)


@pytest.fixture
def tiny(monkeypatch):
    from collage.fusion import horizontal

    models = horizontal.JoinModels.tiny()
    monkeypatch.setattr(horizontal.JoinModels, "load", classmethod(lambda cls, **kw: models))
    monkeypatch.setattr(horizontal, "actor_for_lam", lambda lam: "join_actor")
    return models


@pytest.fixture
def files(tmp_path):
    return _write(tmp_path / "l.mid", [60, 62, 64, 65, 67, 69, 71, 72] * 2), _write(tmp_path / "r.mid", [72, 67, 64, 60] * 3)


def test_join_writes_one_melody_track(tmp_path, capsys, tiny, files):
    out = tmp_path / "j.mid"
    rc, stdout, err = run(capsys, "join", *files, "-o", out, "--style", "0.2", "--iterations", "3", "--json")
    assert rc == 0, err
    summary = json.loads(stdout)
    assert summary["iterations"] == 3 and summary["style"]["right_rhythm"] == pytest.approx(0.2)
    piece = read_midi(out)
    assert [t.name for t in piece.tracks] == ["MELODY"] and summary["n_beats"] == 8 + 8 + 8 + 4


@pytest.mark.parametrize("args, needle", [
    (["--style", "1.5"], "style value 1.5"),
    (["--style", "0.1", "--style", "0.2"], "2 style values"),
    (["--style", "x"], "--style 'x'"),
    (["--iterations", "1.5"], "--iterations '1.5'"),
    (["--iterations", "0"], "--iterations '0'"),
    (["--lam", "1", "--method", "lp"], "--lam"),
])
def test_bad_parameters_are_one_line_errors(tmp_path, capsys, tiny, files, args, needle):
    out = tmp_path / "j.mid"
    rc, _, err = run(capsys, "join", *files, "-o", out, *args)
    assert_user_error(rc, err, needle)
    assert not out.exists()


def test_bad_files_are_one_line_errors(tmp_path, capsys, tiny, files):
    out = tmp_path / "j.mid"
    junk = tmp_path / "junk.mid"
    junk.write_bytes(b"not a midi file")
    rc, _, err = run(capsys, "join", junk, files[1], "-o", out)
    assert_user_error(rc, err, "junk.mid")
    empty = tmp_path / "empty.mid"
    write_midi(Piece([Track(np.zeros((0, 4), np.int64), name="MELODY")], tpq=Q), empty)
    rc, _, err = run(capsys, "join", files[0], empty, "-o", out)
    assert_user_error(rc, err, "empty.mid", "no notes")
    rc, _, err = run(capsys, "join", files[0], tmp_path / "missing.mid", "-o", out)
    assert_user_error(rc, err, "missing.mid")
    rc, _, err = run(capsys, "join", *files, "-o", tmp_path / "j.wav")
    assert_user_error(rc, err, "-o/--output")
    assert not out.exists()


@pytest.mark.pop909
def test_eval_join_tiny_points(pop909_root):
    from collage.evaluation.join import evaluate_join, to_markdown

    res = evaluate_join(n_pairs=8, tiny=True, iterations=(1, 2), lp_steps=(3,), lp_budgets=(1.0,))
    pts = res["points"]
    assert {p["method"] for p in pts} == {"ours", "lp"}
    for p in pts:
        assert {"method", "lam", "iterations", "z_distance", "coherency", "seconds"} <= set(p)
        assert 0 <= p["coherency"] <= 1 and p["z_distance"] >= 0
    assert len(pts) == 2 * (2 * 2 + 1)  # 2 input sets x (2 actors x 2 iteration counts + 1 LP point)
    assert res["references"]["real_consecutive"]["transitions"]["interval"] > 0.5
    assert "Goal" in to_markdown(res)

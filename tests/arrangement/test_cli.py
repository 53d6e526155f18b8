"""``collage arrange`` / ``collage eval arrange`` end to end, and bad input (exit 2, one line, no traceback)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from collage.io import read, write_midi
from collage.piece import Piece, Track
from collage.pretrained import save_pretrained, tiny_model

from cli_helpers import run


@pytest.fixture
def solo(tmp_path, chorale):
    """The built chorale merged into one piano track (a keyboard player's input)."""
    path = tmp_path / "solo.mid"
    write_midi(Piece([chorale.merged(name="Piano", program=0)], tpq=chorale.tpq, tempos=chorale.tempos,
                     time_signatures=chorale.time_signatures), path)
    return path


@pytest.fixture
def tiny_weights(tmp_path):
    def make(arch="arrange_bilstm", **cfg):
        model = tiny_model(arch)
        if cfg:
            from collage.pretrained import build_model

            model = build_model(arch, type(model.config).tiny(**cfg)).eval()
        return save_pretrained(model, f"tiny_{arch}", tmp_path / "w", card={"note": "test"})
    return make


def tracks_of(path):
    return [(t.name, t.program, len(t)) for t in read(path).tracks]


@pytest.mark.parametrize("model", ["zone", "closest", "closest-mono"])
def test_arrange_baselines(tmp_path, solo, capsys, model):
    out = tmp_path / f"{model}.mid"
    code, stdout, err = run(capsys, "arrange", str(solo), "-o", str(out), "--ensemble", "satb", "--model", model)
    assert code == 0, err
    tr = tracks_of(out)
    assert [name for name, _, _ in tr] == ["Soprano", "Alto", "Tenor", "Bass"][: len(tr)]
    assert sum(n for _, _, n in tr) == 16  # 18 notes less the two unisons merged on input
    assert tr[0][1] == 52
    assert "arranged 16 notes for satb" in stdout


def test_arrange_network_with_hints_and_plot(tmp_path, solo, capsys, tiny_weights):
    w = tiny_weights("arrange_lstm", entry_hints=True)
    out, png = tmp_path / "lstm.mid", tmp_path / "lstm.png"
    code, stdout, err = run(capsys, "arrange", str(solo), "-o", str(out), "--model", "lstm", "--weights", str(w),
                            "--entry-hints", "soprano=0, BASS=0", "--plot", str(png))
    assert code == 0, err
    names = {name: n for name, _, n in tracks_of(out)}
    assert set(names) <= {"Soprano", "Bass"} and sum(names.values()) == 16  # only the hinted parts play
    assert png.stat().st_size > 1000


def test_arrange_pop909_ensemble(tmp_path, solo, capsys, tiny_weights):
    w = tiny_weights("arrange_transformer_dec", n_parts=3)
    out = tmp_path / "pop.mid"
    code, _, err = run(capsys, "arrange", str(solo), "-o", str(out), "--ensemble", "pop909",
                       "--model", "transformer-dec", "--weights", str(w))
    assert code == 0, err
    progs = {name: prog for name, prog, _ in tracks_of(out)}
    assert set(progs) <= {"MELODY", "BRIDGE", "PIANO"}
    assert all(progs[k] == {"MELODY": 65, "BRIDGE": 48, "PIANO": 0}[k] for k in progs)


def test_arrange_wav(tmp_path, solo, capsys):
    if shutil.which("fluidsynth") is None:
        pytest.skip("fluidsynth not installed")
    from collage.audio.render import find_soundfont

    try:
        find_soundfont()
    except Exception:
        pytest.skip("no GM soundfont")
    wav = tmp_path / "a.wav"
    code, _, err = run(capsys, "arrange", str(solo), "-o", str(tmp_path / "a.mid"), "--model", "zone", "--wav", str(wav))
    assert code == 0, err
    assert wav.stat().st_size > 1000


def _one_line_error(code, err, *words):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and lines[0].startswith("collage: error:")
    for w in words:
        assert w in lines[0], lines[0]


def test_bad_ensemble(tmp_path, solo, capsys):
    out = tmp_path / "x.mid"
    code, _, err = run(capsys, "arrange", str(solo), "-o", str(out), "--ensemble", "nonet", "--model", "zone")
    _one_line_error(code, err, "'nonet'", "satb", "pop909")
    assert not out.exists()


@pytest.mark.parametrize("hints, words", [
    ("Violin=0", ["'Violin'", "Soprano, Alto, Tenor, Bass"]),
    ("Soprano", ["PART=BEAT"]),
    ("Soprano=-1", ["beats >= 0"]),
    ("Soprano=x", ["beats >= 0"]),
    ("Soprano=0,soprano=2", ["twice"]),
])
def test_bad_entry_hints(tmp_path, solo, capsys, hints, words):
    out = tmp_path / "x.mid"
    code, _, err = run(capsys, "arrange", str(solo), "-o", str(out), "--model", "closest", "--entry-hints", hints)
    _one_line_error(code, err, *words)
    assert not out.exists()


def test_fewer_notes_than_parts(tmp_path, capsys):
    path = tmp_path / "three.mid"
    write_midi(Piece([Track(np.array([[0, 480, 60, 90], [480, 480, 64, 90], [960, 480, 67, 90]]))]), path)
    out = tmp_path / "x.mid"
    code, _, err = run(capsys, "arrange", str(path), "-o", str(out), "--model", "zone")
    _one_line_error(code, err, "has 3 pitched note(s)", "4 parts")
    assert not out.exists()
    # fine when only three parts are to play
    code, _, err = run(capsys, "arrange", str(path), "-o", str(out), "--model", "closest",
                       "--entry-hints", "Soprano=0,Alto=0,Bass=0")
    assert code == 0, err


def test_drums(tmp_path, capsys, solo, caplog):
    drums_only = tmp_path / "drums.mid"
    write_midi(Piece([Track(np.array([[0, 120, 36, 100], [480, 120, 38, 100]]), is_drum=True)]), drums_only)
    code, _, err = run(capsys, "arrange", str(drums_only), "-o", str(tmp_path / "x.mid"), "--model", "zone")
    _one_line_error(code, err, "only drum notes")
    # with pitched notes too, the drums are dropped (a warning) and the rest arranged
    piece = read(solo)
    piece.tracks.append(Track(np.array([[0, 120, 36, 100]]), name="Kit", is_drum=True))
    mixed = tmp_path / "mixed.mid"
    write_midi(piece, mixed)
    code, _, err = run(capsys, "arrange", str(mixed), "-o", str(tmp_path / "m.mid"), "--model", "zone")
    assert code == 0, err
    assert "dropped 1 drum note" in caplog.text


def test_overlapping_identical_notes(tmp_path, capsys, caplog):
    notes = np.array([[0, 480, 60, 90]] * 3 + [[0, 240, 60, 90], [0, 480, 64, 90], [0, 480, 67, 90], [0, 480, 72, 90]])
    path = tmp_path / "dup.mid"
    write_midi(Piece([Track(notes)]), path)
    out = tmp_path / "dup_out.mid"
    code, _, err = run(capsys, "arrange", str(path), "-o", str(out), "--model", "closest")
    assert code == 0, err
    assert "merged 2 duplicate note(s)" in caplog.text
    assert sum(n for _, _, n in tracks_of(out)) == 5


def test_bad_weights_and_output(tmp_path, solo, capsys, tiny_weights):
    w = tiny_weights("arrange_bilstm")
    w.write_bytes(w.read_bytes()[:-10] + b"0123456789")  # tampered
    code, _, err = run(capsys, "arrange", str(solo), "-o", str(tmp_path / "x.mid"), "--model", "bilstm", "--weights", str(w))
    _one_line_error(code, err, "sha256 mismatch")
    code, _, err = run(capsys, "arrange", str(solo), "-o", str(tmp_path / "x.wav"), "--model", "zone")
    _one_line_error(code, err, ".mid")
    w3 = tiny_weights("arrange_lstm", n_parts=3)
    code, _, err = run(capsys, "arrange", str(solo), "-o", str(tmp_path / "x.mid"), "--model", "lstm", "--weights", str(w3))
    _one_line_error(code, err, "weights for 3 parts")


def test_eval_arrange_json(capsys, monkeypatch):
    """``collage eval arrange --json`` prints the documented interface (baselines on two test chorales)."""
    import json

    code, out, err = run(capsys, "eval", "arrange", "--dataset", "bach", "--models", "zone,closest,closest_mono",
                         "--max-pieces", "2", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["dataset"] == "bach"
    assert set(result["accuracy"]) == {"zone", "closest", "closest_mono"}
    assert all(0 <= v <= 100 for v in result["accuracy"].values())
    code, _, err = run(capsys, "eval", "arrange", "--dataset", "bach", "--models", "mlp")
    _one_line_error(code, err, "'mlp'")

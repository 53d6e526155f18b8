"""The MashupDB and `collage mashup build`: sources, resumability, bad input."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
import soundfile as sf

from collage.cli import main
from collage.errors import InvalidInputError
from collage.mashup.builder import build as build_db, segments_from_downbeats
from collage.mashup.db import MashupDB
from collage.mashup.sources import find_mixes, find_stem_sets, load_stem_set

from .synth import SR, stems


def _write_song(folder, name, *, layout="files", seed=0, silent_percussion=False, instrumental=False, pad_percussion=False):
    s = stems(7.0, seed=seed)
    if silent_percussion:
        s["percussion"] = np.zeros_like(s["percussion"])
    if pad_percussion:  # a sustained tone: no onsets, no tempo
        s["percussion"] = (0.2 * np.sin(2 * np.pi * 220 * np.arange(len(s["vocals"])) / SR)).astype(np.float32)
    if instrumental:
        s = {"acapella": s["vocals"], "instrumental": s["harmonic"] + s["percussion"]}
    for role, y in s.items():
        path = folder / f"{name}.{role}.wav" if layout == "files" else folder / name / f"{role}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, np.stack([y, y], 1) if role == "vocals" else y, SR)  # one stereo stem


@pytest.fixture
def stem_dir(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    _write_song(d, "alpha", seed=1)
    _write_song(d, "beta", layout="folders", seed=2)
    _write_song(d, "gamma", seed=3, instrumental=True)
    (d / "notes.txt").write_text("ignored")
    return d


def test_naming_convention_and_aliases(stem_dir):
    sets = {s.name: s for s in find_stem_sets(stem_dir)}
    assert set(sets) == {"alpha", "beta", "gamma"} and all(s.complete for s in sets.values())
    assert set(sets["gamma"].files) == {"vocals", "instrumental"}
    y = load_stem_set(sets["gamma"], sr=16000)
    assert set(y) == {"vocals", "harmonic", "percussion"} and len({len(v) for v in y.values()}) == 1
    assert find_mixes(stem_dir) == []


def test_manifest_csv(tmp_path, stem_dir):
    rows = ["name,role,path", f"x,acapella,{stem_dir / 'alpha.vocals.wav'}", "x,drums,alpha.percussion.wav",
            "x,harmonic,alpha.harmonic.wav"]
    (stem_dir / "manifest.csv").write_text("\n".join(rows) + "\n")
    sets = find_stem_sets(stem_dir)
    assert [s.name for s in sets] == ["x"] and set(sets[0].files) == {"vocals", "percussion", "harmonic"}
    (stem_dir / "manifest.csv").write_text("name,role,path\nx,kazoo,a.wav\n")
    with pytest.raises(InvalidInputError, match="unknown role 'kazoo'"):
        find_stem_sets(stem_dir)


def test_segments_on_downbeats():
    segs = segments_from_downbeats(np.arange(0, 40, 2.0), 40.0)
    eight = [s for s in segs if s["bars"] == 8]
    assert [s["start_s"] for s in eight] == [0.0, 8.0, 16.0, 24.0] and eight[0]["end_s"] == 16.0
    assert all(s["end_s"] <= 40.0 for s in segs) and any(s["bars"] == 16 for s in segs)


def test_build_from_stems_resumes_without_duplicates(tmp_path, stem_dir):
    db_path = tmp_path / "m.db"
    r1 = build_db(db_path, stem_dir, source="stems", limit=1, progress=False)
    assert r1["added"] == 1
    r2 = build_db(db_path, stem_dir, source="stems", progress=False)
    assert (r2["added"], r2["already"]) == (2, 1)
    with MashupDB(db_path) as db:
        songs = db.songs()
        assert sorted(s["name"] for s in songs) == ["alpha", "beta", "gamma"]
        st = db.stems(songs[0]["id"])
        assert set(st) == {"vocals", "harmonic", "percussion", "mix"} and st["vocals"]["sr"] == 22050
        y, sr = sf.read(st["mix"]["path"])
        assert sr == 22050 and y.ndim == 1 and len(y) == st["mix"]["n_samples"]
        a = db.analysis(songs[0]["id"])
        assert a["key"] == "C:maj" and abs(a["tempo"] - 100) < 3 and len(a["beats"]) >= 8
        v, p = db.analysis(songs[0]["id"], role="vocals"), db.analysis(songs[0]["id"], role="percussion")
        octaves = np.log2(v["tempo"] / 100)  # each stem analysed alone; a vocal's pulse, at some metrical level
        assert v["key"] == "C:maj" and abs(octaves - round(octaves)) < 0.05
        assert p["key"] is None and abs(p["tempo"] - 100) < 3 and len(p["beats"]) >= 8
        assert db.analysis(songs[0]["id"], role="harmonic")["key"] == "C:maj"
    con = sqlite3.connect(db_path)
    assert con.execute("SELECT COUNT(*) FROM stems").fetchone()[0] == 12  # 3 songs x 4, no duplicates
    assert con.execute("SELECT COUNT(*) FROM analysis").fetchone()[0] == 12  # the song and its 3 stems, each
    con.close()
    assert not list((tmp_path / "m.db.stems").rglob(".*.wav"))  # no temporary files left


def test_interrupted_song_leaves_no_row(tmp_path, stem_dir):
    db_path = tmp_path / "m.db"
    build_db(db_path, stem_dir, source="stems", limit=1, progress=False)
    with MashupDB(db_path) as db:
        rec = {"name": "half", "source": "stems", "stems": {"vocals": {"path": str(tmp_path / "gone.wav"), "sr": SR,
                                                                       "n_samples": 10}}}
        with pytest.raises(InvalidInputError, match="missing"):
            db.add_song(rec)
        rec = {"name": "alpha", "source": "stems", "stems": {}}
        with pytest.raises(InvalidInputError, match="'alpha' is stored already .is another build writing to this database"):
            db.add_song(rec)
        assert len(db) == 1 and db.names() == {"alpha"}


def test_skip_reports_and_stop_exits_2(tmp_path, capsys):
    d = tmp_path / "in"
    d.mkdir()
    _write_song(d, "good", seed=4)
    _write_song(d, "quiet", seed=5, silent_percussion=True)
    _write_song(d, "pad", seed=6, pad_percussion=True)
    (d / "short.vocals.wav").parent.mkdir(exist_ok=True)
    for role in ("vocals", "harmonic", "percussion"):
        sf.write(d / f"short.{role}.wav", 0.1 * np.ones(SR), SR)
    db = tmp_path / "s.db"
    assert main(["mashup", "build", str(db), "--from", str(d), "--source", "stems", "--no-progress"]) == 0
    out = capsys.readouterr()
    assert "added 1 songs" in out.out and "skipped 3" in out.err
    assert "quiet.percussion.wav: is silent" in out.err and "short" in out.err and "at least 5 s" in out.err
    assert "pad: no beat found" in out.err
    db2 = tmp_path / "t.db"
    assert main(["mashup", "build", str(db2), "--from", str(d), "--source", "stems", "--on-error", "stop",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("collage: error:") and "stopped" in err[0]


def test_build_from_a_mix(tmp_path):
    d = tmp_path / "mixes"
    d.mkdir()
    s = stems(7.0, seed=7)
    sf.write(d / "song.flac", s["vocals"] + s["harmonic"] + s["percussion"], 44100 // 2)
    res = build_db(tmp_path / "x.db", d, source="mix", progress=False)
    assert res["added"] == 1
    with MashupDB(tmp_path / "x.db") as db:
        song = db.songs()[0]
        assert song["source"] == "mix" and song["info"] == {"backend": "classical"}
        assert abs(db.analysis(song["id"])["tempo"] - 100) < 3 and set(db.stems(song["id"])) >= {"vocals", "percussion"}


@pytest.mark.parametrize("setup, match", [
    ("empty", "holds no stems"), ("missing", "no such folder"), ("notdb", "is not a MashupDB"),
])
def test_build_bad_input_one_line(tmp_path, capsys, setup, match):
    src = tmp_path / "in"
    db = tmp_path / "x.db"
    if setup != "missing":
        src.mkdir()
    if setup == "notdb":
        _write_song(src, "a")
        db.write_text("hello")
    rc = main(["mashup", "build", str(db), "--from", str(src), "--source", "stems", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and match in err[0]


def test_reader_rejects_non_db(tmp_path):
    with pytest.raises(InvalidInputError, match="no such MashupDB"):
        MashupDB(tmp_path / "none.db")
    p = tmp_path / "other.db"
    sqlite3.connect(p).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(InvalidInputError, match="missing tables"):
        MashupDB(p)


@pytest.mark.pop909
def test_build_from_midi_with_two_jobs(tmp_path, pop909_root):
    src = tmp_path / "pop"
    src.mkdir()
    for sid in ("001", "002"):
        (src / sid).symlink_to(pop909_root / sid)
    db = tmp_path / "p.db"
    res = build_db(db, src, source="midi", jobs=2, seconds=8.0, progress=False)
    assert res["added"] == 2 and not res["skipped"]
    with MashupDB(db) as m:
        s = {x["name"]: x for x in m.songs()}
        assert set(s) == {"pop909-001", "pop909-002"}
        truth = s["pop909-001"]["info"]["truth"]
        a = m.analysis(s["pop909-001"]["id"])
        assert truth["key"] == "F#:maj" and a["key"] == "F#:maj" and abs(a["tempo"] - truth["tempo"]) < 3
        assert m.stems(s["pop909-001"]["id"])["vocals"]["soundfont"].endswith(".sf2")
    json.dumps(res)

"""`collage mashup score|retrieve|generate` on bad input: one line on stderr, exit code 2, nothing written."""

import json

import numpy as np
import pytest
import soundfile as sf

from collage.cli import main


@pytest.fixture
def stems(tmp_path, clips):
    """The synthetic C-major clip as files: stereo 44.1 kHz vocals, mono 22.05 kHz / 16 kHz others."""
    import soxr

    c = clips[0]
    v = soxr.resample(c.stem("vocals"), 16000, 44100)
    paths = {}
    sf.write(tmp_path / "v.wav", np.stack([v, 0.5 * v], axis=1), 44100)
    sf.write(tmp_path / "h.flac", soxr.resample(c.stem("harmonic"), 16000, 22050), 22050)
    sf.write(tmp_path / "p.wav", c.stem("percussion"), 16000)
    for k, name in (("vocals", "v.wav"), ("harmonic", "h.flac"), ("percussion", "p.wav")):
        paths[k] = str(tmp_path / name)
    return paths


def _one_line_error(capsys, argv, match):
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert match in err, err


def test_score_bad_files(tmp_path, stems, capsys):
    txt = tmp_path / "notes.wav"
    txt.write_text("not audio")
    _one_line_error(capsys, ["mashup", "score", str(txt), stems["harmonic"], stems["percussion"]], "notes.wav")
    short = tmp_path / "short.wav"
    sf.write(short, np.random.default_rng(0).standard_normal(16000 * 2).astype(np.float32) * 0.1, 16000)
    _one_line_error(capsys, ["mashup", "score", stems["vocals"], str(short), stems["percussion"]], "short.wav")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000 * 8, np.float32), 16000)
    _one_line_error(capsys, ["mashup", "score", stems["vocals"], stems["harmonic"], str(silent)], "silent")
    nan = tmp_path / "nan.wav"
    y = np.random.default_rng(0).standard_normal(16000 * 8).astype(np.float32) * 0.1
    y[100] = np.nan
    sf.write(nan, y, 16000, subtype="FLOAT")
    _one_line_error(capsys, ["mashup", "score", str(nan), stems["harmonic"], stems["percussion"]], "nan.wav")
    _one_line_error(capsys, ["mashup", "score", str(tmp_path / "missing.wav"), stems["harmonic"], stems["percussion"]],
                    "missing.wav")


def test_score_explains_with_automashupper(stems, capsys):
    rc = main(["mashup", "score", stems["vocals"], stems["harmonic"], stems["percussion"], "--scorer", "automashupper", "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    r = json.loads(out)
    from collage.audio.analyze import parse_key
    from collage.mashup.generate import key_distance

    a = r["analysis"]
    assert a["harmonic"]["key"] == "C:maj"  # a sustained C major triad
    # the random-degree sine melody has no tonal centre of its own; the distance must match the keys found
    assert r["key_distance"] == key_distance(a["vocals"]["key"], a["harmonic"]["key"])
    assert parse_key(a["vocals"]["key"])  # a valid key
    assert abs(r["tempo_ratio"] - 1.0) < 0.05  # folded by octaves
    for k in ("harmonic", "rhythmic", "spectral", "downbeat_phase"):
        assert k in r


def test_retrieve_and_generate_bad_db(tmp_path, stems, capsys):
    _one_line_error(capsys, ["mashup", "retrieve", str(tmp_path / "none.db"), "--vocal", stems["vocals"]], "none.db")
    _one_line_error(capsys, ["mashup", "retrieve", str(tmp_path / "none.db"), "--vocal", stems["vocals"],
                             "--per-song-pair", "-1"], "per-song-pair")
    blocker = tmp_path / "out"
    blocker.write_text("a file")
    _one_line_error(capsys, ["mashup", "generate", str(tmp_path / "none.db"), "-o", str(blocker)], "out")
    assert not list(tmp_path.glob("*.wav.tmp*"))


@pytest.fixture
def tiny_db(tmp_path, clips):
    """A MashupDB of the synthetic clips (ground-truth analysis stored as the song's)."""
    from collage.mashup.db import MashupDB

    path = tmp_path / "tiny.db"
    with MashupDB(path, create=True) as db:
        for c in clips:
            stems = {}
            for r in ("vocals", "harmonic", "percussion"):
                f = tmp_path / f"{c.id}.{r}.wav"
                sf.write(f, c.stem(r), c.sr)
                stems[r] = {"path": str(f), "sr": c.sr, "n_samples": len(c.stem(r))}
            db.add_song({"name": c.id, "source": "stems", "stems": stems,
                         "analysis": {"song": {"key": c.key, "tempo": c.tempo, "beats": list(c.beats),
                                               "downbeats": list(c.downbeats)}}})
    return path


def test_generate_writes_wavs_and_sidecars(tmp_path, tiny_db, capsys):
    out = tmp_path / "mashups"
    rc = main(["mashup", "generate", str(tiny_db), "-o", str(out), "--top", "2", "--scorer", "automashupper",
               "--per-vocal", "2", "--max-vocals", "2", "--seconds", "6"])
    assert rc == 0, capsys.readouterr().err
    wavs = sorted(out.glob("*.wav"))
    assert len(wavs) == 2
    meta = json.loads(wavs[0].with_suffix(".json").read_text())
    assert meta["rank"] == 1 and meta["condition"] == "matched"
    assert abs(meta["harmonic_semitones"]) <= 3 and 0.8 <= meta["percussion_ratio"] <= 1.2
    assert set(meta["terms"]) >= {"harmonic", "rhythmic", "spectral"}
    y, sr = sf.read(wavs[0])
    assert sr == 16000 and len(y) == 6 * 16000


def test_empty_db_is_one_line_error(tmp_path, capsys, stems):
    from collage.mashup.db import MashupDB

    empty = tmp_path / "empty.db"
    MashupDB(empty, create=True).close()
    _one_line_error(capsys, ["mashup", "retrieve", str(empty), "--vocal", stems["vocals"]], "empty")
    _one_line_error(capsys, ["mashup", "generate", str(empty), "-o", str(tmp_path / "o")], "empty")
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_retrieve_json_ranks_matched_accompaniments(tiny_db, stems, capsys):
    """``collage mashup retrieve DB --vocal V --json``: stdout is the JSON alone, and it agrees with the library."""
    from collage.mashup.retrieval import retrieve

    rc = main(["mashup", "retrieve", str(tiny_db), "--vocal", stems["vocals"], "--scorer", "automashupper",
               "--candidates", "4", "--top", "3", "--seconds", "6", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    res = json.loads(out)
    lib = json.loads(json.dumps(retrieve(tiny_db, stems["vocals"], scorer="automashupper", candidates=4, top=3, seconds=6)))
    assert res.pop("timing").keys() == lib.pop("timing").keys() and res == lib and res["mode"] == "random"
    assert res["vocal"] == stems["vocals"] and 1 <= len(res["results"]) <= 3
    scores = [r["score"] for r in res["results"]]
    assert scores == sorted(scores, reverse=True) and [r["rank"] for r in res["results"]] == list(range(1, len(scores) + 1))
    for r in res["results"]:
        assert abs(r["harmonic_semitones"]) <= 3 and 0.8 <= r["percussion_ratio"] <= 1.2


def test_render_retrieved_gives_the_mashup_of_a_result(tiny_db, stems):
    """A retrieve result rendered: the vocal's part of the mix, its length, and the accompaniment audible in it."""
    import collage
    from collage.errors import ParameterError
    from collage.mashup.retrieval import retrieve

    found = retrieve(tiny_db, stems["vocals"], scorer="automashupper", candidates=4, top=2, seconds=6)
    assert found["results"] and found["seconds"] == 6 and found["vocal_start_s"] >= 0
    audio, sr = collage.mashup.render_retrieved(tiny_db, found, rank=1)
    assert set(audio) == {"vocals", "harmonic", "percussion", "mix"}
    n = int(round(6 * sr))
    for role, y in audio.items():
        assert y.dtype == np.float32 and abs(len(y) - n) <= sr // 100, role
        assert np.sqrt(np.mean(y ** 2)) > 1e-3, f"{role} is silent"
    # the mix is the three stems summed (then normalised): it correlates with each of them
    for role in ("vocals", "harmonic", "percussion"):
        m = min(len(audio["mix"]), len(audio[role]))
        assert np.corrcoef(audio["mix"][:m], audio[role][:m])[0, 1] > 0.05, role
    with pytest.raises(ParameterError, match="rank"):
        collage.mashup.render_retrieved(tiny_db, found, rank=len(found["results"]) + 1)

"""Stem-segment embeddings stored at build time, and two-stage retrieval (`collage mashup retrieve --shortlist`)."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from collage.cli import main
from collage.errors import ParameterError
from collage.mashup.db import MashupDB
from collage.mashup.embed import DIM, EMBED_VERSION, rhythm_vector, grid_shape, segment_embeddings, shortlist_pairs
from collage.mashup.firststage import pair_inputs
from collage.mashup.generate import key_distance
from collage.mashup.index import StemIndex, ensure_embeddings
from collage.mashup.retrieval import retrieve

from . import synth
from .synth import BEAT, SR, stems


def _shift(y: np.ndarray, semitones: int) -> np.ndarray:
    """A crude pitch shift for test material: resample and loop to the same length (tempo changes too)."""
    f = 2 ** (semitones / 12)
    idx = np.arange(len(y)) * f
    return np.interp(idx % len(y), np.arange(len(y)), y).astype(np.float32)


@pytest.fixture(scope="module")
def song_db(tmp_path_factory):
    """Four synthetic 22 s songs (100 BPM, 9 bars: one 8-bar segment or two), built as stems."""
    return synth.song_db(tmp_path_factory.mktemp("two_stage"), 4)


def test_build_stores_one_vector_per_stem_segment(song_db):
    con = sqlite3.connect(song_db / "s.db")
    n_seg = con.execute("SELECT COUNT(*) FROM segments").fetchone()[0]
    rows = con.execute("SELECT role, version, length(vec) FROM embeddings").fetchall()
    assert n_seg >= 4 and len(rows) == 2 * n_seg  # a harmonic and a percussion vector per segment
    assert {r[0] for r in rows} == {"harmonic", "percussion"} and {r[1] for r in rows} == {EMBED_VERSION}
    assert {r[2] for r in rows} == {4 * DIM}
    index = StemIndex.load(song_db / "s.db")
    assert len(index) == 2 * n_seg and index.nbytes >= 2 * n_seg * 4 * DIM
    h = index.segments["harmonic"]["vec"]
    assert np.allclose(np.linalg.norm(h[:, :12], axis=1), 1, atol=1e-5)


def test_an_older_db_gets_the_same_vectors_on_first_use(song_db):
    old = song_db / "old.db"  # beside the original: stem paths are stored relative to the DB's folder
    old.write_bytes((song_db / "s.db").read_bytes())
    with MashupDB(song_db / "s.db") as db:
        want = db.embeddings("harmonic", EMBED_VERSION)[1], db.embeddings("percussion", EMBED_VERSION)[1]
    con = sqlite3.connect(old)
    con.execute("DROP TABLE embeddings")
    con.commit()
    con.close()
    with MashupDB(old) as db:
        assert not db.has_embedding_table() and len(db.songs_without_embeddings(EMBED_VERSION)) == 4
    assert ensure_embeddings(old) == 4 and ensure_embeddings(old) == 0  # once, then nothing left to do
    with MashupDB(old) as db:
        got = db.embeddings("harmonic", EMBED_VERSION)[1], db.embeddings("percussion", EMBED_VERSION)[1]
    assert np.allclose(got[0], want[0], atol=1e-4) and np.allclose(got[1], want[1], atol=1e-4)
    assert ensure_embeddings(old, reindex=True) == 4


def test_harmonic_inputs_are_taken_after_the_pitch_shift():
    """The first stage sees a harmonic segment's chroma after the shift the second stage applies."""
    v = np.zeros(DIM, np.float32)
    v[[0, 4, 7]] = 1 / np.sqrt(3)  # C major triad
    h = np.zeros((2, DIM), np.float32)
    h[0, [2, 6, 9]] = 1 / np.sqrt(3)  # D major triad: shifted by key_distance(C, D) = -2 it is C major
    h[1, [1, 5, 8]] = 1 / np.sqrt(3)  # Db major
    shift = key_distance("C:maj", "D:maj")
    x = pair_inputs(v, h, np.array([shift, shift]), np.array([1.0, 1.25]))
    assert np.allclose(x[0, DIM:DIM + 12], v[:12]) and np.allclose(x[:, :DIM], v)
    profile = x[:, 2 * DIM:2 * DIM + 12]  # cosine with the shifted chroma rotated by 0..11 semitones
    assert profile[0, 0] == pytest.approx(1.0, abs=1e-6) and profile[1, 0] < 0.5
    assert profile[1, 1] == pytest.approx(1.0, abs=1e-6)  # Db shifted by -2 is B major: a semitone up, C major
    assert np.allclose(x[:, -2:], [[0.0, 0.0], [np.log(1.25), np.log(1.25)]])


def test_rhythm_vector_survives_a_time_stretch():
    y = stems(22.0, seed=3)["percussion"]
    downs = 0.2 + np.arange(0, 9) * 4 * BEAT
    base = rhythm_vector(_env(y), SR, downs, downs[0], downs[-1])
    f = 1.15  # the same groove 15 % faster
    fast = np.interp(np.arange(int(len(y) / f)) * f, np.arange(len(y)), y).astype(np.float32)
    other = rhythm_vector(_env(fast), SR, downs / f, downs[0] / f, downs[-1] / f)
    shifted = rhythm_vector(_env(y), SR, downs + BEAT / 2, downs[0] + BEAT / 2, downs[-2] + BEAT / 2)  # off by half a beat
    assert float(base @ other) > 0.9 and float(base @ other) > float(base @ shifted) + 0.2


def _env(y):
    import librosa

    return librosa.onset.onset_strength(y=y, sr=SR, hop_length=512)


def test_shortlist_pairs_is_the_grid_of_each_sides_best_segments():
    """The pairs of each side's best ceil(sqrt(n)) segments that may be paired (not one song, one block), the best
    n by sum, against brute force."""
    rng = np.random.default_rng(0)
    h, p = rng.normal(size=40), rng.normal(size=30)
    song_h, song_p = rng.integers(0, 5, 40), rng.integers(0, 5, 30)
    block_h, block_p = rng.integers(0, 2, 40), rng.integers(0, 2, 30)
    rank_h, rank_p = np.argsort(np.argsort(-h)), np.argsort(np.argsort(-p))
    for n, aspect in ((1, 1.0), (7, 1.0), (25, 1.0), (300, 1.0), (2000, 1.0), (50, 2.0), (300, 2.2)):
        kh, kp = int(np.ceil(np.sqrt(n / aspect) - 1e-9)), int(np.ceil(np.sqrt(n * aspect) - 1e-9))
        assert grid_shape(n, aspect) == (kh, kp)
        for blocks in (False, True):
            kw = {"h_block": block_h, "p_block": block_p} if blocks else {}
            got = shortlist_pairs(h, p, n, h_group=song_h, p_group=song_p, aspect=aspect, **kw)
            allowed = [(i, j) for i in range(40) for j in range(30)
                       if song_h[i] != song_p[j] and (not blocks or block_h[i] == block_p[j])]
            grid = sorted(((h[i] + p[j], i, j) for i, j in allowed if rank_h[i] < kh and rank_p[j] < kp), reverse=True)
            assert got == [(i, j) for _, i, j in grid[:n]]
            assert len({i for i, _ in got}) <= kh and len({j for _, j in got}) <= kp
    assert grid_shape(2500, 2.2) == (34, 75) and grid_shape(2500) == (50, 50)
    assert shortlist_pairs(h, np.zeros(0), 5) == []
    assert shortlist_pairs(h, p, 4) == [(int(i), int(j)) for _, i, j in sorted(
        ((h[i] + p[j], i, j) for i in np.argsort(-h)[:2] for j in np.argsort(-p)[:2]), reverse=True)]


def test_segment_embeddings_leave_out_silent_stems():
    s = stems(22.0, seed=1)
    segs = [{"bars": 8, "start_s": 0.2, "end_s": 0.2 + 32 * BEAT}]
    rows = segment_embeddings(s["harmonic"], np.zeros_like(s["percussion"]), SR, 0.2 + np.arange(9) * 4 * BEAT, segs)
    assert [r["role"] for r in rows] == ["harmonic"]


def test_two_stage_retrieve(song_db, capsys):
    res = retrieve(song_db / "s.db", song_db / "vocal.wav", scorer="automashupper", top=3, shortlist=4, seconds=8)
    assert res["mode"] == "two-stage" and res["searched"] > 0 and 1 <= res["scored"] <= 4 and len(res["results"]) <= 3
    for r in res["results"]:
        assert r["harmonic"] != r["percussion"] and abs(r["harmonic_semitones"]) <= 3
        assert 0.8 <= r["percussion_ratio"] <= 1.2 and r["first_stage"] is not None
        assert set(r["terms"]) >= {"harmonic", "rhythmic", "spectral"}
    scores = [r["score"] for r in res["results"]]
    assert scores == sorted(scores, reverse=True)
    rc = main(["mashup", "retrieve", str(song_db / "s.db"), "--vocal", str(song_db / "vocal.wav"), "--scorer",
               "automashupper", "--top", "3", "--shortlist", "4", "--seconds", "8", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and [r["harmonic"] for r in out["results"]] == [r["harmonic"] for r in res["results"]]
    rc = main(["mashup", "retrieve", str(song_db / "s.db"), "--vocal", str(song_db / "vocal.wav"), "--scorer",
               "automashupper", "--top", "2", "--shortlist", "3", "--seconds", "8"])
    text = capsys.readouterr().out
    assert rc == 0 and f"shortlisted from {res['searched']} stem segments" in text
    with pytest.raises(ParameterError):
        retrieve(song_db / "s.db", song_db / "vocal.wav", shortlist=0)



def test_retrieve_leaves_out_a_song_and_reports_progress(song_db):
    """``exclude``: a DB song's stems never appear (its own vocal's); ``on_progress`` hears every stage."""
    db, vocal = song_db / "s.db", song_db / "vocal.wav"
    heard = []
    res = retrieve(db, vocal, scorer="automashupper", top=10, shortlist=10, seconds=8, exclude="song0",
                   on_progress=lambda *a: heard.append(a))
    assert res["results"] and all("song0" not in (r["harmonic"], r["percussion"]) for r in res["results"])
    n = res["scored"]
    assert heard == [("analysing the vocal", 0, 1), ("analysing the vocal", 1, 1), ("first stage", 0, 1),
                     ("first stage", 1, 1)] + [("scoring", k, n) for k in range(n + 1)]
    everyone = retrieve(db, vocal, scorer="automashupper", top=10, shortlist=10, seconds=8)
    assert any("song0" in (r["harmonic"], r["percussion"]) for r in everyone["results"])
    drawn = retrieve(db, vocal, scorer="automashupper", top=10, candidates=6, seconds=8, exclude="song1")
    assert drawn["results"] and all("song1" not in (r["harmonic"], r["percussion"]) for r in drawn["results"])
    with pytest.raises(ParameterError, match="given exclude=3"):
        retrieve(db, vocal, exclude=3)
    with pytest.raises(ParameterError, match="given on_progress of type str"):
        retrieve(db, vocal, on_progress="yes")

def test_index_filters_agree_with_the_candidate_rules():
    """The vectorised filters of the first stage against the rules of matched candidates, segment by segment."""
    from collage.mashup.generate import MAX_KEY_DISTANCE, TEMPO_RANGE, tempo_ratio

    rng = np.random.default_rng(1)
    keys = [f"{t}:{m}" for t in ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B") for m in ("maj", "min")]
    n_songs, n = 30, 200
    names = [f"s{i}" for i in range(n_songs)]
    song_keys = [keys[k] for k in rng.integers(0, 24, n_songs)]
    tempi, durs = rng.uniform(70, 140, n_songs), rng.uniform(20, 40, n_songs)
    segs = {}
    for role in ("harmonic", "percussion"):
        v = rng.normal(size=(n, DIM)).astype(np.float32)
        segs[role] = {"song": rng.integers(0, n_songs, n).astype(np.int32), "start_s": rng.uniform(0, 15, n),
                      "end_s": np.full(n, 40.0), "bars": np.full(n, 8, np.int16), "vec": v}
    index = StemIndex(names, song_keys, tempi, durs, segs)
    for key, tempo in (("A:min", 100.0), ("F#:maj", 80.0), ("Bb:min", 130.0)):
        for role in ("harmonic", "percussion"):
            idx, ratio, shifts = index._allowed(role, key, tempo, 10.0, exclude=3)
            want = []
            for i in range(n):
                s = int(segs[role]["song"][i])
                r = tempo_ratio(tempo, tempi[s])
                ok = s != 3 and TEMPO_RANGE[0] <= r <= TEMPO_RANGE[1] and segs[role]["start_s"][i] + 10 * r <= durs[s] + 1e-6
                if role == "harmonic":
                    ok = ok and abs(key_distance(key, song_keys[s])) <= MAX_KEY_DISTANCE
                want.append(ok)
            assert idx.tolist() == np.flatnonzero(want).tolist()
            if role == "harmonic":
                assert shifts.tolist() == [key_distance(key, song_keys[segs[role]["song"][i]]) for i in idx]
        picks = index.shortlist(rng.normal(size=DIM).astype(np.float32), key, tempo, n=5, seconds=10.0)
        assert len(picks) == 5 and all(p["harmonic"] != p["percussion"] for p in picks)
        assert [p["first_stage"] for p in picks] == sorted((p["first_stage"] for p in picks), reverse=True)


def test_a_large_library_scores_only_the_best_segments_by_prior(monkeypatch):
    """Past PRIOR_TOP allowed segments of a role, only the best by prior reach the learned score (and the query's
    cost stops growing); below it, every allowed segment does."""
    import collage.mashup.index as index_module

    rng = np.random.default_rng(2)
    n_songs, n = 10, 120
    segs = {}
    for role in ("harmonic", "percussion"):
        segs[role] = {"song": rng.integers(0, n_songs, n).astype(np.int32), "start_s": rng.uniform(0, 5, n),
                      "end_s": np.full(n, 40.0), "bars": np.full(n, 8, np.int16),
                      "vec": rng.normal(size=(n, DIM)).astype(np.float32), "prior": rng.normal(size=n).astype(np.float32)}
    index = StemIndex([f"s{i}" for i in range(n_songs)], ["C:maj"] * n_songs, np.full(n_songs, 100.0),
                      np.full(n_songs, 60.0), segs)
    vec = rng.normal(size=DIM).astype(np.float32)
    full = index.scores(vec, "C:maj", 100.0, seconds=10.0)
    monkeypatch.setattr(index_module, "PRIOR_TOP", 7)
    capped = index.scores(vec, "C:maj", 100.0, seconds=10.0)
    for role in ("harmonic", "percussion"):
        idx = full[role][0]
        assert len(idx) == n and len(capped[role][0]) == 7
        best = idx[np.argsort(-segs[role]["prior"][idx])[:7]]
        assert sorted(capped[role][0].tolist()) == sorted(best.tolist())


def test_shortlist_counts_each_mashup_once():
    """An 8- and a 16-bar segment from the same downbeat render the same mashup: the shortlist keeps one."""
    rng = np.random.default_rng(2)
    segs = {}
    for role in ("harmonic", "percussion"):
        v = rng.normal(size=(4, DIM)).astype(np.float32)
        segs[role] = {"song": np.array([0, 0, 1, 1], np.int32) if role == "harmonic" else np.array([2, 2, 3, 3], np.int32),
                      "start_s": np.array([0.0, 0.0, 0.0, 0.0]), "end_s": np.array([19.2, 38.4, 19.2, 38.4]),
                      "bars": np.array([8, 16, 8, 16], np.int16), "vec": v}
    index = StemIndex(["a", "b", "c", "d"], ["C:maj"] * 4, [100.0] * 4, [60.0] * 4, segs)
    picks = index.shortlist(rng.normal(size=DIM).astype(np.float32), "C:maj", 100.0, n=10, seconds=10.0)
    keys = [(p["harmonic"], p["harmonic_start_s"], p["percussion"], p["percussion_start_s"]) for p in picks]
    assert len(keys) == len(set(keys)) == 4  # 2 harmonic x 2 percussion starts, each once


def test_a_vocal_read_at_double_tempo_still_finds_its_accompaniments():
    """retrieve's tempo octaves: songs at 50 BPM are out of range for a vocal read at 100 BPM, in range
    (stretch ratio 1) when it is read at half speed; a pair takes both segments from one reading, each mashup once."""
    rng = np.random.default_rng(3)
    segs = {}
    for role in ("harmonic", "percussion"):
        segs[role] = {"song": np.array([0, 1, 4], np.int32) if role == "harmonic" else np.array([2, 3, 5], np.int32),
                      "start_s": np.array([0.0, 0.0, 0.0]), "end_s": np.array([38.4, 38.4, 38.4]),
                      "bars": np.array([8, 8, 8], np.int16), "vec": rng.normal(size=(3, DIM)).astype(np.float32)}
    index = StemIndex(["a", "b", "c", "d", "e", "f"], ["C:maj"] * 6, [50.0] * 4 + [100.0] * 2, [80.0] * 6, segs)
    vec = rng.normal(size=DIM).astype(np.float32)
    one = index.shortlist(vec, "C:maj", 100.0, n=10, seconds=10.0)
    assert [(p["harmonic"], p["percussion"]) for p in one] == [("e", "f")]
    picks = index.shortlist(vec, "C:maj", (100.0, 50.0, 200.0, 50.0), n=10, seconds=10.0)
    assert len(picks) == 5  # e+f at 100 BPM; a, b x c, d at 50 BPM; never e with c or a with f
    assert {(p["harmonic"], p["percussion"]) for p in picks} == {("e", "f"), ("a", "c"), ("a", "d"), ("b", "c"), ("b", "d")}
    assert all(p["harmonic_ratio"] == 1.0 == p["percussion_ratio"] for p in picks)
    scores = [p["first_stage"] for p in picks]
    assert scores == sorted(scores, reverse=True)


def test_vocal_vector_reads_only_its_window():
    from collage.mashup.embed import _chroma_frames, _onset_env, chroma_vector, vocal_embedding

    y = stems(40.0, seed=5)["vocals"]
    downs = np.arange(0.0, 40.0, 4 * BEAT)
    v = vocal_embedding(y, SR, downs, 12.0, 10.0)
    whole = np.concatenate([chroma_vector(_chroma_frames(y, SR), SR, 12.0, 22.0),
                            rhythm_vector(_onset_env(y, SR), SR, downs, 12.0, 22.0)])
    assert float(v[:12] @ whole[:12]) > 0.98 and float(v[12:28] @ whole[12:]) > 0.9
    y2 = y.copy()
    y2[: int(10 * SR)] = 0.0  # audio well before the window does not matter
    assert np.allclose(vocal_embedding(y2, SR, downs, 12.0, 10.0), v)


def test_harmony_first_stage_scores_the_harmonic_side(song_db):
    """retrieve's first stage: the harmonic side re-scored by the second stage's harmony branch (the best ``top`` frame by
    frame, ahead of the rest), the percussion side and the segments themselves unchanged."""
    from collage.mashup.dbclips import clips_from_db, vocal_clip
    from collage.mashup.embed import vocal_embedding
    from collage.mashup.fastscore import FastScorer, ensure_features
    from collage.mashup.retrieval import harmony_first_stage, scorer_model
    from collage.mashup.score import FEATURE_SR

    db = song_db / "s.db"
    index = StemIndex.load(db)
    seed = vocal_clip(song_db / "vocal.wav", sr=FEATURE_SR)
    vec = vocal_embedding(seed.stem("vocals"), seed.sr, seed.downbeats, 0.0, 8.0)
    found = index.candidates(vec, seed.key, (seed.tempo, seed.tempo / 2, seed.tempo * 2), seconds=8.0)
    assert len(found["harmonic"]["idx"]) >= 2
    scorer = FastScorer(scorer_model("premixnet"))
    feats = ensure_features(db, clips_from_db(db))
    q = scorer.vocal(seed, vocal_start_s=0.0, seconds=8.0)
    out = harmony_first_stage(index, found, scorer, q, vec, lambda names: feats, top=1)
    h0, h1 = found["harmonic"], out["harmonic"]
    assert out["percussion"] is found["percussion"] and np.array_equal(h0["idx"], h1["idx"])
    assert not np.allclose(h0["score"], h1["score"])
    assert int(np.sum(h1["score"] > -100)) == 1  # one segment scored frame by frame, first; the rest by profiles
    full = harmony_first_stage(index, found, scorer, q, vec, lambda names: feats)
    assert np.all(full["harmonic"]["score"] > -100)  # every allowed one scored frame by frame
    assert index.pairs(full, 4) and all(p["first_stage"] > -100 for p in index.pairs(full, 4))


def test_per_song_pair_limits_results_from_one_pair_of_songs(song_db, monkeypatch):
    """``per_song_pair``: at most N results share a harmonic song and a percussion song; the ranking's order kept,
    the next best filling the list; 0 keeps the scorer's ranking as it is. ``retrieve`` applies it to the whole
    ranking before cutting it to ``top`` (this DB has one segment a song, so no pair of songs repeats in it)."""
    import collage.mashup.retrieval as R

    class C:
        def __init__(self, h, p):
            self.harmonic, self.percussion = h, p

    rows = [[0.9, C("a", "b"), {}], [0.8, C("a", "b"), {}], [0.7, C("b", "a"), {}], [0.6, C("a", "b"), {}],
            [0.5, C("a", "c"), {}]]
    assert [r[0] for r in R.limit_per_song_pair(rows, 2)] == [0.9, 0.8, 0.7, 0.5]
    assert [r[0] for r in R.limit_per_song_pair(rows, 1)] == [0.9, 0.7, 0.5]
    assert R.limit_per_song_pair(rows, 0) == rows
    db, vocal = song_db / "s.db", song_db / "vocal.wav"
    seen = []
    real = R.limit_per_song_pair
    monkeypatch.setattr(R, "limit_per_song_pair", lambda rows, n: seen.append((len(rows), n)) or real(rows, n))
    res = R.retrieve(db, vocal, top=3, seconds=8, per_song_pair=1)
    once = res["results"]
    assert seen and seen[-1][1] == 1 and seen[-1][0] > 3  # the whole ranking, before the cut to top
    assert res["scored"] == seen[-1][0]  # every candidate scored is counted, kept or not
    assert len(once) == 3 and len({(r["harmonic"], r["percussion"]) for r in once}) == 3
    with pytest.raises(ParameterError, match="per_song_pair"):
        R.retrieve(db, vocal, per_song_pair=-1)

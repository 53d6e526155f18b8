"""The fast second stage (collage.mashup.fastscore): the network in parts, features from stored arrays, retrieve."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from collage.errors import ParameterError
from collage.mashup.fastscore import FastScorer, ensure_features, features_dir, placed_features, song_features
from collage.mashup.generate import Clip, place_stem
from collage.mashup.retrieval import retrieve, scorer_model
from collage.mashup.score import FEATURE_SR, learned_scores, mel
from collage.audio.mix import normalize_loudness

from . import synth
from .synth import SR, stems


@pytest.fixture(scope="module")
def model():
    return scorer_model("premixnet")


def test_the_network_in_parts_is_the_whole_network(model):
    rng = np.random.default_rng(0)
    feats = [rng.normal(size=(4, model.config.in_rows, t)).astype(np.float32) for t in (300, 300, 520)]
    for f in feats:
        f[:, 64:] = np.abs(f[:, 64:])  # chroma is non-negative
    fast = FastScorer(model)
    assert np.allclose(fast.score_features(feats), learned_scores(feats, model), atol=1e-5)


def test_placed_features_follow_the_stretch():
    y = stems(20.0, seed=3)["percussion"]
    y16 = np.interp(np.arange(int(len(y) * FEATURE_SR / SR)) * SR / FEATURE_SR, np.arange(len(y)), y).astype(np.float32)
    feats = song_features(None, y16)
    for ratio in (1.0, 1.1):
        exact = mel(normalize_loudness(place_stem(y16, FEATURE_SR, start_s=2.0, seconds=8.0, ratio=ratio,
                                                  high_quality=False), FEATURE_SR))
        fast, chroma = placed_features(feats, "percussion", start_s=2.0, seconds=8.0, ratio=ratio)
        unstretched, _ = placed_features(feats, "percussion", start_s=2.0, seconds=8.0, ratio=1.0)
        assert chroma is None and fast.shape == exact.shape
        err = np.abs(fast - exact)[:, 2:-2].mean()
        assert err < 0.08
        if ratio != 1.0:  # reading the stretch matters: without it the frames drift off
            assert err < 0.5 * np.abs(unstretched - exact)[:, 2:-2].mean()
    with pytest.raises(ParameterError):
        placed_features(feats, "percussion", start_s=0.0, seconds=8.0, semitones=2)


@pytest.fixture(scope="module")
def song_db(tmp_path_factory):
    return synth.song_db(tmp_path_factory.mktemp("fastscore"), 3)


def test_retrieve_fast_and_exact_rank_the_same_shortlist(song_db):
    db, vocal = song_db / "s.db", song_db / "vocal.wav"
    fast = retrieve(db, vocal, top=20, shortlist=36, seconds=8)
    exact = retrieve(db, vocal, top=20, shortlist=36, seconds=8, second_stage="exact")
    assert fast["second_stage"] == "fast" and exact["second_stage"] == "exact" and fast["scored"] == exact["scored"] > 1
    key = lambda r: (r["harmonic"], r["harmonic_start_s"], r["percussion"], r["percussion_start_s"])  # noqa: E731
    assert {key(r) for r in fast["results"]} == {key(r) for r in exact["results"]}
    f = {key(r): r["score"] for r in fast["results"]}
    e = {key(r): r["score"] for r in exact["results"]}
    assert np.mean([abs(f[k] - e[k]) for k in f]) < 0.15
    assert all(r["terms"] == {} for r in fast["results"]) and all(r["terms"] for r in exact["results"])
    assert any(features_dir(db).iterdir())  # stored on first use
    explained = retrieve(db, vocal, top=2, shortlist=36, seconds=8, explain=True)
    assert [r["score"] for r in explained["results"]] == [r["score"] for r in fast["results"][:2]]
    assert all(set(r["terms"]) >= {"harmonic", "rhythmic", "spectral"} for r in explained["results"])
    with pytest.raises(ParameterError):
        retrieve(db, vocal, second_stage="quick")
    # rerank: the fast ranking's best 3, in the exact path's order and with its scores; the rest as they were
    re = retrieve(db, vocal, top=20, shortlist=36, seconds=8, rerank=3)
    assert re["rerank"] == 3 and [key(r) for r in re["results"][3:]] == [key(r) for r in fast["results"][3:]]
    assert {key(r) for r in re["results"][:3]} == {key(r) for r in fast["results"][:3]}
    assert [r["score"] for r in re["results"][:3]] == sorted((e[key(r)] for r in re["results"][:3]), reverse=True)
    assert all(r["terms"] for r in re["results"][:3]) and all(r["terms"] == {} for r in re["results"][3:])
    for bad in (-1, 1.5, True):
        with pytest.raises(ParameterError):
            retrieve(db, vocal, rerank=bad)


def test_features_are_stored_once(song_db, tmp_path):
    y = stems(10.0, seed=1)
    clip = Clip("a song", FEATURE_SR, "C:maj", 100.0, np.arange(0, 10, 0.6), np.arange(0, 10, 2.4),
                {"harmonic": y["harmonic"][: 10 * FEATURE_SR], "percussion": y["percussion"][: 10 * FEATURE_SR]})
    got = ensure_features(tmp_path / "x.db", [clip])["a song"]
    assert got["h_mel"].shape[0] == 8 and got["p_mel"].shape[0] == 11
    clip.stems = {}  # a second call reads what is stored and needs no audio
    again = ensure_features(tmp_path / "x.db", [clip])["a song"]
    assert np.array_equal(np.asarray(again["h_mel"]), np.asarray(got["h_mel"]))


def test_build_stores_the_features_when_asked(tmp_path):
    from collage.cli import main

    d = tmp_path / "in"
    d.mkdir()
    for role, y in stems(12.0, seed=4).items():
        sf.write(d / f"one.{role}.wav", y, SR)
    assert main(["mashup", "build", str(tmp_path / "f.db"), "--from", str(d), "--source", "stems", "--features",
                 "--no-progress"]) == 0
    assert (features_dir(tmp_path / "f.db") / "one" / "h_mel.npy").is_file()


def test_a_cache_shared_by_calls_gives_the_same_scores(song_db, model):
    from collage.mashup.dbclips import clips_from_db, vocal_clip
    from collage.mashup.generate import Candidate

    db = song_db / "s.db"
    pool = clips_from_db(db)
    feats = ensure_features(db, pool)
    seed = vocal_clip(song_db / "vocal.wav")
    fast = FastScorer(model)
    cands = [Candidate("matched", seed.id, h.id, p.id, 8.0, 0.5, 0.2, 0.2, harmonic_semitones=1, harmonic_ratio=0.97,
                       percussion_ratio=1.04) for h in pool for p in pool if h.id != p.id]
    cache = {}
    for start in (0.5, 3.0):
        q = fast.vocal(seed, vocal_start_s=start, seconds=8.0)
        assert np.array_equal(fast.score(q, cands, feats, cache=cache), fast.score(q, cands, feats))
    assert len(cache) == 2 * len(pool)


def test_harmony_scores_with_a_pairs_own_sound_are_its_score(song_db, model):
    """The first stage's harmony scores: with the texture of one pair and every frame read, the harmonic segment's
    log-odds is the fast second stage's score of that pair; chroma profiles score the same under a common transposition."""
    from collage.mashup.dbclips import clips_from_db, vocal_clip
    from collage.mashup.generate import Candidate

    db, vocal = song_db / "s.db", song_db / "vocal.wav"
    clips = clips_from_db(db)
    feats = ensure_features(db, clips)
    seed = vocal_clip(vocal, sr=FEATURE_SR)
    fast = FastScorer(model)
    q = fast.vocal(seed, vocal_start_s=0.0, seconds=8.0)
    a, b = clips[0].id, clips[1].id
    for shift, ratio in ((0, 1.0), (2, 1.07), (-1, 0.93)):
        cand = Candidate("matched", seed.id, a, b, 8.0, 0.0, 1.0, 2.0, harmonic_semitones=shift, harmonic_ratio=ratio,
                         percussion_ratio=ratio)
        p = float(fast.score(q, [cand], feats)[0])
        got = fast.harmony_scores(q, [(a, 1.0, ratio, shift)], feats, fast.texture(q, [cand], feats), step=1)
        assert got.shape == (1,) and abs(float(got[0]) - np.log(p / (1 - p))) < 1e-3
    rng = np.random.default_rng(0)
    v, S = rng.random(12).astype(np.float32), rng.random((5, 12)).astype(np.float32)
    tex = fast.texture(q, [cand], feats)
    base = fast.profile_scores(v, S, tex)
    assert base.shape == (5,) and np.all(np.isfinite(base)) and len(set(np.round(base, 4))) > 1
    assert np.allclose(fast.profile_scores(np.roll(v, 3), np.roll(S, 3, axis=1), tex), base, atol=1e-4)
    assert fast.harmony_scores(q, [], feats, tex).shape == (0,)


def test_fast_pooling_is_the_pooling():
    """The second stage's pooling by strided slices gives AvgPool2d's numbers, odd maps included (the pool itself)."""
    import torch

    from collage.mashup.fastscore import _fast_pool

    for kernel in ((2, 2), (2, 1), (1, 2)):
        pool = torch.nn.AvgPool2d(kernel, ceil_mode=True)
        for shape in ((3, 4, 16, 8), (2, 4, 15, 8), (2, 4, 16, 7)):
            x = torch.randn(*shape)
            assert torch.allclose(_fast_pool(pool)(x), pool(x), atol=1e-6)
    padded = torch.nn.AvgPool2d((2, 2), padding=1)
    assert _fast_pool(padded) is padded  # not a plain halving: left to torch

"""SourceNet shares stored per song (collage.mashup.shares) and the first stage that reads them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from collage.mashup.fastscore import SHIFTS, FastScorer, ensure_features, features_dir
from collage.mashup.retrieval import retrieve, scorer_model, shares_first_stage
from collage.mashup.score import WINDOW_FRAMES
from collage.mashup.shares import SHARE_PHASES, SHARE_RATIOS, ensure_shares, gather_shares

from . import synth


@pytest.fixture(scope="module")
def song_db(tmp_path_factory):
    return synth.song_db(tmp_path_factory.mktemp("shares"), 3)


@pytest.fixture(scope="module")
def scorer():
    return FastScorer(scorer_model("premixnet"))


@pytest.fixture(scope="module")
def setup(song_db, scorer):
    from collage.mashup.dbclips import clips_from_db, vocal_clip
    from collage.mashup.score import FEATURE_SR

    db = song_db / "s.db"
    clips = clips_from_db(db)
    feats = ensure_features(db, clips)
    stored = ensure_shares(db, [c.id for c in clips], scorer, lambda names: feats)
    seed = vocal_clip(song_db / "vocal.wav", sr=FEATURE_SR)
    return db, clips, feats, stored, seed


def test_shares_are_stored_once_per_song_and_model(setup, scorer, monkeypatch):
    db, clips, feats, stored, _ = setup
    s = stored[clips[0].id]
    c1d = scorer.cfg.c1d
    assert s["h_share"].shape[:4] == (len(SHIFTS), len(SHARE_RATIOS["harmonic"]), SHARE_PHASES["harmonic"], c1d)
    assert s["p_share"].shape[:3] == (len(SHARE_RATIOS["percussion"]), SHARE_PHASES["percussion"], c1d)
    assert s["p_share"].dtype == np.float16
    assert len(list(features_dir(db).glob("*/share-*"))) == len(clips)
    import collage.mashup.shares as shares

    monkeypatch.setattr(shares, "song_shares", lambda *a: pytest.fail("recomputed stored shares"))
    again = ensure_shares(db, [c.id for c in clips], scorer, lambda names: pytest.fail("features read"))
    assert np.array_equal(np.asarray(again[clips[0].id]["p_share"]), np.asarray(s["p_share"]))


def test_gathered_shares_follow_the_exact_ones(setup, scorer):
    """The stored shares stand for the ones the second stage computes per candidate: the pairs' scores from them
    rank the candidates as the second stage does (they are approximations: edges, running mean, nearest stretch)."""
    from collage.mashup.generate import Candidate

    db, clips, feats, stored, seed = setup
    q = scorer.vocal(seed, vocal_start_s=0.0, seconds=8.0)
    rng = np.random.default_rng(0)
    cands = []
    for h in clips:
        for p in clips:
            if h.id == p.id:
                continue
            for _ in range(6):
                r = float(rng.uniform(0.8, 1.2))
                cands.append(Candidate("matched", seed.id, h.id, p.id, 8.0, 0.0, float(rng.uniform(0, 3)),
                                       float(rng.uniform(0, 3)), harmonic_semitones=int(rng.integers(-3, 4)),
                                       harmonic_ratio=r, percussion_ratio=r))
    cache = {}
    exact = scorer.score(q, cands, feats, cache=cache)
    hs = [(c.harmonic, c.harmonic_start_s, c.harmonic_ratio, c.harmonic_semitones) for c in cands]
    ps = [(c.percussion, c.percussion_start_s, c.percussion_ratio, 0) for c in cands]
    H, P = gather_shares(stored, "harmonic", hs, seconds=8.0), gather_shares(stored, "percussion", ps, seconds=8.0)
    assert H.shape == (len(cands), 1, scorer.cfg.c1d, WINDOW_FRAMES // 8, 1) and H.dtype == np.float32
    approx = scorer.pair_logits(scorer.pair_sides(q.share, H, P, scorer.harmony_features(q, hs, feats)),
                                np.arange(len(cands)), np.arange(len(cands)))
    assert spearmanr(exact, approx)[0] > 0.7
    # and against the exact shares themselves (the same pairs): close, not equal
    Pe = np.stack([cache[("p", 8.0, (c.percussion, round(c.percussion_start_s, 4), round(c.percussion_ratio, 6), 0.0))]
                   .reshape(q.share.shape).numpy() for c in cands])
    assert np.sqrt(((P - Pe) ** 2).mean()) < 0.8 * Pe.std()
    # segment_shares computes the very shares score does (and keeps them in its cache)
    own, mine = scorer.segment_shares(q, "percussion", ps, feats, {}), {}
    assert np.allclose(own.numpy(), Pe, atol=1e-5)
    assert scorer.segment_shares(q, "harmonic", hs[:2], feats, mine).shape == (2, *q.share.shape) and len(mine) == 2


def test_a_segment_past_the_stored_audio_reads_silence(setup):
    _, clips, _, stored, _ = setup
    name = clips[0].id
    far = gather_shares(stored, "percussion", [(name, 1e4, 1.0, 0)], seconds=8.0)
    assert np.allclose(far[0, 0, :, :, 0], np.asarray(stored[name]["p_silence"], np.float32)[:, None], atol=1e-3)


@pytest.fixture(scope="module")
def query(setup, scorer):
    """The DB's index, the allowed segments for the vocal's first 8 s (three tempo readings) and its query."""
    from collage.mashup.embed import vocal_embedding
    from collage.mashup.index import StemIndex

    db, _, _, _, seed = setup
    index = StemIndex.load(db)
    vec = vocal_embedding(seed.stem("vocals"), seed.sr, seed.downbeats, 0.0, 8.0)
    found = index.candidates(vec, seed.key, (seed.tempo, seed.tempo / 2, seed.tempo * 2), seconds=8.0)
    return index, found, scorer.vocal(seed, vocal_start_s=0.0, seconds=8.0)


def test_shares_first_stage_scores_both_sides(setup, scorer, query):
    _, _, feats, stored, _ = setup
    index, found, q = query
    out = shares_first_stage(index, found, scorer, q, lambda n: stored, lambda n: feats, rounds=(1, 2))
    for role in ("harmonic", "percussion"):
        a, b = found[role], out[role]
        assert np.array_equal(a["idx"], b["idx"]) and np.array_equal(a["ratio"], b["ratio"])
        assert int(np.sum(b["score"] > -100)) == min(2, len(a["idx"]))  # the last round's, ahead of the rest
    assert shares_first_stage(index, found, scorer, q, lambda n: stored, lambda n: feats, rounds=()) is found


def test_expansion_adds_allowed_pairs_around_the_grids_best(setup, scorer, query):
    """After the second stage ranks a grid, expansion_pairs pairs segments the rounds scored and the grid lacks
    (the best by the stored shares against the grid's best segments) with the grid's other side and with each other:
    every pair allowed (one reading of the tempo, two songs), none already in the grid, at most ``new`` new segments
    a side. expanded_ranking scores the grid, then each pass's new pairs, once each, and ranks them all."""
    from collage.mashup.retrieval import expanded_ranking, expansion_pairs

    _, _, feats, stored, _ = setup
    index, found, q = query
    out = shares_first_stage(index, found, scorer, q, lambda n: stored, lambda n: feats, rounds=(4, 16))
    grid = index.pair_positions(out, 1)  # one pair: the rest of what the rounds scored is outside it
    assert len(grid) == 1
    assert expansion_pairs(index, found, scorer, grid) == []  # no rounds, nothing to expand from
    more = expansion_pairs(index, out, scorer, grid, anchors=1, new=1)
    H, P = index.segments["harmonic"], index.segments["percussion"]
    h, p = out["harmonic"], out["percussion"]
    (gi, gj), = grid
    assert more and not set(more) & set(grid)
    assert {i for i, _ in more} <= {gi} | set(out["shares"]["harmonic"].tolist())
    assert len({i for i, _ in more} - {gi}) <= 1 and len({j for _, j in more} - {gj}) <= 1
    for i, j in more:
        assert (i, j) != (gi, gj)  # a new segment with the grid's other side, or two new ones
        assert h["reading"][i] == p["reading"][j] and H["song"][h["idx"][i]] != P["song"][p["idx"][j]]
    # the anchors by their own shares (the second stage's, as segment_shares gives them): allowed pairs around them too
    cache = {}
    own = lambda role, segs: scorer.segment_shares(q, role, segs, feats, cache)  # noqa: E731
    by_own = expansion_pairs(index, out, scorer, grid, anchors=1, new=1, exact=own)
    assert by_own and not set(by_own) & set(grid) and len(cache) == 2  # the anchors' shares, one a side
    for i, j in by_own:
        assert h["reading"][i] == p["reading"][j] and H["song"][h["idx"][i]] != P["song"][p["idx"][j]]
    asked = []

    def score(pairs):  # a stand-in for the second stage: any deterministic score of a pair
        asked.append(list(pairs))
        return np.asarray([-(i * 7 + j * 3) % 11 for i, j in pairs], np.float64)

    ranked, s = expanded_ranking(index, out, scorer, grid, score, anchors=1, new=1, passes=2)
    flat = [x for a in asked for x in a]
    assert asked[0] == grid and asked[1] == more and len(flat) == len(set(flat)) == len(ranked)
    assert set(ranked) == set(flat) and list(s) == sorted(s, reverse=True)
    calls = len(asked)
    empty, s0 = expanded_ranking(index, out, scorer, [], score)
    assert empty == [] and len(s0) == 0 and len(asked) == calls  # nothing scored for an empty grid


def test_fresh_passes_search_only_around_anchors_new_to_the_top(setup, scorer, query):
    """With ``fresh``, a pass after the first searches only around the anchors its ranking has that no pass before
    had: when the grid's pair stays the best, the later passes add nothing; anchors in ``skip`` are left out."""
    from collage.mashup.retrieval import expanded_ranking, expansion_pairs, ranked_anchors

    _, _, feats, stored, _ = setup
    index, found, q = query
    out = shares_first_stage(index, found, scorer, q, lambda n: stored, lambda n: feats, rounds=(4, 16))
    grid = index.pair_positions(out, 1)
    (gi, gj), = grid
    assert ranked_anchors([(gi, gj), (7, gj), (gi, 9), (3, 4)], 2) == ([gi, 7], [gj, 9])
    assert expansion_pairs(index, out, scorer, grid, anchors=1, new=1)
    assert expansion_pairs(index, out, scorer, grid, anchors=1, new=1, skip=([gi], [gj])) == []
    asked = []

    def score(pairs):  # the grid's pair stays the best
        asked.append(list(pairs))
        return np.asarray([1.0 if p == (gi, gj) else float(-len(asked)) for p in pairs])

    ranked, _ = expanded_ranking(index, out, scorer, grid, score, anchors=1, new=1, passes=3, fresh=True)
    assert len(asked) == 2 and ranked[0] == (gi, gj)  # the grid, the first pass; no fresh anchor after it


def test_retrieve_computes_the_shares_it_lacks(song_db, tmp_path):
    import shutil

    d = tmp_path / "copy"
    shutil.copytree(song_db, d)
    for s in features_dir(d / "s.db").glob("*/share-*"):
        shutil.rmtree(s)
    res = retrieve(d / "s.db", d / "vocal.wav", top=3, shortlist=6, seconds=8)
    assert res["results"] and list(features_dir(d / "s.db").glob("*/share-*"))


def test_percussion_shares_follow_a_placement_within_a_frame(setup, scorer):
    """The percussion's shares are stored every 8 ms (a quarter of a model frame): a segment placed 8 or 16 ms later
    reads other stored offsets, which stand for the second stage's shares of that placement better than those of
    the first placement do."""
    from collage.mashup.fastscore import placed_features
    from collage.mashup.score import windows

    _, clips, feats, stored, _ = setup
    name, start, ratio = clips[0].id, 1.0, 1.05

    def exact(s):
        m = placed_features(feats[name], "percussion", start_s=s, seconds=8.0, ratio=ratio)[0]
        return scorer._share(2, windows(m)).numpy()

    def gathered(s):
        return gather_shares(stored, "percussion", [(name, s, ratio, 0)], seconds=8.0)[0]

    for d in (0.008, 0.016):
        e = exact(start + d)
        assert np.abs(gathered(start + d) - e).mean() < np.abs(gathered(start) - e).mean()

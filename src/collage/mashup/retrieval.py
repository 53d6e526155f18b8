"""Retrieval and generation over a MashupDB: the best accompaniments for a vocal, and the best mashups of a DB.

>>> res = retrieve("songs.db", "my_acapella.wav", top=5)          # no file written
>>> [(r["harmonic"], r["percussion"], r["score"]) for r in res["results"]]
>>> written = generate_mashups("songs.db", "mashups/", top=10)     # WAVs + JSON sidecars

Candidates are matched: harmonic stems within ±3 semitones of the vocal's key, percussion
stems with a tempo ratio in [0.8, 1.2], shifted and stretched to the vocal. ``retrieve``
shortlists them over every stem segment of the DB by stored vectors
(:mod:`collage.mashup.index`), or draws them at random (``candidates=``);
``generate_mashups`` draws them at random
(:func:`~collage.mashup.generate.matched_candidates`). Both render and mix them and rank
them by a scorer (:data:`~collage.mashup.combination.SCORERS`).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from collage.errors import OutputError, ParameterError
from collage.io.atomic import atomic_path
from collage.io.audio import write_wav
from collage.mashup.combination import SCORERS
from collage.mashup.dbclips import clips_from_db, vocal_clip
from collage.mashup.embed import LAYOUT, grid_shape, vocal_embedding
from collage.mashup.fastscore import FastScorer, PairSides, ensure_features
from collage.mashup.firststage import standardise
from collage.mashup.generate import Candidate, Clip, matched_candidates, render_candidate, vocal_starts
from collage.mashup.index import StemIndex
from collage.mashup.score import (
    FEATURE_SR,
    automashupper_score,
    learned_scores,
    load_scorer,
    mashup_features,
)
from collage.mashup.shares import distinct_windows, ensure_shares, gather_shares
from collage.progress import track

__all__ = ["SHORTLIST_FAST", "SHORTLIST_EXACT", "HARMONY_TOP", "SHARES_ROUNDS", "SHARES_ASPECT", "SHARES_HARMONY_TOP", "EXPAND", "expanded_ranking", "shares_rounds", "harmony_first_stage", "shares_first_stage",
           "expansion_pairs", "ranked_anchors", "limit_per_song_pair", "segment_tuples", "pair_candidates", "generate_mashups", "rank_candidates", "render_retrieved", "retrieve",
           "score_candidates", "scorer_model"]

_TERMS = ("automashupper", "harmonic", "rhythmic", "spectral")
#: ``retrieve``'s default shortlist (pairs) with the fast second stage, and when every candidate is rendered; 1,600,
#: with the expansion after it (:data:`EXPAND`), keeps a query at 10,740 stem segments just under a second on one core
#: (0.97 s median over 19 vocals on the AMD EPYC of the last measurement, 1.28 s at most; docs/results/mashup_retrieve_speed.md)
SHORTLIST_FAST, SHORTLIST_EXACT = 1600, 30
#: harmonic segments the first stage scores frame by frame with the second stage's harmony branch
#: (:func:`harmony_first_stage`): the best this many by chroma profiles
HARMONY_TOP = 200
#: segments of each side whose sound, averaged, is the reference accompaniment of :func:`harmony_first_stage`; in
#: :func:`shares_first_stage`, the partner songs (and as many more partner segments) of each segment
_REFERENCES = 4
#: segments of each side that each round of :func:`shares_first_stage` scores by the stored shares (at least the
#: grid's: :func:`shares_rounds`)
SHARES_ROUNDS = (100, 300)
#: harmonic segments the harmony stage scores frame by frame when the shares rounds follow (they score the harmonic
#: side again, the harmony frames included): none, the chroma profiles alone order the first round
SHARES_HARMONY_TOP = 0
#: the grid after the shares rounds: percussion segments per harmonic one. They rank the harmonic side better (a
#: harmonic segment's merit depends less on its partner), so the grid reaches deeper into the percussion side: on
#: val songs, 31 x 67 segments kept 0.901 of the exhaustive top 10 and 45 x 45 0.832, at about the same cost
#: (docs/results/mashup_shares_val.md)
SHARES_ASPECT = 2.2
#: after the second stage has ranked the grid: the best ``EXPAND[0]`` segments of each side among its best pairs
#: anchor a search for partners the grid lacks (:func:`expansion_pairs`), which adds the ``EXPAND[1]`` best of each
#: side to the second stage; ``EXPAND[2]``: passes (:func:`expanded_ranking`), each around the best of the ranking
#: grown by the one before; ``EXPAND[3]`` (fresh): a pass after the first only around the anchors new to the top.
#: On 20 whole val songs one pass lifts recall@10 against the exhaustive ranking at 1,600 pairs from 0.881 to 0.973,
#: for 40 more segments in the second stage (127); two full passes 0.991 for 163 segments, which a query at 10,740
#: segments has no time for (docs/results/mashup_retrieve_speed.md). Often the best pair of the exhaustive ranking
#: joins a segment the first pass found with partners nobody looked for (a harmonic segment that suits one song's
#: drums throughout): three passes, the later ones around fresh anchors only, keep 0.992 for 124 segments on
#: average (most queries stop after the first pass; the tenth slowest scores 147)
#: (docs/results/mashup_expansion_fresh_val.md, mashup_expansion_val.md, mashup_expansion_anchors_val.md)
EXPAND = (5, 20, 3, True)


def harmony_first_stage(index: StemIndex, cands: dict, scorer: FastScorer, q, vocal_vector: np.ndarray,
                        features: Callable, *, cache: dict | None = None, top: int = HARMONY_TOP) -> dict:
    """``cands`` (:meth:`~collage.mashup.index.StemIndex.candidates`) with the harmonic side scored by the second
    stage itself: PreMixNet's log-odds for the vocal ``q`` (:meth:`~collage.mashup.fastscore.FastScorer.vocal`) with
    each harmonic segment, the accompaniment's sound fixed to a reference (the mean of the best
    :data:`_REFERENCES` segments of each side), so that only the network's harmony branch, frame by frame, tells
    the segments apart. Every allowed harmonic segment is scored from chroma profiles (the vocal's vector
    ``vocal_vector`` and the segments' stored ones: :meth:`~collage.mashup.fastscore.FastScorer.profile_scores`),
    the best ``top`` of those frame by frame (:meth:`~collage.mashup.fastscore.FastScorer.harmony_scores`),
    standardised and put before the others.

    Why: on songs rendered with a soundfont no model was trained on, the vector-based harmonic score does not
    predict a segment's best pair score at all (Spearman 0.01 on val songs); this one does (0.48), in about
    90 ms a query at 10,740 segments with no SourceNet beyond the references' (docs/results/
    mashup_first_stage_ceiling.md, mashup_retrieve_speed.md). ``features(names)``:
    the stored features of those songs (:func:`~collage.mashup.fastscore.ensure_features`); ``cache``: the
    second stage's, which the reference segments' SourceNet shares then fill.
    """
    h, p = cands["harmonic"], cands["percussion"]
    if len(h["idx"]) == 0 or len(p["idx"]) == 0:
        return cands
    H, P = index.segments["harmonic"], index.segments["percussion"]
    rh, rp = (np.argsort(-c["score"], kind="stable")[:_REFERENCES] for c in (h, p))
    name = lambda g, c, i: index.names[g["song"][c["idx"][i]]]  # noqa: E731
    refs = [Candidate("matched", "vocal", name(H, h, i), name(P, p, j), q.seconds, 0.0, float(H["start_s"][h["idx"][i]]),
                      float(P["start_s"][p["idx"][j]]), harmonic_semitones=int(h["shift"][i]),
                      harmonic_ratio=float(h["ratio"][i]), percussion_ratio=float(p["ratio"][j])) for i, j in zip(rh, rp)]
    feats = features({c.harmonic for c in refs} | {c.percussion for c in refs})
    texture = scorer.texture(q, refs, feats, cache=cache)
    # every allowed segment by chroma profiles (the stored vectors', rotated by the shift), the best ``top`` by frames
    chroma = H["vec"][h["idx"]][:, LAYOUT["chroma"]]
    rolled = chroma[np.arange(len(chroma))[:, None], (np.arange(12)[None, :] - h["shift"][:, None]) % 12]
    coarse = scorer.profile_scores(vocal_vector[LAYOUT["chroma"]], rolled, texture)
    best = np.argsort(-coarse, kind="stable")[:top]
    segs = [(name(H, h, i), float(H["start_s"][h["idx"][i]]), float(h["ratio"][i]), int(h["shift"][i])) for i in best]
    feats = features({s[0] for s in segs})
    score = standardise(coarse) - 1e3  # below every segment scored by frames
    score[best] = standardise(scorer.harmony_scores(q, segs, feats, texture))
    return {**cands, "harmonic": {**h, "score": score.astype(np.float32)}}


def shares_first_stage(index: StemIndex, cands: dict, scorer: FastScorer, q, shares: Callable, features: Callable, *,
                       rounds: tuple[int, ...] = SHARES_ROUNDS, references: int = _REFERENCES,
                       more_partners: int = _REFERENCES) -> dict:
    """``cands`` re-scored on both sides by PreMixNet on the stored SourceNet shares (:mod:`collage.mashup.shares`).

    In round ``r`` the best ``rounds[r]`` segments of each side so far are each paired with the other side's
    partners (at the same reading of the vocal's tempo: the best segment of each of its ``references`` best songs,
    then its ``more_partners`` best other segments) and scored by the best of those pairs' log-odds; the first round's order and references are those of the scores before, each
    later round's those of the round before. The last round's segments get those log-odds as their scores
    (standardised), put before every other segment. ``shares(names)``: those songs' stored shares
    (:func:`~collage.mashup.shares.ensure_shares`); ``features(names)``: their stored features (for the chroma).

    Why: the network's verdict on a segment depends on how it sounds with *this* vocal, which no vector stored
    without the vocal predicts well (docs/results/mashup_first_stage_ceiling.md); with the shares stored, the
    verdict costs the network's small head alone (about 0.02 ms a pair on one core), so it can be asked of
    hundreds of segments, against a few partners each. Partners from distinct songs first, since a song's segments
    sound alike.
    """
    h, p = cands["harmonic"], cands["percussion"]
    if len(h["idx"]) == 0 or len(p["idx"]) == 0 or not rounds:
        return cands
    H, P = index.segments["harmonic"], index.segments["percussion"]
    top = max(rounds)
    oh, op = (np.argsort(-c["score"], kind="stable")[:top] for c in (h, p))
    hsegs, psegs = segment_tuples(index, cands, "harmonic", oh), segment_tuples(index, cands, "percussion", op)
    stored = shares({s[0] for s in hsegs} | {s[0] for s in psegs})
    w = distinct_windows(q.seconds)  # a window that mostly repeats the one before adds little to a ranking
    Hs = gather_shares(stored, "harmonic", hsegs, seconds=q.seconds)[:, w]
    Ps = gather_shares(stored, "percussion", psegs, seconds=q.seconds)[:, w]
    HH = scorer.harmony_features(q, hsegs, features({s[0] for s in hsegs}), step=4)[:, w] if scorer.cfg.harmony else None
    sides = scorer.pair_sides(q.share[w], Hs, Ps, HH)  # laid out once for every round's pairs
    read = (h["reading"][oh], p["reading"][op])
    song = (H["song"][h["idx"][oh]], P["song"][p["idx"][op]])
    rank = [-np.arange(len(oh), dtype=np.float64), -np.arange(len(op), dtype=np.float64)]  # the order so far
    for m in rounds:
        sel = [np.argsort(-r, kind="stable")[:m] for r in rank]
        logit = [np.full(len(oh), -np.inf), np.full(len(op), -np.inf)]
        for b in np.intersect1d(read[0], read[1]):  # a pair takes both segments at one reading of the vocal's tempo
            mine = [x[read[i][x] == b] for i, x in enumerate(sel)]
            refs = [_partners(np.flatnonzero(read[i] == b), rank[i], song[i], references, more_partners)
                    for i in range(2)]
            for i in range(2):  # 0: harmonic segments against percussion references, 1: the other way
                seg, ref = mine[i], refs[1 - i]
                if len(seg) and len(ref):
                    a, c = np.repeat(seg, len(ref)), np.tile(ref, len(seg))
                    logit[i][seg] = scorer.pair_logits(sides, *((a, c) if i == 0 else (c, a))).reshape(len(seg), -1).max(1)
        rank = [np.where(np.isfinite(lg), lg, r - 1e6) for lg, r in zip(logit, rank)]  # scored first, then the rest
    out = {}
    for role, c, o, lg in (("harmonic", h, oh, logit[0]), ("percussion", p, op, logit[1])):
        score = standardise(c["score"]) - 1e3  # below every segment the last round scored
        ok = np.isfinite(lg)
        if ok.any():
            score[o[ok]] = standardise(lg[ok])
        out[role] = {**c, "score": score.astype(np.float32)}
    # what the rounds gathered, for the expansion after the second stage (expansion_pairs)
    out["shares"] = {"harmonic": oh, "percussion": op, "sides": sides, "v": q.share[w], "windows": w}
    return {**cands, **out}


def segment_tuples(index: StemIndex, cands: dict, role: str, positions) -> list[tuple[str, float, float, int]]:
    """Segments of ``cands``' side ``role`` at ``positions`` as ``(song, start_s, ratio, semitones)`` (semitones 0 for
    percussion): how :mod:`collage.mashup.shares` and :meth:`FastScorer.segment_shares` name them."""
    c, S = cands[role], index.segments[role]
    return [(index.names[S["song"][c["idx"][i]]], float(S["start_s"][c["idx"][i]]), float(c["ratio"][i]),
             int(c["shift"][i]) if role == "harmonic" else 0) for i in positions]


def expansion_pairs(index: StemIndex, cands: dict, scorer: FastScorer, ranked: list[tuple[int, int]], *,
                    anchors: int = EXPAND[0], new: int = EXPAND[1], exact: Callable | None = None,
                    skip: tuple = ((), ())) -> list[tuple[int, int]]:
    """Pairs to add to a ranked grid: positions ``(i, j)`` into ``cands``' harmonic and percussion sides.

    ``ranked``: the grid's pairs (positions), best first by the second stage; ``cands``: from
    :func:`shares_first_stage` (its ``"shares"``: the segments the rounds scored and their gathered shares). The best
    ``anchors`` segments of each side among the ranked pairs are the anchors; every segment of the other side that
    the rounds scored and the grid lacks is scored by PreMixNet on the stored shares with each anchor (at the same
    reading of the vocal's tempo, never two stems of one song), and the ``new`` best of each side, by their best
    anchor, are paired with the grid's segments of the other side and with each other. Called again with the
    ranking grown by those pairs, it searches around the new best (a second pass).

    Why: a segment's merit depends on its partner (a percussion segment's most of all), and the shares rounds could
    only try a few partners per segment, chosen before any exact score; the second stage's best pairs name the
    partners worth trying. About 3,000 head calls and 2 x ``new`` more segments for the second stage.

    ``exact(role, segments)``: the second stage's own shares of segments (:func:`segment_tuples`), ``(n, W, c1d, T'',
    1)``, e.g. :meth:`~collage.mashup.fastscore.FastScorer.segment_shares` through the query's cache (the anchors were
    scored, so they are there); given, each anchor is paired by its own share instead of its stored one. ``skip``:
    positions of each side ``(harmonic, percussion)`` left out of the anchors (those of earlier passes)."""
    st = cands.get("shares")
    if st is None or not ranked or new <= 0:
        return []
    h, p = cands["harmonic"], cands["percussion"]
    H, P = index.segments["harmonic"], index.segments["percussion"]
    row = [{int(x): r for r, x in enumerate(st["harmonic"])}, {int(x): r for r, x in enumerate(st["percussion"])}]
    top = tuple([a for a in side if a not in skip[k]] for k, side in enumerate(ranked_anchors(ranked, anchors)))
    grid = ({i for i, _ in ranked}, {j for _, j in ranked})
    read = (h["reading"], p["reading"])
    song = (H["song"][h["idx"]], P["song"][p["idx"]])
    added = ([], [])
    for side in (0, 1):  # 0: new harmonic segments against percussion anchors, 1: the other way
        other = 1 - side
        pool = [int(x) for x in st["harmonic" if side == 0 else "percussion"] if int(x) not in grid[side]]
        anchor = [a for a in top[other] if a in row[other]]
        if not pool or not anchor:
            continue
        pool_a, anchor_a = np.asarray(pool), np.asarray(anchor)
        ok = (read[side][pool_a][:, None] == read[other][anchor_a][None, :]) & \
            (song[side][pool_a][:, None] != song[other][anchor_a][None, :])
        a, b = np.nonzero(ok)
        if not len(a):
            continue
        seg_rows = np.asarray([row[side][x] for x in pool_a[a]])
        anc_rows = np.asarray([row[other][x] for x in anchor_a[b]])
        hi, pi = (seg_rows, anc_rows) if side == 0 else (anc_rows, seg_rows)
        sides = st["sides"]
        if exact is not None:  # the anchors by their own shares: rows 0.. of the other side
            own = exact("percussion" if side == 0 else "harmonic",
                        segment_tuples(index, cands, "percussion" if side == 0 else "harmonic", anchor_a))[:, st["windows"]]
            if side == 0:
                sides, pi = PairSides(sides.vH, scorer.pair_sides(None, None, own).P, sides.HH), b
            else:
                HH = None if sides.HH is None else sides.HH[np.asarray([row[0][x] for x in anchor_a])]
                sides, hi = PairSides(scorer.pair_sides(st["v"], own, None).vH, sides.P, HH), b
        logit = np.full(ok.shape, -np.inf, np.float32)
        logit[a, b] = scorer.pair_logits(sides, hi, pi)
        best = logit.max(1)
        order = [k for k in np.argsort(-best, kind="stable")[:new] if np.isfinite(best[k])]
        added[side].extend(int(pool_a[k]) for k in order)
    allowed = lambda i, j: read[0][i] == read[1][j] and song[0][i] != song[1][j]  # noqa: E731
    hs, ps = sorted(grid[0]), sorted(grid[1])
    out = [(i, j) for i in added[0] for j in ps + added[1] if allowed(i, j)]  # the new segments with each other too
    return out + [(i, j) for j in added[1] for i in hs if allowed(i, j)]


def ranked_anchors(ranked: list[tuple[int, int]], anchors: int) -> tuple[list[int], list[int]]:
    """The best ``anchors`` segments of each side among ``ranked`` pairs (best first): ``(harmonic, percussion)``
    positions, best first."""
    top = ([], [])
    for pair in ranked:
        if len(top[0]) >= anchors and len(top[1]) >= anchors:
            break
        for side in (0, 1):
            if pair[side] not in top[side] and len(top[side]) < anchors:
                top[side].append(pair[side])
    return top


def expanded_ranking(index: StemIndex, found: dict, scorer: FastScorer, grid: list[tuple[int, int]],
                     score: Callable[[list[tuple[int, int]]], np.ndarray], *, anchors: int = EXPAND[0],
                     new: int = EXPAND[1], passes: int = EXPAND[2],
                     exact: Callable | None = None, fresh: bool = EXPAND[3]) -> tuple[list[tuple[int, int]], np.ndarray]:
    """The ``grid``'s pairs (positions into ``found``'s two sides) and those the expansion adds around the best of
    them (:func:`expansion_pairs`, ``passes`` times, each on the ranking so far), ranked best first: ``(pairs,
    scores)``. ``score(pairs)`` gives the second stage's scores of pairs, ``(len(pairs),)``; each pair is scored once.
    ``retrieve``'s search after the first stage (the benchmarks' too, with their own ``score``); ``exact``: as
    :func:`expansion_pairs`'. ``fresh``: each pass after the first searches only around the anchors that no pass
    before had (a segment the last pass brought into the top, whose partners nobody has looked for yet); when the
    top kept its segments, the search stops, so the later passes cost a query only where they can find more."""
    pairs = list(grid)
    s = np.asarray(score(pairs), np.float64) if pairs else np.zeros(0)
    used = (set(), set())
    for _ in range(passes if pairs else 0):
        seen, ranked = set(pairs), [pairs[k] for k in np.argsort(-s, kind="stable")]
        more = [x for x in expansion_pairs(index, found, scorer, ranked, anchors=anchors, new=new, exact=exact,
                                           skip=used) if x not in seen]
        if fresh:
            for side, top in zip(used, ranked_anchors(ranked, anchors)):
                side.update(top)
        if not more:
            break
        pairs += more
        s = np.concatenate([s, np.asarray(score(more), np.float64)])
    order = np.argsort(-s, kind="stable")
    return [pairs[k] for k in order], s[order]


def shares_rounds(shortlist: int) -> tuple[int, ...]:
    """:data:`SHARES_ROUNDS` for a grid of ``shortlist`` pairs: each round scores at least the grid's segments of a side."""
    k = max(grid_shape(shortlist, SHARES_ASPECT))
    return tuple(max(m, k) for m in SHARES_ROUNDS)


def _partners(idx: np.ndarray, score: np.ndarray, song: np.ndarray, n_songs: int, n_more: int) -> np.ndarray:
    """Of the positions ``idx``: the best scoring one of each of the ``n_songs`` songs whose best scores highest, then
    the ``n_more`` best of the others (a song's segments sound alike, but which of them suits a partner still varies)."""
    order = idx[np.argsort(-score[idx], kind="stable")]
    _, first = np.unique(song[order], return_index=True)
    songs = order[np.sort(first)[:n_songs]]
    return np.concatenate([songs, order[~np.isin(order, songs)][:n_more]])


def scorer_model(scorer: str):
    """The learned model behind ``scorer`` (None for the rule-based ``'automashupper'``)."""
    if scorer not in SCORERS:
        raise ParameterError(f"given scorer={scorer!r}; expected one of {', '.join(SCORERS)}")
    return None if scorer == "automashupper" else load_scorer(scorer)


def rank_candidates(seed, pool, *, scorer: str, model, n_candidates: int, seconds: float, rng,
                    vocal_start_s: float | None = None, high_quality: bool = False) -> list:
    """Matched candidates for ``seed``'s vocal from ``pool``, scored: ``[(score, Candidate, terms)]`` best first.

    ``terms`` are AutoMashUpper's (``automashupper``, ``harmonic``, ``rhythmic``,
    ``spectral``), for the explanation; ``model`` is :func:`scorer_model`'s.
    """
    if vocal_start_s is None:
        starts = vocal_starts(seed, seconds)
        vocal_start_s = float(starts[0])
    cands = matched_candidates(seed, pool, n=n_candidates, seconds=seconds, vocal_start_s=vocal_start_s, rng=rng)
    return score_candidates(seed, cands, pool, scorer=scorer, model=model, seconds=seconds, vocal_start_s=vocal_start_s,
                            high_quality=high_quality)


def score_candidates(seed, cands, pool, *, scorer: str, model, seconds: float, vocal_start_s: float,
                     high_quality: bool = False, on_progress: Callable[[str, int, int], None] | None = None) -> list:
    """Render each :class:`~collage.mashup.generate.Candidate` for ``seed``'s vocal (stems from
    ``pool``) and score it: ``[(score, Candidate, terms)]`` best first (see :func:`rank_candidates`);
    ``on_progress("scoring", done, len(cands))`` before the first and after each one rendered."""
    clips = {c.id: c for c in pool} | {seed.id: seed}
    beats = seed.beats[(seed.beats >= vocal_start_s) & (seed.beats < vocal_start_s + seconds)] - vocal_start_s
    downs = seed.downbeats[(seed.downbeats >= vocal_start_s) & (seed.downbeats < vocal_start_s + seconds)] - vocal_start_s
    out = []
    feats = []
    report = on_progress or (lambda stage, done, total: None)
    report("scoring", 0, len(cands))
    for i, cand in enumerate(cands):
        audio = render_candidate(cand, clips, high_quality=high_quality)
        terms = automashupper_score(audio, seed.sr, beats=beats, downbeats=downs) if len(beats) >= 2 else {}
        terms.pop("pairs", None)
        if "score" in terms:
            terms["automashupper"] = terms.pop("score")
        out.append([terms.get("automashupper", float("nan")), cand, terms])
        if scorer != "automashupper":
            feats.append(mashup_features(audio, seed.sr))
        report("scoring", i + 1, len(cands))
    if scorer != "automashupper" and out:
        for row, s in zip(out, learned_scores(feats, model)):
            row[0] = float(s)
    return sorted(out, key=lambda r: -np.nan_to_num(r[0], nan=-np.inf))


def retrieve(db: str | os.PathLike, vocal: str | os.PathLike, *, top: int = 5, scorer: str = "premixnet",
             shortlist: int | None = None, candidates: int | None = None, seconds: float = 25.0, seed: int = 0,
             reindex: bool = False, tempo_octaves: bool = True, exclude: str | None = None,
             on_progress: Callable[[str, int, int], None] | None = None, second_stage: str = "fast",
             explain: bool = False, rerank: int = 0, per_song_pair: int = 0) -> dict:
    """The best accompaniments (harmonic + percussion stem segments of the MashupDB ``db``) for a vocal stem.

    >>> found = collage.mashup.retrieve("songs.db", "my_acapella.wav", top=5)
    >>> [(r["rank"], r["score"], r["harmonic"]) for r in found["results"]]

    Two stages: every harmonic and percussion stem segment of the DB that the vocal's key and
    tempo allow is scored from its stored vector by the learned first stage
    (:mod:`collage.mashup.index`, :mod:`collage.mashup.firststage`), and with the fast PreMixNet the
    harmonic side by the network's own harmony branch (:func:`harmony_first_stage`); every pair of
    each side's best segments, up to ``shortlist`` pairs, is ranked by ``scorer``. PreMixNet scores them the fast way by default
    (:mod:`collage.mashup.fastscore`: features stored per song and pitch shift, computed on first use,
    the stretch applied to them, milliseconds per candidate); ``second_stage="exact"`` renders each
    (shifted, stretched, mixed) and computes its features, as the other scorers always do.
    With ``candidates``, that many matched pairs are drawn at random instead (the way before the
    first stage; for comparison).

    Args:
        db: a MashupDB (``collage mashup build``); vectors missing from an older DB, and the segment priors
            (:mod:`collage.mashup.prior`, with every song's stored features) are computed and stored first.
        vocal: the vocal stem, an audio file (it may come from outside the DB).
        top: how many accompaniments to return.
        scorer: one of :data:`~collage.mashup.combination.SCORERS`.
        shortlist: pairs the first stage passes to the scorer (None: :data:`SHORTLIST_FAST` with the fast
            second stage, :data:`SHORTLIST_EXACT` when every candidate is rendered).
        candidates: draw this many matched pairs at random instead of the first stage (None: two stages).
        seconds: length of the mashup scored, in seconds (at most the vocal's length).
        seed: seed of the random draw (``candidates``).
        reindex: recompute every stored vector first.
        tempo_octaves: the first stage also reads the vocal's tempo at half and double speed. A vocal
            alone often shows its tempo an octave off (its own notes may move twice as fast as the
            beat); the pairs found at each reading carry the stretch ratios of that reading, so an
            accompaniment at half the vocal's tempo plays in half time under it.
        exclude: the name of a song of the DB whose stems are left out (the vocal's own song, when
            the vocal is one of the DB's); None: every song.
        on_progress: called as ``on_progress(stage, done, total)`` as the work goes on:
            ``("analysing the vocal", 0 then 1, 1)``, ``("first stage", 0 then 1, 1)`` (two stages only),
            ``("scoring", k, n)`` before the first candidate and after each one rendered and scored.
            It runs in the caller's thread; what it raises propagates (to stop the search).
        second_stage: ``"fast"`` (PreMixNet on stored features; the other scorers are always exact) or
            ``"exact"`` (render every candidate; about 0.4 s each on one core).
        explain: with the fast second stage, render the returned results and add AutoMashUpper's terms
            (about 0.5 s per result); the exact path always has them.
        rerank: with the fast second stage, render the best ``rerank`` of its ranking and order them by the
            exact path's score (about 1 s each on one core), the rest following in the fast order; their
            ``score`` is then the exact one and their ``terms`` AutoMashUpper's. 0: none.
        per_song_pair: at most this many results take their harmonic stem from one song and their percussion stem
            from one other (the next best of the ranking take the places of the rest: the same two songs at other
            starts often rank close together, and a list of them is one idea many times). 0: no limit (the
            ranking as the scorer has it).
    Returns:
        ``{"vocal", "key", "tempo" (BPM), "mode" ("two-stage" or "random"), "second_stage" ("fast" or "exact"),
        "vocal_start_s" and "seconds"
        (the part of the vocal every result is a mashup of, in seconds), "searched" (stem segments
        the first stage scored; 0 for random), "scored" (candidates scored), "timing": {"first_stage_s",
        "second_stage_s", "rerank_s"}, "rerank" (results re-scored exactly), "results": [{"rank", "score", "harmonic", "harmonic_start_s", "percussion",
        "percussion_start_s", "harmonic_semitones", "harmonic_ratio", "percussion_ratio", "first_stage",
        "terms"}]}``, best first (``terms`` empty with the fast second stage unless ``explain``); ``results``
        is empty when no stem of the DB is close enough in key and tempo.
    Raises:
        CollageError: the DB or the vocal cannot be read or used, or an argument is out of range.
    """
    if not isinstance(top, int) or top < 1:
        raise ParameterError(f"given top={top!r}; expected a positive number of results")
    if shortlist is not None and (not isinstance(shortlist, int) or shortlist < 1):
        raise ParameterError(f"given shortlist={shortlist!r}; expected a positive number of pairs")
    if candidates is not None and (not isinstance(candidates, int) or candidates < 1):
        raise ParameterError(f"given candidates={candidates!r}; expected a positive number of pairs")
    if exclude is not None and not isinstance(exclude, str):
        raise ParameterError(f"given exclude={exclude!r}; expected a song name or None")
    if on_progress is not None and not callable(on_progress):
        raise ParameterError(f"given on_progress of type {type(on_progress).__name__}; expected a function or None")
    if second_stage not in ("fast", "exact"):
        raise ParameterError(f"given second_stage={second_stage!r}; expected 'fast' or 'exact'")
    if not isinstance(rerank, int) or isinstance(rerank, bool) or rerank < 0:
        raise ParameterError(f"given rerank={rerank!r}; expected a number of results, 0 or more")
    if not isinstance(per_song_pair, int) or isinstance(per_song_pair, bool) or per_song_pair < 0:
        raise ParameterError(f"given per_song_pair={per_song_pair!r}; expected a number of results, 0 or more")
    report = on_progress or (lambda stage, done, total: None)
    model = scorer_model(scorer)
    fast = second_stage == "fast" and scorer == "premixnet"
    if shortlist is None:
        shortlist = SHORTLIST_FAST if fast else SHORTLIST_EXACT
    if candidates is not None:
        pool = [c for c in clips_from_db(db) if c.id != exclude]
    else:
        index = StemIndex.load(db, reindex=reindex)  # checks the DB before the vocal is analysed
    report("analysing the vocal", 0, 1)
    seed_clip = vocal_clip(vocal, sr=FEATURE_SR)
    report("analysing the vocal", 1, 1)
    secs = min(seconds, seed_clip.duration)
    vocal_start = float(vocal_starts(seed_clip, secs)[0])
    first, fq = {}, None
    t0 = time.perf_counter()
    if candidates is not None:
        mode, searched = "random", 0
        cands = matched_candidates(seed_clip, pool, n=candidates, seconds=secs, vocal_start_s=vocal_start,
                                   rng=np.random.default_rng(seed))
    else:
        mode = "two-stage"
        report("first stage", 0, 1)
        vec = vocal_embedding(seed_clip.stem("vocals"), seed_clip.sr, seed_clip.downbeats, vocal_start, secs)
        tempi = (seed_clip.tempo, seed_clip.tempo / 2, seed_clip.tempo * 2) if tempo_octaves else (seed_clip.tempo,)
        found = index.candidates(vec, seed_clip.key, tempi, seconds=secs, exclude=exclude)
        if fast:  # the second stage's harmony branch scores the harmonic side
            fq = _FastQuery(db, model, seed_clip, vocal_start, secs, report)
            found = harmony_first_stage(index, found, fq.scorer, fq.q, vec, fq.features, cache=fq.cache,
                                        top=SHARES_HARMONY_TOP)
            found = shares_first_stage(index, found, fq.scorer, fq.q, fq.shares, fq.features,
                                       rounds=shares_rounds(shortlist))
        grid = index.pair_positions(found, shortlist, aspect=SHARES_ASPECT if fast else 1.0)
        searched = len(index)
        cands = pair_candidates(index, found, grid, seed_clip, secs, vocal_start, first)
        report("first stage", 1, 1)
    t1 = time.perf_counter()
    if fast:
        fq = fq or _FastQuery(db, model, seed_clip, vocal_start, secs, report)
        if candidates is None:  # the grid, then partners it lacks around its best pairs
            made, scored = dict(zip(grid, cands)), 0

            def score(pairs):
                nonlocal scored
                n, scored = scored, scored + len(pairs)  # the progress goes on from the count before
                return fq.scores(pair_candidates(index, found, pairs, seed_clip, secs, vocal_start, first, made),
                                 lambda stage, done, total: report(stage, n + done, n + total))

            ranked, s = expanded_ranking(index, found, fq.scorer, grid, score, exact=fq.segment_shares)
            rows = [[float(x), made[p], {}] for p, x in zip(ranked, s)]
            cands = list(made.values())
        else:
            rows = fq.rank(cands, report)
    if candidates is None:  # only the shortlisted songs' stems are needed
        pool = clips_from_db(db, names={c.harmonic for c in cands} | {c.percussion for c in cands}) if cands else []
    if not fast:
        rerank = 0
        rows = score_candidates(seed_clip, cands, pool, scorer=scorer, model=model, seconds=secs,
                                vocal_start_s=vocal_start, on_progress=on_progress)
    n_scored = len(rows)
    rows = limit_per_song_pair(rows, per_song_pair)
    if fast and explain and rows:
        terms = {id(c): t for _, c, t in score_candidates(seed_clip, [c for _, c, _ in rows[:top]], pool,
                                                           scorer="automashupper", model=None, seconds=secs,
                                                           vocal_start_s=vocal_start)}
        rows = [[s, c, terms.get(id(c), t)] for s, c, t in rows]
    t2 = time.perf_counter()
    rerank = min(rerank, len(rows))
    if rerank:  # the fast ranking's best, in the exact path's order
        rows = score_candidates(seed_clip, [c for _, c, _ in rows[:rerank]], pool, scorer=scorer, model=model,
                                seconds=secs, vocal_start_s=vocal_start) + rows[rerank:]
    t3 = time.perf_counter()
    res = [{"rank": i + 1, "score": round(s, 4), "harmonic": c.harmonic, "harmonic_start_s": round(c.harmonic_start_s, 4),
            "percussion": c.percussion, "percussion_start_s": round(c.percussion_start_s, 4),
            "harmonic_semitones": c.harmonic_semitones, "harmonic_ratio": round(c.harmonic_ratio, 4),
            "percussion_ratio": round(c.percussion_ratio, 4),
            "first_stage": round(first[id(c)], 4) if id(c) in first else None,
            "terms": {k: round(v, 4) for k, v in t.items() if k in _TERMS}}
           for i, (s, c, t) in enumerate(rows[:top])]
    return {"vocal": str(vocal), "key": seed_clip.key, "tempo": round(seed_clip.tempo, 2), "mode": mode,
            "second_stage": "fast" if fast else "exact",
            "vocal_start_s": round(vocal_start, 4), "seconds": round(secs, 4), "searched": searched, "scored": n_scored,
            "timing": {"first_stage_s": round(t1 - t0, 4), "second_stage_s": round(t2 - t1, 3),
                       "rerank_s": round(t3 - t2, 3)}, "rerank": rerank, "results": res}


def limit_per_song_pair(rows: list, n: int) -> list:
    """Of ranked ``rows`` ``[(score, Candidate, terms)]`` (best first), at most ``n`` per pair of songs (the harmonic
    stem's, the percussion stem's), in order; ``n`` 0: all of them."""
    if not n:
        return rows
    seen: dict[tuple[str, str], int] = {}
    out = []
    for row in rows:
        k = (row[1].harmonic, row[1].percussion)
        seen[k] = seen.get(k, 0) + 1
        if seen[k] <= n:
            out.append(row)
    return out


def pair_candidates(index: StemIndex, found: dict, pairs: list[tuple[int, int]], seed: Clip, seconds: float,
                    vocal_start_s: float, first: dict, made: dict | None = None) -> list[Candidate]:
    """The pairs ``[(i, j)]`` of positions into ``found``'s two sides as mashup candidates for the vocal ``seed``;
    each one's first-stage score goes into ``first`` (by the candidate's id). ``made``: candidates made before, by
    pair, reused, and the new ones added to it."""
    made = {} if made is None else made
    new = [p for p in dict.fromkeys(pairs) if p not in made]
    for ij, p in zip(new, index.pair_dicts(found, new)):
        c = Candidate("matched", seed.id, p["harmonic"], p["percussion"], seconds, vocal_start_s,
                      p["harmonic_start_s"], p["percussion_start_s"], harmonic_semitones=p["harmonic_semitones"],
                      harmonic_ratio=p["harmonic_ratio"], percussion_ratio=p["percussion_ratio"])
        made[ij], first[id(c)] = c, p["first_stage"]
    return [made[p] for p in pairs]


class _FastQuery:
    """The fast second stage for one vocal window: the scorer, the vocal's features and SourceNet share, the stored
    features of the songs read so far and the segments' shares (kept for the first stage's harmony scores and
    the ranking of the shortlist)."""

    def __init__(self, db, model, seed: Clip, vocal_start_s: float, seconds: float, report=None):
        self.db, self.scorer, self.cache, self.feats, self.stored = db, FastScorer(model), {}, {}, {}
        self.report = report or (lambda stage, done, total: None)
        self.q = self.scorer.vocal(seed, vocal_start_s=vocal_start_s, seconds=seconds)

    def shares(self, names) -> dict:
        """The stored SourceNet shares of the songs ``names`` (computed and stored where missing)."""
        need = set(names) - set(self.stored)
        if need:
            self.stored |= ensure_shares(self.db, need, self.scorer, self.features,
                                         report=lambda done, total: self.report("storing SourceNet shares", done, total))
        return self.stored

    def features(self, names) -> dict:
        """The stored features of the songs ``names`` (computed and stored where missing)."""
        need = set(names) - set(self.feats)
        if need:
            self.feats |= ensure_features(self.db, clips_from_db(self.db, names=need))
        return self.feats

    def segment_shares(self, role: str, segments: list):
        """The second stage's own shares of stem segments (:meth:`~collage.mashup.fastscore.FastScorer.segment_shares`),
        kept in the query's cache."""
        return self.scorer.segment_shares(self.q, role, segments, self.features({s[0] for s in segments}), self.cache)

    def scores(self, cands: list, report) -> np.ndarray:
        """``cands`` scored by PreMixNet through :mod:`collage.mashup.fastscore`: ``(len(cands),)`` probabilities."""
        report("scoring", 0, len(cands))
        if not cands:
            return np.zeros(0, np.float32)
        s = self.scorer.score(self.q, cands, self.features({c.harmonic for c in cands} | {c.percussion for c in cands}),
                              cache=self.cache)
        report("scoring", len(cands), len(cands))
        return s

    def rank(self, cands: list, report) -> list:
        """``cands`` scored (:meth:`scores`): ``[(score, Candidate, {})]`` best first."""
        return sorted(([float(s), c, {}] for s, c in zip(self.scores(cands, report), cands)), key=lambda r: -r[0])


def render_retrieved(db: str | os.PathLike, found: dict, *, rank: int = 1,
                     high_quality: bool = True) -> tuple[dict[str, np.ndarray], int]:
    """The audio of one result of :func:`retrieve`: the vocal with the accompaniment shifted and stretched to it.

    >>> found = collage.mashup.retrieve("songs.db", "my_acapella.wav", top=5)
    >>> audio, sr = collage.mashup.render_retrieved("songs.db", found, rank=1)
    >>> collage.io.audio.write_wav("mashup.wav", audio["mix"], sr)

    Args:
        db: the MashupDB the result came from.
        found: what :func:`retrieve` returned (its ``"vocal"`` file is read again).
        rank: which result, 1 = the best.
        high_quality: Rubber Band's high-quality mode for the shift and stretch.
    Returns:
        ``({"vocals", "harmonic", "percussion", "mix"}, sr)``: float32 ``(n,)`` arrays at ``sr`` Hz,
        each stem loudness-normalised and the mix too (as :func:`generate_mashups` writes them).
    Raises:
        ParameterError: ``rank`` is not one of the results.
        CollageError: the DB or the vocal can no longer be read.
    """
    results = found.get("results", [])
    if not isinstance(rank, int) or not 1 <= rank <= len(results):
        raise ParameterError(f"given rank={rank!r}; expected 1..{len(results)} (the results retrieve returned)")
    r = results[rank - 1]
    vocal = vocal_clip(found["vocal"], sr=FEATURE_SR)
    vocal.id = f"{vocal.id}#vocal"  # never one of the DB's song names
    clips = {c.id: c for c in clips_from_db(db, names={r["harmonic"], r["percussion"]})} | {vocal.id: vocal}
    cand = Candidate("matched", vocal.id, r["harmonic"], r["percussion"], float(found["seconds"]),
                     float(found["vocal_start_s"]), float(r["harmonic_start_s"]), float(r["percussion_start_s"]),
                     harmonic_semitones=int(r["harmonic_semitones"]), harmonic_ratio=float(r["harmonic_ratio"]),
                     percussion_ratio=float(r["percussion_ratio"]))
    return render_candidate(cand, clips, high_quality=high_quality), vocal.sr


def generate_mashups(db: str | os.PathLike, out_dir: str | os.PathLike, *, top: int = 5, scorer: str = "premixnet",
                     per_vocal: int = 5, max_vocals: int | None = None, seconds: float = 25.0, seed: int = 0,
                     progress: bool = True) -> list[dict]:
    """Draw matched mashups for every vocal of a MashupDB, rank them all and render the best ``top`` to WAV.

    Each output ``NN_<vocal>+<harmonic>+<percussion>.wav`` (the loudness-normalised
    mix, Rubber Band high quality) gets a ``.json`` sidecar with its sources,
    pitch shift, stretch ratios, start times and scores; files are written atomically.

    Args:
        db: a MashupDB (``collage mashup build``).
        out_dir: folder for the WAVs and sidecars (created if needed).
        top: how many mashups to render.
        scorer: one of :data:`~collage.mashup.combination.SCORERS`.
        per_vocal: matched candidates drawn for each vocal.
        max_vocals: only the first N vocals of the DB (None: all).
        seconds: mashup length, in seconds.
        seed: seed of the candidate draws.
        progress: a progress bar on stderr.
    Returns:
        the sidecar of each mashup written, best first, with ``"wav"`` (its path)
        added; empty when no two songs of the DB are close enough in key and tempo.
    Raises:
        CollageError: the DB cannot be read or used, ``out_dir`` is not a folder, or an argument is out of range.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(out, "exists and is not a folder")
    pool = clips_from_db(db)
    model = scorer_model(scorer)
    rng = np.random.default_rng(seed)
    rows = []
    seeds = pool[:max_vocals] if max_vocals else pool
    for clip in track(seeds, "scoring candidates", show=progress):
        rows += rank_candidates(clip, pool, scorer=scorer, model=model, n_candidates=per_vocal,
                                seconds=min(seconds, clip.duration), rng=rng)
    rows.sort(key=lambda r: -np.nan_to_num(r[0], nan=-np.inf))
    clips = {c.id: c for c in pool}
    written = []
    for i, (score, cand, terms) in enumerate(rows[:top]):
        audio = render_candidate(cand, clips, high_quality=True)
        stem = f"{i + 1:02d}_{cand.vocal}+{cand.harmonic}+{cand.percussion}"
        meta = {"rank": i + 1, "score": round(float(score), 4), "scorer": scorer, **cand.to_dict(),
                "terms": {k: round(float(v), 4) for k, v in terms.items()},
                "keys": {r: clips[getattr(cand, r)].key for r in ("vocal", "harmonic")},
                "tempi": {r: clips[getattr(cand, r)].tempo for r in ("vocal", "harmonic", "percussion")}, "sr": pool[0].sr}
        wav = write_wav(out / f"{stem}.wav", audio["mix"], pool[0].sr)
        with atomic_path(out / f"{stem}.json") as tmp:
            tmp.write_text(json.dumps(meta, indent=2) + "\n")
        written.append({**meta, "wav": str(wav)})
    return written

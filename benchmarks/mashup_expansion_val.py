"""The search after the grid (``retrieve``'s expansion) in variants side by side: recall@10 against the exhaustive ranking.

    OMP_NUM_THREADS=1 python benchmarks/mashup_expansion_val.py --db runs/retrieval/val2_whole.db \\
        --queries 200 --per-song 10 --analysis-cache runs/retrieval/vocal_analysis_val2.json

Queries as in ``mashup_recall_whole_songs.py`` (each vocal of the DB analysed alone, windows of 25 s spread over
the song, its own song left out; every allowed pair scored by the fast second stage: the exhaustive ranking, whose
top 10 are the truth). Each query runs ``retrieve``'s first stage once (harmony, then the shares rounds), and each
variant ``N[@aspect]:anchors,new,passes`` takes the grid of ``N`` pairs (``aspect`` percussion segments per
harmonic one; ``retrieve``'s when left out), then ``passes`` times
:func:`~collage.mashup.retrieval.expansion_pairs` with the ranking so far (the exhaustive scores stand in for the
second stage's, which they are); a trailing ``-`` leaves out the pairs of two new segments (how the expansion
worked before they were added); a trailing ``e``: each anchor is paired by its own share (the second stage's,
which it has computed), not its stored one. Reported per variant: recall@10, the share of the true top 10's score captured,
the stem segments the second stage scores (its cost: a SourceNet pass per window each) and the expansion's own
time (with the crossed pairs, that of ``expanded_ranking`` less nothing: the exhaustive scores are a lookup). For choosing the expansion on val songs; the test songs are measured by ``mashup_recall_whole_songs.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import analysed_vocal, db_vocals, loadavg, machine, write_results  # noqa: E402

from collage.errors import CollageError  # noqa: E402
from collage.mashup.dbclips import clips_from_db  # noqa: E402
from collage.mashup.embed import vocal_embedding  # noqa: E402
from collage.mashup.fastscore import FastScorer, ensure_features  # noqa: E402
from collage.mashup.generate import Candidate, vocal_starts  # noqa: E402
from collage.mashup.index import StemIndex  # noqa: E402
from collage.mashup.retrieval import (SHARES_ASPECT, SHARES_HARMONY_TOP, expanded_ranking, expansion_pairs,  # noqa: E402
                                      harmony_first_stage, scorer_model, shares_first_stage, shares_rounds)
from collage.mashup.shares import ensure_shares  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"
VARIANTS = ("1600:0,0,0 1600:5,20,1- 1600:5,20,1 1600:5,20,1e 1600:5,20,2 1600:5,20,2e 1600:5,10,2e 1000:5,20,1e "
            "1000:5,20,2e 2000:5,20,1")


def parse_variant(v: str) -> tuple[int, float, int, int, int, bool, bool, bool]:
    """``"N[@aspect]:anchors,new,passes[flags]"`` (flags, any of: ``-``: no pairs of two new segments; ``e``: the
    anchors by their own shares; ``f``: each pass after the first around the anchors new to the top only; ``aspect``:
    the grid's percussion segments per harmonic one, ``retrieve``'s when left out) → ``(N, aspect, anchors, new,
    passes, cross, exact, fresh)``."""
    body = v.rstrip("-ef")
    flags = v[len(body):]
    n, rest = body.split(":")
    n, aspect = (n.split("@") + [str(SHARES_ASPECT)])[:2]
    a, new, passes = (int(x) for x in rest.split(","))
    return int(n), float(aspect), a, new, passes, "-" not in flags, "e" in flags, "f" in flags


def search(index, f, scorer, score, n: int, aspect: float, anchors: int, new: int, passes: int, cross: bool, exact,
           fresh: bool = False):
    """The pairs (positions) the second stage would score for one variant, and the expansion's time (s);
    ``score(pairs)`` gives the second stage's scores of positions; ``exact``: the anchors' own shares or None."""
    grid = index.pair_positions(f, n, aspect=aspect)
    if cross:
        t0 = time.perf_counter()
        ranked, _ = expanded_ranking(index, f, scorer, grid, score, anchors=anchors, new=new, passes=passes, exact=exact,
                                     fresh=fresh)
        return ranked, time.perf_counter() - t0
    scored, t = list(grid), 0.0  # as the expansion was before its new segments were paired with each other
    for _ in range(passes if new else 0):
        s = score(scored)
        t0 = time.perf_counter()
        more = expansion_pairs(index, f, scorer, [scored[k] for k in np.argsort(-s, kind="stable")], anchors=anchors, new=new)
        t += time.perf_counter() - t0
        hs, ps = {i for i, _ in scored}, {j for _, j in scored}
        scored += [(i, j) for i, j in more if i in hs or j in ps]
    return scored, t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="runs/retrieval/val2_whole.db")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--per-song", type=int, default=10)
    ap.add_argument("--analysis-cache", default=None)
    ap.add_argument("--seconds", type=float, default=25.0)
    ap.add_argument("--variants", default=VARIANTS, help="Space-separated N:anchors,new,passes[-] (see the module doc).")
    ap.add_argument("--name", default="mashup_expansion_val")
    args = ap.parse_args()
    variants = args.variants.split()
    specs = {v: parse_variant(v) for v in variants}
    index = StemIndex.load(args.db)
    pool = clips_from_db(args.db)
    feats = ensure_features(args.db, pool)
    for c in pool:
        c.stems = {}
    scorer = FastScorer(scorer_model("premixnet"))
    stored = ensure_shares(args.db, index.names, scorer, lambda names: feats)
    rounds = shares_rounds(max(s[0] for s in specs.values()))
    pkey = lambda p: (p["harmonic"], p["harmonic_start_s"], p["percussion"], p["percussion_start_s"])  # noqa: E731
    queries = []
    for name, path in db_vocals(args.db):
        try:
            seed = analysed_vocal(path, args.analysis_cache)
        except CollageError:
            continue
        cache, secs = {}, min(args.seconds, seed.duration)
        tempi = (seed.tempo, seed.tempo / 2, seed.tempo * 2)
        starts = vocal_starts(seed, secs)
        starts = starts[np.unique(np.linspace(0, len(starts) - 1, min(args.per_song, len(starts))).round().astype(int))]
        for start in starts:
            if len(queries) >= args.queries:
                break
            start = float(start)
            vec = vocal_embedding(seed.stem("vocals"), seed.sr, seed.downbeats, start, secs)
            cands0 = index.candidates(vec, seed.key, tempi, seconds=secs, exclude=name)
            k_all = max(len(cands0[role]["idx"]) for role in ("harmonic", "percussion"))
            pairs = index.pairs(cands0, k_all ** 2)
            if len(pairs) < 2:
                continue
            q = scorer.vocal(seed, vocal_start_s=start, seconds=secs)
            f = harmony_first_stage(index, cands0, scorer, q, vec, lambda names: feats, cache=cache, top=SHARES_HARMONY_TOP)
            f = shares_first_stage(index, f, scorer, q, lambda names: stored, lambda names: feats, rounds=rounds)
            cands = [Candidate("matched", seed.id, p["harmonic"], p["percussion"], secs, start, p["harmonic_start_s"],
                               p["percussion_start_s"], harmonic_semitones=p["harmonic_semitones"],
                               harmonic_ratio=p["harmonic_ratio"], percussion_ratio=p["percussion_ratio"]) for p in pairs]
            s2 = scorer.score(q, cands, feats, cache=cache)
            pos = {pkey(p): i for i, p in enumerate(pairs)}
            at = lambda ps: np.asarray([pos[pkey(p)] for p in index.pair_dicts(f, ps)], np.int64)  # noqa: E731
            k = min(10, len(cands))
            order = np.argsort(-s2, kind="stable")
            truth, best = set(order[:k].tolist()), float(s2[order[:k]].mean())
            row = {"song": name, "start_s": round(start, 3), "pairs": len(cands)}
            for v, spec in specs.items():
                exact = (lambda role, segs: scorer.segment_shares(q, role, segs, feats, cache)) if spec[6] else None
                scored, t = search(index, f, scorer, lambda ps: s2[at(ps)], *spec[:6], exact, spec[7])
                found = at(scored)
                top = found[np.argsort(-s2[found], kind="stable")[:k]]
                row[v] = {"recall": len(truth & set(top.tolist())) / k,
                          "captured": round(float(s2[top].mean()) / max(best, 1e-9), 4),
                          "segments": len({i for i, _ in scored}) + len({j for _, j in scored}),
                          "expansion_ms": round(1000 * t, 1)}
            queries.append(row)
            print(len(queries), name, {v: row[v]["recall"] for v in variants}, flush=True)
    summary = {v: {"recall_at_10": round(float(np.mean([q[v]["recall"] for q in queries])), 3),
                   "captured": round(float(np.mean([q[v]["captured"] for q in queries])), 4),
                   "under_half": int(sum(q[v]["recall"] < 0.5 for q in queries)),
                   "segments_median": float(np.median([q[v]["segments"] for q in queries])),
                   "segments_mean": round(float(np.mean([q[v]["segments"] for q in queries])), 1),
                   "segments_p90": float(np.percentile([q[v]["segments"] for q in queries], 90)),
                   "expansion_ms_median": float(np.median([q[v]["expansion_ms"] for q in queries]))} for v in variants}
    out = {"db": Path(args.db).name, "segments": len(index), "queries": len(queries), "variants": summary,
           "per_query": queries, "machine": machine(), "loadavg_after": loadavg(),
           "command": "OMP_NUM_THREADS=1 python benchmarks/mashup_expansion_val.py " + " ".join(sys.argv[1:])}
    lines = [f"# The search after the grid, in variants: recall@10 on `{out['db']}`", "",
             f"{out['queries']} queries (25 s vocal windows, each song's vocal analysed alone, its own song left out) "
             f"against a DB of {out['segments']} stem segments; truth: the exhaustive ranking's top 10 by the fast second "
             "stage. Variant `N[@aspect]:anchors,new,passes`: the grid of N pairs after `retrieve`'s first stage (`aspect` "
             f"percussion segments per harmonic one; {SHARES_ASPECT:g}, `retrieve`'s, when not given), then `passes` "
             "rounds of `expansion_pairs` (the best `anchors` segments of each side in the ranking so far anchor the "
             "search; the `new` best segments of each side join, paired with the ranked segments of the other side and "
             "with each other; flags after: `-`: not with each other; `e`: the anchors by their own shares, not the stored "
             "ones; `f`: each pass after the first around the anchors new to the top only, none when the top kept "
             "its segments). Segments: the distinct stem segments the second "
             "stage scores (its cost, a SourceNet pass per window each).", "",
             "| variant | recall@10 | captured | queries under half | segments scored (median) | segments (mean) | "
             "segments (90th percentile) | expansion ms (median) |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| `{v}` | {s['recall_at_10']} | {s['captured']} | {s['under_half']} | {s['segments_median']:g} | "
              f"{s['segments_mean']} | {s['segments_p90']} | {s['expansion_ms_median']:g} |" for v, s in summary.items()]
    write_results(OUT, args.name, out, lines)


if __name__ == "__main__":
    main()

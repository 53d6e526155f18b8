"""Recall@10 of two-stage retrieval against an exhaustive ranking by the fast second stage, on whole test songs.

    OMP_NUM_THREADS=1 python benchmarks/mashup_recall_whole_songs.py --db runs/retrieval/test_whole.db [--queries 200]

The MashupDB holds duple-metre POP909 *test* songs built whole (``collage mashup build --seconds
600``: 8- and 16-bar stem segments every 4 and 8 bars). Each song's vocal is analysed alone
(key, tempo, downbeats, as an outside vocal) and queried at several windows of ``--seconds``
spread over the song (its own song left out), ``--queries`` in all. For each query, *every*
allowed pair of a harmonic and a percussion segment (key within ±3 semitones, tempo ratio in
[0.8, 1.2], enough audio; one reading of the vocal's tempo) is scored by the fast second stage
(:mod:`collage.mashup.fastscore`, PreMixNet): the exhaustive ranking. Two-stage: the best 10 by
the same scorer among the first stage's shortlist of N pairs (``StemIndex.shortlist``: every pair
of each side's best segments by the learned first stage, up to N); random: among N pairs drawn
at random (mean of 20 draws). Also timed per query: the first stage, and the second stage on its best 30.
Writes docs/results/mashup_recall_whole_songs.md and .json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import analysed_vocal, loadavg, machine  # noqa: E402

from collage.errors import CollageError  # noqa: E402
from collage.mashup.db import MashupDB  # noqa: E402
from collage.mashup.dbclips import clips_from_db  # noqa: E402
from collage.mashup.embed import vocal_embedding  # noqa: E402
from collage.mashup.fastscore import FastScorer, ensure_features  # noqa: E402
from collage.mashup.generate import Candidate, vocal_starts  # noqa: E402
from collage.mashup.index import StemIndex  # noqa: E402
from collage.mashup.retrieval import scorer_model  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"

SHORTLISTS = (10, 30, 50, 100, 200, 400, 900, 1600)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="runs/retrieval/test_whole.db")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--per-song", type=int, default=None,
                    help="Windows tried per vocal (default: queries / songs; windows without two allowed pairs are skipped).")
    ap.add_argument("--analysis-cache", default=None,
                    help="A JSON file keeping each vocal's analysis (key, tempo, beats, downbeats) between runs.")
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--from-json", action="store_true", help="Only re-render the report from the JSON record.")
    args = ap.parse_args()
    if args.from_json:
        write_report(json.loads((OUT / "mashup_recall_whole_songs.json").read_text()))
        return
    t = time.perf_counter()
    index = StemIndex.load(args.db)  # computes the segment vectors and priors a DB lacks
    index_s = time.perf_counter() - t
    pool = clips_from_db(args.db)
    t = time.perf_counter()
    feats = ensure_features(args.db, pool)
    feat_s = time.perf_counter() - t
    for c in pool:  # the audio is not needed any more
        c.stems = {}
    scorer = FastScorer(scorer_model("premixnet"))
    with MashupDB(args.db) as m:
        vocals = [(s["name"], m.stems(s["id"])["vocals"]["path"]) for s in m.songs()]
    seeds, unusable = [], []
    for name, path in vocals:
        try:
            seeds.append((name, analysed_vocal(path, args.analysis_cache)))
        except CollageError as e:
            unusable.append((name, str(e).rsplit(": ", 1)[-1]))
    per_song = args.per_song or -(-args.queries // max(len(seeds), 1))
    rng = np.random.default_rng(0)
    queries = []
    for name, seed in seeds:
        cache = {}  # the windows of one vocal share each placed segment's SourceNet share
        secs = min(args.seconds, seed.duration)
        starts = vocal_starts(seed, secs)
        starts = starts[np.unique(np.linspace(0, len(starts) - 1, min(per_song, len(starts))).round().astype(int))]
        for start in starts:
            if len(queries) >= args.queries:
                break
            start = float(start)
            t0 = time.perf_counter()
            vec = vocal_embedding(seed.stem("vocals"), seed.sr, seed.downbeats, start, secs)
            sc = index.scores(vec, seed.key, seed.tempo, seconds=secs, exclude=name)
            n_all = len(sc["harmonic"][0]) * len(sc["percussion"][0])
            if n_all < 2:
                continue
            pairs = index.shortlist(vec, seed.key, seed.tempo, n=n_all, seconds=secs, exclude=name)
            if len(pairs) < 2:  # every pair takes both stems from one song
                continue
            t1 = time.perf_counter()
            first30 = index.shortlist(vec, seed.key, seed.tempo, n=30, seconds=secs, exclude=name)
            t_first = time.perf_counter() - t1
            cands = [Candidate("matched", seed.id, p["harmonic"], p["percussion"], secs, start, p["harmonic_start_s"],
                               p["percussion_start_s"], harmonic_semitones=p["harmonic_semitones"],
                               harmonic_ratio=p["harmonic_ratio"], percussion_ratio=p["percussion_ratio"]) for p in pairs]
            t2 = time.perf_counter()
            q = scorer.vocal(seed, vocal_start_s=start, seconds=secs)
            t_vocal = time.perf_counter() - t2
            t3 = time.perf_counter()
            s2 = scorer.score(q, cands[:30], feats)
            t_second30 = time.perf_counter() - t3 + t_vocal
            t4 = time.perf_counter()
            s2 = scorer.score(q, cands, feats, cache=cache)  # in first-stage order
            t_all = time.perf_counter() - t4
            k = min(10, len(cands))
            truth = set(np.argsort(-s2, kind="stable")[:k].tolist())
            row = {"song": name, "start_s": round(start, 3), "pairs": len(cands), "two_stage": {}, "random": {},
                   "first_stage_ms": round(1000 * t_first, 2), "second_stage_30_ms": round(1000 * t_second30, 1),
                   "exhaustive_s": round(t_all + t1 - t0, 2), "shortlist_30": len(first30)}
            pos = {(p["harmonic"], p["harmonic_start_s"], p["percussion"], p["percussion_start_s"]): i
                   for i, p in enumerate(pairs)}
            row["segments"] = {}
            for n in SHORTLISTS:
                sl = index.shortlist(vec, seed.key, seed.tempo, n=n, seconds=secs, exclude=name) if n < len(cands) else pairs
                ids = [pos[(p["harmonic"], p["harmonic_start_s"], p["percussion"], p["percussion_start_s"])] for p in sl]
                top = sorted(ids, key=lambda i: -s2[i])[:k]
                row["two_stage"][n] = len(truth & set(top)) / k
                row["segments"][n] = len({(p["harmonic"], p["harmonic_start_s"]) for p in sl}) + \
                    len({(p["percussion"], p["percussion_start_s"]) for p in sl})
                rec = [len(truth & set(sorted(rng.permutation(len(cands))[:n], key=lambda i: -s2[i])[:k])) / k
                       for _ in range(20)]
                row["random"][n] = float(np.mean(rec))
            queries.append(row)
            print(len(queries), row, flush=True)
    pairs = [q["pairs"] for q in queries]
    out = {"db": Path(args.db).name, "songs": len(vocals), "vocals_unusable": unusable, "segments": len(index),
           "queries": len(queries), "seconds": args.seconds, "features_s": round(feat_s, 1), "index_s": round(index_s, 1),
           "pairs_per_query": {"median": float(np.median(pairs)), "min": min(pairs), "max": max(pairs)},
           "recall_at_10": {n: {"two_stage": round(float(np.mean([q["two_stage"][n] for q in queries])), 3),
                                "random": round(float(np.mean([q["random"][n] for q in queries])), 3),
                                "segments_median": float(np.median([q["segments"][n] for q in queries]))}
                            for n in SHORTLISTS},
           "first_stage_ms_median": round(float(np.median([q["first_stage_ms"] for q in queries])), 2),
           "second_stage_30_ms_median": round(float(np.median([q["second_stage_30_ms"] for q in queries])), 1),
           "exhaustive_s_median": round(float(np.median([q["exhaustive_s"] for q in queries])), 2),
           "per_query": queries, "machine": machine(), "loadavg_after": loadavg(),
           "command": "OMP_NUM_THREADS=1 python benchmarks/mashup_recall_whole_songs.py " + " ".join(sys.argv[1:])}
    (OUT / "mashup_recall_whole_songs.json").write_text(json.dumps(out, indent=1) + "\n")
    write_report(json.loads(json.dumps(out)))


def write_report(out: dict) -> None:
    r = out["recall_at_10"]
    table = "\n".join(f"| {n} | **{r[str(n)]['two_stage']}** | {r[str(n)]['random']} | {r[str(n)]['segments_median']:g} |"
                      for n in SHORTLISTS if str(n) in r)
    md = "\n".join([
        "# Two-stage retrieval on whole songs: recall@10 against an exhaustive ranking",
        "",
        f"A MashupDB of {out['songs']} duple-metre POP909 test songs built whole (`{out['db']}`, the held-out soundfont; "
        f"**{out['segments']} harmonic plus percussion stem segments**). {out['queries']} queries: each song's vocal, "
        f"analysed alone, at windows of {out['seconds']:g} s spread over the song, its own song left out "
        f"({len(out['vocals_unusable'])} vocal(s) had no beat found alone; the queries come from "
        f"{len({q['song'] for q in out['per_query']})} vocals, the others had no window with two allowed pairs at the "
        "tempo read from the vocal alone). For each, every allowed pair "
        f"(median {out['pairs_per_query']['median']:g}, {out['pairs_per_query']['min']}-{out['pairs_per_query']['max']}) "
        "was scored by the fast second stage (PreMixNet on stored features): the exhaustive ranking. Two-stage: its top 10 "
        "among the first stage's shortlist of N pairs (the learned first stage, weights `mashup_first_stage`: every pair "
        "of the best harmonic and the best percussion segments, up to N; the last column counts those segments, which is "
        "what the second stage pays for); random: among N pairs drawn at random (mean of 20 draws).",
        "",
        "| N (shortlist or draw) | recall@10, two-stage | recall@10, random draw | stem segments in the shortlist (median) |",
        "|---|---|---|---|",
        table,
        "",
        f"Per query (median, one thread): first stage {out['first_stage_ms_median']} ms; second stage on its best 30 "
        f"(the vocal's features and SourceNet, then 30 candidates) {out['second_stage_30_ms_median']} ms; the exhaustive "
        f"ranking {out['exhaustive_s_median']} s (the windows of one vocal share each segment's SourceNet; max "
        f"{max(q['exhaustive_s'] for q in out['per_query'])} s, a vocal's first window). Reading or storing the songs' "
        f"features: {out['features_s']} s (they were stored beforehand); loading the index: {out.get('index_s', '?')} s "
        "(with the segment priors, when they were computed in this run: 16 reference vocals x 16 partners per segment).",
        "",
        f"Machine: {out['machine']}; load average after {out['loadavg_after']} (2 shared cores).",
        "",
        f"Command: `{out['command']}`",
        "",
    ])
    (OUT / "mashup_recall_whole_songs.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()

"""`retrieve --top 10` after the vocal's analysis, one thread, against the number of stem segments.

    OMP_NUM_THREADS=1 python benchmarks/mashup_retrieve_speed.py --db runs/retrieval/test_whole.db [--vocals 10]

What ``collage mashup retrieve`` does once the vocal is analysed, timed step by step: the vocal's
first-stage vector, the first stage by stored vectors over every stem segment (three readings of the
vocal's tempo, as ``retrieve`` does), the vocal's features and SourceNet share (the second stage's
vocal side, which the harmony scores read too), the harmony scores of the harmonic side
(:func:`~collage.mashup.retrieval.harmony_first_stage`) and the grid, then the fast second stage on
the shortlist (each shortlisted song's stored features read memory-mapped, the stretch on the
features, PreMixNet in parts) and the sort. Loading the index and the model (once per process) and
the vocal's own analysis are not in it; they are reported apart. Then the first stage alone (up to
the grid) at library sizes.

Sizes: the real DB (whole test songs), and the same DB repeated in memory under new song names
(5x, 10x, ...: the same stored features under each name, so their pages are shared and the disk
reads of a truly larger DB are not in the times; the first stage's work and the shortlist's
scoring are those of the larger DB). Writes docs/results/NAME.md and .json (``--name``, default mashup_retrieve_speed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import librosa  # noqa: E402
import numpy as np  # noqa: E402
from common import analysed_vocal, db_vocals, loadavg, machine, parse_expand  # noqa: E402

from collage.errors import CollageError  # noqa: E402
from collage.mashup.dbclips import clips_from_db  # noqa: E402
from collage.mashup.embed import vocal_embedding  # noqa: E402
from collage.mashup.fastscore import FastScorer, ensure_features, features_dir  # noqa: E402
from collage.mashup.generate import vocal_starts  # noqa: E402
from collage.mashup.index import StemIndex  # noqa: E402
from collage.mashup.score import FEATURE_SR  # noqa: E402
from collage.mashup.retrieval import (EXPAND, SHARES_ASPECT, SHARES_HARMONY_TOP, SHARES_ROUNDS, SHORTLIST_FAST,  # noqa: E402
                                      pair_candidates, expanded_ranking, harmony_first_stage, scorer_model,
                                      shares_first_stage, shares_rounds)
from collage.mashup.shares import ensure_shares, model_tag  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"



def repeated(index: StemIndex, k: int) -> StemIndex:
    """``index`` with every song ``k`` times (names ``name~i``)."""
    n = len(index.names)
    names = [f"{nm}~{i}" if i else nm for i in range(k) for nm in index.names]
    segs = {}
    for role, g in index.segments.items():
        segs[role] = {key: (np.concatenate([g[key] + i * n for i in range(k)]).astype(np.int32) if key == "song"
                            else np.concatenate([g[key]] * k)) for key in g}
    return StemIndex(names, index.keys * k, np.tile(index.tempi, k), np.tile(index.durations, k), segs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--vocals", type=int, default=10)
    ap.add_argument("--repeats", default="1,5,10")
    ap.add_argument("--shortlists", default="30,100,200")
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--analysis-cache", default=None,
                    help="A JSON file keeping each vocal's analysis (key, tempo, beats, downbeats) between runs.")
    ap.add_argument("--seconds", type=float, default=25.0)
    ap.add_argument("--expand", default=",".join(map(str, EXPAND)),
                    help="Anchors, new segments a side, passes of the expansion after the grid (retrieve's default; 0,0: none; "
                         "passes 1 when left out).")
    ap.add_argument("--runs", type=int, default=3, help="Runs of each query; the fastest counts (the others were "
                    "slowed by the machine's other work, as timeit reasons).")
    ap.add_argument("--first-stage-repeats", default="100,1000",
                    help="Also time the first stage alone with the DB repeated this many times (100k, 1M segments).")
    ap.add_argument("--name", default="mashup_retrieve_speed",
                    help="Output name under docs/results (NAME.md, NAME.json), e.g. a side-by-side run's own.")
    ap.add_argument("--top-shortlist", type=int, default=None, help="The shortlist of the first-stage-only rows "
                    "(default: retrieve's).")
    args = ap.parse_args()
    expand = parse_expand(args.expand)
    if args.top_shortlist is None:
        args.top_shortlist = SHORTLIST_FAST
    la = loadavg()
    t = time.perf_counter()
    base = StemIndex.load(args.db)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    model = scorer_model("premixnet")
    scorer = FastScorer(model)
    model_s = time.perf_counter() - t
    pool = clips_from_db(args.db)
    feats0 = ensure_features(args.db, pool)
    stored0 = ensure_shares(args.db, list(feats0), scorer, lambda names: feats0)  # stored at build time
    for c in pool:
        c.stems = {}
    vocals = db_vocals(args.db)
    seeds, analysis_s = [], []
    for name, path in vocals:
        if len(seeds) >= args.vocals:
            break
        t = time.perf_counter()
        try:
            seed = analysed_vocal(path, args.analysis_cache)
        except CollageError:
            continue
        analysis_s.append(time.perf_counter() - t)
        seeds.append((name, seed))
    npy = list(features_dir(args.db).rglob("*.npy"))
    feat_mb = sum(f.stat().st_size for f in npy if not f.parent.name.startswith("share-")) / 1e6 / max(len(feats0), 1)
    tag = f"share-{model_tag(scorer)}"  # this scorer's and layout's (a DB may keep others' beside them)
    shares_mb = sum(f.stat().st_size for f in npy if f.parent.name == tag) / 1e6 / max(len(feats0), 1)
    t = time.perf_counter()  # librosa's first spectrogram in a process (a CLI run pays it in the vocal's analysis)
    librosa.feature.melspectrogram(y=np.zeros(FEATURE_SR, np.float32), sr=FEATURE_SR)
    librosa_first_ms = round(1000 * (time.perf_counter() - t), 1)
    rows = []
    first_query_ms = None
    for k, n_short in [(int(x), int(n)) for x in args.repeats.split(",") for n in args.shortlists.split(",")]:
        index = repeated(base, k)
        feats = {f"{nm}~{i}" if i else nm: f for i in range(k) for nm, f in feats0.items()}
        stored = {f"{nm}~{i}" if i else nm: f for i in range(k) for nm, f in stored0.items()}
        rounds = shares_rounds(n_short)
        times = {"vector": [], "first_stage": [], "vocal": [], "harmony": [], "shares": [], "second_stage": [],
                 "total": [], "total_cpu": []}
        segments = []  # per query: the segments the second stage placed and ran SourceNets on
        for name, seed in ([seeds[0]] * (first_query_ms is None) + seeds):
            best = None
            for _ in range(1 if first_query_ms is None else args.runs):  # the least disturbed run of a query counts
                secs = min(args.seconds, seed.duration)
                start = float(vocal_starts(seed, secs)[0])
                cache = {}  # one query's segment shares (as retrieve keeps them)
                c0 = time.process_time()
                t0 = time.perf_counter()
                vec = vocal_embedding(seed.stem("vocals"), seed.sr, seed.downbeats, start, secs)
                t1 = time.perf_counter()
                found = index.candidates(vec, seed.key, (seed.tempo, seed.tempo / 2, seed.tempo * 2), seconds=secs,
                                         exclude=name)
                t2 = time.perf_counter()
                q = scorer.vocal(seed, vocal_start_s=start, seconds=secs)
                t3 = time.perf_counter()
                found = harmony_first_stage(index, found, scorer, q, vec, lambda names: feats, cache=cache,
                                            top=SHARES_HARMONY_TOP)
                t3b = time.perf_counter()
                found = shares_first_stage(index, found, scorer, q, lambda names: stored, lambda names: feats, rounds=rounds)
                grid = index.pair_positions(found, n_short, aspect=SHARES_ASPECT)
                cands = pair_candidates(index, found, grid, seed, secs, start, {})
                t4 = time.perf_counter()
                if cands:  # the grid, then the expansion around its best pairs (as retrieve)
                    made = dict(zip(grid, cands))

                    def score(pairs, index=index, found=found, made=made, q=q, feats=feats, cache=cache):
                        return scorer.score(q, pair_candidates(index, found, pairs, seed, secs, start, {}, made), feats,
                                            cache=cache)

                    expanded_ranking(index, found, scorer, grid, score, anchors=expand[0], new=expand[1],
                                     passes=expand[2], fresh=expand[3], exact=lambda role, segs, q=q, feats=feats, cache=cache:
                                     scorer.segment_shares(q, role, segs, feats, cache))
                t5 = time.perf_counter()
                c5 = time.process_time()
                if first_query_ms is None:  # the process's first query (oneDNN kernels, cold pages): reported apart
                    first_query_ms = round(1000 * (t5 - t0), 1)
                    break
                step = {"vector": t1 - t0, "first_stage": t2 - t1, "vocal": t3 - t2, "harmony": t3b - t3, "shares": t4 - t3b,
                        "second_stage": t5 - t4, "total": t5 - t0, "total_cpu": c5 - c0}
                if best is None or step["total"] < best["total"]:
                    best = step
            for key, v in (best or {}).items():
                times[key].append(v)
            if best:
                segments.append(len(cache))  # every run of a query scores the same segments
        rows.append({"segments": len(index), "songs": len(index.names), "shortlist": n_short, "index_mb": round(index.nbytes / 1e6, 2),
                     **{f"{key}_ms_median": round(1000 * float(np.median(v)), 1) for key, v in times.items()},
                     "total_ms_max": round(1000 * float(np.max(times["total"])), 1),
                     "total_ms": [round(1000 * float(v), 1) for v in times["total"]],
                     "segments_median": float(np.median(segments)), "segments_max": int(max(segments))})
        print(rows[-1], flush=True)
    big = []  # the first stage alone at library sizes (the second stage's work does not grow with the DB)
    for k in [int(x) for x in args.first_stage_repeats.split(",") if x]:
        index = repeated(base, k)
        qs = []
        for name, seed in seeds:
            secs = min(args.seconds, seed.duration)
            start = float(vocal_starts(seed, secs)[0])
            qs.append((name, seed, vocal_embedding(seed.stem("vocals"), seed.sr, seed.downbeats, start, secs), secs,
                       scorer.vocal(seed, vocal_start_s=start, seconds=secs)))
        times, peaks = [], []
        feats = {f"{nm}~{i}" if i else nm: f for i in range(k) for nm, f in feats0.items()}
        stored = {f"{nm}~{i}" if i else nm: f for i in range(k) for nm, f in stored0.items()}
        for traced in (False, True):  # timed, then again with the allocations traced
            for name, seed, vec, secs, q in qs:
                if traced:
                    tracemalloc.start()
                t0 = time.perf_counter()
                found = index.candidates(vec, seed.key, (seed.tempo, seed.tempo / 2, seed.tempo * 2), seconds=secs,
                                         exclude=name)
                found = harmony_first_stage(index, found, scorer, q, vec, lambda names: feats, cache={},
                                            top=SHARES_HARMONY_TOP)
                found = shares_first_stage(index, found, scorer, q, lambda names: stored, lambda names: feats,
                                           rounds=shares_rounds(args.top_shortlist))
                index.pairs(found, args.top_shortlist, aspect=SHARES_ASPECT)
                if traced:
                    peaks.append(tracemalloc.get_traced_memory()[1])
                    tracemalloc.stop()
                else:
                    times.append(time.perf_counter() - t0)
        big.append({"segments": len(index), "songs": len(index.names), "index_mb": round(index.nbytes / 1e6, 1),
                    "first_stage_ms_median": round(1000 * float(np.median(times)), 1),
                    "first_stage_ms_max": round(1000 * float(np.max(times)), 1),
                    "query_temporaries_mb_peak": round(max(peaks) / 1e6, 1)})
        print(big[-1], flush=True)
        del index
    out = {"db": Path(args.db).name, "vocals": len(seeds), "runs": args.runs, "shortlists": args.shortlists, "top": args.top,
           "seconds": args.seconds, "rows": rows, "librosa_first_ms": librosa_first_ms, "first_query_ms": first_query_ms, "first_stage_at_scale": big, "index_load_s": round(load_s, 2), "model_load_s": round(model_s, 2),
           "vocal_analysis_s_median": round(float(np.median(analysis_s)), 2) if not args.analysis_cache else None, "features_mb_per_song": round(feat_mb, 1), "shares_mb_per_song": round(shares_mb, 1),
           "machine": machine(), "loadavg_before": la, "loadavg_after": loadavg(),
           "command": "OMP_NUM_THREADS=1 python benchmarks/mashup_retrieve_speed.py " + " ".join(sys.argv[1:])}
    (OUT / f"{args.name}.json").write_text(json.dumps(out, indent=1) + "\n")
    table = "\n".join(f"| {r['segments']:,} | {r['songs']} | {r['shortlist']} | {r['vector_ms_median']} | {r['first_stage_ms_median']} | "
                      f"{r['vocal_ms_median']} | {r['harmony_ms_median']} | {r['shares_ms_median']} | {r['second_stage_ms_median']} | **{r['total_ms_median']}** | {r['total_ms_max']} | {r['total_cpu_ms_median']} | "
                      f"{r['segments_median']:g} / {r['segments_max']} | {r['index_mb']} |"
                      for r in rows)
    md = "\n".join([
        "# `retrieve --top 10` after the vocal's analysis, against DB size",
        "",
        f"{len(seeds)} vocals of the DB `{out['db']}` (whole POP909 test songs, each vocal analysed alone, its own song "
        f"left out), {args.seconds:g} s mashups, top {args.top}, one thread; each query run {args.runs} times and its "
        "fastest run counted (the slower ones were slowed by the shared machine's other work). The first stage "
        "reads three tempi of the vocal (as `retrieve` does) and scores the harmonic side by the harmony branch "
        "(chroma profiles of every allowed segment), then both sides by PreMixNet on the "
        f"SourceNet shares stored per song (rounds of {', '.join(map(str, SHARES_ROUNDS))} segments per side, at least the "
        "grid's, each against the best segment of the other side's best 4 songs and its 4 best other segments), a grid of "
        f"{SHARES_ASPECT:g} percussion segments per harmonic one; the second stage is the fast one (stored features, "
        "PreMixNet in parts), then the expansion around its best pairs "
        f"({expand[0]} anchors, {expand[1]} new segments a side, up to {expand[2]} passes"
        f"{', the later ones around anchors new to the top only' if expand[3] else ''}; `expanded_ranking`). Larger sizes repeat the DB in memory under new song names (same stored features, so "
        "their disk pages are shared: a truly larger DB adds the reads of the shortlisted songs' feature frames, a few MB).",
        "",
        "| stem segments | songs | shortlist | vocal vector (ms) | first stage by vectors (ms) | the vocal's features (ms) | harmony scores (ms) | shares rounds (ms) | second stage (ms) | total, median (ms) | total, max (ms) | CPU time of the total, median (ms) | segments the second stage scores, median / max | index in memory (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        table,
        "",
        f"Not in the totals: loading the index from SQLite {out['index_load_s']} s and PreMixNet {out['model_load_s']} s "
        "(once per process); the vocal's analysis" + (f", median {out['vocal_analysis_s_median']} s per whole-song vocal. "
                                         if out["vocal_analysis_s_median"] is not None else " (read from --analysis-cache). ") +
        f"Stored features: {out['features_mb_per_song']} MB per whole song on disk, stored shares {out['shares_mb_per_song']} "
        "MB (memory-mapped; a query reads the frames of its shortlist and of the segments the shares rounds score). "
        f"librosa's first spectrogram in a process: {out['librosa_first_ms']} ms (a "
        "`collage mashup retrieve` run pays it in the vocal's analysis; here it is paid before the queries). The "
        f"process's first query after it, not in the table (it is run once more there): {out['first_query_ms']} ms "
        "(PyTorch's first calls, the feature files' first pages read).",
        "",
        "The first stage alone at library sizes (the DB repeated in memory; the same vocals; the second stage "
        "above does not grow with the DB, its shortlist being fixed): vectors, then the harmony scores (chroma "
        "profiles of every allowed harmonic segment), the shares rounds (a fixed "
        "number of segments), then the grid; the vectors and profiles are brute force, linear in "
        "the segments the vocal's key and tempo allow.",
        "",
        "| stem segments | songs | first stage, median (ms) | max (ms) | index in memory (MB) | query temporaries, peak (MB) |",
        "|---|---|---|---|---|---|",
        *[f"| {r['segments']:,} | {r['songs']:,} | {r['first_stage_ms_median']} | {r['first_stage_ms_max']} | "
          f"{r['index_mb']} | {r['query_temporaries_mb_peak']} |" for r in big],
        "",
        f"Machine: {out['machine']}; load average before {la}, after {out['loadavg_after']} (2 shared cores: upper bounds).",
        "",
        f"Command: `{out['command']}`",
        "",
    ])
    (OUT / f"{args.name}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()

"""The fast second stage (:mod:`collage.mashup.fastscore`) against the exact one: agreement, speed, the paper's protocol.

    OMP_NUM_THREADS=1 python benchmarks/mashup_fast_second_stage.py --agreement --db runs/retrieval/val20.db
    OMP_NUM_THREADS=1 python benchmarks/mashup_fast_second_stage.py --protocol

``--agreement``: on a MashupDB of *val* songs, each song's vocal (analysed alone, as an outside
vocal) at up to ``--windows`` windows of ``--seconds`` is a query; every allowed pair of the other
songs' harmonic and percussion segments (at most ``--max-pairs``, drawn at random) is scored by the
exact path (render with Rubber Band, loudness, features, PreMixNet, as ``retrieve`` did) and by the
fast path (features per song and shift, stretch on features, the network in parts). Per query:
Spearman's rho of the two scores, whether the top 1 agrees, the overlap of the two top 10s, and the
share of the exact top 10 inside the fast top 20. Also: the network in parts on the exact features
against the whole network (should agree to float rounding), and the time per candidate of each path.

``--protocol``: the paper's protocol on the test songs (`collage eval mashup`'s set: 60 seeds,
original / unmatched / 5 matched each, held-out soundfont) scored from the exact features stored by
:func:`collage.evaluation.mashup.build_protocol_set` and through the fast path from the same recipes.

Results merge into docs/results/mashup_fast_second_stage.json; the .md is rendered from it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import db_vocals, loadavg, machine  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from collage.errors import CollageError  # noqa: E402
from collage.mashup.dbclips import clips_from_db, vocal_clip  # noqa: E402
from collage.mashup.embed import vocal_embedding  # noqa: E402
from collage.mashup.fastscore import FastScorer, ensure_features, song_features  # noqa: E402
from collage.mashup.generate import Candidate, render_candidate, vocal_starts  # noqa: E402
from collage.mashup.index import StemIndex  # noqa: E402
from collage.mashup.retrieval import scorer_model  # noqa: E402
from collage.mashup.score import learned_scores, mashup_features  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"
JSON = OUT / "mashup_fast_second_stage.json"


def all_pairs(index: StemIndex, vec, key, tempo, seconds, exclude) -> list[dict]:
    sc = index.scores(vec, key, tempo, seconds=seconds, exclude=exclude)
    n = len(sc["harmonic"][0]) * len(sc["percussion"][0])
    return index.shortlist(vec, key, tempo, n=max(n, 1), seconds=seconds, exclude=exclude) if n else []


def agreement(args) -> dict:
    index = StemIndex.load(args.db)
    pool = clips_from_db(args.db)
    model = scorer_model("premixnet")
    fast = FastScorer(model)
    t = time.perf_counter()
    for c in pool[:3]:
        song_features(c.stem("harmonic"), c.stem("percussion"))
    feat_s = (time.perf_counter() - t) / 3
    feats = ensure_features(args.db, pool)
    clips = {c.id: c for c in pool}
    vocals = db_vocals(args.db)
    rng = np.random.default_rng(0)
    queries, t_exact, t_fast, n_c, split_err = [], 0.0, 0.0, 0, 0.0
    for name, path in vocals:
        try:
            seed = vocal_clip(path)
        except CollageError:
            continue
        secs = min(args.seconds, seed.duration)
        for start in vocal_starts(seed, secs)[: args.windows]:
            start = float(start)
            vec = vocal_embedding(seed.stem("vocals"), seed.sr, seed.downbeats, start, secs)
            pairs = all_pairs(index, vec, seed.key, seed.tempo, secs, name)
            if len(pairs) < 3:
                continue
            if len(pairs) > args.max_pairs:
                pairs = [pairs[i] for i in sorted(rng.permutation(len(pairs))[: args.max_pairs])]
            cands = [Candidate("matched", seed.id, p["harmonic"], p["percussion"], secs, start, p["harmonic_start_s"],
                               p["percussion_start_s"], harmonic_semitones=p["harmonic_semitones"],
                               harmonic_ratio=p["harmonic_ratio"], percussion_ratio=p["percussion_ratio"]) for p in pairs]
            cl = clips | {seed.id: seed}
            t0 = time.perf_counter()
            F = [mashup_features(render_candidate(c, cl, high_quality=False), seed.sr) for c in cands]
            ex = learned_scores(F, model)
            t1 = time.perf_counter()
            q = fast.vocal(seed, vocal_start_s=start, seconds=secs)
            fa = fast.score(q, cands, feats)
            t2 = time.perf_counter()
            split_err = max(split_err, float(np.max(np.abs(fast.score_features(F) - ex))))
            t_exact, t_fast, n_c = t_exact + t1 - t0, t_fast + t2 - t1, n_c + len(cands)
            k = min(10, len(cands))
            top_e, top_f = np.argsort(-ex, kind="stable"), np.argsort(-fa, kind="stable")
            row = {"song": name, "start_s": round(start, 3), "pairs": len(cands),
                   "spearman": round(float(spearmanr(ex, fa)[0]), 4), "top1": bool(top_e[0] == top_f[0]),
                   "top10_overlap": len(set(top_e[:k]) & set(top_f[:k])) / k,
                   "exact_top10_in_fast_top20": len(set(top_e[:k]) & set(top_f[:20])) / k,
                   "mean_abs_diff": round(float(np.mean(np.abs(ex - fa))), 4)}
            queries.append(row)
            print(row, flush=True)
    return {"db": str(args.db), "seconds": secs, "windows": args.windows, "max_pairs": args.max_pairs,
            "queries": len(queries), "candidates": n_c,
            "spearman_mean": round(float(np.mean([q["spearman"] for q in queries])), 4),
            "spearman_median": round(float(np.median([q["spearman"] for q in queries])), 4),
            "top1_agreement": round(float(np.mean([q["top1"] for q in queries])), 4),
            "top10_overlap": round(float(np.mean([q["top10_overlap"] for q in queries])), 4),
            "exact_top10_in_fast_top20": round(float(np.mean([q["exact_top10_in_fast_top20"] for q in queries])), 4),
            "mean_abs_diff": round(float(np.mean([q["mean_abs_diff"] for q in queries])), 4),
            "split_network_max_abs_diff": split_err,
            "exact_ms_per_candidate": round(1000 * t_exact / n_c, 1), "fast_ms_per_candidate": round(1000 * t_fast / n_c, 2),
            "song_features_s_per_song": round(feat_s, 2), "per_query": queries,
            "loadavg_after": loadavg(), "command": _cmd()}


def protocol(args) -> dict:
    from collage.evaluation.mashup import build_protocol_set
    from collage.mashup.rendered import load_rendered_clips
    from collage.metrics.ranking import rank_and_accuracy

    npz = build_protocol_set("test", n_seeds=60, progress=False)
    z = np.load(npz)
    recipes = json.loads(str(z["recipes"]))
    labels, seeds = z["label"], z["seed_index"]
    model = scorer_model("premixnet")
    exact = learned_scores([x.astype(np.float32) for x in z["x"]], model)
    fast = FastScorer(model)
    clips = {c.id: c for c in load_rendered_clips("test")}
    need = sorted({r[k] for r in recipes for k in ("vocal", "harmonic", "percussion")})
    t = time.perf_counter()
    feats = ensure_features(Path(args.features_root) / "test_protocol", [clips[n] for n in need])
    feat_s = time.perf_counter() - t
    fa = np.zeros(len(recipes), np.float32)
    t = time.perf_counter()
    for s in np.unique(seeds):
        idx = np.flatnonzero(seeds == s)
        cands = [Candidate(**recipes[i]) for i in idx]
        c0 = cands[0]
        q = fast.vocal(clips[c0.vocal], vocal_start_s=c0.vocal_start_s, seconds=c0.seconds)
        fa[idx] = fast.score(q, cands, feats)
    fast_s = time.perf_counter() - t
    e, f = rank_and_accuracy(exact, labels, seeds), rank_and_accuracy(fa, labels, seeds)
    return {"npz": npz.name, "mashups": len(recipes), "seeds": int(len(np.unique(seeds))),
            "exact": {k: round(v, 4) for k, v in e.items()}, "fast": {k: round(v, 4) for k, v in f.items()},
            "spearman_all": round(float(spearmanr(exact, fa)[0]), 4),
            "features_s": round(feat_s, 1), "fast_scoring_s": round(fast_s, 2), "loadavg_after": loadavg(), "command": _cmd()}


def _cmd() -> str:
    return "OMP_NUM_THREADS=1 python benchmarks/mashup_fast_second_stage.py " + " ".join(sys.argv[1:])


def write_report(out: dict) -> None:
    a, p = out.get("agreement"), out.get("protocol")
    md = ["# The fast second stage against the exact one", "",
          "`collage.mashup.fastscore`: PreMixNet on features stored per song (the harmonic stem per allowed pitch shift, "
          "the percussion stem per stretch on a grid of 0.05; hop-256 mel, chroma, 100 ms loudness blocks), the rest "
          "of the time stretch applied to the features, the loudness gain from the stored blocks, and the network in "
          "parts (each stem's SourceNet once per segment, the head per pair). The exact path renders every candidate "
          "with Rubber Band and computes its features (what `retrieve` did until now). `retrieve` uses the fast path "
          "by default (`--exact` for the other).", ""]
    if a:
        md += [f"## Agreement on val songs ({Path(a['db']).name})", "",
               f"{a['queries']} queries (each val song's vocal, analysed alone, up to {a['windows']} windows of "
               f"{a['seconds']:g} s), {a['candidates']} candidates: every allowed pair of the other songs' segments "
               f"(at most {a['max_pairs']} per query, drawn at random).", "",
               "| measure | value |", "|---|---|",
               f"| Spearman's rho of the scores, mean (median) over queries | {a['spearman_mean']} ({a['spearman_median']}) |",
               f"| top 1 agrees | {a['top1_agreement']} |",
               f"| overlap of the two top 10s | {a['top10_overlap']} |",
               f"| share of the exact top 10 inside the fast top 20 | {a['exact_top10_in_fast_top20']} |",
               f"| mean absolute difference of the probabilities | {a['mean_abs_diff']} |",
               f"| the network in parts on the exact features vs the whole network, max abs difference | {a['split_network_max_abs_diff']:.2e} |",
               f"| exact path, ms per candidate | {a['exact_ms_per_candidate']} |",
               f"| fast path, ms per candidate (features stored) | {a['fast_ms_per_candidate']} |",
               f"| storing one 30 s song's features (8 versions of the harmonic stem, 11 of the percussion; s) | "
               f"{a['song_features_s_per_song']} |",
               "", f"Load average after: {a['loadavg_after']}. Command: `{a['command']}`", ""]
    if p:
        md += ["## The paper's protocol on the test songs through the fast path", "",
               f"{p['seeds']} vocal seeds, {p['mashups']} mashups (`{p['npz']}`: one original, one unmatched, five matched "
               "per seed, the held-out soundfont); the same recipes scored both ways.", "",
               "| path | accuracy (original vs unmatched, 0.5) | avg rank of the original (1-6) |", "|---|---|---|",
               f"| exact (today's) | {100 * p['exact']['accuracy']:.1f} % | {p['exact']['avg_rank']:.3f} |",
               f"| fast | {100 * p['fast']['accuracy']:.1f} % | {p['fast']['avg_rank']:.3f} |", "",
               f"Spearman's rho over all {p['mashups']} mashups: {p['spearman_all']}. Features of the "
               f"{p['seeds']} songs: {p['features_s']} s; fast scoring of all mashups: {p['fast_scoring_s']} s.", "",
               f"Load average after: {p['loadavg_after']}. Command: `{p['command']}`", ""]
    md += [f"Machine: {out['machine']} (2 cores shared with other jobs: times are upper bounds).", ""]
    (OUT / "mashup_fast_second_stage.md").write_text("\n".join(md))
    print("\n".join(md))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agreement", action="store_true")
    ap.add_argument("--protocol", action="store_true")
    ap.add_argument("--db", default="runs/retrieval/val20.db")
    ap.add_argument("--windows", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--max-pairs", type=int, default=40)
    ap.add_argument("--features-root", default="runs/retrieval")
    ap.add_argument("--from-json", action="store_true", help="Only re-render the report.")
    args = ap.parse_args()
    new = {}
    if not args.from_json:
        if args.agreement:
            new["agreement"] = agreement(args)
        if args.protocol:
            new["protocol"] = protocol(args)
        new["machine"] = machine()
    out = (json.loads(JSON.read_text()) if JSON.exists() else {}) | new  # read last: parts may run side by side
    if new:
        JSON.write_text(json.dumps(out, indent=1) + "\n")
    write_report(out)


if __name__ == "__main__":
    main()

"""Where the stored SourceNet shares' error comes from, and which of it changes how the first stage ranks pairs.

    OMP_NUM_THREADS=1 python benchmarks/mashup_shares_error_parts.py --db runs/retrieval/val2_whole.db \\
        --analysis-cache runs/retrieval/vocal_analysis_val2.json [--samples 20] [--queries 10]

Part 1, the error: for ``--samples`` random stem segments of each role (random start, pitch shift, stretch in [0.8,
1.2]), the mean relative error against the fast second stage's own shares (as ``mashup_shares_error.py``) of (a) the
stored shares ``gather_shares`` reads (the nearest stored stretch and offset) and (b) shares made the same way as the
stored ones but at the segment's exact stretch and at an offset within 2 ms (the whole stem through the SourceNet, its
running mean): what is left in (b) is the stored shares' way of making them (a window's edges see the stem around
them instead of zeros, a running mean instead of the window's), the rest of (a) the grid of stretches and offsets.
(b)'s error is also given per share frame of a window (32 frames of 256 ms).

Part 2, the ranking: for ``--queries`` vocal windows (one per vocal of the DB, its middle window), the best 60
segments of each side after ``retrieve``'s shares rounds, and every pair of them at one tempo reading: the Spearman
correlation of the pairs' log-odds by PreMixNet's head on the stored shares with those on the second stage's own
(the exhaustive scores of these pairs), and with some of the stored shares replaced by the second stage's own: the
edges of each window (its first and last two share frames) on both sides, the whole harmonic side, the whole
percussion side. Writes docs/results/mashup_shares_error_parts.md and .json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import analysed_vocal, db_features, db_vocals, loadavg, machine, random_segments, segment_share, write_results  # noqa: E402
from mashup_shares_error import _Lazy  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

import collage.mashup.shares as shares  # noqa: E402
from collage.errors import CollageError  # noqa: E402
from collage.mashup.embed import vocal_embedding  # noqa: E402
from collage.mashup.fastscore import FastScorer  # noqa: E402
from collage.mashup.generate import vocal_starts  # noqa: E402
from collage.mashup.index import StemIndex  # noqa: E402
from collage.mashup.retrieval import (SHARES_HARMONY_TOP, SHORTLIST_FAST, harmony_first_stage, scorer_model,  # noqa: E402
                                      segment_tuples, shares_first_stage, shares_rounds)

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"
EDGES = [0, 1, 30, 31]  # a window's first and last two share frames
FINE_PHASES = 64  # offsets per share frame for (b): every 4 ms, so within 2 ms


def error_parts(index, feats, stored, scorer, role: str, n: int, rng, seconds: float) -> dict:
    """Part 1 for one role: the mean relative errors of (a) and (b) and (b)'s per share frame."""
    sil = {"h_silence": shares._silence(scorer, 1), "p_silence": shares._silence(scorer, 2)}
    err_a, err_b, per_frame = [], [], []
    for seg in random_segments(index, role, n, rng):
        song, _, ratio, _ = seg
        ex = segment_share(scorer, feats, role, seg, seconds)
        a = shares.gather_shares(stored, role, [seg], seconds=seconds)[0]
        saved = shares.SHARE_PHASES, shares.SHARE_RATIOS
        try:  # the stored shares' way at the exact stretch, offsets every 4 ms
            shares.SHARE_PHASES = {"harmonic": FINE_PHASES, "percussion": FINE_PHASES}
            shares.SHARE_RATIOS = {**shares.SHARE_RATIOS, role: (ratio,)}
            lazy = {**sil, "h_share": _Lazy(scorer, feats[song], "harmonic"), "p_share": _Lazy(scorer, feats[song], "percussion")}
            b = shares.gather_shares({song: lazy}, role, [seg], seconds=seconds)[0]
        finally:
            shares.SHARE_PHASES, shares.SHARE_RATIOS = saved
        scale = np.abs(ex).mean()
        err_a.append(float(np.abs(a - ex).mean() / scale))
        err_b.append(float(np.abs(b - ex).mean() / scale))
        per_frame.append(np.abs(b - ex).mean(axis=(0, 1, 3)) / scale)
    return {"stored": round(float(np.mean(err_a)), 3), "exact_stretch_and_offset": round(float(np.mean(err_b)), 3),
            "per_share_frame": [round(float(x), 3) for x in np.mean(per_frame, axis=0)]}


def ranking(db, index, feats, stored, scorer, queries: int, analysis_cache, seconds: float) -> dict:
    """Part 2: per query, Spearman of the variants' pair log-odds with the exact ones."""
    rows = []
    for song, path in db_vocals(db):
        if len(rows) >= queries:
            break
        try:
            seed = analysed_vocal(path, analysis_cache)
        except CollageError:
            continue
        secs, cache = min(seconds, seed.duration), {}
        starts = vocal_starts(seed, secs)
        start = float(starts[len(starts) // 2])
        vec = vocal_embedding(seed.stem("vocals"), seed.sr, seed.downbeats, start, secs)
        f = index.candidates(vec, seed.key, (seed.tempo, seed.tempo / 2, seed.tempo * 2), seconds=secs, exclude=song)
        q = scorer.vocal(seed, vocal_start_s=start, seconds=secs)
        f = harmony_first_stage(index, f, scorer, q, vec, lambda names: feats, cache=cache, top=SHARES_HARMONY_TOP)
        f = shares_first_stage(index, f, scorer, q, lambda names: stored, lambda names: feats,
                               rounds=shares_rounds(SHORTLIST_FAST))
        if "shares" not in f:
            continue
        oh, op = f["shares"]["harmonic"][:60], f["shares"]["percussion"][:60]
        hs, ps = segment_tuples(index, f, "harmonic", oh), segment_tuples(index, f, "percussion", op)
        a, b = np.nonzero(f["harmonic"]["reading"][oh][:, None] == f["percussion"]["reading"][op][None, :])
        if len(a) < 10:
            continue
        Hs, Ps = (shares.gather_shares(stored, r, s, seconds=secs) for r, s in (("harmonic", hs), ("percussion", ps)))
        He, Pe = (scorer.segment_shares(q, r, s, feats, cache).numpy() for r, s in (("harmonic", hs), ("percussion", ps)))
        HH = scorer.harmony_features(q, hs, feats)

        def logits(H, P):
            return scorer.pair_logits(scorer.pair_sides(q.share, torch.as_tensor(H), torch.as_tensor(P), HH), a, b)

        def edged(S, E):
            S = S.copy()
            S[:, :, :, EDGES] = E[:, :, :, EDGES]
            return S

        exact = logits(He, Pe)
        variants = {"stored": logits(Hs, Ps), "stored, exact window edges": logits(edged(Hs, He), edged(Ps, Pe)),
                    "exact harmonic, stored percussion": logits(He, Ps), "stored harmonic, exact percussion": logits(Hs, Pe)}
        rows.append({"song": song, "pairs": int(len(a)), **{k: round(float(spearmanr(v, exact)[0]), 4) for k, v in variants.items()}})
        print(rows[-1], flush=True)
    keys = [k for k in rows[0] if k not in ("song", "pairs")] if rows else []
    return {"per_query": rows, "mean": {k: round(float(np.mean([r[k] for r in rows])), 3) for k in keys}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="runs/retrieval/val2_whole.db")
    ap.add_argument("--analysis-cache", default=None)
    ap.add_argument("--samples", type=int, default=20, help="Stem segments per role (part 1).")
    ap.add_argument("--queries", type=int, default=10, help="Vocal windows (part 2).")
    ap.add_argument("--seconds", type=float, default=25.0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    index, feats = StemIndex.load(args.db), db_features(args.db)
    scorer = FastScorer(scorer_model("premixnet"))
    stored = shares.ensure_shares(args.db, index.names, scorer, lambda names: feats)
    rng = np.random.default_rng(0)
    parts = {role: error_parts(index, feats, stored, scorer, role, args.samples, rng, args.seconds)
             for role in ("harmonic", "percussion")}
    print(parts, flush=True)
    rank = ranking(args.db, index, feats, stored, scorer, args.queries, args.analysis_cache, args.seconds)
    out = {"db": Path(args.db).name, "samples": args.samples, "error": parts, "ranking": rank, "machine": machine(),
           "loadavg_after": loadavg(),
           "command": "OMP_NUM_THREADS=1 python benchmarks/mashup_shares_error_parts.py " + " ".join(sys.argv[1:])}
    frames = lambda v: ", ".join(str(x) for x in v[:3]) + " ... " + ", ".join(str(x) for x in v[14:18]) + " ... " + ", ".join(str(x) for x in v[-3:])  # noqa: E731
    lines = ["# Where the stored shares' error comes from, and which of it changes the ranking", "",
             f"`{out['db']}`. Error: {args.samples} random stem segments a role (random start, pitch shift, stretch in "
             "[0.8, 1.2]) in a 25 s mashup; the mean relative error against the fast second stage's own SourceNet shares "
             "of the stored shares (the nearest stored stretch and offset) and of shares made the stored way at the "
             "segment's exact stretch and within 2 ms of its offset (what is left: the stored way itself, a window's "
             "edges seeing the stem around them instead of zeros and a running mean instead of the window's).", "",
             "| role | stored | stored way, exact stretch and offset | the latter per share frame of a window (first 3 ... middle 4 ... last 3) |",
             "|---|---|---|---|",
             *[f"| {r} | {v['stored']} | {v['exact_stretch_and_offset']} | {frames(v['per_share_frame'])} |" for r, v in parts.items()],
             "",
             f"Ranking: {len(rank['per_query'])} vocal windows (each vocal's middle one), the best 60 segments of each side "
             "after `retrieve`'s shares rounds and every pair of them at one tempo reading; Spearman correlation of the "
             "pairs' log-odds on stored shares, some replaced by the second stage's own, with the log-odds on the second "
             "stage's own (mean over the queries).", "",
             "| shares | Spearman with the exact log-odds |", "|---|---|",
             *[f"| {k} | {v} |" for k, v in rank["mean"].items()]]
    write_results(OUT, "mashup_shares_error_parts", out, lines)


if __name__ == "__main__":
    main()

"""How far a per-segment first stage can go, and how close each segment score comes (val songs).

    OMP_NUM_THREADS=1 python benchmarks/mashup_first_stage_ceiling.py [--db runs/mashup/distil/val12_heldout_sf.db]

``retrieve``'s first stage gives each stem segment one score and shortlists the grid of each side's
best (:meth:`~collage.mashup.index.StemIndex.pairs`). For each vocal query (windows of 25 s, the three
tempo readings, its own song left out), every allowed pair is scored by the fast second stage; a
segment's *marginal* is its best pair score (the max over its partners). Reported:

- the ceiling: recall@10 of the grid when each side is ranked by its true marginal (an oracle), beside
  the first stages ``retrieve`` has (vectors; the harmony scores on the harmonic side);
- Spearman's rho between each segment score and the marginal, per query, averaged: for harmonic segments
  the vector score, the prior, the chroma-profile harmony score (every allowed segment) and the
  frame-by-frame one (:func:`~collage.mashup.retrieval.harmony_first_stage`); for percussion segments the
  vector score, the prior, minus the stretch's size (``|log ratio|``), and the segment's exact score with
  the four best harmonic segments (by the harmony scores), the mean log-odds, read from the exhaustive
  scores: what a SourceNet per percussion segment would buy.

Val songs only (the test songs are for ``mashup_recall_whole_songs.py``). Writes
docs/results/mashup_first_stage_ceiling.md and .json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import analysed_vocal, db_features, db_vocals, loadavg, machine  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from collage.errors import CollageError  # noqa: E402
from collage.mashup.embed import vocal_embedding  # noqa: E402
from collage.mashup.fastscore import FastScorer  # noqa: E402
from collage.mashup.generate import Candidate, vocal_starts  # noqa: E402
from collage.mashup.index import StemIndex  # noqa: E402
from collage.mashup.retrieval import harmony_first_stage, scorer_model  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _rho(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    return float(spearmanr(x[ok], y[ok])[0]) if ok.sum() > 5 and np.ptp(x[ok]) > 0 else float("nan")


def _first_window_scores(scorer, q, index, found, ref, feats, cache) -> np.ndarray:
    """Each allowed percussion segment's log-odds with the harmonic segments ``ref`` (indices into found's harmonic
    side), from the first window alone (8.2 s), the segment placed at the stored stretch nearest its own
    (:data:`~collage.mashup.fastscore.PERC_RATIOS`, no further stretch): what a build could store per segment and
    stretch, one SourceNet share each."""
    import torch

    from collage.mashup.fastscore import PERC_RATIOS, placed_features
    from collage.mashup.score import windows

    H, P = index.segments["harmonic"], index.segments["percussion"]
    h, p = found["harmonic"], found["percussion"]
    refs = [Candidate("matched", "v", index.names[H["song"][h["idx"][i]]], index.names[P["song"][p["idx"][0]]], q.seconds, 0.0,
                      float(H["start_s"][h["idx"][i]]), float(P["start_s"][p["idx"][0]]), harmonic_semitones=int(h["shift"][i]),
                      harmonic_ratio=float(h["ratio"][i]), percussion_ratio=float(p["ratio"][0])) for i in ref]
    hkeys, _, _, _ = scorer._segments(q, refs, feats, cache)
    shape = q.share.shape
    h_share = torch.stack([cache[("h", q.seconds, k)][0].reshape(shape)[0] for k in hkeys]).mean(0)
    with torch.no_grad():
        harm = scorer.model._harmony(torch.from_numpy(q.chroma_w[:1]).repeat(len(hkeys), 1, 1),
                                     torch.from_numpy(np.stack([cache[("h", q.seconds, k)][1][0] for k in hkeys]))).mean(0)
    grid = np.asarray([r for r in PERC_RATIOS if r != 1.0])
    mels = []
    for i, r in zip(p["idx"], p["ratio"]):
        r0 = 1.0 if r == 1.0 else float(grid[np.argmin(np.abs(grid - r))])
        m, _ = placed_features(feats[index.names[P["song"][i]]], "percussion", start_s=float(P["start_s"][i]),
                               seconds=q.seconds, ratio=r0)
        mels.append(windows(m)[0])
    shares = scorer._share(2, np.stack(mels))
    with torch.no_grad():
        x = q.share[0][None] + h_share[None] + shares
        out = scorer._pooled(x[..., 0])
        lo = scorer.model.head(torch.cat([out, harm[None].expand(len(out), -1)], dim=1))
        return (lo[:, 0] - lo[:, 1]).numpy().astype(np.float64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="runs/mashup/distil/val12_heldout_sf.db")
    ap.add_argument("--per-song", type=int, default=5)
    ap.add_argument("--shortlists", default="30,100,200")
    ap.add_argument("--seconds", type=float, default=25.0)
    ap.add_argument("--analysis-cache", default="runs/retrieval/vocal_analysis.json")
    args = ap.parse_args()
    shortlists = [int(x) for x in args.shortlists.split(",")]
    t_start = time.perf_counter()
    index = StemIndex.load(args.db)
    feats = db_features(args.db)
    scorer = FastScorer(scorer_model("premixnet"))
    H, P = index.segments["harmonic"], index.segments["percussion"]
    vocals = db_vocals(args.db)
    recall, rhos, n_pairs = {}, {}, []
    for name, path in vocals:
        try:
            seed = analysed_vocal(path, args.analysis_cache)
        except CollageError:
            continue
        secs = min(args.seconds, seed.duration)
        starts = vocal_starts(seed, secs)
        starts = starts[np.unique(np.linspace(0, len(starts) - 1, min(args.per_song, len(starts))).round().astype(int))]
        cache, tempi = {}, (seed.tempo, seed.tempo / 2, seed.tempo * 2)
        for start in starts:
            start = float(start)
            vec = vocal_embedding(seed.stem("vocals"), seed.sr, seed.downbeats, start, secs)
            found = index.candidates(vec, seed.key, tempi, seconds=secs, exclude=name)
            h, p = found["harmonic"], found["percussion"]
            ok = (H["song"][h["idx"]][:, None] != P["song"][p["idx"]][None, :]) & (h["reading"][:, None] == p["reading"][None, :])
            hh, pp = np.nonzero(ok)
            if len(hh) < 20:
                continue
            cands = [Candidate("matched", seed.id, index.names[H["song"][h["idx"][i]]], index.names[P["song"][p["idx"][j]]],
                               secs, start, float(H["start_s"][h["idx"][i]]), float(P["start_s"][p["idx"][j]]),
                               harmonic_semitones=int(h["shift"][i]), harmonic_ratio=float(h["ratio"][i]),
                               percussion_ratio=float(p["ratio"][j])) for i, j in zip(hh, pp)]
            q = scorer.vocal(seed, vocal_start_s=start, seconds=secs)
            s2 = scorer.score(q, cands, feats, cache=cache)
            M = np.full(ok.shape, np.nan)
            M[hh, pp] = s2
            with np.errstate(all="ignore"):
                h_marg, p_marg = np.nanmax(M, 1), np.nanmax(M, 0)
            feat = lambda names: feats  # noqa: E731
            coarse = harmony_first_stage(index, found, scorer, q, vec, feat, cache=cache, top=0)
            frames = harmony_first_stage(index, found, scorer, q, vec, feat, cache=cache, top=len(h["idx"]))
            ref = np.argsort(-frames["harmonic"]["score"], kind="stable")[:4]
            with np.errstate(all="ignore"):
                p_exact = np.nanmean(_logit(M[ref]), axis=0)
            p_window = _first_window_scores(scorer, q, index, found, ref, feats, cache)
            for key, x, y in (("harmonic: vectors", h["score"], h_marg), ("harmonic: prior", H["prior"][h["idx"]], h_marg),
                              ("harmonic: harmony, chroma profiles", coarse["harmonic"]["score"], h_marg),
                              ("harmonic: harmony, frame by frame", frames["harmonic"]["score"], h_marg),
                              ("percussion: vectors", p["score"], p_marg), ("percussion: prior", P["prior"][p["idx"]], p_marg),
                              ("percussion: the stretch, closer to 1 first", -np.abs(np.log(p["ratio"])), p_marg),
                              ("percussion: exact score with the 4 best harmonic (a SourceNet each)", p_exact, p_marg),
                              ("percussion: its first 8.2 s at the nearest stored stretch with the 4 best harmonic "
                               "(could be stored at build time)", p_window, p_marg)):
                rhos.setdefault(key, []).append(_rho(np.asarray(x, np.float64), h_marg if key.startswith("h") else p_marg))
            truth = set(np.argsort(-s2, kind="stable")[:10].tolist())
            pos = {(i, j): n for n, (i, j) in enumerate(zip(hh, pp))}
            oracle = {**found, "harmonic": {**h, "score": np.nan_to_num(h_marg, nan=-1.0).astype(np.float32)},
                      "percussion": {**p, "score": np.nan_to_num(p_marg, nan=-1.0).astype(np.float32)}}
            hkey = {(index.names[H["song"][i]], float(H["start_s"][i]), float(r)): n for n, (i, r) in enumerate(zip(h["idx"], h["ratio"]))}
            pkey = {(index.names[P["song"][i]], float(P["start_s"][i]), float(r)): n for n, (i, r) in enumerate(zip(p["idx"], p["ratio"]))}
            window = {**frames, "percussion": {**p, "score": p_window.astype(np.float32)}}
            for fs_name, f in (("oracle (each segment's true best pair score)", oracle), ("harmony (retrieve)", frames),
                               ("vectors", found), ("harmony, and percussion by its first 8.2 s stored", window)):
                for n in shortlists:
                    got = [pos[(hkey[(x["harmonic"], x["harmonic_start_s"], x["harmonic_ratio"])],
                                pkey[(x["percussion"], x["percussion_start_s"], x["percussion_ratio"])])]
                           for x in index.pairs(f, n)]
                    top = sorted(got, key=lambda k: -s2[k])[:10]
                    recall.setdefault(fs_name, {}).setdefault(n, []).append(len(truth & set(top)) / 10)
            n_pairs.append(len(hh))
            print(len(n_pairs), name, round(start, 1), len(hh), flush=True)
    out = {"db": Path(args.db).name, "queries": len(n_pairs), "seconds": args.seconds,
           "pairs_per_query": {"median": float(np.median(n_pairs)), "min": int(min(n_pairs)), "max": int(max(n_pairs))},
           "recall_at_10": {k: {n: round(float(np.mean(v)), 3) for n, v in d.items()} for k, d in recall.items()},
           "spearman_with_the_best_pair_score": {k: round(float(np.nanmean(v)), 3) for k, v in rhos.items()},
           "seconds_total": round(time.perf_counter() - t_start, 1), "machine": machine(), "loadavg_after": loadavg(),
           "command": "OMP_NUM_THREADS=1 python benchmarks/mashup_first_stage_ceiling.py " + " ".join(sys.argv[1:])}
    (OUT / "mashup_first_stage_ceiling.json").write_text(json.dumps(out, indent=1) + "\n")
    r = out["recall_at_10"]
    md = "\n".join([
        "# How far a per-segment first stage can go (val songs)",
        "",
        f"`{out['db']}` (val songs, the held-out soundfont), {out['queries']} vocal queries of {args.seconds:g} s at "
        f"the three tempo readings `retrieve` makes, {out['pairs_per_query']['median']:g} allowed pairs per query "
        f"(median; {out['pairs_per_query']['min']}-{out['pairs_per_query']['max']}), every one scored by the fast "
        "second stage. A segment's best pair score (max over its partners) is what a per-segment first stage would "
        "ideally rank by; the oracle does.",
        "",
        "| first stage | " + " | ".join(f"recall@10, {n} pairs" for n in shortlists) + " |",
        "|---|" + "---|" * len(shortlists),
        *[f"| {k} | " + " | ".join(str(d[n]) for n in shortlists) + " |" for k, d in r.items()],
        "",
        "Spearman's rho between a segment score and the segment's best pair score, per query, averaged:",
        "",
        "| segment score | rho |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in out["spearman_with_the_best_pair_score"].items()],
        "",
        "The last row is partly so by construction (a percussion segment's best pair is often with one of those four "
        "harmonic segments); it shows what the spectrogram half of the network adds, and it costs a SourceNet per "
        "percussion segment: what the grid itself pays for the segments it takes.",
        "",
        f"Machine: {out['machine']}; load average after {out['loadavg_after']}; {out['seconds_total']} s in all.",
        "",
        f"Command: `{out['command']}`",
        "",
    ])
    (OUT / "mashup_first_stage_ceiling.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()

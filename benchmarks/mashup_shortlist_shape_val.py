"""The shortlist's shape on validation songs: recall@10 against the number of distinct stem segments.

    OMP_NUM_THREADS=1 python benchmarks/mashup_shortlist_shape_val.py --db runs/mashup/distil/val12.db \
        --db runs/mashup/distil/val12_heldout_sf.db

The second stage pays per distinct segment (its SourceNet, its placed features) far more than per
pair, so a shortlist's cost is its number of segments S. The shortlist is a grid: every allowed pair
of the best ``kh`` harmonic and the best ``kp`` percussion segments by the first stage of ``retrieve``
(segment priors + :data:`~collage.mashup.firststage.STUDENT_WEIGHT` x the learned score). For a budget
S and a harmonic share f, ``kh = round(f S)``, ``kp = S - kh``; recall@10 against the exhaustive
ranking of every allowed pair by the fast second stage, queries as in training
(:func:`collage.training.first_stage.distillation_targets`). Also: how much of the variance of the
teacher's logits over a query's pairs the harmonic segment alone explains (its row means) and the
percussion segment alone (its column means).

Rule, written before the run: the chosen share is the f with the best mean recall over the budgets and
DBs; it becomes the default only if that mean beats the square grid's (f = 0.5) by at least 0.02 and
is no lower than the square's on either DB; otherwise the square stays.
Writes docs/results/mashup_shortlist_shape_val.md and .json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import loadavg, machine  # noqa: E402

from collage.mashup.firststage import FirstStage, segment_scores  # noqa: E402
from collage.mashup.index import StemIndex  # noqa: E402
from collage.training.first_stage import distillation_targets  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"
SHARES = (0.2, 0.33, 0.5, 0.67, 0.8)
BUDGETS = (6, 8, 12, 16, 24)
MARGIN = 0.02



def grid_recall(h: np.ndarray, p: np.ndarray, T: np.ndarray, kh: int, kp: int) -> float:
    """Share of the teacher's best 10 allowed pairs (``T`` (nh, np), NaN = not allowed) in the grid of the
    best ``kh`` rows by ``h`` x the best ``kp`` columns by ``p``."""
    valid = ~np.isnan(T)
    k = min(10, int(valid.sum()))
    if k == 0:
        return float("nan")
    flat = np.argsort(-np.where(valid, T, -np.inf), axis=None, kind="stable")[:k]
    ti, tj = np.unravel_index(flat, T.shape)
    rh = np.empty(len(h), int)
    rh[np.argsort(-h, kind="stable")] = np.arange(len(h))
    rp = np.empty(len(p), int)
    rp[np.argsort(-p, kind="stable")] = np.arange(len(p))
    return float(np.mean((rh[ti] < kh) & (rp[tj] < kp)))


def side_variance(T: np.ndarray) -> tuple[float, float]:
    """Shares of the variance of the logits of ``T`` over allowed pairs explained by row means and by column means."""
    L = np.log(np.clip(T, 1e-4, 1 - 1e-4) / (1 - np.clip(T, 1e-4, 1 - 1e-4)))
    valid = ~np.isnan(T)
    if valid.sum() < 4:
        return float("nan"), float("nan")
    mu = L[valid].mean()
    var = ((L[valid] - mu) ** 2).mean()
    row = np.nanmean(np.where(valid, L, np.nan), axis=1)
    col = np.nanmean(np.where(valid, L, np.nan), axis=0)
    vr = ((np.broadcast_to(row[:, None], L.shape)[valid] - mu) ** 2).mean()
    vc = ((np.broadcast_to(col[None, :], L.shape)[valid] - mu) ** 2).mean()
    return float(vr / (var + 1e-12)), float(vc / (var + 1e-12))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", action="append", required=True)
    ap.add_argument("--windows", type=int, default=8)
    args = ap.parse_args()
    fs = FirstStage.load()
    rows = []
    for db in args.db:
        t0 = time.time()
        d = distillation_targets(db, windows=args.windows)
        seg = StemIndex.load(db).segments
        rec = {f: {s: [] for s in BUDGETS} for f in SHARES}
        var_h, var_p, sizes = [], [], []
        for q in d["queries"]:
            h = fs.scores("harmonic", q["v"], d["vec"]["harmonic"][q["h"]], q["shift"], q["h_ratio"])
            p = fs.scores("percussion", q["v"], d["vec"]["percussion"][q["p"]], 0, q["p_ratio"])
            hs = segment_scores(seg["harmonic"]["prior"][q["h"]], h)
            ps = segment_scores(seg["percussion"]["prior"][q["p"]], p)
            sizes.append((len(hs), len(ps)))
            vh, vp = side_variance(q["T"])
            var_h.append(vh)
            var_p.append(vp)
            for f in SHARES:
                for s in BUDGETS:
                    kh = max(1, int(round(f * s)))
                    rec[f][s].append(grid_recall(hs, ps, q["T"], kh, max(1, s - kh)))
        sz = np.array(sizes)
        rows.append({"db": Path(db).name, "songs": len(d["songs"]), "queries": len(d["queries"]),
                     "harmonic_segments_median": float(np.median(sz[:, 0])),
                     "percussion_segments_median": float(np.median(sz[:, 1])),
                     "variance_by_harmonic": round(float(np.nanmean(var_h)), 3),
                     "variance_by_percussion": round(float(np.nanmean(var_p)), 3),
                     "seconds": round(time.time() - t0, 1),
                     "recall_at_10": {str(f): {str(s): round(float(np.nanmean(v)), 3) for s, v in r.items()}
                                      for f, r in rec.items()}})
        print(rows[-1], flush=True)
    mean = {f: float(np.mean([r["recall_at_10"][str(f)][str(s)] for r in rows for s in BUDGETS])) for f in SHARES}
    per_db = {f: [float(np.mean([r["recall_at_10"][str(f)][str(s)] for s in BUDGETS])) for r in rows] for f in SHARES}
    best = max(SHARES, key=lambda f: mean[f])
    adopt = best != 0.5 and mean[best] >= mean[0.5] + MARGIN and all(a >= b for a, b in zip(per_db[best], per_db[0.5]))
    out = {"rows": rows, "mean_recall": {str(f): round(v, 4) for f, v in mean.items()},
           "mean_recall_per_db": {str(f): [round(x, 4) for x in v] for f, v in per_db.items()},
           "best_share": best, "adopted_share": best if adopt else 0.5, "machine": machine(), "loadavg_after": loadavg(),
           "command": "OMP_NUM_THREADS=1 python benchmarks/mashup_shortlist_shape_val.py " + " ".join(sys.argv[1:])}
    (OUT / "mashup_shortlist_shape_val.json").write_text(json.dumps(out, indent=1) + "\n")
    lines = []
    for r in rows:
        lines += [f"**`{r['db']}`**: {r['songs']} songs, {r['queries']} queries; allowed segments per query (median) "
                  f"{r['harmonic_segments_median']:g} harmonic, {r['percussion_segments_median']:g} percussion. Share of "
                  f"the variance of the teacher's logits over a query's pairs explained by the harmonic segment alone "
                  f"(row means): {r['variance_by_harmonic']}; by the percussion segment alone: {r['variance_by_percussion']}.",
                  "", "| harmonic share f | " + " | ".join(f"S={s}" for s in BUDGETS) + " | mean |",
                  "|" + "---|" * (2 + len(BUDGETS))]
        for f in SHARES:
            rr = r["recall_at_10"][str(f)]
            lines.append(f"| {f:g}{' (square)' if f == 0.5 else ''} | " + " | ".join(str(rr[str(s)]) for s in BUDGETS)
                         + f" | {np.mean(list(rr.values())):.3f} |")
        lines.append("")
    verdict = (f"adopted: f = {best:g}" if adopt else
               f"the best share is f = {best:g}, which does not pass the rule: the square grid stays")
    md = "\n".join([
        "# The shortlist's shape on validation songs",
        "",
        "Recall@10 of a grid shortlist (every allowed pair of the best kh harmonic and the best kp percussion segments "
        "by `retrieve`'s first stage: segment priors + 0.25 x the learned score) against the exhaustive ranking by the "
        "fast second stage, by the number of distinct segments S = kh + kp (what the second stage pays for) and the "
        "harmonic share f = kh / S. Queries as in training: 8 vocal windows of 15 s per val song, three tempo readings. "
        "The DBs hold POP909 val songs as 80 s clips (the second with the held-out soundfont).",
        "",
        "Rule, written before the run: the chosen f has the best mean recall over the budgets and DBs; it replaces the "
        f"square grid (f = 0.5) only if it beats it by at least {MARGIN} and is no lower on either DB.",
        "",
        *lines,
        "Mean recall over budgets and DBs: " + ", ".join(f"f={f:g} {v:.4f}" for f, v in mean.items()) + f"; {verdict}.",
        "",
        f"Machine: {out['machine']}; load average after {out['loadavg_after']} (2 shared cores).",
        "",
        f"Command: `{out['command']}`",
        "",
    ])
    (OUT / "mashup_shortlist_shape_val.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()

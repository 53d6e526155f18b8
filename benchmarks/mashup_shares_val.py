"""Choosing the shares first stage's partners, rounds and grid shape on val songs (recall@10 at 2,500 pairs).

    OMP_NUM_THREADS=1 python benchmarks/mashup_shares_val.py --db runs/retrieval/val_whole.db [--per-song 4]

The DB holds whole duple-metre POP909 *validation* songs (``collage mashup build --seconds 600
--features``, the held-out soundfont); each song's vocal is analysed alone and queried at
``--per-song`` windows of 25 s, its own song left out, as ``mashup_recall_whole_songs.py`` does.
For each query every allowed pair is scored by the fast second stage (the truth: its top 10), then
:func:`~collage.mashup.retrieval.shares_first_stage` runs in each variant (partner songs, more
partner segments, rounds) and the grid of ``--shortlist`` pairs is taken at each aspect
(percussion segments per harmonic one, :func:`~collage.mashup.embed.grid_shape`); recall@10 is the
share of the truth the grid holds. Writes docs/results/mashup_shares_val.md and .json.
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

from collage.mashup.embed import grid_shape, vocal_embedding  # noqa: E402
from collage.mashup.fastscore import FastScorer  # noqa: E402
from collage.mashup.generate import Candidate, vocal_starts  # noqa: E402
from collage.mashup.index import StemIndex  # noqa: E402
from collage.mashup.retrieval import (SHARES_HARMONY_TOP, harmony_first_stage, scorer_model,  # noqa: E402
                                      shares_first_stage)
from collage.mashup.shares import ensure_shares  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"
#: (name, partner songs, more partner segments, rounds)
VARIANTS = (("4 songs", 4, 0, (100, 300)), ("4 songs + 4 segments", 4, 4, (100, 300)),
            ("4 songs + 4 segments, three rounds", 4, 4, (100, 300, 100)), ("6 songs", 6, 0, (100, 300)))
ASPECTS = (1.0, 2.2, 4.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="runs/retrieval/val_whole.db")
    ap.add_argument("--per-song", type=int, default=4)
    ap.add_argument("--shortlist", type=int, default=2000)
    ap.add_argument("--analysis-cache", default="runs/retrieval/vocal_analysis_val.json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    index = StemIndex.load(args.db)
    feats = db_features(args.db)
    scorer = FastScorer(scorer_model("premixnet"))
    stored = ensure_shares(args.db, index.names, scorer, lambda names: feats)
    vocals = db_vocals(args.db)
    H, P = index.segments["harmonic"], index.segments["percussion"]
    recall = {(v[0], a): [] for v in VARIANTS for a in ASPECTS}
    pairs_n = []
    for name, path in vocals:
        seed = analysed_vocal(path, args.analysis_cache)
        secs, tempi = min(25.0, seed.duration), (seed.tempo, seed.tempo / 2, seed.tempo * 2)
        starts = vocal_starts(seed, secs)
        starts = starts[np.unique(np.linspace(0, len(starts) - 1, min(args.per_song, len(starts))).round().astype(int))]
        cache = {}
        for start in map(float, starts):
            vec = vocal_embedding(seed.stem("vocals"), seed.sr, seed.downbeats, start, secs)
            found = index.candidates(vec, seed.key, tempi, seconds=secs, exclude=name)
            h, p = found["harmonic"], found["percussion"]
            every = [(i, j) for i in range(len(h["idx"])) for j in range(len(p["idx"]))
                     if h["reading"][i] == p["reading"][j] and H["song"][h["idx"][i]] != P["song"][p["idx"][j]]]
            if len(every) < 2:
                continue
            cands = [Candidate("matched", seed.id, index.names[H["song"][h["idx"][i]]], index.names[P["song"][p["idx"][j]]],
                               secs, start, float(H["start_s"][h["idx"][i]]), float(P["start_s"][p["idx"][j]]),
                               harmonic_semitones=int(h["shift"][i]), harmonic_ratio=float(h["ratio"][i]),
                               percussion_ratio=float(p["ratio"][j])) for i, j in every]
            q = scorer.vocal(seed, vocal_start_s=start, seconds=secs)
            exhaustive = scorer.score(q, cands, feats, cache=cache)
            k = min(10, len(every))
            truth = {every[i] for i in np.argsort(-exhaustive, kind="stable")[:k]}
            score = dict(zip(every, exhaustive))
            base = harmony_first_stage(index, found, scorer, q, vec, lambda names: feats, cache=cache,
                                       top=SHARES_HARMONY_TOP)
            pairs_n.append(len(every))
            for vname, songs, more, rounds in VARIANTS:
                f = shares_first_stage(index, base, scorer, q, lambda names: stored, lambda names: feats, rounds=rounds,
                                       references=songs, more_partners=more)
                for a in ASPECTS:
                    kh, kp = grid_shape(args.shortlist, a)
                    oh = set(np.argsort(-f["harmonic"]["score"], kind="stable")[:kh].tolist())
                    op = set(np.argsort(-f["percussion"]["score"], kind="stable")[:kp].tolist())
                    top = sorted((x for x in every if x[0] in oh and x[1] in op), key=lambda x: -score[x])[:k]
                    recall[(vname, a)].append(len(truth & set(top)) / k)
            print(len(pairs_n), name, {f"{v}/{a:g}": round(float(np.mean(r)), 3) for (v, a), r in recall.items()}, flush=True)
    out = {"db": Path(args.db).name, "songs": len(index.names), "segments": len(index), "queries": len(pairs_n),
           "shortlist": args.shortlist, "pairs_per_query_median": float(np.median(pairs_n)),
           "variants": [{"name": v, "partner_songs": s, "more_partners": m, "rounds": list(r)} for v, s, m, r in VARIANTS],
           "aspects": list(ASPECTS),
           "recall_at_10": {v: {f"{a:g}": round(float(np.mean(recall[(v, a)])), 3) for a in ASPECTS} for v, *_ in VARIANTS},
           "grid": {f"{a:g}": list(grid_shape(args.shortlist, a)) for a in ASPECTS}, "wall_s": round(time.perf_counter() - t0),
           "machine": machine(), "loadavg_after": loadavg(),
           "command": "OMP_NUM_THREADS=1 python benchmarks/mashup_shares_val.py " + " ".join(sys.argv[1:])}
    (OUT / "mashup_shares_val.json").write_text(json.dumps(out, indent=1) + "\n")
    head = " | ".join(f"{a:g}: {out['grid'][f'{a:g}'][0]} x {out['grid'][f'{a:g}'][1]}" for a in ASPECTS)
    md = "\n".join([
        "# The shares first stage on val songs: partners, rounds, grid shape",
        "",
        f"{out['queries']} queries on `{out['db']}` ({out['songs']} whole val songs, {out['segments']} stem segments, the "
        f"held-out soundfont; median {out['pairs_per_query_median']:g} allowed pairs a query). Recall@10 against the "
        f"exhaustive fast ranking, the grid holding about {args.shortlist} pairs. Rounds: segments a side each round "
        "scores; partners: the best segment of each of the other side's best songs, then more of its best segments.",
        "",
        "| variant | rounds | " + head + " |",
        "|---|---|" + "---|" * len(ASPECTS),
        *[f"| {v['name']} | {', '.join(map(str, v['rounds']))} | "
          + " | ".join(str(out['recall_at_10'][v['name']][f'{a:g}']) for a in ASPECTS) + " |" for v in out["variants"]],
        "",
        "Columns: percussion segments per harmonic one (aspect): harmonic x percussion segments the grid takes.",
        "",
        f"Machine: {out['machine']}; load average after {out['loadavg_after']}; {out['wall_s']} s.",
        "",
        f"Command: `{out['command']}`",
        "",
    ])
    (OUT / "mashup_shares_val.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()

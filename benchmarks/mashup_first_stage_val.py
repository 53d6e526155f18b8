"""The first stage of retrieval on validation songs: recall@10 against the exhaustive fast ranking, per DB.

    OMP_NUM_THREADS=1 python benchmarks/mashup_first_stage_val.py --db runs/mashup/distil/val12.db \
        --db runs/mashup/distil/val12_heldout_sf.db

For each MashupDB (POP909 *val* songs; the second one rendered with the held-out test soundfont,
``collage mashup build --soundfont``), the queries of training (:func:`collage.training.first_stage.
distillation_targets`: 8 vocal windows of 15 s per song, the song's own analysis, three tempo
readings; every allowed pair scored by the fast second stage) and recall@10 of the shortlist of
N pairs (every pair of each side's best segments) by: the learned score alone (the shipped
``mashup_first_stage``), the segment priors alone (:mod:`collage.mashup.prior`), the two
standardised and summed with the learned one weighted by w (the first stage of ``retrieve``:
w = :data:`~collage.mashup.firststage.STUDENT_WEIGHT`), and random segment scores. The weight is
chosen here: the best mean recall at N = 50, 100, 200 over the DBs given.
Writes docs/results/mashup_first_stage_val.md and .json.
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

from collage.mashup.firststage import STUDENT_WEIGHT, FirstStage, segment_scores  # noqa: E402
from collage.mashup.index import StemIndex  # noqa: E402
from collage.pretrained import load_card  # noqa: E402
from collage.training.first_stage import SHORTLISTS, distillation_targets, recall_at  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"
WEIGHTS = (0.0, 0.25, 0.5, 1.0)
SELECT = (50, 100, 200)



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", action="append", required=True)
    ap.add_argument("--windows", type=int, default=8)
    args = ap.parse_args()
    fs = FirstStage.load()
    rng = np.random.default_rng(0)
    rows = []
    for db in args.db:
        t0 = time.time()
        d = distillation_targets(db, windows=args.windows)
        prior = StemIndex.load(db).segments
        methods = {"learned": [], "prior": [], **{f"w={w:g}": [] for w in WEIGHTS}, "random": []}
        for q in d["queries"]:
            h = fs.scores("harmonic", q["v"], d["vec"]["harmonic"][q["h"]], q["shift"], q["h_ratio"])
            p = fs.scores("percussion", q["v"], d["vec"]["percussion"][q["p"]], 0, q["p_ratio"])
            ph, pp = prior["harmonic"]["prior"][q["h"]], prior["percussion"]["prior"][q["p"]]
            args_q = (q["T"], q["h_song"], q["p_song"])
            methods["learned"].append(recall_at(h, p, *args_q))
            methods["prior"].append(recall_at(ph, pp, *args_q))
            for w in WEIGHTS:
                methods[f"w={w:g}"].append(recall_at(segment_scores(ph, h, w), segment_scores(pp, p, w), *args_q))
            draws = [recall_at(rng.random(len(h)), rng.random(len(p)), *args_q) for _ in range(10)]
            methods["random"].append({n: float(np.mean([r[n] for r in draws])) for n in SHORTLISTS})
        pairs = [int((~np.isnan(q["T"])).sum()) for q in d["queries"]]
        rows.append({"db": Path(db).name, "songs": len(d["songs"]), "queries": len(d["queries"]),
                     "pairs_median": float(np.median(pairs)), "seconds": round(time.time() - t0, 1),
                     "recall_at_10": {m: {n: round(float(np.mean([r[n] for r in rs])), 3) for n in SHORTLISTS}
                                      for m, rs in methods.items()}})
        print(rows[-1], flush=True)
    sel = {w: float(np.mean([r["recall_at_10"][f"w={w:g}"][n] for r in rows for n in SELECT])) for w in WEIGHTS}
    card = load_card("mashup_first_stage")
    out = {"rows": rows, "weights_sha256": card["sha256"], "selection": {f"w={w:g}": round(v, 4) for w, v in sel.items()},
           "chosen": max(sel, key=sel.get), "shipped": STUDENT_WEIGHT, "machine": machine(), "loadavg_after": loadavg(),
           "command": "OMP_NUM_THREADS=1 python benchmarks/mashup_first_stage_val.py " + " ".join(sys.argv[1:])}
    (OUT / "mashup_first_stage_val.json").write_text(json.dumps(out, indent=1) + "\n")
    lines = []
    for r in rows:
        lines += [f"**`{r['db']}`**: {r['songs']} songs, {r['queries']} queries, a median of {r['pairs_median']:g} "
                  "allowed pairs each.", "",
                  "| first stage | " + " | ".join(f"N={n}" for n in SHORTLISTS) + " |", "|" + "---|" * (1 + len(SHORTLISTS))]
        for m, rec in r["recall_at_10"].items():
            names = {"learned": "learned score alone", "prior": "segment priors alone", "random": "random segment scores"}
            name = names.get(m) or (f"priors + {m[2:]} x learned" + (" (**shipped**)" if float(m[2:]) == STUDENT_WEIGHT else ""))
            lines.append(f"| {name} | " + " | ".join(str(rec[n]) for n in SHORTLISTS) + " |")
        lines.append("")
    lines.append("Mean recall at N = " + ", ".join(map(str, SELECT)) + " over the DBs, by weight w of the learned score: "
                 + ", ".join(f"{k} {v}" for k, v in out["selection"].items()) + f"; the best: w = {out['chosen']:g} "
                 f"(shipped: {STUDENT_WEIGHT:g}).")
    lines.append("")
    md = "\n".join([
        "# The learned first stage on validation songs",
        "",
        "Recall@10 of the shortlist of N pairs (every pair of the best harmonic and the best percussion segments by "
        "the first stage's segment scores) against the exhaustive ranking of every allowed pair by the fast second "
        "stage. Segment scores: the learned score (`mashup_first_stage`, trained on POP909 train songs), the segment "
        "priors (the second stage's mean logit for the segment with 16 reference vocal windows and 16 partner "
        "segments of the DB's other songs, `collage.mashup.prior`), the two standardised and summed, or random "
        "(mean of 10 draws). Queries as in training: 8 vocal windows of 15 s per song (the song's own analysis), "
        "each at three tempo readings. "
        "The DBs hold POP909 val songs as 80 s clips: rendered with the training soundfonts, and again with the "
        "held-out test soundfont (`--soundfont MuseScore_General.sf3`), the condition of the test DB.",
        "",
        *lines,
        f"Machine: {out['machine']}; load average after {out['loadavg_after']} (2 shared cores).",
        "",
        f"Command: `{out['command']}`",
        "",
    ])
    (OUT / "mashup_first_stage_val.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()

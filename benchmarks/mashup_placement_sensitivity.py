"""How much PreMixNet's view of a stem changes when the stem is placed a few milliseconds off.

    OMP_NUM_THREADS=1 python benchmarks/mashup_placement_sensitivity.py --db runs/retrieval/val_whole.db [--samples 60]

For ``--samples`` random stem segments of each role in the DB (random song, start, pitch shift and
stretch in [0.8, 1.2]), the fast second stage places the segment as a 25 s mashup would
(:func:`~collage.mashup.fastscore.placed_features`) once as is and once ``d`` ms later
(``offset_s``), for ``d`` of ``--shifts``, and runs the role's SourceNet on each window. Reported:
the mean relative change of the SourceNet share (|shifted - original| / |original|, means over all
numbers), per role and shift. Why it matters: the stored shares of :mod:`collage.mashup.shares` place
a window only to the nearest stored offset (32 ms harmonic, 8 ms percussion) and stretch, and the exhaustive ranking the
recall benchmark compares against changes its top 10 under a 4 ms shift
(``mashup_recall_whole_songs.md``, "the scorer's own precision"). Writes
docs/results/mashup_placement_sensitivity.md and .json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import db_features, loadavg, machine, random_segments, segment_share  # noqa: E402

from collage.mashup.fastscore import FastScorer  # noqa: E402
from collage.mashup.index import StemIndex  # noqa: E402
from collage.mashup.retrieval import scorer_model  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"
ROLES = ("harmonic", "percussion")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="runs/retrieval/val_whole.db")
    ap.add_argument("--samples", type=int, default=60, help="Stem segments per role.")
    ap.add_argument("--shifts", default="1,2,4,8,16,32", help="Placement shifts (ms), comma-separated.")
    ap.add_argument("--seconds", type=float, default=25.0)
    args = ap.parse_args()
    shifts = [float(x) for x in args.shifts.split(",")]
    index = StemIndex.load(args.db)
    feats = db_features(args.db)
    scorer = FastScorer(scorer_model("premixnet"))
    rng = np.random.default_rng(0)
    change = {role: {d: [] for d in shifts} for role in ROLES}
    for role in ROLES:
        for seg in random_segments(index, role, args.samples, rng):
            base = segment_share(scorer, feats, role, seg, args.seconds)
            for d in shifts:
                moved = segment_share(scorer, feats, role, seg, args.seconds, d / 1000)
                change[role][d].append(float(np.abs(moved - base).mean() / np.abs(base).mean()))
    out = {"db": Path(args.db).name, "samples": args.samples, "seconds": args.seconds, "shifts_ms": shifts,
           "relative_change": {role: {f"{d:g}": round(float(np.mean(v)), 3) for d, v in c.items()}
                               for role, c in change.items()},
           "machine": machine(), "loadavg_after": loadavg(),
           "command": "OMP_NUM_THREADS=1 python benchmarks/mashup_placement_sensitivity.py " + " ".join(sys.argv[1:])}
    (OUT / "mashup_placement_sensitivity.json").write_text(json.dumps(out, indent=1) + "\n")
    rc = out["relative_change"]
    md = "\n".join([
        "# PreMixNet's view of a stem placed a few milliseconds off",
        "",
        f"{args.samples} random stem segments of each role of `{out['db']}` (random start, pitch shift, stretch in "
        f"[0.8, 1.2]), placed as a {args.seconds:g} s mashup would be by the fast second stage, then again the given "
        "number of milliseconds later; the mean relative change of the role's SourceNet share (the features "
        "PreMixNet's head reads). One model frame is 32 ms; the beat tracking that lines vocal and stems up works "
        "in the same frames.",
        "",
        "| shift (ms) | " + " | ".join(f"{r} share change" for r in rc) + " |",
        "|---|" + "---|" * len(rc),
        *(f"| {d:g} | " + " | ".join(str(rc[r][f'{d:g}']) for r in rc) + " |" for d in shifts),
        "",
        "A shift of a few milliseconds, inaudible and well inside the alignment's own precision, changes the "
        "percussion stem's features by a large fraction (onsets fall between the frames the mel spectrogram is read "
        "at): the scorer's verdict on near-tied pairs is decided partly by such shifts (the exhaustive top 10's "
        "self-consistency in `mashup_recall_whole_songs.md`), and the stored shares, placed to the nearest stored "
        "offset, cannot follow it exactly; so the percussion's are stored every 8 ms, the harmonic stem's every 32 ms "
        "(`mashup_shares_error.md`).",
        "",
        f"Machine: {out['machine']}; load average after {out['loadavg_after']}.",
        "",
        f"Command: `{out['command']}`",
        "",
    ])
    (OUT / "mashup_placement_sensitivity.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()

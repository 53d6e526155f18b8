"""How closely the stored SourceNet shares stand for the ones the second stage computes, per storage layout.

    OMP_NUM_THREADS=1 python benchmarks/mashup_shares_error.py --db runs/retrieval/val_whole.db [--samples 40]

For ``--samples`` random stem segments of each role in the DB (random song, start, pitch shift and stretch
in [0.8, 1.2]), the fast second stage's own share of each window of a 25 s mashup
(:func:`~collage.mashup.fastscore.placed_features`, then the role's SourceNet) is compared with what
:func:`~collage.mashup.shares.gather_shares` reads from the stored shares under each layout of :data:`LAYOUTS`
(offsets per 256 ms share frame, stretches stored): the mean relative error |gathered - exact| / |exact|
(means over all numbers). Only the sequences the samples read are computed (the same function a build
runs, :func:`~collage.mashup.shares.stem_shares`); the storage a layout takes is given for a 5-minute
song. Writes docs/results/mashup_shares_error.md and .json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import db_features, loadavg, machine, random_segments, segment_share  # noqa: E402

import collage.mashup.shares as shares  # noqa: E402
from collage.mashup.fastscore import PERC_RATIOS, SHIFTS, FastScorer  # noqa: E402
from collage.mashup.index import StemIndex  # noqa: E402
from collage.mashup.retrieval import scorer_model  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"
ROLES = ("harmonic", "percussion")
_H = shares.SHARE_RATIOS["harmonic"]
_P_FINE = tuple(sorted({round(0.8 + 0.025 * i, 3) for i in range(17)} | {0.98, 1.02}))
#: name → (offsets per share frame, stretches stored), per role
LAYOUTS = {
    "every model frame (32 ms)": ({"harmonic": 8, "percussion": 8}, {"harmonic": _H, "percussion": PERC_RATIOS}),
    "percussion every 8 ms": ({"harmonic": 8, "percussion": 32}, {"harmonic": _H, "percussion": PERC_RATIOS}),
    "percussion every 8 ms, stretches every 2.5 %": ({"harmonic": 8, "percussion": 32}, {"harmonic": _H, "percussion": _P_FINE}),
    "both every 8 ms": ({"harmonic": 32, "percussion": 32}, {"harmonic": _H, "percussion": PERC_RATIOS}),
}


class _Lazy:
    """A song's stored shares of one role as :func:`~collage.mashup.shares.gather_shares` indexes them, each
    sequence computed when first read (under the layout set in :mod:`collage.mashup.shares` at that time)."""

    def __init__(self, scorer, feats, role):
        self.scorer, self.feats, self.role, self.seen = scorer, feats, role, {}

    def __getitem__(self, idx):
        if idx not in self.seen:
            semis, ri = (SHIFTS[idx[0]], idx[1]) if self.role == "harmonic" else (0, idx)
            r = shares.SHARE_RATIOS[self.role][ri]
            self.seen[idx] = shares.stem_shares(self.scorer, self.feats, self.role, r, semis)
        return self.seen[idx]


def storage_mb(phases: dict, ratios: dict, c1d: int, seconds: float = 300.0) -> float:
    """Stored shares of a ``seconds`` song (float16), MB."""
    n = seconds / 0.256
    seqs = len(SHIFTS) * len(ratios["harmonic"]) * phases["harmonic"] + len(ratios["percussion"]) * phases["percussion"]
    return round(seqs * c1d * n * 2 / 1e6, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="runs/retrieval/val_whole.db")
    ap.add_argument("--samples", type=int, default=40, help="Stem segments per role.")
    ap.add_argument("--seconds", type=float, default=25.0)
    args = ap.parse_args()
    index = StemIndex.load(args.db)
    feats = db_features(args.db)
    scorer = FastScorer(scorer_model("premixnet"))
    sil = {"h_silence": shares._silence(scorer, 1), "p_silence": shares._silence(scorer, 2)}
    rng = np.random.default_rng(0)
    samples = [(role, *seg) for role in ROLES for seg in random_segments(index, role, args.samples, rng)]
    exact = [segment_share(scorer, feats, role, seg, args.seconds) for role, *seg in samples]
    saved = shares.SHARE_PHASES, shares.SHARE_RATIOS
    error = {}
    try:
        for name, (phases, ratios) in LAYOUTS.items():
            shares.SHARE_PHASES, shares.SHARE_RATIOS = phases, ratios
            stored = {}
            err = {role: [] for role in ROLES}
            for (role, song, start, ratio, semis), ex in zip(samples, exact):
                st = stored.setdefault(song, {**sil, "h_share": _Lazy(scorer, feats[song], "harmonic"),
                                              "p_share": _Lazy(scorer, feats[song], "percussion")})
                g = shares.gather_shares({song: st}, role, [(song, start, ratio, semis)], seconds=args.seconds)[0]
                err[role].append(float(np.abs(g - ex).mean() / np.abs(ex).mean()))
            error[name] = {**{role: round(float(np.mean(v)), 3) for role, v in err.items()},
                           "storage_mb_5min_song": storage_mb(phases, ratios, scorer.cfg.c1d),
                           "phases": phases, "percussion_ratios": list(ratios["percussion"])}
            print(name, error[name], flush=True)
    finally:
        shares.SHARE_PHASES, shares.SHARE_RATIOS = saved
    out = {"db": Path(args.db).name, "samples": args.samples, "seconds": args.seconds, "layouts": error,
           "machine": machine(), "loadavg_after": loadavg(),
           "command": "OMP_NUM_THREADS=1 python benchmarks/mashup_shares_error.py " + " ".join(sys.argv[1:])}
    (OUT / "mashup_shares_error.json").write_text(json.dumps(out, indent=1) + "\n")
    md = "\n".join([
        "# Stored SourceNet shares against the second stage's own, per storage layout",
        "",
        f"{args.samples} random stem segments of each role of `{out['db']}` (random start, pitch shift, stretch in "
        f"[0.8, 1.2]) placed as a {args.seconds:g} s mashup; the mean relative error of the shares the first stage reads "
        "from storage (`gather_shares`) against the ones the fast second stage computes for that placement. Offsets: "
        "how many start positions are stored per 256 ms share frame (8 = every 32 ms model frame, 32 = every 8 ms). "
        "Storage: all stored shares of a 5-minute song (7 pitch shifts x 9 stretches of the harmonic stem, the "
        "percussion's stretches), float16.",
        "",
        "| layout | harmonic error | percussion error | storage per 5-min song (MB) |",
        "|---|---|---|---|",
        *(f"| {k} | {v['harmonic']} | {v['percussion']} | {v['storage_mb_5min_song']} |" for k, v in error.items()),
        "",
        f"Machine: {out['machine']}; load average after {out['loadavg_after']}.",
        "",
        f"Command: `{out['command']}`",
        "",
    ])
    (OUT / "mashup_shares_error.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Benchmark: collage's MusPy metric set against the muspy package, same files, same run.

    OMP_NUM_THREADS=1 python benchmarks/metrics.py [--songs 20] [--repeat 3] [--out docs/results/metrics.md]

Reads the first ``--songs`` POP909 files with both libraries (reading is not
timed), then times all fourteen metrics per library, interleaved, best of
``--repeat``; prints a markdown table with the speed-up and the largest
absolute difference between the two libraries' values.
"""

from __future__ import annotations

import argparse
import datetime
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from common import best_time, loadavg, machine, version  # noqa: E402

METRICS = [  # (our name, muspy call)
    ("pitch_range", lambda mp, m, r: mp.pitch_range(m)),
    ("n_pitches_used", lambda mp, m, r: mp.n_pitches_used(m)),
    ("n_pitch_classes_used", lambda mp, m, r: mp.n_pitch_classes_used(m)),
    ("polyphony", lambda mp, m, r: mp.polyphony(m)),
    ("polyphony_rate", lambda mp, m, r: mp.polyphony_rate(m)),
    ("pitch_in_scale_rate", lambda mp, m, r: mp.pitch_in_scale_rate(m, 0, "major")),
    ("scale_consistency", lambda mp, m, r: mp.scale_consistency(m)),
    ("pitch_entropy", lambda mp, m, r: mp.pitch_entropy(m)),
    ("pitch_class_entropy", lambda mp, m, r: mp.pitch_class_entropy(m)),
    ("empty_beat_rate", lambda mp, m, r: mp.empty_beat_rate(m)),
    ("empty_measure_rate", lambda mp, m, r: mp.empty_measure_rate(m, 4 * r)),
    ("drum_in_pattern_rate", lambda mp, m, r: mp.drum_in_pattern_rate(m, "duple")),
    ("drum_pattern_consistency", lambda mp, m, r: mp.drum_pattern_consistency(m)),
    ("groove_consistency", lambda mp, m, r: mp.groove_consistency(m, 4 * r)),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--songs", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "metrics.md")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)

    import warnings

    import muspy

    from collage.datasets import pop909_root
    from collage.io import atomic_path, read_midi
    from collage.metrics import piece as pm

    warnings.simplefilter("ignore")
    root = pop909_root()
    files = sorted(root.glob("[0-9][0-9][0-9]/[0-9][0-9][0-9].mid"))[: args.songs]
    ours_in = [read_midi(f) for f in files]
    theirs_in = []
    for f in files:
        m = muspy.read_midi(str(f))
        for t in m.tracks:  # a Piece keeps no control changes; muspy keeps them as annotations and counts them in the length
            t.annotations = []
        theirs_in.append(m)
    opts = [dict(root=0, mode="major", measure_resolution=4 * p.tpq) for p in ours_in]

    def run_ours():
        return [pm.evaluate(p, **o) for p, o in zip(ours_in, opts)]

    def run_muspy():
        return [{k: f(muspy, m, m.resolution) for k, f in METRICS} for m in theirs_in]

    t_ours = t_muspy = float("inf")
    for _ in range(args.repeat):
        t_ours = min(t_ours, best_time(run_ours, 1))
        t_muspy = min(t_muspy, best_time(run_muspy, 1))
    a, b = run_ours(), run_muspy()
    worst = 0.0
    for ra, rb in zip(a, b):
        for k, _ in METRICS:
            x, y = float(ra[k]), float(rb[k])
            if not (math.isnan(x) and math.isnan(y)):
                worst = max(worst, abs(x - y))

    lines = [
        "# MusPy metric set: collage vs muspy",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- command: `OMP_NUM_THREADS=1 python benchmarks/metrics.py --songs {args.songs} --repeat {args.repeat}`",
        f"- machine: {machine()}; load average before/after: see below",
        f"- muspy {version('muspy')}, numpy {version('numpy')}",
        f"- data: the first {len(files)} POP909 songs (reading not timed; muspy's control changes dropped, see below)",
        "",
        "| library | time for 14 metrics × songs (s) | ms per song | speed-up |",
        "|---|---:|---:|---:|",
        f"| muspy | {t_muspy:.3f} | {1000 * t_muspy / len(files):.2f} | 1.0× |",
        f"| collage.metrics.piece | {t_ours:.3f} | {1000 * t_ours / len(files):.2f} | {t_muspy / t_ours:.1f}× |",
        "",
        f"Largest absolute difference between the two libraries' values: {worst:.3g}.",
        "",
        "muspy counts control-change events (e.g. a sustain pedal held past the last note) in a",
        "piece's length; a collage Piece keeps no control changes, so they are dropped from the muspy",
        "side before comparing (`length=` on the array functions reproduces muspy's raw values).",
        f"Load average at the end: {loadavg()}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        with atomic_path(args.out) as tmp:
            tmp.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

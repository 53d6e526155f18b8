"""MashupDB build throughput for MIDI-rendered sources: songs per minute with N jobs, peak memory.

    OMP_NUM_THREADS=1 python benchmarks/mashup_build.py [--songs 12] [--jobs 2] [--split train]

Builds a fresh DB in a temporary folder from the first ``--songs`` POP909 songs of a split
(train/val songs render with FluidR3_GM or TimGM6mb, test songs with MuseScore_General)
through ``collage.mashup.build`` (30 s clips at 22050 Hz: render the clip and, for
the key, the whole song; analyse the clip and each stem; segment; commit), then times a resume run (nothing left to do). Writes
docs/results/mashup_build.md and .json.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import loadavg, machine  # noqa: E402

from collage.datasets.pop909 import pop909_root, split_ids  # noqa: E402
from collage.mashup import build as build_db  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"


def _peak_mb() -> dict:
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"parent_mb": round(me, 1), "largest_worker_mb": round(kids, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--songs", type=int, default=12)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--split", default="train")
    args = ap.parse_args()
    root = pop909_root()
    ids = split_ids(args.split, four_four=True)[: args.songs].tolist()
    with tempfile.TemporaryDirectory(prefix="collage-build-bench-") as tmp:
        src = Path(tmp) / "songs"
        src.mkdir()
        for sid in ids:
            (src / f"{sid:03d}").symlink_to(root / f"{sid:03d}")
        db = Path(tmp) / "bench.db"
        load_before = loadavg()
        t = time.perf_counter()
        res = build_db(db, src, source="midi", jobs=args.jobs, progress=False)
        wall = time.perf_counter() - t
        t = time.perf_counter()
        again = build_db(db, src, source="midi", jobs=args.jobs, progress=False)
        resume_s = time.perf_counter() - t
        peak = _peak_mb()
        db_mb = db.stat().st_size / 1e6
        stems_mb = sum(p.stat().st_size for p in (Path(tmp) / "bench.db.stems").rglob("*.wav")) / 1e6
    per_min = res["added"] / wall * 60
    out = {
        "songs": res["added"], "skipped": res["skipped"], "jobs": args.jobs, "split": args.split,
        "wall_s": round(wall, 1), "songs_per_min": round(per_min, 2), "songs_per_min_per_core": round(per_min / args.jobs, 2),
        "resume_noop_s": round(resume_s, 2), "resume_added": again["added"], "peak_memory": peak,
        "db_mb": round(db_mb, 3), "stems_mb": round(stems_mb, 1),
        "machine": machine(), "loadavg_before": load_before, "loadavg_after": loadavg(),
        "command": "OMP_NUM_THREADS=1 python benchmarks/mashup_build.py " + " ".join(sys.argv[1:]),
    }
    (OUT / "mashup_build.json").write_text(json.dumps(out, indent=1) + "\n")
    md = "\n".join([
        "# MashupDB build throughput (MIDI-rendered sources)",
        "",
        f"`collage mashup build` (library call `collage.mashup.build`) on the first {out['songs']} duple-metre POP909 {args.split} "
        f"songs: 30 s clips at 22050 Hz, each rendered to vocals / harmonic / percussion / mix with FluidSynth (one call "
        f"per song), the song's vocals and harmonic rendered whole for its key (since session 19), the clip and each stem "
        f"analysed (beats, downbeats, key), cut into 8/16-bar segments and committed; {args.jobs} worker processes.",
        "",
        "| songs | jobs | wall (s) | songs/min | songs/min/core | goal | resume, nothing to do (s) | peak RSS parent / largest worker (MB) | stems on disk (MB) |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {out['songs']} | {args.jobs} | {out['wall_s']} | {out['songs_per_min']} | **{out['songs_per_min_per_core']}** | ≥ 2 "
        f"| {out['resume_noop_s']} | {peak['parent_mb']} / {peak['largest_worker_mb']} | {out['stems_mb']} |",
        "",
        f"Machine: {out['machine']}. Load average before {load_before}, after {out['loadavg_after']} (a load above the "
        "job count means other processes shared the cores, and the per-core figure is then a lower bound).",
        "",
        f"Command: `{out['command']}`",
        "",
    ])
    (OUT / "mashup_build.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()

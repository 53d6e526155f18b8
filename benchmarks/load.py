#!/usr/bin/env python
"""Benchmark: reading POP909 and extracting the CollageNet segments.

    OMP_NUM_THREADS=1 python benchmarks/load.py [--root PATH] [--subset 60] [--repeat 3] [--out docs/results/load.md]

1. MIDI reading: all 909 POP909 files with ``collage.io.read_midi``; then the
   first ``--subset`` files with collage, symusic (the parser under collage),
   pretty_midi and muspy, each timed ``--repeat`` times (best run kept), in
   files per second. The files are read once beforehand so every reader
   starts with a warm page cache. Peak memory: ``ru_maxrss`` of the process
   and the tracemalloc peak while holding all 909 pieces.
2. Segments: ``pop909_segments`` for train, val and test on both grids,
   cold (empty temporary ``COLLAGE_CACHE``) and warm (from that cache).

Prints a markdown table and writes it, with the machine, to ``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from common import best_time, cpu_model, loadavg, version  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=None, help="POP909 folder (default: COLLAGE_POP909 or ../shared/data/pop909)")
    ap.add_argument("--subset", type=int, default=60, help="files for the slow readers (default 60)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per timing, best kept (default 3)")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "results" / "load.md")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)

    import numpy as np
    import symusic

    from collage.datasets import pop909_root, pop909_segments
    from collage.io import atomic_path, read_midi

    root = pop909_root(args.root)
    files = sorted(root.glob("[0-9][0-9][0-9]/[0-9][0-9][0-9].mid"))
    subset = files[: args.subset]
    load_before = loadavg()
    for f in files:  # warm the page cache for every reader alike
        f.read_bytes()

    # -- 1. MIDI reading -----------------------------------------------------------
    t = time.perf_counter()
    pieces = [read_midi(f) for f in files]
    t_all = time.perf_counter() - t
    n_notes = sum(p.n_notes for p in pieces)
    del pieces
    t_all = min(t_all, best_time(lambda: [read_midi(f) for f in files], args.repeat - 1) if args.repeat > 1 else t_all)

    import muspy
    import pretty_midi

    readers = {
        "collage.io.read_midi": lambda f: read_midi(f),
        f"symusic {version('symusic')} (Score, ticks)": lambda f: symusic.Score(str(f)),
        f"pretty_midi {version('pretty_midi')}": lambda f: pretty_midi.PrettyMIDI(str(f)),
        f"muspy {version('muspy')}": lambda f: muspy.read_midi(str(f)),
    }
    sub_times = {name: float("inf") for name in readers}
    for _ in range(args.repeat):  # interleaved, so that a change of machine load hits every reader alike
        for name, r in readers.items():
            sub_times[name] = min(sub_times[name], best_time(lambda r=r: [r(f) for f in subset], 1))
    ours = len(subset) / sub_times["collage.io.read_midi"]

    gc.collect()
    tracemalloc.start()
    held = [read_midi(f) for f in files]
    _, peak_trace = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del held
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    # -- 2. segments ----------------------------------------------------------------
    seg_rows = []
    with tempfile.TemporaryDirectory(prefix="collage-bench-cache-") as cache:
        os.environ["COLLAGE_CACHE"] = cache
        counts = {}
        for phase in ("cold", "warm"):
            for grid in ("beats", "ticks"):
                t = time.perf_counter()
                n = sum(len(pop909_segments(s, grid=grid, root=root)) for s in ("train", "val", "test"))
                seg_rows.append((phase, grid, time.perf_counter() - t, n))
                counts[grid] = n
        cache_mb = sum(p.stat().st_size for p in Path(cache).rglob("*.npz")) / 2**20
    maxrss_mb = max(maxrss_mb, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    load_after = loadavg()

    # -- report ---------------------------------------------------------------------
    L = []
    L.append("## MIDI reading (POP909)\n")
    L.append(f"All {len(files)} files with `collage.io.read_midi`: **{t_all:.2f} s, "
             f"{len(files) / t_all:.0f} files/s** ({n_notes:,} notes; best of {args.repeat}).\n")
    L.append(f"First {len(subset)} files, best of {args.repeat} interleaved runs:\n")
    L.append("| reader | time (s) | files/s | collage ÷ reader |")
    L.append("|---|---:|---:|---:|")
    for name, secs in sub_times.items():
        fps = len(subset) / secs
        L.append(f"| {name} | {secs:.3f} | {fps:,.0f} | {ours / fps:.2f}× |")
    pm = len(subset) / sub_times[next(k for k in sub_times if k.startswith("pretty_midi"))]
    goal = "met" if ours / pm >= 50 else "NOT met"
    sym = len(subset) / sub_times[next(k for k in sub_times if k.startswith("symusic"))]
    L.append(f"\nGoal collage ≥ 50× pretty_midi: **{ours / pm:.0f}×, {goal}**. "
             f"symusic alone is {sym / pm:.0f}× pretty_midi; `read_midi` adds {1e3 / ours - 1e3 / sym:.2f} ms a file "
             "on top of symusic's parse (header/chunk checks, conversion to int64 note arrays, sorting and "
             "range checks in `Track`, the tempo map for `max_duration_s`).\n")
    L.append(f"Peak memory: process max RSS {maxrss_mb:.0f} MiB (whole run: imports, all readers, the segment "
             f"arrays of both grids); "
             f"tracemalloc peak while holding all {len(files)} pieces: {peak_trace / 2**20:.0f} MiB.\n")
    L.append("## CollageNet segments (train + val + test, 857 duple-metre songs, 8 beats, stride 1 beat)\n")
    L.append("| cache | grid | time (s) | segments | goal |")
    L.append("|---|---|---:|---:|---|")
    cold_total = sum(r[2] for r in seg_rows if r[0] == "cold")
    warm_total = sum(r[2] for r in seg_rows if r[0] == "warm")
    for phase, grid, secs, n in seg_rows:
        L.append(f"| {phase} | {grid} | {secs:.2f} | {n:,} | |")
    L.append(f"| cold | both | {cold_total:.2f} | | < 30 s: {'met' if cold_total < 30 else 'NOT met'} |")
    L.append(f"| warm | both | {warm_total:.2f} | | < 5 s: {'met' if warm_total < 5 else 'NOT met'} |")
    L.append(f"\nCache on disk: {cache_mb:.0f} MiB (uncompressed .npz, six files). Single process, no multiprocessing.\n")
    table = "\n".join(L)
    print(table)

    try:
        git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    except OSError:
        git = "?"
    head = [
        "# Loading benchmark\n",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; commit {git or '?'} (+ working tree)",
        f"- command: `OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')} python benchmarks/load.py "
        f"{shlex.join(argv if argv is not None else sys.argv[1:])}`".rstrip() + "",
        f"- machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}, {platform.system()} {platform.release()}",
        f"- load average (1/5/15 min) before: {load_before}; after: {load_after} "
        "(the machine is shared with other jobs, so times are upper bounds)",
        f"- python {platform.python_version()}; numpy {np.__version__}, symusic {version('symusic')}, "
        f"pretty_midi {version('pretty_midi')}, muspy {version('muspy')}, mido {version('mido')}, "
        f"music21 {version('music21')}",
        f"- data: POP909 at {root}\n",
    ]
    if not args.no_write:
        with atomic_path(args.out) as tmp:
            tmp.write_text("\n".join(head) + "\n" + table + "\n", encoding="utf-8")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

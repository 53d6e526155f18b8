"""Speed of `collage fuse --method revoice` beside the default method, side by side in one run (issue 23, target 6).

The same figures as ``benchmarks/fusion_refuse_speed.py``, for both methods in one process, calls
alternating (so that a busy machine slows both alike): the bundled 8-bar demo and two whole songs
re-fused in a warm process after a control change (``keep_pitch`` moves each time), without and with
the harmony judge's rating; the same songs fused once from inputs not seen before; and
``collage fuse`` of the demo from the shell (a fresh process, imports included). The songs are that
benchmark's (POP909 songs 267 over 243, 3.1 minutes; two songs near 120 qpm set to 120 qpm and cut to
3 minutes): they are timed only, no rating of them is read or written. One thread; medians over
``--repeat`` calls; the load average before and after.

    python benchmarks/fusion_revoice_speed.py          # -> docs/results/fusion_revoice_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("COLLAGE_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import loadavg  # noqa: E402
from fusion_refuse_speed import SONG, TARGETS_MS, pick_120, write_120  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
METHODS = ("collagenet", "revoice")
CONTROLS = [0.1, 0.3, 0.5, 0.7, 0.9, 0.2, 0.4, 0.6, 0.8]


def warm_figures(mel, acc, repeat: int, models, judge, **kw) -> dict:
    """Median ms per method: re-fuse after a control change, the same with the judge, and new inputs."""
    from collage.fusion.vertical import FusionModels, fuse

    times = {m: {"refuse": [], "refuse_judge": [], "new_inputs": []} for m in METHODS}
    for m in METHODS:
        fuse(mel, acc, method=m, models=models, **kw)  # warm
    for i in range(repeat):
        c = CONTROLS[i % len(CONTROLS)]
        for m in METHODS:
            for key, extra in (("refuse", {}), ("refuse_judge", {"judge": judge})):
                t = time.perf_counter()
                fuse(mel, acc, method=m, models=models, keep_pitch=c, **extra, **kw)
                times[m][key].append(1000 * (time.perf_counter() - t))
            if i < max(repeat // 2, 1):
                fresh = FusionModels(models.melody_vae, models.accomp_vae, models.actor)  # nothing remembered
                from collage.fusion import vertical

                vertical._REMEMBERED.clear()  # nor the key and chords fuse remembers
                t = time.perf_counter()
                fuse(mel, acc, method=m, models=fresh, keep_pitch=c, **kw)
                times[m]["new_inputs"].append(1000 * (time.perf_counter() - t))
    last = fuse(mel, acc, method="revoice", models=models, **kw)
    return {"n_windows": last.n_windows, "n_beats": last.n_steps / 4,
            **{m: {k: round(statistics.median(v), 2) for k, v in d.items()} for m, d in times.items()}}


def shell(method: str, out: Path) -> float:
    from collage import examples

    cmd = [sys.executable, "-m", "collage.cli", "fuse", str(examples.path("melody")), str(examples.path("accompaniment")),
           "-o", str(out), "--method", method]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=dict(os.environ))
    if r.returncode:
        raise SystemExit(r.stderr[-2000:])
    return 1000 * (time.perf_counter() - t)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--out", default="docs/results/fusion_revoice_speed.json")
    args = ap.parse_args(argv)
    from collage import examples
    from collage.datasets.pop909 import load_song
    from collage.fusion.vertical import FusionModels, _resolve_judge
    from collage.io import as_piece

    result = {"loadavg_before": loadavg(), "threads": 1, "repeat": args.repeat, "targets_ms": TARGETS_MS}
    models, judge = FusionModels.load(), _resolve_judge(True)
    song = dict(melody_track="MELODY", accomp_tracks=["PIANO"], fit="trim")
    result["demo"] = warm_figures(examples.load("melody"), examples.load("accompaniment"), 3 * args.repeat,
                                  models, judge)
    result["song_3.1min"] = warm_figures(load_song(SONG[0]).piece, load_song(SONG[1]).piece, args.repeat, models,
                                         judge, **song)
    with tempfile.TemporaryDirectory() as tmp:
        a, b = pick_120()
        mel120, acc120 = Path(tmp) / "m.mid", Path(tmp) / "a.mid"
        write_120(a, "MELODY", mel120)
        write_120(b, "PIANO", acc120)
        result["song_3min_120qpm"] = warm_figures(as_piece(mel120), as_piece(acc120), args.repeat, models, judge,
                                                  **song)
        walls = {m: [] for m in METHODS}
        for _ in range(3):
            for m in METHODS:
                walls[m].append(shell(m, Path(tmp) / f"{m}.mid"))
        result["shell_demo_ms"] = {m: round(statistics.median(v), 1) for m, v in walls.items()}
    result["loadavg_after"] = loadavg()
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

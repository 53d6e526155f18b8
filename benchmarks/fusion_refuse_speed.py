"""The speed a musician feels: re-fusing after a control change, whole songs warm, and `collage fuse` from the shell.

Four figures (issue 23, target 6), each for the old path (the code at ``--old-rev``: torch models,
everything encoded and decoded on every call) and the new path (this tree: NumPy models, encodings
of unchanged inputs remembered, only what is read decoded, no torch import), side by side in one run:

1. **demo re-fuse**: the bundled 8-bar example pair (7 windows) re-fused in a warm process after a
   control change (``keep_pitch`` moves each time), with the harmony judge's rating as ``collage fuse``
   and the studio print it;
2. **3.1-minute song**: POP909 test song 267's melody over song 243's piano, trimmed to the shorter
   (42 windows; the song of ``benchmarks/fusion.py``), re-fused warm after a control change, without and
   with the judge; and fused once in a warm process from inputs not seen before (no remembered encodings);
3. **3 minutes at 120 qpm**: the two 4/4 POP909 test songs whose tempo is nearest 120 qpm among those of
   at least 360 beats (melody of the first, piano of the second), set to 120 qpm and cut to 360 beats
   (3 minutes; 90 windows); the same three timings;
4. **shell**: ``python -m collage.cli fuse melody.mid accompaniment.mid -o out.mid`` on the bundled
   examples in a fresh process, imports and model loading included (wall time of the process).

Everything runs with one thread (``OMP_NUM_THREADS=1``, ``COLLAGE_THREADS=1``); warm figures are
medians (and minima) over ``--repeat`` calls, each after a control change; the load average is
recorded before and after, since the machine is shared. The old path runs from ``git archive`` of
``--old-rev`` in a temporary folder (``PYTHONPATH``), the new from this tree.

    python benchmarks/fusion_refuse_speed.py                 # writes docs/results/fusion_refuse_speed.md
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import loadavg, machine, version  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OLD_REV = "bd67385^"  # the last revision before the NumPy path (commit bd67385 added it)
TARGETS_MS = {"demo": 30.0, "song": 100.0, "song120": 100.0, "shell": 2000.0}
SONG = (267, 243)
#: the code `collage fuse` runs (an uncommitted change there is named in the report)
FUSE_CODE = ("src/collage/fusion", "src/collage/models", "src/collage/represent", "src/collage/io",
             "src/collage/pretrained.py", "src/collage/piece.py", "src/collage/cli/fuse.py", "src/collage/cli/common.py")
NAMES = {"demo": "demo", "song": "3.1-minute song", "song120": "120-qpm song"}
BEATS_120 = 360

WORKER = r"""
import hashlib, json, os, statistics, sys, time
from collage import examples
from collage.io import as_piece
from collage.datasets.pop909 import load_song
from collage.fusion.vertical import FusionModels, _resolve_judge, fuse
repeat, song_a, song_b, mel120, acc120 = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
models = FusionModels.load()
judge = _resolve_judge(True)
if "torch" in sys.modules:
    import torch
    torch.set_num_threads(1)
CONTROLS = [0.1, 0.3, 0.5, 0.7, 0.9, 0.2, 0.4, 0.6, 0.8]

def timed(call, n):
    out, cpu = [], []
    for i in range(n):
        t, c = time.perf_counter(), time.process_time()
        call(CONTROLS[i % len(CONTROLS)])
        out.append(1000 * (time.perf_counter() - t))
        cpu.append(1000 * (time.process_time() - c))
    return {"median_ms": statistics.median(out), "min_ms": min(out), "cpu_median_ms": statistics.median(cpu), "n": n}

def figures(mel, acc, n, **kw):
    base = dict(models=models, **kw)
    fuse(mel, acc, **base)  # warm: the models have run, these inputs have been fused once
    res = {"refuse": timed(lambda c: fuse(mel, acc, keep_pitch=c, **base), n)}
    if "melody_track" in kw:
        res["refuse_judge"] = timed(lambda c: fuse(mel, acc, keep_pitch=c, judge=judge, **base), n)
        fresh = lambda c: fuse(mel, acc, keep_pitch=c, **{**base, "models": FusionModels(
            models.melody_vae, models.accomp_vae, models.actor)})
        res["new_inputs"] = timed(fresh, max(n // 2, 1))
    last = fuse(mel, acc, keep_pitch=0.35, keep_texture=0.8, judge=judge, **{k: v for k, v in base.items() if k != "judge"})
    res["n_windows"] = last.n_windows
    digest = hashlib.sha256()
    for t in last.piece.tracks:
        digest.update(t.notes.astype("int64").tobytes())
    res["notes_sha256"] = digest.hexdigest()[:16]  # the notes fused at one more setting, to compare the paths
    res["harmony"] = last.harmony["output"]
    return res

out = {"engine": type(models.melody_vae).__module__, "torch_imported": "torch" in sys.modules}
mel, acc = examples.load("melody"), examples.load("accompaniment")
out["demo"] = figures(mel, acc, 3 * repeat, judge=judge)
song = dict(melody_track="MELODY", accomp_tracks=["PIANO"], fit="trim")
out["song"] = figures(load_song(song_a).piece, load_song(song_b).piece, repeat, **song)
out["song120"] = figures(as_piece(mel120), as_piece(acc120), repeat, **song)
print(json.dumps(out))
"""


def pick_120(beats: int = BEATS_120) -> tuple[int, int]:
    """The two 4/4 POP909 test songs of at least ``beats`` beats whose mean tempo is nearest 120 qpm."""
    from collage.datasets.pop909 import load_song, split_ids
    from collage.fusion.windows import mean_qpm

    rows = []
    for sid in split_ids("test", four_four=True):
        piece = load_song(int(sid)).piece
        if piece.end_tick / piece.tpq >= beats:
            rows.append((abs(mean_qpm(piece) - 120.0), int(sid)))
    rows.sort()
    return rows[0][1], rows[1][1]


def write_120(song_id: int, track: str, path: Path, beats: int = BEATS_120) -> None:
    """``track`` of POP909 song ``song_id`` at a constant 120 qpm, cut to ``beats`` beats, as MIDI."""
    import dataclasses

    from collage.datasets.pop909 import load_song
    from collage.io import write_midi
    from collage.piece import Tempo

    piece = load_song(song_id).piece
    t = next(t for t in piece.tracks if t.name == track)
    end = beats * piece.tpq
    notes = t.notes[t.notes[:, 0] < end].copy()
    notes[:, 1] = (notes[:, 0] + notes[:, 1]).clip(max=end) - notes[:, 0]
    out = dataclasses.replace(piece, tracks=[dataclasses.replace(t, notes=notes)], tempos=[Tempo(0, 120.0)],
                              key_signatures=[])
    write_midi(out, path)


def env_for(src: Path | None) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", COLLAGE_THREADS="1")
    if src is not None:
        env["PYTHONPATH"] = str(src)
    else:
        env.pop("PYTHONPATH", None)
    return env


def run_worker(src: Path | None, repeat: int, mel120: Path, acc120: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", WORKER, str(repeat), *map(str, SONG), str(mel120), str(acc120)],
                         capture_output=True, text=True, env=env_for(src), cwd=REPO)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def shell_once(src: Path | None, out_mid: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) milliseconds of one `collage fuse` process."""
    from collage import examples

    cmd = [sys.executable, "-m", "collage.cli", "fuse", str(examples.path("melody")),
           str(examples.path("accompaniment")), "-o", str(out_mid)]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env_for(src), cwd=REPO)
    wall = 1000 * (time.perf_counter() - t)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return wall, 1000 * (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10, help="warm calls per song figure (the demo: 3x)")
    ap.add_argument("--shell-runs", type=int, default=5, help="fresh `collage fuse` processes per path")
    ap.add_argument("--old-rev", default=OLD_REV, help="the revision of the old path")
    ap.add_argument("--out", default=str(REPO / "docs" / "results" / "fusion_refuse_speed.md"))
    args = ap.parse_args()
    load_before = loadavg()
    old_sha = subprocess.run(["git", "rev-parse", "--short", args.old_rev], capture_output=True, text=True,
                             cwd=REPO, check=True).stdout.strip()
    new_sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO,
                             check=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", *FUSE_CODE], capture_output=True, text=True,
                           cwd=REPO).stdout.split()[1::2]  # uncommitted files among the code fuse runs
    a120, b120 = pick_120()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        archive = subprocess.run(["git", "archive", args.old_rev, "src"], capture_output=True, cwd=REPO, check=True)
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
        old_src = tmp / "src"
        write_120(a120, "MELODY", tmp / "mel120.mid")
        write_120(b120, "PIANO", tmp / "acc120.mid")
        paths = {"old": old_src, "new": None}
        warm, shell, shell_cpu = {}, {"old": [], "new": []}, {"old": [], "new": []}
        for name in ("new", "old"):  # warm figures, one process per path
            warm[name] = run_worker(paths[name], args.repeat, tmp / "mel120.mid", tmp / "acc120.mid")
        for _ in range(args.shell_runs):  # alternating, so that a change in load hits both
            for name in ("new", "old"):
                wall, cpu = shell_once(paths[name], tmp / f"{name}.mid")
                shell[name].append(wall)
                shell_cpu[name].append(cpu)
        same_notes = (tmp / "old.mid").read_bytes() == (tmp / "new.mid").read_bytes()
    same_warm = {f: (warm["old"][f]["notes_sha256"], warm["old"][f]["harmony"])
                 == (warm["new"][f]["notes_sha256"], warm["new"][f]["harmony"]) for f in ("demo", "song", "song120")}
    load_after = loadavg()

    def med(path, fig, key="refuse", what="median_ms"):
        return warm[path][fig][key][what]

    def cpu(fig, key="refuse"):
        return med("new", fig, key, "cpu_median_ms")

    rows = [  # (figure, target key, old ms, new ms, new CPU ms)
        ("demo (8 bars, 7 windows): re-fuse after a control change, with the judge's rating", "demo",
         med("old", "demo"), med("new", "demo"), cpu("demo")),
        (f"3.1-min song ({warm['new']['song']['n_windows']} windows): re-fuse after a control change", "song",
         med("old", "song"), med("new", "song"), cpu("song")),
        ("3.1-min song: re-fuse after a control change, with the judge's rating", None,
         med("old", "song", "refuse_judge"), med("new", "song", "refuse_judge"), cpu("song", "refuse_judge")),
        ("3.1-min song: first fuse of these inputs in a warm process", None,
         med("old", "song", "new_inputs"), med("new", "song", "new_inputs"), cpu("song", "new_inputs")),
        (f"3 min at 120 qpm ({warm['new']['song120']['n_windows']} windows): re-fuse after a control change",
         "song120", med("old", "song120"), med("new", "song120"), cpu("song120")),
        ("3 min at 120 qpm: re-fuse after a control change, with the judge's rating", None,
         med("old", "song120", "refuse_judge"), med("new", "song120", "refuse_judge"),
         cpu("song120", "refuse_judge")),
        ("3 min at 120 qpm: first fuse of these inputs in a warm process", None,
         med("old", "song120", "new_inputs"), med("new", "song120", "new_inputs"), cpu("song120", "new_inputs")),
        ("`collage fuse` of the demo from the shell (fresh process, imports included)", "shell",
         statistics.median(shell["old"]), statistics.median(shell["new"]), statistics.median(shell_cpu["new"])),
    ]
    lines = [
        "# Fusion speed a musician feels: re-fusing, whole songs, the shell",
        "",
        f"`python benchmarks/fusion_refuse_speed.py` on {machine()}; numpy {version('numpy')}, "
        f"torch {version('torch')}; one thread. Load average before {load_before}, after {load_after} "
        "(2 cores shared with a training run and other jobs: a load above 1 means the cores were shared).",
        "",
        f"Old path: revision {old_sha} (torch models; every call encodes and decodes everything). "
        f"New path: revision {new_sha}{' with uncommitted changes in ' + ', '.join(dirty) if dirty else ''} "
        "(NumPy models from the same .pt files; encodings of unchanged inputs remembered; only what is "
        "read is decoded; no torch import). Both give the same notes "
        "(tests/fusion/test_fast_path.py); here the shell runs wrote "
        f"{'byte-identical' if same_notes else 'DIFFERENT'} MIDI files, and the two paths fused "
        + ", ".join(f"the {NAMES[f]} to {'the same' if ok else 'DIFFERENT'} notes and rating"
                    for f, ok in same_warm.items())
        + " (one more setting each: keep_pitch 0.35, keep_texture 0.8).",
        "",
        f"Warm figures: median (min) of {args.repeat} calls ({3 * args.repeat} for the demo), each after "
        f"`keep_pitch` moved; first-fuse figures: {max(args.repeat // 2, 1)} calls; shell: median of "
        f"{args.shell_runs} fresh processes per path, alternating. The 120-qpm song: POP909 test song "
        f"{a120}'s melody over song {b120}'s piano (the 4/4 test songs of {BEATS_120}+ beats nearest 120 qpm), "
        f"set to 120 qpm and cut to {BEATS_120} beats.",
        "",
        "| figure | target | old (ms) | new (ms) | old / new | new, CPU time (ms) | new meets the target |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    verdict = {}
    for label, key, old, new, new_cpu in rows:
        target = TARGETS_MS.get(key) if key else None
        ok = None if target is None else new < target
        if key:
            verdict[key] = {"wall": ok, "cpu": new_cpu < target}
        lines.append(f"| {label} | {'< %g' % target if target else ''} | {old:.1f} | {new:.1f} | "
                     f"{old / new:.1f}x | {new_cpu:.1f} | {'' if ok is None else ('yes' if ok else 'no')} |")
    lines += [
        "",
        "Wall time is what a musician waits; CPU time (this process's, or the child's for the shell) is the "
        "work itself, less sensitive to the other jobs on the cores. Minima of the wall times (ms, new path): "
        "demo re-fuse {:.1f}; 3.1-min re-fuse {:.1f}; 120-qpm re-fuse {:.1f}; shell {:.0f}.".format(
            warm["new"]["demo"]["refuse"]["min_ms"], warm["new"]["song"]["refuse"]["min_ms"],
            warm["new"]["song120"]["refuse"]["min_ms"], min(shell["new"])),
        "",
        "```json",
        json.dumps({"old_rev": old_sha, "new_rev": new_sha, "uncommitted_src": dirty, "load_before": load_before,
                    "load_after": load_after, "songs": {"song": list(SONG), "song120": [a120, b120]},
                    "warm": warm, "shell_ms": shell, "shell_cpu_ms": shell_cpu, "shell_same_midi": same_notes,
                    "same_notes_and_rating": same_warm,
                    "meets": verdict}, indent=1),
        "```",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()

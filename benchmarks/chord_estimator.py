"""Agreement of collage's symbolic chord estimator with POP909's chord annotations.

For each song: the beat grid from ``beat_midi.txt`` (BeatGrid.from_seconds),
the PIANO track quantised to 4 steps per beat, ``estimate_chord_labels`` per
beat, compared with ``chord_midi.txt`` reduced to beats
(``labels_at_beats``, majority over the beat).

Scores, over all beats of all songs pooled:

- root: the estimated root equals the annotated one, over beats annotated
  with a chord (an estimated N counts as wrong);
- root+N: the same over all beats, N having to match N;
- majmin (mir_eval's rule): both labels reduced to root + maj/min by their
  intervals within the lower fifth (maj7, 7, maj6 count as maj; min7, min6,
  minmaj7 as min), scored over beats annotated maj, min or N (others, e.g.
  sus, dim, aug, hdim7, are left out); bass ignored;
- exact: same root and same set of pitch classes, bass ignored.

Usage::

    python benchmarks/chord_estimator.py                      # 50 test songs (860-909)
    python benchmarks/chord_estimator.py --songs 1-50 --sweep # tune on dev songs
    python benchmarks/chord_estimator.py --markdown docs/results/chord_estimator.md
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from collage.io import read_midi
from collage.represent.chord import estimate_chord_labels, labels_at_beats, parse_chord
from collage.represent.grid import BeatGrid, quantize

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = Path(os.environ.get("COLLAGE_POP909", REPO.parent / "shared" / "data" / "pop909"))


def _song_ids(spec: str) -> list[int]:
    ids: list[int] = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        ids.extend(range(int(a), int(b or a) + 1))
    return ids


def load_song(root: Path, sid: int, tracks: tuple[str, ...]):
    d = root / f"{sid:03d}"
    piece = read_midi(d / f"{sid:03d}.mid")
    beats = np.loadtxt(d / "beat_midi.txt", ndmin=2)[:, 0]
    segs = []
    for line in (d / "chord_midi.txt").read_text().splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            segs.append((float(parts[0]), float(parts[1]), parts[2]))
    grid = BeatGrid.from_seconds(piece, beats, steps_per_beat=4)
    notes = np.concatenate([piece.track(t).notes for t in tracks if piece.has_track(t)])
    return quantize(notes, grid), len(beats), labels_at_beats(segs, beats)


def _reduce(label: str):
    c = parse_chord(label)
    if c.is_none:
        return ("N",)
    rel = {(pc - c.root) % 12 for pc in c.chroma}
    low = rel & set(range(8))
    if low == {0, 4, 7}:
        return (c.root, "maj")
    if low == {0, 3, 7}:
        return (c.root, "min")
    return (c.root, "other")


def score(refs: list[str], ests: list[str]) -> dict:
    r = [parse_chord(x) for x in refs]
    e = [parse_chord(x) for x in ests]
    chord = np.array([not c.is_none for c in r])
    root_eq = np.array([a.root == b.root for a, b in zip(r, e)])
    exact = np.array([a.root == b.root and a.chroma == b.chroma for a, b in zip(r, e)])
    rr = [_reduce(x) for x in refs]
    ee = [_reduce(x) for x in ests]
    mm_mask = np.array([x[-1] in ("maj", "min", "N") for x in rr])
    mm_eq = np.array([a == b for a, b in zip(rr, ee)])
    return {
        "beats": len(refs),
        "chord_beats": int(chord.sum()),
        "root": float(root_eq[chord].mean()),
        "root+N": float(root_eq.mean()),
        "majmin": float(mm_eq[mm_mask].mean()),
        "majmin_coverage": float(mm_mask.mean()),
        "exact": float(exact[chord].mean()),
    }


def run(root: Path, ids: list[int], tracks: tuple[str, ...], **kwargs) -> dict:
    refs, ests = [], []
    for sid in ids:
        notes, n_beats, ref = load_song(root, sid, tracks)
        refs += ref
        ests += estimate_chord_labels(notes, n_beats, steps_per_beat=4, **kwargs)
    return score(refs, ests)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    ap.add_argument("--songs", default="860-909", help="song ids, e.g. 860-909 or 1-50,100")
    ap.add_argument("--sweep", action="store_true", help="grid-search the estimator's weights on --songs")
    ap.add_argument("--markdown", type=Path, help="also write the results table here")
    args = ap.parse_args(argv)
    ids = _song_ids(args.songs)

    if args.sweep:
        rows = []
        for tb, bb, sm in itertools.product((0.0, 0.05, 0.1), (0.0, 0.05, 0.1, 0.2), (0.0, 0.1, 0.15, 0.3)):
            s = run(args.root, ids, ("PIANO",), triad_bonus=tb, bass_bonus=bb, smoothing=sm)
            rows.append((s["root"], s["majmin"], tb, bb, sm))
            print(f"triad_bonus={tb:.2f} bass_bonus={bb:.2f} smoothing={sm:.2f}  "
                  f"root={s['root']:.3f} majmin={s['majmin']:.3f}", flush=True)
        best = max(rows)
        print(f"best root: {best}")
        return 0

    configs = [
        ("PIANO, defaults", ("PIANO",), {}),
        ("PIANO, no smoothing", ("PIANO",), {"smoothing": 0.0}),
        ("PIANO, no smoothing, no bonuses", ("PIANO",), {"smoothing": 0.0, "triad_bonus": 0.0, "bass_bonus": 0.0}),
        ("PIANO + BRIDGE, defaults", ("PIANO", "BRIDGE"), {}),
    ]
    lines = [
        "| input | beats | root | root+N | majmin | majmin coverage | exact | time (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, tracks, kwargs in configs:
        t0 = time.perf_counter()
        s = run(args.root, ids, tracks, **kwargs)
        dt = time.perf_counter() - t0
        lines.append(
            f"| {name} | {s['beats']} | {s['root']:.3f} | {s['root+N']:.3f} | {s['majmin']:.3f} "
            f"| {s['majmin_coverage']:.3f} | {s['exact']:.3f} | {dt:.1f} |"
        )
        print(lines[-1], flush=True)
    if args.markdown:
        cpu = platform.processor() or platform.machine()
        try:
            cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
        except (OSError, StopIteration):
            pass
        machine = f"{cpu}, {os.cpu_count()} cores (shared), Python {platform.python_version()}"
        text = "\n".join(
            [
                "# Symbolic chord estimator vs POP909 annotations",
                "",
                f"Songs {args.songs} of POP909 ({len(ids)} songs), beat grid from `beat_midi.txt`,"
                " 4 steps per beat, reference = `chord_midi.txt` by majority over each beat.",
                "Estimator defaults were chosen on songs 1-50 (`--songs 1-50 --sweep`), not on these.",
                "",
                "Command: `OMP_NUM_THREADS=1 .venv/bin/python benchmarks/chord_estimator.py"
                f" --songs {args.songs} --markdown docs/results/chord_estimator.md`",
                "",
                "\n".join(lines),
                "",
                "root: root agrees, over beats annotated with a chord; root+N: over all beats, N must match N;"
                " majmin: mir_eval's maj/min reduction over beats annotated maj, min or N (coverage = their share);"
                " exact: same root and pitch-class set (bass ignored).",
                "",
                f"Machine: {machine}; time is the whole run (reading MIDI included).",
                "",
            ]
        )
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fusion to listen to: 10 POP909 test pairs and 10 folk melodies over POP909 test accompaniments.

Each pair is 32 beats (8 bars of 4/4; the folk tunes' first 32 beats, in 2/4, 4/4 or 2/2) and
is fused by `collage.fuse` as a user would, four times: ``input`` (all four keep controls at 1,
which gives back the key-aligned inputs), ``rule`` (``method='rule'``), ``collagenet`` (``method='collagenet'``,
the default before issue 23, at the default controls) and ``revoice`` (``method='revoice'``, default
controls). One MIDI per version and one PNG per pair (the four versions stacked, titled with
the shipped harmony judge's share of harmonic 8-beat windows). README.md lists the pairs.

POP909 pairs: a melody from one test song and the accompaniment from another test song, each
32 beats starting at a segment start, both sounding in every 8 beats, drawn with ``--seed``.
Folk pairs: the Essen folk-song files bundled with music21 that benchmarks/fusion_ood.py uses
for validation (even positions of the sorted list; the odd, test files are never read), the
first eligible tune of each file in turn, over POP909 test accompaniments drawn as above.

    OMP_NUM_THREADS=1 python benchmarks/fusion_listening.py     # -> docs/listening/fusion/
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import collage
from collage.datasets.pop909 import pop909_segments
from collage.fusion.vertical import FusionModels
from collage.piece import Piece
from collage.plotting import plot_pianorolls
from collage.pretrained import load_pretrained

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import segment_piece  # noqa: E402
from fusion_ood import folk_melodies  # noqa: E402

BEATS = 32
VERSIONS = ("input", "rule", "collagenet", "revoice")
NOTES_MARK = "<!-- notes below are written by hand and kept when the script re-runs -->"


def crop(notes: np.ndarray, start: int, n: int) -> np.ndarray:
    """``(k, 4)`` step notes with onsets in ``[start, start + n)``, moved to start at 0, offsets cut at ``n``."""
    out = notes[(notes[:, 0] >= start) & (notes[:, 0] < start + n)].copy()
    out[:, 0] -= start
    out[:, 1] = np.maximum(np.minimum(out[:, 0] + out[:, 1], n) - out[:, 0], 1)
    return out


def sounds_throughout(notes: np.ndarray, n: int, window: int) -> bool:
    """True when every ``window`` steps of ``[0, n)`` hold at least one onset."""
    return all(((notes[:, 0] >= s) & (notes[:, 0] < s + window)).any() for s in range(0, n, window))


def candidates(segs, rng) -> list[tuple[int, int]]:
    """``(song, start step)`` of segment starts with 32 sounding beats of melody and accompaniment, shuffled."""
    n, w = BEATS * segs.steps_per_beat, 8 * segs.steps_per_beat
    out = []
    for i in rng.permutation(len(segs)):
        song, start = int(segs.song_ids[i]), int(segs.starts[i])
        if start + n > segs.song_n_steps(song):
            continue
        if sounds_throughout(crop(segs.song_melody(song), start, n), n, w) and \
                sounds_throughout(crop(segs.song_accomp(song), start, n), n, w):
            out.append((song, start))
    return out


def pop909_pairs(segs, count: int, rng) -> list[dict]:
    """``count`` pairs of distinct test songs: melody of one, accompaniment of another."""
    n, pairs, used = BEATS * segs.steps_per_beat, [], set()
    cands = candidates(segs, rng)
    for (ms, m0) in cands:
        if len(pairs) == count:
            break
        if ms in used:
            continue
        partner = next(((s, a0) for s, a0 in cands if s != ms and s not in used), None)
        if partner is None:
            break
        (as_, a0), used = partner, used | {ms, partner[0]}
        pairs.append({"melody": segment_piece(crop(segs.song_melody(ms), m0, n), "MELODY", segs.steps_per_beat),
                      "accomp": segment_piece(crop(segs.song_accomp(as_), a0, n), "PIANO", segs.steps_per_beat),
                      "melody_src": f"POP909 song {ms:03d}, beats {m0 // segs.steps_per_beat}-"
                                    f"{m0 // segs.steps_per_beat + BEATS}",
                      "accomp_src": f"POP909 song {as_:03d}, beats {a0 // segs.steps_per_beat}-"
                                    f"{a0 // segs.steps_per_beat + BEATS}",
                      "accomp_song": as_})
    return pairs


def folk_tunes(count: int) -> list[tuple[str, Piece]]:
    """``count`` duple-metre Essen tunes of the validation files (even positions), first 32 beats each,
    taken round robin over the files (first eligible tune of each file, then the second, ...)."""
    per_file: dict[str, list] = {}
    for name, piece in folk_melodies("val", 2, beats=BEATS):  # validation only
        per_file.setdefault(name.split("#")[0], []).append((name, piece))
    out = [t[r] for r in range(2) for t in per_file.values() if len(t) > r]
    return out[:count]


def rate(result, which: str) -> str:
    h = result.harmony
    return f"judge {round(100 * h[which])} % of {h['windows']} windows harmonic" if h else "no rating"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=10, help="pairs of each kind")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-dir", default="docs/listening/fusion")
    ap.add_argument("--dpi", type=int, default=60)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    out = Path(args.out_dir)
    segs = pop909_segments("test", grid="beats")
    rng = np.random.default_rng(args.seed)
    pairs = [dict(p, kind="pop909_test") for p in pop909_pairs(segs, args.pairs, rng)]
    tunes = folk_tunes(args.pairs)
    taken = {p["accomp_song"] for p in pairs}
    n = BEATS * segs.steps_per_beat
    accs = [(s, a0) for s, a0 in candidates(segs, rng) if s not in taken]
    seen = set()
    accs = [c for c in accs if not (c[0] in seen or seen.add(c[0]))]
    for (name, mel), (s, a0) in zip(tunes, accs):
        pairs.append({"kind": "folk", "melody": mel, "melody_src": f"Essen folk song {name} (music21 corpus), "
                      "first 32 beats at 100 qpm",
                      "accomp": segment_piece(crop(segs.song_accomp(s), a0, n), "PIANO", segs.steps_per_beat),
                      "accomp_src": f"POP909 song {s:03d}, beats {a0 // segs.steps_per_beat}-"
                                    f"{a0 // segs.steps_per_beat + BEATS}"})
    models, judge = FusionModels.load(), load_pretrained("harmony_judge")
    rows = []
    for kind in ("pop909_test", "folk"):
        (out / kind).mkdir(parents=True, exist_ok=True)
        for k, p in enumerate(q for q in pairs if q["kind"] == kind):
            stem = f"{kind}/{k + 1:02d}"
            M, A = p["melody"], p["accomp"]
            res = {"input": collage.fuse(M, A, method="collagenet", models=models, judge=judge, keep_pitch=1, keep_rhythm=1,
                                         keep_chord=1, keep_texture=1),
                   "rule": collage.fuse(M, A, method="rule", seed=args.seed, judge=judge),
                   "collagenet": collage.fuse(M, A, method="collagenet", models=models, judge=judge),
                   "revoice": collage.fuse(M, A, method="revoice", judge=judge)}
            titles = []
            for v in VERSIONS:
                collage.save(res[v].piece, out / f"{stem}_{v}.mid")
                r = res[v]
                what = f"input (key-aligned, accompaniment {r.key_shift:+d} semitones)" if v == "input" else v
                titles.append(f"{what}: {rate(r, 'input' if v == 'input' else 'output')}")
            plot_pianorolls([res[v].piece for v in VERSIONS], out / f"{stem}.png", titles=titles, dpi=args.dpi)
            rows.append((stem, p, {v: (res[v].harmony, [len(t) for t in res[v].piece.tracks]) for v in VERSIONS},
                         res["input"].key_shift))
            print(stem, " | ".join(titles), flush=True)
    write_readme(out / "README.md", rows, args)
    print(f"wrote {len(rows)} pairs to {out} in {time.perf_counter() - t0:.0f} s")
    return 0


def write_readme(path: Path, rows, args) -> None:
    notes = ""
    if path.exists() and NOTES_MARK in path.read_text():
        notes = path.read_text().split(NOTES_MARK, 1)[1]
    def cell(h_counts, which):
        h, counts = h_counts
        return (f"{round(100 * h[which])} %" if h else "n/a") + f" ({'/'.join(map(str, counts))})"

    lines = [
        "# Fusion: pairs to listen to",
        "",
        "Written by `OMP_NUM_THREADS=1 python benchmarks/fusion_listening.py"
        + (f" --seed {args.seed}" if args.seed else "") + "` (seed 0 by default). Each pair is 32 beats "
        "(8 bars); the melody (track MELODY) of one source over the accompaniment (track PIANO, written "
        "ACCOMPANIMENT) of another. Four MIDI files per pair, one per version, and one PNG with the four "
        "stacked in this order:",
        "",
        "- `NN_input.mid`: the inputs as `collage.fuse` aligns them (accompaniment transposed toward the "
        "melody's key), i.e. `collage.fuse(..., keep_pitch=1, keep_rhythm=1, keep_chord=1, keep_texture=1)`;",
        "- `NN_rule.mid`: `method='rule'` (the rule baseline: melody pitches and onsets edited, accompaniment kept);",
        "- `NN_collagenet.mid`: `method='collagenet'` at the default controls (all 0.5), the default method before "
        "issue 23 (*before*);",
        "- `NN_revoice.mid`: `method='revoice'`, the default method since, at the default controls (*after*; "
        "chosen by the rule in `docs/results/fusion_default_rule.md`).",
        "",
        "Harmony: the shipped harmony judge's share of harmonic 8-beat windows (7 windows, hop 4 beats), "
        "as `FusionResult.harmony` reports it; for `input` it is the key-aligned inputs' rate. In brackets: "
        "notes in the melody / accompaniment.",
        "",
        "`pop909_test/`: melody and accompaniment from two different POP909 test songs. `folk/`: Essen "
        "folk tunes from the validation files of `benchmarks/fusion_ood.py` (even positions; the test files "
        "are never read) over POP909 test accompaniments.",
        "",
        "| pair | melody | accompaniment | key shift | input | rule | collagenet | revoice |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for stem, p, h, shift in rows:
        lines.append(f"| [{stem}]({stem}.png) | {p['melody_src']} | {p['accomp_src']} | {shift:+d} | "
                     f"{cell(h['input'], 'input')} | {cell(h['rule'], 'output')} | {cell(h['collagenet'], 'output')} | "
                     f"{cell(h['revoice'], 'output')} |")
    path.write_text("\n".join(lines) + "\n\n" + NOTES_MARK + (notes or "\n"))


if __name__ == "__main__":
    sys.exit(main())

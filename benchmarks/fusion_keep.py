"""Keep means keep: with every control at 1, does `collage.fuse` give the key-aligned inputs back?

For each pair, the fused MELODY is compared with the input melody (made monophonic as fusion
does) and the fused ACCOMPANIMENT with the input accompaniment transposed by the fusion's
key shift, both as fusion fits their lengths (the shorter input looped to the longer's whole
bars, :func:`collage.fusion.windows.fit_lengths`), by note F1 (same pitch, onset and offset each within 1/8 beat;
:func:`collage.metrics.notes.note_f1`). Pairs: the bundled examples, and the first 100
disharmonic POP909 test pairs (a melody with another song's accompaniment), the pairs of
the evaluation's control sweep (`collage eval fusion`: seed 0, beat grid, 8-beat segments),
and folk melodies from outside POP909 (the Essen folk-song collection bundled with music21:
tune 2 of each of the first ``--folk`` files) over POP909 test accompaniments; there the shorter
input is looped to the longer's whole bars, as fusion fits lengths.
Also reported at the default controls (0.5), for scale.

    OMP_NUM_THREADS=1 python benchmarks/fusion_keep.py                    # CollageNet -> docs/results/fusion_keep.json
    OMP_NUM_THREADS=1 python benchmarks/fusion_keep.py --method revoice   # -> docs/results/fusion_keep_revoice.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import collage
from collage.datasets.pop909 import disharmonic_pairs, pop909_segments
from collage.examples import path as example_path
from collage.fusion.vertical import FusionModels
from collage.fusion.windows import fit_lengths
from collage.piece import Piece
from collage.metrics.notes import note_f1
from collage.represent.melody import skyline

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import segment_piece  # noqa: E402

TPQ = 480
ALL_KEPT = {"keep_pitch": 1.0, "keep_rhythm": 1.0, "keep_chord": 1.0, "keep_texture": 1.0}
DEFAULT = {"keep_pitch": 0.5, "keep_rhythm": 0.5, "keep_chord": 0.5, "keep_texture": 0.5}


def beats(notes: np.ndarray, per_beat: float) -> np.ndarray:
    """(n, 4) notes in ticks or steps -> (n, 3) onset, duration (beats), pitch."""
    n = np.asarray(notes, dtype=np.float64)
    return np.stack([n[:, 0] / per_beat, n[:, 1] / per_beat, n[:, 2]], axis=1) if len(n) else np.zeros((0, 3))


def agreement(result, mel_ref: np.ndarray, acc_ref: np.ndarray) -> dict:
    """Note F1 of the fused tracks against the references (both in beats)."""
    tracks = {t.name: t for t in result.piece.tracks}
    out = {}
    for name, ref in (("melody", mel_ref), ("accompaniment", acc_ref)):
        est = beats(tracks[name.upper()].notes, result.piece.tpq)
        ref = ref.copy()
        if name == "accompaniment":
            ref[:, 2] += result.key_shift
        out[name] = note_f1(ref, est)["f1"]
        out[f"{name}_onsets"] = note_f1(ref, est, offset_tolerance=None)["f1"]
    return out


def fitted(mel: np.ndarray, acc: np.ndarray, steps_per_beat: int, bar_beats: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Step-note inputs brought to one length as fusion does (lengths: the last offset in whole bars)."""
    bar = bar_beats * steps_per_beat

    def length(n):
        return max(-(-int((n[:, 0] + n[:, 1]).max()) // bar), 1) * bar

    m, a, _, _ = fit_lengths(mel, length(mel), acc, length(acc), mode="loop")
    return m, a


def fit_beats(mel: np.ndarray, mel_bars: float, acc: np.ndarray, acc_bars: float) -> tuple[np.ndarray, np.ndarray]:
    """Notes in beats (n, 3) brought to one length: the shorter looped (period: its length in beats)
    up to the longer's, notes crossing the end cut there."""
    n = max(mel_bars, acc_bars)

    def loop(x, period):
        reps = int(np.ceil(n / period))
        out = np.concatenate([x + [k * period, 0, 0] for k in range(reps)])
        out = out[out[:, 0] < n - 1e-9]
        out[:, 1] = np.minimum(out[:, 0] + out[:, 1], n) - out[:, 0]
        return out

    return (loop(mel, mel_bars) if mel_bars < n else mel), (loop(acc, acc_bars) if acc_bars < n else acc)


def length_beats(notes: np.ndarray, bar_beats: float) -> float:
    """The last offset rounded up to a whole bar, in beats (at least one bar)."""
    end = float((notes[:, 0] + notes[:, 1]).max())
    return max(np.ceil(end / bar_beats - 1e-9), 1) * bar_beats


def bar_beats(piece: Piece) -> float:
    ts = piece.time_signatures
    return ts[0].numerator * 4 / ts[0].denominator if ts else 4.0


def folk_tunes(n: int) -> list[Path]:
    from music21 import corpus  # the bundled corpus: offline

    return sorted(p for p in corpus.getPaths() if "essenFolksong" in str(p))[:n]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--folk", type=int, default=12, help="folk melodies from outside POP909")
    ap.add_argument("--method", default="collagenet", choices=["collagenet", "revoice"])
    ap.add_argument("--out", default=None, help="default: docs/results/fusion_keep.json (collagenet), "
                                               "fusion_keep_revoice.json (revoice)")
    args = ap.parse_args(argv)
    args.out = args.out or f"docs/results/fusion_keep{'' if args.method == 'collagenet' else '_' + args.method}.json"
    t0 = time.perf_counter()
    models = FusionModels.load() if args.method == "collagenet" else None
    rows = {}

    mel_p, acc_p = collage.load(example_path("melody")), collage.load(example_path("accompaniment"))
    mel_ref = beats(skyline(mel_p.tracks[0].notes), mel_p.tpq)
    acc_ref = beats(acc_p.tracks[0].notes, acc_p.tpq)
    for label, controls in (("all_kept", ALL_KEPT), ("default", DEFAULT)):
        r = collage.fuse(mel_p, acc_p, method=args.method, models=models, **controls)
        rows.setdefault("bundled_examples", {})[label] = agreement(r, mel_ref, acc_ref)

    segs = pop909_segments("test", grid="beats")
    pairs = disharmonic_pairs(segs, 5000, 0)[: args.pairs]  # the control sweep's pairs: the first ones
    spb = segs.steps_per_beat
    for label, controls in (("all_kept", ALL_KEPT), ("default", DEFAULT)):
        per = []
        for i, j in pairs:
            m, a = segs.melody(int(i)), segs.accomp(int(j))
            r = collage.fuse(segment_piece(m, "MELODY", spb, qpm=120.0), segment_piece(a, "PIANO", spb, qpm=120.0), method=args.method, models=models,
                             **controls)
            m_ref, a_ref = fitted(m, a, spb)
            per.append(agreement(r, beats(m_ref, spb), beats(a_ref, spb)))
        keys = per[0].keys()
        rows.setdefault("pop909_test_pairs", {})[label] = {
            **{k: float(np.mean([p[k] for p in per])) for k in keys},
            **{f"{k}_min": float(np.min([p[k] for p in per])) for k in keys},
            "share_melody_ge_0.99": float(np.mean([p["melody"] >= 0.99 for p in per])),
            "share_accompaniment_ge_0.99": float(np.mean([p["accompaniment"] >= 0.99 for p in per])),
        }
    folk = []
    for (path, (_, j)) in zip(folk_tunes(args.folk), pairs):
        mel = collage.load(path, tune=2)
        a = segs.accomp(int(j))
        acc = segment_piece(a, "PIANO", spb, qpm=120.0)
        m_b = beats(skyline(mel.tracks[0].notes), mel.tpq)
        a_b = beats(a, spb)
        m_ref, a_ref = fit_beats(m_b, length_beats(m_b, bar_beats(mel)), a_b, length_beats(a_b, 4.0))
        for label, controls in (("all_kept", ALL_KEPT), ("default", DEFAULT)):
            r = collage.fuse(mel, acc, method=args.method, models=models, **controls)
            folk.append((label, path.name, agreement(r, m_ref, a_ref)))
    for label in ("all_kept", "default"):
        per = [a for lab, _, a in folk if lab == label]
        if per:
            rows.setdefault("folk_melodies", {})[label] = {
                **{k: float(np.mean([p[k] for p in per])) for k in per[0]},
                **{f"{k}_min": float(np.min([p[k] for p in per])) for k in per[0]},
                "tunes": [name for lab, name, _ in folk if lab == label],
            }
    result = {"method": args.method, "pairs": int(len(pairs)), "tolerance_beats": 0.125, "rows": rows,
              "wall_s": round(time.perf_counter() - t0, 1)}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

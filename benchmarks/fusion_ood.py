"""Fusion outside POP909: folk melodies over POP909 accompaniments (the validation set for this case).

Melodies: tunes of the Essen folk-song collection bundled with music21 (ABC, offline), in a
duple metre (2/4, 4/4, 2/2), their first 8 beats; files at even positions of the sorted list
form the validation split, odd positions the test split (never used to choose anything;
`--split test` reads it). Accompaniments: 8-beat POP909 segments of the matching POP909
split (val or test), drawn with a fixed seed. Each pair is fused by the rule baseline and by
CollageNet at the default controls; the inputs (accompaniment moved to the melody's key, as
fusion does) are the third row. Statistics per pair (collage.metrics.harmony, the CollageNet
paper's): PCH KLD and OA (pitch-class histograms, melody vs accompaniment), OH KLD (onsets),
and the shipped harmony judge's rate (probability > 0.5).

    OMP_NUM_THREADS=1 python benchmarks/fusion_ood.py              # -> docs/results/fusion_ood.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import collage
from collage.datasets.pop909 import pop909_segments
from collage.fusion.vertical import FusionModels
from collage.io.score import piece_from_music21
from collage.metrics.harmony import evaluate_batch
from collage.piece import Piece, Tempo, Track
from collage.pretrained import load_pretrained

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import segment_piece, window_steps  # noqa: E402

TPQ = 480
BEATS = 8
DUPLE = {(2, 4), (4, 4), (2, 2)}
KEYS = ("pch_kld", "pch_oa", "oh_kld")


def folk_melodies(split: str, per_file: int, *, beats: int = BEATS) -> list[tuple[str, Piece]]:
    """``(name, first ``beats`` beats as a one-track piece at 100 qpm)`` of the split's duple-metre folk tunes
    (``val``: the even collection files, ``test``: the odd ones), up to ``per_file`` from each file, in file order."""
    from music21 import converter, corpus  # the bundled corpus: offline

    files = sorted(p for p in corpus.getPaths() if "essenFolksong" in str(p))
    files = files[0::2] if split == "val" else files[1::2]
    out = []
    for f in files:
        opus = converter.parse(f)
        scores = list(opus.scores) if hasattr(opus, "scores") else [opus]
        taken = 0
        for k, score in enumerate(scores):
            if taken >= per_file:
                break
            try:
                piece = piece_from_music21(score, tpq=TPQ, source=f"{f.name}#{k}")
            except collage.CollageError:
                continue
            ts = piece.time_signatures
            if not piece.tracks or (ts and (ts[0].numerator, ts[0].denominator) not in DUPLE):
                continue
            end = beats * piece.tpq
            notes = piece.tracks[0].notes
            notes = notes[notes[:, 0] < end].copy()
            if len(notes) < 4 or piece.end_tick < end:
                continue
            notes[:, 1] = np.minimum(notes[:, 0] + notes[:, 1], end) - notes[:, 0]
            out.append((f"{f.name}#{k}", Piece(tracks=[Track(notes, name="MELODY")], tpq=piece.tpq,
                                              tempos=[Tempo(0, 100.0)])))
            taken += 1
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["val", "test"], default="val")
    ap.add_argument("--per-file", type=int, default=3, help="tunes taken from each collection file")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="default: docs/results/fusion_ood[_test].json")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    melodies = folk_melodies(args.split, args.per_file)
    segs = pop909_segments(args.split, grid="beats")
    rng = np.random.default_rng(args.seed)
    acc_ids = rng.choice(len(segs), size=len(melodies), replace=False)
    models, judge = FusionModels.load(), load_pretrained("harmony_judge")

    rows = {"inputs (key-aligned)": ([], []), "rule": ([], []), "collagenet": ([], [])}
    for (name, mel), j in zip(melodies, acc_ids):
        acc = segment_piece(segs.accomp(int(j)), "PIANO", segs.steps_per_beat)
        rule = collage.fuse(mel, acc, method="rule", seed=args.seed)
        net = collage.fuse(mel, acc, method="collagenet", models=models)
        for label, r in (("rule", rule), ("collagenet", net)):
            rows[label][0].append(window_steps(r.piece.tracks[0], r.piece.tpq))
            rows[label][1].append(window_steps(r.piece.tracks[1], r.piece.tpq))
        rows["inputs (key-aligned)"][0].append(window_steps(mel.tracks[0], mel.tpq))
        rows["inputs (key-aligned)"][1].append(window_steps(rule.piece.tracks[1], rule.piece.tpq))  # the rule keeps it
    table = {}
    for label, (mels, accs) in rows.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vals = evaluate_batch(mels, accs)
        table[label] = {k: float(np.nanmean(vals[k])) for k in KEYS}
        table[label]["harmony_rate"] = float((judge.score(mels, accs) > 0.5).mean())
    result = {"split": args.split, "pairs": len(melodies), "melodies": [n for n, _ in melodies],
              "accompaniment_segments": [int(j) for j in acc_ids], "rows": table,
              "pch_kld_ratio_collagenet_to_rule": table["collagenet"]["pch_kld"] / table["rule"]["pch_kld"],
              "wall_s": round(time.perf_counter() - t0, 1)}
    out = Path(args.out or f"docs/results/fusion_ood{'' if args.split == 'val' else '_test'}.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("melodies", "accompaniment_segments")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where fusion's harmony comes from, on POP909 validation pairs, through the whole `collage.fuse` pipeline.

Mismatched pairs (a melody segment with another song's accompaniment segment; seed 0) of the
validation split, each 8 beats, fused by `collage.fuse` as a user would (key alignment
included), in these variants: the pair untouched; the accompaniment moved to the melody's
key only; the rule baseline; CollageNet at the default controls (its actor applied K = 7 times,
the shipped default), with K = 1, and without key alignment; and CollageNet followed by the
rule's melody edits (each edit skipped with probability 0.5, 0.2 or 0). Rows: the shipped
harmony judge's rate (probability > 0.5), PCH KLD and OH KLD (collage.metrics.harmony), and the
share of input melody notes still present (same onset step and pitch). Validation only: it
informs design; nothing here reads the test split.

    OMP_NUM_THREADS=1 python benchmarks/fusion_val_variants.py --pairs 300   # -> docs/results/fusion_val_variants.json
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
from collage.datasets.pop909 import disharmonic_pairs, pop909_segments
from collage.fusion.rule import rule_fuse_segment
from collage.fusion.vertical import FusionModels
from collage.metrics.harmony import evaluate_batch
from collage.pretrained import load_pretrained

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SEGMENT_TPQ as TPQ, segment_piece, window_steps  # noqa: E402



def kept(mel_in: np.ndarray, mel_out: np.ndarray) -> float:
    """Share of input melody notes present in the output (same onset step and pitch)."""
    have = {(int(o), int(p)) for o, p in mel_out[:, [0, 2]]}
    return float(np.mean([(int(o), int(p)) in have for o, p in mel_in[:, [0, 2]]])) if len(mel_in) else float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=300)
    ap.add_argument("--out", default="docs/results/fusion_val_variants.json")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    segs = pop909_segments("val", grid="beats")
    pairs = disharmonic_pairs(segs, args.pairs, 0)
    models, judge = FusionModels.load(), load_pretrained("harmony_judge")
    names = ["untouched", "key-aligned", "rule", "collagenet", "collagenet K=1", "collagenet, no key alignment",
             "collagenet + rule (skip 0.5)", "collagenet + rule (skip 0.2)", "collagenet + rule (skip 0)"]
    rows = {k: {"mel": [], "acc": [], "kept": []} for k in names}
    rngs = {k: np.random.default_rng(0) for k in names}

    def add(name, m_in, mel, acc):
        rows[name]["mel"].append(mel)
        rows[name]["acc"].append(acc)
        rows[name]["kept"].append(kept(m_in, mel))

    for i, j in pairs:
        m, a = segs.melody(int(i)), segs.accomp(int(j))
        M, A = segment_piece(m, "MELODY"), segment_piece(a, "PIANO")
        rule = collage.fuse(M, A, method="rule")
        net = collage.fuse(M, A, method="collagenet", models=models)
        aligned = window_steps(rule.piece.tracks[1], TPQ)  # the rule keeps the (key-aligned) accompaniment
        add("untouched", m, m, a)
        add("key-aligned", m, m, aligned)
        add("rule", m, window_steps(rule.piece.tracks[0], TPQ), aligned)
        nm, na = window_steps(net.piece.tracks[0], TPQ), window_steps(net.piece.tracks[1], TPQ)
        add("collagenet", m, nm, na)
        for name, kw in (("collagenet K=1", {"iterations": 1}), ("collagenet, no key alignment", {"key_align": False})):
            r = collage.fuse(M, A, method="collagenet", models=models, **kw)
            add(name, m, window_steps(r.piece.tracks[0], TPQ), window_steps(r.piece.tracks[1], TPQ))
        for p in (0.5, 0.2, 0.0):
            name = f"collagenet + rule (skip {p:g})"
            add(name, m, rule_fuse_segment(nm, na, rng=rngs[name], p_skip=p), na)
    table = {}
    for name, r in rows.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v = evaluate_batch(r["mel"], r["acc"])
        table[name] = {"harmony_rate": float((judge.score(r["mel"], r["acc"]) > 0.5).mean()),
                       "pch_kld": float(np.nanmean(v["pch_kld"])), "oh_kld": float(np.nanmean(v["oh_kld"])),
                       "melody_notes_kept": float(np.nanmean(r["kept"]))}
    result = {"split": "val", "pairs": int(len(pairs)), "rows": table, "wall_s": round(time.perf_counter() - t0, 1)}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

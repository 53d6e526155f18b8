"""Seed variance of one mashability recipe: the same command trained from several seeds, each read on
the validation protocol (77 val songs, unseen gmbank soundfont) and the test protocol (60 test seeds,
held-out MuseScore_General). A measurement, not a selection: which weights ship is decided on
validation alone (benchmarks/mashability_val.py, docs/results/mashup.md).

    mkdir -p /tmp/s0 && for f in pt json; do git show 238c60e:src/collage/weights/mashability_premixnet.$f > /tmp/s0/mashability_premixnet.$f; done
    python benchmarks/mashability_seeds.py \
        --weights seed0=/tmp/s0/mashability_premixnet.pt seed1=src/collage/weights/mashability_premixnet.pt \
                  seed2=runs/cand/s18/seed2/mashability_premixnet.pt \
        --out docs/results/mashability_seeds.json

Builds (or reuses) the cached protocol sets under ``--data-root``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from collage.evaluation.mashup import build_protocol_set, build_val_protocol_set, protocol_metrics
from collage.pretrained import load_pretrained


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", nargs="+", required=True, metavar="NAME=PATH.pt")
    ap.add_argument("--data-root", default="runs/mashup")
    ap.add_argument("--val-songs", type=int, default=77)
    ap.add_argument("--test-seeds", type=int, default=60)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    sets = {
        "val_protocol": np.load(build_val_protocol_set(a.val_songs, root=a.data_root, progress=False)),
        "test_protocol": np.load(build_protocol_set("test", n_seeds=a.test_seeds, root=a.data_root, progress=False)),
    }
    rows = {}
    for spec in a.weights:
        name, _, path = spec.partition("=")
        net = load_pretrained(path)
        rows[name] = {"weights": path}
        for s, d in sets.items():
            rows[name][s] = {k: round(v, 4) for k, v in protocol_metrics(net, d).items()}
        print(name, {s: rows[name][s] for s in sets}, flush=True)
    summary = {s: {m: {"mean": round(float(np.mean([r[s][m] for r in rows.values()])), 4),
                       "sd": round(float(np.std([r[s][m] for r in rows.values()], ddof=1)), 4) if len(rows) > 1 else None}
                   for m in ("accuracy", "avg_rank")} for s in sets}
    print("mean and sd over seeds:", summary)
    if a.out:
        meta = {s: {"data_hash": str(d["data_hash"]), "seeds": int(len(np.unique(d["seed_index"])))} for s, d in sets.items()}
        Path(a.out).write_text(json.dumps({"command": " ".join(["python", *sys.argv]), "sets": meta, "rows": rows,
                                           "summary": summary}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Mashability weights on two validation sets: the val songs rendered with the training soundfonts,
and the same songs rendered with a soundfont no model was trained on (the selection set for
timbre robustness; the test split's MuseScore_General stays untouched).

    python benchmarks/mashability_val.py --weights src/collage/weights runs/candidates \
        --out docs/results/mashability_val.json

Prints one row per weights file found (``mashability_*.pt`` in each folder): accuracy (original
vs unmatched at 0.5) and avg rank (of the original among itself and the matched) on each set.
Renders and caches the validation mashups on first use (``--data-root``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from collage.pretrained import load_pretrained
from collage.training.mashability import evaluate_examples, load_examples


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", nargs="+", required=True, help="Folders holding mashability_*.pt (+ .json cards).")
    ap.add_argument("--data-root", default="runs/mashup")
    ap.add_argument("--val-songs", type=int, default=40)
    ap.add_argument("--windows", type=int, default=2)
    ap.add_argument("--unseen", default="gmbank", help="The extra soundfont of the unseen-timbre set.")
    ap.add_argument("--out", default=None, help="Also write the rows here (JSON).")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    sets = {
        "val_train_fonts": load_examples("val", a.val_songs, a.windows, root=a.data_root),
        f"val_{a.unseen}": load_examples("val", a.val_songs, a.windows, root=a.data_root, timbre=a.unseen),
    }
    rows = []
    for folder in a.weights:
        for pt in sorted(Path(folder).glob("mashability_*.pt")):
            net = load_pretrained(pt)
            row = {"weights": str(pt), "config": {"input_norm": net.config.input_norm, "harmony": net.config.harmony}}
            for name, data in sets.items():
                r = evaluate_examples(net, data)
                row[name] = {"accuracy": round(r["accuracy"], 4), "avg_rank": round(r["avg_rank"], 4)}
            rows.append(row)
            print(f"{str(pt):70s} " + "  ".join(f"{n} acc {row[n]['accuracy']:.3f} rank {row[n]['avg_rank']:.3f}"
                                                  for n in sets), flush=True)
    meta = {n: {"songs": int(len(d["songs"])), "examples": int(len(d["label"])), "data_hash": str(d["data_hash"])}
            for n, d in sets.items()}
    if a.out:
        Path(a.out).write_text(json.dumps({"command": " ".join(sys.argv), "sets": meta, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

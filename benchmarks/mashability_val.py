"""Mashability weights on validation sets: the val songs rendered with the training soundfonts,
the same songs rendered with a soundfont no model was trained on (the selection set for timbre
robustness; the test split's MuseScore_General stays untouched), and optionally the test protocol
itself run on the val split with that unseen soundfont.

    python benchmarks/mashability_val.py --weights src/collage/weights weights-training runs/candidates \
        --out docs/results/mashability_val.json
    python benchmarks/mashability_val.py --weights src/collage/weights weights-training runs/cand/s18/seed1 \
        --protocol-songs 77 --ensemble shipped_pair=src/collage/weights/mashability_premixnet.pt,weights-training/mashability_premixnet_lsro.pt

Prints one row per weights file found (``mashability_*.pt`` in each folder) and per ``--ensemble``
(the mean of its members' probabilities, :class:`~collage.models.mashability.MashabilityEnsemble`):
accuracy (original vs unmatched at 0.5) and avg rank of the original on each set. The window sets
(``val_*``) hold 8.2 s mashups, two vocal windows per song (rank among the original and one matched
mashup); ``protocol_*`` is :func:`collage.evaluation.mashup.build_val_protocol_set` (the test protocol on the val split
with the unseen soundfont: 25 s mashups; one original, one unmatched and five matched per vocal seed; rank of 6).
Renders and caches the validation mashups on first use (``--data-root``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from collage.evaluation.mashup import build_val_protocol_set, protocol_metrics
from collage.pretrained import load_pretrained
from collage.training.mashability import evaluate_examples, load_examples


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", nargs="+", required=True, help="Folders holding mashability_*.pt (+ .json cards).")
    ap.add_argument("--ensemble", action="append", default=[], metavar="NAME=A.pt,B.pt",
                    help="Also score the mean of these models' probabilities (repeatable).")
    ap.add_argument("--data-root", default="runs/mashup")
    ap.add_argument("--val-songs", type=int, default=40)
    ap.add_argument("--windows", type=int, default=2)
    ap.add_argument("--unseen", default="gmbank", help="The extra soundfont of the unseen-timbre sets.")
    ap.add_argument("--protocol-songs", type=int, default=0,
                    help="Also run the test protocol on this many val songs rendered with --unseen (0 = off).")
    ap.add_argument("--out", default=None, help="Also write the rows here (JSON).")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    from collage.models.mashability import MashabilityEnsemble

    sets = {
        "val_train_fonts": load_examples("val", a.val_songs, a.windows, root=a.data_root),
        f"val_{a.unseen}": load_examples("val", a.val_songs, a.windows, root=a.data_root, timbre=a.unseen),
    }
    protocol_name = f"protocol_{a.unseen}_{a.protocol_songs}songs"
    if a.protocol_songs:
        sets[protocol_name] = np.load(build_val_protocol_set(a.protocol_songs, timbre=a.unseen, root=a.data_root, progress=False))
    nets = [(str(pt), load_pretrained(pt)) for folder in a.weights for pt in sorted(Path(folder).glob("mashability_*.pt"))]
    for spec in a.ensemble:
        name, _, paths = spec.partition("=")
        nets.append((f"ensemble:{name}", MashabilityEnsemble([load_pretrained(p) for p in paths.split(",")])))
    rows = []
    for name, net in nets:
        row = {"weights": name, "config": {"input_norm": net.config.input_norm, "harmony": net.config.harmony}}
        if isinstance(net, MashabilityEnsemble):
            row["members"] = [str(m.card.get("name", "?")) + " " + str(m.card.get("training_command", "")) for m in net.members]
        for set_name, data in sets.items():
            r = protocol_metrics(net, data) if set_name == protocol_name else evaluate_examples(net, data)
            row[set_name] = {"accuracy": round(r["accuracy"], 4), "avg_rank": round(r["avg_rank"], 4)}
        rows.append(row)
        print(f"{name:70s} " + "  ".join(f"{n} acc {row[n]['accuracy']:.3f} rank {row[n]['avg_rank']:.3f}"
                                          for n in sets), flush=True)
    meta = {n: {"songs": int(len(np.unique(d["seed_index"]))) if n == protocol_name else int(len(d["songs"])),
                "examples": int(len(d["label"])), "data_hash": str(d["data_hash"])}
            for n, d in sets.items()}
    if a.out:
        Path(a.out).write_text(json.dumps({"command": " ".join(sys.argv), "sets": meta, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How much the zone baseline's Bach accuracy depends on which chorales form the test set.

One test split of ~40 chorales is a small sample (paper: 73.14 %). This
script re-splits all chorales of the Bach set (80/10/10) with seeds 0..N-1,
learns the zones on each train part and scores each test part. Recorded in
docs/results/arrange.md.

Usage::

    python benchmarks/arrange_zone_splits.py --splits 20 | tee docs/results/arrange_zone_splits.txt
"""

from __future__ import annotations

import argparse

import numpy as np

from collage.arrangement.baselines import fit_zone_model, pitch_counts, zone_predict
from collage.arrangement.data import load_arrays_for


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splits", type=int, default=20, help="random splits (seeds 0..N-1)")
    args = ap.parse_args()
    arrays = [load_arrays_for("bach", s) for s in ("train", "val", "test")]
    pieces = [a.piece(i) for a in arrays for i in range(len(a))]
    n = len(pieces)
    accs = []
    for seed in range(args.splits):
        perm = np.random.default_rng(seed).permutation(n)
        train, test = perm[: int(0.8 * n)], perm[int(0.9 * n):]
        notes = np.concatenate([pieces[i][0] for i in train])
        labels = np.concatenate([pieces[i][1] for i in train])
        zones = fit_zone_model(pitch_counts(notes[:, 2], labels, 4))
        tn = np.concatenate([pieces[i][0] for i in test])
        tl = np.concatenate([pieces[i][1] for i in test])
        accs.append(100.0 * float((zone_predict(tn[:, 2], zones) == tl).mean()))
    print(f"{n} chorales, {args.splits} random 80/10/10 splits: zone-based test accuracy "
          f"mean {np.mean(accs):.2f} %, sd {np.std(accs):.2f}, min {min(accs):.2f}, max {max(accs):.2f}")


if __name__ == "__main__":
    main()

"""Speed of the harmony statistics: `evaluate_batch` on 5,000 random pairs against `evaluate` pair by pair.

    OMP_NUM_THREADS=1 python benchmarks/harmony_batch.py [--pairs 5000] [--repeat 3]

Writes docs/results/harmony_batch.json (the batch time was a wall-clock assertion in the unit tests;
timing is a benchmark's job).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from collage.metrics import harmony as H

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import best_time, machine  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results" / "harmony_batch.json"


def random_segment(rng, n, n_steps=32):
    on = rng.integers(0, n_steps, n)
    dur = np.minimum(rng.integers(1, 9, n), n_steps - on)
    return np.stack([on, dur, rng.integers(36, 96, n), np.full(n, 80)], axis=1).astype(np.int64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    mels = [random_segment(rng, 10) for _ in range(args.pairs)]
    accs = [random_segment(rng, 30) for _ in range(args.pairs)]
    t_batch = best_time(lambda: H.evaluate_batch(mels, accs), args.repeat)
    n_loop = min(args.pairs, 1000)
    t_loop = best_time(lambda: [H.evaluate(m, a) for m, a in zip(mels[:n_loop], accs[:n_loop])], 1) * args.pairs / n_loop
    res = {"pairs": args.pairs, "evaluate_batch_s": round(t_batch, 4), "evaluate_loop_s_estimated": round(t_loop, 3),
           "speedup": round(t_loop / t_batch, 1), "machine": machine(),
           "command": "OMP_NUM_THREADS=1 python benchmarks/harmony_batch.py " + " ".join(sys.argv[1:])}
    OUT.write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

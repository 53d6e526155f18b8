"""Subnormal weights: how many each shipped model holds, and what they cost on one core.

    OMP_NUM_THREADS=1 python benchmarks/subnormal_weights.py

A subnormal float32 (nonzero, below 1.2e-38) is what weight decay leaves of a weight it has
shrunk for long; a CPU multiplies by one in a slow path. :func:`collage.pretrained.load_pretrained`
sets them to zero (:func:`~collage.pretrained.flush_subnormals`). For each shipped model with any, side
by side in one process (alternating, each timing the fastest of ``--repeats``): the whole network on a
batch of random windows, and for PreMixNet the fast second stage's per-pair head
(:meth:`~collage.mashup.fastscore.FastScorer.pair_logits`, as the first stage's shares rounds and
the second stage run it) on 4,800 random pairs of shares, with the weights as stored and flushed;
and the largest change of any output. Writes docs/results/subnormal_weights.md and .json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import best_time, loadavg, machine, write_results  # noqa: E402

from collage.mashup.fastscore import FastScorer  # noqa: E402
from collage.pretrained import build_model, load_card, load_pretrained, read_state_dict, shipped_names, weights_dir  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"
TINY = np.finfo(np.float32).tiny


def as_stored(name: str):
    """The shipped model ``name`` with its weights exactly as stored (no flushing)."""
    card = load_card(name)
    model = build_model(card["architecture"], card.get("config") or {})
    model.load_state_dict(torch.load(weights_dir() / f"{name}.pt", map_location="cpu", weights_only=True))
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--batch", type=int, default=64, help="Windows per whole-network call.")
    ap.add_argument("--pairs", type=int, default=4800, help="Pairs per head call (a shares round's 300 segments x 8 partners x 2 sides).")
    args = ap.parse_args()
    torch.set_num_threads(1)
    counts = {}
    for name in shipped_names():
        state = read_state_dict(weights_dir() / f"{name}.pt")
        floats = [v for v in state.values() if v.dtype.kind == "f"]
        n = int(sum(((np.abs(v) < TINY) & (v != 0)).sum() for v in floats))
        counts[name] = {"subnormal": n, "weights": int(sum(v.size for v in floats))}
    rng = np.random.default_rng(0)
    timings = {}
    for name in [n for n, c in counts.items() if c["subnormal"] and n.startswith("mashability_")]:
        raw, flushed = as_stored(name), load_pretrained(name)
        cfg = raw.config
        x = torch.from_numpy(rng.standard_normal((args.batch, cfg.n_sources, cfg.in_rows, 256)).astype(np.float32))
        with torch.no_grad():
            out_raw, out_flushed = raw(x), flushed(x)
        row = {"network_batch_ms": {}, "max_output_change": float((out_raw - out_flushed).abs().max())}
        for label, model in (("stored", raw), ("flushed", flushed)):
            with torch.no_grad():
                row["network_batch_ms"][label] = round(1000 * best_time(lambda m=model: m(x), args.repeats), 2)
        if name == "mashability_premixnet":
            W, c, T = 3, cfg.c1d, 32  # a 25 s mashup's distinct windows, share channels, share frames
            v = torch.randn(W, c, T, 1)
            H, P = torch.randn(300, W, c, T, 1), torch.randn(300, W, c, T, 1)
            HH = torch.randn(300, W, 2 * cfg.harmony)
            a, b = rng.integers(0, 300, args.pairs), rng.integers(0, 300, args.pairs)
            fast = {"stored": FastScorer(raw), "flushed": FastScorer(flushed)}
            sides = {k: f.pair_sides(v, H, P, HH) for k, f in fast.items()}
            logits = {k: f.pair_logits(sides[k], a, b) for k, f in fast.items()}
            row["max_head_logit_change"] = float(np.abs(logits["stored"] - logits["flushed"]).max())
            row["head_ms"] = {k: round(1000 * best_time(lambda f=f, k=k: f.pair_logits(sides[k], a, b), args.repeats), 1)
                              for k, f in fast.items()}
            row["head_pairs"] = args.pairs
        timings[name] = row
    out = {"counts": counts, "timings": timings, "repeats": args.repeats, "batch": args.batch, "machine": machine(),
           "loadavg_after": loadavg(), "command": "OMP_NUM_THREADS=1 python benchmarks/subnormal_weights.py " + " ".join(sys.argv[1:])}
    write_report(out)


def write_report(out: dict) -> None:
    with_any = {n: c for n, c in out["counts"].items() if c["subnormal"]}
    lines = [
        "# Subnormal weights in the shipped models",
        "",
        f"Of {len(out['counts'])} shipped weight files, {len(with_any)} hold subnormal float32 values (nonzero, below "
        "1.2e-38: what weight decay leaves of a weight it shrank for long): "
        + ", ".join(f"`{n}` {c['subnormal']} of {c['weights']:,}" for n, c in with_any.items())
        + ". A CPU multiplies by a subnormal number in a slow path. `load_pretrained` now sets them to zero "
        "(`collage.pretrained.flush_subnormals`); the outputs do not change beyond float rounding.",
        "",
        "Side by side in one process, one thread, each the fastest of "
        f"{out['repeats']} runs: the weights as stored against flushed.",
        "",
        "| model | what | as stored | flushed | speed-up | largest output change |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in out["timings"].items():
        s, f = r["network_batch_ms"]["stored"], r["network_batch_ms"]["flushed"]
        lines.append(f"| `{name}` | whole network, {out['batch']} windows of 256 frames | {s} ms | {f} ms | "
                     f"{s / f:.1f}x | {r['max_output_change']:.1e} (log-probability) |")
        if "head_ms" in r:
            s, f = r["head_ms"]["stored"], r["head_ms"]["flushed"]
            lines.append(f"| `{name}` | fast second stage's head (`FastScorer.pair_logits`), {r['head_pairs']:,} pairs "
                         f"| {s} ms | {f} ms | {s / f:.1f}x | {r['max_head_logit_change']:.1e} (log-odds) |")
    write_results(OUT, "subnormal_weights", out, lines)


if __name__ == "__main__":
    main()

"""Choose the MMT's default sampling (temperature, top-k) on the validation split.

For each setting of a small grid, ``--samples`` unconditioned samples of 64
beats are drawn (seeds 10000.., never the evaluation's 0..99) and their
pitch class entropy, scale consistency and groove consistency are compared
with the first 64 beats of every *validation* piece, exactly as
``collage eval generate`` compares them with the test pieces.

The rule, written before any setting was run: a setting's score is the
largest of its three gaps to the validation ground truth, each divided by
the paper's own gap for that statistic (0.172, 2.48 points, 0.96 points;
:data:`collage.evaluation.generate.PAPER`), so a score below 1 means every
statistic is closer to its ground truth than the paper's MMT was to its
own. The setting with the lowest score is chosen; a tie (within 0.05)
goes to the lower temperature, then the smaller top-k (the more
conservative sampler). The test split is not read here.

The grid was first temperature 1.0-1.2 x top-k 0.1-0.4, set for the
930-step model, whose samples were too tonal (pitch class entropy 2.31
against 2.79). For the 2,100-step model that pass put every statistic's
best at the grid's low edge (T 1.0, k 0.1: scale consistency 4.97 points
below the validation pieces), so the grid was widened downward to the one
below; the rule did not change.

Usage::

    python benchmarks/generate_sampling.py --model mmt --json docs/results/generate_sampling.json \
        --markdown docs/results/generate_sampling.md
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import loadavg, machine  # noqa: E402

GRID_T = (0.8, 0.9, 1.0, 1.1)
GRID_K = (0.05, 0.1, 0.2, 0.4)
TIE = 0.05


def score(samples: dict, truth: dict) -> tuple[float, dict]:
    """Largest gap over the paper's gap, and each statistic's gap (absolute)."""
    from collage.evaluation.generate import METRICS, PAPER

    gaps = {m: abs(samples[m]["mean"] - truth[m]["mean"]) for m in METRICS}
    paper = {m: abs(PAPER["mmt"][m][0] - PAPER["ground_truth"][m][0]) for m in METRICS}
    return max(gaps[m] / paper[m] for m in METRICS), gaps


def choose(rows: list[dict]) -> dict:
    """The rule of the module docstring."""
    best = min(r["score"] for r in rows)
    tied = [r for r in rows if r["score"] <= best + TIE]
    return min(tied, key=lambda r: (r["temperature"], r["top_k"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mmt", help="MMT weights: shipped name or .pt path")
    ap.add_argument("--samples", type=int, default=40, help="samples per setting")
    ap.add_argument("--beats", type=int, default=64)
    ap.add_argument("--json", dest="json_out")
    ap.add_argument("--markdown")
    a = ap.parse_args()

    import torch

    from collage.datasets.mmt import mmt_arrays
    from collage.evaluation.generate import evaluate_generate
    from collage.pretrained import load_pretrained

    torch.set_num_threads(1)
    model = load_pretrained(a.model)
    val = mmt_arrays("val")
    rows = []
    for t in GRID_T:
        for k in GRID_K:
            t0 = time.time()
            r = evaluate_generate(model, n_samples=a.samples, beats=a.beats, seed=10_000, temperature=t, top_k=k,
                                  parts=("objective",), test_arrays=val)
            obj = r["objective"]
            s, gaps = score(obj["samples"], obj["ground_truth"])
            rows.append({"temperature": t, "top_k": k, "score": s, "gaps": gaps,
                         "samples": {m: v["mean"] for m, v in obj["samples"].items()},
                         "notes_mean": r["sample_sizes"]["notes_mean"], "seconds": time.time() - t0})
            print(f"T={t} k={k}: score {s:.2f} gaps {gaps} ({time.time() - t0:.0f} s)", flush=True)
    chosen = choose(rows)
    truth = {m: v["mean"] for m, v in obj["ground_truth"].items()}  # the same validation pieces for every row
    card = getattr(model, "card", {})
    out = {"model": {"weights": a.model, "sha256": card.get("sha256"),
                     "steps": card.get("training", {}).get("steps_run")},
           "samples_per_setting": a.samples, "beats": a.beats, "val_ground_truth": truth,
           "rows": rows, "chosen": {"temperature": chosen["temperature"], "top_k": chosen["top_k"]},
           "machine": machine(), "loadavg": loadavg()}
    print(json.dumps(out["chosen"]))
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(out, indent=1) + "\n")
    if a.markdown:
        Path(a.markdown).write_text(to_markdown(out))


def to_markdown(out: dict) -> str:
    m = out["model"]
    lines = [
        "# MMT sampling: temperature and top-k chosen on the validation split",
        "",
        f"Command: `python benchmarks/generate_sampling.py --model {m['weights']} --samples "
        f"{out['samples_per_setting']} --json docs/results/generate_sampling.json --markdown "
        "docs/results/generate_sampling.md` (one thread; load average at the end "
        f"{out['loadavg']}).",
        "",
        f"Weights: sha256 {str(m['sha256'])[:12]}..., {m['steps']} training steps. "
        f"{out['samples_per_setting']} unconditioned samples of {out['beats']} beats per setting (seeds 10000..) "
        "against the first 64 beats of every validation piece. The rule (in the script's docstring, written "
        "before the runs): the lowest largest gap over the paper's gap; ties within 0.05 to the lower "
        "temperature, then the smaller top-k. The test split is not read. A first pass over temperature "
        "1.0-1.2 x top-k 0.1-0.4 (set for the 930-step model, whose samples were too tonal) put every best "
        "at the grid's low edge for these weights, so the grid was widened downward; the rule did not change.",
        "",
        "Validation ground truth: " + ", ".join(f"{k} {v:.3f}" for k, v in out["val_ground_truth"].items()) + ".",
        "",
        "| temperature | top-k | pitch class entropy | scale consistency (%) | groove consistency (%) "
        "| notes per sample | score (largest gap / paper's gap) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in out["rows"]:
        s = r["samples"]
        lines.append(f"| {r['temperature']} | {r['top_k']} | {s['pitch_class_entropy']:.3f} | "
                     f"{s['scale_consistency']:.2f} | {s['groove_consistency']:.2f} | {r['notes_mean']:.0f} | "
                     f"{r['score']:.2f} |")
    c = out["chosen"]
    lines += ["", f"Chosen: temperature {c['temperature']}, top-k {c['top_k']} (the default of `collage generate` "
              "and `collage.generate`).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

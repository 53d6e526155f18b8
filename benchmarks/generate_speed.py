"""Generation speed of the Multitrack Music Transformer on one CPU thread, with and without the KV cache.

Generates unconditioned music 64 beats at a time (each call continues the
previous one, as ``collage generate --continue`` would) until at least
``--notes`` notes exist, and reports notes per second over the whole run
and the process's peak resident memory. ``--no-cache`` recomputes the
whole window for every note (the cost the cache saves), timed on the first
``--no-cache-notes`` notes only.

Usage::

    python benchmarks/generate_speed.py                       # shipped mmt weights
    python benchmarks/generate_speed.py --model runs/mmt/x.pt --json docs/results/generate_speed.json

Results are recorded in docs/results/generate.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from common import loadavg, machine, version  # noqa: E402


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(model, *, notes: int, chunk_beats: int, seed: int) -> dict:
    from collage.generation.sampling import sample_codes
    from collage.represent import mmt as rep

    codes = np.array([[rep.SOS, 0, 0, 0, 0, 0]], dtype=np.int64)
    end, calls = 0, 0
    t = time.perf_counter()
    while int((codes[:, rep.TYPE] == rep.NOTE).sum()) < notes and calls < 200:
        end += chunk_beats
        codes = sample_codes(model, codes, end_beat=end, max_notes=32 * chunk_beats, seed=seed + calls)
        calls += 1
    dt = time.perf_counter() - t
    n = int((codes[:, rep.TYPE] == rep.NOTE).sum())
    return {"notes": n, "beats": end, "calls": calls, "seconds": dt, "notes_per_s": n / dt}


def run_no_cache(model, *, notes: int, seed: int) -> dict:
    """The same sampling, but every step re-reads the whole window (no KV cache)."""
    import collage.generation.sampling as s
    from collage.represent import mmt as rep

    class NoCacheWindow(s._Window):
        def step(self, event_rel):
            self.events_rel = np.concatenate([self.events_rel, event_rel[None]])
            logits = self.model(torch.from_numpy(self.events_rel)[None])
            self.cache.length = len(self.events_rel)
            return [lg[0, -1] for lg in logits]

        def prefill(self, notes_abs):
            out = super().prefill(notes_abs)
            notes = notes_abs.copy()
            keep = self.cache.length - len(self.header)
            notes = notes[len(notes) - keep:] if keep else notes[:0]
            notes[:, rep.BEAT] -= self.offset
            self.events_rel = np.concatenate([self.header, notes]).astype(np.int64)
            return out

    orig = s._Window
    s._Window = NoCacheWindow
    try:
        t = time.perf_counter()
        codes = s.sample_codes(model, np.array([[rep.SOS, 0, 0, 0, 0, 0]]), end_beat=10_000, max_notes=notes, seed=seed)
        dt = time.perf_counter() - t
    finally:
        s._Window = orig
    n = int((codes[:, rep.TYPE] == rep.NOTE).sum())
    return {"notes": n, "seconds": dt, "notes_per_s": n / dt}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mmt", help="shipped name or .pt path")
    ap.add_argument("--notes", type=int, default=1000)
    ap.add_argument("--chunk-beats", type=int, default=64)
    ap.add_argument("--no-cache-notes", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the result here")
    ap.add_argument("--markdown", default=None, help="also write a short report here")
    a = ap.parse_args()
    torch.set_num_threads(1)
    from collage.pretrained import load_pretrained

    base = _peak_mib()
    model = load_pretrained(a.model)
    n_params = sum(p.numel() for p in model.parameters())
    runs = [run(model, notes=a.notes, chunk_beats=a.chunk_beats, seed=a.seed + 1000 * i) for i in range(a.repeat)]
    peak = _peak_mib()
    nc = run_no_cache(model, notes=a.no_cache_notes, seed=a.seed) if a.no_cache_notes else None
    best = max(runs, key=lambda r: r["notes_per_s"])
    out = {
        "model": str(a.model), "sha256": getattr(model, "card", {}).get("sha256"), "n_parameters": n_params,
        "config": dict(model.config.__dict__),
        "runs_kv_cache": runs, "best_notes_per_s": best["notes_per_s"],
        "median_notes_per_s": float(np.median([r["notes_per_s"] for r in runs])),
        "no_cache": nc, "peak_rss_mib": peak, "rss_before_model_mib": base,
        "threads": torch.get_num_threads(), "machine": machine(), "loadavg_after": loadavg(),
        "torch": version("torch"),
    }
    print(json.dumps(out, indent=1, default=str))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    if a.markdown:
        cmd = "python benchmarks/generate_speed.py " + " ".join(sys.argv[1:])
        rows = "\n".join(f"| {i + 1} | {r['notes']} | {r['beats']} | {r['calls']} | {r['seconds']:.2f} | {r['notes_per_s']:.1f} |"
                         for i, r in enumerate(runs))
        text = (
            "# Generation speed of the Multitrack Music Transformer\n\n"
            f"Command: `{cmd}`. Machine: {out['machine']}; one PyTorch thread; load average after the run "
            f"{out['loadavg_after']} (the machine is shared).\n\n"
            f"Weights `{a.model}` ({n_params:,} parameters). Unconditioned music generated {a.chunk_beats} beats per call, "
            f"each call continuing the last, until at least {a.notes} notes; key-value cache on.\n\n"
            "| run | notes | beats | calls | seconds | notes/s |\n|---|---|---|---|---|---|\n" + rows + "\n\n"
            f"Median {out['median_notes_per_s']:.1f} notes/s, best {out['best_notes_per_s']:.1f} notes/s. "
            f"Peak resident memory of the process: {peak:.0f} MiB ({base:.0f} MiB before the model was loaded).\n"
        )
        if nc:
            text += (f"\nWithout the cache (every note re-reads the whole window), on the first {nc['notes']} notes: "
                     f"{nc['notes_per_s']:.1f} notes/s.\n")
        Path(a.markdown).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

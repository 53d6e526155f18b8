"""Inference latency per note of the part separation models (``collage arrange``), one CPU thread.

The online LSTM is run as a live keyboard would use it: one note at a time,
carrying its recurrent state (features of the note -> logits -> part), so
the latency per note is what a player waits between striking a key and
hearing it on its instrument. For comparison: the online Transformer
decoder re-reading its whole past context (up to ``--context`` notes) for
every new note, and the offline models' time per note over a whole piece.

Usage::

    python benchmarks/arrange_latency.py                 # shipped Bach weights (random ones if absent)
    python benchmarks/arrange_latency.py --notes 2000 --context 500

Prints a table (median, 95th percentile and max milliseconds per note) and
the machine; results are recorded in docs/results/arrange.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from common import loadavg, machine, version  # noqa: E402


def _model(arch: str, name: str):
    from collage.pretrained import build_model, load_pretrained, shipped_names

    if name in shipped_names():
        return load_pretrained(name), "shipped"
    return build_model(arch).eval(), "random (same size)"


def _notes(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    on = np.cumsum(rng.choice([0, 0, 6, 12, 24], n))
    notes = np.stack([on, rng.integers(6, 48, n), rng.integers(40, 80, n)], axis=1)
    return notes[np.lexsort((notes[:, 1], notes[:, 2], notes[:, 0]))]


def _stats(ms: list[float]) -> tuple[float, float, float]:
    ms = sorted(ms)
    return statistics.median(ms), ms[int(0.95 * (len(ms) - 1))], ms[-1]


def bench_lstm_live(n: int) -> tuple[list[float], str]:
    """Per-note latency of the online LSTM, note by note with its state (features included)."""
    from collage.arrangement.data import note_features
    from collage.models.arrange import batch_features

    model, what = _model("arrange_lstm", "arrange_bach_lstm")
    notes = _notes(n)
    state, times = None, []
    with torch.inference_mode():
        for i in range(n):
            t = time.perf_counter()
            f = note_features(notes[i:i + 1], n_parts=model.config.n_parts)
            logits, state = model(batch_features([f]), state=state, return_state=True)
            int(logits[0, -1].argmax())
            times.append(1e3 * (time.perf_counter() - t))
    return times[10:], what  # the first few include lazy initialisation


def bench_transformer_dec_live(n: int, context: int) -> tuple[list[float], str]:
    """Per-note latency of the online Transformer decoder re-reading the last ``context`` notes."""
    from collage.arrangement.data import note_features
    from collage.models.arrange import batch_features

    model, what = _model("arrange_transformer_dec", "arrange_bach_transformer_dec")
    notes = _notes(n)
    times = []
    with torch.inference_mode():
        for i in range(n):
            t = time.perf_counter()
            window = notes[max(0, i + 1 - context):i + 1]
            f = note_features(window, n_parts=model.config.n_parts)
            int(model(batch_features([f]))[0, -1].argmax())
            times.append(1e3 * (time.perf_counter() - t))
    return times[10:], what


def bench_offline(arch: str, name: str, n: int) -> tuple[float, str]:
    """Milliseconds per note for a whole ``n``-note piece at once."""
    from collage.arrangement.neural import predict_parts

    model, what = _model(arch, name)
    notes = _notes(n)
    predict_parts(model, notes[:50])
    t = time.perf_counter()
    predict_parts(model, notes)
    return 1e3 * (time.perf_counter() - t) / n, what


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=2000, help="notes to play through each model")
    ap.add_argument("--context", type=int, default=500, help="past notes the Transformer decoder re-reads")
    args = ap.parse_args()
    torch.set_num_threads(1)

    print(f"machine: {machine()}; load average {loadavg()}; torch {version('torch')}, 1 thread")
    rows = []
    ms, what = bench_lstm_live(args.notes)
    rows.append(("LSTM (online), note by note with state", what, *_stats(ms)))
    ms, what = bench_transformer_dec_live(min(args.notes, 600), args.context)
    rows.append((f"Transformer-Dec (online), re-reads last {args.context} notes", what, *_stats(ms)))
    for arch, name, label in (("arrange_bilstm", "arrange_bach_bilstm", "BiLSTM (offline), whole piece"),
                              ("arrange_transformer_enc", "arrange_bach_transformer_enc",
                               "Transformer-Enc (offline), whole piece"),
                              ("arrange_lstm", "arrange_bach_lstm", "LSTM, whole piece at once")):
        per, what = bench_offline(arch, name, args.notes)
        rows.append((label, what, per, float("nan"), float("nan")))
    print("\n| model | weights | median ms/note | p95 ms/note | max ms/note |\n|---|---|---:|---:|---:|")
    for label, what, med, p95, mx in rows:
        f = lambda x: "–" if x != x else f"{x:.3f}"  # noqa: E731
        print(f"| {label} | {what} | {f(med)} | {f(p95)} | {f(mx)} |")


if __name__ == "__main__":
    main()

"""How far is the key goal from what the annotations allow? Key from the true notes of the same clips.

    OMP_NUM_THREADS=1 python benchmarks/key_ceiling.py

The audio key estimate (:func:`collage.audio.analyze.estimate_key`) scores 0.75 (stems) on the
86 test clips of ``benchmarks/mashup_analysis.py`` against ``key_audio.txt`` (issue 4's goal:
0.8), but 0.93-0.95 on 40 val clips. This script asks whether the audio is the problem: it
estimates the key of exactly those clips (same songs, same 30 s windows) from the MIDI notes,
with no audio in between:

1. ``profile``: duration-weighted pitch-class histogram of all notes in the window, correlated
   with the ``pop909`` key profile (what the audio path does with its chroma);
2. ``learned``: a key classifier that shares its weights across the 12 tonics (each candidate
   tonic sees the histograms rotated to it; a linear layer, or an MLP with 32 hidden units,
   scores major and minor), on the pitch-class histogram, its square root and the histogram of
   the chord bass (``chord_midi.txt``); trained on 6 random 30 s windows of every train song
   (label: the key sounding longest in the window), cross-entropy, Adam, 300 full-batch epochs.

MIREX weighted score (``mir_eval``). Writes docs/results/key_ceiling.json and .md.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from collage.represent.pitch import PITCH_NAMES

sys.path.insert(0, str(Path(__file__).resolve().parent))

from analysis_choices import pop909_profiles  # noqa: E402
from common import machine  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"
BENCH = {"test": 86, "val": 40}  # the clips of mashup_analysis.py (all 4/4 test songs) and analysis_choices.py (val)
WINDOW_S = 30.0


def histograms(song, a: float, z: float) -> tuple[np.ndarray, np.ndarray]:
    """``(pitch-class histogram (12,), chord-bass histogram (12,))``, seconds inside ``[a, z]``."""
    from collage.represent.chord import parse_chord

    p = song.piece
    h = np.zeros(12)
    for t in p.tracks:
        d = np.clip(np.minimum(p.ticks_to_seconds(t.offsets), z) - np.maximum(p.ticks_to_seconds(t.onsets), a), 0, None)
        np.add.at(h, t.pitches % 12, d)
    b = np.zeros(12)
    for (s, e), label in zip(song.chord_spans, song.chord_labels):
        bass = parse_chord(label).bass
        if bass >= 0:
            b[bass] += max(0.0, min(e, z) - max(s, a))
    return h, b


def features(song, a: float, z: float) -> np.ndarray | None:
    """``(36,)``: pitch-class shares, their square roots, chord-bass shares (None if silent)."""
    h, b = histograms(song, a, z)
    if h.sum() <= 0:
        return None
    h, b = h / h.sum(), b / max(b.sum(), 1e-9)
    return np.concatenate([h, np.sqrt(h), b])


def label_of(key: str) -> int:
    from collage.audio.analyze import parse_key

    tonic, mode = parse_key(key)
    return tonic + 12 * (mode == "minor")


def random_windows(split: str, per_song: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from collage.datasets.pop909 import load_song, split_ids
    from collage.mashup.stems import clip_truth

    rng = np.random.default_rng(seed)
    X, Y = [], []
    for sid in split_ids(split).tolist():
        song = load_song(sid)
        end = float(song.beat_times[-1])
        if end < WINDOW_S + 1:
            continue
        for a in rng.uniform(0, end - WINDOW_S, per_song):
            key, f = clip_truth(song, a, a + WINDOW_S)["key"], features(song, a, a + WINDOW_S)
            if key is not None and f is not None:
                X.append(f)
                Y.append(label_of(key))
    return np.asarray(X), np.asarray(Y)


def bench_clips(split: str, n: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """The benchmark's clips: same songs and windows as the rendered ones (true key from their metadata)."""
    from collage.datasets.pop909 import load_song
    from collage.evaluation.analysis import validation_clips

    X, Y, ids = [], [], []
    for meta in validation_clips(n, split=split):
        song = load_song(meta["song_id"])
        X.append(features(song, meta["start_s"], meta["end_s"]))
        Y.append(label_of(meta["key"]))
        ids.append(meta["song_id"])
    return np.asarray(X), np.asarray(Y), ids


def candidates(X: np.ndarray) -> np.ndarray:
    """``(N, 36)`` -> ``(N, 12, 36)``: each block of 12 rotated so that candidate tonic t is index 0."""
    B = X.reshape(len(X), -1, 12)
    return np.stack([np.roll(B, -t, axis=2).reshape(len(X), -1) for t in range(12)], axis=1)


def fit(X: np.ndarray, Y: np.ndarray, hidden: int, epochs: int = 300, seed: int = 0):
    import torch

    torch.manual_seed(seed)
    head = torch.nn.Linear(X.shape[1], 2) if hidden == 0 else torch.nn.Sequential(
        torch.nn.Linear(X.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2))
    c, y = torch.tensor(candidates(X), dtype=torch.float32), torch.tensor(Y)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2, weight_decay=1e-4)

    def logits(c):  # (N, 12, F) -> (N, 24): major tonics, then minor
        o = head(c)
        return torch.cat([o[..., 0], o[..., 1]], dim=1)

    for _ in range(epochs):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(logits(c), y).backward()
        opt.step()

    def predict(X):
        with torch.no_grad():
            return logits(torch.tensor(candidates(X), dtype=torch.float32)).argmax(1).numpy()

    return predict


def profile_predict(profiles: dict):
    def predict(X):
        out = []
        for h in X[:, :12]:
            scores = [np.corrcoef(h, np.roll(profiles[m], t))[0, 1] for m in ("major", "minor") for t in range(12)]
            out.append(int(np.argmax(scores)))
        return np.asarray(out)

    return predict


def weighted(pred: np.ndarray, Y: np.ndarray) -> float:
    import mir_eval

    def name(k):
        return f"{PITCH_NAMES[k % 12]} {'minor' if k >= 12 else 'major'}"

    return float(np.mean([mir_eval.key.weighted_score(name(y), name(p)) for p, y in zip(pred, Y)]))


def main() -> None:
    import torch

    torch.set_num_threads(1)
    t0 = time.time()
    Xtr, Ytr = random_windows("train", 6)
    Xva, Yva = random_windows("val", 3)
    bench = {s: bench_clips(s, n) for s, n in BENCH.items()}
    profiles = pop909_profiles("train")
    methods = {"profile (pop909), pitch classes": profile_predict(profiles),
               "learned, linear": fit(Xtr, Ytr, 0),
               "learned, MLP 32": fit(Xtr, Ytr, 32)}
    audio = json.loads((OUT / "mashup_analysis.json").read_text())
    rows = {}
    for name, predict in methods.items():
        rows[name] = {"train windows": weighted(predict(Xtr), Ytr), "val windows": weighted(predict(Xva), Yva)}
        for s, (X, Y, _) in bench.items():
            rows[name][f"{s} clips"] = weighted(predict(X), Y)
    res = {"rows": rows, "n": {"train windows": len(Ytr), "val windows": len(Yva),
                               **{f"{s} clips": len(b[1]) for s, b in bench.items()}},
           "audio_test_clips": {"stems": audio.get("key_score"), "mix": audio.get("key_score_mix")},
           "seconds": round(time.time() - t0, 1)}
    (OUT / "key_ceiling.json").write_text(json.dumps(res, indent=1))
    cols = ["train windows", "val windows", "val clips", "test clips"]
    lines = [
        "# Key from the true notes of the analysis clips: how much of the key goal the annotations allow",
        "",
        "The audio key estimate scores "
        f"{res['audio_test_clips']['stems']:.3f} (stems) / {res['audio_test_clips']['mix']:.3f} (mix) on the 86 test "
        "clips of [mashup_analysis.md](mashup_analysis.md) (goal 0.8) and 0.93-0.95 on the 40 val clips of "
        "[analysis_choices.md](analysis_choices.md). Here the key of the same windows is estimated from the MIDI "
        "notes (and the annotated chords' bass), with no audio, against the same `key_audio.txt` truth "
        "(MIREX weighted score). Random windows: 30 s, 6 per train song and 3 per val song, labelled with the key "
        "sounding longest in the window.",
        "",
        "| method | " + " | ".join(f"{c} (n={res['n'][c]})" for c in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    lines += [f"| {name} | " + " | ".join(f"{r[c]:.3f}" for c in cols) + " |" for name, r in rows.items()]
    lines += [
        "",
        "Methods: `profile`: the pitch-class histogram correlated with the `pop909` profile (the audio path's method "
        "without the audio); `learned`: a tonic-shared classifier on pitch-class shares, their square roots and the "
        "chord-bass shares, trained on the train windows (see the script's docstring).",
        "",
        f"Machine: {machine()}; wall time {res['seconds']:.0f} s. Command: "
        "`OMP_NUM_THREADS=1 python benchmarks/key_ceiling.py`",
    ]
    (OUT / "key_ceiling.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""How well is a vocal's bar phase found from the vocal alone? (the ``downbeat phase`` that
``collage mashup score`` reports; session 18, docs/results/mashup.md)

    OMP_NUM_THREADS=1 python benchmarks/vocal_bar_phase.py --out docs/results/vocal_bar_phase.json

Given the annotated beats of each rendered POP909 clip, the bar phase (which of the 4 beats is the
downbeat) is found from the vocal stem by :func:`collage.audio.analyze.estimate_downbeats` (the
vocal passed as ``harmonic``: bass-band onsets and chord change), and by a candidate: a weighted
sum of z-scored per-beat cues (those two, plus onset strength, RMS and RMS rise), the weights
chosen on the train clips from a grid of {-1, -0.5, 0, 0.5, 1}. Accuracy on the train clips and
on the 77 val clips rendered with the unseen gmbank soundfont (chance: 0.25).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

CUES = ("low", "change", "onset", "rms", "rise")
GRID = (-1.0, -0.5, 0.0, 0.5, 1.0)


def _cues(y: np.ndarray, sr: int, beats: np.ndarray) -> dict:
    """Per-beat cues of a vocal, each ``(B,)``, z-scored over the clip."""
    import librosa

    from collage.audio.analyze import HOP, _at, _band_envelopes

    frames = librosa.time_to_frames(beats, sr=sr, hop_length=HOP)
    low = _band_envelopes(y, sr)[0]
    onset = librosa.onset.onset_strength(y=y, sr=sr, hop_length=HOP)
    rms = librosa.feature.rms(y=y, hop_length=HOP)[0]
    bounds = np.clip(np.concatenate([frames, [len(rms)]]), 0, len(rms))
    f_rms = np.array([rms[a:b].mean() if b > a else 0.0 for a, b in zip(bounds[:-1], bounds[1:])])
    chroma = librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=HOP)
    b2 = np.clip(np.concatenate([frames, [chroma.shape[1]]]), 0, chroma.shape[1])
    sync = librosa.util.sync(chroma, b2, aggregate=np.mean, pad=False)[:, : len(beats)]
    sync = sync / (np.linalg.norm(sync, axis=0, keepdims=True) + 1e-9)
    change = np.concatenate([[0.0], 1.0 - np.sum(sync[:, 1:] * sync[:, :-1], axis=0)])[: len(beats)]
    cues = {"low": _at(low, np.clip(frames, 0, len(low) - 1)), "change": change,
            "onset": _at(onset, np.clip(frames, 0, len(onset) - 1)), "rms": f_rms,
            "rise": np.concatenate([[0.0], np.maximum(0.0, np.diff(np.log(f_rms + 1e-6)))])}
    return {c: (x - x.mean()) / (x.std() + 1e-9) for c, x in cues.items()}


def _clips(split: str, n: int, root) -> list[dict]:
    import soundfile as sf

    from collage.audio.analyze import estimate_downbeats
    from collage.mashup.rendered import load_rendered_clips, split_songs

    out = []
    for c in load_rendered_clips(split, root=root, songs=split_songs(split, n)):
        y = sf.read(c.stems["vocals"], dtype="float32")[0]
        beats = c.beats[c.beats < len(y) / c.sr - 0.1]
        if len(beats) < 8:
            continue
        truth = int(np.argmin([np.min(np.abs(beats[p] - c.downbeats)) for p in range(4)]))
        shipped = estimate_downbeats(beats, c.sr, harmonic=y)
        out.append({"truth": truth, "shipped": int(np.argmin(np.abs(beats - shipped[0]))) % 4, "cues": _cues(y, c.sr, beats)})
    return out


def _phase(cues: dict, w) -> int:
    s = sum(wi * cues[c] for c, wi in zip(CUES, w) if wi)
    return int(np.argmax([s[p::4].mean() for p in range(4)]))


def _acc(clips, w) -> float:
    return float(np.mean([_phase(c["cues"], w) == c["truth"] for c in clips]))


def main(argv=None) -> int:
    from collage.mashup.rendered import render_timbre

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default="runs/mashup")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    train = _clips("train", 694, a.data_root)
    val = _clips("val", 77, render_timbre("val", 77, "gmbank", root=a.data_root))
    best = max((w for w in itertools.product(GRID, repeat=len(CUES)) if any(w)), key=lambda w: _acc(train, w))
    res = {"command": " ".join(["python", *sys.argv]), "clips": {"train": len(train), "val_gmbank": len(val)},
           "shipped": {s: round(float(np.mean([c["shipped"] == c["truth"] for c in d])), 4)
                       for s, d in (("train", train), ("val_gmbank", val))},
           "candidate": {"weights": dict(zip(CUES, best)), "train": round(_acc(train, best), 4),
                         "val_gmbank": round(_acc(val, best), 4)},
           "chance": 0.25}
    print(json.dumps(res, indent=1))
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Synthetic clips: sines in a key over clicks on a beat grid (no rendering needed)."""

import numpy as np
import pytest

from collage.mashup.generate import Clip, parse_key

SR = 16000


def synth_clip(clip_id: str, key: str, tempo: float, *, seconds: float = 12.0, sr: int = SR, seed: int = 0) -> Clip:
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    beat = 60.0 / tempo
    beats = np.arange(0.0, seconds - 1e-9, beat)
    pc, mode = parse_key(key)
    scale = [0, 2, 4, 5, 7, 9, 11] if mode == "major" else [0, 2, 3, 5, 7, 8, 10]
    f0 = 261.63 * 2 ** (pc / 12)
    vocals = np.zeros(n, np.float32)
    for b in beats:  # one scale note per beat
        k = scale[rng.integers(len(scale))]
        a, z = int(b * sr), min(int((b + 0.9 * beat) * sr), n)
        vocals[a:z] += 0.3 * np.sin(2 * np.pi * f0 * 2 ** (k / 12) * t[a:z] * 2)
    harmonic = sum(0.1 * np.sin(2 * np.pi * f0 * 2 ** (k / 12) * t) for k in (scale[0], scale[2], scale[4])).astype(np.float32)
    perc = np.zeros(n, np.float32)
    click = (rng.standard_normal(int(0.02 * sr)) * np.exp(-np.arange(int(0.02 * sr)) / 40)).astype(np.float32)
    for b in beats:
        a = int(b * sr)
        perc[a : a + len(click)] += click[: n - a]
    return Clip(clip_id, sr, key, tempo, beats, beats[::4], {"vocals": vocals, "harmonic": harmonic, "percussion": perc})


@pytest.fixture(scope="session")
def clips():
    specs = [("a", "C:maj", 120), ("b", "D:maj", 110), ("c", "A:min", 130), ("d", "F#:maj", 100), ("e", "Eb:maj", 70)]
    return [synth_clip(i, k, t, seed=s) for s, (i, k, t) in enumerate(specs)]

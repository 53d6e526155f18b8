"""Synthetic stems for tests: a 100 BPM pop groove, a I-IV-V-I chord stem and a sine melody in C major."""

from __future__ import annotations

import numpy as np

SR = 22050
BPM = 100.0
BEAT = 60.0 / BPM


def _burst(n, sr, kind, rng):
    t = np.arange(n) / sr
    if kind == "kick":
        return np.sin(2 * np.pi * (50 + 60 * np.exp(-t * 30)) * t) * np.exp(-t * 18)
    noise = rng.standard_normal(n)
    if kind == "snare":
        return 0.6 * noise * np.exp(-t * 25) + 0.4 * np.sin(2 * np.pi * 190 * t) * np.exp(-t * 20)
    hp = np.diff(noise, prepend=0.0)  # hats: high-passed noise, short
    return 0.25 * hp * np.exp(-t * 80)


def stems(seconds: float = 8.0, sr: int = SR, seed: int = 0, t0: float = 0.2) -> dict[str, np.ndarray]:
    """``{"vocals", "harmonic", "percussion"}``, each ``(seconds * sr,)`` float32; beats at
    ``t0 + k * BEAT``, downbeats every 4 beats, key C major."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    perc = np.zeros(n)
    n_beats = int((seconds - t0) / BEAT)
    for k in range(n_beats):
        for half in (0, 1):
            i = int((t0 + (k + half / 2) * BEAT) * sr)
            kinds = ["hat"] + (["kick"] if (half == 0 and k % 2 == 0) else []) + (["snare"] if (half == 0 and k % 2 == 1) else [])
            for kind in kinds:
                m = min(int(0.25 * sr), n - i)
                if m > 0:
                    perc[i:i + m] += _burst(m, sr, kind, rng)[:m]
    t = np.arange(n) / sr
    harm = np.zeros(n)
    chords = [(48, 60, 64, 67), (41, 57, 60, 65), (43, 55, 59, 62), (48, 60, 64, 67)]  # C F G C
    bar = 4 * BEAT
    for b in range(int(np.ceil(seconds / bar)) + 1):
        a, z = int((t0 + b * bar) * sr), int((t0 + (b + 1) * bar) * sr)
        a, z = max(a, 0), min(z, n)
        if a >= z:
            continue
        for p in chords[b % 4]:
            f = 440 * 2 ** ((p - 69) / 12)
            seg = t[a:z] - t[a]
            harm[a:z] += 0.08 * np.sin(2 * np.pi * f * t[a:z]) * np.exp(-seg * 0.8)
    if t0 > 0:
        harm[: int(t0 * sr)] += 0.08 * np.sin(2 * np.pi * 130.81 * t[: int(t0 * sr)])
    voc = np.zeros(n)
    melody = [72, 74, 76, 77, 79, 77, 76, 74, 72, 71, 72, 76]
    for k in range(n_beats):
        a, z = int((t0 + k * BEAT) * sr), min(int((t0 + (k + 0.9) * BEAT) * sr), n)
        f = 440 * 2 ** ((melody[k % len(melody)] - 69) / 12)
        voc[a:z] += 0.15 * np.sin(2 * np.pi * f * t[a:z]) * np.hanning(z - a)
    return {"vocals": voc.astype(np.float32), "harmonic": harm.astype(np.float32), "percussion": (0.5 * perc).astype(np.float32)}


def true_beats(seconds: float = 8.0, t0: float = 0.2) -> np.ndarray:
    return t0 + BEAT * np.arange(int((seconds - t0) / BEAT))


def song_db(tmp, n_songs: int):
    """``tmp/s.db``: ``n_songs`` synthetic 22 s songs (seeds 0..n-1) built as stems, and ``tmp/vocal.wav`` (seed 9),
    a vocal from none of them; returns ``tmp``."""
    import soundfile as sf

    from collage.mashup.builder import build

    d = tmp / "in"
    d.mkdir()
    for i in range(n_songs):
        for role, y in stems(22.0, seed=i).items():
            sf.write(d / f"song{i}.{role}.wav", y, SR)
    sf.write(tmp / "vocal.wav", stems(22.0, seed=9)["vocals"], SR)
    assert build(tmp / "s.db", d, source="stems", progress=False)["added"] == n_songs
    return tmp

"""AutoMashUpper's mashability (Davies, Hamel, Yoshii and Goto, IEEE/ACM TASLP 2014), rule-based.

For two stems on a common beat grid (the vocal's: in a rendered mashup every stem was
stretched to it) the pairwise mashability is

    M = w_h · H + w_r · R + w_l · L

- ``H`` harmonic: the cosine similarity of the two beat-synchronous chromagrams
  (12 × beats), averaged over beats, maximised over circular pitch shifts of the
  second (``shifts``); a rendered mashup is scored as it stands (``shifts=(0,)``);
- ``R`` rhythmic: the Pearson correlation of the two bar-level onset patterns (the
  onset-strength envelope sampled at 16 sub-beat positions per bar relative to the
  downbeats and averaged over bars); the part the public reimplementations left out;
- ``L`` spectral balance: one minus the normalised spread of the combined stems' energy
  over low / mid / high bands (< 250 Hz, 250-2500 Hz, > 2500 Hz), averaged over beats:
  1 when the pair fills all bands evenly, 0 when it sits in one.

For three stems the score is the mean over the three pairs. The weights are
``(0.4, 0.4, 0.2)`` (harmonic and rhythm first, as in the paper's emphasis).
The accuracy threshold is chosen on the validation split (``collage eval mashup``).
"""

from __future__ import annotations

import dataclasses
from itertools import combinations
from typing import Mapping, Sequence

import librosa
import numpy as np

from collage.errors import ParameterError

__all__ = ["StemFeatures", "stem_features", "pair_terms", "mashability", "WEIGHTS", "BANDS_HZ"]

WEIGHTS = (0.4, 0.4, 0.2)
BANDS_HZ = (250.0, 2500.0)
SUB_BEATS = 4
HOP = 512


@dataclasses.dataclass
class StemFeatures:
    """Beat-synchronous features of one stem: ``chroma (12, B)``, ``pattern (16,)``, ``bands (3, B)``."""

    chroma: np.ndarray
    pattern: np.ndarray
    bands: np.ndarray


def _beat_frames(beats_s: np.ndarray, sr: int, n_frames: int) -> np.ndarray:
    f = np.round(np.asarray(beats_s) * sr / HOP).astype(int)
    return np.unique(np.clip(f, 0, n_frames))


def stem_features(y: np.ndarray, sr: int, *, beats: np.ndarray, downbeats: np.ndarray) -> StemFeatures:
    """Features of ``y (n,)`` on the beat grid ``beats`` (s) with bars starting at ``downbeats`` (s)."""
    beats = np.asarray(beats, dtype=np.float64)
    if beats.ndim != 1 or beats.size < 2:
        raise ParameterError(f"given {beats.size} beats; expected at least 2 to score on a beat grid")
    S = np.abs(librosa.stft(y, n_fft=2048, hop_length=HOP))  # (F, T)
    n = S.shape[1]
    bf = _beat_frames(beats, sr, n)
    chroma = librosa.feature.chroma_stft(S=S**2, sr=sr, n_fft=2048, hop_length=HOP)
    chroma_b = librosa.util.sync(chroma, bf, aggregate=np.mean)  # (12, B)
    freqs = librosa.fft_frequencies(sr=sr, n_fft=2048)
    edges = (0.0, *BANDS_HZ, np.inf)
    power = S**2
    bands = np.stack([power[(freqs >= lo) & (freqs < hi)].sum(axis=0) for lo, hi in zip(edges[:-1], edges[1:])])
    bands_b = librosa.util.sync(bands, bf, aggregate=np.mean)  # (3, B)
    onset = librosa.onset.onset_strength(S=librosa.amplitude_to_db(S, ref=np.max), sr=sr, hop_length=HOP)
    t_frames = np.arange(len(onset)) * HOP / sr
    pattern = _bar_pattern(onset, t_frames, beats, np.asarray(downbeats, dtype=np.float64))
    return StemFeatures(chroma_b.astype(np.float32), pattern.astype(np.float32), bands_b.astype(np.float32))


def _bar_pattern(env: np.ndarray, t: np.ndarray, beats: np.ndarray, downbeats: np.ndarray) -> np.ndarray:
    """``(4 * SUB_BEATS,)`` mean onset strength at each sub-beat position of a 4-beat bar."""
    ibi = np.diff(beats)
    subs = (beats[:-1, None] + ibi[:, None] * np.arange(SUB_BEATS)[None, :] / SUB_BEATS).ravel()
    vals = np.interp(subs, t, env)
    # beat position in the bar: beats counted from the nearest previous downbeat
    pos = np.zeros(len(beats) - 1, dtype=int)
    for i, b in enumerate(beats[:-1]):
        prev = downbeats[downbeats <= b + 1e-3]
        pos[i] = int(np.sum((beats > prev[-1] - 1e-3) & (beats < b - 1e-3))) % 4 if prev.size else i % 4
    slot = (pos[:, None] * SUB_BEATS + np.arange(SUB_BEATS)[None, :]).ravel()
    pat = np.zeros(4 * SUB_BEATS)
    cnt = np.bincount(slot, minlength=4 * SUB_BEATS)
    np.add.at(pat, slot, vals)
    return pat / np.maximum(cnt, 1)


def _cos_frames(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a, axis=0), np.linalg.norm(b, axis=0)
    ok = (na > 1e-8) & (nb > 1e-8)
    if not ok.any():
        return 0.0
    return float(np.mean(np.sum(a[:, ok] * b[:, ok], axis=0) / (na[ok] * nb[ok])))


def pair_terms(a: StemFeatures, b: StemFeatures, *, shifts: Sequence[int] = (0,)) -> dict:
    """``{"harmonic", "rhythmic", "spectral", "shift"}`` of one pair; ``shift`` maximises ``harmonic``."""
    n = min(a.chroma.shape[1], b.chroma.shape[1])
    best, best_s = -np.inf, 0
    for s in shifts:
        h = _cos_frames(a.chroma[:, :n], np.roll(b.chroma[:, :n], int(s), axis=0))
        if h > best:
            best, best_s = h, int(s)
    pa, pb = a.pattern - a.pattern.mean(), b.pattern - b.pattern.mean()
    den = np.linalg.norm(pa) * np.linalg.norm(pb)
    rhythm = float(pa @ pb / den) if den > 1e-12 else 0.0
    e = a.bands[:, :n] + b.bands[:, :n]  # (3, B)
    p = e / np.maximum(e.sum(axis=0, keepdims=True), 1e-12)
    spread = p.std(axis=0) / np.sqrt(2.0 / 9.0)  # one-hot spread is sqrt(2/9)
    spectral = float(1.0 - np.mean(np.clip(spread, 0, 1))) if p.shape[1] else 0.0
    return {"harmonic": float(best), "rhythmic": rhythm, "spectral": spectral, "shift": best_s}


def mashability(
    stems: Mapping[str, np.ndarray],
    sr: int,
    *,
    beats: np.ndarray,
    downbeats: np.ndarray,
    shifts: Sequence[int] = (0,),
    weights: Sequence[float] = WEIGHTS,
) -> dict:
    """AutoMashUpper score of 2+ stems on one beat grid (s): ``{"score", "harmonic", "rhythmic", "spectral", "pairs"}``.

    ``score`` and each term are the means over the stem pairs.
    """
    if len(stems) < 2:
        raise ParameterError(f"given {len(stems)} stems; expected at least 2")
    feats = {k: stem_features(np.asarray(y, dtype=np.float32), sr, beats=beats, downbeats=downbeats) for k, y in stems.items()}
    pairs = {}
    for ka, kb in combinations(feats, 2):
        t = pair_terms(feats[ka], feats[kb], shifts=shifts)
        t["score"] = weights[0] * t["harmonic"] + weights[1] * t["rhythmic"] + weights[2] * t["spectral"]
        pairs[f"{ka}+{kb}"] = t
    out = {k: float(np.mean([p[k] for p in pairs.values()])) for k in ("score", "harmonic", "rhythmic", "spectral")}
    out["pairs"] = pairs
    return out

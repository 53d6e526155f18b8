"""Loudness normalisation (ITU-R BS.1770 via pyloudnorm) and mixing of stems.

>>> v = normalize_loudness(vocals, sr, target_lufs=-14.0)
>>> m = mix_stems([v, h, p], sr)                # loudness-normalised sum, peak <= 0.99

Audio is float32 mono ``(n,)``. A stem quieter than :data:`SILENCE_LUFS` is
left as it is (normalising silence would only amplify noise).
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from collage.errors import ParameterError

__all__ = ["loudness", "normalize_loudness", "mix_stems", "peak_guard", "SILENCE_LUFS", "DEFAULT_LUFS"]

DEFAULT_LUFS = -14.0
SILENCE_LUFS = -70.0
PEAK = 0.99


def _mono(y: np.ndarray, what: str = "audio") -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ParameterError(f"given {what} of shape {y.shape}; expected a non-empty mono array (n,)")
    if not np.all(np.isfinite(y)):
        raise ParameterError(f"given {what} contains NaN or infinite samples")
    return y.astype(np.float32, copy=False)


def loudness(y: np.ndarray, sr: int) -> float:
    """Integrated loudness in LUFS; ``-inf`` for silence or audio shorter than one 400 ms block."""
    # deferred: pyloudnorm (1 s to import, with scipy) loads on first use
    import pyloudnorm

    y = _mono(y)
    if y.size < int(0.4 * sr) + 1 or not np.any(y):
        return float("-inf")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(pyloudnorm.Meter(sr).integrated_loudness(y.astype(np.float64)))


def peak_guard(y: np.ndarray, peak: float = PEAK) -> np.ndarray:
    """Scale ``y`` down so that ``max|y| <= peak`` (unchanged when it already is)."""
    m = float(np.max(np.abs(y))) if y.size else 0.0
    return (y * (peak / m)).astype(np.float32) if m > peak else y.astype(np.float32, copy=False)


def normalize_loudness(y: np.ndarray, sr: int, *, target_lufs: float = DEFAULT_LUFS, peak: float = PEAK) -> np.ndarray:
    """``y`` scaled to ``target_lufs`` integrated loudness, then peak-guarded. ``(n,) -> (n,)``."""
    if not (np.isfinite(target_lufs) and -60 <= target_lufs <= 0):
        raise ParameterError(f"given target_lufs={target_lufs!r}; expected LUFS in [-60, 0]")
    y = _mono(y)
    lufs = loudness(y, sr)
    if not np.isfinite(lufs) or lufs < SILENCE_LUFS:
        return peak_guard(y.copy(), peak)
    gain = 10.0 ** ((target_lufs - lufs) / 20.0)
    return peak_guard(y * np.float32(gain), peak)


def mix_stems(
    stems: Sequence[np.ndarray],
    sr: int,
    *,
    stem_lufs: float | None = DEFAULT_LUFS,
    mix_lufs: float | None = DEFAULT_LUFS,
    gains_db: Sequence[float] | None = None,
) -> np.ndarray:
    """Sum stems into a mix: each stem to ``stem_lufs``, optional gains, the sum to ``mix_lufs``.

    Stems of different lengths are cut to the shortest. ``None`` skips a
    normalisation step. Returns ``(n,)`` float32 with ``max|mix| <= 0.99``.
    """
    if len(stems) == 0:
        raise ParameterError("given no stems to mix")
    stems = [_mono(s, f"stem {i}") for i, s in enumerate(stems)]
    if gains_db is not None and len(gains_db) != len(stems):
        raise ParameterError(f"given {len(gains_db)} gains for {len(stems)} stems")
    n = min(s.size for s in stems)
    out = np.zeros(n, np.float32)
    for i, s in enumerate(stems):
        s = s[:n]
        if stem_lufs is not None:
            s = normalize_loudness(s, sr, target_lufs=stem_lufs, peak=np.inf)
        if gains_db is not None:
            s = s * np.float32(10.0 ** (gains_db[i] / 20.0))
        out += s
    if mix_lufs is not None:
        return normalize_loudness(out, sr, target_lufs=mix_lufs)
    return peak_guard(out)

"""Pitch shifting and time stretching with Rubber Band (pedalboard's built-in copy).

>>> y2 = stretch(y, sr, ratio=1.1, semitones=-2)   # 10 % faster, two semitones down
>>> len(y2) ≈ len(y) / 1.1

``ratio`` is a speed factor: above 1 the output is shorter (``len / ratio``
samples), below 1 longer. The high-quality Rubber Band mode is the default
(formants preserved, crisp transients). Audio is float32 mono ``(n,)``.
"""

from __future__ import annotations

import numpy as np
import pedalboard

from collage.errors import ParameterError

__all__ = ["stretch", "pitch_shift", "time_stretch", "MAX_SEMITONES", "RATIO_RANGE"]

MAX_SEMITONES = 24.0
RATIO_RANGE = (0.25, 4.0)


def _check(y: np.ndarray, sr: int, ratio: float, semitones: float) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ParameterError(f"given audio of shape {y.shape}; expected a non-empty mono array (n,)")
    if not np.all(np.isfinite(y)):
        raise ParameterError("given audio contains NaN or infinite samples")
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or not 1000 <= sr <= 384000:
        raise ParameterError(f"given sr={sr!r}; expected an integer sample rate in Hz in 1000..384000")
    if not (np.isfinite(ratio) and RATIO_RANGE[0] <= ratio <= RATIO_RANGE[1]):
        raise ParameterError(f"given ratio={ratio!r}; expected a speed factor in {RATIO_RANGE}")
    if not (np.isfinite(semitones) and abs(semitones) <= MAX_SEMITONES):
        raise ParameterError(f"given semitones={semitones!r}; expected |semitones| <= {MAX_SEMITONES}")
    return y.astype(np.float32, copy=False)


def stretch(
    y: np.ndarray, sr: int, *, ratio: float = 1.0, semitones: float = 0.0, high_quality: bool = True
) -> np.ndarray:
    """Change speed by ``ratio`` and pitch by ``semitones`` at once.

    Args:
        y: ``(n,)`` mono audio.
        sr: sample rate in Hz.
        ratio: speed factor; the output has about ``n / ratio`` samples.
        semitones: pitch shift, positive is up.
        high_quality: Rubber Band's high-quality mode (about 3-4x slower than the fast one).
    Returns:
        ``(m,)`` float32, ``m ≈ n / ratio``; ``y`` itself (as float32) when
        nothing changes.
    """
    y = _check(y, sr, float(ratio), float(semitones))
    if ratio == 1.0 and semitones == 0.0:
        return y.copy()

    out = pedalboard.time_stretch(
        y[None, :],
        float(sr),
        stretch_factor=float(ratio),
        pitch_shift_in_semitones=float(semitones),
        high_quality=bool(high_quality),
    )
    return np.ascontiguousarray(out[0], dtype=np.float32)


def pitch_shift(y: np.ndarray, sr: int, semitones: float) -> np.ndarray:
    """Shift pitch by ``semitones`` keeping the length. ``(n,) -> (≈n,)``."""
    return stretch(y, sr, semitones=semitones)


def time_stretch(y: np.ndarray, sr: int, ratio: float) -> np.ndarray:
    """Change speed by ``ratio`` keeping the pitch. ``(n,) -> (≈n / ratio,)``."""
    return stretch(y, sr, ratio=ratio)

"""Reading and writing mashup audio with the checks the house rules ask for.

>>> y = load_audio("vocals.flac", sr=16000)    # (n,) float32 mono, resampled
>>> write_wav("out.wav", y, 16000)             # atomic

Any sample rate and channel count is accepted (channels are averaged). A file
that cannot be decoded, holds NaN or infinite samples, is silent or is shorter
than ``min_seconds`` raises :class:`~collage.errors.InvalidAudioError` naming it.
"""

from __future__ import annotations

import os

import numpy as np

from collage.errors import InvalidAudioError
from collage.io.atomic import atomic_path

__all__ = ["load_audio", "check_audio", "write_wav", "MIN_SECONDS", "SILENCE_PEAK"]

MIN_SECONDS = 5.0
SILENCE_PEAK = 1e-4  # about -80 dBFS


def check_audio(y: np.ndarray, sr: int, *, path=None, min_seconds: float = MIN_SECONDS, allow_silent: bool = False) -> np.ndarray:
    """Validate mono float audio ``(n,)``; returns it as float32."""
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise InvalidAudioError(path, f"audio of shape {y.shape}; expected non-empty mono samples")
    if not np.all(np.isfinite(y)):
        raise InvalidAudioError(path, f"{int(np.sum(~np.isfinite(y)))} NaN or infinite samples")
    if y.size < min_seconds * sr:
        raise InvalidAudioError(path, f"is {y.size / sr:.2f} s long; expected at least {min_seconds:g} s")
    if not allow_silent and float(np.max(np.abs(y))) < SILENCE_PEAK:
        raise InvalidAudioError(path, "is silent (peak below -80 dBFS)")
    return y.astype(np.float32, copy=False)


def load_audio(path: str | os.PathLike, *, sr: int, min_seconds: float = MIN_SECONDS, allow_silent: bool = False) -> np.ndarray:
    """Read any soundfile-readable file as ``(n,)`` float32 mono at ``sr`` Hz (soxr resampling)."""
    import soundfile as sf

    path = os.fspath(path)
    if not os.path.exists(path):
        raise InvalidAudioError(path, "no such file")
    if os.path.isdir(path):
        raise InvalidAudioError(path, "is a directory; expected an audio file")
    try:
        y, file_sr = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as e:
        raise InvalidAudioError(path, f"cannot be read as audio ({str(e).splitlines()[0][:200]})") from None
    if y.shape[0] == 0:
        raise InvalidAudioError(path, "has no samples")
    y = y.mean(axis=1)
    if not np.all(np.isfinite(y)):
        raise InvalidAudioError(path, f"{int(np.sum(~np.isfinite(y)))} NaN or infinite samples")
    if file_sr != sr:
        import soxr

        y = soxr.resample(y, file_sr, sr).astype(np.float32)
    return check_audio(y, sr, path=path, min_seconds=min_seconds, allow_silent=allow_silent)


def write_wav(path: str | os.PathLike, y: np.ndarray, sr: int) -> None:
    """Write 16-bit PCM WAV atomically (temp file, then rename)."""
    import soundfile as sf

    with atomic_path(path) as tmp:
        sf.write(tmp, np.clip(y, -1.0, 1.0), sr, subtype="PCM_16", format="WAV")

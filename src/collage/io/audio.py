"""Reading and writing audio: any rate, mono or multichannel in, float32 mono at a working rate out.

>>> y = load_audio("song.vocals.flac", sr=22050)     # (n,) float32, checked
>>> write_wav("out.wav", y, 22050)                   # atomic: no half-written file

:func:`load_audio` rejects, with one line naming the file, what a mashup cannot use:
unreadable or non-audio files, NaN or infinite samples, silence, clips shorter than
``min_seconds`` and files longer than ``max_seconds`` (checked from the header, before
anything is decoded).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from collage.errors import InvalidAudioError, OutputError, ParameterError
from collage.io.atomic import atomic_path

__all__ = ["AUDIO_SUFFIXES", "SILENCE_DBFS", "load_audio", "check_audio", "is_silent", "write_wav", "resample"]

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
SILENCE_DBFS = -60.0  # a clip whose RMS is below this is silent


def resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """``(n,)`` float32 resampled with soxr (HQ); unchanged when the rates agree."""
    if sr_in == sr_out:
        return np.asarray(y, dtype=np.float32)

    return soxr.resample(np.asarray(y, dtype=np.float32), sr_in, sr_out, quality="HQ").astype(np.float32)


def _rms_dbfs(y: np.ndarray) -> float:
    """RMS level of ``y`` in dBFS (``-inf`` for all zeros or empty)."""
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if len(y) else 0.0
    return -np.inf if rms == 0.0 else 20 * np.log10(rms)


def is_silent(y: np.ndarray) -> bool:
    """True when the RMS level of ``y`` is below :data:`SILENCE_DBFS` (what :func:`check_audio` refuses)."""
    return _rms_dbfs(np.asarray(y)) < SILENCE_DBFS


def check_audio(y: np.ndarray, sr: int, *, path: str | os.PathLike | None = None, min_seconds: float = 5.0) -> np.ndarray:
    """Check a mono signal: finite, not silent, at least ``min_seconds`` long.

    Returns ``y`` as contiguous float32.

    Raises:
        InvalidAudioError: naming ``path`` (or "the audio" without one) and the problem.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ParameterError(f"given audio of shape {y.shape}; expected mono (n,)")
    bad = ~np.isfinite(y)
    if bad.any():
        raise InvalidAudioError(path, f"has {int(bad.sum())} non-finite samples (NaN or inf), the first at {np.argmax(bad) / sr:.2f} s")
    dur = len(y) / sr
    if dur < min_seconds:
        raise InvalidAudioError(path, f"is {dur:.2f} s long; expected at least {min_seconds:g} s")
    db = _rms_dbfs(y)
    if db < SILENCE_DBFS:
        level = "-inf" if db == -np.inf else f"{db:.0f}"
        raise InvalidAudioError(path, f"is silent (RMS {level} dBFS; expected above {SILENCE_DBFS:g} dBFS)")
    return np.ascontiguousarray(y, dtype=np.float32)


def load_audio(
    path: str | os.PathLike,
    *,
    sr: int = 22050,
    min_seconds: float = 5.0,
    max_seconds: float = 1800.0,
    offset_s: float = 0.0,
    duration_s: float | None = None,
) -> np.ndarray:
    """Read an audio file as float32 mono at ``sr`` Hz (channels averaged, soxr resampling).

    Args:
        path: any format libsndfile reads (WAV, FLAC, OGG, MP3, AIFF, ...).
        sr: the working sample rate in Hz.
        min_seconds: shortest accepted (after ``offset_s``/``duration_s``).
        max_seconds: longest file accepted (from the header, before decoding).
        offset_s, duration_s: read only this excerpt (seconds).
    Returns:
        ``(n,)`` float32.
    Raises:
        InvalidAudioError: the file is missing, unreadable, not audio, too long, too short,
            silent, or has NaN/inf samples (one line, naming the file).
    """
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or not 1000 <= sr <= 192000:
        raise ParameterError(f"given sr={sr!r}; expected an integer sample rate in Hz in 1000..192000")
    path = Path(path)
    if not path.exists():
        raise InvalidAudioError(path, "no such file")
    if path.is_dir():
        raise InvalidAudioError(path, "is a directory; expected an audio file")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise InvalidAudioError(path, f"cannot be read as audio ({_why(e)})") from None
    if info.samplerate <= 0 or info.frames < 0:
        raise InvalidAudioError(path, f"has a broken header ({info.samplerate} Hz, {info.frames} frames)")
    if info.frames / info.samplerate > max_seconds:
        raise InvalidAudioError(path, f"is {info.frames / info.samplerate:.0f} s long; expected at most {max_seconds:g} s")
    start = int(round(offset_s * info.samplerate))
    stop = None if duration_s is None else start + int(round(duration_s * info.samplerate))
    try:
        raw, got_sr = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)  # (n, ch)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as e:
        raise InvalidAudioError(path, f"cannot be decoded ({_why(e)})") from None
    y = raw.mean(axis=1) if raw.shape[1] > 1 else raw[:, 0]
    if not np.isfinite(y).all():  # before resampling, which would smear NaN over the file
        check_audio(y, got_sr, path=path, min_seconds=0.0)
    y = resample(y, got_sr, int(sr))
    return check_audio(y, int(sr), path=path, min_seconds=min_seconds)


def write_wav(path: str | os.PathLike, y: np.ndarray, sr: int, *, subtype: str = "FLOAT") -> Path:
    """Write ``(n,)`` (or ``(n, ch)``) audio atomically as WAV; returns the path."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            sf.write(tmp, np.asarray(y, dtype=np.float32), int(sr), format="WAV", subtype=subtype)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise OutputError(path, f"cannot be written ({_why(e)})") from None
    return path


def _why(e: Exception) -> str:
    msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
    return msg.rsplit("': ", 1)[-1]  # libsndfile repeats the path: "Error opening '<path>': <why>"

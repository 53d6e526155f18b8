"""Fixed-length windows over the step grid.

The fusion models read 8-beat windows (``length=32`` steps); datasets take
them with a 1-beat stride (``stride=4``). Two forms:

- note windows: :func:`crop` / :func:`crop_all` cut step notes to windows,
  with times relative to each window's start;
- array windows: :func:`segment` / :func:`reassemble` slice any per-step
  array (tokens, piano-rolls) into windows and put it back together.
"""

from __future__ import annotations

import numpy as np

from collage.errors import ParameterError
from collage.represent.grid import SEGMENT_STEPS, STEPS_PER_BEAT

__all__ = ["window_starts", "crop", "crop_all", "segment", "reassemble"]


def _check_window(length: int, stride: int) -> None:
    if int(length) != length or length < 1:
        raise ParameterError(f"given length={length!r}; expected a positive integer number of steps")
    if int(stride) != stride or stride < 1:
        raise ParameterError(f"given stride={stride!r}; expected a positive integer number of steps")


def window_starts(n_steps: int, *, length: int = SEGMENT_STEPS, stride: int = STEPS_PER_BEAT) -> np.ndarray:
    """Start steps of the full windows in ``[0, n_steps)``: ``0, stride, ...`` while ``start + length <= n_steps``.

    Returns:
        ``(K,)`` int64 (empty if ``n_steps < length``).
    """
    _check_window(length, stride)
    return np.arange(0, max(int(n_steps) - length + 1, 0), stride, dtype=np.int64)


def crop(notes, start: int, length: int = SEGMENT_STEPS, *, sounding_at_start: bool = True) -> np.ndarray:
    """The notes of one window ``[start, start + length)``, times relative to ``start``.

    Args:
        notes: ``(N, 4)`` step notes [onset, duration, pitch, velocity].
        start, length: the window, in steps.
        sounding_at_start: a note that began before ``start`` and still sounds
            is entered at step 0 (True) or left out (False).
    Returns:
        ``(M, 4)`` int64; offsets clipped at the window's end; sorted by onset, pitch.
    """
    out, _ = crop_all(notes, np.array([start]), length, sounding_at_start=sounding_at_start)
    return out


def crop_all(
    notes, starts, length: int = SEGMENT_STEPS, *, sounding_at_start: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`crop` for many windows at once, vectorised.

    Args:
        notes: ``(N, 4)`` step notes.
        starts: ``(K,)`` window starts in steps, increasing.
        length: window length in steps.
    Returns:
        ``(notes, ptr)``: ``(M, 4)`` int64 window-relative notes of all windows
        concatenated, and ``(K + 1,)`` int64 pointers: window ``k`` holds
        ``notes[ptr[k]:ptr[k + 1]]``.
    """
    _check_window(length, 1)
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, 4)
    starts = np.asarray(starts, dtype=np.int64).reshape(-1)
    if len(starts) > 1 and np.any(np.diff(starts) < 0):
        raise ParameterError("starts must be increasing")
    on = notes[:, 0]
    off = on + np.maximum(notes[:, 1], 1)
    # window k contains note n if on < s_k + length and (s_k <= on, or sounding: s_k < off)
    lo = np.searchsorted(starts, on - length, side="right")  # first k with s_k > on - length
    hi = np.searchsorted(starts, off if sounding_at_start else on, side="left" if sounding_at_start else "right")
    # (sounding: windows with s_k < off; else: windows with s_k <= on)
    counts = np.maximum(hi - lo, 0)
    note_idx = np.repeat(np.arange(len(notes)), counts)
    k = np.repeat(lo, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
    s = starts[k]
    rel_on = np.maximum(on[note_idx] - s, 0)
    rel_off = np.minimum(off[note_idx] - s, length)
    out = np.empty((len(k), 4), dtype=np.int64)
    out[:, 0] = rel_on
    out[:, 1] = rel_off - rel_on
    out[:, 2:] = notes[note_idx, 2:]
    order = np.lexsort((out[:, 2], out[:, 0], k))
    out = out[order]
    ptr = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(np.bincount(k, minlength=len(starts)), out=ptr[1:])
    return out, ptr


def segment(x, *, length: int = SEGMENT_STEPS, stride: int = STEPS_PER_BEAT) -> np.ndarray:
    """Slice a per-step array into windows along axis 0.

    Args:
        x: ``(T, ...)`` array (tokens, a piano-roll, ...).
    Returns:
        ``(K, length, ...)`` copies, ``K = len(window_starts(T, length, stride))``.
    """
    x = np.asarray(x)
    starts = window_starts(len(x), length=length, stride=stride)
    if len(starts) == 0:
        return np.zeros((0, length) + x.shape[1:], dtype=x.dtype)
    view = np.lib.stride_tricks.sliding_window_view(x, length, axis=0)[::stride]  # (K, ..., length)
    return np.ascontiguousarray(np.moveaxis(view, -1, 1))


def reassemble(segments, *, stride: int | None = None) -> np.ndarray:
    """Inverse of :func:`segment`: put windows back in a per-step array.

    Each window contributes its first ``stride`` steps and the last window all
    of its steps, so ``reassemble(segment(x, length=L, stride=S), stride=S)``
    equals ``x`` whenever ``(len(x) - L) % S == 0``.

    Args:
        segments: ``(K, length, ...)``.
        stride: the stride used (default: ``length``, i.e. no overlap).
    Returns:
        ``((K - 1) * stride + length, ...)`` array.
    """
    segments = np.asarray(segments)
    if segments.ndim < 2:
        raise ParameterError(f"given segments.shape={segments.shape}; expected (K, length, ...)")
    k, length = segments.shape[:2]
    stride = length if stride is None else stride
    _check_window(length, stride)
    if stride > length:
        raise ParameterError(f"given stride={stride} > length={length}; windows would leave gaps")
    if k == 0:
        return np.zeros((0,) + segments.shape[2:], dtype=segments.dtype)
    head = segments[:-1, :stride].reshape((-1,) + segments.shape[2:])
    return np.concatenate([head, segments[-1]], axis=0)

"""The harmony judge's inputs from step notes, as NumPy arrays (no torch).

:mod:`collage.models.judge` wraps these as tensors; the NumPy judge
(:class:`collage.models.inference.HarmonyJudgeNP`) reads them as they are.

- melody ``(B, T, 142)``: the ``(T, 130)`` one-hot (:mod:`collage.represent.melody`)
  and the 12-d pitch class of the note sounding at each step;
- accompaniment ``(B, 2, T, 128)``: onset and frame piano-rolls (0/1).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from collage.errors import ParameterError
from collage.represent.melody import HOLD, MELODY_DIM, REST

__all__ = ["N_STEPS", "pack_notes", "packed_arrays", "judge_arrays"]

N_STEPS = 32


def pack_notes(segments: Sequence, name: str = "segments") -> tuple[np.ndarray, np.ndarray]:
    """Concatenate B segments of ``(n_i, 4)`` notes: ``(notes (N, 4) int64, seg (N,) int64)``."""
    arrs = []
    for i, s in enumerate(segments):
        a = np.asarray(s)
        if a.size == 0:
            a = np.zeros((0, 4), np.int64)
        if a.ndim != 2 or a.shape[1] != 4:
            raise ParameterError(f"given {name}[{i}].shape={a.shape}; expected (n, 4) [onset, duration, pitch, velocity]")
        arrs.append(a.astype(np.int64))
    sizes = np.array([len(a) for a in arrs], dtype=np.int64)
    notes = np.concatenate(arrs) if arrs else np.zeros((0, 4), np.int64)
    return notes, np.repeat(np.arange(len(arrs), dtype=np.int64), sizes)


def _check_packed(notes: np.ndarray, n_steps: int, name: str) -> None:
    if len(notes) and (notes[:, 0].min() < 0 or notes[:, 0].max() >= n_steps):
        raise ParameterError(f"{name}: onsets {notes[:, 0].min()}..{notes[:, 0].max()}; expected in [0, {n_steps})")
    if len(notes) and (notes[:, 2].min() < 0 or notes[:, 2].max() > 127):
        raise ParameterError(f"{name}: pitches {notes[:, 2].min()}..{notes[:, 2].max()}; expected in 0..127")


def _melody_tokens_packed(notes: np.ndarray, seg: np.ndarray, b: int, t: int) -> np.ndarray:
    """``(B, T)`` int64 tokens of packed monophonic melodies (a later onset cuts an earlier note)."""
    tokens = np.full((b, t), REST, dtype=np.int64)
    if not len(notes):
        return tokens
    order = np.lexsort((notes[:, 2], notes[:, 0], seg))
    notes, seg = notes[order], seg[order]
    idx = np.full((b, t), -1, dtype=np.int64)
    idx[seg, notes[:, 0]] = np.arange(len(notes))  # the highest pitch wins a shared onset (sorted last)
    idx = np.maximum.accumulate(idx, axis=1)  # (B, T) the latest note begun at or before t
    ok = idx >= 0
    j = np.where(ok, idx, 0)
    steps = np.arange(t)[None, :]
    sounding = ok & (notes[j, 0] + np.maximum(notes[j, 1], 1) > steps)
    tokens[sounding] = HOLD
    onset = ok & (notes[j, 0] == steps)
    tokens[onset] = notes[j, 2][onset]
    return tokens


def packed_arrays(mel_notes: np.ndarray, mel_seg: np.ndarray, acc_notes: np.ndarray, acc_seg: np.ndarray,
                  b: int, *, n_steps: int = N_STEPS) -> tuple[np.ndarray, np.ndarray]:
    """Judge inputs from packed notes (see :func:`pack_notes`) of ``b`` pairs.

    Returns:
        ``mel (B, T, 142)`` float32 and ``acc (B, 2, T, 128)`` float32 (C-contiguous).
    """
    _check_packed(mel_notes, n_steps, "melody")
    _check_packed(acc_notes, n_steps, "accompaniment")
    t = n_steps
    tokens = _melody_tokens_packed(mel_notes, mel_seg, b, t)  # (B, T)
    mel = np.zeros((b, t, MELODY_DIM + 12), dtype=np.float32)
    bi, ti = np.nonzero(np.ones((b, t), bool))
    mel[bi, ti, tokens.reshape(-1)] = 1.0
    # pitch class of the sounding note: carry each onset's pitch forward through its holds
    pitch = np.where(tokens < HOLD, tokens, -1)
    last = np.where(tokens != HOLD, np.arange(t)[None, :], -1)
    last = np.maximum.accumulate(last, axis=1)  # (B, T) last non-hold step
    sp = np.take_along_axis(pitch, np.maximum(last, 0), axis=1)
    sp = np.where(last >= 0, sp, -1)
    has = sp >= 0
    mel[np.nonzero(has)[0], np.nonzero(has)[1], MELODY_DIM + sp[has] % 12] = 1.0
    acc = np.zeros((b, 2, t + 1, 128), dtype=np.float32)
    if len(acc_notes):
        on, dur, p = acc_notes[:, 0], np.maximum(acc_notes[:, 1], 1), acc_notes[:, 2]
        acc[acc_seg, 0, on, p] = 1.0
        np.add.at(acc, (acc_seg, 1, on, p), 1.0)
        np.add.at(acc, (acc_seg, 1, np.minimum(on + dur, t), p), -1.0)
        acc[:, 1] = np.cumsum(acc[:, 1], axis=1) > 0
    return mel, np.ascontiguousarray(acc[:, :, :t])


def judge_arrays(melodies: Sequence, accomps: Sequence, *, n_steps: int = N_STEPS) -> tuple[np.ndarray, np.ndarray]:
    """Judge inputs from B melody and B accompaniment segments of ``(n_i, 4)`` step notes.

    Returns:
        ``mel (B, T, 142)`` and ``acc (B, 2, T, 128)`` float32 arrays.
    """
    if len(melodies) != len(accomps):
        raise ParameterError(f"given {len(melodies)} melodies and {len(accomps)} accompaniments; expected equal")
    mn, ms = pack_notes(melodies, "melodies")
    an, as_ = pack_notes(accomps, "accomps")
    return packed_arrays(mn, ms, an, as_, len(melodies), n_steps=n_steps)

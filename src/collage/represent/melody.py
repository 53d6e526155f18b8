"""Monophonic melody on the step grid: skyline, tokens, one-hot.

A melody of ``T`` steps is a token per step (:func:`melody_tokens`):
``0..127`` a note of that MIDI pitch starts, ``HOLD`` (128) the previous note
goes on, ``REST`` (129) silence. :func:`melody_onehot` turns tokens into the
``(T, 130)`` one-hot the melody VAE reads (EC2-VAE's layout).
"""

from __future__ import annotations

import logging

import numpy as np

from collage.errors import ParameterError
from collage.represent.checks import check_notes

__all__ = [
    "HOLD",
    "REST",
    "MELODY_DIM",
    "ONSET_STATE",
    "HOLD_STATE",
    "REST_STATE",
    "skyline",
    "melody_tokens",
    "tokens_to_notes",
    "melody_onehot",
    "onehot_to_tokens",
    "rhythm_states",
]

log = logging.getLogger(__name__)

HOLD, REST = 128, 129
MELODY_DIM = 130
ONSET_STATE, HOLD_STATE, REST_STATE = 0, 1, 2


def skyline(notes, *, source: str | None = None, warn: bool = True) -> np.ndarray:
    """Make a melody monophonic: the highest pitch at each onset, each note cut at the next onset.

    Args:
        notes: ``(N, 4)`` [onset, duration, pitch, velocity] (steps or ticks).
        source: named in the warning (e.g. the file).
        warn: log a warning when simultaneous notes were dropped.
    Returns:
        ``(M, 4)`` int64, sorted by onset, with strictly increasing onsets and
        no overlaps; durations stay >= 1.
    """
    notes = check_notes(notes, nonneg_onset=False)
    if len(notes) == 0:
        return notes.copy()
    order = np.lexsort((-notes[:, 2], notes[:, 0]))  # onset asc, pitch desc
    s = notes[order]
    first = np.ones(len(s), dtype=bool)
    first[1:] = s[1:, 0] != s[:-1, 0]
    dropped = int(len(s) - first.sum())
    out = s[first].copy()
    nxt = np.append(out[1:, 0], np.iinfo(np.int64).max)
    out[:, 1] = np.maximum(np.minimum(out[:, 1], nxt - out[:, 0]), 1)
    if dropped and warn:
        log.warning(
            "%smelody is polyphonic: kept the highest note at each onset, dropped %d of %d notes",
            f"{source}: " if source else "",
            dropped,
            len(notes),
        )
    return out


def melody_tokens(notes, n_steps: int) -> np.ndarray:
    """Tokens of a monophonic melody over steps ``0..n_steps-1``.

    Args:
        notes: ``(N, 4)`` step notes relative to the window; a note with a
            negative onset is sounding at step 0 and becomes ``HOLD`` there.
            Overlapping notes: the later onset wins.
        n_steps: length ``T`` of the window.
    Returns:
        ``(T,)`` int64 tokens: pitch (0..127) at onsets, ``HOLD`` while a note
        sounds, ``REST`` elsewhere.
    """
    notes = check_notes(notes, nonneg_onset=False)
    if int(n_steps) != n_steps or n_steps < 0:
        raise ParameterError(f"given n_steps={n_steps!r}; expected a non-negative integer")
    return _melody_tokens(notes, int(n_steps))


def _melody_tokens(notes: np.ndarray, n_steps: int) -> np.ndarray:
    """:func:`melody_tokens` of checked notes (callers whose notes are checked already, e.g. fusion's windows)."""
    tokens = np.full(int(n_steps), REST, dtype=np.int64)
    for on, dur, pitch, _ in notes[np.argsort(notes[:, 0], kind="stable")]:
        off = min(on + max(dur, 1), n_steps)
        if off <= 0 or on >= n_steps:
            continue
        tokens[max(on, 0) : off] = HOLD
        if on >= 0:
            tokens[on] = pitch
    return tokens


def tokens_to_notes(tokens, *, velocity: int = 90) -> np.ndarray:
    """Notes from melody tokens (inverse of :func:`melody_tokens` for notes starting in the window).

    A ``HOLD`` that follows a ``REST`` (or opens the window) has no note to
    extend and is ignored.

    Returns:
        ``(N, 4)`` int64 step notes [onset, duration, pitch, velocity].
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 1 or (tokens.size and (tokens.min() < 0 or tokens.max() >= MELODY_DIM)):
        raise ParameterError(f"given tokens of shape {tokens.shape}; expected (T,) ints in 0..{MELODY_DIM - 1}")
    onsets = np.flatnonzero(tokens < HOLD)
    rows = []
    for on in onsets:
        end = on + 1
        while end < len(tokens) and tokens[end] == HOLD:
            end += 1
        rows.append((on, end - on, int(tokens[on]), velocity))
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


def melody_onehot(tokens) -> np.ndarray:
    """``(T,)`` tokens -> ``(T, 130)`` float32 one-hot."""
    tokens = np.asarray(tokens, dtype=np.int64)
    if tokens.ndim != 1 or (tokens.size and (tokens.min() < 0 or tokens.max() >= MELODY_DIM)):
        raise ParameterError(f"given tokens of shape {tokens.shape}; expected (T,) ints in 0..{MELODY_DIM - 1}")
    out = np.zeros((len(tokens), MELODY_DIM), dtype=np.float32)
    out[np.arange(len(tokens)), tokens] = 1.0
    return out


def onehot_to_tokens(onehot) -> np.ndarray:
    """``(..., T, 130)`` one-hot or scores -> ``(..., T)`` tokens (argmax)."""
    onehot = np.asarray(onehot)
    if onehot.shape[-1] != MELODY_DIM:
        raise ParameterError(f"given onehot.shape={onehot.shape}; expected (..., T, {MELODY_DIM})")
    return onehot.argmax(axis=-1).astype(np.int64)


def rhythm_states(tokens) -> np.ndarray:
    """Tokens -> 3-state rhythm: ``ONSET_STATE`` (0), ``HOLD_STATE`` (1), ``REST_STATE`` (2); same shape."""
    tokens = np.asarray(tokens)
    return np.where(tokens < HOLD, ONSET_STATE, np.where(tokens == HOLD, HOLD_STATE, REST_STATE)).astype(np.int64)

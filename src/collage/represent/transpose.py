"""Transposition of arrays: notes, piano-rolls, chord vectors.

Notes and rolls keep absolute pitch, so a shift can push notes out of
0..127. ``on_overflow='raise'`` (the default) refuses with a ParameterError
naming the shift and the offending pitch range; ``'drop'`` removes those notes
(roll cells) and logs how many. Chord vectors hold pitch classes and simply
rotate, so nothing is ever lost.
"""

from __future__ import annotations

import logging

import numpy as np

from collage.errors import ParameterError
from collage.represent.chord import CHORD_DIM
from collage.represent.checks import check_int, check_notes

__all__ = ["transpose_notes", "transpose_roll", "transpose_chords"]

log = logging.getLogger(__name__)


def _check_mode(on_overflow: str) -> str:
    if on_overflow not in ("raise", "drop"):
        raise ParameterError(f"given on_overflow={on_overflow!r}; expected 'raise' or 'drop'")
    return on_overflow


def transpose_notes(notes, semitones: int, *, on_overflow: str = "raise") -> np.ndarray:
    """Shift the pitch of ``(N, 4)`` [onset, duration, pitch, velocity] notes by ``semitones``.

    Args:
        notes: ``(N, 4)`` notes (steps or ticks).
        semitones: the shift (may be negative).
        on_overflow: ``'raise'`` a ParameterError or ``'drop'`` the notes
            that would leave 0..127.
    Returns:
        ``(N', 4)`` int64, a new array in the input's order.
    """
    notes = check_notes(notes, nonneg_onset=False)
    k = check_int(semitones, "semitones")
    _check_mode(on_overflow)
    out = notes.copy()
    out[:, 2] += k
    bad = (out[:, 2] < 0) | (out[:, 2] > 127)
    if bad.any():
        if on_overflow == "raise":
            raise ParameterError(
                f"transposing by semitones={k} moves {int(bad.sum())} notes outside 0..127 "
                f"(pitches {int(notes[:, 2].min())}..{int(notes[:, 2].max())})"
            )
        log.warning("transposing by %d dropped %d notes outside 0..127", k, int(bad.sum()))
        out = out[~bad]
    return out


def transpose_roll(roll, semitones: int, *, on_overflow: str = "raise") -> np.ndarray:
    """Shift a piano-roll ``(..., 128)`` along its last (pitch) axis by ``semitones``, without wrapping.

    Args:
        roll: any array whose last axis is the 128 MIDI pitches (a ``(T, 128)``
            roll, a ``(T, 128)`` duration matrix, a batch ``(B, T, 128)``).
        semitones: the shift (may be negative).
        on_overflow: ``'raise'`` a ParameterError if a nonzero cell would
            leave 0..127, or ``'drop'`` those cells.
    Returns:
        A new array of the same shape and dtype; vacated pitches are 0.
    """
    roll = np.asarray(roll)
    if roll.ndim < 1 or roll.shape[-1] != 128:
        raise ParameterError(f"given roll.shape={roll.shape}; expected (..., 128)")
    k = check_int(semitones, "semitones")
    _check_mode(on_overflow)
    out = np.zeros_like(roll)
    if k == 0:
        out[...] = roll
        return out
    if abs(k) >= 128:
        lost = roll
        kept_src, kept_dst = slice(0, 0), slice(0, 0)
    elif k > 0:
        lost = roll[..., 128 - k :]
        kept_src, kept_dst = slice(0, 128 - k), slice(k, 128)
    else:
        lost = roll[..., : -k]
        kept_src, kept_dst = slice(-k, 128), slice(0, 128 + k)
    n_lost = int(np.count_nonzero(lost))
    if n_lost:
        if on_overflow == "raise":
            raise ParameterError(
                f"transposing by semitones={k} moves {n_lost} nonzero roll cells outside pitches 0..127"
            )
        log.warning("transposing by %d dropped %d nonzero roll cells outside 0..127", k, n_lost)
    out[..., kept_dst] = roll[..., kept_src]
    return out


def transpose_chords(chords, semitones: int) -> np.ndarray:
    """Rotate chord vectors ``(..., 36)`` (root, chroma, bass blocks of 12) by ``semitones``.

    Returns a new array of the same shape and dtype; no-chord (all-zero)
    vectors stay zero. Transposing by ``k`` then ``-k`` is the identity.
    """
    chords = np.asarray(chords)
    if chords.ndim < 1 or chords.shape[-1] != CHORD_DIM:
        raise ParameterError(f"given chords.shape={chords.shape}; expected (..., {CHORD_DIM})")
    k = check_int(semitones, "semitones")
    blocks = chords.reshape(chords.shape[:-1] + (3, 12))
    return np.roll(blocks, k, axis=-1).reshape(chords.shape).copy()

"""Polyphonic accompaniment on the step grid: piano-rolls and PolyDis' piano-tree.

Everything here works on *step notes*, ``(N, 4)`` int64 ``[onset, duration,
pitch, velocity]`` with onset and duration in steps (see
:func:`collage.represent.grid.quantize`), over a window of ``n_steps`` steps
beginning at step ``start``:

- :func:`pianoroll`: ``(n_steps, 128)`` float32, a frame roll (1 while a note
  sounds) or an onset roll (1 at the step a note starts).
- :func:`durmat`: PolyDis' ``pr_mat``, ``(n_steps, 128)`` int64 holding each
  note's duration (steps) at its onset cell, 0 elsewhere.
- :func:`pianotree`: PolyDis' piano-tree, ``(n_steps, max_notes, 2)`` int64:
  per step, the notes starting there as ``(pitch, duration - 1)`` slots sorted
  by pitch ascending, the unused slots :data:`PIANOTREE_PAD` (-1) in both
  columns.

Only notes whose onset lies in the window appear in a duration matrix or a
piano-tree (their durations may reach past its end); a frame roll also shows
notes that started before ``start`` and still sound. Velocities are not kept
by the duration matrix or the piano-tree; the inverses give every note
``velocity``.
"""

from __future__ import annotations

import logging

import numpy as np

from collage.errors import ParameterError
from collage.represent.checks import check_int, check_notes, check_velocity

__all__ = [
    "PIANOTREE_PAD",
    "MAX_NOTES",
    "MAX_DUR",
    "pianoroll",
    "durmat",
    "durmat_to_notes",
    "pianotree",
    "pianotree_to_notes",
    "durmat_to_pianotree",
    "pianotree_to_durmat",
]

log = logging.getLogger(__name__)

PIANOTREE_PAD = -1
MAX_NOTES = 16  # simultaneous onsets kept per step
MAX_DUR = 32  # longest duration in steps (PolyDis: 5 bits, two 4/4 bars of 16ths)


def _window(step_notes, n_steps, start) -> tuple[np.ndarray, int, int]:
    notes = check_notes(step_notes, "step_notes", nonneg_onset=False)
    n_steps = check_int(n_steps, "n_steps", minimum=0)
    start = check_int(start, "start")
    return notes, n_steps, start


def _onsets_in_window(notes: np.ndarray, n_steps: int, start: int) -> np.ndarray:
    """Notes starting in ``[start, start + n_steps)``, onsets made window-relative, sorted by onset, pitch, duration."""
    rel = notes.copy()
    rel[:, 0] -= start
    rel = rel[(rel[:, 0] >= 0) & (rel[:, 0] < n_steps)]
    return rel[np.lexsort((rel[:, 1], rel[:, 2], rel[:, 0]))]


def pianoroll(step_notes, n_steps: int, *, start: int = 0, mode: str = "frame", velocity: bool = False) -> np.ndarray:
    """A piano-roll of the window ``[start, start + n_steps)``.

    Args:
        step_notes: ``(N, 4)`` [onset, duration, pitch, velocity] in steps.
        n_steps: number of steps (rows).
        start: first step of the window.
        mode: ``'frame'``: a cell is on while a note sounds (onset included,
            offset excluded; notes begun before ``start`` count).
            ``'onset'``: a cell is on only at the step a note starts.
        velocity: cells hold ``velocity / 127`` instead of 1 (the loudest
            note wins where notes of one pitch overlap).
    Returns:
        ``(n_steps, 128)`` float32 in [0, 1].
    """
    notes, n_steps, start = _window(step_notes, n_steps, start)
    if mode not in ("frame", "onset"):
        raise ParameterError(f"given mode={mode!r}; expected 'frame' or 'onset'")
    roll = np.zeros((n_steps, 128), dtype=np.float32)
    if not len(notes) or not n_steps:
        return roll
    value = notes[:, 3].astype(np.float32) / 127.0 if velocity else np.ones(len(notes), np.float32)
    on = notes[:, 0] - start
    if mode == "onset":
        keep = (on >= 0) & (on < n_steps)
        np.maximum.at(roll, (on[keep], notes[keep, 2]), value[keep])
        return roll
    lo = np.clip(on, 0, n_steps)
    hi = np.clip(on + notes[:, 1], 0, n_steps)
    for a, b, p, v in zip(lo.tolist(), hi.tolist(), notes[:, 2].tolist(), value.tolist()):
        if b > a:
            np.maximum(roll[a:b, p], v, out=roll[a:b, p])
    return roll


def durmat(step_notes, n_steps: int, *, start: int = 0, max_dur: int | None = MAX_DUR) -> np.ndarray:
    """PolyDis' ``pr_mat``: each note's duration at its onset cell.

    Args:
        step_notes: ``(N, 4)`` [onset, duration, pitch, velocity] in steps.
        n_steps: number of steps (rows); only notes starting in the window count.
        start: first step of the window.
        max_dur: longer durations are clipped to it (a warning is logged);
            None keeps them.
    Returns:
        ``(n_steps, 128)`` int64: duration in steps (>= 1) where a note of
        that pitch starts, else 0. Of two notes with the same onset and pitch
        the longer is kept (a warning is logged).
    """
    notes, n_steps, start = _window(step_notes, n_steps, start)
    return _durmat(notes, n_steps, start, check_int(max_dur, "max_dur", minimum=1, allow_none=True))


def _durmat(notes: np.ndarray, n_steps: int, start: int = 0, max_dur: int | None = MAX_DUR) -> np.ndarray:
    """:func:`durmat` of checked notes (callers whose notes are checked already, e.g. fusion's windows)."""
    mat = np.zeros((n_steps, 128), dtype=np.int64)
    rel = _onsets_in_window(notes, n_steps, start)
    if not len(rel):
        return mat
    dur = np.maximum(rel[:, 1], 1)
    if max_dur is not None and (dur > max_dur).any():
        log.warning("durmat: clipped %d durations to max_dur=%d steps", int((dur > max_dur).sum()), max_dur)
        dur = np.minimum(dur, max_dur)
    cells = rel[:, 0] * 128 + rel[:, 2]
    if len(np.unique(cells)) < len(cells):
        log.warning("durmat: %d notes share onset and pitch with a longer one; kept the longest",
                    len(cells) - len(np.unique(cells)))
    np.maximum.at(mat.reshape(-1), cells, dur)
    return mat


def durmat_to_notes(mat, *, start: int = 0, velocity: int = 64) -> np.ndarray:
    """Notes from a duration matrix (the inverse of :func:`durmat`).

    Args:
        mat: ``(T, 128)`` non-negative ints, a duration at each onset cell.
        start: step of the matrix's first row.
        velocity: velocity of every note.
    Returns:
        ``(N, 4)`` int64 step notes sorted by onset then pitch.
    """
    mat = np.asarray(mat)
    if mat.ndim != 2 or mat.shape[1] != 128:
        raise ParameterError(f"given mat.shape={mat.shape}; expected (T, 128)")
    if mat.size and (not np.issubdtype(mat.dtype, np.integer) and np.any(mat != np.round(mat))):
        raise ParameterError(f"given mat of dtype {mat.dtype} with non-integer values; expected durations in steps")
    if mat.size and mat.min() < 0:
        raise ParameterError(f"given mat with value {mat.min()}; expected durations >= 0")
    start = check_int(start, "start")
    velocity = check_velocity(velocity)
    t, p = np.nonzero(mat)
    dur = mat[t, p].astype(np.int64)
    return np.stack([t + start, dur, p, np.full(len(t), velocity)], axis=1).astype(np.int64).reshape(-1, 4)


def pianotree(
    step_notes, n_steps: int, *, start: int = 0, max_notes: int = MAX_NOTES, max_dur: int = MAX_DUR
) -> np.ndarray:
    """PolyDis' piano-tree: per step, the onsets there as (pitch, duration - 1).

    Args:
        step_notes: ``(N, 4)`` [onset, duration, pitch, velocity] in steps.
        n_steps: number of steps; only notes starting in the window count.
        start: first step of the window.
        max_notes: slots per step; of more simultaneous onsets the lowest
            ``max_notes`` are kept and a warning is logged.
        max_dur: longer durations are clipped to it (a warning is logged).
    Returns:
        ``(n_steps, max_notes, 2)`` int64: ``[..., 0]`` pitch 0-127,
        ``[..., 1]`` duration - 1 in ``0 .. max_dur - 1``; slots sorted by
        pitch (then duration) ascending, unused slots :data:`PIANOTREE_PAD`.
    """
    notes, n_steps, start = _window(step_notes, n_steps, start)
    max_notes = check_int(max_notes, "max_notes", minimum=1)
    max_dur = check_int(max_dur, "max_dur", minimum=1)
    tree = np.full((n_steps, max_notes, 2), PIANOTREE_PAD, dtype=np.int64)
    rel = _onsets_in_window(notes, n_steps, start)
    if not len(rel):
        return tree
    dur = np.maximum(rel[:, 1], 1)
    if (dur > max_dur).any():
        log.warning("pianotree: clipped %d durations to max_dur=%d steps", int((dur > max_dur).sum()), max_dur)
        dur = np.minimum(dur, max_dur)
    on = rel[:, 0]
    first = np.searchsorted(on, on, side="left")
    slot = np.arange(len(on)) - first
    keep = slot < max_notes
    if not keep.all():
        log.warning(
            "pianotree: dropped %d notes beyond max_notes=%d simultaneous onsets (first at step %d)",
            int((~keep).sum()), max_notes, int(on[~keep][0]) + start,
        )
    tree[on[keep], slot[keep], 0] = rel[keep, 2]
    tree[on[keep], slot[keep], 1] = dur[keep] - 1
    return tree


def pianotree_to_notes(tree, *, start: int = 0, velocity: int = 64) -> np.ndarray:
    """Notes from a piano-tree (the inverse of :func:`pianotree`).

    Args:
        tree: ``(T, max_notes, 2)`` ints; slots with a negative pitch are empty.
        start: step of the tree's first row.
        velocity: velocity of every note.
    Returns:
        ``(N, 4)`` int64 step notes sorted by onset then pitch.
    """
    tree = np.asarray(tree)
    if tree.ndim != 3 or tree.shape[2] != 2:
        raise ParameterError(f"given tree.shape={tree.shape}; expected (T, max_notes, 2)")
    if tree.size and not np.issubdtype(tree.dtype, np.integer):
        raise ParameterError(f"given tree of dtype {tree.dtype}; expected integers")
    start = check_int(start, "start")
    velocity = check_velocity(velocity)
    t, s = np.nonzero(tree[..., 0] >= 0)
    pitch = tree[t, s, 0].astype(np.int64)
    dur = tree[t, s, 1].astype(np.int64) + 1
    if (pitch > 127).any():
        raise ParameterError(f"given tree with pitch {int(pitch.max())}; expected 0..127 or {PIANOTREE_PAD}")
    if (dur < 1).any():
        raise ParameterError(f"given tree with duration - 1 = {int(dur.min()) - 1} in a used slot; expected >= 0")
    notes = np.stack([t + start, dur, pitch, np.full(len(t), velocity)], axis=1).astype(np.int64).reshape(-1, 4)
    return notes[np.lexsort((notes[:, 1], notes[:, 2], notes[:, 0]))]


def durmat_to_pianotree(mat, *, max_notes: int = MAX_NOTES, max_dur: int = MAX_DUR) -> np.ndarray:
    """``(T, 128)`` duration matrix -> ``(T, max_notes, 2)`` piano-tree."""
    mat = np.asarray(mat)
    return pianotree(durmat_to_notes(mat), len(mat), max_notes=max_notes, max_dur=max_dur)


def pianotree_to_durmat(tree, *, max_dur: int | None = None) -> np.ndarray:
    """``(T, max_notes, 2)`` piano-tree -> ``(T, 128)`` duration matrix."""
    tree = np.asarray(tree)
    return durmat(pianotree_to_notes(tree), len(tree), max_dur=max_dur)

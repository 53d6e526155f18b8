"""Note-level agreement between two note lists: precision, recall and F1 of matched notes.

A note of ``est`` matches a note of ``ref`` when the pitches are equal, the onsets
differ by at most ``onset_tolerance`` and (unless ``offset_tolerance`` is None) the
offsets by at most ``offset_tolerance``; each note matches at most once (a maximum
bipartite matching, by :func:`mir_eval.transcription.match_notes`). Times are in
beats (quarter notes), so the tolerances are musical: 1/8 beat is half a 16th note.

>>> note_f1(ref, est)["f1"]                       # onset and offset within 1/8 beat
>>> note_f1(ref, est, offset_tolerance=None)       # onsets only
"""

from __future__ import annotations

import warnings

import mir_eval.transcription
import numpy as np

from collage.errors import ParameterError
from collage.metrics.piece import EmptyInputWarning

__all__ = ["validate", "note_f1"]


def validate(notes, name: str) -> np.ndarray:
    """``notes`` as a float ``(n, 3)`` array of onset (beats), duration (beats, > 0), MIDI pitch."""
    a = np.asarray(notes, dtype=np.float64)
    if a.ndim != 2 or (len(a) and a.shape[1] < 3):
        raise ParameterError(f"given {name}.shape={a.shape}; expected (n, 3+): onset, duration, pitch")
    a = a[:, :3] if len(a) else np.zeros((0, 3))
    if not np.isfinite(a).all():
        raise ParameterError(f"given {name} with non-finite values")
    if (a[:, 1] <= 0).any():
        i = int(np.flatnonzero(a[:, 1] <= 0)[0])
        raise ParameterError(f"given {name}[{i}, 1]={a[i, 1]!r} (duration); expected > 0")
    return a


def note_f1(ref, est, *, onset_tolerance: float = 0.125, offset_tolerance: float | None = 0.125) -> dict:
    """Precision, recall and F1 of ``est``'s notes against ``ref``'s.

    Args:
        ref, est: ``(n, 3+)`` arrays of onset (beats), duration (beats), MIDI pitch; extra columns ignored.
        onset_tolerance: largest onset difference of a match, beats.
        offset_tolerance: largest offset difference of a match, beats; None ignores offsets.
    Returns:
        ``{"precision", "recall", "f1", "matched", "n_ref", "n_est"}``; two empty lists agree (1.0) and
        one empty list against a non-empty one scores 0.0 (with an :class:`EmptyInputWarning`).
    """
    ref, est = validate(ref, "ref"), validate(est, "est")
    if onset_tolerance < 0 or (offset_tolerance is not None and offset_tolerance < 0):
        raise ParameterError(f"given tolerances {onset_tolerance!r}, {offset_tolerance!r}; expected >= 0")
    n_ref, n_est = len(ref), len(est)
    if not n_ref or not n_est:
        if n_ref or n_est:
            warnings.warn("one note list is empty; F1 is 0", EmptyInputWarning, stacklevel=2)
        score = 1.0 if n_ref == n_est else 0.0
        return {"precision": score, "recall": score, "f1": score, "matched": 0, "n_ref": n_ref, "n_est": n_est}

    def intervals(a):
        return np.stack([a[:, 0], a[:, 0] + a[:, 1]], axis=1)

    def hz(a):
        return 440.0 * 2.0 ** ((a[:, 2] - 69.0) / 12.0)

    # a fixed offset tolerance: mir_eval's is max(offset_ratio * duration, offset_min_tolerance)
    offset = {"offset_ratio": None} if offset_tolerance is None else {
        "offset_ratio": 1e-12, "offset_min_tolerance": float(offset_tolerance)}
    matched = len(mir_eval.transcription.match_notes(
        intervals(ref), hz(ref), intervals(est), hz(est), onset_tolerance=float(onset_tolerance) + 1e-9,
        pitch_tolerance=1.0, **offset))
    p, r = matched / n_est, matched / n_ref
    f1 = 0.0 if matched == 0 else 2 * p * r / (p + r)
    return {"precision": p, "recall": r, "f1": f1, "matched": matched, "n_ref": n_ref, "n_est": n_est}

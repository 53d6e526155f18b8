"""Harmony statistics between a melody and an accompaniment segment.

The statistics of the CollageNet paper (Table 2: pitch-class and onset
histograms compared by KL divergence and overlapping area, and the rhythm
pattern agreement RE) and the single-track statistics of its Table 3 (after
Yang & Lerch: pitch count PC, pitch interval PI, inter-onset interval IOI).

Input is *step notes* relative to a window of ``n_steps`` steps (32 = 8 beats
of 16th notes by default): an ``(n, 4)`` integer array with the columns
``onset_step, dur_steps, pitch, velocity``. Onsets lie in ``[0, n_steps)``;
durations are at least 1 step and are clipped at the window's end wherever
they matter (the offset is ``min(onset + dur, n_steps)``). A melody is
expected to be monophonic (see :mod:`collage.represent.melody`); nothing
here enforces it.

Definitions (``p`` is the melody's histogram, ``q`` the accompaniment's):

- **PCH**: 12-bin pitch-class histogram (``pitch % 12``, C = 0); every note
  counts once whatever its duration.
- **OH**: ``n_steps``-bin onset histogram; bin ``t`` is 1 if any note starts
  at step ``t``, else 0 (a binary onset pattern).
- **KLD**: ``KL(p || q)`` in nats between the *normalised* histograms with
  ``eps = 1e-5`` added to both and renormalised, i.e. exactly
  ``scipy.stats.entropy(p + eps, q + eps)``.
- **OA**: overlapping area ``sum_k min(p_k, q_k)`` between the normalised,
  unsmoothed histograms; in [0, 1].
- **RE**, two readings:

  * ``re_3state`` (the paper's text): each step of each track is in one of
    three states: *onset* if any note starts there, else *hold* if any note
    sounds there, else *rest* (for the polyphonic accompaniment "any" ranges
    over all its notes). RE is the share of the ``n_steps`` steps where the
    two tracks are in the same state.
  * ``re_onset``: the share of steps where both tracks or neither have an
    onset (agreement of the binary onset patterns). This is the reading that
    reproduces the paper's published numbers.

- **PC**: the number of notes in the segment.
- **PI**: mean signed interval in semitones between consecutive notes in
  onset order (ties broken by pitch); ``nan`` with fewer than 2 notes.
- **IOI**: mean gap in steps between consecutive *distinct* onsets; ``nan``
  with fewer than 2 distinct onsets.

Empty input: a track without notes warns (:class:`EmptySegmentWarning`); its
histogram comparisons (``pch_kld``, ``pch_oa``, ``oh_kld``, ``oh_oa``) are
``nan``, its PC is 0, its PI and IOI are ``nan``; RE stays defined (the empty
track rests throughout).

Every pure function has a batched twin working on a sequence of segments at
once (``evaluate_batch``), used for dataset-level statistics: 5000 pairs take
well under a second.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from collage.errors import ParameterError
from collage.metrics.piece import EmptyInputWarning
from collage.represent.checks import check_notes

__all__ = [
    "EPS",
    "N_STEPS",
    "KEYS",
    "REST",
    "HOLD",
    "ONSET_STATE",
    "EmptySegmentWarning",
    "validate",
    "pitch_class_histogram",
    "onset_histogram",
    "step_states",
    "kl_divergence",
    "overlapping_area",
    "rhythm_agreement_3state",
    "rhythm_agreement_onset",
    "pitch_count",
    "pitch_interval",
    "inter_onset_interval",
    "evaluate",
    "evaluate_batch",
]

EPS = 1e-5
"""Smoothing added to both histograms before the KL divergence."""
N_STEPS = 32
"""Default window length in steps (8 beats of 16th notes)."""
REST, HOLD, ONSET_STATE = 0, 1, 2
"""Codes of the three step states returned by :func:`step_states`."""
KEYS = (
    "pch_kld",
    "pch_oa",
    "oh_kld",
    "oh_oa",
    "re_3state",
    "re_onset",
    "mel_pc",
    "mel_pi",
    "mel_ioi",
    "acc_pc",
    "acc_ioi",
)
"""The keys of :func:`evaluate`'s dict, in report order."""


class EmptySegmentWarning(EmptyInputWarning):
    """A melody or accompaniment segment has no notes; some statistics are nan.

    A subclass of :class:`collage.metrics.piece.EmptyInputWarning`, so one
    filter silences the empty-input warnings of every metric family."""


# -- validation ---------------------------------------------------------------


def _check_n_steps(n_steps) -> int:
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 1:
        raise ParameterError(f"given n_steps={n_steps!r}; expected a positive integer number of steps")
    return int(n_steps)


def _notes(notes, name: str = "notes", n_steps: int = N_STEPS) -> np.ndarray:
    """One segment's step notes, checked (:func:`collage.represent.checks.check_notes`): onsets in
    ``[0, n_steps)``, durations >= 1 step, pitches and velocities 0..127."""
    return check_notes(notes, name, n_steps=_check_n_steps(n_steps), min_duration=1)


def validate(melody_notes, accomp_notes, *, n_steps: int = N_STEPS) -> tuple[np.ndarray, np.ndarray]:
    """Validate a melody and an accompaniment segment: ``(n, 4)`` step notes [onset_step, dur_steps,
    pitch, velocity], onsets in ``[0, n_steps)``, durations >= 1 step, pitches and velocities 0..127
    (:func:`collage.represent.checks.check_notes`; the error quotes the offending value).

    Warns :class:`EmptySegmentWarning` when either has no notes.

    Returns:
        ``(melody, accomp)``, each ``(n, 4)`` int64.
    """
    mel = _notes(melody_notes, "melody_notes", n_steps)
    acc = _notes(accomp_notes, "accomp_notes", n_steps)
    for arr, what in ((mel, "melody"), (acc, "accompaniment")):
        if len(arr) == 0:
            warnings.warn(
                f"empty {what} segment: its histogram statistics, PI and IOI are nan",
                EmptySegmentWarning,
                stacklevel=3,
            )
    return mel, acc


# -- features of one track ----------------------------------------------------


def pitch_class_histogram(notes, *, normalize: bool = True) -> np.ndarray:
    """PCH: 12-bin pitch-class histogram, each note counted once.

    Args:
        notes: ``(n, 4)`` step notes.
        normalize: divide by the number of notes (all zeros stay zeros).
    Returns:
        ``(12,)`` float64; bin ``k`` counts notes with ``pitch % 12 == k``.
    """
    return _pch(_notes(notes), normalize)


def _pch(notes: np.ndarray, normalize: bool = True) -> np.ndarray:
    h = np.bincount(notes[:, 2] % 12, minlength=12).astype(np.float64)
    return _normalize(h) if normalize else h


def onset_histogram(notes, *, n_steps: int = N_STEPS, normalize: bool = True) -> np.ndarray:
    """OH: binary onset pattern; bin ``t`` is 1 if any note starts at step ``t``.

    Args:
        notes: ``(n, 4)`` step notes.
        n_steps: window length in steps.
        normalize: divide by the number of distinct onsets (all zeros stay zeros).
    Returns:
        ``(n_steps,)`` float64.
    """
    return _onsets(_notes(notes, n_steps=n_steps), n_steps, normalize)


def _onsets(notes: np.ndarray, n_steps: int, normalize: bool = True) -> np.ndarray:
    h = np.zeros(n_steps, dtype=np.float64)
    h[notes[:, 0]] = 1.0
    return _normalize(h) if normalize else h


def step_states(notes, *, n_steps: int = N_STEPS) -> np.ndarray:
    """The state of each step: ONSET_STATE (2) if any note starts there, else
    HOLD (1) if any note sounds there (``onset <= t < onset + dur``), else REST (0).

    Returns:
        ``(n_steps,)`` int8.
    """
    return _states(_notes(notes, n_steps=n_steps), n_steps)


def _states(notes: np.ndarray, n_steps: int) -> np.ndarray:
    states = np.zeros(n_steps, dtype=np.int8)
    for on, dur in notes[:, :2]:
        states[on : min(on + dur, n_steps)] = HOLD
    states[notes[:, 0]] = ONSET_STATE
    return states


def pitch_count(notes) -> int:
    """PC: the number of notes in the segment."""
    return len(_notes(notes))


def pitch_interval(notes) -> float:
    """PI: mean signed interval (semitones) between consecutive notes in onset
    order (ties by pitch); ``nan`` with fewer than 2 notes."""
    return _pi(_notes(notes))


def _pi(notes: np.ndarray) -> float:
    if len(notes) < 2:
        return float("nan")
    order = np.lexsort((notes[:, 2], notes[:, 0]))
    return float(np.mean(np.diff(notes[order, 2])))


def inter_onset_interval(notes) -> float:
    """IOI: mean gap (steps) between consecutive distinct onsets; ``nan`` with
    fewer than 2 distinct onsets."""
    return _ioi(_notes(notes))


def _ioi(notes: np.ndarray) -> float:
    onsets = np.unique(notes[:, 0])
    if len(onsets) < 2:
        return float("nan")
    return float(np.mean(np.diff(onsets)))


# -- comparisons of two histograms -------------------------------------------


def _normalize(h: np.ndarray) -> np.ndarray:
    s = h.sum(axis=-1, keepdims=True)
    return np.divide(h, s, out=np.zeros_like(h, dtype=np.float64), where=s > 0)


def _as_hist(h, name: str) -> np.ndarray:
    arr = np.asarray(h, dtype=np.float64)
    if arr.ndim < 1 or arr.shape[-1] == 0:
        raise ParameterError(f"given {name}.shape={arr.shape}; expected (..., k) histograms with k >= 1")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ParameterError(f"given {name} with negative or non-finite entries; expected a histogram")
    return arr


def kl_divergence(p, q, *, eps: float = EPS) -> np.ndarray | float:
    """KL(p || q) in nats after smoothing: ``scipy.stats.entropy(p + eps, q + eps)``.

    ``p`` and ``q`` are normalised to sum 1 first (so counts and frequencies
    give the same answer), ``eps`` is added to every bin and both are
    renormalised. An all-zero histogram gives ``nan``.

    Args:
        p, q: ``(..., k)`` non-negative histograms (broadcast together).
        eps: smoothing added to both, > 0.
    Returns:
        a float for 1-d input, else an ``(...)`` float64 array.
    """
    if not eps > 0:
        raise ParameterError(f"given eps={eps!r}; expected > 0")
    p, q = _as_hist(p, "p"), _as_hist(q, "q")
    if p.shape[-1] != q.shape[-1]:
        raise ParameterError(f"given p.shape={p.shape}, q.shape={q.shape}; expected the same number of bins")
    empty = (p.sum(axis=-1) == 0) | (q.sum(axis=-1) == 0)
    ps, qs = _normalize(_normalize(p) + eps), _normalize(_normalize(q) + eps)
    kl = np.sum(ps * np.log(ps / qs), axis=-1)
    kl = np.where(empty, np.nan, kl)
    return float(kl) if kl.ndim == 0 else kl


def overlapping_area(p, q) -> np.ndarray | float:
    """OA: ``sum_k min(p_k, q_k)`` of the normalised histograms, in [0, 1].

    An all-zero histogram gives ``nan``.

    Args:
        p, q: ``(..., k)`` non-negative histograms (broadcast together).
    Returns:
        a float for 1-d input, else an ``(...)`` float64 array.
    """
    p, q = _as_hist(p, "p"), _as_hist(q, "q")
    if p.shape[-1] != q.shape[-1]:
        raise ParameterError(f"given p.shape={p.shape}, q.shape={q.shape}; expected the same number of bins")
    empty = (p.sum(axis=-1) == 0) | (q.sum(axis=-1) == 0)
    oa = np.minimum(_normalize(p), _normalize(q)).sum(axis=-1)
    oa = np.where(empty, np.nan, oa)
    return float(oa) if oa.ndim == 0 else oa


def rhythm_agreement_3state(melody_notes, accomp_notes, *, n_steps: int = N_STEPS) -> float:
    """RE (3-state reading): share of the ``n_steps`` steps where the melody and
    the accompaniment are in the same onset / hold / rest state (:func:`step_states`)."""
    return _re_3state(_notes(melody_notes, "melody_notes", n_steps), _notes(accomp_notes, "accomp_notes", n_steps),
                      n_steps)


def _re_3state(mel: np.ndarray, acc: np.ndarray, n_steps: int) -> float:
    return float(np.mean(_states(mel, n_steps) == _states(acc, n_steps)))


def rhythm_agreement_onset(melody_notes, accomp_notes, *, n_steps: int = N_STEPS) -> float:
    """RE (onset reading): share of the ``n_steps`` steps where both tracks or
    neither have an onset."""
    return _re_onset(_notes(melody_notes, "melody_notes", n_steps), _notes(accomp_notes, "accomp_notes", n_steps),
                     n_steps)


def _re_onset(mel: np.ndarray, acc: np.ndarray, n_steps: int) -> float:
    return float(np.mean(_onsets(mel, n_steps, False) == _onsets(acc, n_steps, False)))


# -- one pair -------------------------------------------------------------------


def evaluate(melody_notes, accomp_notes, *, n_steps: int = N_STEPS, eps: float = EPS) -> dict[str, float]:
    """All statistics of one melody/accompaniment pair.

    Args:
        melody_notes: ``(n, 4)`` monophonic melody step notes in the window.
        accomp_notes: ``(m, 4)`` accompaniment step notes in the window.
        n_steps: window length in steps (32).
        eps: KL smoothing (1e-5).
    Returns:
        dict with the keys :data:`KEYS`: ``pch_kld``, ``pch_oa``, ``oh_kld``,
        ``oh_oa`` (melody vs accompaniment), ``re_3state``, ``re_onset`` (shares
        in [0, 1]), ``mel_pc``, ``mel_pi`` (semitones), ``mel_ioi`` (steps),
        ``acc_pc``, ``acc_ioi`` (steps); all floats. See the module docstring
        for the definitions and for empty input.
    """
    n_steps = _check_n_steps(n_steps)
    mel, acc = validate(melody_notes, accomp_notes, n_steps=n_steps)  # once; the features below trust them
    pm, pa = _pch(mel), _pch(acc)
    om, oa = _onsets(mel, n_steps), _onsets(acc, n_steps)
    return {
        "pch_kld": kl_divergence(pm, pa, eps=eps),
        "pch_oa": overlapping_area(pm, pa),
        "oh_kld": kl_divergence(om, oa, eps=eps),
        "oh_oa": overlapping_area(om, oa),
        "re_3state": _re_3state(mel, acc, n_steps),
        "re_onset": _re_onset(mel, acc, n_steps),
        "mel_pc": float(len(mel)),
        "mel_pi": _pi(mel),
        "mel_ioi": _ioi(mel),
        "acc_pc": float(len(acc)),
        "acc_ioi": _ioi(acc),
    }


# -- many pairs at once ------------------------------------------------------------


class _Packed:
    """Segments concatenated: ``notes (N, 4)`` and ``seg (N,)`` sorted by (seg, onset, pitch)."""

    def __init__(self, segments: Sequence, name: str, n_steps: int):
        arrs = [np.asarray(s) for s in segments]
        self.n = len(arrs)
        sizes = np.array([a.shape[0] if a.size else 0 for a in arrs], dtype=np.int64)
        nonempty = [a for a in arrs if a.size]
        for i, a in enumerate(arrs):
            if a.size and (a.ndim != 2 or a.shape[1] != 4):
                raise ParameterError(
                    f"given {name}[{i}].shape={a.shape}; expected (n, 4) [onset_step, dur_steps, pitch, velocity]"
                )
        notes = np.concatenate(nonempty, axis=0) if nonempty else np.zeros((0, 4))
        notes = _notes(notes, f"{name} (concatenated)", n_steps)
        seg = np.repeat(np.arange(self.n, dtype=np.int64), sizes)
        order = np.lexsort((notes[:, 2], notes[:, 0], seg))
        self.notes, self.seg, self.sizes = notes[order], seg[order], sizes
        self.n_steps = n_steps

    def pch(self) -> np.ndarray:  # (B, 12) counts
        idx = self.seg * 12 + self.notes[:, 2] % 12
        return np.bincount(idx, minlength=self.n * 12).reshape(self.n, 12).astype(np.float64)

    def onsets(self) -> np.ndarray:  # (B, n_steps) bool
        h = np.zeros((self.n, self.n_steps), dtype=bool)
        h[self.seg, self.notes[:, 0]] = True
        return h

    def states(self) -> np.ndarray:  # (B, n_steps) int8
        t = self.n_steps
        diff = np.zeros((self.n, t + 1), dtype=np.int64)
        off = np.minimum(self.notes[:, 0] + self.notes[:, 1], t)
        np.add.at(diff, (self.seg, self.notes[:, 0]), 1)
        np.add.at(diff, (self.seg, off), -1)
        sounding = np.cumsum(diff[:, :t], axis=1) > 0
        states = np.where(sounding, HOLD, REST).astype(np.int8)
        states[self.onsets()] = ONSET_STATE
        return states

    def pitch_interval(self) -> np.ndarray:  # (B,)
        same = self.seg[1:] == self.seg[:-1]
        d = np.diff(self.notes[:, 2])[same]
        s = self.seg[1:][same]
        tot = np.bincount(s, weights=d, minlength=self.n)
        cnt = np.bincount(s, minlength=self.n)
        return np.divide(tot, cnt, out=np.full(self.n, np.nan), where=cnt > 0)

    def ioi(self) -> np.ndarray:  # (B,)
        key = self.seg * self.n_steps + self.notes[:, 0]
        u = np.unique(key)
        seg, on = u // self.n_steps, u % self.n_steps
        same = seg[1:] == seg[:-1]
        d = np.diff(on)[same]
        s = seg[1:][same]
        tot = np.bincount(s, weights=d, minlength=self.n)
        cnt = np.bincount(s, minlength=self.n)
        return np.divide(tot, cnt, out=np.full(self.n, np.nan), where=cnt > 0)


def evaluate_batch(
    melodies: Sequence, accomps: Sequence, *, n_steps: int = N_STEPS, eps: float = EPS
) -> dict[str, np.ndarray]:
    """:func:`evaluate` over many pairs at once, vectorised.

    Args:
        melodies: sequence of B melody segments, each ``(n_i, 4)`` step notes.
        accomps: sequence of B accompaniment segments, each ``(m_i, 4)``.
        n_steps: window length in steps (32).
        eps: KL smoothing (1e-5).
    Returns:
        dict with the keys :data:`KEYS`, each a ``(B,)`` float64 array equal
        (to rounding) to :func:`evaluate` on each pair. Empty segments warn
        once with their count and give the values documented in the module.
    """
    n_steps = _check_n_steps(n_steps)
    if len(melodies) != len(accomps):
        raise ParameterError(
            f"given len(melodies)={len(melodies)}, len(accomps)={len(accomps)}; expected equal lengths"
        )
    mel = _Packed(melodies, "melodies", n_steps)
    acc = _Packed(accomps, "accomps", n_steps)
    n_empty = int(np.sum(mel.sizes == 0) + np.sum(acc.sizes == 0))
    if n_empty:
        warnings.warn(
            f"{n_empty} empty segment(s) among {mel.n} pairs: their histogram statistics, PI and IOI are nan",
            EmptySegmentWarning,
            stacklevel=2,
        )
    pm, pa = mel.pch(), acc.pch()
    om, oa = mel.onsets(), acc.onsets()
    omf, oaf = om.astype(np.float64), oa.astype(np.float64)
    return {
        "pch_kld": np.atleast_1d(kl_divergence(pm, pa, eps=eps)),
        "pch_oa": np.atleast_1d(overlapping_area(pm, pa)),
        "oh_kld": np.atleast_1d(kl_divergence(omf, oaf, eps=eps)),
        "oh_oa": np.atleast_1d(overlapping_area(omf, oaf)),
        "re_3state": np.mean(mel.states() == acc.states(), axis=1),
        "re_onset": np.mean(om == oa, axis=1),
        "mel_pc": mel.sizes.astype(np.float64),
        "mel_pi": mel.pitch_interval(),
        "mel_ioi": mel.ioi(),
        "acc_pc": acc.sizes.astype(np.float64),
        "acc_ioi": acc.ioi(),
    }

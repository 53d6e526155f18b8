"""Part separation baselines (Dong et al., ISMIR 2021, §4.5): zone-based and closest-pitch.

**Zone-based** (a keyboard's split points): the pitch range 0..127 is cut
into one contiguous zone per part, stacked in some order of the parts (zones
may be empty); a note goes to the part whose zone holds its pitch. The zones
that get the most training notes right are learned by :func:`fit_zone_model`
(an exact dynamic programme over boundaries for every order of the parts);
the *oracle* variant fits the zones on the test piece itself.

**Closest-pitch** (online, needs entry hints): each part remembers its last
pitch, initialised by its first note (the entry hint). A part's first note
goes to it; any other note goes to the entered part whose last pitch is
closest (squared distance), chord notes independently. The *mono* variant
assumes monophonic parts: the notes of a chord (at most one per part) are
matched jointly to distinct parts, a part still sounding being heavily
penalised, as in the authors' implementation.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np

from collage.errors import ModelLoadingError, ParameterError

__all__ = [
    "ZoneModel",
    "pitch_counts",
    "fit_zone_model",
    "zone_predict",
    "load_zones",
    "ZONES_FILE",
    "closest_pitch",
    "entry_note_indices",
]

ZONES_FILE = Path(__file__).with_name("zones.json")
_BIG = 99999


@dataclasses.dataclass(frozen=True)
class ZoneModel:
    """Zones from the top of the keyboard down.

    ``order[j]`` is the part of the ``j``-th zone from the top; zone ``j``
    covers pitches ``[boundaries[j], boundaries[j - 1])`` with
    ``boundaries[-1] = 128`` implied above and the last boundary 0.
    ``len(boundaries) == len(order)`` and boundaries are non-increasing.
    """

    boundaries: list[int]
    order: list[int]

    def table(self) -> np.ndarray:
        """``(128,)`` int64: the part of every pitch."""
        out = np.zeros(128, np.int64)
        upper = 128
        for lo, part in zip(self.boundaries, self.order):
            out[lo:upper] = part
            upper = min(upper, lo)
        return out


def pitch_counts(pitches: np.ndarray, labels: np.ndarray, n_parts: int) -> np.ndarray:
    """``(P, 128)`` int64: how many notes of each part have each pitch."""
    counts = np.zeros((n_parts, 128), np.int64)
    np.add.at(counts, (np.asarray(labels, np.int64), np.clip(np.asarray(pitches, np.int64), 0, 127)), 1)
    return counts


def fit_zone_model(counts: np.ndarray) -> ZoneModel:
    """The contiguous zones (and part order) that classify the most notes of ``counts`` ``(P, 128)`` correctly."""
    counts = np.asarray(counts, np.int64)
    P = counts.shape[0]
    cum = np.concatenate([np.zeros((P, 1), np.int64), np.cumsum(counts, axis=1)], axis=1)  # (P, 129)
    best_score, best = -1, None
    for order in itertools.permutations(range(P)):
        # dp[b]: best score of the zones placed so far when the lowest one starts at pitch b (covers b..upper)
        dp = np.array([cum[order[0], 128] - cum[order[0], b] for b in range(129)])  # top zone [b, 128)
        back = []
        for part in order[1:]:
            # next zone [b2, b) below: score dp[b] + cum[part, b] - cum[part, b2], b2 <= b
            vals = dp + cum[part]  # (129,) indexed by b
            run_max = np.maximum.accumulate(vals[::-1])[::-1]  # best over b >= b2
            arg = np.empty(129, np.int64)
            best_b = 128
            for b2 in range(128, -1, -1):
                if vals[b2] >= vals[best_b]:
                    best_b = b2
                arg[b2] = best_b
            dp = run_max - cum[part]
            back.append(arg)
        score = int(dp[0])  # the lowest zone reaches down to pitch 0
        if score > best_score:
            bounds = [0]
            b = 0
            for arg in reversed(back):
                b = int(arg[b])
                bounds.append(b)
            best_score, best = score, ZoneModel(boundaries=bounds[::-1], order=list(order))
    assert best is not None
    return best


def zone_predict(pitches: np.ndarray, zones: ZoneModel) -> np.ndarray:
    """Part labels ``(N,)`` of notes by their pitch."""
    return zones.table()[np.clip(np.asarray(pitches, np.int64), 0, 127)]


def load_zones(ensemble: str) -> ZoneModel:
    """The zones learned on the training split of the ensemble's dataset (``collage/arrangement/zones.json``)."""
    try:
        table = json.loads(ZONES_FILE.read_text())
        z = table[ensemble]
        return ZoneModel(boundaries=[int(b) for b in z["boundaries"]], order=[int(o) for o in z["order"]])
    except (OSError, ValueError, KeyError) as e:
        raise ModelLoadingError(
            f"{ZONES_FILE}: no zones for ensemble {ensemble!r} ({type(e).__name__}); "
            f"run 'collage train arrange --model zone --dataset ...'"
        ) from None


def entry_note_indices(notes: np.ndarray, entry: list[int | None]) -> list[int | None]:
    """The index of each part's first note, from entry times (steps) on a sorted ``(N, 3)`` sequence.

    Parts entering at the same time take distinct notes of the first onset at
    or after that time, the first-listed part the highest pitch (ensembles
    list their parts high to low); a part that finds no free note there takes
    the next onset's. None for a part with no entry or with no note after it.
    """
    notes = np.asarray(notes).reshape(-1, 3)
    out: list[int | None] = [None] * len(entry)
    taken: set[int] = set()
    onsets = notes[:, 0]
    for k in sorted((k for k, t in enumerate(entry) if t is not None), key=lambda k: (entry[k], k)):
        start = int(np.searchsorted(onsets, entry[k], side="left"))
        while start < len(notes):
            t0 = onsets[start]
            stop = int(np.searchsorted(onsets, t0, side="right"))
            free = [i for i in range(stop - 1, start - 1, -1) if i not in taken]  # high to low pitch
            if free:
                out[k] = free[0]
                taken.add(free[0])
                break
            start = stop
    return out


def closest_pitch(notes: np.ndarray, first_notes: list[int | None], *, mono: bool = False) -> np.ndarray:
    """Closest-pitch part labels ``(N,)`` of a sorted ``(N, 3)`` ``[onset, duration, pitch]`` sequence.

    Args:
        first_notes: index of each part's first note (the entry hints; None: the
            part does not play). At least one part must play.
        mono: the monophonic variant (chords matched jointly, sounding parts penalised).
    """
    notes = np.asarray(notes, np.int64).reshape(-1, 3)
    P = len(first_notes)
    if not any(i is not None for i in first_notes):
        raise ParameterError("closest-pitch needs the entry of at least one part")
    N = len(notes)
    pred = np.zeros(N, np.int64)
    if N == 0:
        return pred
    entry_idx = np.array([N if i is None else int(i) for i in first_notes])  # a part plays from this note on
    first_of = {int(i): k for k, i in enumerate(first_notes) if i is not None}
    last = np.array([notes[i, 2] if i is not None else 0 for i in first_notes], np.int64)
    busy_until = np.zeros(P, np.int64)
    fallback = int(np.argmin(entry_idx))
    bounds = np.flatnonzero(np.diff(notes[:, 0])) + 1
    for group in np.split(np.arange(N), bounds):
        t = notes[group[0], 0]
        scores = np.empty((len(group), P), np.int64)
        for r, i in enumerate(group):
            if i in first_of:
                scores[r] = -_BIG * 100
                scores[r, first_of[i]] = _BIG
                continue
            scores[r] = -np.square(last - notes[i, 2])
            if mono:
                scores[r] -= _BIG * (busy_until > t)
            scores[r, entry_idx > i] = -_BIG * 100  # not entered yet
        if mono and len(group) <= P:
            best, labels = None, None
            for perm in itertools.permutations(range(P), len(group)):
                s = int(scores[np.arange(len(group)), list(perm)].sum())
                if best is None or s >= best:  # ties: the last permutation, as the authors' code (higher note, higher part)
                    best, labels = s, perm
            labels = np.array(labels)
        else:
            labels = scores.argmax(axis=1)
        for r, i in enumerate(group):
            k = int(labels[r])
            if entry_idx[k] > i:  # nothing has entered yet: give the note to the first part to enter
                k = fallback
            pred[i] = k
            last[k] = notes[i, 2]
            busy_until[k] = max(busy_until[k], t + notes[i, 1])
    return pred

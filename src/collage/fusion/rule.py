"""The rule-based fusion baseline of the CollageNet paper (§4.2): small edits to the melody only.

For every note of a 32-step melody segment, against the accompaniment of the
same segment:

- **pitch**: find the pitch class among the accompaniment's notes closest to
  the note's pitch class (circular distance in semitones). If it is exactly
  one semitone away, move the note by that semitone (C#4 over {C, E, F}
  becomes C4); of two candidates one semitone below and above, the one below
  wins ("ties downward"). A note already on an accompaniment pitch class,
  or further than one semitone from all of them, is left alone.
- **onset**: find the accompaniment onset nearest to the note's onset. If it
  is one or two steps away, move the note there, keeping its duration; of two
  equally near onsets the earlier wins. A note on an accompaniment onset, or
  three or more steps from every one, is left alone.
- each such change is skipped with probability ``p_skip`` (0.2), drawn
  separately for the pitch and the onset, from the given generator, in note
  order (pitch draw, then onset draw, for each note that has the change).

The accompaniment is returned unchanged, so the rule method has no controls:
the ``keep_*`` values of :func:`collage.fusion.vertical.fuse` do not apply.
Moved notes are kept inside the segment (an offset past its end is clipped) and
the melody is kept monophonic: where two notes end up on one onset the moved
one wins, and a note is cut where the next one starts.

Read this way the baseline reproduces the paper's Table 2 row closely on the
POP909 test Ωdh pairs (``docs/results/fusion.md``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from collage.errors import ParameterError
from collage.represent.checks import check_notes
from collage.represent.grid import SEGMENT_STEPS

__all__ = ["rule_fuse_segment", "rule_fuse_batch", "P_SKIP", "PITCH_THRESHOLD", "ONSET_THRESHOLD"]

P_SKIP = 0.2
PITCH_THRESHOLD = 1  # semitones
ONSET_THRESHOLD = 2  # steps


def _check_p(p_skip) -> float:
    try:
        p = float(p_skip)
    except (TypeError, ValueError):
        raise ParameterError(f"given p_skip={p_skip!r}; expected a probability in [0, 1]") from None
    if not 0.0 <= p <= 1.0:
        raise ParameterError(f"given p_skip={p_skip!r}; expected a probability in [0, 1]")
    return p


def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ParameterError(f"given rng of type {type(rng).__name__}; expected a numpy.random.Generator")
    return rng


def _pitch_shift(pc: int, acc_pcs: np.ndarray) -> int:
    """Semitones (-1, 0 or +1) that move pitch class ``pc`` onto the nearest accompaniment class."""
    if not acc_pcs.any() or acc_pcs[pc]:
        return 0
    if acc_pcs[(pc - 1) % 12]:  # one below: wins ties
        return -1
    if acc_pcs[(pc + 1) % 12]:
        return 1
    return 0


def _onset_shift(on: int, acc_onsets: np.ndarray) -> int:
    """Steps (|d| <= 2, 0 for none) that move onset ``on`` onto the nearest accompaniment onset."""
    if not len(acc_onsets):
        return 0
    d = acc_onsets - on
    if (d == 0).any():
        return 0
    near = d[np.abs(d) <= ONSET_THRESHOLD]
    if not len(near):
        return 0
    best = np.abs(near).min()
    return int(near[np.abs(near) == best].min())  # the earlier of two equally near onsets


def rule_fuse_segment(
    mel_notes, acc_notes, *, rng: np.random.Generator, p_skip: float = P_SKIP, n_steps: int = SEGMENT_STEPS
) -> np.ndarray:
    """Fuse one segment by the rules above; returns the edited melody.

    Args:
        mel_notes: ``(N, 4)`` monophonic melody step notes [onset, duration,
            pitch, velocity], onsets in ``[0, n_steps)``.
        acc_notes: ``(M, 4)`` accompaniment step notes of the same segment.
        rng: the random generator for the skips (seeded by the caller).
        p_skip: probability that an applicable change is skipped.
        n_steps: segment length in steps (offsets are clipped to it).
    Returns:
        ``(N', 4)`` int64 melody step notes (N' <= N), sorted by onset,
        monophonic, velocities kept.
    """
    mel = check_notes(mel_notes, "mel_notes")
    acc = check_notes(acc_notes, "acc_notes")
    return _rule_fuse(mel, acc, rng, p_skip, n_steps)


def _rule_fuse(mel: np.ndarray, acc: np.ndarray, rng, p_skip: float = P_SKIP, n_steps: int = SEGMENT_STEPS) -> np.ndarray:
    """:func:`rule_fuse_segment` of checked notes (``mel`` is not modified)."""
    mel = mel.copy()
    rng = _check_rng(rng)
    p = _check_p(p_skip)
    if int(n_steps) != n_steps or n_steps < 1:
        raise ParameterError(f"given n_steps={n_steps!r}; expected a positive integer")
    if not len(mel) or not len(acc):
        return mel
    acc_pcs = np.zeros(12, dtype=bool)
    acc_pcs[acc[:, 2] % 12] = True
    acc_onsets = np.unique(acc[:, 0])
    moved = np.zeros(len(mel), dtype=bool)
    for i in range(len(mel)):
        dp = _pitch_shift(int(mel[i, 2] % 12), acc_pcs)
        if dp and rng.random() >= p and 0 <= mel[i, 2] + dp <= 127:
            mel[i, 2] += dp
        dt = _onset_shift(int(mel[i, 0]), acc_onsets)
        if dt and rng.random() >= p:
            mel[i, 0] += dt
            moved[i] = True
    return _monophonic(mel, moved, int(n_steps))


def _monophonic(mel: np.ndarray, moved: np.ndarray, n_steps: int) -> np.ndarray:
    """Clip to the segment; one note per onset (a moved note wins); cut each note at the next onset."""
    order = np.lexsort((~moved, mel[:, 0]))  # by onset, moved first
    mel, moved = mel[order], moved[order]
    first = np.ones(len(mel), dtype=bool)
    first[1:] = mel[1:, 0] != mel[:-1, 0]
    mel = mel[first]
    off = np.minimum(mel[:, 0] + mel[:, 1], n_steps)
    nxt = np.append(mel[1:, 0], n_steps)
    off = np.minimum(off, nxt)
    mel[:, 1] = np.maximum(off - mel[:, 0], 1)
    return mel


def rule_fuse_batch(
    melodies: Sequence, accomps: Sequence, *, seed: int = 0, p_skip: float = P_SKIP, n_steps: int = SEGMENT_STEPS
) -> list[np.ndarray]:
    """:func:`rule_fuse_segment` over many pairs with one generator seeded by ``seed`` (pairs in order).

    Returns:
        a list of ``(N_i, 4)`` int64 fused melodies, one per pair.
    """
    if len(melodies) != len(accomps):
        raise ParameterError(f"given len(melodies)={len(melodies)}, len(accomps)={len(accomps)}; expected equal")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ParameterError(f"given seed={seed!r}; expected an integer")
    rng = np.random.default_rng(int(seed))
    return [rule_fuse_segment(m, a, rng=rng, p_skip=p_skip, n_steps=n_steps) for m, a in zip(melodies, accomps)]

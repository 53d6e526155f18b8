"""Chords: Harte labels, the 36-d chord vector per beat, and a symbolic chord estimator.

A chord vector is 36 numbers (float32): a one-hot root pitch class (12), the
chord's pitch classes (12, 0/1), and a one-hot bass pitch class (12), pitch
class 0 being C. No chord (``N``) is all zeros. A chord track is one vector
per beat, ``(n_beats, 36)``.

Labels follow Harte et al. (2005), as in POP909's ``chord_midi.txt``:
``root[:shorthand][(degree, *degree, ...)][/bass-degree]``, e.g. ``C:maj``,
``A:min7``, ``Bb:maj/5``, ``F#:sus4(b7)``, ``D:hdim7``, ``N``.

:func:`chord_track_from_labels` turns annotated chord segments into a chord
track; :func:`estimate_chords` estimates one from the notes themselves
(template matching on beat chroma with a Viterbi smoothing) where no
annotation exists.
"""

from __future__ import annotations

import logging
import re
from typing import Iterable, NamedTuple, Sequence

import numpy as np

from collage.errors import ParameterError
from collage.represent.checks import check_int, check_notes
from collage.represent.pitch import PITCH_NAMES, pitch_class

__all__ = [
    "CHORD_DIM",
    "PITCH_NAMES",
    "SHORTHANDS",
    "ESTIMATOR_QUALITIES",
    "Chord",
    "parse_chord",
    "chord_vector",
    "chord_vectors",
    "vector_to_label",
    "labels_at_beats",
    "chord_track_from_labels",
    "beat_chroma",
    "estimate_chords",
    "estimate_chord_labels",
]

log = logging.getLogger(__name__)

CHORD_DIM = 36
_DEGREE_SEMITONES = {1: 0, 2: 2, 3: 4, 4: 5, 5: 7, 6: 9, 7: 11, 8: 12, 9: 14, 10: 16, 11: 17, 12: 19, 13: 21}
_INTERVAL_DEGREE = ("1", "b2", "2", "b3", "3", "4", "b5", "5", "b6", "6", "b7", "7")

# Harte's shorthands (plus the common 'sus2'/'sus4'/'5'/'1'), as degree lists.
_SHORTHAND_DEGREES = {
    "maj": "1,3,5", "min": "1,b3,5", "dim": "1,b3,b5", "aug": "1,3,#5",
    "maj7": "1,3,5,7", "min7": "1,b3,5,b7", "7": "1,3,5,b7", "dim7": "1,b3,b5,bb7",
    "hdim7": "1,b3,b5,b7", "minmaj7": "1,b3,5,7", "maj6": "1,3,5,6", "min6": "1,b3,5,6",
    "9": "1,3,5,b7,9", "maj9": "1,3,5,7,9", "min9": "1,b3,5,b7,9",
    "11": "1,3,5,b7,9,11", "min11": "1,b3,5,b7,9,11", "13": "1,3,5,b7,9,11,13",
    "maj13": "1,3,5,7,9,11,13", "min13": "1,b3,5,b7,9,11,13",
    "sus2": "1,2,5", "sus4": "1,4,5", "5": "1,5", "1": "1",
}


def _degree_to_semitone(token: str, label: str) -> int:
    m = re.fullmatch(r"([b#]*)(\d+)", token.strip())
    if not m or int(m.group(2)) not in _DEGREE_SEMITONES:
        raise ParameterError(f"given chord label {label!r}: cannot read degree {token!r}")
    mods = m.group(1)
    return (_DEGREE_SEMITONES[int(m.group(2))] + mods.count("#") - mods.count("b")) % 12


SHORTHANDS: dict[str, frozenset[int]] = {
    name: frozenset(_degree_to_semitone(d, name) for d in degrees.split(","))
    for name, degrees in _SHORTHAND_DEGREES.items()
}
"""Each shorthand's intervals above the root, in semitones mod 12."""

_LABEL = re.compile(r"^(?P<root>[A-G][b#]*)(?::(?P<short>[A-Za-z0-9]*)?(?:\((?P<ext>[^)]*)\))?)?(?:/(?P<bass>[b#]*\d+))?$")


class Chord(NamedTuple):
    """A parsed chord: root and bass pitch classes (-1 for no chord) and its pitch classes."""

    root: int
    chroma: frozenset
    bass: int

    @property
    def is_none(self) -> bool:
        return self.root < 0


NO_CHORD = Chord(-1, frozenset(), -1)


def parse_chord(label: str) -> Chord:
    """Parse a Harte chord label into root, pitch classes and bass (all absolute, 0 = C).

    ``N`` and ``X`` (no chord / unknown) give ``Chord(-1, frozenset(), -1)``; a
    bare root means major; ``*d`` in the parentheses omits a degree; the bass
    is a degree above the root (``/5`` = the fifth). Raises ParameterError
    naming the label for an unknown shorthand or a malformed label.
    """
    if not isinstance(label, str):
        raise ParameterError(f"given chord label {label!r}; expected a string such as 'C:maj'")
    text = label.strip()
    if text in ("N", "X", ""):
        return NO_CHORD
    m = _LABEL.match(text)
    if not m:
        raise ParameterError(f"given chord label {label!r}; expected Harte syntax such as 'C:maj', 'A:min7', 'Bb:maj/5'")
    root_txt = m.group("root")
    root = pitch_class(root_txt)
    short, ext = m.group("short"), m.group("ext")
    if short in (None, "") and ext is None:
        intervals = set(SHORTHANDS["maj"])  # a bare root is major
    elif short in (None, ""):
        intervals = set()  # 'C:(1,3,5)': the degrees say it all
    elif short in SHORTHANDS:
        intervals = set(SHORTHANDS[short])
    else:
        raise ParameterError(
            f"given chord label {label!r}: unknown quality {short!r}; expected one of {sorted(SHORTHANDS)}"
        )
    if ext:
        for tok in ext.split(","):
            tok = tok.strip()
            if not tok:
                continue
            if tok.startswith("*"):
                intervals.discard(_degree_to_semitone(tok[1:], label))
            else:
                intervals.add(_degree_to_semitone(tok, label))
    bass_iv = _degree_to_semitone(m.group("bass"), label) if m.group("bass") else 0
    intervals.add(bass_iv)  # the bass sounds, whether or not the shorthand lists it
    chroma = frozenset((root + iv) % 12 for iv in intervals)
    return Chord(root, chroma, (root + bass_iv) % 12)


def chord_vector(chord: str | Chord) -> np.ndarray:
    """The ``(36,)`` float32 vector of a label or :class:`Chord`: root one-hot, chroma, bass one-hot."""
    c = parse_chord(chord) if isinstance(chord, str) else chord
    vec = np.zeros(CHORD_DIM, dtype=np.float32)
    if c.root < 0:
        return vec
    vec[c.root] = 1.0
    vec[12 + np.array(sorted(c.chroma), dtype=np.int64)] = 1.0
    vec[24 + c.bass] = 1.0
    return vec


def chord_vectors(labels: Sequence[str]) -> np.ndarray:
    """``(n, 36)`` float32 chord vectors of ``n`` labels."""
    if isinstance(labels, str):
        raise ParameterError(f"given labels={labels!r}; expected a sequence of labels, not one string")
    cache: dict[str, np.ndarray] = {}
    out = np.zeros((len(labels), CHORD_DIM), dtype=np.float32)
    for i, lab in enumerate(labels):
        if lab not in cache:
            cache[lab] = chord_vector(lab)
        out[i] = cache[lab]
    return out


_LABEL_ORDER = ("maj", "min", "7", "maj7", "min7", "dim", "aug", "sus2", "sus4", "hdim7", "dim7", "minmaj7",
                "maj6", "min6", "9", "maj9", "min9", "11", "min11", "13", "maj13", "min13", "5", "1")


def vector_to_label(vec) -> str:
    """The Harte label of a ``(36,)`` chord vector (the inverse of :func:`chord_vector`).

    The root and bass are the argmax of their blocks; the quality is the
    shorthand whose pitch classes equal the chroma, else an explicit degree
    list (``C:(1,3,5,b7,9)``). An all-zero (or root-less) vector is ``N``.
    The root is spelled as in :data:`collage.represent.pitch.PITCH_NAMES`.
    """
    vec = np.asarray(vec, dtype=np.float64)
    if vec.shape != (CHORD_DIM,):
        raise ParameterError(f"given vec.shape={vec.shape}; expected ({CHORD_DIM},)")
    if vec[:12].max() <= 0:
        return "N"
    root = int(vec[:12].argmax())
    rel = frozenset(int((pc - root) % 12) for pc in np.flatnonzero(vec[12:24] > 0.5))
    bass_iv = int((vec[24:].argmax() - root) % 12) if vec[24:].max() > 0 else 0
    candidates = [(name, SHORTHANDS[name]) for name in _LABEL_ORDER] + [("sus4(b7)", SHORTHANDS["sus4"] | {10})]
    quality = next((name for name, ivs in candidates if ivs == rel), None)
    if quality is None:  # a bass outside the shorthand, e.g. C:maj/b7
        quality = next((name for name, ivs in candidates if bass_iv not in ivs and ivs | {bass_iv} == rel), None)
    if quality is None:
        quality = "(" + ",".join(_INTERVAL_DEGREE[iv] for iv in sorted(rel)) + ")"
    label = f"{PITCH_NAMES[root]}:{quality}"
    if bass_iv:
        label += "/" + _INTERVAL_DEGREE[bass_iv]
    return label


# -- annotations -> beats --------------------------------------------------------


def _check_beats(beat_times_s) -> np.ndarray:
    beats = np.asarray(beat_times_s, dtype=np.float64)
    if beats.ndim != 1 or len(beats) < 1 or not np.all(np.isfinite(beats)) or np.any(np.diff(beats) <= 0):
        raise ParameterError(
            f"given beat_times_s of shape {beats.shape}; expected a strictly increasing 1-d array of seconds"
        )
    return beats


def _check_segments(segments) -> list[tuple[float, float, str]]:
    out = []
    for i, seg in enumerate(segments):
        try:
            start, end, label = seg
            start, end = float(start), float(end)
        except (TypeError, ValueError):
            raise ParameterError(f"given segment {i} = {seg!r}; expected (start_s, end_s, label)") from None
        if not end >= start:
            raise ParameterError(f"given segment {i} = {seg!r}; its end is before its start")
        out.append((start, end, str(label)))
    return out


def labels_at_beats(segments: Iterable, beat_times_s, *, method: str = "majority") -> list[str]:
    """The chord label of each beat from annotated segments.

    Args:
        segments: ``(start_s, end_s, label)`` triples (POP909's ``chord_midi.txt`` rows).
        beat_times_s: ``(n_beats,)`` increasing beat times in seconds; beat ``i``
            spans ``[beat_i, beat_{i+1})``, the last beat as long as the one before.
        method: ``'majority'``: the label covering most of the beat (time not
            covered by any segment counts as ``N``; ties go to the earlier
            segment, and uncovered time loses them). ``'midpoint'``: the label sounding at the beat's middle.
    Returns:
        ``n_beats`` labels (``'N'`` where no chord sounds).
    """
    segs = _check_segments(segments)
    beats = _check_beats(beat_times_s)
    if method not in ("majority", "midpoint"):
        raise ParameterError(f"given method={method!r}; expected 'majority' or 'midpoint'")
    last = beats[-1] - beats[-2] if len(beats) > 1 else 0.0
    b0, b1 = beats, np.append(beats[1:], beats[-1] + last)
    if not segs:
        return ["N"] * len(beats)
    s0 = np.array([s[0] for s in segs])
    s1 = np.array([s[1] for s in segs])
    labels = [s[2] for s in segs]
    if method == "midpoint":
        mid = (b0 + b1) / 2
        hit = (s0[None, :] <= mid[:, None]) & (mid[:, None] < s1[None, :])  # (n_beats, n_segs)
        idx = np.where(hit.any(1), hit.argmax(1), -1)
        return [labels[i] if i >= 0 else "N" for i in idx.tolist()]
    overlap = np.clip(np.minimum(b1[:, None], s1[None, :]) - np.maximum(b0[:, None], s0[None, :]), 0, None)
    length = b1 - b0
    out = []
    for i in range(len(beats)):
        ov = overlap[i]
        if ov.max() <= 0:
            # no overlap (a zero-length beat): the chord at its time, if any
            at = np.flatnonzero((s0 <= b0[i]) & (b0[i] < s1))
            out.append(labels[at[0]] if len(at) else "N")
            continue
        # sum overlaps per label, N including uncovered time
        totals: dict[str, float] = {}
        for j in np.flatnonzero(ov > 0).tolist():
            key = "N" if parse_chord(labels[j]).is_none else labels[j]
            totals[key] = totals.get(key, 0.0) + float(ov[j])
        totals["N"] = totals.get("N", 0.0) + max(0.0, float(length[i] - ov.sum()))
        best = max(totals.values())
        out.append(next(k for k in totals if totals[k] == best))
    return out


def chord_track_from_labels(segments: Iterable, beat_times_s, *, method: str = "majority") -> np.ndarray:
    """Annotated chord segments -> a ``(n_beats, 36)`` float32 chord track.

    See :func:`labels_at_beats` for ``segments``, ``beat_times_s`` and ``method``
    (default: the label covering most of each beat).
    """
    return chord_vectors(labels_at_beats(segments, beat_times_s, method=method))


# -- symbolic chord estimation -----------------------------------------------------


ESTIMATOR_QUALITIES = ("maj", "min", "dim", "aug", "sus2", "sus4", "7", "maj7", "min7", "hdim7", "dim7")
_TRIADS = ("maj", "min")


def beat_chroma(step_notes, n_beats: int, *, steps_per_beat: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Duration-weighted chroma and lowest sounding pitch of each beat.

    Args:
        step_notes: ``(N, 4)`` [onset, duration, pitch, velocity] in steps;
            step 0 is the start of beat 0 (notes outside ``[0, n_beats *
            steps_per_beat)`` are cut).
        n_beats: number of beats.
        steps_per_beat: steps in a beat.
    Returns:
        ``chroma`` ``(n_beats, 12)`` float64, the number of steps each pitch
        class sounds in the beat (summed over notes), and ``bass``
        ``(n_beats,)`` int64, the lowest MIDI pitch sounding in the beat (-1 if
        none).
    """
    notes = check_notes(step_notes, "step_notes", nonneg_onset=False)
    n_beats = check_int(n_beats, "n_beats", minimum=0)
    spb = check_int(steps_per_beat, "steps_per_beat", minimum=1)
    n_steps = n_beats * spb
    frames = np.zeros((n_steps + 1, 128), dtype=np.int32)
    if len(notes):
        lo = np.clip(notes[:, 0], 0, n_steps)
        hi = np.clip(notes[:, 0] + notes[:, 1], 0, n_steps)
        np.add.at(frames, (lo, notes[:, 2]), 1)
        np.add.at(frames, (hi, notes[:, 2]), -1)
    frames = np.cumsum(frames[:-1], axis=0).reshape(n_beats, spb, 128)  # (n_beats, spb, 128) notes sounding
    per_pitch = frames.sum(axis=1)  # (n_beats, 128) sounding steps
    chroma = np.zeros((n_beats, 12))
    for pc in range(12):
        chroma[:, pc] = per_pitch[:, pc::12].sum(axis=1)
    sounding = per_pitch > 0
    bass = np.where(sounding.any(1), sounding.argmax(1), -1).astype(np.int64)
    return chroma, bass


def _templates(qualities: Sequence[str]) -> tuple[np.ndarray, list[tuple[int, str]]]:
    rows, names = [], []
    for q in qualities:
        ivs = SHORTHANDS[q]
        for root in range(12):
            t = np.zeros(12)
            t[[(root + iv) % 12 for iv in ivs]] = 1.0
            rows.append(t / np.linalg.norm(t))
            names.append((root, q))
    return np.array(rows), names


def _chord_scores(
    chroma: np.ndarray, bass_pc: np.ndarray, qualities: Sequence[str], *, triad_bonus: float, bass_bonus: float,
    min_energy: float,
) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Scores ``(n_beats, n_chords + 1)``; the last column is no chord."""
    temps, names = _templates(qualities)
    norm = np.linalg.norm(chroma, axis=1, keepdims=True)
    unit = np.divide(chroma, norm, out=np.zeros_like(chroma), where=norm > 0)
    scores = unit @ temps.T  # (n_beats, n_chords) cosine
    roots = np.array([r for r, _ in names])
    prior = np.array([triad_bonus if q in _TRIADS else 0.0 for _, q in names])
    scores = scores + prior[None, :] + bass_bonus * (roots[None, :] == bass_pc[:, None])
    quiet = chroma.sum(axis=1) < min_energy
    scores[quiet] = -10.0  # far below any cosine: a quiet beat is N, a sounding one never is
    none = np.where(quiet, 10.0, -10.0)
    return np.concatenate([scores, none[:, None]], axis=1), names


def _viterbi(scores: np.ndarray, penalty: float) -> np.ndarray:
    """Best path through ``scores`` (T, S) where changing state costs ``penalty``."""
    n, s = scores.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    finite = scores
    back = np.zeros((n, s), dtype=np.int64)
    acc = finite[0].copy()
    for t in range(1, n):
        best = int(acc.argmax())
        switch = acc[best] - penalty
        stay = acc >= switch
        back[t] = np.where(stay, np.arange(s), best)
        acc = np.where(stay, acc, switch) + finite[t]
    path = np.zeros(n, dtype=np.int64)
    path[-1] = int(acc.argmax())
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _estimate(step_notes, n_beats, steps_per_beat, qualities, triad_bonus, bass_bonus, min_energy, smoothing):
    for q in qualities:
        if q not in SHORTHANDS:
            raise ParameterError(f"given quality {q!r} in qualities; expected names from {sorted(SHORTHANDS)}")
    if not qualities:
        raise ParameterError("given qualities=(); expected at least one chord quality")
    if smoothing < 0:
        raise ParameterError(f"given smoothing={smoothing}; expected >= 0")
    chroma, bass = beat_chroma(step_notes, n_beats, steps_per_beat=steps_per_beat)
    bass_pc = np.where(bass >= 0, bass % 12, -1)
    scores, names = _chord_scores(
        chroma, bass_pc, qualities, triad_bonus=triad_bonus, bass_bonus=bass_bonus,
        min_energy=min_energy * steps_per_beat,
    )
    path = _viterbi(scores, smoothing) if smoothing > 0 else scores.argmax(axis=1)
    out = []
    for b, k in enumerate(path.tolist()):
        if k == len(names):
            out.append(None)
            continue
        root, q = names[k]
        ivs = SHORTHANDS[q]
        # the bass is the lowest sounding pitch class when it belongs to the chord, else the root
        bpc = int(bass_pc[b]) if bass_pc[b] >= 0 and (bass_pc[b] - root) % 12 in ivs else root
        out.append((root, q, bpc))
    return out


def estimate_chord_labels(
    step_notes,
    n_beats: int,
    *,
    steps_per_beat: int = 4,
    qualities: Sequence[str] = ESTIMATOR_QUALITIES,
    triad_bonus: float = 0.05,
    bass_bonus: float = 0.1,
    min_energy: float = 0.5,
    smoothing: float = 0.15,
) -> list[str]:
    """Estimate one chord label per beat from the notes (template matching).

    Each beat's chroma is the number of steps each pitch class sounds in it
    (:func:`beat_chroma`). Every (root, quality) template is scored by the
    cosine between that chroma and the template's pitch classes, plus
    ``triad_bonus`` for plain major and minor triads and ``bass_bonus`` when
    the root is the lowest sounding pitch class. A beat whose total sounding
    time is under ``min_energy`` beats of one note is ``N``. With
    ``smoothing`` > 0 a Viterbi pass picks the best sequence where each chord
    change costs ``smoothing`` (chords tend to last several beats).

    Args:
        step_notes: ``(N, 4)`` [onset, duration, pitch, velocity] in steps,
            step 0 the start of beat 0; usually the accompaniment.
        n_beats: number of beats to label.
        steps_per_beat: steps in a beat.
        qualities: shorthands to consider (names of :data:`SHORTHANDS`).
        triad_bonus, bass_bonus, min_energy, smoothing: see above.
    Returns:
        ``n_beats`` Harte labels, e.g. ``'C:maj'``, ``'A:min7/b7'``, ``'N'``;
        the bass is given when the lowest sounding pitch class is a chord
        tone other than the root.
    """
    est = _estimate(step_notes, n_beats, steps_per_beat, tuple(qualities), triad_bonus, bass_bonus, min_energy,
                    smoothing)
    labels = []
    for e in est:
        if e is None:
            labels.append("N")
            continue
        root, q, bpc = e
        lab = f"{PITCH_NAMES[root]}:{q}"
        if bpc != root:
            lab += "/" + _INTERVAL_DEGREE[(bpc - root) % 12]
        labels.append(lab)
    return labels


def estimate_chords(
    step_notes,
    n_beats: int,
    *,
    steps_per_beat: int = 4,
    qualities: Sequence[str] = ESTIMATOR_QUALITIES,
    triad_bonus: float = 0.05,
    bass_bonus: float = 0.1,
    min_energy: float = 0.5,
    smoothing: float = 0.15,
) -> np.ndarray:
    """Estimate a ``(n_beats, 36)`` float32 chord track from the notes.

    The chord vectors of :func:`estimate_chord_labels` (same arguments).
    """
    return chord_vectors(
        estimate_chord_labels(
            step_notes, n_beats, steps_per_beat=steps_per_beat, qualities=qualities, triad_bonus=triad_bonus,
            bass_bonus=bass_bonus, min_energy=min_energy, smoothing=smoothing,
        )
    )

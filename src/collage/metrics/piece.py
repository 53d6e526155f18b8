"""MusPy's objective metrics for a whole piece, vectorised.

The same definitions as ``muspy.metrics`` (muspy 0.5.0), computed with numpy
instead of Python loops and a piano roll, and checked against muspy on POP909
in ``tests/metrics/test_piece_metrics.py``.

Each metric comes twice:

- ``<metric>(piece, ...)`` takes a :class:`collage.piece.Piece`;
- ``<metric>_from_arrays(...)`` is the pure function underneath, over 1-D
  arrays of onsets, durations (ticks) and pitches (MIDI numbers) of the notes
  it should see.

:func:`validate` checks a piece and :func:`evaluate` returns every metric in a
dict.

Conventions (muspy's):

- Time is in ticks; a *beat* is a quarter note, ``piece.tpq`` ticks (muspy's
  ``resolution``). ``measure_resolution`` is ticks per measure; muspy's
  measure metrics assume a constant time signature.
- The *length* of a piece is the end tick of its last note, drums included.
  muspy also counts control-change events (e.g. a pedal release after the
  last note), which a Piece does not keep; pass ``length=`` to the array
  functions to reproduce such a value.
- Which notes count:

  =====================================================  ==================
  pitch_range, n_pitches_used, n_pitch_classes_used,     pitched notes only
  polyphony, polyphony_rate, pitch_in_scale_rate,        (drums skipped)
  scale_consistency, pitch_entropy, pitch_class_entropy
  empty_beat_rate, empty_measure_rate,                   all notes
  groove_consistency
  drum_in_pattern_rate, drum_pattern_consistency         drum notes only
  =====================================================  ==================

Empty input warns (:class:`EmptyInputWarning`) and returns muspy's value:
0 for the counts and the pitch range, ``nan`` for the rates, ratios and
entropies; ``polyphony_rate`` of a piece with drums but no pitched notes is
0.0. One deliberate difference: muspy's ``pitch_range`` of a piece with only
drum notes is -127 (an artefact of its initial values); ours is 0, as muspy
documents for "no note".
"""

from __future__ import annotations

import contextvars
import math
import warnings
from numbers import Integral
from typing import NamedTuple

import numpy as np

from collage.errors import ParameterError
from collage.piece import Piece

__all__ = [
    "EmptyInputWarning",
    "NoteArrays",
    "note_arrays",
    "validate",
    "evaluate",
    "measure_ticks",
    "key_root_mode",
    # Piece-level metrics
    "pitch_range",
    "n_pitches_used",
    "n_pitch_classes_used",
    "polyphony",
    "polyphony_rate",
    "pitch_in_scale_rate",
    "scale_consistency",
    "pitch_entropy",
    "pitch_class_entropy",
    "empty_beat_rate",
    "empty_measure_rate",
    "drum_in_pattern_rate",
    "drum_pattern_consistency",
    "groove_consistency",
    # array-level metrics
    "pitch_range_from_arrays",
    "n_pitches_used_from_arrays",
    "n_pitch_classes_used_from_arrays",
    "polyphony_from_arrays",
    "polyphony_rate_from_arrays",
    "pitch_in_scale_rate_from_arrays",
    "scale_consistency_from_arrays",
    "pitch_entropy_from_arrays",
    "pitch_class_entropy_from_arrays",
    "empty_beat_rate_from_arrays",
    "empty_measure_rate_from_arrays",
    "drum_in_pattern_rate_from_arrays",
    "drum_pattern_consistency_from_arrays",
    "groove_consistency_from_arrays",
]

MODES = ("major", "minor")
METERS = ("duple", "triple")
# pitch classes of C major and C natural minor (muspy's _get_scale)
_C_SCALES = {
    "major": np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], bool),
    "minor": np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0], bool),
}
# (24, 12): the major scales on roots 0..11, then the minor ones
_ALL_SCALES = np.stack([np.roll(_C_SCALES[m], r) for m in MODES for r in range(12)])


class EmptyInputWarning(UserWarning):
    """A metric got no notes of the kind it needs and returned its defined value."""


class NoteArrays(NamedTuple):
    """All notes of a piece as flat arrays (ticks, MIDI numbers), in track order."""

    onsets: np.ndarray  # (N,) int64
    durations: np.ndarray  # (N,) int64
    pitches: np.ndarray  # (N,) int64
    is_drum: np.ndarray  # (N,) bool


# -- helpers -------------------------------------------------------------------


# evaluate() collects the empty-input notes here and warns once, without
# warnings.catch_warnings (which would reset the once-per-location registry)
_collected: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("_collected", default=None)


def _empty(metric: str, what: str, value, stacklevel: int = 3):
    message = f"{metric}: {what}; returning {value}"
    collected = _collected.get()
    if collected is not None:
        collected.append(message)
    else:
        warnings.warn(message, EmptyInputWarning, stacklevel=stacklevel)
    return value


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ParameterError(f"given {name}={value!r}; expected a positive integer number of ticks")
    return int(value)


def _choice(name: str, value, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.lower() not in choices:
        raise ParameterError(f"given {name}={value!r}; expected one of {list(choices)}")
    return value.lower()


def _root(root) -> int:
    if isinstance(root, bool) or not isinstance(root, Integral) or not 0 <= root <= 11:
        raise ParameterError(f"given root={root!r}; expected a pitch class 0..11 (C=0)")
    return int(root)


def _array(name: str, values) -> np.ndarray:
    arr = np.asarray(values)
    if arr.size == 0:
        return np.zeros(0, np.int64)
    if arr.ndim != 1:
        raise ParameterError(f"given {name}.shape={arr.shape}; expected a 1-D array")
    if not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
            raise ParameterError(f"given {name} of dtype {arr.dtype} with non-integer values; expected integers")
    return arr.astype(np.int64, copy=False)


def _pitches(pitches) -> np.ndarray:
    p = _array("pitches", pitches)
    if len(p) and (p.min() < 0 or p.max() > 127):
        bad = p[(p < 0) | (p > 127)][0]
        raise ParameterError(f"given a pitch of {bad}; expected MIDI numbers 0..127")
    return p


def _timing(onsets, durations, pitches=None) -> tuple[np.ndarray, ...]:
    on = _array("onsets", onsets)
    du = _array("durations", durations)
    arrays = [on, du]
    if pitches is not None:
        arrays.append(_pitches(pitches))
    shapes = [a.shape for a in arrays]
    if len(set(shapes)) != 1:
        names = ["onsets", "durations", "pitches"][: len(arrays)]
        given = ", ".join(f"{n}.shape={s}" for n, s in zip(names, shapes))
        raise ParameterError(f"given {given}; expected equal lengths")
    if len(on) and on.min() < 0:
        raise ParameterError(f"given an onset of {on.min()} ticks; expected onsets >= 0")
    if len(du) and du.min() < 0:
        raise ParameterError(f"given a duration of {du.min()} ticks; expected durations >= 0")
    return tuple(arrays)


def _length(length, onsets, durations) -> int:
    end = int((onsets + durations).max()) if len(onsets) else 0
    if length is None:
        return end
    if isinstance(length, bool) or not isinstance(length, Integral) or length < end:
        raise ParameterError(f"given length={length!r}; expected an integer >= the last note's end ({end} ticks)")
    return int(length)


def _union_length(starts: np.ndarray, ends: np.ndarray) -> int:
    """Total length covered by the half-open intervals ``[starts, ends)``."""
    if len(starts) == 0:
        return 0
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    # coverage frontier before each interval: the max end of all earlier ones
    frontier = np.concatenate([[s[0]], np.maximum.accumulate(e)[:-1]])
    return int(np.maximum(e - np.maximum(s, frontier), 0).sum())


def _pitch_count_profile(onsets, durations, pitches) -> tuple[np.ndarray, np.ndarray]:
    """The number of distinct pitches sounding over time, as a step function.

    Returns ``(lengths, counts)``: consecutive segments of ``lengths`` ticks in
    which ``counts`` distinct pitches sound (a binary piano roll's row sums).
    """
    keep = durations > 0
    on, off, p = onsets[keep], (onsets + durations)[keep], pitches[keep]
    if len(on) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # merge overlapping notes of the same pitch: shift each pitch into its own
    # time range so one running maximum handles all pitches at once
    span = int(off.max()) + 1
    shifted = p * span
    order = np.argsort(on + shifted, kind="stable")  # by pitch, then onset
    base = shifted[order]
    s, e = on[order] + base, off[order] + base
    run = np.maximum.accumulate(e)
    new = np.ones(len(s), bool)
    new[1:] = s[1:] > run[:-1]
    first = np.flatnonzero(new)
    starts = s[first] - base[first]
    ends = np.maximum.reduceat(e, first) - base[first]
    # sweep over the merged intervals (disjoint within a pitch): +1 at each
    # start, -1 at each end; the count after the last event at a tick holds
    # until the next distinct tick
    times = np.concatenate([starts, ends])
    order = np.argsort(times, kind="stable")
    times = times[order]
    running = np.cumsum(np.where(order < len(starts), 1, -1))
    last = np.flatnonzero(times[1:] != times[:-1])  # last event of each tick but the final one
    return np.diff(times[np.append(last, len(times) - 1)]), running[last]


def _scale_counts(pitches: np.ndarray) -> tuple[np.ndarray, int]:
    hist = np.bincount(pitches % 12, minlength=12)
    return _ALL_SCALES.astype(np.int64) @ hist, int(len(pitches))


def _entropy(counts: np.ndarray) -> float:
    prob = counts / counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(prob > 0, prob * np.log2(prob), 0.0)
    return float(-np.sum(terms))


def _drum_pattern(resolution: int, meter: str) -> np.ndarray:
    """muspy's mask of the positions in a beat (``resolution`` ticks) on the pattern."""
    mask = np.zeros(resolution, bool)
    mask[0] = True
    if meter == "duple":
        if resolution % 4 == 0:
            mask[:: resolution // 4] = True
        if resolution % 2 == 0:
            mask[:: resolution // 2] = True
    elif resolution % 3 == 0:
        mask[:: resolution // 3] = True
    return mask


def _empty_unit_rate(metric, onsets, durations, unit, length) -> float:
    if length < 1:
        return _empty(metric, "the piece has length 0 (no note ends after tick 0)", math.nan, stacklevel=4)
    n_units = length // unit + 1
    # a note marks every unit from its onset's to its end's, both included
    covered = _union_length(onsets // unit, (onsets + durations) // unit + 1)
    return 1 - covered / n_units


# -- array-level metrics ---------------------------------------------------------


def pitch_range_from_arrays(pitches) -> int:
    """Highest minus lowest pitch, in semitones; 0 (with a warning) if there is none."""
    p = _pitches(pitches)
    if len(p) == 0:
        return _empty("pitch_range", "no pitched notes", 0)
    return int(p.max() - p.min())


def n_pitches_used_from_arrays(pitches) -> int:
    """Number of distinct MIDI pitches; 0 (with a warning) if there is none."""
    p = _pitches(pitches)
    if len(p) == 0:
        return _empty("n_pitches_used", "no pitched notes", 0)
    return int(np.count_nonzero(np.bincount(p, minlength=128)))


def n_pitch_classes_used_from_arrays(pitches) -> int:
    """Number of distinct pitch classes; 0 (with a warning) if there is none."""
    p = _pitches(pitches)
    if len(p) == 0:
        return _empty("n_pitch_classes_used", "no pitched notes", 0)
    return int(np.count_nonzero(np.bincount(p % 12, minlength=12)))


def polyphony_from_arrays(onsets, durations, pitches) -> float:
    """Mean number of distinct pitches sounding, over the ticks where any sounds.

    Overlapping notes of one pitch count once (a binary piano roll).
    Returns nan (with a warning) if no note has a positive duration.
    """
    on, du, p = _timing(onsets, durations, pitches)
    return _polyphony(_pitch_count_profile(on, du, p))


def _polyphony(profile, stacklevel=4) -> float:
    lengths, counts = profile
    active = int(lengths[counts > 0].sum())
    if active < 1:
        return _empty("polyphony", "no sounding pitched notes", math.nan, stacklevel)
    return float(np.dot(lengths, counts) / active)


def polyphony_rate_from_arrays(onsets, durations, pitches, *, threshold: int = 2, length: int | None = None) -> float:
    """Fraction of the piece's ticks in which more than ``threshold`` pitches sound.

    Note muspy's strict ``>``: the default ``threshold=2`` counts ticks with
    three or more pitches. ``length`` is the piece's length in ticks (default:
    the end of the last given note). Returns nan (with a warning) if the
    length is 0, and 0.0 (with a warning) if there are no notes.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, Integral) or threshold < 0:
        raise ParameterError(f"given threshold={threshold!r}; expected a non-negative integer number of pitches")
    on, du, p = _timing(onsets, durations, pitches)
    return _polyphony_rate(lambda: _pitch_count_profile(on, du, p), len(p), threshold, _length(length, on, du))


def _polyphony_rate(profile, n_notes, threshold, n_ticks, stacklevel=4) -> float:
    if n_ticks < 1:
        return _empty("polyphony_rate", "the piece has length 0", math.nan, stacklevel)
    if n_notes == 0:
        return _empty("polyphony_rate", "no pitched notes", 0.0, stacklevel)
    lengths, counts = profile()
    return int(lengths[counts > threshold].sum()) / n_ticks


def pitch_in_scale_rate_from_arrays(pitches, *, root: int, mode: str) -> float:
    """Fraction of notes whose pitch class is in the scale ``root`` (0..11, C=0) ``mode``.

    ``mode`` is 'major' or 'minor' (natural minor). Returns nan (with a
    warning) if there are no notes.
    """
    root, mode = _root(root), _choice("mode", mode, MODES)
    p = _pitches(pitches)
    if len(p) == 0:
        return _empty("pitch_in_scale_rate", "no pitched notes", math.nan)
    scale = np.roll(_C_SCALES[mode], root)
    return int(np.count_nonzero(scale[p % 12])) / len(p)


def scale_consistency_from_arrays(pitches) -> float:
    """Largest pitch-in-scale rate over the 24 major and minor scales; nan if no notes."""
    p = _pitches(pitches)
    if len(p) == 0:
        return _empty("scale_consistency", "no pitched notes", math.nan)
    in_scale, n = _scale_counts(p)
    return int(in_scale.max()) / n


def pitch_entropy_from_arrays(pitches) -> float:
    """Shannon entropy (bits) of the note pitch histogram; nan if no notes."""
    p = _pitches(pitches)
    if len(p) == 0:
        return _empty("pitch_entropy", "no pitched notes", math.nan)
    return _entropy(np.bincount(p, minlength=128))


def pitch_class_entropy_from_arrays(pitches) -> float:
    """Shannon entropy (bits) of the note pitch-class histogram; nan if no notes."""
    p = _pitches(pitches)
    if len(p) == 0:
        return _empty("pitch_class_entropy", "no pitched notes", math.nan)
    return _entropy(np.bincount(p % 12, minlength=12))


def empty_beat_rate_from_arrays(onsets, durations, *, resolution: int, length: int | None = None) -> float:
    """Fraction of beats (``resolution`` ticks each) in which no note sounds.

    There are ``length // resolution + 1`` beats; a note occupies every beat
    from its onset's to its end's, both included (muspy's convention, so a
    note ending on a beat line also occupies the next beat). Returns nan
    (with a warning) if the length is 0.
    """
    resolution = _positive_int("resolution", resolution)
    on, du = _timing(onsets, durations)
    return _empty_unit_rate("empty_beat_rate", on, du, resolution, _length(length, on, du))


def empty_measure_rate_from_arrays(onsets, durations, *, measure_resolution: int, length: int | None = None) -> float:
    """Fraction of measures (``measure_resolution`` ticks each) in which no note sounds.

    Same conventions as :func:`empty_beat_rate_from_arrays`; nan if the length is 0.
    """
    measure_resolution = _positive_int("measure_resolution", measure_resolution)
    on, du = _timing(onsets, durations)
    return _empty_unit_rate("empty_measure_rate", on, du, measure_resolution, _length(length, on, du))


def drum_in_pattern_rate_from_arrays(onsets, *, resolution: int, meter: str) -> float:
    """Fraction of (drum) onsets on muspy's pattern grid within a beat of ``resolution`` ticks.

    ``meter='duple'``: the beat's 16th-note positions (8ths if ``resolution``
    is not a multiple of 4); ``'triple'``: its triplet-8th positions. Only the
    beat's start counts when ``resolution`` is not divisible accordingly.
    Returns nan (with a warning) if there are no onsets.
    """
    resolution = _positive_int("resolution", resolution)
    meter = _choice("meter", meter, METERS)
    on = _array("onsets", onsets)
    if len(on) == 0:
        return _empty("drum_in_pattern_rate", "no drum notes", math.nan)
    if on.min() < 0:
        raise ParameterError(f"given an onset of {on.min()} ticks; expected onsets >= 0")
    return int(np.count_nonzero(_drum_pattern(resolution, meter)[on % resolution])) / len(on)


def drum_pattern_consistency_from_arrays(onsets, *, resolution: int) -> float:
    """Largest drum-in-pattern rate over the duple and triple patterns; nan if no onsets."""
    resolution = _positive_int("resolution", resolution)
    on = _array("onsets", onsets)
    if len(on) == 0:
        return _empty("drum_pattern_consistency", "no drum notes", math.nan)
    return max(drum_in_pattern_rate_from_arrays(on, resolution=resolution, meter=m) for m in METERS)


def groove_consistency_from_arrays(onsets, durations, *, measure_resolution: int, length: int | None = None) -> float:
    """One minus the mean Hamming distance between consecutive measures' onset patterns.

    Each of the ``length // measure_resolution + 1`` measures has a binary
    pattern of ``measure_resolution`` tick positions (1 where a note starts);
    the distance is normalised by ``measure_resolution``. Returns nan (with a
    warning) if there are fewer than two measures.
    """
    mr = _positive_int("measure_resolution", measure_resolution)
    on, du = _timing(onsets, durations)
    n_measures = _length(length, on, du) // mr + 1
    if n_measures < 2:
        return _empty("groove_consistency", "fewer than two measures", math.nan)
    # a (measure, position) cell is the onset tick itself; sum over pairs of
    # |A xor B| = |A| + |B| - 2 |A and B|
    ticks = np.sort(on)
    if len(ticks):
        ticks = ticks[np.append(True, ticks[1:] != ticks[:-1])]
    n_first = int(np.count_nonzero(ticks < mr))
    n_last = int(np.count_nonzero(ticks >= (n_measures - 1) * mr))
    j = np.searchsorted(ticks, ticks + mr)
    j = np.minimum(j, len(ticks) - 1)
    n_repeated = int(np.count_nonzero(ticks[j] == ticks + mr)) if len(ticks) else 0
    hamming = 2 * len(ticks) - n_first - n_last - 2 * n_repeated
    return 1 - hamming / (mr * (n_measures - 1))


# -- Piece level -----------------------------------------------------------------


def _check_piece(piece) -> None:
    if not isinstance(piece, Piece):
        raise ParameterError(f"given piece of type {type(piece).__name__}; expected a collage.piece.Piece")


def validate(piece: Piece) -> None:
    """Check that ``piece`` is a Piece whose notes the metrics can use.

    Raises:
        ParameterError: not a Piece, or a note with a negative onset or
            duration, or a pitch outside 0..127 (the track is named).
    """
    _check_piece(piece)
    for i, track in enumerate(piece.tracks):
        if not len(track):
            continue
        where = f"track {i} ({track.name!r}){' of ' + piece.source if piece.source else ''}"
        if track.onsets.min() < 0:
            raise ParameterError(f"{where} has an onset of {track.onsets.min()} ticks; expected onsets >= 0")
        if track.durations.min() < 0:
            raise ParameterError(f"{where} has a duration of {track.durations.min()} ticks; expected durations >= 0")
        bad = (track.pitches < 0) | (track.pitches > 127)
        if bad.any():
            raise ParameterError(f"{where} has a pitch of {track.pitches[bad][0]}; expected MIDI numbers 0..127")


def note_arrays(piece: Piece) -> NoteArrays:
    """All notes of ``piece`` as flat arrays with a per-note drum flag (validated)."""
    validate(piece)
    tracks = [t for t in piece.tracks if len(t)]
    if not tracks:
        z = np.zeros(0, np.int64)
        return NoteArrays(z, z, z, np.zeros(0, bool))
    notes = np.concatenate([t.notes for t in tracks])
    is_drum = np.concatenate([np.full(len(t), bool(t.is_drum)) for t in tracks])
    return NoteArrays(notes[:, 0], notes[:, 1], notes[:, 2], is_drum)


def measure_ticks(piece: Piece) -> int:
    """Ticks per measure under the piece's first time signature (4/4 if none).

    Warns if the time signature changes: muspy's measure metrics assume it
    does not.
    """
    _check_piece(piece)
    sigs = piece.time_signatures
    num, den = (sigs[0].numerator, sigs[0].denominator) if sigs else (4, 4)
    if len({(s.numerator, s.denominator) for s in sigs}) > 1:
        warnings.warn(
            f"{piece.source or 'the piece'} changes time signature; measure metrics use the first, "
            f"{num}/{den}, throughout (pass measure_resolution= to choose)",
            UserWarning,
            stacklevel=3,
        )
    return max(1, int(round(piece.tpq * 4 * num / den)))


def key_root_mode(piece: Piece) -> tuple[int, str] | None:
    """``(root, mode)`` of the piece's first key signature (root 0..11, C=0), or None."""
    _check_piece(piece)
    if not piece.key_signatures:
        return None
    ks = piece.key_signatures[0]
    # a sharp moves the major tonic a fifth up; the relative minor is 9 semitones above it
    return (7 * ks.sharps + (9 if ks.minor else 0)) % 12, "minor" if ks.minor else "major"


def _pitched(piece: Piece) -> NoteArrays:
    a = note_arrays(piece)
    keep = ~a.is_drum
    return NoteArrays(a.onsets[keep], a.durations[keep], a.pitches[keep], a.is_drum[keep])


def _end(a: NoteArrays) -> int:
    return int((a.onsets + a.durations).max()) if len(a.onsets) else 0


def pitch_range(piece: Piece) -> int:
    """Pitch range of the pitched (non-drum) notes, in semitones; 0 if none."""
    return pitch_range_from_arrays(_pitched(piece).pitches)


def n_pitches_used(piece: Piece) -> int:
    """Number of distinct pitches among the pitched (non-drum) notes; 0 if none."""
    return n_pitches_used_from_arrays(_pitched(piece).pitches)


def n_pitch_classes_used(piece: Piece) -> int:
    """Number of distinct pitch classes among the pitched (non-drum) notes; 0 if none."""
    return n_pitch_classes_used_from_arrays(_pitched(piece).pitches)


def polyphony(piece: Piece) -> float:
    """Mean number of pitches sounding where any does (drums skipped); nan if none."""
    a = _pitched(piece)
    return polyphony_from_arrays(a.onsets, a.durations, a.pitches)


def polyphony_rate(piece: Piece, *, threshold: int = 2) -> float:
    """Fraction of the piece's ticks with more than ``threshold`` pitches sounding.

    Drums are skipped but count towards the length. nan if the piece has
    length 0.
    """
    a = note_arrays(piece)
    p = ~a.is_drum
    return polyphony_rate_from_arrays(a.onsets[p], a.durations[p], a.pitches[p], threshold=threshold, length=_end(a))


def pitch_in_scale_rate(piece: Piece, *, root: int, mode: str) -> float:
    """Fraction of pitched notes in the scale ``root`` (0..11) ``mode`` ('major'/'minor'); nan if none."""
    return pitch_in_scale_rate_from_arrays(_pitched(piece).pitches, root=root, mode=mode)


def scale_consistency(piece: Piece) -> float:
    """Largest pitch-in-scale rate over the 24 major and minor scales; nan if no pitched notes."""
    return scale_consistency_from_arrays(_pitched(piece).pitches)


def pitch_entropy(piece: Piece) -> float:
    """Entropy (bits) of the pitched notes' pitch histogram; nan if none."""
    return pitch_entropy_from_arrays(_pitched(piece).pitches)


def pitch_class_entropy(piece: Piece) -> float:
    """Entropy (bits) of the pitched notes' pitch-class histogram; nan if none."""
    return pitch_class_entropy_from_arrays(_pitched(piece).pitches)


def empty_beat_rate(piece: Piece) -> float:
    """Fraction of beats (``piece.tpq`` ticks) where no note, drums included, sounds; nan if length 0."""
    a = note_arrays(piece)
    return empty_beat_rate_from_arrays(a.onsets, a.durations, resolution=piece.tpq)


def empty_measure_rate(piece: Piece, *, measure_resolution: int | None = None) -> float:
    """Fraction of measures where no note, drums included, sounds; nan if length 0.

    ``measure_resolution``: ticks per measure (default :func:`measure_ticks`).
    """
    a = note_arrays(piece)
    mr = measure_ticks(piece) if measure_resolution is None else measure_resolution
    return empty_measure_rate_from_arrays(a.onsets, a.durations, measure_resolution=mr)


def drum_in_pattern_rate(piece: Piece, *, meter: str = "duple") -> float:
    """Fraction of drum notes on the ``meter`` ('duple'/'triple') grid of a beat; nan if no drums."""
    a = note_arrays(piece)
    return drum_in_pattern_rate_from_arrays(a.onsets[a.is_drum], resolution=piece.tpq, meter=meter)


def drum_pattern_consistency(piece: Piece) -> float:
    """Largest drum-in-pattern rate over the duple and triple grids; nan if no drums."""
    a = note_arrays(piece)
    return drum_pattern_consistency_from_arrays(a.onsets[a.is_drum], resolution=piece.tpq)


def groove_consistency(piece: Piece, *, measure_resolution: int | None = None) -> float:
    """One minus the mean Hamming distance of consecutive measures' onset patterns (drums included).

    ``measure_resolution``: ticks per measure (default :func:`measure_ticks`).
    nan if the piece has fewer than two measures.
    """
    a = note_arrays(piece)
    mr = measure_ticks(piece) if measure_resolution is None else measure_resolution
    return groove_consistency_from_arrays(a.onsets, a.durations, measure_resolution=mr)


def evaluate(
    piece: Piece,
    *,
    root: int | None = None,
    mode: str | None = None,
    meter: str = "duple",
    measure_resolution: int | None = None,
    threshold: int = 2,
) -> dict[str, float]:
    """Every metric of this module for ``piece``, keyed by muspy's names.

    Args:
        piece: the piece.
        root, mode: the scale for ``pitch_in_scale_rate`` (root 0..11, C=0;
            'major' or 'minor'); both None: the piece's first key signature,
            and nan if it has none.
        meter: 'duple' or 'triple', for ``drum_in_pattern_rate``.
        measure_resolution: ticks per measure (default :func:`measure_ticks`).
        threshold: for ``polyphony_rate``.
    Returns:
        a dict of floats (the counts and range as whole numbers). Where input
        is missing (no notes, no drums, no key) one :class:`EmptyInputWarning`
        lists the affected metrics.
    Raises:
        ParameterError: an invalid piece or option.
    """
    if (root is None) != (mode is None):
        raise ParameterError(f"given root={root!r}, mode={mode!r}; give both or neither")
    if root is not None:
        root, mode = _root(root), _choice("mode", mode, MODES)
    meter = _choice("meter", meter, METERS)
    if isinstance(threshold, bool) or not isinstance(threshold, Integral) or threshold < 0:
        raise ParameterError(f"given threshold={threshold!r}; expected a non-negative integer number of pitches")
    a = note_arrays(piece)
    mr = measure_ticks(piece) if measure_resolution is None else _positive_int("measure_resolution", measure_resolution)
    key = (root, mode) if root is not None else key_root_mode(piece)
    res, length = piece.tpq, _end(a)
    p = ~a.is_drum
    on, du, pi = a.onsets[p], a.durations[p], a.pitches[p]
    profile = _pitch_count_profile(on, du, pi)
    drums = a.onsets[a.is_drum]
    notes: list[str] = []
    token = _collected.set(notes)
    try:
        out = {
            "pitch_range": pitch_range_from_arrays(pi),
            "n_pitches_used": n_pitches_used_from_arrays(pi),
            "n_pitch_classes_used": n_pitch_classes_used_from_arrays(pi),
            "polyphony": _polyphony(profile),
            "polyphony_rate": _polyphony_rate(lambda: profile, len(pi), threshold, length),
            "pitch_in_scale_rate": (
                pitch_in_scale_rate_from_arrays(pi, root=key[0], mode=key[1]) if key else math.nan
            ),
            "scale_consistency": scale_consistency_from_arrays(pi),
            "pitch_entropy": pitch_entropy_from_arrays(pi),
            "pitch_class_entropy": pitch_class_entropy_from_arrays(pi),
            "empty_beat_rate": empty_beat_rate_from_arrays(a.onsets, a.durations, resolution=res),
            "empty_measure_rate": empty_measure_rate_from_arrays(a.onsets, a.durations, measure_resolution=mr),
            "drum_in_pattern_rate": drum_in_pattern_rate_from_arrays(drums, resolution=res, meter=meter),
            "drum_pattern_consistency": drum_pattern_consistency_from_arrays(drums, resolution=res),
            "groove_consistency": groove_consistency_from_arrays(a.onsets, a.durations, measure_resolution=mr),
        }
    finally:
        _collected.reset(token)
    if key is None:
        notes.append("pitch_in_scale_rate: no root/mode given and no key signature; returning nan")
    if notes:
        warnings.warn(
            "evaluate: " + "; ".join(notes), EmptyInputWarning, stacklevel=2
        )
    return {k: float(v) for k, v in out.items()}

"""The one internal representation of a piece of music.

A :class:`Piece` is a list of :class:`Track` s plus the tempo, time-signature
and key-signature maps, all in MIDI ticks at the piece's own resolution
(``tpq``, ticks per quarter note). Nothing is quantised here: putting notes on
a step grid is :mod:`collage.represent`'s job.

Notes are an ``(N, 4)`` int64 array with the columns ``onset, duration, pitch,
velocity`` (ticks, ticks, MIDI number, 1-127), sorted by onset then pitch.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple, Sequence

import numpy as np

from collage.errors import InvalidMidiError, InvalidScoreError, ParameterError

__all__ = [
    "ONSET",
    "DURATION",
    "PITCH",
    "VELOCITY",
    "Track",
    "Piece",
    "Tempo",
    "TimeSignature",
    "KeySignature",
    "DEFAULT_QPM",
    "check_notes",
]

ONSET, DURATION, PITCH, VELOCITY = range(4)
DEFAULT_QPM = 120.0


class Tempo(NamedTuple):
    """A tempo change at ``tick``, in quarter notes per minute."""

    tick: int
    qpm: float


class TimeSignature(NamedTuple):
    """A metre change at ``tick``: ``numerator / denominator``."""

    tick: int
    numerator: int
    denominator: int


class KeySignature(NamedTuple):
    """A key change at ``tick``: ``sharps`` in [-7, 7] (flats negative), ``minor``."""

    tick: int
    sharps: int
    minor: bool


def check_notes(notes, name: str = "notes", *, nonneg_onset: bool = True, n_steps: int | None = None,
                min_duration: int = 0) -> np.ndarray:
    """The one note validator: ``notes`` as an ``(N, 4)`` int64 array [onset, duration, pitch, velocity].

    Called once where notes enter the library (a :class:`Track`, a public function taking notes);
    code that works on notes already checked does not call it again.

    Args:
        notes: ``(N, 4)`` array-like (ticks or steps); an empty array-like of any shape is no notes.
        name: what to call the array in error messages.
        nonneg_onset: refuse onsets below 0 (window-relative notes may start before their window).
        n_steps: when given, onsets must lie in ``[0, n_steps)`` (a window of that many steps).
        min_duration: the shortest duration allowed (0 or 1).
    Returns:
        ``(N, 4)`` int64; the input itself when it already is one (not a copy), in its order.
    Raises:
        ParameterError: wrong shape, non-integer values, or a value out of range; the message
            quotes the offending value and its row, e.g. ``given notes[1, 2]=128 (pitch); expected 0..127``.
    """
    arr = np.asarray(notes)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ParameterError(f"given {name}.shape={arr.shape}; expected (N, 4) [onset, duration, pitch, velocity]")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
            raise ParameterError(f"given {name}.dtype={arr.dtype}; expected integer (whole-number) notes")
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ParameterError(f"given {name}[{i}, {j}]={arr[i, j].item()!r}; expected integer (whole-number) notes")
    arr = arr.astype(np.int64, copy=False)
    onset_lo = 0 if nonneg_onset or n_steps is not None else None
    limits = (  # column, what, lowest, highest (None: unbounded)
        (ONSET, "onset", onset_lo, None if n_steps is None else int(n_steps) - 1),
        (DURATION, "duration", int(min_duration), None),
        (PITCH, "pitch", 0, 127),
        (VELOCITY, "velocity", 0, 127),
    )
    lo, hi = arr.min(axis=0), arr.max(axis=0)  # one pass per column; search for the culprit only on failure
    for col, what, low, high in limits:
        if (low is None or lo[col] >= low) and (high is None or hi[col] <= high):
            continue
        v = arr[:, col]
        i = int(np.flatnonzero(((v < low) if low is not None else False) | ((v > high) if high is not None else False))[0])
        if col == ONSET and n_steps is not None:
            want = f"0 <= onset < n_steps={int(n_steps)}"
        else:
            want = f"{low}..{high}" if high is not None else f">= {low}"
        raise ParameterError(f"given {name}[{i}, {col}]={int(v[i])} ({what}); expected {want}")
    return arr


def _as_notes(notes) -> np.ndarray:
    """A track's notes: :func:`check_notes`, then a copy of its own sorted by onset then pitch."""
    arr = check_notes(notes)
    arr = arr.copy() if arr is notes or (isinstance(notes, np.ndarray) and np.shares_memory(arr, notes)) else arr
    on, pitch = arr[:, ONSET], arr[:, PITCH]
    step = np.diff(on)
    if ((step > 0) | ((step == 0) & (np.diff(pitch) >= 0))).all():
        return arr  # already sorted by onset then pitch (as files usually are): skip the sort
    return np.ascontiguousarray(arr[np.lexsort((pitch, on))])


@dataclasses.dataclass
class Track:
    """One instrument's notes.

    Attributes:
        notes: ``(N, 4)`` int64, columns onset, duration (ticks), pitch, velocity;
            sorted by onset then pitch on construction. Checked on construction:
            onset >= 0, duration >= 0, pitch and velocity in 0..127 (velocity 0
            is kept here but written to MIDI as 1, since a MIDI note-on with
            velocity 0 is a note-off).
        name: the track name as stored in the file ("" if none).
        program: General MIDI program, 0-127.
        is_drum: True for a percussion track (MIDI channel 10).
    """

    notes: np.ndarray
    name: str = ""
    program: int = 0
    is_drum: bool = False

    def __post_init__(self):
        self.notes = _as_notes(self.notes)
        if not 0 <= int(self.program) <= 127:
            raise ParameterError(f"given program={self.program}; expected 0..127")

    @property
    def onsets(self) -> np.ndarray:
        return self.notes[:, ONSET]

    @property
    def durations(self) -> np.ndarray:
        return self.notes[:, DURATION]

    @property
    def offsets(self) -> np.ndarray:
        return self.notes[:, ONSET] + self.notes[:, DURATION]

    @property
    def pitches(self) -> np.ndarray:
        return self.notes[:, PITCH]

    @property
    def velocities(self) -> np.ndarray:
        return self.notes[:, VELOCITY]

    def __len__(self) -> int:
        return len(self.notes)

    def replace(self, **changes) -> "Track":
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass
class Piece:
    """A multitrack piece in ticks.

    Attributes:
        tracks: the tracks, in file order.
        tpq: ticks per quarter note (the file's resolution, kept on write).
        tempos: tempo map, sorted by tick; qpm > 0. Before the first event (or
            throughout, if empty) the tempo is 120 qpm.
        time_signatures: metre map, sorted by tick; empty means 4/4.
        key_signatures: key map, sorted by tick (may be empty).
        source: the file the piece was read from, for messages (or None).
    """

    tracks: list[Track]
    tpq: int = 480
    tempos: list[Tempo] = dataclasses.field(default_factory=list)
    time_signatures: list[TimeSignature] = dataclasses.field(default_factory=list)
    key_signatures: list[KeySignature] = dataclasses.field(default_factory=list)
    source: str | None = None

    def __post_init__(self):
        if int(self.tpq) != self.tpq or int(self.tpq) <= 0:
            raise ParameterError(f"given tpq={self.tpq}; expected a positive whole number of ticks per quarter note")
        self.tpq = int(self.tpq)
        self.tracks = list(self.tracks)
        # Sorted by tick only (stable): events at the same tick keep their order,
        # and the last one wins, as in a MIDI file.
        by_tick = lambda e: e.tick  # noqa: E731
        self.tempos = sorted((Tempo(int(t), float(q)) for t, q in self.tempos), key=by_tick)
        self.time_signatures = sorted(
            (TimeSignature(int(t), int(n), int(d)) for t, n, d in self.time_signatures), key=by_tick
        )
        self.key_signatures = sorted(
            (KeySignature(int(t), int(s), bool(m)) for t, s, m in self.key_signatures), key=by_tick
        )
        for t in self.tempos:
            if not (np.isfinite(t.qpm) and t.qpm > 0):
                raise ParameterError(f"given tempo {t.qpm} qpm at tick {t.tick}; expected a positive, finite tempo")
        for ts in self.time_signatures:
            if ts.numerator < 1 or ts.denominator < 1:
                raise ParameterError(
                    f"given time signature {ts.numerator}/{ts.denominator} at tick {ts.tick}; expected positive numbers"
                )

    # -- size -------------------------------------------------------------
    @property
    def n_notes(self) -> int:
        return sum(len(t) for t in self.tracks)

    @property
    def end_tick(self) -> int:
        """The tick at which the last note ends (0 for an empty piece)."""
        return max((int(t.offsets.max()) for t in self.tracks if len(t)), default=0)

    @property
    def track_names(self) -> list[str]:
        return [t.name for t in self.tracks]

    # -- time -------------------------------------------------------------
    def _tempo_segments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tempo-map breakpoints: ticks, seconds at each, seconds per tick after each.

        Before the first tempo event the tempo is 120 qpm (:data:`DEFAULT_QPM`), as
        the MIDI standard says; of several events at one tick the last wins.
        """
        tempos = list(self.tempos)
        if not tempos or tempos[0].tick > 0:
            tempos = [Tempo(0, DEFAULT_QPM)] + tempos
        ticks = np.array([t.tick for t in tempos], dtype=np.float64)
        spt = np.array([60.0 / (t.qpm * self.tpq) for t in tempos])
        secs = np.concatenate([[0.0], np.cumsum(np.diff(ticks) * spt[:-1])])
        return ticks, secs, spt

    def ticks_to_seconds(self, ticks) -> np.ndarray:
        """Map ticks (any shape) to seconds through the tempo map."""
        ticks = np.asarray(ticks, dtype=np.float64)
        bt, bs, spt = self._tempo_segments()
        i = np.clip(np.searchsorted(bt, ticks, side="right") - 1, 0, None)
        return bs[i] + (ticks - bt[i]) * spt[i]

    def seconds_to_ticks(self, seconds) -> np.ndarray:
        """Map seconds (any shape) to (fractional) ticks through the tempo map."""
        seconds = np.asarray(seconds, dtype=np.float64)
        bt, bs, spt = self._tempo_segments()
        i = np.clip(np.searchsorted(bs, seconds, side="right") - 1, 0, None)
        return bt[i] + (seconds - bs[i]) / spt[i]

    @property
    def duration_s(self) -> float:
        return float(self.ticks_to_seconds(self.end_tick))

    # -- selection and edits ----------------------------------------------
    def track(self, key: str | int) -> Track:
        """One track by name (case-insensitive) or by index."""
        return self.select([key]).tracks[0]

    def select(self, keys: Sequence[str | int]) -> "Piece":
        """A piece holding only the tracks named (case-insensitive) or indexed by ``keys``.

        A single name or index is taken as a list of one (``select("melody")``
        does not look for tracks called "m", "e", ...).
        """
        if isinstance(keys, (str, int, np.integer)):
            keys = [keys]
        chosen = []
        for key in keys:
            if isinstance(key, (int, np.integer)):
                if not -len(self.tracks) <= key < len(self.tracks):
                    raise ParameterError(
                        f"given track index {key}; {self._where()}has {len(self.tracks)} tracks"
                    )
                chosen.append(self.tracks[key])
                continue
            hits = [t for t in self.tracks if t.name.strip().lower() == str(key).strip().lower()]
            if not hits:
                raise ParameterError(
                    f"no track named {key!r}; {self._where()}has tracks {self.track_names}"
                )
            chosen.extend(hits)
        return dataclasses.replace(self, tracks=chosen)

    def has_track(self, name: str) -> bool:
        return any(t.name.strip().lower() == name.strip().lower() for t in self.tracks)

    def pitched(self) -> "Piece":
        """The piece without its drum tracks."""
        return dataclasses.replace(self, tracks=[t for t in self.tracks if not t.is_drum])

    def require_pitched(self) -> "Piece":
        """The piece without its drum tracks, or an error if that leaves no notes.

        For consumers that need pitches (melody selection, chords, key finding):
        a drum-only or empty piece then fails with one clear line instead of an
        empty array further down.

        Raises:
            InvalidScoreError (MusicXML/ABC source) or InvalidMidiError (otherwise):
            ``"<source>: has only drum notes; ..."`` or ``"<source>: has no notes; ..."``.
        """
        pitched = self.pitched()
        if pitched.n_notes:
            return pitched
        score = self.source is not None and str(self.source).lower().endswith((".xml", ".musicxml", ".mxl", ".abc"))
        error = InvalidScoreError if score else InvalidMidiError
        what = "has only drum notes" if self.n_notes else "has no notes"
        raise error(self.source or "the piece", f"{what}; expected pitched notes")

    def merged(self, name: str = "", program: int | None = None) -> Track:
        """All tracks' notes in one track (program of the first track unless given)."""
        notes = [t.notes for t in self.tracks] or [np.zeros((0, 4), np.int64)]
        first = self.tracks[0] if self.tracks else Track(np.zeros((0, 4)))
        return Track(
            np.concatenate(notes),
            name=name or first.name,
            program=first.program if program is None else program,
            is_drum=all(t.is_drum for t in self.tracks) and bool(self.tracks),
        )

    def transpose(self, semitones: int) -> "Piece":
        """Shift every pitched note by ``semitones``; drums are left alone.

        Raises ParameterError if a note would leave 0..127.
        """
        if int(semitones) != semitones:
            raise ParameterError(f"given semitones={semitones!r}; expected a whole number")
        semitones = int(semitones)
        tracks = []
        for t in self.tracks:
            if t.is_drum or not len(t):
                tracks.append(t)
                continue
            notes = t.notes.copy()
            notes[:, PITCH] += semitones
            if notes[:, PITCH].min() < 0 or notes[:, PITCH].max() > 127:
                raise ParameterError(f"transposing by {semitones} moves notes of track {t.name!r} outside 0..127")
            tracks.append(t.replace(notes=notes))
        return dataclasses.replace(self, tracks=tracks)

    def _where(self) -> str:
        return f"{self.source} " if self.source else "the piece "

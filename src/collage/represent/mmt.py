"""The Multitrack Music Transformer's event representation (Dong et al., ICASSP 2023).

A piece becomes a sequence of events, one row of six integer codes each
(``(N, 6)`` int64, columns :data:`FIELDS`)::

    type, beat, position, pitch, duration, instrument

The types, in the only order a sequence may have them (the model's monotonic
constraint relies on it):

====  ================  ==========================================
code  type              other fields
====  ================  ==========================================
0     start-of-song     all 0
1     instrument        instrument only (one event per instrument)
2     start-of-notes    all 0
3     note              all set (one note per event)
4     end-of-song       all 0
====  ================  ==========================================

Code 0 of every field but ``type`` means "undefined". A note at quarter-note
beat ``b`` (0-based), position ``p`` in ``0..RESOLUTION-1`` within the beat,
MIDI pitch ``m``, duration ``d`` (positions) and instrument ``i`` is coded
``(3, b + 1, p + 1, m + 1, DURATIONS.index(d) + 1, i + 1)``. Time is on a grid
of :data:`RESOLUTION` = 12 positions per quarter note (the paper's
resolution: it holds straight and triplet sixteenths); a duration is replaced
by the closest value of :data:`DURATIONS` (common note values, as the paper
does). Notes are sorted by (beat, position, pitch, duration, instrument), so a
prefix of a sequence is the beginning of the music (continuation works).

Instruments (:data:`INSTRUMENTS`) are what the training data tells apart:
POP909's MELODY, BRIDGE and PIANO tracks are the roles ``melody``,
``counter-melody`` and ``piano``; the parts of music21's corpus are voices
and instruments (``soprano``, ``violin``, ...). :func:`instrument_of_track`
maps a track name (and, failing that, its General MIDI program) to one.

>>> codes = encode(piece)                # (N, 6) int64
>>> piece2 = decode(codes, qpm=100)      # a Piece at 480 ticks per quarter
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np

from collage.errors import ParameterError
from collage.piece import Piece, Tempo, TimeSignature, Track

__all__ = [
    "BEAT",
    "DURATION",
    "DURATIONS",
    "EOS",
    "FIELDS",
    "INSTRUMENT",
    "INSTRUMENTS",
    "INSTRUMENT_EVENT",
    "NOTE",
    "PITCH",
    "POSITION",
    "PROGRAMS",
    "RESOLUTION",
    "SON",
    "SOS",
    "TYPE",
    "TYPE_NAMES",
    "check_instruments",
    "decode",
    "decode_notes",
    "encode",
    "encode_notes",
    "field_sizes",
    "header",
    "instrument_of_track",
    "quantize_duration",
    "transpose_codes",
    "validate_codes",
    "window",
]

log = logging.getLogger(__name__)

FIELDS = ("type", "beat", "position", "pitch", "duration", "instrument")
TYPE, BEAT, POSITION, PITCH, DURATION, INSTRUMENT = range(6)
SOS, INSTRUMENT_EVENT, SON, NOTE, EOS = range(5)
TYPE_NAMES = ("start-of-song", "instrument", "start-of-notes", "note", "end-of-song")

#: positions per quarter-note beat (the paper's 12)
RESOLUTION = 12
#: the allowed durations, in positions (1/12 beat); anything else goes to the closest
DURATIONS = (
    1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 15, 16, 18, 20, 21, 24, 30, 36, 40, 42, 48,
    60, 72, 84, 96, 120, 144, 168, 192, 384,
)
_DUR = np.array(DURATIONS, dtype=np.int64)

#: instrument names, in code order (code = index + 1), with their General MIDI program
_INSTRUMENT_TABLE = (
    # POP909's three tracks
    ("melody", 0),
    ("counter-melody", 0),
    ("piano", 0),
    # voices (chorales, madrigals, masses)
    ("soprano", 52),
    ("alto", 52),
    ("tenor", 52),
    ("bass", 52),
    ("quintus", 52),  # the fifth voice of a madrigal (Quinto / Quintus)
    ("voice", 52),  # a vocal part named otherwise (e.g. a song's voice)
    # strings
    ("violin", 40),
    ("viola", 41),
    ("cello", 42),
    ("contrabass", 43),
    # winds and brass
    ("flute", 73),
    ("oboe", 68),
    ("clarinet", 71),
    ("bassoon", 70),
    ("horn", 60),
    ("trumpet", 56),
    ("trombone", 57),
    # keyboards and plucked
    ("harpsichord", 6),
    ("organ", 19),
    ("guitar", 24),
    ("harp", 46),
)
INSTRUMENTS: tuple[str, ...] = tuple(n for n, _ in _INSTRUMENT_TABLE)
PROGRAMS: dict[str, int] = dict(_INSTRUMENT_TABLE)
_INDEX = {n: i for i, n in enumerate(INSTRUMENTS)}

#: track-name words -> instrument (matched on lower-case words, after removing digits and roman numerals)
_ALIASES = {
    "melody": "melody", "vocal": "melody", "lead": "melody",
    "bridge": "counter-melody", "counter-melody": "counter-melody", "countermelody": "counter-melody",
    "counter": "counter-melody",
    "piano": "piano", "accompaniment": "piano", "accomp": "piano", "pianoforte": "piano", "keyboard": "piano",
    "fortepiano": "piano", "continuo": "piano",
    "soprano": "soprano", "sopran": "soprano", "cantus": "soprano", "canto": "soprano", "superius": "soprano",
    "discantus": "soprano", "treble": "soprano", "s": "soprano",
    "alto": "alto", "altus": "alto", "contralto": "alto", "contratenor": "alto", "alt": "alto", "a": "alto",
    "tenor": "tenor", "tenore": "tenor", "t": "tenor",
    "bass": "bass", "bassus": "bass", "basso": "bass", "b": "bass",
    "quintus": "quintus", "quinto": "quintus", "quinta": "quintus", "sextus": "quintus", "sesto": "quintus",
    "voice": "voice", "voce": "voice", "singer": "voice", "vox": "voice", "choir": "voice",
    "violin": "violin", "violino": "violin", "vln": "violin", "vl": "violin", "vn": "violin", "fiddle": "violin",
    "viola": "viola", "vla": "viola", "va": "viola",
    "cello": "cello", "violoncello": "cello", "violoncelli": "cello", "vc": "cello", "vlc": "cello",
    "contrabass": "contrabass", "double": "contrabass", "kontrabass": "contrabass", "cb": "contrabass",
    "violone": "contrabass", "contrabasso": "contrabass",
    "flute": "flute", "flauto": "flute", "fl": "flute", "piccolo": "flute", "recorder": "flute",
    "oboe": "oboe", "ob": "oboe", "hautbois": "oboe",
    "clarinet": "clarinet", "clarinetto": "clarinet", "cl": "clarinet",
    "bassoon": "bassoon", "fagotto": "bassoon", "fagott": "bassoon", "bsn": "bassoon",
    "horn": "horn", "corno": "horn", "hn": "horn",
    "trumpet": "trumpet", "tromba": "trumpet", "trp": "trumpet", "tpt": "trumpet",
    "trombone": "trombone", "trb": "trombone", "tbn": "trombone",
    "harpsichord": "harpsichord", "cembalo": "harpsichord", "clavichord": "harpsichord",
    "organ": "organ", "organo": "organ",
    "guitar": "guitar", "lute": "guitar", "chitarra": "guitar",
    "harp": "harp", "arpa": "harp",
}
_ROMAN = {"i", "ii", "iii", "iv", "v", "vi", "1st", "2nd", "3rd", "4th", "primo", "secondo"}


def _program_family(program: int) -> str:
    """The instrument a General MIDI program falls back to."""
    p = int(program)
    if p == 6:
        return "harpsichord"
    if p < 16:  # pianos, chromatic percussion
        return "piano"
    if p < 24:
        return "organ"
    if p < 32:
        return "guitar"
    if p in (32, 33, 34, 35, 36, 37, 38, 39, 43):  # basses
        return "contrabass"
    if p == 40 or p in (44, 45, 48, 49, 50, 51, 110):
        return "violin"
    if p == 41:
        return "viola"
    if p == 42:
        return "cello"
    if p == 46:
        return "harp"
    if 52 <= p <= 54 or p == 85:
        return "voice"
    if p == 56 or p == 59:
        return "trumpet"
    if p == 57 or p == 58:
        return "trombone"
    if 60 <= p <= 63:
        return "horn"
    if p in (64, 65, 66, 67, 68, 69):  # saxes, oboe, english horn
        return "oboe"
    if p == 70:
        return "bassoon"
    if p == 71:
        return "clarinet"
    if 72 <= p <= 79:
        return "flute"
    if 80 <= p <= 87:
        return "melody"  # synth leads
    return "piano"


def instrument_of_track(name: str, program: int = 0) -> str:
    """The instrument (one of :data:`INSTRUMENTS`) a track stands for.

    The track name is matched word by word against known names in English,
    Italian, German and Latin, ignoring numbers and roman numerals
    (``'Violin I'`` and ``'2nd Violin'`` are ``violin``, ``'Cantus'`` is
    ``soprano``, ``'Violoncello'`` is ``cello``, POP909's ``'BRIDGE'`` is
    ``counter-melody``); a name that matches nothing falls back to the General
    MIDI ``program``'s family (0-7 ``piano``, 40 ``violin``, ...).
    """
    low = (name or "").lower().replace("\r", " ").replace("\n", " ")
    if low.strip() in _INDEX:
        return low.strip()
    words = [w for w in re.split(r"[^a-z0-9\-]+", low) if w and not w.isdigit() and w not in _ROMAN]
    words = [re.sub(r"\d+$", "", w) for w in words]
    for w in words:  # "double bass" -> the first word that names an instrument wins, except "double"
        if w == "double" and "bass" in words:
            return "contrabass"
        if w in _ALIASES and len(w) > 1:
            return _ALIASES[w]
    for w in words:  # one-letter abbreviations ("S.", "A.") only if nothing longer matched
        if w in _ALIASES:
            return _ALIASES[w]
    return _program_family(program)


def check_instruments(names: Sequence[str] | str) -> list[str]:
    """Validate instrument names (a list or a comma-separated string); returns them lower-cased.

    Raises:
        ParameterError: an empty list, or a name not in :data:`INSTRUMENTS`
            (the message lists the supported names).
    """
    if isinstance(names, str):
        names = [n for n in names.split(",")]
    out = []
    for n in names:
        key = str(n).strip().lower()
        if key not in _INDEX:
            raise ParameterError(
                f"given instrument {str(n).strip()!r}; supported: {', '.join(INSTRUMENTS)}"
            )
        if key not in out:
            out.append(key)
    if not out:
        raise ParameterError(f"given no instruments; supported: {', '.join(INSTRUMENTS)}")
    return out


def field_sizes(max_beat: int) -> tuple[int, ...]:
    """The number of codes of each field when beats go up to ``max_beat - 1``."""
    return (len(TYPE_NAMES), int(max_beat) + 1, RESOLUTION + 1, 129, len(DURATIONS) + 1, len(INSTRUMENTS) + 1)


def quantize_duration(durations) -> np.ndarray:
    """Durations in positions -> the index (0-based) of the closest value of :data:`DURATIONS` (ties: shorter)."""
    d = np.asarray(durations, dtype=np.int64)
    i = np.clip(np.searchsorted(_DUR, d), 1, len(_DUR) - 1)
    left, right = _DUR[i - 1], _DUR[i]
    return np.where(d - left <= right - d, i - 1, i).astype(np.int64)


def header(instruments: Sequence[str]) -> np.ndarray:
    """The start of a sequence: start-of-song, one instrument event each (sorted by code), start-of-notes."""
    codes = sorted({_INDEX[n] + 1 for n in check_instruments(list(instruments))})
    rows = [[SOS, 0, 0, 0, 0, 0]] + [[INSTRUMENT_EVENT, 0, 0, 0, 0, c] for c in codes] + [[SON, 0, 0, 0, 0, 0]]
    return np.array(rows, dtype=np.int64)


def encode_notes(onsets, durations, pitches, instruments) -> np.ndarray:
    """Note events from arrays in positions (1/12 beat): ``(N, 6)``, sorted, duplicates removed.

    ``instruments`` are 0-based indices into :data:`INSTRUMENTS`.
    """
    on = np.asarray(onsets, dtype=np.int64)
    n = len(on)
    if n == 0:
        return np.zeros((0, 6), dtype=np.int64)
    beat, pos = np.divmod(on, RESOLUTION)
    rows = np.empty((n, 6), dtype=np.int64)
    rows[:, TYPE] = NOTE
    rows[:, BEAT] = beat + 1
    rows[:, POSITION] = pos + 1
    rows[:, PITCH] = np.asarray(pitches, dtype=np.int64) + 1
    rows[:, DURATION] = quantize_duration(np.maximum(np.asarray(durations, dtype=np.int64), 1)) + 1
    rows[:, INSTRUMENT] = np.asarray(instruments, dtype=np.int64) + 1
    rows = np.unique(rows, axis=0)  # lexicographic: type, beat, position, pitch, duration, instrument
    return rows


def encode(
    piece: Piece,
    *,
    instruments: Sequence[str] | None = None,
    end: bool = True,
) -> np.ndarray:
    """A piece as MMT events: ``(N, 6)`` int64 (see the module docstring).

    Args:
        piece: any :class:`Piece`; drum tracks are skipped; times are taken
            in quarter notes (``piece.tpq``) and rounded to 1/12 beat.
        instruments: the instrument of each track (one name per track, from
            :data:`INSTRUMENTS`); default: :func:`instrument_of_track` of
            each track's name and program.
        end: append the end-of-song event.
    Raises:
        ParameterError: ``instruments`` of the wrong length or with an unknown name.
    """
    if not isinstance(piece, Piece):
        raise ParameterError(f"given {type(piece).__name__}; expected a collage.piece.Piece")
    tracks = list(piece.tracks)
    if instruments is None:
        names = [instrument_of_track(t.name, t.program) for t in tracks]
    else:
        names = list(instruments)
        if len(names) != len(tracks):
            raise ParameterError(f"given {len(names)} instruments for {len(tracks)} tracks; expected one per track")
        names = [check_instruments([n])[0] for n in names]
    on, du, pi, ins = [], [], [], []
    used = set()
    scale = RESOLUTION / piece.tpq
    for t, name in zip(tracks, names):
        if t.is_drum or len(t) == 0:
            continue
        used.add(name)
        start = np.rint(t.onsets * scale).astype(np.int64)
        stop = np.rint(t.offsets * scale).astype(np.int64)
        on.append(start)
        du.append(np.maximum(stop - start, 1))
        pi.append(t.pitches)
        ins.append(np.full(len(t), _INDEX[name], dtype=np.int64))
    notes = (
        encode_notes(np.concatenate(on), np.concatenate(du), np.concatenate(pi), np.concatenate(ins))
        if on else np.zeros((0, 6), dtype=np.int64)
    )
    parts = [header(sorted(used, key=_INDEX.get)) if used else np.array([[SOS, 0, 0, 0, 0, 0], [SON, 0, 0, 0, 0, 0]]),
             notes]
    if end:
        parts.append(np.array([[EOS, 0, 0, 0, 0, 0]], dtype=np.int64))
    return np.concatenate(parts).astype(np.int64)


def validate_codes(codes, *, max_beat: int | None = None) -> np.ndarray:
    """Check an ``(N, 6)`` code array: ranges and the order of the types; returns it as int64.

    Raises:
        ParameterError: wrong shape, a code out of range, types out of order.
    """
    arr = np.asarray(codes)
    if arr.ndim != 2 or arr.shape[1] != 6:
        raise ParameterError(f"given codes.shape={arr.shape}; expected (N, 6) [{', '.join(FIELDS)}]")
    arr = arr.astype(np.int64)
    sizes = field_sizes(max_beat if max_beat is not None else max(int(arr[:, BEAT].max(initial=0)), 1))
    for f, size in enumerate(sizes):
        bad = (arr[:, f] < 0) | (arr[:, f] >= size)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ParameterError(f"given event {arr[i].tolist()} (row {i}) with {FIELDS[f]}={arr[i, f]}; expected 0..{size - 1}")
    if len(arr) and (np.diff(arr[:, TYPE]) < 0).any():
        i = int(np.flatnonzero(np.diff(arr[:, TYPE]) < 0)[0]) + 1
        raise ParameterError(f"event {i} has type {TYPE_NAMES[arr[i, TYPE]]} after {TYPE_NAMES[arr[i - 1, TYPE]]}")
    return arr


def decode_notes(codes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The note events of a code array as ``(onsets, durations, pitches, instruments)`` in positions.

    Events that are not notes, or notes with an undefined field, are skipped;
    everything after the first end-of-song is ignored. ``instruments`` are
    0-based indices into :data:`INSTRUMENTS`.
    """
    arr = np.asarray(codes, dtype=np.int64).reshape(-1, 6)
    eos = np.flatnonzero(arr[:, TYPE] == EOS)
    if len(eos):
        arr = arr[: eos[0]]
    ok = (arr[:, TYPE] == NOTE) & (arr[:, 1:] > 0).all(axis=1)
    ok &= (arr[:, POSITION] <= RESOLUTION) & (arr[:, PITCH] <= 128) & (arr[:, DURATION] <= len(DURATIONS))
    ok &= arr[:, INSTRUMENT] <= len(INSTRUMENTS)
    a = arr[ok]
    onsets = (a[:, BEAT] - 1) * RESOLUTION + a[:, POSITION] - 1
    return onsets, _DUR[a[:, DURATION] - 1], a[:, PITCH] - 1, a[:, INSTRUMENT] - 1


def decode(codes, *, tpq: int = 480, qpm: float = 120.0, velocity: int = 80, source: str | None = None) -> Piece:
    """MMT events back to a :class:`Piece` (4/4, one tempo).

    One track per instrument, in the order of the instrument events and then
    of first appearance, named after the instrument, with its General MIDI
    program (:data:`PROGRAMS`). ``tpq`` must be a multiple of
    :data:`RESOLUTION` so that every position is a whole tick.
    """
    if int(tpq) % RESOLUTION or tpq <= 0:
        raise ParameterError(f"given tpq={tpq}; expected a positive multiple of {RESOLUTION}")
    arr = np.asarray(codes, dtype=np.int64).reshape(-1, 6)
    on, du, pi, ins = decode_notes(arr)
    order: list[int] = []
    head = arr[(arr[:, TYPE] == INSTRUMENT_EVENT) & (arr[:, INSTRUMENT] >= 1) & (arr[:, INSTRUMENT] <= len(INSTRUMENTS))]
    for c in head[:, INSTRUMENT].tolist() + (ins + 1).tolist():
        if c - 1 not in order:
            order.append(c - 1)
    k = int(tpq) // RESOLUTION
    tracks = []
    for i in order:
        m = ins == i
        notes = np.stack([on[m] * k, du[m] * k, pi[m], np.full(int(m.sum()), velocity)], axis=1).astype(np.int64)
        name = INSTRUMENTS[i]
        tracks.append(Track(notes.reshape(-1, 4), name=name, program=PROGRAMS[name]))
    return Piece(tracks, tpq=int(tpq), tempos=[Tempo(0, float(qpm))], time_signatures=[TimeSignature(0, 4, 4)],
                 source=source)


def window(notes, *, start_beat: int = 0, max_len: int, max_beat: int) -> np.ndarray:
    """A training/evaluation window of a piece's note events, with its own header.

    Takes the notes from quarter-note beat ``start_beat`` (0-based) on, moves
    them so that ``start_beat`` becomes beat 0, keeps those before beat
    ``max_beat`` and at most ``max_len`` events in all, and puts the header
    (start-of-song, the instruments of the kept notes, start-of-notes) in
    front. The end-of-song event is appended when the window reaches the
    piece's last note.

    Args:
        notes: ``(N, 6)`` note events of one piece, sorted (as :func:`encode`
            makes them), absolute beats.
    Returns:
        ``(M, 6)`` int64 codes, ``M <= max_len``.
    """
    a = np.asarray(notes, dtype=np.int64).reshape(-1, 6)
    a = a[(a[:, TYPE] == NOTE) & (a[:, BEAT] - 1 >= start_beat)].copy()
    n_after = len(a)
    a[:, BEAT] -= start_beat
    a = a[a[:, BEAT] <= max_beat]
    complete = len(a) == n_after
    codes = sorted(set(a[:, INSTRUMENT].tolist()))
    head = [[SOS, 0, 0, 0, 0, 0]] + [[INSTRUMENT_EVENT, 0, 0, 0, 0, c] for c in codes] + [[SON, 0, 0, 0, 0, 0]]
    room = max_len - len(head)
    if room <= 0:
        raise ParameterError(f"given max_len={max_len}; the header alone has {len(head)} events")
    if len(a) + 1 <= room and complete:
        return np.concatenate([np.array(head, dtype=np.int64), a, [[EOS, 0, 0, 0, 0, 0]]]).astype(np.int64)
    return np.concatenate([np.array(head, dtype=np.int64), a[:room]]).astype(np.int64)


def transpose_codes(codes, semitones: int) -> np.ndarray:
    """Codes with every note moved by ``semitones`` (pitches must stay in 0..127)."""
    a = np.array(codes, dtype=np.int64, copy=True).reshape(-1, 6)
    m = a[:, TYPE] == NOTE
    a[m, PITCH] += int(semitones)
    if m.any() and (a[m, PITCH].min() < 1 or a[m, PITCH].max() > 128):
        raise ParameterError(f"given semitones={semitones}; some pitches leave 0..127")
    return a

"""MIDI files in and out, through symusic.

symusic (a C++ parser) reads POP909 at thousands of files per second, keeps
tempo events from every track and writes what it reads. Before handing bytes
to it we check the header and walk the chunks, so that a corrupt or
unsupported file gets a precise one-line error instead of a parser message,
and a file that claims a huge length is rejected before anything is built
from it.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import symusic

from collage.errors import InvalidMidiError, ParameterError
from collage.io.atomic import atomic_path
from collage.piece import KeySignature, Piece, Tempo, TimeSignature, Track

__all__ = ["read_midi", "write_midi", "piece_from_symusic", "piece_to_symusic", "check_midi_bytes"]


def _read_bytes(path: Path, error=InvalidMidiError) -> bytes:
    if not path.exists():
        raise error(path, "no such file")
    if path.is_dir():
        raise error(path, "is a directory; expected a file")
    try:
        return path.read_bytes()
    except OSError as e:
        raise error(path, f"cannot be read ({e.strerror or e})") from None


def check_midi_bytes(data: bytes, path: str | os.PathLike | None = None) -> int:
    """Validate a Standard MIDI File's structure without parsing its events.

    Checks the ``MThd`` header, the format (0 or 1), the division (positive
    ticks per quarter note) and that every chunk fits in the file.

    Returns:
        the number of ticks per quarter note.
    Raises:
        InvalidMidiError: naming the problem (and ``path``).
    """
    if len(data) == 0:
        raise InvalidMidiError(path, "is empty (0 bytes); expected a MIDI file")
    if len(data) < 4 or data[:4] != b"MThd":
        raise InvalidMidiError(path, "is not a MIDI file (no 'MThd' header)")
    if len(data) < 14:
        raise InvalidMidiError(path, f"is truncated: the MIDI header is cut off after {len(data)} bytes")
    (hlen,) = struct.unpack(">I", data[4:8])
    fmt, ntracks, division = struct.unpack(">HHH", data[8:14])
    if hlen < 6:
        raise InvalidMidiError(path, f"has a corrupt MIDI header (length {hlen} < 6)")
    if 8 + hlen > len(data):
        raise InvalidMidiError(path, f"is truncated: the MIDI header claims {hlen} bytes but only {len(data) - 8} remain")
    if fmt == 2:
        raise InvalidMidiError(path, "is a type-2 MIDI file (independent sequences), which is not supported; convert it to type 1")
    if fmt > 2:
        raise InvalidMidiError(path, f"has unknown MIDI format {fmt}; expected 0 or 1")
    if division & 0x8000:
        raise InvalidMidiError(
            path, "uses SMPTE time division (a negative ticks-per-beat field); only ticks per quarter note are supported"
        )
    if division == 0:
        raise InvalidMidiError(path, "has 0 ticks per quarter note")
    pos, n_mtrk = 8 + hlen, 0
    while pos < len(data):
        if pos + 8 > len(data):
            if n_mtrk >= ntracks:  # trailing padding after all tracks is harmless
                break
            raise InvalidMidiError(path, f"is truncated: chunk header at byte {pos} is cut off")
        kind = data[pos : pos + 4]
        (clen,) = struct.unpack(">I", data[pos + 4 : pos + 8])
        if pos + 8 + clen > len(data):
            raise InvalidMidiError(
                path,
                f"is truncated: chunk {kind!r} at byte {pos} claims {clen} bytes but only {len(data) - pos - 8} remain",
            )
        n_mtrk += kind == b"MTrk"
        pos += 8 + clen
    if n_mtrk < ntracks:
        raise InvalidMidiError(path, f"is truncated: the header announces {ntracks} tracks but {n_mtrk} are present")
    return division


def piece_from_symusic(score: "symusic.Score", source: str | None = None) -> Piece:
    """Convert a tick-based symusic Score into a :class:`Piece`."""
    tracks = []
    for t in score.tracks:
        a = t.notes.numpy()
        notes = np.empty((len(a["time"]), 4), dtype=np.int64)  # one copy, filled column by column
        for col, key in enumerate(("time", "duration", "pitch", "velocity")):
            notes[:, col] = a[key]
        if len(notes) and notes[:, 0].min() < 0:  # symusic keeps times in 32 bits: past 2**31 ticks they wrap
            raise InvalidMidiError(source, f"is too long: event times run past {_INT32_MAX} ticks")
        tracks.append(Track(notes, name=t.name, program=int(t.program), is_drum=bool(t.is_drum)))
    return Piece(
        tracks,
        tpq=int(score.ticks_per_quarter),
        tempos=[Tempo(int(x.time), float(x.qpm)) for x in score.tempos],
        time_signatures=[TimeSignature(int(x.time), int(x.numerator), int(x.denominator)) for x in score.time_signatures],
        key_signatures=[KeySignature(int(x.time), int(x.key), bool(x.tonality)) for x in score.key_signatures],
        source=source,
    )


_INT32_MAX = 2**31 - 1
_MIN_QPM = 60e6 / 0xFFFFFF  # the slowest tempo a MIDI set_tempo event can hold (24-bit µs per quarter)


def _check_writable(piece: Piece) -> None:
    """Raise ParameterError for what a Standard MIDI File cannot hold."""
    if piece.tpq > 0x7FFF:
        raise ParameterError(f"given tpq={piece.tpq}; a MIDI file holds at most 32767 ticks per quarter note")
    for tr in piece.tracks:
        if len(tr) and int(tr.offsets.max()) > _INT32_MAX:
            raise ParameterError(
                f"track {tr.name!r} ends at tick {int(tr.offsets.max())}; collage writes MIDI times up to {_INT32_MAX}"
            )
    for t in piece.tempos:
        if not _MIN_QPM <= t.qpm <= 60e6:
            raise ParameterError(
                f"given tempo {t.qpm:g} qpm at tick {t.tick}; a MIDI file holds {_MIN_QPM:.3f}..60000000 qpm"
            )
    for ts in piece.time_signatures:
        d = ts.denominator
        if not (1 <= ts.numerator <= 255 and 1 <= d <= 128 and d & (d - 1) == 0):
            raise ParameterError(
                f"given time signature {ts.numerator}/{d} at tick {ts.tick}; collage writes "
                "numerators 1..255 over a power-of-two denominator 1..128"
            )
    for ks in piece.key_signatures:
        if not -7 <= ks.sharps <= 7:
            raise ParameterError(f"given key signature with sharps={ks.sharps} at tick {ks.tick}; expected -7..7")
    for what, events in (("tempo", piece.tempos), ("time signature", piece.time_signatures), ("key", piece.key_signatures)):
        for e in events:
            if not 0 <= e.tick <= _INT32_MAX:
                raise ParameterError(f"given {what} event at tick {e.tick}; expected 0..{_INT32_MAX}")


def piece_to_symusic(piece: Piece) -> "symusic.Score":
    """Convert a :class:`Piece` into a tick-based symusic Score.

    Velocity 0 is written as 1 (a MIDI note-on with velocity 0 is a note-off,
    so the note would be lost). Tracks without notes are written, but readers,
    symusic included, drop them: they do not survive a round trip.

    Raises:
        ParameterError: the piece holds something a MIDI file cannot (a tempo
            outside 3.58..6e7 qpm, a time signature over a non-power-of-two,
            a key outside -7..7 sharps, times beyond 2**31 - 1 ticks).
    """
    _check_writable(piece)
    score = symusic.Score(int(piece.tpq))
    for tr in piece.tracks:
        st = symusic.Track(name=tr.name, program=int(tr.program), is_drum=bool(tr.is_drum))
        if len(tr):
            n = tr.notes
            st.notes = symusic.Note.from_numpy(
                time=n[:, 0].astype(np.int32),
                duration=n[:, 1].astype(np.int32),
                pitch=n[:, 2].astype(np.int8),
                velocity=np.maximum(n[:, 3], 1).astype(np.int8),
            )
        score.tracks.append(st)
    for t in piece.tempos:
        score.tempos.append(symusic.Tempo(int(t.tick), qpm=float(t.qpm)))
    for ts in piece.time_signatures:
        score.time_signatures.append(symusic.TimeSignature(int(ts.tick), int(ts.numerator), int(ts.denominator)))
    for ks in piece.key_signatures:
        score.key_signatures.append(symusic.KeySignature(int(ks.tick), int(ks.sharps), int(ks.minor)))
    return score


def _parse_error(e: Exception) -> str:
    """symusic's parser message, made readable ('Get velocity=129' -> '... velocity=129 is not a 7-bit MIDI value')."""
    msg = (str(e).strip().splitlines() or [type(e).__name__])[0].removeprefix("MiniMidi: ").strip()
    if msg.startswith("Get ") and "=" in msg:
        return f"corrupt event data: {msg[4:]} is not a 7-bit MIDI value"
    return msg[:200]


def _check_parsed(score: "symusic.Score", path: Path) -> None:
    """Reject what symusic parses without complaint but a Piece cannot hold."""
    for t in score.tempos:
        if t.mspq <= 0:
            raise InvalidMidiError(path, f"has a tempo of {t.mspq} microseconds per quarter note at tick {t.time}")
    # note times are checked in piece_from_symusic, where the note arrays are built once
    if any(e.time < 0 for evs in (score.tempos, score.time_signatures, score.key_signatures) for e in evs):
        # symusic keeps times in 32 bits: a file that runs past 2**31 ticks wraps around.
        raise InvalidMidiError(path, f"is too long: event times run past {_INT32_MAX} ticks")
    for ts in score.time_signatures:
        if ts.numerator < 1:
            raise InvalidMidiError(
                path, f"has a time signature {ts.numerator}/{ts.denominator} at tick {ts.time}; the numerator must be >= 1"
            )


def read_midi(
    path: str | os.PathLike,
    *,
    max_ticks: int | None = None,
    max_duration_s: float | None = 4 * 3600.0,
    allow_empty: bool = False,
) -> Piece:
    """Read a Standard MIDI File (format 0 or 1) into a :class:`Piece`.

    Args:
        path: the file.
        max_ticks: reject a file whose last note ends after this tick (None: no limit).
        max_duration_s: reject a file longer than this many seconds (None: no limit).
        allow_empty: accept a file with no notes (otherwise an error). A file
            with only drum notes is not empty; use :meth:`Piece.require_pitched`
            where pitches are needed.

    Tracks without notes are not kept (symusic drops them); tempo and metre
    events are collected from every track.
    Raises:
        InvalidMidiError: the file is missing, corrupt, unsupported, empty or too long.
    """
    path = Path(path)
    data = _read_bytes(path)
    check_midi_bytes(data, path)
    try:
        score = symusic.Score.from_midi(data)
    except (RuntimeError, ValueError, IndexError, OverflowError) as e:
        raise InvalidMidiError(path, f"cannot be parsed ({_parse_error(e)})") from None
    _check_parsed(score, path)
    try:
        piece = piece_from_symusic(score, source=str(path))
    except ParameterError as e:
        raise InvalidMidiError(path, f"holds an invalid event ({e})") from None
    if piece.n_notes == 0 and not allow_empty:
        raise InvalidMidiError(path, "contains no notes")
    end = piece.end_tick
    if max_ticks is not None and end > max_ticks:
        raise InvalidMidiError(path, f"is too long: last note ends at tick {end} > max_ticks={max_ticks}")
    if max_duration_s is not None and piece.duration_s > max_duration_s:
        raise InvalidMidiError(
            path, f"is too long: {piece.duration_s:.0f} s > max_duration_s={max_duration_s:g} s"
        )
    return piece


def write_midi(piece: Piece, path: str | os.PathLike) -> Path:
    """Write ``piece`` as a type-1 MIDI file, atomically; returns the path.

    The tempo, time-signature and key-signature events go on the first track.
    Tempos are stored as whole microseconds per quarter note, so a tempo reads
    back within a relative error of about ``qpm / 1.2e8`` (5e-6 at 600 qpm).
    See :func:`piece_to_symusic` for velocity 0 and tracks without notes.

    Raises:
        ParameterError: the piece holds something a MIDI file cannot.
        OutputError: the file cannot be written.
    """
    path = Path(path)
    score = piece_to_symusic(piece)
    with atomic_path(path) as tmp:
        score.dump_midi(str(tmp))
    return path

"""Reading and writing pieces: MIDI (symusic), MusicXML and ABC (music21).

>>> piece = collage.io.read("song.mid")          # or .musicxml / .mxl / .abc
>>> collage.io.save(piece, "out.mid")
"""

from __future__ import annotations

import os
from pathlib import Path

from collage.io.atomic import atomic_path
from collage.io.midi import read_midi, write_midi
from collage.io.score import SCORE_SUFFIXES, read_score
from collage.errors import ParameterError
from collage.piece import Piece

__all__ = ["read", "save", "as_piece", "read_midi", "read_score", "write_midi", "atomic_path", "MIDI_SUFFIXES", "SCORE_SUFFIXES"]

MIDI_SUFFIXES = {".mid", ".midi", ".smf", ".kar"}


def read(path: str | os.PathLike, **kwargs) -> Piece:
    """Read any supported file by its extension (MIDI, MusicXML, ABC) into a :class:`Piece`.

    >>> piece = collage.load("song.mid")        # or .musicxml / .mxl / .abc
    >>> piece.track_names, piece.duration_s

    Keyword arguments go to :func:`read_midi` (``max_ticks``, ``max_duration_s``,
    ``allow_empty``) or :func:`read_score` (``tpq``, ``allow_empty``, ``tune``);
    those the chosen reader does not take are ignored. An unknown extension is
    tried as MIDI. A drum-only file reads fine: call
    :meth:`~collage.piece.Piece.require_pitched` where pitches are needed.

    Returns:
        the piece (ticks at the file's resolution, tempo, metre and key maps kept).
    Raises:
        InvalidMidiError / InvalidScoreError: a missing, empty, corrupt or too long file
            (one line naming the file and the problem).
    """
    suffix = Path(path).suffix.lower()
    if suffix in SCORE_SUFFIXES:
        kwargs = {k: v for k, v in kwargs.items() if k in ("tpq", "allow_empty", "tune")}
        return read_score(path, **kwargs)
    kwargs.pop("tpq", None)
    kwargs.pop("tune", None)
    return read_midi(path, **kwargs)


def as_piece(source: Piece | str | os.PathLike, **kwargs) -> Piece:
    """``source`` itself if it is a :class:`Piece`, else the file read by :func:`read` (``kwargs`` go to it)."""
    if isinstance(source, Piece):
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise ParameterError(f"given {type(source).__name__} {source!r}; expected a Piece or a file path")
    return read(source, **kwargs)


def save(piece: Piece, path: str | os.PathLike) -> Path:
    """Write ``piece`` to ``path`` as a type-1 MIDI file, atomically; returns the path.

    The file's suffix must be one of :data:`MIDI_SUFFIXES`. For audio use
    :func:`collage.render` with ``path=`` (WAV or FLAC); for a picture,
    :func:`collage.plot`.

    >>> collage.save(result.piece, "fused.mid")

    Args:
        piece: the piece.
        path: the output file (``.mid``, ``.midi``, ...).
    Returns:
        the path written.

    Raises:
        ParameterError: another suffix, or the piece holds something a MIDI file cannot.
        OutputError: the file cannot be written (nothing is left at ``path``).
    """
    if Path(path).suffix.lower() not in MIDI_SUFFIXES:
        raise ParameterError(
            f"given path {str(path)!r}; collage.save writes MIDI ({', '.join(sorted(MIDI_SUFFIXES))}); "
            "for audio use collage.render(piece, path=...)"
        )
    return write_midi(piece, path)

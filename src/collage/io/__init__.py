"""Reading and writing pieces: MIDI (symusic), MusicXML and ABC (music21).

>>> piece = collage.io.read("song.mid")          # or .musicxml / .mxl / .abc
>>> collage.io.write_midi(piece, "out.mid")
"""

from __future__ import annotations

import os
from pathlib import Path

from collage.io.atomic import atomic_path
from collage.io.midi import read_midi, write_midi
from collage.io.score import SCORE_SUFFIXES, read_score
from collage.piece import Piece

__all__ = ["read", "read_midi", "read_score", "write_midi", "atomic_path", "MIDI_SUFFIXES", "SCORE_SUFFIXES"]

MIDI_SUFFIXES = {".mid", ".midi", ".smf", ".kar"}


def read(path: str | os.PathLike, **kwargs) -> Piece:
    """Read any supported file by its extension (MIDI, MusicXML, ABC).

    Keyword arguments go to :func:`read_midi` (``max_ticks``, ``max_duration_s``,
    ``allow_empty``) or :func:`read_score` (``tpq``, ``allow_empty``, ``tune``);
    those the chosen reader does not take are ignored. An unknown extension is
    tried as MIDI. A drum-only file reads fine: call
    :meth:`~collage.piece.Piece.require_pitched` where pitches are needed.
    """
    suffix = Path(path).suffix.lower()
    if suffix in SCORE_SUFFIXES:
        kwargs = {k: v for k, v in kwargs.items() if k in ("tpq", "allow_empty", "tune")}
        return read_score(path, **kwargs)
    kwargs.pop("tpq", None)
    kwargs.pop("tune", None)
    return read_midi(path, **kwargs)

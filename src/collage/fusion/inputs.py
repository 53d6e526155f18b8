"""Which notes of the two input files are the melody and which the accompaniment.

- **melody**: the track named ``melody_track`` if given, else the track named
  MELODY, else the only pitched (non-drum) track. Several pitched tracks and
  no name to go by is an error that lists them. A polyphonic melody is made
  monophonic later, on the step grid, by
  :func:`collage.represent.melody.skyline` (highest note at each onset, with a
  warning).
- **accompaniment**: the tracks named in ``accomp_tracks`` if given, else the
  track named PIANO, else all pitched tracks merged -- leaving out a track
  named MELODY when other pitched tracks remain (so a lead sheet with MELODY
  and a band gives the band).

Drum-only or empty input fails with one line
(:meth:`collage.piece.Piece.require_pitched`).
"""

from __future__ import annotations

import logging
from typing import Sequence

from collage.errors import ParameterError
from collage.piece import Piece, Track

__all__ = ["select_melody", "select_accompaniment"]

log = logging.getLogger(__name__)

MELODY_NAME = "MELODY"
PIANO_NAME = "PIANO"


def _where(piece: Piece) -> str:
    return f"{piece.source}: " if piece.source else ""


def _pitched_named(piece: Piece, names: Sequence[str]) -> Piece:
    chosen = piece.select(list(names)).pitched()
    if not chosen.n_notes:
        raise ParameterError(f"{_where(piece)}track(s) {list(names)} have no pitched notes")
    return chosen


def select_melody(piece: Piece, track: str | None = None) -> Track:
    """The melody track of ``piece`` (tick notes, possibly still polyphonic), named MELODY.

    Args:
        piece: the melody file's piece.
        track: a track name to use (case-insensitive); None picks MELODY or the only pitched track.
    Raises:
        InvalidMidiError / InvalidScoreError: no pitched notes at all.
        ParameterError: the named track is missing or silent, or several
            pitched tracks and none named MELODY (their names are listed).
    """
    pitched = piece.require_pitched()
    if track is not None:
        chosen = _pitched_named(piece, [track])
    elif pitched.has_track(MELODY_NAME):
        chosen = pitched.select([MELODY_NAME])
    else:
        tracks = [t for t in pitched.tracks if len(t)]
        if len(tracks) > 1:
            names = [t.name or f"#{i}" for i, t in enumerate(tracks)]
            raise ParameterError(
                f"{_where(piece)}has {len(tracks)} pitched tracks {names} and none named MELODY; "
                "name the melody track (--melody-track NAME)"
            )
        chosen = Piece(tracks, tpq=piece.tpq)
    tr = chosen.merged(name=MELODY_NAME)
    if not len(tr):
        raise ParameterError(f"{_where(piece)}the melody track has no notes")
    return tr


def select_accompaniment(piece: Piece, tracks: Sequence[str] | None = None) -> Track:
    """The accompaniment of ``piece`` as one merged track (tick notes), named ACCOMPANIMENT.

    Args:
        piece: the accompaniment file's piece.
        tracks: track names to merge (case-insensitive); None or empty picks
            PIANO, else every pitched track (without MELODY when others remain).
    Raises:
        InvalidMidiError / InvalidScoreError: no pitched notes at all.
        ParameterError: a named track is missing or silent.
    """
    pitched = piece.require_pitched()
    if tracks:
        if isinstance(tracks, str):
            tracks = [tracks]
        chosen = _pitched_named(piece, tracks)
    elif pitched.has_track(PIANO_NAME) and pitched.select([PIANO_NAME]).n_notes:
        chosen = pitched.select([PIANO_NAME])
    else:
        others = [t for t in pitched.tracks if len(t) and t.name.strip().lower() != MELODY_NAME.lower()]
        if others and len(others) < len([t for t in pitched.tracks if len(t)]):
            log.info("%saccompaniment: all pitched tracks except MELODY", _where(piece))
        chosen = Piece(others or [t for t in pitched.tracks if len(t)], tpq=piece.tpq)
    return chosen.merged(name="ACCOMPANIMENT")

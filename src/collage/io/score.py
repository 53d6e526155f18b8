"""MusicXML and ABC through music21, into the same :class:`Piece` as MIDI.

Each music21 part becomes a track named after the part; tied notes are
merged, chords are split into their notes, grace notes (zero length) are
dropped. Times are put on a grid of ``tpq`` ticks per quarter note.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from collage.errors import InvalidScoreError
from collage.io.midi import _read_bytes
from collage.piece import KeySignature, Piece, Tempo, TimeSignature, Track

__all__ = ["read_score", "piece_from_music21", "SCORE_SUFFIXES"]

SCORE_SUFFIXES = {".xml", ".musicxml", ".mxl", ".abc"}


def piece_from_music21(stream, *, tpq: int = 480, source: str | None = None) -> Piece:
    """Convert a music21 Score (or Part) into a :class:`Piece` at ``tpq`` ticks per quarter."""
    import music21 as m21

    parts = list(stream.parts) if hasattr(stream, "parts") and len(stream.parts) else [stream]
    flat_all = stream.flatten()
    tracks = []
    for i, part in enumerate(parts):
        rows = []
        for el in part.stripTies().flatten().notes:
            ql = float(el.duration.quarterLength)
            if ql <= 0:
                continue
            onset = int(round(float(el.offset) * tpq))
            dur = max(1, int(round(ql * tpq)))
            vel = int(el.volume.velocity) if el.volume.velocity is not None else 80
            pitches = el.pitches if isinstance(el, m21.chord.Chord) else [el.pitch]
            rows.extend([onset, dur, int(p.midi), vel] for p in pitches if 0 <= p.midi <= 127)
        name = part.partName or (part.id if isinstance(part.id, str) else "") or f"part{i}"
        program = 0
        inst = part.getInstrument(returnDefault=False)
        if inst is not None and inst.midiProgram is not None:
            program = int(inst.midiProgram)
        is_drum = bool(inst is not None and isinstance(inst, m21.instrument.UnpitchedPercussion))
        tracks.append(Track(np.array(rows, dtype=np.int64).reshape(-1, 4), name=name, program=program, is_drum=is_drum))
    tempos = [
        Tempo(int(round(float(mm.offset) * tpq)), float(mm.getQuarterBPM()))
        for mm in flat_all.getElementsByClass(m21.tempo.MetronomeMark)
        if mm.getQuarterBPM()
    ]
    tsigs = {
        int(round(float(ts.offset) * tpq)): TimeSignature(int(round(float(ts.offset) * tpq)), ts.numerator, ts.denominator)
        for ts in parts[0].flatten().getElementsByClass(m21.meter.TimeSignature)
    } if parts else {}
    keys = {}
    for ks in parts[0].flatten().getElementsByClass(m21.key.KeySignature) if parts else []:
        tick = int(round(float(ks.offset) * tpq))
        keys[tick] = KeySignature(tick, int(ks.sharps), getattr(ks, "mode", "major") == "minor")
    return Piece(tracks, tpq=tpq, tempos=tempos, time_signatures=list(tsigs.values()),
                 key_signatures=list(keys.values()), source=source)


def read_score(path: str | os.PathLike, *, tpq: int = 480, allow_empty: bool = False) -> Piece:
    """Read a MusicXML (.xml, .musicxml, .mxl) or ABC (.abc) file.

    Raises:
        InvalidScoreError: the file is missing, malformed or has no notes.
    """
    import music21 as m21

    path = Path(path)
    _read_bytes(path, error=InvalidScoreError)
    try:
        stream = m21.converter.parse(str(path), forceSource=True)
    except Exception as e:  # music21 raises many unrelated types for malformed input
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InvalidScoreError(path, f"cannot be parsed as {path.suffix.lstrip('.') or 'a score'} ({msg[:200]})") from None
    try:
        piece = piece_from_music21(stream, tpq=tpq, source=str(path))
    except Exception as e:
        raise InvalidScoreError(path, f"cannot be converted ({type(e).__name__}: {str(e)[:200]})") from None
    if piece.n_notes == 0 and not allow_empty:
        raise InvalidScoreError(path, "contains no notes")
    return piece

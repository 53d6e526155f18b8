"""MusicXML and ABC through music21, into the same :class:`Piece` as MIDI.

Each music21 part becomes a track named after the part; tied notes are
merged, chords are split into their notes, grace notes (zero length) are
dropped. Times are put on a grid of ``tpq`` ticks per quarter note.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from collage.errors import InvalidScoreError, ParameterError
from collage.io.midi import _read_bytes
from collage.piece import KeySignature, Piece, Tempo, TimeSignature, Track

__all__ = ["read_score", "piece_from_music21", "SCORE_SUFFIXES"]

log = logging.getLogger(__name__)

SCORE_SUFFIXES = {".xml", ".musicxml", ".mxl", ".abc"}


def piece_from_music21(stream, *, tpq: int = 480, source: str | None = None) -> Piece:
    """Convert a music21 Score (or Part, or an Opus of one score) into a :class:`Piece` at ``tpq`` ticks per quarter.

    Pitches come from ``pitch.ps`` (rounded); notes outside MIDI's 0..127 are
    dropped with a logged warning. Velocities are clipped to 1..127 (80 where
    the score gives none). Tempo marks repeated in every part are kept once.
    """
    # deferred: music21 (0.4 s to import) loads on first use
    import music21 as m21

    if isinstance(stream, m21.stream.Opus):
        scores = list(stream.scores)
        if len(scores) != 1:
            raise ParameterError(
                f"given a music21 Opus of {len(scores)} pieces; expected one score (pick one with opus.scores[i])"
            )
        stream = scores[0]
    parts = list(stream.parts) if hasattr(stream, "parts") and len(stream.parts) else [stream]
    flat_all = stream.flatten()
    tracks = []
    for i, part in enumerate(parts):
        rows, n_out = [], 0
        for el in part.stripTies().flatten().notes:
            ql = float(el.duration.quarterLength)
            if ql <= 0:  # grace notes
                continue
            onset = int(round(float(el.offset) * tpq))
            dur = max(1, int(round(ql * tpq)))
            vel = int(el.volume.velocity) if el.volume.velocity is not None else 80
            vel = min(max(vel, 1), 127)
            # pitch.ps, not pitch.midi: music21 folds an out-of-range .midi back into
            # 0..127 by octaves, which would move the note silently.
            if isinstance(el, m21.note.Unpitched):  # percussion: where it sits on the staff
                midis = [el.displayPitch().ps]
            elif isinstance(el, m21.chord.Chord):
                midis = [p.ps for p in el.pitches]
            elif hasattr(el, "pitch"):
                midis = [el.pitch.ps]
            else:  # e.g. a PercussionChord
                midis = [n.pitch.ps for n in getattr(el, "notes", ()) if hasattr(n, "pitch")]
            midis = [int(round(m)) for m in midis]
            n_out += sum(not 0 <= m <= 127 for m in midis)
            rows.extend([onset, dur, int(m), vel] for m in midis if 0 <= m <= 127)
        if n_out:
            log.warning("%s: dropped %d notes of part %d outside MIDI pitch 0..127", source or "score", n_out, i)
        name = part.partName or (part.id if isinstance(part.id, str) else "") or f"part{i}"
        program = 0
        inst = part.getInstrument(returnDefault=False)
        if inst is not None and inst.midiProgram is not None:
            program = int(inst.midiProgram)
        is_drum = bool(inst is not None and isinstance(inst, m21.instrument.UnpitchedPercussion))
        tracks.append(Track(np.array(rows, dtype=np.int64).reshape(-1, 4), name=name, program=program, is_drum=is_drum))
    # Every part repeats the tempo marks: keep one per tick.
    tempos = {
        int(round(float(mm.offset) * tpq)): Tempo(int(round(float(mm.offset) * tpq)), float(mm.getQuarterBPM()))
        for mm in flat_all.getElementsByClass(m21.tempo.MetronomeMark)
        if mm.getQuarterBPM() and mm.getQuarterBPM() > 0
    }
    tsigs = {
        int(round(float(ts.offset) * tpq)): TimeSignature(int(round(float(ts.offset) * tpq)), ts.numerator, ts.denominator)
        for ts in parts[0].flatten().getElementsByClass(m21.meter.TimeSignature)
    } if parts else {}
    keys = {}
    for ks in parts[0].flatten().getElementsByClass(m21.key.KeySignature) if parts else []:
        tick = int(round(float(ks.offset) * tpq))
        keys[tick] = KeySignature(tick, int(ks.sharps), getattr(ks, "mode", "major") == "minor")
    return Piece(tracks, tpq=tpq, tempos=list(tempos.values()), time_signatures=list(tsigs.values()),
                 key_signatures=list(keys.values()), source=source)


def read_score(
    path: str | os.PathLike, *, tpq: int = 480, allow_empty: bool = False, tune: int | None = None
) -> Piece:
    """Read a MusicXML (.xml, .musicxml, .mxl) or ABC (.abc) file.

    Args:
        tpq: ticks per quarter note of the result.
        allow_empty: accept a file with no notes (otherwise an error).
        tune: for a file holding several pieces (an ABC tune book, a MusicXML
            opus), which one to read, counting from 0; None reads a file of
            one piece and rejects a file of several.

    Raises:
        InvalidScoreError: the file is missing, malformed or has no notes.
    """
    # deferred: music21 (0.4 s to import) loads on first use
    import music21 as m21

    if int(tpq) != tpq or tpq <= 0:
        raise ParameterError(f"given tpq={tpq!r}; expected a positive whole number of ticks per quarter note")
    path = Path(path)
    _read_bytes(path, error=InvalidScoreError)
    try:
        stream = m21.converter.parse(str(path), forceSource=True)
    except Exception as e:  # music21 raises many unrelated types for malformed input
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InvalidScoreError(path, f"cannot be parsed as {path.suffix.lstrip('.') or 'a score'} ({msg[:200]})") from None
    if isinstance(stream, m21.stream.Opus):
        scores = list(stream.scores)
        if tune is None and len(scores) > 1:
            raise InvalidScoreError(path, f"holds {len(scores)} tunes; choose one with tune=0..{len(scores) - 1}")
        if scores and not -len(scores) <= (tune or 0) < len(scores):
            raise InvalidScoreError(path, f"holds {len(scores)} tunes; given tune={tune}")
        if not scores:
            raise InvalidScoreError(path, "holds no tunes")
        stream = scores[tune or 0]
    elif tune not in (None, 0):
        raise InvalidScoreError(path, f"holds one piece; given tune={tune}")
    try:
        piece = piece_from_music21(stream, tpq=tpq, source=str(path))
    except Exception as e:
        raise InvalidScoreError(path, f"cannot be converted ({type(e).__name__}: {str(e)[:200]})") from None
    if piece.n_notes == 0 and not allow_empty:
        raise InvalidScoreError(path, "contains no notes")
    return piece

"""``generate``: new music from the Multitrack Music Transformer, in its three modes."""

from __future__ import annotations

import logging
from numbers import Integral

import numpy as np

from collage.errors import InvalidMidiError, ParameterError
from collage.generation.defaults import DEFAULT_TEMPERATURE, DEFAULT_TOP_K, field_temperatures
from collage.io import as_piece
from collage.piece import Piece, Tempo, TimeSignature, Track
from collage.represent import mmt as rep

__all__ = ["DEFAULT_TEMPERATURE", "DEFAULT_TOP_K", "MAX_BEATS", "NOTES_PER_BEAT_CAP", "generate", "list_instruments", "load_model"]

log = logging.getLogger(__name__)

#: the longest music one call generates, in quarter-note beats
MAX_BEATS = 1024
#: a safety cap on generated notes: this many per beat asked for
NOTES_PER_BEAT_CAP = 32


def list_instruments() -> list[str]:
    """The instrument names the model knows (POP909's roles, then the corpus's voices and instruments)."""
    return list(rep.INSTRUMENTS)


def load_model(model=None):
    """``model`` if given, else the shipped ``mmt`` weights (loaded once per call site)."""
    if model is not None:
        return model
    from collage.pretrained import load_pretrained

    return load_pretrained("mmt")


def _check_beats(name: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or not lo <= int(value) <= hi:
        raise ParameterError(f"given {name}={value!r}; expected a whole number of beats in {lo}..{hi}")
    return int(value)


def _read_prompt(prompt) -> Piece:
    piece = as_piece(prompt)
    if piece.pitched().n_notes == 0:
        raise InvalidMidiError(piece.source, "has no pitched notes to continue")
    return piece


def _cut(piece: Piece, beats: int | None) -> Piece:
    """The notes of ``piece`` that start before quarter-note beat ``beats`` (all if None); drums dropped."""
    tracks = []
    for t in piece.tracks:
        if t.is_drum:
            continue
        keep = t.notes if beats is None else t.notes[t.onsets < beats * piece.tpq]
        tracks.append(t.replace(notes=keep))
    return Piece(tracks, tpq=piece.tpq, tempos=piece.tempos, time_signatures=piece.time_signatures,
                 key_signatures=piece.key_signatures, source=piece.source)


def generate(
    *,
    instruments=None,
    prompt=None,
    prompt_beats: int | None = None,
    beats: int = 64,
    seed: int = 0,
    temperature=DEFAULT_TEMPERATURE,
    top_k: float = DEFAULT_TOP_K,
    model=None,
    qpm: float | None = None,
) -> Piece:
    """New music from the Multitrack Music Transformer.

    The mode follows from the arguments (the paper's three modes):

    - neither ``instruments`` nor ``prompt``: unconditioned; the model picks
      the instruments, then the notes;
    - ``instruments`` only: instrument-informed; the notes are for these
      instruments (one or more of :func:`list_instruments`);
    - ``prompt``: continuation of a piece (its first ``prompt_beats`` beats);
      ``instruments`` adds parts the prompt lacks.

    Args:
        instruments: names from :func:`list_instruments`, as a list or a
            comma-separated string (``"violin,viola,cello"``).
        prompt: a :class:`~collage.piece.Piece` or a MIDI/MusicXML/ABC path.
            Its tracks map to instruments by name, then by General MIDI program
            (:func:`collage.represent.mmt.instrument_of_track`).
        prompt_beats: keep the notes starting in the first this many
            quarter-note beats of the prompt (1..1024); default all of it.
        beats: quarter-note beats to generate: after the prompt when
            continuing, else in all; 1..:data:`MAX_BEATS`.
        seed: of the sampler (same seed, same model: same music).
        temperature: divides the logits (1 = the model's own distribution;
            lower is safer, 0 picks the likeliest code): a number for every
            field, or a mapping such as ``{"pitch": 0.7, "position": 1.0}``
            whose unnamed fields keep the default's
            (:func:`collage.generation.defaults.field_temperatures`).
        top_k: per field, the share (< 1; the paper's 0.1) or number (>= 1)
            of likeliest codes sampled from.
        model: a loaded :class:`collage.models.mmt.MMT` (default: the shipped
            ``mmt`` weights, loaded on each call).
        qpm: tempo of the result (default: the prompt's first tempo, else 120).
    Returns:
        A :class:`~collage.piece.Piece`: when continuing, the prompt's own
        tracks and notes unchanged (up to ``prompt_beats``) with the new notes
        added to the tracks of their instrument; otherwise one track per
        instrument, named after it, at 480 ticks per quarter note, 4/4.
    Raises:
        ParameterError: an unknown instrument, ``beats`` or ``prompt_beats``
            out of range, a bad ``temperature`` or ``top_k``.
        InvalidMidiError, InvalidScoreError: an unreadable prompt file, or a
            prompt without notes (in its first ``prompt_beats`` beats).

    Example:
        >>> from collage.generation import generate
        >>> piece = generate(instruments="violin,viola,cello", beats=32, seed=1)
        >>> longer = generate(prompt="song.mid", prompt_beats=16, beats=32)
    """
    from collage.generation.sampling import sample_codes, top_k_for

    beats = _check_beats("beats", beats, 1, MAX_BEATS)
    if prompt_beats is not None:
        prompt_beats = _check_beats("prompt_beats", prompt_beats, 1, MAX_BEATS)
        if prompt is None:
            raise ParameterError("given prompt_beats without a prompt; prompt_beats counts the beats of the prompt kept")
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise ParameterError(f"given seed={seed!r}; expected a whole number")
    field_temperatures(temperature)  # validates
    top_k_for(top_k, 2)  # validates
    if qpm is not None and not (isinstance(qpm, (int, float)) and np.isfinite(qpm) and qpm > 0):
        raise ParameterError(f"given qpm={qpm!r}; expected a positive tempo in quarter notes per minute")
    names = rep.check_instruments(instruments) if instruments is not None else None

    source = None
    if prompt is not None:
        full = _read_prompt(prompt)
        source = full.source
        piece = _cut(full, prompt_beats)
        if piece.n_notes == 0:
            raise InvalidMidiError(source, f"has no notes in its first {prompt_beats} beats")
        codes = rep.encode(piece, end=False)
        prompt_ins = [rep.INSTRUMENTS[c - 1] for c in codes[codes[:, rep.TYPE] == rep.INSTRUMENT_EVENT, rep.INSTRUMENT]]
        head = rep.header(list(dict.fromkeys(prompt_ins + (names or []))))
        notes = codes[codes[:, rep.TYPE] == rep.NOTE]
        start = np.concatenate([head, notes])
        prompt_end = prompt_beats if prompt_beats is not None else int(np.ceil(piece.end_tick / piece.tpq))
        end_beat = prompt_end + beats
    elif names is not None:
        start = rep.header(names)
        end_beat = beats
    else:
        start = np.array([[rep.SOS, 0, 0, 0, 0, 0]], dtype=np.int64)
        end_beat = beats

    model = load_model(model)
    codes = sample_codes(
        model, start, end_beat=end_beat, max_notes=NOTES_PER_BEAT_CAP * beats,
        temperature=temperature, top_k=top_k, seed=int(seed),
    )
    tempo = qpm if qpm is not None else (piece.tempos[0].qpm if prompt is not None and piece.tempos else 120.0)
    if prompt is None:
        return rep.decode(codes, qpm=tempo)
    return _merge(piece, codes[len(start):], tempo if qpm is not None else None)


def _merge(prompt: Piece, new_codes: np.ndarray, qpm: float | None) -> Piece:
    """The prompt with the generated notes added to the tracks of their instrument (new tracks where none)."""
    on, du, pi, ins = rep.decode_notes(new_codes)
    scale = prompt.tpq / rep.RESOLUTION
    tracks = [t.replace(notes=t.notes.copy()) for t in prompt.tracks]
    where: dict[str, int] = {}
    for i, t in enumerate(tracks):
        where.setdefault(rep.instrument_of_track(t.name, t.program), i)
    add: dict[int, list] = {}
    extra: dict[str, list] = {}
    for o, d, p, k in zip(on.tolist(), du.tolist(), pi.tolist(), ins.tolist()):
        name = rep.INSTRUMENTS[k]
        row = [round(o * scale), max(1, round(d * scale)), p, 80]
        if name in where:
            add.setdefault(where[name], []).append(row)
        else:
            extra.setdefault(name, []).append(row)
    for i, rows in add.items():
        tracks[i] = tracks[i].replace(notes=np.concatenate([tracks[i].notes, np.array(rows, dtype=np.int64)]))
    for name, rows in extra.items():
        tracks.append(Track(np.array(rows, dtype=np.int64), name=name, program=rep.PROGRAMS[name]))
    tempos = prompt.tempos if qpm is None else [Tempo(0, float(qpm))]
    return Piece(tracks, tpq=prompt.tpq, tempos=tempos,
                 time_signatures=prompt.time_signatures or [TimeSignature(0, 4, 4)],
                 key_signatures=prompt.key_signatures, source=None)


"""MusPy's four representations for generative models, each with its inverse.

All functions take and return note arrays in collage's layout, ``(N, 4)``
int64 ``[onset, duration, pitch, velocity]``, in whatever time unit the
notes are in (ticks of a :class:`~collage.piece.Piece` or steps of the grid):
one time unit is one time step of the encoding. The encodings follow MusPy
0.5 (``muspy.to_*_representation``) token for token, except where noted:

- **pitch-based** (:func:`to_pitch_representation`): one token per time step,
  ``0..127`` a pitch, :data:`PITCH_REST` (128) silence and, with
  ``use_hold_state``, :data:`PITCH_HOLD` (129) the previous pitch goes on.
  Monophonic only. (MusPy fills rests with 0 instead of 128 when
  ``use_hold_state`` is False, against its own docstring; collage uses 128.
  Note collage's melody tokens, :mod:`collage.represent.melody`, swap the two
  special tokens: hold 128, rest 129, EC2-VAE's layout.)
- **event-based** (:func:`to_event_representation`): MIDI-like events, by
  default 0-127 note-on, 128-255 note-off, 256-355 time-shift of 1-100 units
  and, with ``encode_velocity``, 356-387 velocity bins (32 bins of 4).
- **piano-roll** (:func:`to_pianoroll_representation`): ``(T, 128)`` uint8
  velocities or bool. (MusPy adds one trailing all-zero row; collage does not.)
- **note-based** (:func:`to_note_representation`): ``(N, 4)``
  ``[time, pitch, duration, velocity]`` in MusPy's column order.

Token sequences are 1-d (MusPy returns them as ``(T, 1)`` / ``(M, 1)``).
"""

from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np

from collage.errors import ParameterError
from collage.represent.checks import check_int
from collage.represent.checks import check_notes
from collage.represent.checks import check_velocity

__all__ = [
    "PITCH_REST",
    "PITCH_HOLD",
    "DEFAULT_VELOCITY",
    "to_pitch_representation",
    "from_pitch_representation",
    "to_event_representation",
    "from_event_representation",
    "event_vocab_size",
    "to_pianoroll_representation",
    "from_pianoroll_representation",
    "to_note_representation",
    "from_note_representation",
]

log = logging.getLogger(__name__)

PITCH_REST = 128
PITCH_HOLD = 129
DEFAULT_VELOCITY = 64  # MusPy's default when an encoding carries no velocity


# -- shared checks (used by the other modules of collage.represent) ----------


def _sort_notes(notes: np.ndarray) -> np.ndarray:
    """Sort by onset, pitch, duration, velocity (MusPy's note order)."""
    order = np.lexsort((notes[:, 3], notes[:, 1], notes[:, 2], notes[:, 0]))
    return notes[order]


def _check_tokens(tokens, name: str) -> np.ndarray:
    arr = np.asarray(tokens)
    if arr.ndim == 2 and arr.shape[1] == 1:  # MusPy's (T, 1)
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ParameterError(f"given {name}.shape={arr.shape}; expected (T,) or (T, 1)")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ParameterError(f"given {name} of dtype {arr.dtype}; expected integers")
    return arr.astype(np.int64, copy=False)


# -- pitch-based -------------------------------------------------------------


def to_pitch_representation(notes, *, use_hold_state: bool = False, n_steps: int | None = None) -> np.ndarray:
    """Encode monophonic notes as one token per time step.

    Args:
        notes: ``(N, 4)`` [onset, duration, pitch, velocity], onsets >= 0.
        use_hold_state: the first step of a note is its pitch and the rest
            :data:`PITCH_HOLD`; otherwise every step of a note is its pitch
            (so two touching notes of one pitch become one).
        n_steps: length of the output; default the end of the last note.
            Notes are cut at ``n_steps``.
    Returns:
        ``(T,)`` int64 tokens: 0-127 pitch, 128 rest, 129 hold.

    Overlapping notes are written in MusPy's order (onset, pitch, duration,
    velocity), a later note overwriting an earlier one, as MusPy does; a debug
    message says so. Zero-length notes are skipped. Velocities are lost.
    """
    notes = check_notes(notes)
    n_steps = check_int(n_steps, "n_steps", minimum=0, allow_none=True)
    notes = _sort_notes(notes[notes[:, 1] > 0])
    length = int((notes[:, 0] + notes[:, 1]).max()) if len(notes) else 0
    if n_steps is None:
        n_steps = length
    out = np.full(n_steps, PITCH_REST, dtype=np.int64)
    ends = notes[:, 0] + notes[:, 1]
    if len(notes) > 1 and np.any(notes[1:, 0] < np.maximum.accumulate(ends)[:-1]):
        log.debug("pitch representation of overlapping notes: later notes overwrite earlier ones")
    for on, dur, pitch, _ in notes.tolist():
        if use_hold_state:
            if on < n_steps:
                out[on] = pitch
            out[on + 1 : on + dur] = PITCH_HOLD
        else:
            out[on : on + dur] = pitch
    return out


def from_pitch_representation(tokens, *, use_hold_state: bool = False, velocity: int = DEFAULT_VELOCITY) -> np.ndarray:
    """Decode pitch-based tokens into notes (the inverse of :func:`to_pitch_representation`).

    Args:
        tokens: ``(T,)`` (or MusPy's ``(T, 1)``) ints in 0..129.
        use_hold_state: whether the tokens use :data:`PITCH_HOLD`.
        velocity: velocity of every decoded note.
    Returns:
        ``(N, 4)`` int64 notes sorted by onset then pitch. Without hold states
        a run of one pitch is one note; with them every pitch token starts a
        note (MusPy merges a run of one pitch token into one note, so
        collage's decoder inverts the encoder where MusPy's does not); a hold
        that follows no pitch is ignored (as in MusPy).
    """
    tokens = _check_tokens(tokens, "tokens")
    velocity = check_velocity(velocity)
    top = PITCH_HOLD if use_hold_state else PITCH_REST
    bad = (tokens < 0) | (tokens > top)
    if bad.any():
        raise ParameterError(
            f"given token {int(tokens[bad][0])} at step {int(np.flatnonzero(bad)[0])}; expected 0..{top}"
        )
    if tokens.size == 0:
        return np.zeros((0, 4), dtype=np.int64)
    bounds = np.flatnonzero(np.diff(tokens, prepend=-1, append=-1))
    notes: list[list[int]] = []
    awaiting_hold = False
    for start, end in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        tok = int(tokens[start])
        if tok == PITCH_REST:
            awaiting_hold = False
        elif use_hold_state and tok == PITCH_HOLD:
            if awaiting_hold:
                notes[-1][1] += end - start
            awaiting_hold = False
        elif use_hold_state:
            # every step of a run of one pitch token is a new onset
            for s in range(start, end):
                notes.append([s, 1, tok, velocity])
            awaiting_hold = True
        else:
            notes.append([start, end - start, tok, velocity])
    return np.array(notes, dtype=np.int64).reshape(-1, 4)


# -- event-based -------------------------------------------------------------


def event_vocab_size(
    *, encode_velocity: bool = False, max_time_shift: int = 100, velocity_bins: int = 32,
    use_end_of_sequence_event: bool = False,
) -> int:
    """Number of distinct event codes (388 with velocity, 356 without, +1 for end-of-sequence)."""
    return 256 + max_time_shift + (velocity_bins if encode_velocity else 0) + int(use_end_of_sequence_event)


def to_event_representation(
    notes,
    *,
    encode_velocity: bool = False,
    force_velocity_event: bool = True,
    max_time_shift: int = 100,
    velocity_bins: int = 32,
    use_end_of_sequence_event: bool = False,
) -> np.ndarray:
    """Encode notes as MIDI-like events (MusPy's ``to_event_representation``).

    Codes: ``0..127`` note-on of that pitch; ``128..255`` note-off;
    ``256 + s - 1`` a time shift of ``s`` units (1..``max_time_shift``; longer
    gaps become several shifts); ``256 + max_time_shift + b`` set velocity bin
    ``b = velocity * velocity_bins // 128`` (only with ``encode_velocity``);
    ``256 + max_time_shift + velocity_bins`` end of sequence (only with
    ``use_end_of_sequence_event``).

    Notes are taken in (onset, pitch, duration, velocity) order; each gives
    ``[velocity], note-on`` at its onset and ``note-off`` at its end; events are
    then stably sorted by time (so at one instant note-offs come before
    note-ons). Time starts at 0, so a leading gap is encoded too.

    Args:
        notes: ``(N, 4)`` [onset, duration, pitch, velocity], onsets >= 0.
        encode_velocity: add velocity events.
        force_velocity_event: a velocity event before every note-on; otherwise
            only when the bin changes.
        max_time_shift: the longest single time-shift event, in time units.
        velocity_bins: number of velocity bins.
        use_end_of_sequence_event: append an end-of-sequence event.
    Returns:
        ``(M,)`` int64 event codes.
    """
    notes = _sort_notes(check_notes(notes))
    max_time_shift = check_int(max_time_shift, "max_time_shift", minimum=1)
    velocity_bins = check_int(velocity_bins, "velocity_bins", minimum=1)
    if velocity_bins > 128:
        raise ParameterError(f"given velocity_bins={velocity_bins}; expected 1..128")
    off_shift = 256
    off_vel = off_shift + max_time_shift
    times: list[int] = []
    codes: list[int] = []
    last_bin = -1
    for on, dur, pitch, vel in notes.tolist():
        if encode_velocity:
            vbin = vel * velocity_bins // 128
            if force_velocity_event or vbin != last_bin:
                times.append(on)
                codes.append(off_vel + vbin)
            last_bin = vbin
        times.append(on)
        codes.append(pitch)
        times.append(on + dur)
        codes.append(128 + pitch)
    order = np.argsort(np.asarray(times, dtype=np.int64), kind="stable")
    events: list[int] = []
    cursor = 0
    for i in order.tolist():
        t = times[i]
        if t > cursor:
            div, mod = divmod(t - cursor, max_time_shift)
            events.extend([off_shift + max_time_shift - 1] * div)
            if mod:
                events.append(off_shift + mod - 1)
            cursor = t
        events.append(codes[i])
    if use_end_of_sequence_event:
        events.append(off_vel + velocity_bins)
    return np.asarray(events, dtype=np.int64)


def from_event_representation(
    events,
    *,
    encode_velocity: bool = False,
    max_time_shift: int = 100,
    velocity_bins: int = 32,
    use_end_of_sequence_event: bool = False,
    velocity: int = DEFAULT_VELOCITY,
    duplicate_note_mode: str = "fifo",
) -> np.ndarray:
    """Decode events into notes (the inverse of :func:`to_event_representation`).

    Args:
        events: ``(M,)`` (or MusPy's ``(M, 1)``) event codes.
        encode_velocity, max_time_shift, velocity_bins, use_end_of_sequence_event:
            as used to encode.
        velocity: velocity of notes before any velocity event.
        duplicate_note_mode: which open note of a pitch a note-off closes:
            ``'fifo'`` the earliest, ``'lifo'`` the latest, ``'all'`` all of them.
    Returns:
        ``(N, 4)`` int64 notes sorted by onset, pitch, duration. A velocity
        bin ``b`` decodes to ``int(b * 128 / velocity_bins)`` (so only those
        velocities survive the round trip exactly). Notes never closed are
        dropped (as in MusPy); unknown codes raise ParameterError.
    """
    events = _check_tokens(events, "events")
    velocity = check_velocity(velocity)
    max_time_shift = check_int(max_time_shift, "max_time_shift", minimum=1)
    velocity_bins = check_int(velocity_bins, "velocity_bins", minimum=1)
    mode = str(duplicate_note_mode).lower()
    if mode not in ("fifo", "lifo", "all"):
        raise ParameterError(f"given duplicate_note_mode={duplicate_note_mode!r}; expected 'fifo', 'lifo' or 'all'")
    off_shift = 256
    off_vel = off_shift + max_time_shift
    vocab = event_vocab_size(
        encode_velocity=encode_velocity, max_time_shift=max_time_shift, velocity_bins=velocity_bins,
        use_end_of_sequence_event=use_end_of_sequence_event,
    )
    bad = (events < 0) | (events >= vocab)
    if bad.any():
        raise ParameterError(
            f"given event code {int(events[bad][0])} at index {int(np.flatnonzero(bad)[0])}; expected 0..{vocab - 1}"
        )
    eos = off_vel + velocity_bins if use_end_of_sequence_event else -1
    time = 0
    vel = velocity
    active: dict[int, list[list[int]]] = defaultdict(list)
    notes: list[list[int]] = []
    for ev in events.tolist():
        if ev == eos:
            break
        if ev < 128:
            active[ev].append([time, 0, ev, vel])
        elif ev < 256:
            pitch = ev - 128
            opened = active[pitch]
            if not opened:
                continue
            if mode == "fifo":
                closing = [opened.pop(0)]
            elif mode == "lifo":
                closing = [opened.pop()]
            else:
                closing, active[pitch] = opened, []
            for note in closing:
                note[1] = time - note[0]
                notes.append(note)
        elif ev < off_vel:
            time += ev - off_shift + 1
        else:
            vel = int((ev - off_vel) * 128 / velocity_bins)
    dangling = sum(len(v) for v in active.values())
    if dangling:
        log.debug("event decoding dropped %d notes that were never closed", dangling)
    out = np.array(notes, dtype=np.int64).reshape(-1, 4)
    return _sort_notes(out)


# -- piano-roll --------------------------------------------------------------


def to_pianoroll_representation(notes, *, encode_velocity: bool = True, n_steps: int | None = None) -> np.ndarray:
    """Encode notes as a ``(T, 128)`` piano-roll (MusPy's ``to_pianoroll_representation``).

    Args:
        notes: ``(N, 4)`` [onset, duration, pitch, velocity], onsets >= 0.
        encode_velocity: cells hold the sounding note's velocity (uint8);
            otherwise True where a note with velocity > 0 sounds (bool).
        n_steps: number of rows ``T``; default the end of the last note
            (MusPy adds one more, all-zero row). Notes are cut at ``n_steps``.
    Returns:
        ``(T, 128)`` uint8 or bool. Where notes of one pitch overlap, the one
        later in (onset, pitch, duration, velocity) order wins.
    """
    notes = _sort_notes(check_notes(notes))
    n_steps = check_int(n_steps, "n_steps", minimum=0, allow_none=True)
    if n_steps is None:
        n_steps = int((notes[:, 0] + notes[:, 1]).max()) if len(notes) else 0
    roll = np.zeros((n_steps, 128), dtype=np.uint8 if encode_velocity else bool)
    for on, dur, pitch, vel in notes.tolist():
        roll[on : on + dur, pitch] = vel if encode_velocity else vel > 0
    return roll


def from_pianoroll_representation(roll, *, encode_velocity: bool = True, velocity: int = DEFAULT_VELOCITY) -> np.ndarray:
    """Decode a ``(T, 128)`` piano-roll into notes (the inverse of :func:`to_pianoroll_representation`).

    Each run of nonzero cells in a pitch column is one note; with
    ``encode_velocity`` its velocity is the run's first cell, else
    ``velocity``. Notes of one pitch that touch or overlap therefore merge
    (a piano-roll cannot tell them apart). Returns ``(N, 4)`` int64 sorted by
    onset then pitch.
    """
    roll = np.asarray(roll)
    if roll.ndim != 2 or roll.shape[1] != 128:
        raise ParameterError(f"given roll.shape={roll.shape}; expected (T, 128)")
    velocity = check_velocity(velocity)
    if encode_velocity and roll.size and (roll.min() < 0 or roll.max() > 127):
        raise ParameterError(f"given roll with values in [{roll.min()}, {roll.max()}]; expected velocities 0..127")
    on = roll > 0
    diff = np.diff(on.astype(np.int8), axis=0, prepend=0, append=0).T  # (128, T + 1)
    pitch, start = np.nonzero(diff == 1)  # pitch-major, so starts and ends pair up per pitch
    _, end = np.nonzero(diff == -1)
    vel = roll[start, pitch].astype(np.int64) if encode_velocity else np.full(len(start), velocity, np.int64)
    notes = np.stack([start, end - start, pitch, vel], axis=1).astype(np.int64).reshape(-1, 4)
    return _sort_notes(notes)


# -- note-based --------------------------------------------------------------


def to_note_representation(notes) -> np.ndarray:
    """Reorder collage notes to MusPy's note-based ``(N, 4)`` [time, pitch, duration, velocity].

    Rows are sorted by (time, pitch, duration, velocity), as in MusPy.
    """
    notes = _sort_notes(check_notes(notes, nonneg_onset=False))
    return np.ascontiguousarray(notes[:, [0, 2, 1, 3]])


def from_note_representation(array) -> np.ndarray:
    """MusPy's note-based ``(N, 4)`` [time, pitch, duration, velocity] back to collage notes.

    Returns ``(N, 4)`` int64 [onset, duration, pitch, velocity] sorted by
    onset, pitch, duration, velocity.
    """
    arr = np.asarray(array)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ParameterError(f"given array.shape={arr.shape}; expected (N, 4) [time, pitch, duration, velocity]")
    notes = check_notes(arr[:, [0, 2, 1, 3]], "array", nonneg_onset=False)
    return _sort_notes(notes)

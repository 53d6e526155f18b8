"""Any length on the step grid: bar-rounded lengths, loop/trim, 8-beat windows, and stitching.

The fusion models read 8-beat windows (32 steps of 16th notes). A whole piece
is fused window by window and put back together here:

- **grid** (:func:`to_step_notes`): each input goes on the 16th-note grid of
  its *own* tempo map (``collage.represent.grid.TickGrid``: step = tick /
  tpq * 4), so beat ``i`` of the melody meets beat ``i`` of the
  accompaniment whatever their tempi; the output plays at the melody's tempo.
  A track's length is its last offset rounded up to a whole bar (of its
  first time signature), so that a loop restarts on a downbeat.
- **length mismatch** (:func:`fit_lengths`): ``'loop'`` (the default) repeats
  the shorter input until it is as long as the longer one, so nothing of
  either input is lost; ``'trim'`` cuts the longer one to the shorter one's
  length (notes still sounding are cut at the end).
- **windows** (:func:`plan_windows`): windows of ``length`` steps start every
  ``hop`` steps (default 16 = 4 beats) from step 0 until they cover the piece.
  The last window is padded with silence past the end; whatever is decoded
  there is dropped when the output is trimmed back to the piece's length
  (notes starting at or after the end are removed, notes sounding across it
  are cut at it).
- **stitching** (:func:`stitch`): every step has exactly one *owner* window,
  the one whose centre it is nearest (the boundaries between neighbouring
  windows lie in the middle of their overlap, rounded down to a beat; the
  first window owns from step 0, the last to the end). At each step the output
  is what the owner window says (which notes start there and which sound), so
  no note is ever doubled. At a boundary a note of the same pitch that sounds
  on both sides becomes one note: a note held into the boundary by the
  earlier window and restarted exactly at the boundary by the later one is
  merged, and a note the later window holds across the boundary (having
  started it in the shared part, where the earlier window owns the steps) is
  continued -- or, if the earlier window was silent on that pitch there,
  started at the boundary. A monophonic track therefore stays monophonic.

Window contents are cropped with notes sounding at a window's start entered
at step 0 (as in the training segments,
:func:`collage.represent.segments.crop_all`).

The helpers here work on step notes the pipeline made itself, from tracks already checked
(:class:`collage.piece.Track` checks its notes once) or from the models' decoders; they do not
check the notes again.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from collage.errors import ParameterError
from collage.piece import Piece, Track
from collage.represent.grid import SEGMENT_STEPS, STEPS_PER_BEAT, TickGrid, quantize
from collage.represent.segments import crop_all

__all__ = [
    "FIT_MODES",
    "DUPLE_BEATS_PER_BAR",
    "steps_per_bar",
    "check_metre",
    "mean_qpm",
    "to_step_notes",
    "loop_notes",
    "trim_notes",
    "fit_lengths",
    "WindowPlan",
    "plan_windows",
    "crop_windows",
    "notes_to_rolls",
    "stitch",
    "stitch_notes",
    "steps_to_ticks",
]

log = logging.getLogger(__name__)

FIT_MODES = ("loop", "trim")
DUPLE_BEATS_PER_BAR = (2.0, 4.0)
"""Bar lengths (in quarter-note beats) taken as the models' metre: 2/4, 4/4, 2/2."""


def _steps(notes) -> np.ndarray:
    """The pipeline's own step notes as an ``(N, 4)`` int64 array (no copy when they are one; not re-checked)."""
    return np.asarray(notes, dtype=np.int64).reshape(-1, 4)


def _where(piece: Piece) -> str:
    return f"{piece.source}: " if piece.source else ""


def steps_per_bar(piece: Piece, steps_per_beat: int = STEPS_PER_BEAT) -> int:
    """Steps in one bar of ``piece``'s first time signature (4/4 if none); one beat if not a whole number."""
    if not piece.time_signatures:
        return 4 * steps_per_beat
    ts = piece.time_signatures[0]
    steps = ts.numerator * 4 * steps_per_beat / ts.denominator
    return int(steps) if steps == int(steps) and steps >= 1 else steps_per_beat


def check_metre(piece: Piece, role: str = "input") -> bool:
    """Log a warning unless ``piece`` is in a duple metre (4/4, 2/4, 2/2) throughout; True if it is.

    Other metres are fused as a continuous stream of quarter-note beats cut
    into 8-beat windows, so windows do not line up with their bars (the
    models were trained on 4/4 only).
    """
    odd = [ts for ts in piece.time_signatures if ts.numerator * 4 / ts.denominator not in DUPLE_BEATS_PER_BAR]
    if not odd:
        return True
    ts = odd[0]
    more = f" (and {len(odd) - 1} more non-4/4 changes)" if len(odd) > 1 else ""
    log.warning(
        "%s%s is in %d/%d at tick %d%s; fused as a continuous stream of quarter-note beats in 8-beat windows, "
        "which do not line up with its bars (the models know 4/4)",
        _where(piece), role, ts.numerator, ts.denominator, ts.tick, more,
    )
    return False


def mean_qpm(piece: Piece) -> float:
    """Average tempo over the piece's notes (quarter notes per minute, time-weighted)."""
    end = max(piece.end_tick, 1)
    return float(end / piece.tpq / max(piece.ticks_to_seconds(end), 1e-9) * 60.0)


def to_step_notes(track: Track, piece: Piece, steps_per_beat: int = STEPS_PER_BEAT) -> tuple[np.ndarray, int]:
    """A track's notes on the piece's own tick grid, and the track's length in steps.

    Returns:
        ``(notes, n_steps)``: ``(N, 4)`` int64 step notes [onset, duration,
        pitch, velocity] (step 0 = tick 0) and the last offset rounded up to a
        whole bar (:func:`steps_per_bar`), at least one bar.
    """
    notes = quantize(track.notes, TickGrid.of(piece, steps_per_beat))
    bar = steps_per_bar(piece, steps_per_beat)
    end = int((notes[:, 0] + notes[:, 1]).max()) if len(notes) else 0
    n_steps = max(-(-end // bar), 1) * bar
    return notes, n_steps


def loop_notes(notes, period: int, n_steps: int) -> np.ndarray:
    """Repeat ``notes`` every ``period`` steps up to ``n_steps``; notes crossing ``n_steps`` are cut there.

    Returns:
        ``(M, 4)`` int64 step notes sorted by onset, pitch.
    """
    notes = _steps(notes)
    if int(period) != period or period < 1:
        raise ParameterError(f"given period={period!r}; expected a positive number of steps")
    reps = -(-int(n_steps) // int(period))
    if not len(notes) or reps < 1:
        return np.zeros((0, 4), dtype=np.int64)
    out = np.concatenate([notes + np.array([k * period, 0, 0, 0]) for k in range(reps)])
    return trim_notes(out, n_steps)


def trim_notes(notes, n_steps: int) -> np.ndarray:
    """Notes starting before ``n_steps``, offsets cut at it; sorted by onset, pitch."""
    notes = _steps(notes)
    out = notes[notes[:, 0] < n_steps].copy()
    out[:, 1] = np.maximum(np.minimum(out[:, 0] + out[:, 1], n_steps) - out[:, 0], 1)
    return out[np.lexsort((out[:, 2], out[:, 0]))]


def fit_lengths(mel, n_mel: int, acc, n_acc: int, *, mode: str = "loop") -> tuple[np.ndarray, np.ndarray, int, dict]:
    """Bring the melody and the accompaniment to one length.

    Args:
        mel, acc: ``(N, 4)`` step notes; ``n_mel``, ``n_acc`` their lengths in steps.
        mode: ``'loop'`` repeats the shorter up to the longer's length;
            ``'trim'`` cuts the longer to the shorter's length.
    Returns:
        ``(mel, acc, n_steps, info)`` with ``info`` = ``{"looped": role or
        None, "trimmed": role or None, "loops": repetitions of the looped input}``.
    """
    if mode not in FIT_MODES:
        raise ParameterError(f"given fit={mode!r}; expected one of {', '.join(FIT_MODES)}")
    info = {"looped": None, "trimmed": None, "loops": 1.0}
    if n_mel == n_acc:
        return mel, acc, int(n_mel), info
    short, long_ = ("melody", "accompaniment") if n_mel < n_acc else ("accompaniment", "melody")
    if mode == "loop":
        n = max(n_mel, n_acc)
        if short == "melody":
            mel = loop_notes(mel, n_mel, n)
        else:
            acc = loop_notes(acc, n_acc, n)
        info["looped"] = short
        info["loops"] = n / min(n_mel, n_acc)
    else:
        n = min(n_mel, n_acc)
        if long_ == "melody":
            mel = trim_notes(mel, n)
        else:
            acc = trim_notes(acc, n)
        info["trimmed"] = long_
    return mel, acc, int(n), info


@dataclasses.dataclass(frozen=True)
class WindowPlan:
    """Where the windows lie and which steps each one owns.

    Attributes:
        n_steps: the piece's length in steps (the output is trimmed to it).
        length: window length in steps (32).
        hop: steps between window starts.
        starts: ``(K,)`` int64 window start steps.
        owner_starts: ``(K,)`` int64 first step each window owns (``[0]`` is 0);
            window ``k`` owns ``[owner_starts[k], owner_starts[k + 1])``, the
            last one up to ``padded``.
        padded: ``starts[-1] + length`` (>= ``n_steps``).
    """

    n_steps: int
    length: int
    hop: int
    starts: np.ndarray
    owner_starts: np.ndarray
    padded: int

    @property
    def n_windows(self) -> int:
        return len(self.starts)

    def owner(self) -> np.ndarray:
        """``(padded,)`` int64: the window owning each step."""
        return np.searchsorted(self.owner_starts, np.arange(self.padded), side="right") - 1


def plan_windows(n_steps: int, *, length: int = SEGMENT_STEPS, hop: int = 4 * STEPS_PER_BEAT,
                 steps_per_beat: int = STEPS_PER_BEAT) -> WindowPlan:
    """Windows of ``length`` steps every ``hop`` steps covering ``[0, n_steps)``; see the module doc."""
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 1:
        raise ParameterError(f"given n_steps={n_steps!r}; expected a positive number of steps")
    if isinstance(hop, bool) or int(hop) != hop or not 1 <= hop <= length:
        raise ParameterError(f"given hop={hop!r} steps; expected 1..{length} (window length {length})")
    n_steps, hop, length = int(n_steps), int(hop), int(length)
    k = 1 if n_steps <= length else 1 + -(-(n_steps - length) // hop)
    starts = np.arange(k, dtype=np.int64) * hop
    overlap = length - hop
    cut = overlap // 2 // steps_per_beat * steps_per_beat if overlap >= steps_per_beat else overlap // 2
    owner_starts = np.concatenate([[0], starts[1:] + cut]).astype(np.int64)
    return WindowPlan(n_steps, length, hop, starts, owner_starts, int(starts[-1] + length))


def crop_windows(notes, plan: WindowPlan) -> list[np.ndarray]:
    """The window-relative notes of every window of ``plan`` (a note sounding at a start enters at step 0)."""
    flat, ptr = crop_all(_steps(notes), plan.starts, plan.length, sounding_at_start=True)
    return [flat[ptr[k]:ptr[k + 1]] for k in range(plan.n_windows)]


def notes_to_rolls(windows, length: int = SEGMENT_STEPS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-window onset, frame and velocity rolls of window-relative notes.

    Args:
        windows: K arrays of ``(n_k, 4)`` step notes relative to their window;
            onsets outside ``[0, length)`` are ignored, offsets clipped at ``length``.
    Returns:
        ``(onset, frame, velocity)``: ``(K, length, 128)`` bool, bool, int16
        (the velocity of the note sounding at each cell).
    """
    k = len(windows)
    onset = np.zeros((k, length, 128), dtype=bool)
    frame = np.zeros((k, length, 128), dtype=bool)
    vel = np.zeros((k, length, 128), dtype=np.int16)
    for w, notes in enumerate(windows):
        for on, dur, p, v in _steps(notes).tolist():
            if not 0 <= on < length:
                continue
            off = min(on + max(dur, 1), length)
            onset[w, on, p] = True
            frame[w, on:off, p] = True
            vel[w, on:off, p] = v
    return onset, frame, vel


def stitch(onset, frame, velocity, plan: WindowPlan) -> np.ndarray:
    """Put per-window rolls back together as notes of the whole piece (see the module doc).

    Args:
        onset, frame: ``(K, length, 128)`` bool rolls of the windows of ``plan``.
        velocity: ``(K, length, 128)`` ints, the velocity of the note sounding at each cell.
        plan: the :class:`WindowPlan` the windows came from.
    Returns:
        ``(N, 4)`` int64 step notes in ``[0, plan.n_steps)``, sorted by onset, pitch.
    """
    onset = np.asarray(onset, dtype=bool)
    frame = np.asarray(frame, dtype=bool)
    velocity = np.asarray(velocity)
    shape = (plan.n_windows, plan.length, 128)
    for name, a in (("onset", onset), ("frame", frame), ("velocity", velocity)):
        if a.shape != shape:
            raise ParameterError(f"given {name}.shape={a.shape}; expected {shape} for this window plan")
    frame = frame | onset
    owner = plan.owner()  # (P,)
    rel = np.arange(plan.padded) - plan.starts[owner]
    g_on = onset[owner, rel].copy()  # (P, 128)
    g_fr = frame[owner, rel].copy()
    g_vel = velocity[owner, rel].astype(np.int64)
    for k in range(1, plan.n_windows):
        b = int(plan.owner_starts[k])
        prev = k - 1
        t_prev = b - int(plan.starts[prev])  # the boundary in the earlier window's frame
        if b <= 0 or b >= plan.padded:
            continue
        if t_prev < plan.length:  # the earlier window holds the note through the boundary
            held = frame[prev, t_prev] & ~onset[prev, t_prev] & g_fr[b - 1]
        else:  # no overlap: it holds the note up to its last step
            held = frame[prev, plan.length - 1] & g_fr[b - 1]
        merge = g_on[b] & held
        g_on[b] &= ~merge
        g_vel[b, merge] = g_vel[b - 1, merge]
    # a sounding cell with nothing sounding before it and no onset starts a note (a hold carried over a boundary)
    prev_fr = np.zeros_like(g_fr)
    prev_fr[1:] = g_fr[:-1]
    g_on |= g_fr & ~prev_fr
    return _rolls_to_notes(g_on[: plan.n_steps], g_fr[: plan.n_steps], g_vel[: plan.n_steps])


def _rolls_to_notes(on: np.ndarray, fr: np.ndarray, vel: np.ndarray) -> np.ndarray:
    """Notes from global ``(T, 128)`` onset/frame rolls: a note runs from an onset until the frame stops or restarts."""
    t_max = len(on)
    brk = ~fr | on  # a note ends before the first such cell after its onset
    rows = []
    for p in np.flatnonzero(on.any(axis=0)):
        starts = np.flatnonzero(on[:, p])
        breaks = np.append(np.flatnonzero(brk[:, p]), t_max)
        ends = breaks[np.searchsorted(breaks, starts, side="right")]
        v = np.clip(vel[starts, p], 1, 127)
        rows.append(np.stack([starts, ends - starts, np.full(len(starts), p), v], axis=1))
    if not rows:
        return np.zeros((0, 4), dtype=np.int64)
    out = np.concatenate(rows).astype(np.int64)
    return out[np.lexsort((out[:, 2], out[:, 0]))]


def stitch_notes(windows, plan: WindowPlan) -> np.ndarray:
    """:func:`stitch` of window-relative note lists (one ``(n_k, 4)`` array per window)."""
    if len(windows) != plan.n_windows:
        raise ParameterError(f"given {len(windows)} windows; the plan has {plan.n_windows}")
    return stitch(*notes_to_rolls(windows, plan.length), plan)


def steps_to_ticks(notes, tpq: int, steps_per_beat: int = STEPS_PER_BEAT) -> np.ndarray:
    """Step notes -> tick notes at ``tpq`` ticks per quarter note (durations at least 1 tick)."""
    notes = _steps(notes).copy()
    grid = TickGrid(int(tpq), steps_per_beat)
    on = grid.to_ticks(notes[:, 0])
    off = grid.to_ticks(notes[:, 0] + notes[:, 1])
    notes[:, 0] = on
    notes[:, 1] = np.maximum(off - on, 1)
    return notes

"""The step grid: time in steps, ``steps_per_beat`` steps to a quarter-note beat.

Two ways to lay the grid over a piece:

- :class:`TickGrid` uses the file's own tick resolution
  (``step = round(tick / tpq * steps_per_beat)``): right whenever the MIDI
  file was written on its metre, as most are.
- :class:`BeatGrid` divides each annotated beat (times in seconds, e.g.
  POP909's ``beat_midi.txt``) into equal steps: right when the file's ticks
  drift from the music's beats, as they do in POP909.

:func:`quantize` puts notes on either grid.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from collage.errors import ParameterError
from collage.piece import DURATION, ONSET, Piece

__all__ = ["TickGrid", "BeatGrid", "quantize", "STEPS_PER_BEAT", "SEGMENT_BEATS", "SEGMENT_STEPS"]

STEPS_PER_BEAT = 4  # 16th notes
SEGMENT_BEATS = 8  # two 4/4 bars
SEGMENT_STEPS = SEGMENT_BEATS * STEPS_PER_BEAT  # 32


def _check_spb(steps_per_beat: int) -> int:
    if int(steps_per_beat) != steps_per_beat or steps_per_beat < 1:
        raise ParameterError(f"given steps_per_beat={steps_per_beat!r}; expected a positive integer")
    return int(steps_per_beat)


@dataclasses.dataclass(frozen=True)
class TickGrid:
    """Steps from ticks: ``step = tick / tpq * steps_per_beat``."""

    tpq: int
    steps_per_beat: int = STEPS_PER_BEAT

    def __post_init__(self):
        _check_spb(self.steps_per_beat)
        if self.tpq <= 0:
            raise ParameterError(f"given tpq={self.tpq}; expected > 0")

    @classmethod
    def of(cls, piece: Piece, steps_per_beat: int = STEPS_PER_BEAT) -> "TickGrid":
        return cls(piece.tpq, steps_per_beat)

    def to_steps(self, ticks) -> np.ndarray:
        """Fractional step positions of ``ticks`` (any shape), float64."""
        return np.asarray(ticks, dtype=np.float64) / self.tpq * self.steps_per_beat

    def to_ticks(self, steps) -> np.ndarray:
        """Tick positions of (fractional) ``steps``, rounded to int64."""
        return np.round(np.asarray(steps, dtype=np.float64) * self.tpq / self.steps_per_beat).astype(np.int64)


@dataclasses.dataclass(frozen=True)
class BeatGrid:
    """Steps from annotated beats: beat ``i`` (at ``beat_ticks[i]``) is step ``i * steps_per_beat``.

    Positions between beats are interpolated linearly in ticks; before the first
    and after the last beat the neighbouring beat length is extrapolated.
    ``beat_ticks`` must be strictly increasing (at least two beats).
    """

    beat_ticks: np.ndarray
    steps_per_beat: int = STEPS_PER_BEAT

    def __post_init__(self):
        _check_spb(self.steps_per_beat)
        bt = np.asarray(self.beat_ticks, dtype=np.float64)
        if bt.ndim != 1 or len(bt) < 2 or np.any(np.diff(bt) <= 0):
            raise ParameterError("beat_ticks must be a strictly increasing 1-d array of at least 2 beats")
        object.__setattr__(self, "beat_ticks", bt)

    @classmethod
    def from_seconds(cls, piece: Piece, beat_times_s, steps_per_beat: int = STEPS_PER_BEAT) -> "BeatGrid":
        """A grid from beat times in seconds, mapped to ticks through ``piece``'s tempo map."""
        return cls(piece.seconds_to_ticks(np.asarray(beat_times_s, dtype=np.float64)), steps_per_beat)

    def to_steps(self, ticks) -> np.ndarray:
        t = np.asarray(ticks, dtype=np.float64)
        bt = self.beat_ticks
        idx = np.arange(len(bt), dtype=np.float64)
        beats = np.interp(t, bt, idx)
        lo, hi = t < bt[0], t > bt[-1]
        beats = np.where(lo, (t - bt[0]) / (bt[1] - bt[0]), beats)
        beats = np.where(hi, len(bt) - 1 + (t - bt[-1]) / (bt[-1] - bt[-2]), beats)
        return beats * self.steps_per_beat

    def to_ticks(self, steps) -> np.ndarray:
        beats = np.asarray(steps, dtype=np.float64) / self.steps_per_beat
        bt = self.beat_ticks
        n = len(bt)
        ticks = np.interp(beats, np.arange(n), bt)
        ticks = np.where(beats < 0, bt[0] + beats * (bt[1] - bt[0]), ticks)
        ticks = np.where(beats > n - 1, bt[-1] + (beats - n + 1) * (bt[-1] - bt[-2]), ticks)
        return np.round(ticks).astype(np.int64)


def quantize(notes: np.ndarray, grid: TickGrid | BeatGrid) -> np.ndarray:
    """Put tick notes on the step grid.

    Args:
        notes: ``(N, 4)`` [onset, duration, pitch, velocity] in ticks.
        grid: a :class:`TickGrid` or :class:`BeatGrid`.
    Returns:
        ``(N, 4)`` int64 [onset, duration, pitch, velocity] in steps; onset and
        offset are rounded to the nearest step and every duration is at least 1.
    """
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, 4)
    on = np.round(grid.to_steps(notes[:, ONSET])).astype(np.int64)
    off = np.round(grid.to_steps(notes[:, ONSET] + notes[:, DURATION])).astype(np.int64)
    out = notes.copy()
    out[:, ONSET] = on
    out[:, DURATION] = np.maximum(off - on, 1)
    order = np.lexsort((out[:, 2], out[:, 0]))
    return out[order]

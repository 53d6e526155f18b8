"""Argument checks shared by the representation modules (one place, one message style)."""

from __future__ import annotations

import math

import numpy as np

from collage.errors import ParameterError

__all__ = ["check_notes", "check_int", "check_unit_interval", "check_velocity"]


def check_notes(notes, name: str = "notes", *, nonneg_onset: bool = True) -> np.ndarray:
    """``notes`` as an ``(N, 4)`` int64 array, validated; a copy is not guaranteed."""
    arr = np.asarray(notes)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ParameterError(
            f"given {name}.shape={arr.shape}; expected (N, 4) [onset, duration, pitch, velocity]"
        )
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ParameterError(f"given {name} of dtype {arr.dtype} with non-integer values; expected integers")
    arr = arr.astype(np.int64, copy=False)
    bad = (arr[:, 2] < 0) | (arr[:, 2] > 127)
    if bad.any():
        raise ParameterError(f"given {name} with pitch {int(arr[bad, 2][0])}; expected 0..127")
    bad = arr[:, 1] < 0
    if bad.any():
        raise ParameterError(f"given {name} with duration {int(arr[bad, 1][0])}; expected >= 0")
    bad = (arr[:, 3] < 0) | (arr[:, 3] > 127)
    if bad.any():
        raise ParameterError(f"given {name} with velocity {int(arr[bad, 3][0])}; expected 0..127")
    if nonneg_onset and (arr[:, 0] < 0).any():
        raise ParameterError(f"given {name} with onset {int(arr[:, 0].min())}; expected >= 0")
    return arr


def check_int(value, name: str, *, minimum: int | None = None, maximum: int | None = None,
              allow_none: bool = False):
    """``value`` as an int within ``minimum..maximum`` (each bound optional); a float, bool or string
    is refused. ``None`` passes through when ``allow_none``."""
    if value is None and allow_none:
        return None
    if minimum is None:
        want = "an integer" if maximum is None else f"an integer <= {maximum}"
    else:
        want = f"an integer >= {minimum}" if maximum is None else f"an integer in {minimum}..{maximum}"
    if (isinstance(value, bool) or not isinstance(value, (int, np.integer))
            or (minimum is not None and value < minimum) or (maximum is not None and value > maximum)):
        raise ParameterError(f"given {name}={value!r}; expected {want}")
    return int(value)


def check_velocity(velocity) -> int:
    velocity = check_int(velocity, "velocity", minimum=0)
    if velocity > 127:
        raise ParameterError(f"given velocity={velocity}; expected 0..127")
    return velocity


def check_unit_interval(value, label: str) -> float:
    """``value`` as a finite float in [0, 1]; ``label`` names it in the error (``"keep_pitch=2"``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"given {label}; expected a number in [0, 1]") from None
    if isinstance(value, bool) or not math.isfinite(v) or not 0.0 <= v <= 1.0:
        raise ParameterError(f"given {label}; expected a number in [0, 1]")
    return v

"""Argument checks shared by the representation modules (one place, one message style).

:func:`check_notes` is the one note validator (:func:`collage.piece.check_notes`, re-exported here).
"""

from __future__ import annotations

import math

import numpy as np

from collage.errors import ParameterError
from collage.piece import check_notes

__all__ = ["check_notes", "check_int", "check_unit_interval", "check_velocity"]


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

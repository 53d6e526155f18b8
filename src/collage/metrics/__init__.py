"""Objective metrics, one module per family.

Each family follows mir_eval: ``validate``, small pure functions over arrays,
and ``evaluate`` returning a dict; empty input warns and returns a defined
value.

- :mod:`collage.metrics.piece`: MusPy's objective metrics for a whole piece
  (pitch range and counts, polyphony, scale, entropy, empty beats/measures,
  drum pattern, groove).
"""

from __future__ import annotations

from collage.metrics import piece
from collage.metrics.piece import EmptyInputWarning

__all__ = ["piece", "EmptyInputWarning"]
from collage.metrics import harmony  # noqa: E402,F401  (melody/accompaniment harmony statistics)

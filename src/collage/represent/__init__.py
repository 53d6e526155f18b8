"""Representations on the step grid (4 steps to a quarter-note beat by default).

- :mod:`~collage.represent.grid`: :class:`TickGrid`, :class:`BeatGrid`, :func:`quantize`
  (tick notes -> step notes ``(N, 4)`` [onset, duration, pitch, velocity]).
- :mod:`~collage.represent.segments`: fixed-length windows and crops.
- :mod:`~collage.represent.melody`: the ``(32, 130)`` melody one-hot.
- :mod:`~collage.represent.accompaniment`: piano-rolls, PolyDis' duration matrix and piano-tree.
- :mod:`~collage.represent.chord`: Harte labels, ``(n_beats, 36)`` chord tracks, the chord estimator.
- :mod:`~collage.represent.encodings`: MusPy's pitch-, event-, piano-roll- and note-based encodings.
- :mod:`~collage.represent.transpose`: transposition of notes, rolls and chord vectors.
"""

from __future__ import annotations

from collage.represent import accompaniment, chord, encodings, grid, melody, segments, transpose
from collage.represent.accompaniment import *  # noqa: F401,F403
from collage.represent.chord import *  # noqa: F401,F403
from collage.represent.encodings import *  # noqa: F401,F403
from collage.represent.grid import *  # noqa: F401,F403
from collage.represent.melody import *  # noqa: F401,F403
from collage.represent.segments import *  # noqa: F401,F403
from collage.represent.transpose import *  # noqa: F401,F403

__all__ = [
    *grid.__all__,
    *segments.__all__,
    *melody.__all__,
    *accompaniment.__all__,
    *chord.__all__,
    *encodings.__all__,
    *transpose.__all__,
]

"""Fixtures for the arrange tests: a hand-built four-part chorale and tiny random models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from collage.piece import Piece, Tempo, TimeSignature, Track

torch.set_num_threads(1)

Q = 480  # ticks per quarter note


@pytest.fixture
def chorale() -> Piece:
    """Two 4/4 bars, four parts in their usual ranges; the alto enters one beat late.

    Soprano: C5 D5 E5 F5 | G5 (whole)       Alto:  - A4 G4 A4 | B4 (whole)
    Tenor:   E4 F4 G4 A4 | D4 (half) E4 (8th) F4 (8th) .    Bass: C3 (whole) | G2 (whole)
    """
    def part(events):
        return np.array([[on * Q // 2, dur * Q // 2, p, 80] for on, dur, p in events])

    s = part([(0, 2, 72), (2, 2, 74), (4, 2, 76), (6, 2, 77), (8, 8, 79)])
    a = part([(2, 2, 69), (4, 2, 67), (6, 2, 69), (8, 8, 71)])
    t = part([(0, 2, 64), (2, 2, 65), (4, 2, 67), (6, 2, 69), (8, 4, 62), (12, 1, 64), (13, 1, 65)])
    b = part([(0, 8, 48), (8, 8, 43)])
    return Piece(
        [Track(s, name="Soprano", program=52), Track(a, name="Alto"), Track(t, name="Tenor"), Track(b, name="Bass")],
        tpq=Q, tempos=[Tempo(0, 90.0)], time_signatures=[TimeSignature(0, 4, 4)],
    )

"""Shared fixtures: tiny pieces built in code, and the POP909 location.

Tests that need POP909 use the ``pop909_root`` fixture: it finds the data at
``$COLLAGE_POP909`` or ``../shared/data/pop909`` beside the repository and
skips with a reason when neither exists.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from collage.piece import Piece, Tempo, TimeSignature, Track

REPO = Path(__file__).resolve().parents[1]


def _find_pop909() -> Path | None:
    for cand in (os.environ.get("COLLAGE_POP909"), REPO.parent / "shared" / "data" / "pop909"):
        if cand and (Path(cand) / "index.csv").exists():
            return Path(cand)
    return None


@pytest.fixture(scope="session")
def pop909_root() -> Path:
    root = _find_pop909()
    if root is None:
        pytest.skip("POP909 not found: set COLLAGE_POP909 or put it at ../shared/data/pop909")
    return root


@pytest.fixture
def two_track_piece() -> Piece:
    """Two 4/4 bars at 100 qpm, tpq 480: a C-major melody over a C-F chord accompaniment."""
    q = 480
    mel = [[i * q, q, p, 90] for i, p in enumerate([60, 62, 64, 65, 67, 65, 64, 62])]
    acc = [[0, 4 * q, p, 70] for p in (48, 52, 55)] + [[4 * q, 4 * q, p, 70] for p in (53, 57, 60)]
    return Piece(
        [Track(np.array(mel), name="MELODY"), Track(np.array(acc), name="PIANO")],
        tpq=q,
        tempos=[Tempo(0, 100.0)],
        time_signatures=[TimeSignature(0, 4, 4)],
    )

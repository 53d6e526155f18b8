"""Notes are checked where they enter, not again on their way through `fuse`.

`fuse` takes pieces: their tracks check their notes once (`collage.piece.Track`). Before
the note validators were merged, one 10-bar `fuse` call (9 windows) ran a note check 60
times (41 with the rule method), the fused melody alone once per window and twice more;
now the count is a handful and does not grow with the number of windows.
"""

import sys

import numpy as np
import pytest

import collage.piece
from collage.errors import ParameterError
from collage.fusion.vertical import fuse, fuse_windows

from .test_vertical import accomp_rows, identity_models, melody_rows, piece

MAX_CHECKS = 7  # 2 input tracks picked + 2 output tracks + skyline, transposition, chord estimate


@pytest.fixture
def count_checks(monkeypatch):
    """Counts calls of the one note validator, wherever a module imported it from."""
    calls = []
    original = collage.piece.check_notes

    def counted(*args, **kwargs):
        calls.append(kwargs.get("name", args[1] if len(args) > 1 else "notes"))
        return original(*args, **kwargs)

    for name, module in list(sys.modules.items()):
        if name.startswith("collage") and getattr(module, "check_notes", None) is original:
            monkeypatch.setattr(module, "check_notes", counted)
    return calls


@pytest.mark.parametrize("method", ["collagenet", "rule"])
def test_checks_per_fuse_do_not_grow_with_the_windows(count_checks, method):
    counts = []
    for bars in (10, 30):
        mel, acc = piece(melody_rows(bars), name="MELODY"), piece(accomp_rows(bars), name="PIANO")
        count_checks.clear()
        r = fuse(mel, acc, method=method, models=identity_models() if method == "collagenet" else None)
        counts.append(len(count_checks))
        assert r.n_windows > 8
    assert counts[0] == counts[1] <= MAX_CHECKS, counts


def test_fuse_windows_checks_its_windows_once_and_quotes_the_bad_value(count_checks):
    good = np.array([[0, 4, 60, 90], [4, 4, 62, 90]])
    fuse_windows([good, good], [good, good], method="rule")
    assert len(count_checks) == 4
    with pytest.raises(ParameterError, match=r"mel_windows\[1\]\[0, 2\]=130 \(pitch\); expected 0\.\.127"):
        fuse_windows([good, np.array([[0, 4, 130, 90]])], [good, good], method="rule")

"""collage.metrics.notes.note_f1: matched notes within onset/offset tolerances (beats)."""

import numpy as np
import pytest

from collage.errors import ParameterError
from collage.metrics.notes import note_f1
from collage.metrics.piece import EmptyInputWarning

REF = np.array([[0, 1, 60], [1, 0.5, 62], [1.5, 0.5, 64], [2, 2, 65]])


def test_tolerances_are_inclusive_and_in_beats():
    est = REF.copy()
    est[1, 0] += 0.125  # onset 1/8 beat late, offset unchanged: still a match
    est[1, 1] -= 0.125
    assert note_f1(REF, est)["f1"] == 1.0
    est[2, 1] += 0.25  # offset 1/4 beat late: no match with offsets, a match without
    r = note_f1(REF, est)
    assert (r["matched"], r["precision"], r["recall"]) == (3, 0.75, 0.75)
    assert note_f1(REF, est, offset_tolerance=None)["f1"] == 1.0


def test_pitch_must_be_equal_and_each_note_matches_once():
    est = np.concatenate([REF, REF[:1]])  # a doubled note matches once
    r = note_f1(REF, est)
    assert r["matched"] == 4 and r["precision"] == 0.8 and r["recall"] == 1.0
    wrong = REF.copy()
    wrong[:, 2] += 1
    assert note_f1(REF, wrong)["f1"] == 0.0


def test_empty_and_bad_input():
    assert note_f1(np.zeros((0, 3)), np.zeros((0, 3)))["f1"] == 1.0
    with pytest.warns(EmptyInputWarning):
        assert note_f1(REF, np.zeros((0, 3)))["f1"] == 0.0
    with pytest.raises(ParameterError, match="duration"):
        note_f1(REF, [[0, 0, 60]])
    with pytest.raises(ParameterError, match="shape"):
        note_f1(REF, [1, 2, 3])

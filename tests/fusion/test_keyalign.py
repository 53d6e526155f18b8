"""Key pre-alignment: the interval that brings the accompaniment to the melody's key."""

import numpy as np
import pytest

from collage import examples
from collage.errors import ParameterError
from collage.fusion.keyalign import best_shift, key_correlations, pitch_class_profile, shift_scores
from collage.represent.transpose import transpose_notes

C_MAJOR_SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


def scale_notes(pitches, dur=4):
    return np.array([[i * dur, dur, p, 80] for i, p in enumerate(pitches)])


def chords(root_pcs, base=48):
    rows = []
    for i, r in enumerate(root_pcs):
        for iv in (0, 4, 7):
            rows.append([i * 16, 16, base + r + iv, 70])
    return np.array(rows)


def test_profile_is_duration_weighted_and_normalised():
    p = pitch_class_profile(np.array([[0, 3, 60, 80], [3, 1, 62, 80], [4, 4, 72, 80]]))
    assert p.sum() == pytest.approx(1.0)
    assert p[0] == pytest.approx(7 / 8) and p[2] == pytest.approx(1 / 8)
    assert pitch_class_profile(np.zeros((0, 4))).tolist() == [0.0] * 12


@pytest.mark.parametrize("method", ["mixed", "key", "profile"])
@pytest.mark.parametrize("true_shift", [-5, -2, 0, 3, 6])
def test_recovers_a_transposition_of_matching_material(method, true_shift):
    mel = scale_notes(C_MAJOR_SCALE * 2 + [67, 64, 60])
    acc = chords([0, 9, 5, 7, 0, 5, 7, 0])  # I vi IV V I IV V I in C
    moved = transpose_notes(acc, true_shift)
    k, scores = best_shift(mel, moved, method=method)
    assert (k - (-true_shift)) % 12 == 0
    assert set(scores) == set(range(-6, 7))
    if abs(true_shift) == 6:
        assert k == -6  # ties between -6 and +6 go down


def test_bundled_example_goes_to_d_major():
    mel = examples.load("melody").tracks[0].notes  # Ode to Joy, D major
    acc = examples.load("accompaniment").tracks[0].notes  # C major
    assert best_shift(mel, acc)[0] == 2
    assert best_shift(mel, acc, method="key")[0] == 2
    assert best_shift(mel, acc, method="profile")[0] == -3  # why the default mixes in the key rule


def test_key_correlations_find_the_key():
    kc = key_correlations(pitch_class_profile(scale_notes([62, 64, 66, 67, 69, 71, 73, 74, 62, 66, 69])))
    assert np.unravel_index(kc.argmax(), kc.shape) == (0, 2)  # D major


def test_edge_cases():
    mel = scale_notes(C_MAJOR_SCALE)
    assert best_shift(mel, np.zeros((0, 4)))[0] == 0
    assert best_shift(np.zeros((0, 4)), chords([0]))[0] == 0
    # a shift that would leave 0..127 is passed over
    high = np.array([[0, 16, 126, 70], [0, 16, 122, 70], [0, 16, 119, 70]])  # D major triad at the top
    k, _ = best_shift(scale_notes([60, 64, 67]), high)  # C major melody: -2 fits
    assert 0 <= 119 + k and 126 + k <= 127
    with pytest.raises(ParameterError, match="given max_shift=12"):
        shift_scores(mel, mel, max_shift=12)
    with pytest.raises(ParameterError, match="given method='krumhansl'"):
        best_shift(mel, mel, method="krumhansl")

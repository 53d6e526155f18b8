"""Accompaniment: piano-rolls, PolyDis duration matrix and piano-tree, and their inverses."""

import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collage.errors import ParameterError
from collage.represent.accompaniment import (
    PIANOTREE_PAD,
    durmat,
    durmat_to_notes,
    durmat_to_pianotree,
    pianoroll,
    pianotree,
    pianotree_to_durmat,
    pianotree_to_notes,
)
from collage.represent.encodings import from_pianoroll_representation


def _sorted(notes):
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, 4)
    return notes[np.lexsort((notes[:, 1], notes[:, 2], notes[:, 0]))]


@st.composite
def window_notes(draw, n_steps=32, max_notes=16, max_dur=32, unique_cells=False):
    """Step notes starting in [0, n_steps) that fit a piano-tree: <= max_notes onsets a step, dur <= max_dur."""
    rows = draw(
        st.lists(st.tuples(st.integers(0, n_steps - 1), st.integers(1, max_dur), st.integers(0, 127)), max_size=60)
    )
    per_step: dict[int, int] = {}
    seen, out = set(), []
    for on, dur, pitch in rows:
        if per_step.get(on, 0) >= max_notes or (unique_cells and (on, pitch) in seen):
            continue
        per_step[on] = per_step.get(on, 0) + 1
        seen.add((on, pitch))
        out.append([on, dur, pitch, 64])
    return _sorted(out)


@settings(max_examples=80, deadline=None)
@given(window_notes(), st.integers(-50, 50))
def test_pianotree_roundtrip(notes, start):
    shifted = notes.copy()
    shifted[:, 0] += start
    tree = pianotree(shifted, 32, start=start)
    assert tree.shape == (32, 16, 2) and tree.dtype == np.int64
    used = tree[..., 0] >= 0
    # slots fill from the left, pitches ascending, pads in both columns
    assert np.all(used[:, :-1] >= used[:, 1:])
    assert np.all((tree[..., 1] == PIANOTREE_PAD) == ~used)
    p = np.where(used, tree[..., 0], 999)
    assert np.all(np.diff(p, axis=1) >= 0)
    np.testing.assert_array_equal(pianotree_to_notes(tree, start=start), _sorted(shifted))


@settings(max_examples=80, deadline=None)
@given(window_notes(unique_cells=True), st.integers(-50, 50))
def test_durmat_roundtrip(notes, start):
    shifted = notes.copy()
    shifted[:, 0] += start
    mat = durmat(shifted, 32, start=start)
    assert mat.shape == (32, 128) and mat.sum() == notes[:, 1].sum()
    np.testing.assert_array_equal(durmat_to_notes(mat, start=start), _sorted(shifted))
    tree = durmat_to_pianotree(mat)
    np.testing.assert_array_equal(pianotree_to_durmat(tree), mat)


def test_pianotree_by_hand_and_limits(caplog):
    notes = np.array([[0, 4, 64, 80], [0, 2, 60, 80], [0, 40, 67, 80], [2, 1, 72, 80], [-1, 8, 48, 80], [32, 1, 50, 80]])
    with caplog.at_level(logging.WARNING):
        tree = pianotree(notes, 32, max_notes=2)
    assert tree[0].tolist() == [[60, 1], [64, 3]]  # the third onset (67) is dropped: only 2 slots
    assert tree[2].tolist() == [[72, 0], [PIANOTREE_PAD, PIANOTREE_PAD]]
    assert (tree[[1] + list(range(3, 32)), :, 0] == PIANOTREE_PAD).all()  # 48 starts before, 50 after the window
    assert "dropped 1 notes beyond max_notes=2" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        tree = pianotree(notes, 32)
    assert tree[0, 2].tolist() == [67, 31] and "clipped 1 durations" in caplog.text


def test_pianoroll_modes():
    notes = np.array([[0, 4, 60, 127], [2, 6, 64, 64], [-2, 4, 48, 100], [6, 4, 67, 100]])
    frame = pianoroll(notes, 8)
    assert frame.shape == (8, 128) and frame.dtype == np.float32
    assert frame[:, 60].tolist() == [1, 1, 1, 1, 0, 0, 0, 0]
    assert frame[:, 48].tolist() == [1, 1, 0, 0, 0, 0, 0, 0]  # started before the window, still sounding
    assert frame[:, 67].tolist() == [0] * 6 + [1, 1]  # cut at the window's end
    onset = pianoroll(notes, 8, mode="onset")
    assert onset.sum() == 3 and onset[0, 60] == onset[2, 64] == onset[6, 67] == 1
    vel = pianoroll(notes, 8, start=2, velocity=True)
    assert vel[0, 64] == pytest.approx(64 / 127) and vel[0, 60] == 1.0
    # a frame roll and its notes agree with the MusPy-style decoder where notes do not touch
    back = from_pianoroll_representation((frame > 0).astype(np.uint8) * 64)
    assert back[:, [1, 2]].tolist() == [[2, 48], [4, 60], [6, 64], [2, 67]]


def test_bad_arguments():
    with pytest.raises(ParameterError, match="mode='offset'"):
        pianoroll(np.zeros((0, 4)), 8, mode="offset")
    with pytest.raises(ParameterError, match=r"tree.shape=\(32, 16\)"):
        pianotree_to_notes(np.zeros((32, 16)))
    with pytest.raises(ParameterError, match=r"mat.shape=\(32, 12\)"):
        durmat_to_notes(np.zeros((32, 12), int))
    with pytest.raises(ParameterError, match=r"step_notes.shape=\(2, 3\)"):
        pianotree(np.zeros((2, 3)), 32)
    with pytest.raises(ParameterError, match="n_steps=-1"):
        durmat(np.zeros((0, 4)), -1)


def test_empty_window():
    assert (pianotree(np.zeros((0, 4)), 4) == PIANOTREE_PAD).all()
    assert pianotree_to_notes(pianotree(np.zeros((0, 4)), 4)).shape == (0, 4)
    assert durmat_to_notes(durmat(np.zeros((0, 4)), 4)).shape == (0, 4)
    assert pianoroll(np.zeros((0, 4)), 0).shape == (0, 128)

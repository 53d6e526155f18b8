"""Melody tokens, skyline and windows: invariants and inverses."""

import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collage.errors import ParameterError
from collage.represent.melody import (
    HOLD,
    REST,
    melody_onehot,
    melody_tokens,
    onehot_to_tokens,
    rhythm_states,
    skyline,
    tokens_to_notes,
)
from collage.represent.segments import crop, crop_all, reassemble, segment, window_starts

note_lists = st.lists(
    st.tuples(st.integers(0, 150), st.integers(1, 40), st.integers(0, 127), st.integers(1, 127)), max_size=40
).map(lambda rows: np.array(rows, dtype=np.int64).reshape(-1, 4))


def naive_crop(notes, s, length, sounding):
    rows = []
    for o, d, p, v in notes:
        f = o + d
        if s <= o < s + length:
            rows.append((o - s, min(f, s + length) - o, p, v))
        elif sounding and o < s < f:
            rows.append((0, min(f, s + length) - s, p, v))
    rows.sort(key=lambda r: (r[0], r[2]))
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


@settings(max_examples=60, deadline=None)
@given(note_lists, st.booleans())
def test_crop_all_matches_naive(notes, sounding):
    starts = window_starts(200, length=32, stride=4)
    out, ptr = crop_all(notes, starts, 32, sounding_at_start=sounding)
    assert ptr[0] == 0 and ptr[-1] == len(out)
    for k, s in enumerate(starts):
        np.testing.assert_array_equal(out[ptr[k] : ptr[k + 1]], naive_crop(notes, s, 32, sounding))
    assert np.all((out[:, 0] >= 0) & (out[:, 0] < 32) & (out[:, 0] + out[:, 1] <= 32))


def test_crop_enters_sounding_note_at_step_zero():
    notes = np.array([[28, 8, 60, 90], [33, 2, 62, 90]])
    np.testing.assert_array_equal(crop(notes, 32), [[0, 4, 60, 90], [1, 2, 62, 90]])
    np.testing.assert_array_equal(crop(notes, 32, sounding_at_start=False), [[1, 2, 62, 90]])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 12), st.integers(1, 8), st.sampled_from([(), (3,), (2, 5)]))
def test_segment_reassemble_identity(k, stride, tail):
    length = 32
    stride = min(stride * 4, length)
    x = np.random.default_rng(k).integers(0, 130, size=(length + k * stride,) + tail)
    segs = segment(x, length=length, stride=stride)
    assert segs.shape == (k + 1, length) + tail
    np.testing.assert_array_equal(reassemble(segs, stride=stride), x)


def test_window_starts():
    np.testing.assert_array_equal(window_starts(40, length=32, stride=4), [0, 4, 8])
    assert len(window_starts(31)) == 0
    with pytest.raises(ParameterError, match="stride=0"):
        window_starts(40, stride=0)


def test_skyline_keeps_highest_and_cuts(caplog):
    notes = np.array([[0, 8, 60, 90], [0, 8, 67, 90], [4, 4, 62, 90]])
    with caplog.at_level(logging.WARNING):
        out = skyline(notes, source="x.mid")
    np.testing.assert_array_equal(out, [[0, 4, 67, 90], [4, 4, 62, 90]])
    assert "x.mid" in caplog.text and "dropped 1 of 3" in caplog.text


@settings(max_examples=60, deadline=None)
@given(note_lists)
def test_skyline_is_monophonic(notes):
    out = skyline(notes, warn=False)
    assert np.all(np.diff(out[:, 0]) > 0)
    assert np.all(out[:-1, 0] + out[:-1, 1] <= out[1:, 0])
    assert np.all(out[:, 1] >= 1)


@settings(max_examples=60, deadline=None)
@given(note_lists)
def test_tokens_roundtrip(notes):
    mono = skyline(notes, warn=False)
    mono[:, 3] = 90
    tokens = melody_tokens(mono, 200)
    back = tokens_to_notes(tokens)
    np.testing.assert_array_equal(melody_tokens(back, 200), tokens)
    inside = mono[mono[:, 0] < 200].copy()
    inside[:, 1] = np.minimum(inside[:, 0] + inside[:, 1], 200) - inside[:, 0]
    np.testing.assert_array_equal(back, inside)
    np.testing.assert_array_equal(onehot_to_tokens(melody_onehot(tokens)), tokens)


def test_tokens_hold_for_sounding_note_and_states():
    tokens = melody_tokens(np.array([[-2, 4, 60, 90], [3, 1, 64, 90]]), 6)
    np.testing.assert_array_equal(tokens, [HOLD, HOLD, REST, 64, REST, REST])
    np.testing.assert_array_equal(rhythm_states(tokens), [1, 1, 2, 0, 2, 2])


def test_bad_shapes():
    with pytest.raises(ParameterError, match=r"notes.shape=\(3,\)"):
        skyline(np.zeros(3))
    with pytest.raises(ParameterError, match="onehot.shape"):
        onehot_to_tokens(np.zeros((32, 129)))

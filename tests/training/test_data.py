"""The shared VAE tensor pipelines (collage.training.data) against the represent/ functions they vectorise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from collage.errors import ParameterError
from collage.represent.accompaniment import durmat
from collage.represent.chord import chord_vectors
from collage.represent.melody import melody_onehot, melody_tokens
from collage.represent.transpose import transpose_chords, transpose_notes
from collage.training.data import SHIFTS, SegmentTensors, data_hash, synthetic_segment_set


@pytest.fixture(scope="module")
def synth():
    segs = synthetic_segment_set(3, n_beats=20, seed=1)
    return segs, SegmentTensors(segs)


def check_against_reference(segs, data, idx, shifts):
    for i, k in zip(idx, shifts):
        i, k = int(i), int(k)
        sid, start = int(segs.song_ids[i]), int(segs.starts[i])
        tok = melody_tokens(transpose_notes(segs.melody(i), k), segs.length)
        np.testing.assert_array_equal(data.melody_tokens([i], k)[0], tok)
        np.testing.assert_array_equal(data.melody_onehot([i], k)[0], melody_onehot(tok))
        np.testing.assert_array_equal(data.chords([i], k)[0], transpose_chords(chord_vectors(segs.chords(i)), k))
        ref = durmat(transpose_notes(segs.song_accomp(sid), k, on_overflow="drop"), segs.length, start=start)
        np.testing.assert_array_equal(data.prmat([i], k)[0], ref)


def test_matches_represent_functions_synthetic(synth):
    segs, data = synth
    assert len(data) == len(segs) > 10
    rng = np.random.default_rng(0)
    idx = np.arange(len(segs))
    check_against_reference(segs, data, idx, rng.choice(SHIFTS, size=len(idx)))


def test_vectorised_shifts_equal_one_at_a_time(synth):
    _, data = synth
    idx = np.array([0, 3, 5, 3])
    shift = np.array([-6, 0, 5, 2])
    batch = data.melody_onehot(idx, shift)
    for j in range(len(idx)):
        np.testing.assert_array_equal(batch[j], data.melody_onehot([idx[j]], int(shift[j]))[0])
    np.testing.assert_array_equal(data.chords(idx, shift)[1], data.chords([3])[0])


def test_sample_batch_shapes_and_valid_shifts(synth):
    _, data = synth
    rng = np.random.default_rng(0)
    b = data.sample_batch(rng, 16)
    assert b["melody"].shape == (16, 32, 130) and b["melody"].dtype == torch.float32
    assert b["tokens"].shape == (16, 32) and b["tokens"].dtype == torch.int64
    assert b["chords"].shape == (16, 8, 36) and b["prmat"].shape == (16, 32, 128)
    assert torch.equal(b["melody"].argmax(-1), b["tokens"])
    assert b["melody"].sum(-1).eq(1).all()
    assert set(b["shift"].tolist()) <= set(SHIFTS.tolist())
    flat = data.sample_batch(rng, 8, augment=False, parts=("melody",))
    assert set(flat) == {"index", "shift", "melody"} and flat["shift"].eq(0).all()
    # the same rng state gives the same batch
    a1 = data.sample_batch(np.random.default_rng(5), 4)
    a2 = data.sample_batch(np.random.default_rng(5), 4)
    assert all(torch.equal(a1[k], a2[k]) for k in a1)


def test_invalid_shift_is_refused_and_never_drawn():
    segs = synthetic_segment_set(2, n_beats=12, seed=3)
    data = SegmentTensors(segs)
    # push a segment's melody near the top: only some shifts stay in range
    data.tokens[0, 0] = 124
    data._valid[0] &= SHIFTS <= 3
    with pytest.raises(ParameterError, match="moves notes outside 0..127"):
        data.melody_tokens([0], 5)
    draws = data.random_shifts(np.random.default_rng(0), np.zeros(500, np.int64))
    assert draws.max() <= 3 and draws.min() == -6


def test_bad_arguments(synth):
    segs, data = synth
    with pytest.raises(ParameterError, match=r"given idx with values .*expected 0\.\."):
        data.melody_onehot([len(data)])
    with pytest.raises(ParameterError, match="given shift of shape"):
        data.chords([0, 1], [1, 2, 3])
    with pytest.raises(ParameterError, match="given batch_size=0"):
        data.sample_batch(np.random.default_rng(0), 0)
    with pytest.raises(ParameterError, match="given parts="):
        data.batch([0], parts=("audio",))
    with pytest.raises(ParameterError, match="expected a SegmentSet"):
        SegmentTensors([1, 2])
    assert data_hash(segs) == data.hash and len(data.hash) == 64
    sub = data.fixed_subset(5, seed=2)
    assert len(sub) == 5 and np.array_equal(sub, data.fixed_subset(5, seed=2)) and np.all(np.diff(sub) > 0)


def test_pop909_segments_match(pop909_root):
    from collage.datasets.pop909 import pop909_segments

    segs = pop909_segments("val", grid="beats", root=pop909_root)
    data = SegmentTensors(segs)
    assert len(data) == len(segs)
    rng = np.random.default_rng(0)
    idx = rng.choice(len(segs), size=60, replace=False)
    check_against_reference(segs, data, idx, rng.choice(SHIFTS, size=len(idx)))

"""Tests of collage.metrics.harmony on hand-made segments with known answers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats

from collage.errors import ParameterError
from collage.metrics import harmony as H


def notes(*rows):
    """Step notes from (onset, dur, pitch) triples (velocity 80)."""
    return np.array([[o, d, p, 80] for o, d, p in rows], dtype=np.int64).reshape(-1, 4)


# A C-major arpeggio melody in quarter notes over a sustained C-major triad.
MEL = notes((0, 4, 60), (4, 4, 64), (8, 4, 67), (12, 4, 72), (16, 8, 71), (24, 8, 67))
ACC = notes((0, 16, 48), (0, 16, 52), (0, 16, 55), (16, 16, 43), (16, 16, 50), (16, 16, 55))


def random_segment(rng, n, *, n_steps=32):
    on = rng.integers(0, n_steps, n)
    dur = rng.integers(1, 9, n)
    dur = np.minimum(dur, n_steps - on)
    pitch = rng.integers(36, 96, n)
    return np.stack([on, dur, pitch, np.full(n, 80)], axis=1).astype(np.int64)


# -- single-track features --------------------------------------------------------


def test_pitch_class_histogram_counts_notes_not_durations():
    h = H.pitch_class_histogram(notes((0, 30, 60), (30, 1, 62)), normalize=False)
    assert h.shape == (12,)
    assert h[0] == 1 and h[2] == 1 and h.sum() == 2
    np.testing.assert_allclose(H.pitch_class_histogram(notes((0, 30, 60), (30, 1, 62))), [0.5, 0, 0.5] + [0] * 9)


def test_onset_histogram_is_binary():
    h = H.onset_histogram(ACC, normalize=False)
    assert h.shape == (32,)
    assert h[0] == 1 and h[16] == 1 and h.sum() == 2  # three notes at step 0 still count once
    np.testing.assert_allclose(H.onset_histogram(ACC)[[0, 16]], [0.5, 0.5])


def test_step_states():
    s = H.step_states(notes((2, 3, 60), (3, 1, 64), (10, 30, 62)))
    assert s.shape == (32,)
    assert list(s[:6]) == [H.REST, H.REST, H.ONSET_STATE, H.ONSET_STATE, H.HOLD, H.REST]
    assert s[10] == H.ONSET_STATE and np.all(s[11:] == H.HOLD)  # clipped at the window's end


def test_pitch_count_interval_ioi():
    m = notes((0, 2, 60), (2, 2, 62), (6, 2, 59), (12, 4, 67))
    assert H.pitch_count(m) == 4
    assert H.pitch_interval(m) == pytest.approx((2 - 3 + 8) / 3)
    assert H.inter_onset_interval(m) == pytest.approx(12 / 3)
    # distinct onsets only; pitch order breaks ties
    assert H.inter_onset_interval(notes((0, 4, 60), (0, 4, 64), (4, 4, 67))) == 4.0
    assert H.pitch_interval(notes((4, 1, 67), (0, 4, 64), (0, 4, 60))) == pytest.approx((4 + 3) / 2)
    assert np.isnan(H.pitch_interval(notes((0, 4, 60))))
    assert np.isnan(H.inter_onset_interval(notes((0, 4, 60), (0, 4, 64))))


# -- comparisons -----------------------------------------------------------------


def test_identical_tracks():
    r = H.evaluate(MEL, MEL)
    assert r["pch_kld"] == pytest.approx(0.0, abs=1e-12)
    assert r["oh_kld"] == pytest.approx(0.0, abs=1e-12)
    assert r["pch_oa"] == pytest.approx(1.0)
    assert r["oh_oa"] == pytest.approx(1.0)
    assert r["re_3state"] == 1.0 and r["re_onset"] == 1.0


def test_disjoint_pitch_classes_and_onsets():
    a = notes((0, 4, 60), (8, 4, 64))  # C, E on steps 0, 8
    b = notes((4, 4, 61), (12, 4, 66))  # C#, F# on steps 4, 12
    r = H.evaluate(a, b)
    assert r["pch_oa"] == 0.0 and r["oh_oa"] == 0.0
    assert r["pch_kld"] > 5 and r["oh_kld"] > 5  # log of ~1/eps-ish ratios
    assert r["re_onset"] == pytest.approx(28 / 32)  # steps 0, 4, 8, 12 disagree
    # states: a = O H H H R R R R O H H H R...; b = R R R R O H H H R R R R O H H H R...
    assert r["re_3state"] == pytest.approx(16 / 32)


def test_known_example():
    r = H.evaluate(MEL, ACC)
    # melody pitch classes: C E G C B G -> C 2, E 1, G 2, B 1; accomp: C E G G D G -> C 1, E 1, G 3, D 1
    p = np.array([2, 0, 0, 0, 1, 0, 0, 2, 0, 0, 0, 1]) / 6
    q = np.array([1, 0, 1, 0, 1, 0, 0, 3, 0, 0, 0, 0]) / 6
    assert r["pch_oa"] == pytest.approx(np.minimum(p, q).sum())
    assert r["pch_kld"] == pytest.approx(scipy.stats.entropy(p + 1e-5, q + 1e-5))
    # onsets: melody 0 4 8 12 16 24, accomp 0 16 -> agree on 28 of 32 steps
    assert r["re_onset"] == pytest.approx(28 / 32)
    assert r["oh_oa"] == pytest.approx(2 * min(1 / 6, 1 / 2))
    # states: accomp O at 0, 16, H elsewhere; melody O at its onsets, H elsewhere
    assert r["re_3state"] == pytest.approx(28 / 32)
    assert r["mel_pc"] == 6 and r["acc_pc"] == 6
    assert r["mel_pi"] == pytest.approx((67 - 60) / 5)
    assert r["mel_ioi"] == pytest.approx(24 / 5)
    assert r["acc_ioi"] == 16.0
    assert set(r) == set(H.KEYS)


def test_kld_equals_scipy_entropy():
    rng = np.random.default_rng(1)
    for _ in range(20):
        p = rng.integers(0, 4, 12).astype(float)
        q = rng.integers(0, 4, 12).astype(float)
        p[0] += 1
        q[1] += 1
        pn, qn = p / p.sum(), q / q.sum()
        assert H.kl_divergence(p, q) == pytest.approx(scipy.stats.entropy(pn + 1e-5, qn + 1e-5), rel=1e-12)
    # batched over the leading axis
    P, Q = rng.random((5, 32)), rng.random((5, 32))
    want = [scipy.stats.entropy(P[i] / P[i].sum() + 1e-5, Q[i] / Q[i].sum() + 1e-5) for i in range(5)]
    np.testing.assert_allclose(H.kl_divergence(P, Q), want, rtol=1e-12)


def test_overlapping_area_bounds():
    assert H.overlapping_area([1, 0], [0, 1]) == 0.0
    assert H.overlapping_area([1, 1], [2, 2]) == pytest.approx(1.0)
    assert H.overlapping_area([3, 1], [1, 1]) == pytest.approx(0.5 + 0.25)


# -- vectorised vs scalar -----------------------------------------------------------


def test_batch_matches_scalar():
    rng = np.random.default_rng(0)
    mels = [random_segment(rng, int(n)) for n in rng.integers(1, 15, 60)]
    accs = [random_segment(rng, int(n)) for n in rng.integers(1, 40, 60)]
    mels[3] = notes((5, 2, 60))  # one note: PI and IOI nan
    accs[7] = notes((0, 4, 60), (0, 4, 64))  # one distinct onset
    batch = H.evaluate_batch(mels, accs)
    assert set(batch) == set(H.KEYS)
    for i in range(len(mels)):
        one = H.evaluate(mels[i], accs[i])
        for k in H.KEYS:
            assert batch[k].shape == (60,)
            np.testing.assert_allclose(batch[k][i], one[k], rtol=1e-12, atol=1e-12, err_msg=f"{k}[{i}]")


def test_batch_empty_list():
    out = H.evaluate_batch([], [])
    assert all(v.shape == (0,) for v in out.values())


# -- empty input and validation ---------------------------------------------------


def test_empty_melody_warns_and_returns_documented_values():
    with pytest.warns(H.EmptySegmentWarning, match="empty melody"):
        r = H.evaluate(np.zeros((0, 4)), ACC)
    for k in ("pch_kld", "pch_oa", "oh_kld", "oh_oa", "mel_pi", "mel_ioi"):
        assert np.isnan(r[k]), k
    assert r["mel_pc"] == 0.0
    assert r["re_onset"] == pytest.approx(30 / 32)  # accomp onsets at 0 and 16 only
    assert r["acc_pc"] == 6.0


def test_empty_accompaniment_warns():
    with pytest.warns(H.EmptySegmentWarning, match="empty accompaniment"):
        r = H.evaluate(MEL, [])
    assert np.isnan(r["pch_kld"]) and r["acc_pc"] == 0.0


def test_batch_empty_segment_warns_once():
    with pytest.warns(H.EmptySegmentWarning, match="1 empty segment"):
        out = H.evaluate_batch([MEL, np.zeros((0, 4))], [ACC, ACC])
    assert np.isnan(out["pch_kld"][1]) and not np.isnan(out["pch_kld"][0])


def test_no_warning_for_full_input():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        H.evaluate(MEL, ACC)
        H.evaluate_batch([MEL], [ACC])


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((3, 3)), r"melody_notes\.shape=\(3, 3\); expected \(N, 4\)"),
        (np.zeros((2, 4, 1)), r"melody_notes\.shape=\(2, 4, 1\)"),
        (notes((32, 1, 60)), r"melody_notes\[0, 0\]=32 \(onset\); expected 0 <= onset < n_steps=32"),
        (notes((-1, 1, 60)), r"=-1 \(onset\)"),
        (notes((0, 1, 60), (1, 0, 60)), r"melody_notes\[1, 1\]=0 \(duration\)"),
        (notes((0, 1, 128)), r"=128 \(pitch\); expected 0\.\.127"),
        (np.array([[0.5, 1, 60, 80]]), r"melody_notes\[0, 0\]=0\.5; expected integer"),
    ],
)
def test_invalid_notes_raise(bad, match):
    with pytest.raises(ParameterError, match=match):
        H.evaluate(bad, ACC)


def test_invalid_arguments_raise():
    with pytest.raises(ParameterError, match=r"n_steps=0"):
        H.evaluate(MEL, ACC, n_steps=0)
    with pytest.raises(ParameterError, match=r"eps=0"):
        H.kl_divergence([1, 0], [0, 1], eps=0)
    with pytest.raises(ParameterError, match=r"p\.shape=\(12,\), q\.shape=\(32,\)"):
        H.overlapping_area(np.ones(12), np.ones(32))
    with pytest.raises(ParameterError, match=r"len\(melodies\)=2, len\(accomps\)=1"):
        H.evaluate_batch([MEL, MEL], [ACC])
    with pytest.raises(ParameterError, match=r"accomps\[1\]\.shape=\(3,\)"):
        H.evaluate_batch([MEL, MEL], [ACC, np.ones(3)])


def test_n_steps_option():
    r = H.evaluate(notes((0, 8, 60)), notes((0, 8, 60)), n_steps=8)
    assert r["re_3state"] == 1.0
    assert H.onset_histogram(notes((0, 8, 60)), n_steps=8).shape == (8,)

"""The joining pipeline with tiny random models: style/iteration checks, iterated transformation, LP, join()."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from collage.errors import InvalidMidiError, ParameterError
from collage.fusion.horizontal import (JoinModels, check_iterations, check_style, join, joint_distance, lp_search,
                                       transform_latents)
from collage.piece import Piece, Tempo, TimeSignature, Track

Q = 480


def phrase(pitches, *, beats_per_note=1.0, qpm=100.0, start_beat=0.0, name="MELODY") -> Piece:
    notes = [[int((start_beat + i * beats_per_note) * Q), int(beats_per_note * Q), p, 80] for i, p in enumerate(pitches)]
    return Piece([Track(np.array(notes), name=name, program=0)], tpq=Q, tempos=[Tempo(0, qpm)],
                 time_signatures=[TimeSignature(0, 4, 4)])


@pytest.fixture(scope="module")
def models():
    return JoinModels.tiny()


def test_check_style_and_iterations():
    assert check_style(None).tolist() == [0.5] * 4
    assert check_style(0.2).tolist() == pytest.approx([0.2] * 4)
    assert check_style([0, 1, 0.5, 0.25]).tolist() == [0, 1, 0.5, 0.25]
    with pytest.raises(ParameterError, match=r"style value 1.5"):
        check_style([0, 1.5, 0, 0])
    with pytest.raises(ParameterError, match="3 style values"):
        check_style([0.1, 0.2, 0.3])
    with pytest.raises(ParameterError, match="nan"):
        check_style(float("nan"))
    assert check_iterations(3) == 3
    for bad in (0, 1.5, "2", True):
        with pytest.raises(ParameterError, match="iterations"):
            check_iterations(bad)


def test_iterated_transformation_feeds_outputs_back(models):
    z_l, z_r = torch.randn(5, 16), torch.randn(5, 16)
    s = check_style(0.3)
    one_l, one_r = transform_latents(models.actor, z_l, z_r, s)
    two_l, two_r = transform_latents(models.actor, one_l, one_r, s)
    k2_l, k2_r = transform_latents(models.actor, z_l, z_r, s, iterations=2)
    torch.testing.assert_close(k2_l, two_l)
    torch.testing.assert_close(k2_r, two_r)
    assert not torch.allclose(one_l, z_l)
    zero = transform_latents(models.actor, z_l, z_r, s, iterations=0)
    torch.testing.assert_close(zero[0], z_l)


def test_lp_search_stays_in_budget_and_never_lowers_the_score(models):
    torch.manual_seed(0)
    z_l, z_r = torch.randn(64, 16), torch.randn(64, 16)
    sigma = torch.full((16,), 0.3)
    before = models.critic(z_l, z_r)
    h_l, h_r = lp_search(z_l, z_r, models.critic, sigma=sigma, budget=0.5, steps=60, seed=1)
    assert torch.all(joint_distance(h_l, h_r, z_l, z_r, sigma) <= 0.5 + 1e-6)
    after = models.critic(h_l, h_r)
    assert torch.all(after >= before - 1e-6) and torch.any(after > before)
    same = lp_search(z_l, z_r, models.critic, sigma=sigma, budget=0.5, steps=60, seed=1)
    torch.testing.assert_close(same[0], h_l)  # seeded
    with pytest.raises(ParameterError, match="steps"):
        lp_search(z_l, z_r, models.critic, sigma=sigma, steps=2.5)


def test_join_keeps_the_outer_parts_and_rewrites_the_joint(models):
    left = phrase([60, 62, 64, 65] * 4)  # 16 beats: joint = beats 8..16
    right = phrase([72, 71, 69, 67] * 3, qpm=130)  # 12 beats: joint = beats 0..8, then 4 beats kept
    res = join(left, right, models=models, style=[0.1, 0.9, 0.5, 0.5], iterations=2)
    assert res.method == "ours" and res.iterations == 2 and res.joint_start == 32
    assert res.n_steps == 32 + 32 + 48 and len(res.piece.tracks) == 1
    notes = res.piece.tracks[0].notes  # ticks, 120 per step
    first = notes[notes[:, 0] < 32 * 120]
    np.testing.assert_array_equal(first[:, 2], [60, 62, 64, 65] * 2)  # L before the joint, unchanged
    tail = notes[notes[:, 0] >= 96 * 120]
    np.testing.assert_array_equal(tail[:, 2], [72, 71, 69, 67])  # R after its first 8 beats, unchanged
    np.testing.assert_array_equal(tail[:, 0] // 120, [96, 100, 104, 108])
    assert res.piece.tempos[0].qpm == pytest.approx(100)  # L's tempo
    assert res.z_distance > 0


def test_join_pads_a_short_left_phrase_and_lp_runs(models):
    res = join(phrase([60, 64]), phrase([67, 65, 64, 62]), models=models, method="lp", lp_steps=5, lp_budget=2.0)
    assert res.joint_start == 0 and res.n_steps == 64 and res.method == "lp" and res.style["left_pitch"] is None
    assert res.z_distance <= 2.0 + 1e-6


def test_join_rejects_bad_arguments(models):
    p = phrase([60, 62])
    with pytest.raises(ParameterError, match="method"):
        join(p, p, models=models, method="best")
    with pytest.raises(ParameterError, match="iterations"):
        join(p, p, models=models, iterations=0)
    empty = Piece([Track(np.zeros((0, 4), np.int64), name="MELODY")], tpq=Q)
    with pytest.raises(InvalidMidiError, match="has no notes"):
        join(empty, p, models=models)


def test_lp_search_continues_from_a_start(models):
    z_l, z_r = torch.randn(16, 16), torch.randn(16, 16)
    sigma = torch.full((16,), 0.3)
    a = lp_search(z_l, z_r, models.critic, sigma=sigma, budget=1.0, steps=10, seed=0)
    b = lp_search(z_l, z_r, models.critic, sigma=sigma, budget=1.0, steps=10, seed=1, start=a)
    assert torch.all(models.critic(*b) >= models.critic(*a) - 1e-6)
    assert torch.all(joint_distance(*b, z_l, z_r, sigma) <= 1.0 + 1e-6)

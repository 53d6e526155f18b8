"""The horizontal pairing: consecutive-segment index, pair draws, distance weights, token transposition."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from collage.errors import ParameterError
from collage.training.join_data import (JoinLatents, JoinPairing, join_index, pair_index, restrict_songs,
                                        transpose_tokens)


def _segset(song_ids, starts, songs=None):
    return types.SimpleNamespace(song_ids=np.asarray(song_ids), starts=np.asarray(starts),
                                 songs=np.asarray(songs if songs is not None else sorted(set(song_ids))))


def test_join_index_links_each_window_to_the_one_8_beats_later():
    # song 1: windows at 0, 4 (not aligned), 32, 64; 96 missing; 128. song 2: 0 and 32.
    ss = _segset([1, 1, 1, 1, 1, 2, 2], [0, 4, 32, 64, 128, 0, 32])
    index, right = join_index(ss)
    assert index.tolist() == [0, 2, 3, 4, 5, 6]
    assert right.tolist() == [1, 2, -1, -1, 5, -1]


def test_restrict_songs_keeps_links_inside_the_kept_songs():
    ss = _segset([1, 1, 2, 2, 3, 3], [0, 32, 0, 32, 0, 32], songs=[1, 2, 3])
    index, right = join_index(ss)
    i2, r2 = restrict_songs(ss, index, right, 2)
    assert i2.tolist() == [0, 1, 2, 3] and r2.tolist() == [1, -1, 3, -1]
    assert restrict_songs(ss, index, right, None)[0].tolist() == index.tolist()


def _latents(k=40, d=8, songs=4):
    # mu[s, i] = i + 100 * s, so a drawn latent tells its segment and transposition
    mu = (np.arange(k)[None, :, None] + 100 * np.arange(3)[:, None, None]) * np.ones((3, k, d))
    song_ids = np.repeat(np.arange(songs), k // songs)
    right = np.where(np.arange(k) % (k // songs) < k // songs - 1, np.arange(k) + 1, -1)
    valid = np.ones((3, k), bool)
    valid[2, 5] = False  # segment 5 was not transposed by the third shift
    return JoinLatents(mu=mu.astype(np.float16), std=np.full((3, k, d), 0.1, np.float16), valid=valid,
                       shifts=(-3, 0, 3), song_ids=song_ids, starts=np.arange(k) * 32, right=right,
                       index=np.arange(k))


def test_positives_are_consecutive_at_one_transposition_and_negatives_cross_songs():
    lat = _latents()
    pairing = JoinPairing(lat)
    rng = np.random.default_rng(0)
    zl, zr = pairing.positive(500, rng, sample=False)
    li, ri = zl[:, 0].numpy() % 100, zr[:, 0].numpy() % 100
    sl, sr = zl[:, 0].numpy() // 100, zr[:, 0].numpy() // 100
    assert np.all(ri == li + 1) and np.all(lat.right[li.astype(int)] == ri)
    assert np.all(sl == sr)
    assert not np.any((li == 5) & (sl == 2)) and not np.any((ri == 5) & (sr == 2))
    zl, zr = pairing.negative(500, rng, sample=False)
    li, ri = (zl[:, 0].numpy() % 100).astype(int), (zr[:, 0].numpy() % 100).astype(int)
    assert np.all(lat.song_ids[li] != lat.song_ids[ri])


def test_distance_weights_make_rho_of_each_whole_latent():
    from collage.models.latent_critic import LatentActor, join_configs, latent_distance
    from collage.pretrained import tiny_model

    vae = tiny_model("melody_vae")
    _, ac = join_configs(vae, tiny=True)
    actor = LatentActor(ac)
    c = torch.rand(3, actor.n_aspects)
    w = JoinPairing.distance_weights(c, actor)
    a, b = torch.randn(3, vae.z_dim), torch.randn(3, vae.z_dim)
    sigma = torch.rand(vae.z_dim) + 0.5
    per_aspect = sum(w[:, k] * latent_distance(a[:, sl], b[:, sl], sigma[sl])
                     for k, (_, (_, sl)) in enumerate(actor.aspect_slices().items()))
    # aspects of the left latent then the right latent: both latents compared to themselves here
    torch.testing.assert_close(per_aspect, 2 * latent_distance(a, b, sigma))
    assert ac.control_gate is False and ac.aspect_names == ("left_pitch", "left_rhythm", "right_pitch", "right_rhythm")


def test_pair_index_needs_pairs_and_two_songs():
    lat = _latents()
    lat.right[:] = -1
    with pytest.raises(ParameterError, match="no consecutive"):
        pair_index(lat, 3, np.random.default_rng(0), paired=True)
    lat.song_ids[:] = 0
    with pytest.raises(ParameterError, match="two songs"):
        pair_index(lat, 3, np.random.default_rng(0), paired=False)


def test_transpose_tokens_moves_pitches_only_and_refuses_to_leave_the_range():
    tok = np.array([[60, 128, 129, 62], [126, 128, 129, 129]])
    out = transpose_tokens(tok, np.array([3, 3]))
    assert out[0].tolist() == [63, 128, 129, 65]
    assert out[1].tolist() == [126, 128, 129, 129]  # 129 would leave 0..127: unchanged

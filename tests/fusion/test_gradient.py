"""The data-driven baseline: climbing a critic in latent space, and the note-level wrapper."""

import numpy as np
import pytest
import torch

from collage.errors import ParameterError
from collage.fusion.gradient import (
    decode_latents,
    encode_pairs,
    gradient_fuse_latents,
    gradient_fuse_segments,
    segment_inputs,
)
from collage.pretrained import tiny_model

torch.set_num_threads(1)

MEL = np.array([[0, 4, 60, 90], [4, 2, 64, 90], [8, 8, 67, 90], [20, 12, 72, 90]])
ACC = np.array([[0, 8, 48, 64], [0, 8, 55, 64], [8, 16, 52, 64], [24, 8, 53, 64]])


def test_climbing_raises_the_critic_score():
    critic = tiny_model("latent_critic")
    za, zb = torch.randn(8, 16), torch.randn(8, 16)
    before = critic(za, zb).detach()
    ha, hb = gradient_fuse_latents(za, zb, critic, steps=50, lr=0.05)
    after = critic(ha, hb).detach()
    assert after.mean() > before.mean()
    assert not ha.requires_grad and ha.shape == za.shape
    assert all(p.requires_grad for p in critic.parameters())  # restored
    z0a, z0b = gradient_fuse_latents(za, zb, critic, steps=0)
    torch.testing.assert_close(z0a, za)


def test_bad_arguments():
    critic = tiny_model("latent_critic")
    with pytest.raises(ParameterError, match="steps=-1"):
        gradient_fuse_latents(torch.randn(2, 16), torch.randn(2, 16), critic, steps=-1)
    with pytest.raises(ParameterError, match="lr=0"):
        gradient_fuse_latents(torch.randn(2, 16), torch.randn(2, 16), critic, steps=1, lr=0)
    with pytest.raises(ParameterError, match="z_mel.shape"):
        gradient_fuse_latents(torch.randn(2, 16), torch.randn(3, 16), critic)


def test_note_level_wrapper_with_tiny_models():
    mv, av, critic = tiny_model("melody_vae"), tiny_model("accomp_vae"), tiny_model("latent_critic")
    mels, accs = gradient_fuse_segments([MEL, MEL], [ACC, ACC[:1]], mel_vae=mv, acc_vae=av, critic=critic, steps=3)
    assert len(mels) == len(accs) == 2
    for m, a in zip(mels, accs):
        assert m.shape[1] == 4 and a.shape[1] == 4
        assert np.all(m[:, 0] < 32) and np.all(a[:, 0] + a[:, 1] <= 32)
    mel, ch, prm = segment_inputs([MEL], [ACC])
    assert mel.shape == (1, 32, 130) and ch.shape == (1, 8, 36) and prm.shape == (1, 32, 128)
    assert ch[0, 0].sum() > 0  # an estimated chord
    za, zb = encode_pairs(mv, av, [MEL], [ACC])
    m2, a2 = decode_latents(mv, av, za, zb)
    assert len(m2) == 1

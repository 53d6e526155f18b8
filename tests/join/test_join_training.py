"""The shared actor-critic trainers with the horizontal pairing, on synthetic latents (seconds)."""

from __future__ import annotations

import numpy as np
import torch

from collage.models.latent_critic import LatentActorConfig, LatentCriticConfig
from collage.training.critic_actor import train_actor, train_critic
from collage.training.join_data import JoinLatents, JoinPairing

ASPECTS = {"aspects_a": (("left_pitch", 0, 8), ("left_rhythm", 8, 16)),
           "aspects_b": (("right_pitch", 0, 8), ("right_rhythm", 8, 16))}


def _pairing(seed=0, k=400, d=16):
    """Songs are random walks: the right neighbour of a segment is its latent plus small noise."""
    rng = np.random.default_rng(seed)
    songs = 40
    per = k // songs
    mu = np.zeros((1, k, d), np.float32)
    for s in range(songs):
        z = rng.normal(size=d)
        for i in range(per):
            mu[0, s * per + i] = z
            z = z + 0.2 * rng.normal(size=d)
    right = np.where(np.arange(k) % per < per - 1, np.arange(k) + 1, -1)
    lat = JoinLatents(mu=mu.astype(np.float16), std=np.full((1, k, d), 0.05, np.float16), valid=np.ones((1, k), bool),
                      shifts=(0,), song_ids=np.repeat(np.arange(songs), per), starts=np.zeros(k, np.int64),
                      right=right, index=np.arange(k))
    return JoinPairing(lat)


def test_join_critic_and_actor_learn_on_the_horizontal_pairing(tmp_path):
    torch.manual_seed(0)
    p = _pairing()
    cc = LatentCriticConfig(d_a=16, d_b=16, embed=32, hidden=32, layers=2, dropout=0.0, **ASPECTS)
    critic, res = train_critic(p, p, run_dir=tmp_path / "c", config=cc, steps=200, batch_size=64, lr=3e-3,
                               progress=False, val_every=100)
    assert res.best_metrics["val_acc"] > 0.75
    ac = LatentActorConfig(d_a=16, d_b=16, embed=32, hidden=32, layers=2, dropout=0.0, control_gate=False, **ASPECTS)
    actor, critic2, res = train_actor(p, p, run_dir=tmp_path / "a", lam=0.1, actor_config=ac, critic_config=cc,
                                      steps=200, batch_size=64, lr=3e-3, progress=False, val_every=100)
    m = res.best_metrics
    assert m["val_d_out"] > m["val_d_in"]  # the actor's joins look more consecutive to its critic
    torch.testing.assert_close(actor.sigma_a, p.sigma_a)


def test_diversity_term_makes_the_style_matter(tmp_path):
    """With the mode-seeking term the actor's output (eval mode) depends on its style input; with
    dropout in the actor, so that different dropout masks cannot pass for a style effect."""
    p = _pairing()
    cc = LatentCriticConfig(d_a=16, d_b=16, embed=32, hidden=32, layers=2, dropout=0.0, **ASPECTS)
    ac = LatentActorConfig(d_a=16, d_b=16, embed=32, hidden=32, layers=2, dropout=0.5, control_gate=False, **ASPECTS)
    spread = {}
    for div in (0.0, 1.0):
        torch.manual_seed(0)
        actor, _, _ = train_actor(p, p, run_dir=tmp_path / f"d{div}", lam=0.1, actor_config=ac, critic_config=cc,
                                  steps=150, batch_size=64, lr=3e-3, progress=False, val_every=150, diversity=div,
                                  val_score=lambda a: 0.0)
        za, zb = p.negative(64, np.random.default_rng(0), sample=False)
        actor.eval()
        with torch.no_grad():
            h1 = torch.cat(actor(za, zb, torch.zeros(64, 4)), 1)
            h2 = torch.cat(actor(za, zb, torch.ones(64, 4)), 1)
        spread[div] = float((h1 - h2).abs().mean())
    assert spread[1.0] > 2 * spread[0.0]

"""LatentCritic / LatentActor: shapes, validation, the gated residual, rho, save/load, a tiny training run."""

import dataclasses

import numpy as np
import pytest
import torch

from collage.errors import ParameterError
from collage.models.latent_critic import (
    LatentActor,
    LatentActorConfig,
    LatentCriticConfig,
    latent_distance,
)
from collage.pretrained import load_pretrained, save_pretrained, tiny_model

torch.set_num_threads(1)


def synthetic_latents(k: int, n_songs: int, seed: int = 0):
    """A LatentSet of ``k`` segments x 12 transpositions, 16-d, where 'harmonic' means z_b = z_a."""
    from collage.training.latents import LatentSet

    za = np.random.default_rng(seed).normal(size=(12, k, 16)).astype(np.float16)
    return LatentSet({"mel_mu": za, "mel_std": np.full((12, k, 16), 0.1, np.float16), "acc_mu": za.copy(),
                      "acc_std": np.full((12, k, 16), 0.1, np.float16), "valid": np.ones((12, k), bool),
                      "song_ids": np.arange(k) % n_songs})


def test_shapes_and_aspects():
    critic, actor = tiny_model("latent_critic"), tiny_model("latent_actor")
    za, zb = torch.randn(5, 16), torch.randn(5, 16)
    assert critic(za, zb).shape == (5,)
    ha, hb = actor(za, zb, torch.rand(5, 4))
    assert ha.shape == (5, 16) and hb.shape == (5, 16)
    assert actor.config.aspect_names == ("pitch", "rhythm", "chord", "texture")
    assert list(actor.aspect_slices()) == ["pitch", "rhythm", "chord", "texture"]


def test_generic_pairing_for_phrase_joining():
    """Another pairing (two phrase latents, one aspect each) works with the same classes."""
    cfg = LatentActorConfig(d_a=6, d_b=10, aspects_a=(("style", 0, 6),), aspects_b=(("x", 0, 4), ("y", 4, 10)),
                            embed=8, hidden=8, layers=1, dropout=0.0)
    actor = LatentActor(cfg)
    ha, hb = actor(torch.randn(3, 6), torch.randn(3, 10), torch.rand(3, 3))
    assert ha.shape == (3, 6) and hb.shape == (3, 10)
    d = actor.distances(ha, hb, torch.zeros(3, 6), torch.zeros(3, 10))
    assert set(d) == {"style", "x", "y", "z_a", "z_b"}


def test_bad_shapes_quote_the_value():
    critic, actor = tiny_model("latent_critic"), tiny_model("latent_actor")
    with pytest.raises(ParameterError, match=r"z_a.shape=\(5, 15\)"):
        critic(torch.randn(5, 15), torch.randn(5, 16))
    with pytest.raises(ParameterError, match=r"controls.shape=\(5, 3\)"):
        actor(torch.randn(5, 16), torch.randn(5, 16), torch.rand(5, 3))
    with pytest.raises(ParameterError, match="aspect 'x'"):
        LatentCriticConfig(d_a=4, aspects_a=(("x", 0, 9),))
    with pytest.raises(ParameterError, match="dropout"):
        LatentCriticConfig(dropout=1.5)


def test_gate_closed_returns_the_input():
    actor = tiny_model("latent_actor")
    with torch.no_grad():
        actor.gate.bias.fill_(-50.0)
        actor.gate.weight.zero_()
    za, zb = torch.randn(4, 16), torch.randn(4, 16)
    ha, hb = actor(za, zb, torch.rand(4, 4))
    torch.testing.assert_close(ha, za)
    torch.testing.assert_close(hb, zb)
    with torch.no_grad():
        actor.gate.bias.fill_(50.0)
    c = torch.rand(4, 4)
    ha, hb = actor(za, zb, c)
    delta = actor.delta(actor.trunk(za, zb, c))  # gate open: the output is delta
    torch.testing.assert_close(torch.cat([ha, hb], 1), delta)


def test_control_gate_keeps_an_aspect_at_control_one_and_moves_less_as_it_rises():
    cfg = dataclasses.replace(LatentActorConfig.tiny(), control_gate=True)
    torch.manual_seed(0)
    actor = LatentActor(cfg).eval()
    za, zb = torch.randn(8, 16), torch.randn(8, 16)
    keep = torch.tensor([1.0, 0.0, 1.0, 0.0]).expand(8, 4)  # keep pitch and chord exactly
    ha, hb = actor(za, zb, keep)
    torch.testing.assert_close(ha[:, :8], za[:, :8])
    torch.testing.assert_close(hb[:, :8], zb[:, :8])
    assert (ha[:, 8:] - za[:, 8:]).abs().max() > 1e-3  # rhythm free to move
    ones = torch.ones(8, 4)
    ha, hb = actor(za, zb, ones)
    torch.testing.assert_close(torch.cat([ha, hb], 1), torch.cat([za, zb], 1))
    scale = actor.keep_scale(torch.tensor([[0.25, 0.5, 0.75, 1.0]]))  # (1, 32)
    assert scale[0, :8].eq(0.75).all() and scale[0, 8:16].eq(0.5).all()
    assert scale[0, 16:24].eq(0.25).all() and scale[0, 24:].eq(0.0).all()


def test_latent_distance():
    z = torch.randn(3, 4)
    s = torch.full((4,), 0.5)
    assert torch.all(latent_distance(z, z, s) == 0)
    d = latent_distance(z + 1.0, z, s)
    torch.testing.assert_close(d, torch.full((3,), float(np.log(2.0) / 0.25)))
    with pytest.raises(ParameterError):
        latent_distance(z, z[:, :3], s)


def test_roundtrip_through_a_card(tmp_path):
    actor = tiny_model("latent_actor")
    actor.sigma_a.fill_(0.3)
    pt = save_pretrained(actor, "a", tmp_path, card={"lam": 1.0})
    back = load_pretrained(pt)
    assert isinstance(back, LatentActor) and back.config == actor.config
    torch.testing.assert_close(back.sigma_a, actor.sigma_a)
    assert isinstance(back.config.aspects_a, tuple)


def test_tiny_adversarial_training_moves_toward_positives(tmp_path):
    """On synthetic latents where 'harmonic' means z_b = z_a, the trained actor raises the critic's score."""
    from collage.training.critic_actor import train_actor, train_critic

    lat = synthetic_latents(400, 40, seed=0)
    critic, res = train_critic(lat, lat, run_dir=tmp_path / "c", config=LatentCriticConfig.tiny(), steps=150,
                               batch_size=64, lr=3e-3, progress=False, val_every=50)
    assert res.best_metrics["val_acc"] > 0.7
    actor, critic2, res = train_actor(lat, lat, run_dir=tmp_path / "a", lam=0.1,
                                      actor_config=LatentActorConfig.tiny(), critic_config=LatentCriticConfig.tiny(),
                                      steps=150, batch_size=64, lr=3e-3, progress=False, val_every=50)
    assert {"val_d_in", "val_d_out", "val_rho_a", "val_rho_b"} <= set(res.best_metrics)
    assert (tmp_path / "a" / "log.jsonl").exists()
    assert actor.sigma_a.shape == (16,) and torch.all(actor.sigma_a < 0.2)


def test_transform_applies_the_actor_iteratively_and_defaults_to_its_config():
    cfg = dataclasses.replace(LatentActorConfig.tiny(), control_gate=True, iterations=3)
    torch.manual_seed(0)
    actor = LatentActor(cfg).eval()
    za, zb = torch.randn(4, 16), torch.randn(4, 16)
    c = torch.full((4, 4), 0.5)
    a, b = za, zb
    with torch.no_grad():
        for _ in range(3):
            a, b = actor(a, b, c)
    ha, hb = actor.transform(za, zb, c)  # config.iterations = 3
    torch.testing.assert_close(ha, a)
    torch.testing.assert_close(hb, b)
    one = actor.transform(za, zb, c, iterations=1)
    assert not torch.allclose(one[0], ha)
    same = actor.transform(za, zb, c, iterations=0)
    assert same[0] is za and same[1] is zb
    keep = torch.tensor([1.0, 0.0, 1.0, 0.0]).expand(4, 4)  # a kept aspect stays exact over any iterations
    ha, hb = actor.transform(za, zb, keep, iterations=5)
    torch.testing.assert_close(ha[:, :8], za[:, :8])
    torch.testing.assert_close(hb[:, :8], zb[:, :8])
    with pytest.raises(ParameterError, match="iterations=-1"):
        actor.transform(za, zb, c, iterations=-1)
    with pytest.raises(ParameterError, match="iterations=0"):
        dataclasses.replace(cfg, iterations=0)


def test_update_card_changes_the_default_without_touching_the_weights(tmp_path):
    from collage.pretrained import load_card, update_card

    actor = tiny_model("latent_actor")
    pt = save_pretrained(actor, "a", tmp_path, card={"lam": 1.0})
    sha = load_card(pt)["sha256"]
    update_card(pt, config=dict(load_card(pt)["config"], iterations=4), note="chosen on val")
    card = load_card(pt)
    assert card["sha256"] == sha and card["note"] == "chosen on val" and card["lam"] == 1.0
    back = load_pretrained(pt)  # the hash check still passes
    assert back.config.iterations == 4
    torch.testing.assert_close(back.delta.weight, actor.delta.weight)


def test_iteration_sweep_chooses_the_smallest_count_near_the_best(tmp_path):
    """On synthetic latents with tiny VAEs and judge: one row per count; the rule picks the smallest within tolerance."""
    from collage.training.critic_actor import iteration_sweep

    lat = synthetic_latents(60, 10, seed=0)
    torch.manual_seed(0)
    actor = LatentActor(dataclasses.replace(LatentActorConfig.tiny(), control_gate=True)).eval()
    critic = tiny_model("latent_critic")
    kw = dict(mel_vae=tiny_model("melody_vae"), acc_vae=tiny_model("accomp_vae"), judge=tiny_model("harmony_judge"),
              iterations=[3, 1, 2], n=20)
    res = iteration_sweep(actor, critic, lat, tolerance=1.0, **kw)
    assert sorted(res["iterations"]) == [1, 2, 3] and res["chosen"] == 1  # everything is within 1.0
    rates = {k: v["val_harmony"] for k, v in res["iterations"].items()}
    res = iteration_sweep(actor, critic, lat, tolerance=0.0, **kw)
    assert rates[res["chosen"]] == max(rates.values())
    assert res["chosen"] == min(k for k, r in rates.items() if r == max(rates.values()))
    rho = [res["iterations"][k]["val_rho_a"] for k in (1, 2, 3)]
    assert rho[0] < rho[2]  # more applications move further from the input
    with pytest.raises(ParameterError, match="counts >= 1"):
        iteration_sweep(actor, critic, lat, **dict(kw, iterations=[0, 1]))


def test_unrolled_training_runs_and_checks_its_argument(tmp_path):
    """--unroll K: the actor is trained through 1..K applications; a bad K is refused before any work."""
    from collage.training.critic_actor import train_actor

    lat = synthetic_latents(100, 20, seed=1)
    kw = dict(lam=0.1, actor_config=dataclasses.replace(LatentActorConfig.tiny(), control_gate=True),
              critic_config=LatentCriticConfig.tiny(), steps=20, batch_size=32, lr=3e-3, progress=False, val_every=10)
    actor, _, res = train_actor(lat, lat, run_dir=tmp_path / "u", unroll=3, **kw)
    assert res.step == 20 and {"val_d_out", "val_rho_a"} <= set(res.best_metrics)
    assert actor.config.iterations == 1  # the inference default is chosen afterwards, on val
    with pytest.raises(ParameterError, match="unroll=0"):
        train_actor(lat, lat, run_dir=tmp_path / "v", unroll=0, **kw)

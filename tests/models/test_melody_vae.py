"""The melody VAE (EC2-VAE style): shapes, the pitch/rhythm split, weights, and a tiny training run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from collage.errors import ParameterError
from collage.models.melody_vae import MelodyVAE, MelodyVAEConfig, token_rhythm
from collage.pretrained import load_card, load_pretrained, save_pretrained, tiny_model
from collage.training.data import SegmentTensors, synthetic_segment_set
from collage.training.loop import set_threads

set_threads()


def onehot(b=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.one_hot(torch.randint(0, 130, (b, 32), generator=g), 130).float()  # (B, 32, 130)


def test_shapes_and_aspects():
    m = tiny_model("melody_vae")
    c = m.config
    assert isinstance(m, MelodyVAE) and m.z_dim == c.z_pitch + c.z_rhythm
    assert m.aspects == {"pitch": slice(0, c.z_pitch), "rhythm": slice(c.z_pitch, m.z_dim)}
    x = onehot()
    mu, std = m.encode(x)
    assert mu.shape == std.shape == (4, m.z_dim) and (std > 0).all()
    logits = m.decode(mu)
    assert logits.shape == (4, 32, 130)
    tok = m.decode_tokens(mu)
    assert tok.shape == (4, 32) and tok.dtype == torch.int64
    assert torch.equal(tok, logits.argmax(-1))
    out = m(x, teacher_forcing=True, sample=False)
    assert out["logits"].shape == (4, 32, 130) and out["rhythm_logits"].shape == (4, 32, 3)
    assert torch.equal(out["z"], out["mu"])


def test_bad_shapes_are_refused():
    m = tiny_model("melody_vae")
    with pytest.raises(ParameterError, match=r"given x.shape=\(2, 31, 130\); expected \(B, 32, 130\)"):
        m.encode(torch.zeros(2, 31, 130))
    with pytest.raises(ParameterError, match=r"given z.shape=\(2, 3\); expected \(B, 16\)"):
        m.decode(torch.zeros(2, 3))
    with pytest.raises(ParameterError, match="given z_pitch=0"):
        MelodyVAEConfig(z_pitch=0)
    with pytest.raises(ParameterError, match="expected MelodyVAEConfig"):
        MelodyVAE({"z_pitch": 8})


def test_rhythm_decoder_reads_only_z_rhythm():
    m = tiny_model("melody_vae")
    z = torch.randn(3, m.z_dim)
    z2 = z.clone()
    z2[:, m.aspects["pitch"]] = torch.randn(3, m.config.z_pitch)
    _, r1 = m.decode_full(z)
    _, r2 = m.decode_full(z2)
    torch.testing.assert_close(r1, r2)  # the rhythm ignores z_pitch
    z3 = z.clone()
    z3[:, m.aspects["rhythm"]] += 1.0
    assert not torch.allclose(m.decode_full(z3)[1], r1)


def test_teacher_forced_path_equals_free_running_on_its_own_output():
    # the whole-sequence (teacher-forced) and step-by-step GRU paths compute the same function
    m = tiny_model("melody_vae")
    z = torch.randn(5, m.z_dim)
    free_logits, free_r = m.decode_full(z)
    # rhythm decoder teacher-forced on its own free-running states; global decoder on its own tokens.
    tok = free_logits.argmax(-1)
    consistent = torch.equal(token_rhythm(tok), free_r.argmax(-1))
    tf_logits, tf_r = m.decode_full(z, tok)
    if consistent:
        torch.testing.assert_close(tf_logits, free_logits, atol=1e-5, rtol=1e-4)
    # the rhythm path alone is exactly comparable
    r_tf = m._rhythm(z[:, m.aspects["rhythm"]], free_r.argmax(-1))
    torch.testing.assert_close(r_tf, free_r, atol=1e-5, rtol=1e-4)


def test_token_dropout_blanks_only_teacher_forced_inputs():
    m = tiny_model("melody_vae")
    z = torch.randn(6, m.z_dim)
    tok = onehot(6).argmax(-1)
    plain, r_plain = m.decode_full(z, tok)
    torch.manual_seed(0)
    dropped, r_dropped = m.decode_full(z, tok, token_dropout=0.5)
    torch.testing.assert_close(r_dropped, r_plain)  # the rhythm decoder is untouched
    assert not torch.allclose(dropped, plain)
    # step 0 has no previous token, so it is the same either way
    torch.testing.assert_close(dropped[:, 0], plain[:, 0])
    # free-running decoding ignores it
    torch.testing.assert_close(m.decode_full(z, token_dropout=0.5)[0], m.decode_full(z)[0])
    for bad in (1.0, -0.1, True):
        with pytest.raises(ParameterError, match="token_dropout"):
            m.decode_full(z, tok, token_dropout=bad)


def test_save_and_load_round_trip(tmp_path):
    m = tiny_model("melody_vae", seed=3)
    pt = save_pretrained(m, "melody_vae", tmp_path, card={"training_command": "test"})
    loaded = load_pretrained(pt)
    assert load_card(pt)["config"] == json.loads(json.dumps(m.config.__dict__))
    z = torch.randn(2, m.z_dim)
    assert torch.equal(loaded.decode_tokens(z), m.decode_tokens(z))


def test_tiny_training_on_synthetic_segments_learns_and_ships(tmp_path):
    from collage.training.melody_vae import evaluate_melody_vae, ship_melody_vae, train_melody_vae

    train = SegmentTensors(synthetic_segment_set(6, n_beats=24, seed=0))
    val = SegmentTensors(synthetic_segment_set(2, n_beats=24, seed=1, split="val"))
    model, res, card = train_melody_vae(run_dir=tmp_path / "run", steps=60, batch_size=16, lr=3e-3, val_every=30,
                                        val_size=32, tiny=True, train_data=train, val_data=val, progress=False)
    assert res.step == 60 and res.best_step in (30, 60)
    lines = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    losses = [r["train"]["loss"] for r in lines if "train" in r]
    assert losses[-1] < losses[0]
    assert card["data"]["train"]["sha256"] == train.hash and card["training"]["steps_done"] == 60
    ev = evaluate_melody_vae(model, val, n=32)
    for k in ("acc_tf", "acc_free", "rhythm_acc_free", "kl_sum", "swap_rhythm_agree_donor", "swap_pc_cos_source",
              "encode_ms", "decode_ms"):
        assert np.isfinite(ev[k]), k
    assert 0 <= ev["acc_free"] <= 1
    pt = ship_melody_vae(model, card, out_dir=tmp_path / "w", eval_n=32, val_data=val)
    back = load_pretrained(pt)
    assert "val_eval" in back.card["scores"] and back.config == MelodyVAEConfig.tiny()
    # resuming a finished run is a no-op that keeps the step count
    _, res2, _ = train_melody_vae(run_dir=tmp_path / "run", steps=60, batch_size=16, lr=3e-3, val_every=30,
                                  val_size=32, tiny=True, train_data=train, val_data=val, progress=False)
    assert res2.step == 60


def test_warm_start_continues_from_given_weights(tmp_path):
    from collage.training.melody_vae import ship_melody_vae, train_melody_vae

    train = SegmentTensors(synthetic_segment_set(4, n_beats=24, seed=0))
    val = SegmentTensors(synthetic_segment_set(2, n_beats=24, seed=1, split="val"))
    kw = dict(batch_size=16, lr=3e-3, val_every=20, val_size=32, tiny=True, train_data=train, val_data=val,
              progress=False)
    model, _, card = train_melody_vae(run_dir=tmp_path / "a", steps=40, **kw)
    pt = ship_melody_vae(model, card, out_dir=tmp_path / "w", eval_n=32, val_data=val)
    first = [json.loads(x) for x in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    _, _, card2 = train_melody_vae(run_dir=tmp_path / "b", steps=20, init_from=str(pt), beta_warmup=0.0, tf_warmup=0.0,
                                   **kw)
    second = [json.loads(x) for x in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    loss = lambda lines: [r["train"]["ce"] for r in lines if "train" in r]  # noqa: E731
    assert loss(second)[0] < loss(first)[0]  # starts where the first run got to, not from scratch
    assert card2["training"]["init_from"] == str(pt) and card2["training"]["teacher_forcing_warmup"] == 0.0
    with pytest.raises(ParameterError, match="tf_warmup"):
        train_melody_vae(run_dir=tmp_path / "c", steps=2, tf_warmup=2.0, **kw)
    with pytest.raises(ParameterError, match="token_dropout"):
        train_melody_vae(run_dir=tmp_path / "c", steps=2, token_dropout=1.0, **kw)
    _, _, card3 = train_melody_vae(run_dir=tmp_path / "d", steps=4, token_dropout=0.3, **kw)
    assert card3["training"]["token_dropout"] == 0.3
    # a frozen encoder keeps the warm start's latents exactly while the decoders learn
    init = load_pretrained(pt)
    frozen, _, card4 = train_melody_vae(run_dir=tmp_path / "e", steps=20, init_from=str(pt), freeze_encoder=True,
                                        beta_warmup=0.0, tf_warmup=0.0, **kw)
    assert card4["training"]["encoder_frozen"] is True
    before, after = init.state_dict(), frozen.state_dict()
    for k in before:
        same = torch.equal(before[k], after[k])
        assert same == k.startswith(("encoder.", "to_mu.", "to_logvar.")), k
    with pytest.raises(ParameterError, match="freeze_encoder=True without init_from"):
        train_melody_vae(run_dir=tmp_path / "f", steps=2, freeze_encoder=True, **kw)


def test_cli_tiny_run_on_pop909(pop909_root, tmp_path, monkeypatch):
    from collage.cli import main

    monkeypatch.setenv("COLLAGE_POP909", str(pop909_root))
    rc = main(["train", "melody-vae", "--tiny", "--steps", "6", "--run-dir", str(tmp_path / "run"),
               "--out", str(tmp_path / "w")])
    assert rc == 0
    card = load_card(tmp_path / "w" / "melody_vae.pt")
    assert card["architecture"] == "melody_vae" and card["data"]["grid"] == "beats"
    assert card["training"]["steps_done"] == 6
    assert main(["train", "melody-vae", "--steps", "0"]) == 2


def test_shipped_weights_reconstruct(pop909_root):
    from collage.datasets.pop909 import pop909_segments

    model = load_pretrained("melody_vae")
    assert model.aspects["rhythm"].stop == model.z_dim
    data = SegmentTensors(pop909_segments("val", grid="beats", root=pop909_root))
    b = data.batch(data.fixed_subset(64, seed=7), 0, parts=("melody", "tokens"))
    with torch.no_grad():
        mu, _ = model.encode(b["melody"])
        tok = model.decode_tokens(mu)
    acc = (tok == b["tokens"]).float().mean().item()
    assert acc > 0.5, acc

"""The accompaniment VAE: shapes and contract, the piano-tree targets, the loss, a tiny training run."""

import json

import numpy as np
import pytest
import torch

from collage.errors import ParameterError
from collage.models.accomp_vae import EOS, AccompVAE, AccompVAEConfig, prmat_to_tree
from collage.pretrained import load_pretrained, save_pretrained, tiny_model
from collage.represent.accompaniment import durmat, durmat_to_notes, pianotree
from collage.represent.chord import chord_vectors
from collage.training.loop import set_threads

set_threads(1)


def _batch(b=3, seed=0):
    rng = np.random.default_rng(seed)
    prmat = np.zeros((b, 32, 128), np.float32)
    for i in range(b):
        n = rng.integers(5, 30)
        t, p, d = rng.integers(0, 32, n), rng.integers(30, 90, n), rng.integers(1, 33, n)
        prmat[i, t, p] = d
    chords = np.stack([chord_vectors(["C:maj"] * 4 + ["A:min", "N", "G:7/3", "F:maj"])] * b)
    return torch.from_numpy(chords), torch.from_numpy(prmat)


def test_interface_shapes_and_aspects():
    m = tiny_model("accomp_vae")
    c = m.config
    assert m.z_dim == c.z_chord + c.z_texture
    assert m.aspects == {"chord": slice(0, c.z_chord), "texture": slice(c.z_chord, m.z_dim)}
    chords, prmat = _batch()
    mu, std = m.encode(chords, prmat)
    assert mu.shape == std.shape == (3, m.z_dim) and (std > 0).all()
    out = m.decode(mu)
    assert out.shape == (3, 32, 128) and out.dtype == torch.long
    assert out.min() >= 0 and out.max() <= c.max_dur
    assert ((out > 0).sum(-1) <= c.max_notes).all()
    notes = durmat_to_notes(out[0].numpy())  # the fusion pipeline's path to notes
    assert notes.shape[1] == 4
    ch = m.decode_chord(mu)
    assert ch.shape == (3, 8, 36)
    root = ch[..., :12].sum(-1)
    assert ((root == 0) | (root == 1)).all()
    # a no-chord beat is all zeros; a chord beat has one root and one bass
    assert torch.equal(root, ch[..., 24:].sum(-1))


def test_encode_rejects_bad_shapes():
    m = tiny_model("accomp_vae")
    chords, prmat = _batch()
    with pytest.raises(ParameterError, match=r"given chord.shape=\(3, 7, 36\)"):
        m.encode(chords[:, :7], prmat)
    with pytest.raises(ParameterError, match=r"given prmat.shape=\(3, 32, 127\)"):
        m.encode(chords, prmat[..., :127])
    with pytest.raises(ParameterError, match="batch"):
        m.encode(chords[:2], prmat)
    with pytest.raises(ParameterError, match=r"given z.shape=\(3, 5\)"):
        m.decode(torch.zeros(3, 5))
    with pytest.raises(ParameterError, match="given z_chord=0"):
        AccompVAEConfig(z_chord=0)
    with pytest.raises(ParameterError, match="feedback_dropout"):
        AccompVAEConfig(feedback_dropout=1.0)


def test_prmat_to_tree_matches_pianotree():
    _, prmat = _batch(2, seed=3)
    pitch, dur, count = prmat_to_tree(prmat, max_notes=4)
    for i in range(2):
        notes = durmat_to_notes(prmat[i].numpy().astype(np.int64))
        tree = pianotree(notes, 32, max_notes=4)  # (32, 4, 2), pad -1
        used = tree[..., 0] >= 0
        assert np.array_equal(count[i].numpy(), used.sum(-1))
        assert np.array_equal(np.where(used, tree[..., 0], EOS), pitch[i].numpy())
        assert np.array_equal(np.where(used, tree[..., 1], 0), dur[i].numpy())


def test_teacher_forced_targets_and_loss():
    from collage.training.accomp_vae import accomp_vae_loss

    m = tiny_model("accomp_vae")
    chords, prmat = _batch()
    out = m(chords, prmat)
    pt, dt = out["pitch_target"], out["dur_target"]
    n_notes = int((prmat > 0).sum())  # tiny max_notes=4 may drop some: compare with the tree
    _, _, count = prmat_to_tree(prmat, m.config.max_notes)
    assert int((pt == EOS).sum()) == 3 * 32  # one end-of-step per step
    assert int(((pt >= 0) & (pt < 128)).sum()) == int(count.sum()) <= n_notes
    assert int((dt >= 0).sum()) == int(count.sum())
    terms = accomp_vae_loss(out, chords, beta=0.1)
    assert torch.isfinite(terms["loss"]) and terms["kl"] >= 0
    terms["loss"].backward()
    assert all(p.grad is not None for p in m.parameters())


def test_scores_on_perfect_and_empty_decodes():
    from collage.training.accomp_vae import prmat_scores

    _, prmat = _batch()
    s = prmat_scores(prmat, prmat)
    assert s["note_f1"] == s["onset_f1"] == s["pitch_acc_given_onset"] == s["dur_acc"] == 1.0
    s = prmat_scores(torch.zeros_like(prmat), prmat)
    assert s["note_f1"] == 0.0 and s["note_recall"] == 0.0


def test_save_load_roundtrip(tmp_path):
    m = tiny_model("accomp_vae")
    chords, prmat = _batch()
    pt = save_pretrained(m, "av", tmp_path)
    m2 = load_pretrained(pt)
    assert isinstance(m2, AccompVAE) and m2.config == m.config
    torch.testing.assert_close(m2.encode(chords, prmat)[0], m.encode(chords, prmat)[0])
    assert torch.equal(m2.decode(m.encode(chords, prmat)[0]), m.decode(m.encode(chords, prmat)[0]))


def test_shipped_weights_load_and_reconstruct():
    m = load_pretrained("accomp_vae")
    card = m.card
    assert card["data"]["grid"] == "beats" and "training_command" in card
    assert card["scores"]["note_f1"] > 0.3
    # a plain C major block chord on each beat comes back with its onsets mostly in place
    notes = np.array([[b * 4, 4, p, 80] for b in range(8) for p in (48, 52, 55, 60)])
    prmat = torch.from_numpy(durmat(notes, 32).astype(np.float32))[None]
    chords = torch.from_numpy(chord_vectors(["C:maj"] * 8))[None]
    mu, _ = m.encode(chords, prmat)
    out = m.decode(mu)[0]
    on = (out > 0).any(-1).numpy()
    assert on[::4].mean() >= 0.75  # onsets on the beats
    pcs = np.nonzero(out.numpy())[1] % 12
    assert np.isin(pcs, [0, 4, 7]).mean() >= 0.75


def test_tiny_training_smoke(tmp_path, pop909_root, monkeypatch):
    """The tiny model through the real training path (POP909 needed)."""
    from collage.training.accomp_vae import train_accomp_vae

    monkeypatch.setenv("COLLAGE_POP909", str(pop909_root))
    res = train_accomp_vae(run_dir=str(tmp_path / "run"), out_dir=str(tmp_path / "w"), steps=6, batch_size=8,
                           config=AccompVAEConfig.tiny(), val_size=8, eval_size=16, val_every=3, kl_warmup=3,
                           progress=False, command="pytest")
    assert res["train"]["step"] == 6 and res["train"]["finished"]
    card = json.loads((tmp_path / "w" / "accomp_vae.json").read_text())
    assert card["architecture"] == "accomp_vae" and card["training_command"] == "pytest"
    for k in ("note_f1", "onset_f1", "pitch_acc_given_onset", "dur_acc", "chord_root_acc", "kl", "disentanglement",
              "timing"):
        assert k in card["scores"]
    assert len(card["data"]["train_sha256"]) == 64
    model = load_pretrained(tmp_path / "w" / "accomp_vae.pt")
    assert model.config == AccompVAEConfig.tiny()
    # the card's scores are reproduced from the saved weights
    from collage.training.accomp_vae import evaluate_weights

    again = evaluate_weights(str(tmp_path / "w" / "accomp_vae.pt"), n=16)
    for k in ("note_f1", "onset_f1", "chord_root_acc", "kl"):
        assert again[k] == pytest.approx(card["scores"][k], rel=1e-5)
    # resuming a finished run does no more steps
    res2 = train_accomp_vae(run_dir=str(tmp_path / "run"), out_dir=None, steps=6, batch_size=8,
                            config=AccompVAEConfig.tiny(), val_size=8, eval_size=16, val_every=3, kl_warmup=3,
                            progress=False)
    assert res2["train"]["step"] == 6 and res2["weights"] is None
    # decoders only, warm-started: the encoders (so the latents) stay exactly as they were
    from collage.training.accomp_vae import ENCODER_MODULES

    res3 = train_accomp_vae(run_dir=str(tmp_path / "dec"), out_dir=str(tmp_path / "w3"), steps=4, batch_size=8,
                            val_size=8, eval_size=16, val_every=2, kl_warmup=0, progress=False,
                            init_from=str(tmp_path / "w" / "accomp_vae.pt"), freeze_encoder=True)
    after = load_pretrained(res3["weights"])
    assert after.card["training"]["encoder_frozen"] is True
    for k, v in model.state_dict().items():
        assert torch.equal(v, after.state_dict()[k]) == k.startswith(ENCODER_MODULES), k
    with pytest.raises(ParameterError, match="freeze_encoder=True without init_from"):
        train_accomp_vae(run_dir=str(tmp_path / "x"), out_dir=None, steps=2, freeze_encoder=True, progress=False)


def test_cli_rejects_bad_options(capsys):
    from collage.cli import main

    assert main(["train", "accomp-vae", "--steps", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--steps" in err


def _eos_prone():
    """A tiny model whose end-of-step logit is raised, so plain greedy decoding ends most steps early."""
    m = tiny_model("accomp_vae")
    with torch.no_grad():
        m.pitch_out.bias[EOS] += 2.0
    return m


def test_eos_bias_adds_notes_and_defaults_to_the_config():
    import dataclasses

    m = _eos_prone()
    chords, prmat = _batch()
    mu, _ = m.encode(chords, prmat)
    counts = [int((m.decode(mu, eos_bias=b) > 0).sum()) for b in (0.0, 1.5, 50.0)]
    assert counts[0] < counts[1] < counts[2] == 3 * 32 * m.config.max_notes  # a huge bias never ends a step
    m2 = AccompVAE(dataclasses.replace(m.config, eos_bias=1.5))
    m2.load_state_dict(m.state_dict())
    m2.eval()
    assert torch.equal(m2.decode(mu), m.decode(mu, eos_bias=1.5))
    assert torch.equal(m2.decode(mu, eos_bias=0.0), m.decode(mu))
    for bad in (float("nan"), float("inf"), True, "1"):
        with pytest.raises(ParameterError, match="eos_bias"):
            AccompVAEConfig(eos_bias=bad)


def test_calibrate_eos_bias_picks_the_closest_count():
    from collage.training.accomp_vae import calibrate_eos_bias

    m = _eos_prone()
    chords, prmat = _batch(b=6)
    res = calibrate_eos_bias(m, chords, prmat, grid=(0.0, 1.0, 1.5, 2.0, 50.0), batch_size=4)
    assert res["true_notes"] == pytest.approx(float((prmat > 0).sum()) / 6)
    gaps = {b: abs(d["notes"] - res["true_notes"]) for b, d in res["biases"].items()}
    assert gaps[res["chosen"]] == min(gaps.values())
    assert res["biases"][50.0]["notes"] == 32 * m.config.max_notes  # every step full
    assert res["biases"][0.0]["notes"] < res["biases"][50.0]["notes"]
    with pytest.raises(ParameterError, match="empty grid"):
        calibrate_eos_bias(m, chords, prmat, grid=())


def test_cli_accomp_eos_bias_tiny(tmp_path, pop909_root, monkeypatch, capsys):
    """`collage train accomp-eos-bias --tiny` runs the calibration on real val segments and writes no card."""
    from collage.cli import main

    monkeypatch.setenv("COLLAGE_POP909", str(pop909_root))
    out = tmp_path / "eos.json"
    assert main(["train", "accomp-eos-bias", "--tiny", "--segments", "20", "--out-json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "true notes per segment" in text and "(not written: --tiny)" in text
    res = json.loads(out.read_text())
    assert res["segments"] == 20 and len(res["biases"]) == 16 and float(res["chosen"]) in {float(b) for b in res["biases"]}

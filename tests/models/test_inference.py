"""NumPy inference (collage.models.inference) against the torch models, on the shipped weights.

The shipped ``.pt`` files read without torch must hold exactly what ``torch.load`` gives; each NumPy
model must compute what its torch module computes (to float rounding) and decode the same tokens.
The fusion pipeline's note-for-note check is in tests/fusion/test_fast_path.py.
"""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

from collage import examples
from collage.errors import ModelLoadingError, ParameterError
from collage.fusion import windows as W
from collage.models.inference import (
    AccompVAENP,
    HarmonyJudgeNP,
    LatentActorNP,
    MelodyVAENP,
    from_torch,
    load_inference,
)
from collage.pretrained import SHIPPED, load_pretrained, load_state_arrays, read_state_dict, tiny_model, weights_dir
from collage.represent.accompaniment import _durmat
from collage.represent.chord import estimate_chords
from collage.represent.melody import _melody_tokens, melody_onehot, skyline

torch.set_num_threads(1)


@pytest.mark.parametrize("name", SHIPPED)
def test_the_pt_reader_gives_what_torch_load_gives(name):
    pt = weights_dir() / f"{name}.pt"
    ours = read_state_dict(pt)
    theirs = torch.load(pt, map_location="cpu", weights_only=True)
    assert list(ours) == list(theirs)
    for k, v in theirs.items():
        assert ours[k].dtype == v.numpy().dtype and ours[k].shape == tuple(v.shape), k
        assert np.array_equal(ours[k], v.numpy()), k


def test_the_reader_checks_the_hash_and_refuses_anything_but_tensors(tmp_path):
    src = weights_dir() / "latent_actor.pt"
    bad = tmp_path / "latent_actor.pt"
    bad.write_bytes(src.read_bytes()[:-10] + b"0123456789")
    card = json.loads((weights_dir() / "latent_actor.json").read_text())
    (tmp_path / "latent_actor.json").write_text(json.dumps(card))
    with pytest.raises(ModelLoadingError, match="sha256 mismatch"):
        load_state_arrays(bad)
    evil = tmp_path / "evil.pt"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("evil/data.pkl", pickle.dumps({"w": io.BytesIO}, protocol=2))
    with pytest.raises(ModelLoadingError, match="_io.BytesIO; expected a state dict of tensors only"):
        read_state_dict(evil)
    (tmp_path / "not.pt").write_bytes(b"not a zip")
    with pytest.raises(ModelLoadingError, match="weights do not load"):
        read_state_dict(tmp_path / "not.pt")


@pytest.fixture(scope="module")
def shipped():
    names = ("melody_vae", "accomp_vae", "latent_actor", "harmony_judge")
    return {n: (load_pretrained(n), load_inference(n)) for n in names}


@pytest.fixture(scope="module")
def windows():
    """The bundled example pair as 8-beat windows: tokens, chords, pr_mat and the notes."""
    from collage.fusion.vertical import _dedupe  # the pipeline's own preparation

    mel_p, acc_p = examples.load("melody"), examples.load("accompaniment")
    mel, n = W.to_step_notes(mel_p.tracks[0], mel_p)
    mel = skyline(mel)
    acc, _ = W.to_step_notes(acc_p.tracks[0], acc_p)
    acc = _dedupe(acc, "accompaniment")
    plan = W.plan_windows(n)
    mw, aw = W.crop_windows(mel, plan), W.crop_windows(acc, plan)
    chords = estimate_chords(acc, plan.padded // 4)
    ch = np.stack([chords[s // 4: s // 4 + 8] for s in plan.starts]).astype(np.float32)
    tokens = np.stack([_melody_tokens(m, 32) for m in mw])
    prmat = np.stack([_durmat(a, 32) for a in aw]).astype(np.float32)
    return tokens, ch, prmat, mw, aw


def test_numpy_models_compute_what_the_torch_models_compute(shipped, windows):
    tokens, ch, prmat, mw, aw = windows
    (mt, mn), (at, an), (ct, cn), (jt, jn) = (shipped[k] for k in ("melody_vae", "accomp_vae", "latent_actor",
                                                                    "harmony_judge"))
    assert isinstance(mn, MelodyVAENP) and isinstance(an, AccompVAENP)
    assert isinstance(cn, LatentActorNP) and isinstance(jn, HarmonyJudgeNP)
    assert "torch" not in type(mn).__module__ and mn.engine == "numpy"
    with torch.no_grad():
        zm = mt.encode(torch.from_numpy(np.stack([melody_onehot(t) for t in tokens])))[0]
        za = at.encode(torch.from_numpy(ch), torch.from_numpy(prmat))[0]
    zm_np, za_np = mn.encode_mean(tokens), an.encode_mean(ch, prmat)
    np.testing.assert_allclose(zm_np, zm.numpy(), atol=2e-5)
    np.testing.assert_allclose(za_np, za.numpy(), atol=2e-5)
    ctl = torch.tensor([[0.3, 0.6, 0.5, 1.0]]).expand(len(tokens), 4)
    with torch.no_grad():
        a, b = ct(zm, za, ctl)
    a_np, b_np = cn(zm.numpy(), za.numpy(), ctl.numpy())
    np.testing.assert_allclose(a_np, a.numpy(), atol=2e-5)
    np.testing.assert_allclose(b_np, b.numpy(), atol=2e-5)
    assert np.array_equal(b_np[:, 128:], za.numpy()[:, 128:])  # texture kept at 1: the gate is closed
    assert cn.config.iterations == ct.config.iterations and cn.config.aspect_names == ct.config.aspect_names
    # greedy decoding: the same tokens and the same pr_mat
    assert np.array_equal(mn.decode_tokens(a.numpy()), mt.decode_tokens(a).numpy())
    assert np.array_equal(an.decode(b.numpy()), at.decode(b).numpy())
    np.testing.assert_allclose(jn.score(mw, aw), jt.score(mw, aw), atol=1e-5)


def test_decoding_fewer_steps_gives_the_same_prefix(shipped):
    mn, an = shipped["melody_vae"][1], shipped["accomp_vae"][1]
    z = np.random.default_rng(0).standard_normal((5, 256)).astype(np.float32)
    lengths = np.array([25, 32, 0, 7, 25])
    full_t, short_t = mn.decode_tokens(z), mn.decode_tokens(z, lengths=lengths)
    full_p, short_p = an.decode(z), an.decode(z, lengths=lengths)
    for i, n in enumerate(lengths):
        assert np.array_equal(short_t[i, :n], full_t[i, :n]) and (short_t[i, n:] == 129).all()
        assert np.array_equal(short_p[i, :n], full_p[i, :n]) and not short_p[i, n:].any()
    with pytest.raises(ParameterError, match="expected \\(5,\\) steps in 0..32"):
        mn.decode_tokens(z, lengths=[40] * 5)


def test_tiny_models_have_numpy_twins():
    for arch in ("melody_vae", "accomp_vae", "harmony_judge"):
        model = tiny_model(arch)
        assert from_torch(model).architecture == arch
    mt = tiny_model("melody_vae")
    mn = from_torch(mt)
    z = torch.randn(3, mt.z_dim)
    assert np.array_equal(mn.decode_tokens(z.numpy()), mt.decode_tokens(z).numpy())
    with pytest.raises(ParameterError, match="expected one of"):
        from_torch(torch.nn.Linear(2, 2))


def test_other_architectures_load_as_torch_models():
    assert isinstance(load_inference("latent_critic_pretrained"), torch.nn.Module)
    assert isinstance(load_inference("melody_vae", engine="torch"), torch.nn.Module)
    with pytest.raises(ParameterError, match="given engine='jax'"):
        load_inference("melody_vae", engine="jax")


def test_loading_and_running_the_numpy_models_imports_no_torch():
    code = ("import sys; import numpy as np; from collage.models.inference import load_inference\n"
            "for n in ('melody_vae', 'accomp_vae', 'latent_actor', 'harmony_judge'): load_inference(n)\n"
            "m = load_inference('melody_vae'); m.decode_tokens(np.zeros((1, 256), np.float32))\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_user_file_only_torch_reads_loads_as_a_torch_model(tmp_path):
    from collage.pretrained import save_pretrained, sha256_file

    model = tiny_model("latent_actor")
    pt = save_pretrained(model, "my_actor", tmp_path)
    assert isinstance(load_inference(pt), LatentActorNP)
    torch.save({k: torch.nn.Parameter(v) for k, v in model.state_dict().items()}, pt)  # parameters, not tensors
    card = json.loads(pt.with_suffix(".json").read_text())
    card["sha256"] = sha256_file(pt)
    pt.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelLoadingError, match="expected a state dict of tensors only"):
        read_state_dict(pt)
    loaded = load_inference(pt)
    assert isinstance(loaded, torch.nn.Module) and loaded.architecture == "latent_actor"
    pt.write_bytes(b"broken")
    with pytest.raises(ModelLoadingError, match="sha256 mismatch"):
        load_inference(pt)

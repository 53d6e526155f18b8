"""AutoMashUpper terms and the Pre/PostMixNet models on synthetic stems."""

import numpy as np
import pytest
import torch

from collage.errors import ParameterError
from collage.mashup.automashupper import mashability
from collage.mashup.generate import original_candidate, render_candidate
from collage.mashup.score import learned_scores, mashup_features, windows
from collage.models.mashability import (
    MashabilityConfig,
    MashabilityEnsemble,
    PostMixConfig,
    PostMixNet,
    PreMixNet,
    interval_profile,
)
from collage.pretrained import load_pretrained, save_pretrained, tiny_model

SR = 16000


def _grid(seconds, tempo=120.0):
    beats = np.arange(0.0, seconds, 60.0 / tempo)
    return beats, beats[::4]


def test_automashupper_prefers_in_key_and_in_time(clips):
    by = {c.id: c for c in clips}
    seed = clips[0]
    orig = render_candidate(original_candidate(seed, seconds=8.0, vocal_start_s=0.0), by)
    beats, downs = _grid(8.0, seed.tempo)
    s_orig = mashability({r: orig[r] for r in ("vocals", "harmonic", "percussion")}, SR, beats=beats, downbeats=downs)
    # the same stems with the harmonic a tritone away and the drums half a beat late
    shifted = dict(orig)
    from collage.audio.stretch import stretch

    shifted["harmonic"] = stretch(orig["harmonic"], SR, semitones=6)[: len(orig["harmonic"])]
    shifted["percussion"] = np.roll(orig["percussion"], int(0.25 * SR))
    s_bad = mashability({r: shifted[r] for r in ("vocals", "harmonic", "percussion")}, SR, beats=beats, downbeats=downs)
    assert s_orig["harmonic"] > s_bad["harmonic"]
    assert s_orig["rhythmic"] > s_bad["rhythmic"]
    assert s_orig["score"] > s_bad["score"]
    # maximising over shifts recovers the tritone
    best = mashability({"v": orig["vocals"], "h": shifted["harmonic"]}, SR, beats=beats, downbeats=downs, shifts=range(-6, 6))
    assert best["pairs"]["v+h"]["shift"] in (-6, 6)
    with pytest.raises(ParameterError, match="beats"):
        mashability({"v": orig["vocals"], "h": orig["harmonic"]}, SR, beats=np.array([0.0]), downbeats=np.array([0.0]))


@pytest.mark.parametrize("cls,cfg", [(PreMixNet, MashabilityConfig.tiny()), (PostMixNet, PostMixConfig.tiny())])
def test_models_shapes_and_roundtrip(tmp_path, cls, cfg):
    torch.manual_seed(0)
    net = cls(cfg).eval()
    x = torch.randn(2, cfg.n_sources, cfg.n_mels, 40)
    assert net(x).shape == (2, 2)
    s = net.score(x)
    assert s.shape == (2,) and bool(((s >= 0) & (s <= 1)).all())
    save_pretrained(net, "m", tmp_path, card={"scores": {}})
    again = load_pretrained(tmp_path / "m.pt")
    assert torch.allclose(again.score(x), s)
    with pytest.raises(ParameterError, match="expected"):
        net(torch.randn(2, cfg.n_sources + 1, cfg.n_mels, 40))


def test_sourcenets_do_not_share_weights():
    net = tiny_model("premixnet")
    a, b = net.sources[0].block1[0].weight, net.sources[1].block1[0].weight
    assert a.data_ptr() != b.data_ptr() and not torch.equal(a, b)


def test_ensemble_scores_the_mean_of_its_members_and_refuses_mixed_inputs():
    torch.manual_seed(0)
    a, b = PreMixNet(MashabilityConfig.tiny()).eval(), PreMixNet(MashabilityConfig.tiny()).eval()
    x = torch.randn(3, 3, MashabilityConfig.tiny().n_mels, 40)
    ens = MashabilityEnsemble([a, b])
    assert ens.config == a.config
    assert torch.allclose(ens.score(x), (a.score(x) + b.score(x)) / 2)
    assert not torch.allclose(a.score(x), b.score(x))  # the members differ, so the mean is not trivial
    with pytest.raises(ParameterError, match="different inputs"):
        MashabilityEnsemble([a, PostMixNet(PostMixConfig.tiny())])
    with pytest.raises(ParameterError, match="at least one"):
        MashabilityEnsemble([])


def test_learned_scores_average_windows(clips):
    by = {c.id: c for c in clips}
    audio = render_candidate(original_candidate(clips[0], seconds=10.0, vocal_start_s=0.0), by)
    feats = mashup_features(audio, SR)
    assert feats.shape[:2] == (4, 76)
    assert np.all((feats[:, 64:] >= 0) & (feats[:, 64:] <= 1))  # chroma rows, scaled by the clip's max
    assert windows(feats).shape[0] == 2 and windows(feats).shape[-1] == 256
    torch.manual_seed(0)
    net = PreMixNet(MashabilityConfig(channels=(2, 2, 4, 4), c1d=8, fc=8)).eval()
    s = learned_scores([feats, feats[..., :300]], net)
    assert s.shape == (2,) and np.all((s >= 0) & (s <= 1))


def test_interval_profile_is_transposition_invariant_and_finds_the_interval():
    torch.manual_seed(0)
    v, h = torch.rand(2, 12, 30), torch.rand(2, 12, 30)
    r, w = interval_profile(v, h)
    assert r.shape == (2, 12, 30) and w.shape == (2, 30)
    r2, _ = interval_profile(torch.roll(v, 5, dims=1), torch.roll(h, 5, dims=1))  # both up a fourth
    assert torch.allclose(r, r2, atol=1e-5)
    one = torch.zeros(1, 12, 1)
    one[0, 0, 0] = 1.0  # a C in the vocal
    e = torch.zeros(1, 12, 1)
    e[0, 4, 0] = 1.0  # an E in the harmony: a major third above
    r3, w3 = interval_profile(one, e)
    assert int(r3[0, :, 0].argmax()) == 4 and float(r3.max()) > 0.99
    _, w0 = interval_profile(one, torch.zeros(1, 12, 1))  # a silent stem weighs nothing
    assert float(w0) == 0.0 and float(w3) == 1.0


def test_harmony_branch_reads_chroma_rows(clips):
    by = {c.id: c for c in clips}
    feats = mashup_features(render_candidate(original_candidate(clips[0], seconds=8.0, vocal_start_s=0.0), by), SR)
    torch.manual_seed(0)
    cfg = MashabilityConfig(channels=(2, 2, 4, 4), c1d=8, fc=8, harmony=4)
    assert cfg.in_rows == 76
    net = PreMixNet(cfg).eval()
    assert learned_scores([feats], net).shape == (1,)
    x = torch.from_numpy(feats[None, :3].copy())
    y = x.clone()
    y[:, 1, 64:] = torch.roll(y[:, 1, 64:], 1, dims=1)  # the harmonic's chroma up a semitone
    assert not torch.allclose(net(x), net(y))  # the branch sees the chroma
    assert not feats[2:, 64:].any()  # percussion and mix carry no chroma...
    z = x.clone()
    z[:, 2, 64:] = torch.rand(1, 12, z.shape[-1])
    assert torch.allclose(net(x), net(z))  # ...and the branch never reads it
    old = PreMixNet(MashabilityConfig(channels=(2, 2, 4, 4), c1d=8, fc=8)).eval()
    assert learned_scores([feats], old).shape == (1,)  # a mel-only model reads the first 64 rows
    with pytest.raises(ParameterError, match="harmony"):
        PostMixConfig(harmony=4)
    with pytest.raises(ParameterError, match="rows"):
        learned_scores([feats[:, :64]], net)


def test_shipped_scorers_load_and_score():
    from collage.mashup.score import MODEL_NAMES, load_scorer

    torch.manual_seed(0)
    for name in MODEL_NAMES:
        model = load_scorer(name)
        x = torch.randn(2, model.config.n_sources, model.config.in_rows, 64)
        s = model.score(x)
        assert s.shape == (2,) and bool(((s >= 0) & (s <= 1)).all())

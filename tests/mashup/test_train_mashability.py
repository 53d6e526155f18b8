"""The mashability trainer end to end on a tiny fake feature cache (no rendering)."""

import dataclasses
import json

import numpy as np
import pytest

import collage.training.mashability as tm
from collage.errors import ParameterError
from collage.metrics.ranking import choose_threshold, rank_and_accuracy
from collage.models.mashability import MashabilityConfig, PostMixConfig, PreMixNet
from collage.pretrained import load_pretrained
from collage.training.mashability_data import examples_path


def _fake_cache(root, split, n_seeds, rng):
    x, label, seeds = [], [], []
    for s in range(n_seeds):
        for lab in (1, 0, -1):
            f = rng.standard_normal((4, 16, 40)).astype(np.float16)
            f[:, :4] += 2.0 if lab == 1 else 0.0  # a learnable cue
            x.append(f)
            label.append(lab)
            seeds.append(s)
    n_songs, windows = tm.DATA_SIZES[split]
    np.savez(examples_path(split, n_songs, windows, root=root), x=np.stack(x), label=np.array(label, np.int8),
             seed_index=np.array(seeds, np.int32), recipes=np.asarray("[]"), songs=np.asarray(["001", "002"]),
             data_hash=np.asarray("abc"))


@pytest.mark.parametrize("model,config,lsro", [("premix", MashabilityConfig.tiny(), True), ("postmix", PostMixConfig.tiny(), False)])
def test_train_saves_weights_with_card(tmp_path, monkeypatch, model, config, lsro):
    monkeypatch.setattr(tm, "render_split", lambda *a, **k: [])
    rng = np.random.default_rng(0)
    _fake_cache(tmp_path, "train", 12, rng)
    _fake_cache(tmp_path, "val", 4, rng)
    scores = tm.train_mashability(model, lsro=lsro, run_dir=tmp_path / "run", out_dir=tmp_path / "w", steps=12,
                                  batch=8, root=tmp_path, config=config, progress=False, command="test")
    assert 0.0 <= scores["val_accuracy"] <= 1.0 and 1.0 <= scores["val_avg_rank"] <= 2.0
    name = tm.weights_name(model, lsro)
    card = json.loads((tmp_path / "w" / f"{name}.json").read_text())
    assert card["lsro"] is lsro and card["training_command"] == "test"
    assert card["data"]["train"]["labels"]["matched_unlabeled"] == (12 if lsro else 0)
    net = load_pretrained(tmp_path / "w" / f"{name}.pt")
    assert net.config.n_sources == (3 if model == "premix" else 1)


def test_ema_saves_the_averaged_weights_and_resumes(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(tm, "render_split", lambda *a, **k: [])
    rng = np.random.default_rng(0)
    _fake_cache(tmp_path, "train", 12, rng)
    _fake_cache(tmp_path, "val", 4, rng)
    kw = dict(lsro=False, run_dir=tmp_path / "run", out_dir=tmp_path / "w", batch=8, root=tmp_path,
              config=MashabilityConfig.tiny(), progress=False, command="test", ema=0.9)
    tm.train_mashability("premix", steps=12, **kw)
    best = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    saved = load_pretrained(tmp_path / "w" / "mashability_premixnet.pt").state_dict()
    for k, v in saved.items():  # the shipped weights are the average, not the raw network
        assert torch.equal(v, best["ema"][f"module.{k}"])
    assert any(not torch.equal(v, best["model"][k]) for k, v in saved.items() if v.is_floating_point())
    card = json.loads((tmp_path / "w" / "mashability_premixnet.json").read_text())
    assert card["ema"] == 0.9
    n0 = int(torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["modules"]["ema"]["n_averaged"])
    tm.train_mashability("premix", steps=20, **kw)  # resumes the average with the network
    assert int(torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["modules"]["ema"]["n_averaged"]) == n0 + 8
    with pytest.raises(ParameterError, match="ema"):
        tm.train_mashability("premix", steps=2, **(kw | {"ema": 1.0, "run_dir": tmp_path / "run2"}))


def test_rank_and_accuracy():
    labels = np.array([1, 0, -1, -1, 1, 0, -1, -1])
    seeds = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    scores = np.array([0.9, 0.2, 0.5, 0.95, 0.7, 0.6, 0.1, 0.7])
    r = rank_and_accuracy(scores, labels, seeds)
    assert r["accuracy"] == 0.75  # seed 1: the unmatched 0.6 is above 0.5
    assert r["avg_rank"] == pytest.approx(((1 + 1) + (1 + 0.5)) / 2)


def test_choose_threshold_separates_val_scores():
    labels = np.array([1, 1, 1, 0, 0, 0])
    scores = np.array([0.40, 0.45, 0.50, 0.30, 0.35, 0.42])
    t = choose_threshold(scores, labels)
    assert np.mean((scores >= t) == (labels == 1)) == pytest.approx(5 / 6)


def test_timbre_augment_is_a_bounded_per_source_equaliser():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.5, 1.5, (4, 3, 16, 10)).astype(np.float32)
    x[0, 0, :2] = tm.FLOOR  # silent bins
    assert tm.timbre_augment(x, rng, 0.0) is x
    y = tm.timbre_augment(x, rng, 6.0)
    d = (y - x) * tm.DB_PER_UNIT
    assert np.all(y[0, 0, :2] == tm.FLOOR)  # the floor stays silent
    assert np.abs(d).max() <= 2.5 * 6.0 + 1e-4 and np.abs(d).max() > 1.0
    assert np.allclose(d, d[..., :1], atol=1e-4)  # one curve per source over all frames
    assert not np.allclose(d[:, 0, 4:], d[:, 1, 4:], atol=1e-3)  # sources get different curves


def _write_fake_split(root, split, clips, gain=1.0):
    """Write ``clips`` as songs 001, 002, ... of ``split`` under ``root`` (render_split's layout)."""
    import soundfile as sf

    for n, c in enumerate(clips, start=1):
        d = root / "stems" / split / f"{n:03d}"
        d.mkdir(parents=True)
        paths = {}
        for role in ("vocals", "harmonic", "percussion"):
            sf.write(d / f"{role}.wav", gain * c.stem(role), c.sr)
            paths[role] = str(d / f"{role}.wav")
        meta = {"song_id": n, "sr": c.sr, "key": c.key, "tempo": c.tempo, "beats": c.beats.tolist(),
                "downbeats": c.downbeats.tolist(), "paths": paths, "silent": []}
        (d / "stems.json").write_text(json.dumps(meta))


def test_timbre_mixing_draws_each_stem_from_a_render_of_its_own_song(tmp_path, monkeypatch, clips):
    """With an extra soundfont the recipes are the same; only where each stem is read from changes."""
    import collage.mashup.rendered as rendered
    import collage.training.mashability_data as md

    _write_fake_split(tmp_path, "train", clips[:4])
    _write_fake_split(rendered.timbre_root(tmp_path, "opl3"), "train", clips[:4], gain=0.5)  # "another soundfont"
    monkeypatch.setattr(md, "split_songs", lambda split, n, seed=0: [1, 2, 3, 4][:n])
    plain = md.build_examples("train", 4, root=tmp_path, seconds=6.0, windows_per_seed=2, progress=False)
    mixed = md.build_examples("train", 4, root=tmp_path, seconds=6.0, windows_per_seed=2, progress=False,
                              timbres=("opl3",))
    assert mixed.name.endswith("+opl3.npz") and mixed != plain
    with np.load(plain) as a, np.load(mixed) as b:
        ra, rb = json.loads(str(a["recipes"])), json.loads(str(b["recipes"]))
        assert np.array_equal(a["label"], b["label"]) and str(a["data_hash"]) != str(b["data_hash"])
        assert not np.array_equal(a["x"], b["x"])
    assert [{k: v for k, v in r.items() if k != "stems"} for r in rb] == ra
    roots = {"plain": 0, "opl3": 0}
    for r in rb:
        for role, cid in (("vocals", r["vocal"]), ("harmonic", r["harmonic"]), ("percussion", r["percussion"])):
            path = r["stems"][role]
            assert path.endswith(f"/train/{cid}/{role}.wav")  # the stem's own song and role
            roots["opl3" if "/timbres/opl3/" in path else "plain"] += 1
    assert roots["plain"] > 0 and roots["opl3"] > 0
    with pytest.raises(ParameterError, match="timbre='nope'"):
        rendered.timbre_root(tmp_path, "nope")


def test_time_mean_input_norm_ignores_a_static_spectral_envelope():
    import torch

    torch.manual_seed(0)
    net = PreMixNet(dataclasses.replace(MashabilityConfig.tiny(), input_norm="time_mean")).eval()
    x = torch.randn(2, 3, 16, 40)
    envelope = torch.randn(1, 3, 16, 1)  # one offset per source and mel bin, as a soundfont's timbre
    assert torch.allclose(net(x), net(x + envelope), atol=1e-5)
    plain = PreMixNet(MashabilityConfig.tiny()).eval()
    assert (plain(x) - plain(x + envelope)).abs().max() > 1e-4  # without it the output moves
    with pytest.raises(ParameterError, match="input_norm='cmn'"):
        MashabilityConfig(input_norm="cmn")


def test_protocol_set_uses_only_its_songs(tmp_path, monkeypatch, clips):
    """Clips rendered under the root beyond the protocol's song list do not enter it."""
    import collage.evaluation.mashup as ev

    _write_fake_split(tmp_path, "val", clips[:4])  # songs 001..004 of a fake 'val' split
    monkeypatch.setattr(ev, "render_split", lambda *a, **k: [])
    monkeypatch.setattr(ev, "split_songs", lambda split, n, seed=0: [1, 2, 3][:n])
    out = ev.build_protocol_set("val", n_songs=3, n_seeds=10, seconds=6.0, n_matched=0, root=tmp_path, progress=False)
    assert out.name == "val_protocol_3songs_10x0_6s.npz"
    with np.load(out) as z:
        recipes = json.loads(str(z["recipes"]))
    used = {r[k] for r in recipes for k in ("vocal", "harmonic", "percussion")}
    assert used and used <= {"001", "002", "003"}  # song 004 is on disk but not in the list


def test_unknown_timbre_fails_before_any_rendering(tmp_path, monkeypatch):
    def no_render(*a, **k):
        raise AssertionError("rendered before the timbre was checked")

    monkeypatch.setattr(tm, "render_split", no_render)
    with pytest.raises(ParameterError, match="timbre='nope'"):
        tm.train_mashability("premix", lsro=False, run_dir=tmp_path / "run", root=tmp_path, val_timbre="nope",
                             progress=False)


def test_ranking_pairs_and_rank_term(tmp_path, monkeypatch):
    labels = np.array([1, 0, -1, 1, -1, -1, 0, -1], np.int8)  # window 2 has no original
    seeds = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    assert tm.ranking_pairs(labels, seeds).tolist() == [[0, 2], [3, 4], [3, 5]]
    monkeypatch.setattr(tm, "render_split", lambda *a, **k: [])
    rng = np.random.default_rng(0)
    _fake_cache(tmp_path, "train", 12, rng)
    _fake_cache(tmp_path, "val", 4, rng)
    scores = tm.train_mashability("premix", lsro=False, run_dir=tmp_path / "run", out_dir=tmp_path / "w", steps=6,
                                  batch=8, root=tmp_path, config=MashabilityConfig.tiny(), progress=False,
                                  command="test", rank_weight=1.0)
    assert 1.0 <= scores["val_avg_rank"] <= 2.0
    card = json.loads((tmp_path / "w" / "mashability_premixnet.json").read_text())
    assert card["rank_weight"] == 1.0 and card["ranking_pairs"] == 12  # one matched per window, without LSRO too
    assert card["data"]["train"]["labels"]["matched_unlabeled"] == 0  # ...but not in the cross-entropy
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert any("rank_loss" in r.get("train", {}) for r in log)

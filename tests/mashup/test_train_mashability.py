"""The mashability trainer end to end on a tiny fake feature cache (no rendering)."""

import json

import numpy as np
import pytest

import collage.training.mashability as tm
from collage.mashup.evaluate import choose_threshold, rank_and_accuracy
from collage.models.mashability import MashabilityConfig, PostMixConfig
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


def test_protocol_set_uses_only_its_songs(tmp_path, monkeypatch, clips):
    """Clips rendered under the root beyond the protocol's song list do not enter it."""
    import soundfile as sf

    import collage.mashup.evaluate as ev
    import collage.training.mashability_data as md

    for n, c in enumerate(clips[:4], start=1):  # songs 001..004 of a fake 'val' split
        d = tmp_path / "stems" / "val" / f"{n:03d}"
        d.mkdir(parents=True)
        paths = {}
        for role in ("vocals", "harmonic", "percussion"):
            sf.write(d / f"{role}.wav", c.stem(role), c.sr)
            paths[role] = str(d / f"{role}.wav")
        meta = {"song_id": n, "sr": c.sr, "key": c.key, "tempo": c.tempo, "beats": c.beats.tolist(),
                "downbeats": c.downbeats.tolist(), "paths": paths, "silent": []}
        (d / "stems.json").write_text(json.dumps(meta))
    monkeypatch.setattr(md, "render_split", lambda *a, **k: [])
    monkeypatch.setattr(md, "split_songs", lambda split, n, seed=0: [1, 2, 3][:n])
    out = ev.build_protocol_set("val", n_songs=3, n_seeds=10, seconds=6.0, n_matched=0, root=tmp_path, progress=False)
    assert out.name == "val_protocol_3songs_10x0_6s.npz"
    with np.load(out) as z:
        recipes = json.loads(str(z["recipes"]))
    used = {r[k] for r in recipes for k in ("vocal", "harmonic", "percussion")}
    assert used and used <= {"001", "002", "003"}  # song 004 is on disk but not in the list

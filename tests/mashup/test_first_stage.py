"""The learned first stage of retrieval: NumPy inference, the shipped weights and their card, and its training."""

from __future__ import annotations

import numpy as np
import pytest

from collage.mashup.embed import DIM, EMBED_VERSION
from collage.mashup.fastscore import features_dir
from collage.mashup.firststage import N_IN, STUDENT_WEIGHT, WEIGHTS, FirstStage, pair_inputs
from collage.mashup.index import StemIndex
from collage.mashup.prior import ensure_priors
from collage.pretrained import SHIPPED, load_card, weights_dir
from collage.training.first_stage import recall_at

from . import synth


def test_numpy_first_stage_computes_what_the_torch_model_computes():
    torch = pytest.importorskip("torch")
    from collage.models.first_stage import FirstStageConfig, FirstStageNet

    torch.manual_seed(0)
    net = FirstStageNet(FirstStageConfig(n_in=N_IN, hidden=8)).eval()
    fs = FirstStage({k: v.numpy() for k, v in net.state_dict().items()})
    rng = np.random.default_rng(0)
    v, S = rng.normal(size=DIM).astype(np.float32), rng.normal(size=(20, DIM)).astype(np.float32)
    shifts, ratios = rng.integers(-3, 4, 20), rng.uniform(0.8, 1.2, 20)
    for role in ("harmonic", "percussion"):
        with torch.no_grad():
            want = net(role, torch.from_numpy(pair_inputs(v, S, shifts, ratios))).numpy()
        assert np.allclose(fs.scores(role, v, S, shifts, ratios), want, atol=1e-5)
    assert fs.scores("harmonic", v, S[:0]).shape == (0,)


def test_shipped_weights_and_card():
    assert WEIGHTS in SHIPPED and (weights_dir() / f"{WEIGHTS}.pt").stat().st_size < 200_000
    fs = FirstStage.load()
    assert FirstStage.load() is fs  # once per process
    card = load_card(WEIGHTS)
    assert card["embed_version"] == EMBED_VERSION and card["config"]["n_in"] == N_IN
    assert card["data"]["train"]["split"].startswith("POP909 train") and card["data"]["val"]["split"].startswith("POP909 val")
    assert not set(card["data"]["train"]["songs"]) & set(card["data"]["val"]["songs"])
    assert 0.0 <= card["scores"]["val_recall_at_10"]["100"] <= 1.0 and "collage train" in card["training_command"]


@pytest.mark.pop909
def test_first_stage_learned_from_train_songs_only(pop909_root):
    from collage.datasets.pop909 import split_ids

    card = load_card(WEIGHTS)
    ids = {s: {f"pop909-{i:03d}" for i in split_ids(s, four_four=True, root=pop909_root)} for s in ("train", "val")}
    assert set(card["data"]["train"]["songs"]) <= ids["train"] and set(card["data"]["val"]["songs"]) <= ids["val"]


def test_recall_at_counts_the_teachers_best_ten_inside_the_first_stages_grid():
    T = np.arange(20, dtype=np.float32).reshape(4, 5) / 20  # the best ten pairs: rows 2 and 3
    T[0, 0] = np.nan  # not a pair (one song)
    h_song, p_song = np.array([0, 1, 2, 3]), np.array([0, 5, 6, 7, 8])
    up, p = np.arange(4.0), np.arange(5.0)
    assert recall_at(up, p, T, h_song, p_song, ns=(19,)) == {19: 1.0}
    # 10 pairs: the 4 x 4 grid of the best segments (column 0 is out), its best 10 sums: (2, 0), (3, 0), (2, 1) miss
    assert recall_at(up, p, T, h_song, p_song, ns=(10,)) == {10: 0.7}
    # rows 2 and 3 scored last: a grid of 2 x 2 segments holds none of the ten; every pair holds all
    assert recall_at(-up, p, T, h_song, p_song, ns=(4, 19)) == {4: 0.0, 19: 1.0}
    assert recall_at(up, -p, T, h_song, p_song, ns=(4,)) == {4: 0.4}  # rows 2, 3 x columns 0, 1: four of ten


def test_segment_score_is_the_prior_plus_the_weighted_learned_score():
    rng = np.random.default_rng(4)
    segs = {role: {"song": np.array([0, 1, 2], np.int32), "start_s": np.zeros(3), "end_s": np.full(3, 30.0),
                   "bars": np.full(3, 8, np.int16), "vec": rng.normal(size=(3, DIM)).astype(np.float32),
                   "prior": np.array([3.0, -1.0, 0.5], np.float32)} for role in ("harmonic", "percussion")}
    index = StemIndex(["a", "b", "c"], ["C:maj"] * 3, [100.0] * 3, [60.0] * 3, segs)
    v = rng.normal(size=DIM).astype(np.float32)
    got = index.scores(v, "C:maj", 100.0, seconds=10.0)
    z = lambda x: (x - x.mean()) / (x.std() + 1e-6)  # noqa: E731
    for role in ("harmonic", "percussion"):
        idx, score, ratio, shifts = got[role]
        learned = FirstStage.load().scores(role, v, segs[role]["vec"][idx], shifts, ratio)
        assert np.allclose(score, z(segs[role]["prior"][idx]) + STUDENT_WEIGHT * z(learned), atol=1e-5)
    for g in segs.values():
        del g["prior"]
    plain = StemIndex(["a", "b", "c"], ["C:maj"] * 3, [100.0] * 3, [60.0] * 3, segs).scores(v, "C:maj", 100.0, seconds=10.0)
    assert np.allclose(plain["harmonic"][1], FirstStage.load().scores("harmonic", v, segs["harmonic"]["vec"]))


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    """Three synthetic 22 s songs built as stems."""
    return synth.song_db(tmp_path_factory.mktemp("first_stage"), 3)


@pytest.mark.slow
def test_priors_are_computed_once_and_stored_beside_the_features(small_db):
    db = small_db / "s.db"
    index = StemIndex.load(db, priors=False)
    pr = ensure_priors(db, index)
    for role in ("harmonic", "percussion"):
        assert pr[role].shape == index.segments[role]["song"].shape and np.all(np.isfinite(pr[role]))
    assert len(list(features_dir(db).glob("*/prior-*.npz"))) == 3 and (features_dir(db) / "prior_refs.json").is_file()

    class Unused:
        def vocal(self, *a, **k):
            raise AssertionError("a stored prior was computed again")

        score = vocal

    again = ensure_priors(db, index, scorer=Unused())
    loaded = StemIndex.load(db)
    for role in ("harmonic", "percussion"):
        assert np.array_equal(again[role], pr[role]) and np.array_equal(loaded.segments[role]["prior"], pr[role])


@pytest.mark.slow
def test_distillation_targets_and_training_on_a_small_db(small_db, tmp_path):
    """Every allowed pair of each query scored by the fast second stage; a short training writes weights and card."""
    from collage.training.first_stage import distillation_targets, train_first_stage

    d = small_db
    t = distillation_targets(d / "s.db", windows=1, seconds=8.0)
    assert t["queries"] and set(t["vec"]) == {"harmonic", "percussion"}
    for q in t["queries"]:
        ok = ~np.isnan(q["T"])
        assert q["T"].shape == (len(q["h"]), len(q["p"])) and ok.sum() >= 2
        assert np.all((q["T"][ok] > 0) & (q["T"][ok] < 1)) and q["v"].shape == (DIM,)
    card = train_first_stage(d / "s.db", d / "s.db", out_dir=tmp_path / "w", epochs=2, windows=1, seconds=8.0,
                             progress=False, log=lambda row: None)
    fs = FirstStage.load(tmp_path / "w" / f"{WEIGHTS}.pt")
    assert fs.card["sha256"] == card["sha256"] and len(card["history"]) == 2

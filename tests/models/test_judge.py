"""HarmonyJudge: inputs from notes (vectorised = per segment), shapes, scoring, a smoke training run."""

import numpy as np
import pytest
import torch

from collage.errors import ParameterError
from collage.models.judge import judge_inputs, pack_notes, packed_inputs
from collage.pretrained import tiny_model
from collage.represent.accompaniment import pianoroll
from collage.represent.melody import melody_onehot, melody_tokens

torch.set_num_threads(1)

MEL = np.array([[0, 4, 60, 90], [4, 2, 64, 90], [8, 8, 67, 90], [20, 12, 72, 90]])
ACC = np.array([[0, 8, 48, 64], [0, 8, 55, 64], [8, 16, 52, 64], [24, 12, 53, 64], [24, 40, 57, 64]])


def test_inputs_match_the_representations():
    mel, acc = judge_inputs([MEL, MEL[:0]], [ACC, ACC])
    assert mel.shape == (2, 32, 142) and acc.shape == (2, 2, 32, 128)
    np.testing.assert_array_equal(mel[0, :, :130].numpy(), melody_onehot(melody_tokens(MEL, 32)))
    np.testing.assert_array_equal(acc[0, 0].numpy(), pianoroll(ACC, 32, mode="onset"))
    np.testing.assert_array_equal(acc[0, 1].numpy(), pianoroll(ACC, 32, mode="frame"))
    # sounding pitch class: C at 0..3, E at 4..5, rest at 6..7, G at 8..15
    pc = mel[0, :, 130:].numpy()
    assert pc[0:4, 0].all() and pc[4:6, 4].all() and not pc[6:8].any() and pc[8:16, 7].all()
    assert mel[1, :, 129].all()  # empty melody = rests


def test_packed_equals_per_segment():
    rng = np.random.default_rng(0)
    mels, accs = [], []
    for _ in range(6):
        on = np.sort(rng.choice(32, size=5, replace=False))
        mels.append(np.stack([on, np.full(5, 3), rng.integers(50, 80, 5), np.full(5, 90)], 1))
        accs.append(np.stack([rng.integers(0, 32, 9), rng.integers(1, 20, 9), rng.integers(30, 70, 9),
                              np.full(9, 64)], 1))
    a = judge_inputs(mels, accs)
    mn, ms = pack_notes(mels)
    an, as_ = pack_notes(accs)
    b = packed_inputs(mn, ms, an, as_, 6)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y)


def test_score_and_validation():
    judge = tiny_model("harmony_judge")
    p = judge.score([MEL, MEL], [ACC, ACC[:2]])
    assert p.shape == (2,) and np.all((p >= 0) & (p <= 1))
    with pytest.raises(ParameterError, match="expected equal"):
        judge.score([MEL], [ACC, ACC])
    with pytest.raises(ParameterError, match=r"onsets .* expected in \[0, 32\)"):
        judge_inputs([MEL + [[40, 0, 0, 0]]], [ACC])
    with pytest.raises(ParameterError, match=r"shape=\(4,\)"):
        judge_inputs([np.zeros(4)], [ACC])


def test_judge_training_smoke(tmp_path, pop909_root, monkeypatch):
    from collage.pretrained import load_card, load_pretrained
    from collage.training.judge import ship_judge, train_judge

    monkeypatch.setenv("COLLAGE_POP909", str(pop909_root))
    model, res, card = train_judge(run_dir=tmp_path / "run", steps=6, batch_size=16, tiny=True, max_songs=5,
                                   val_pairs=20, val_every=3, progress=False)
    assert res.step == 6 and "val_acc" in res.best_metrics
    pt = ship_judge(model, card, out_dir=tmp_path / "w", test_pairs=20)
    c = load_card(pt)
    assert 0 <= c["scores"]["test"]["accuracy"] <= 1 and c["data"]["train_hash"]
    assert load_pretrained(pt).config == model.config

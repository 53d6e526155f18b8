"""The four networks: forward shapes, online causality, padding, step-by-step use."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from collage.arrangement.data import note_features
from collage.arrangement.neural import predict_logits, predict_parts
from collage.errors import ParameterError
from collage.models.arrange import ARCHITECTURES, batch_features
from collage.pretrained import build_model, tiny_model

ARCHS = sorted(ARCHITECTURES.values())
ONLINE = ("arrange_lstm", "arrange_transformer_dec")


def random_notes(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    on = np.sort(rng.integers(0, 24 * 40, n))
    notes = np.stack([on, rng.integers(1, 96, n), rng.integers(36, 84, n)], axis=1)
    return notes[np.lexsort((notes[:, 1], notes[:, 2], notes[:, 0]))]


def feats_of(notes, P=4, hints=True):
    return note_features(notes, n_parts=P, entry=[0, 24, 0, 48] if hints else None,
                         pitch_hints=np.array([70, 64, 58, 45]))


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("hints", [False, True])
def test_forward_shapes(arch, hints):
    cls_cfg = tiny_model(arch).config
    model = build_model(arch, type(cls_cfg).tiny(entry_hints=hints, pitch_hints=hints)).eval()
    batch = batch_features([feats_of(random_notes(30)), feats_of(random_notes(17, 1))])
    assert batch["pitch"].shape == (2, 30) and batch["entry"].shape == (2, 30, 4)
    with torch.no_grad():
        out = model(batch)
    assert out.shape == (2, 30, 4) and torch.isfinite(out).all()


@pytest.mark.parametrize("arch", ARCHS)
def test_online_causality(arch):
    """An online model's output for note i must not change when notes after i change."""
    model = tiny_model(arch, seed=1)
    a = random_notes(40, 2)
    b = a.copy()
    b[25:, 2] = 127 - b[25:, 2]  # change pitches and durations of the later notes
    b[25:, 1] = 1
    la, lb = predict_logits(model, [feats_of(a, hints=False), feats_of(b, hints=False)], batch_size=1)
    same = np.allclose(la[:25], lb[:25], atol=1e-5)
    if arch in ONLINE:
        assert same, f"{arch} looked ahead"
        assert model.online
    else:
        assert not same, f"{arch} is offline and should see later notes"
        assert not model.online


@pytest.mark.parametrize("arch", ARCHS)
def test_padding_does_not_change_outputs(arch):
    model = tiny_model(arch, seed=3)
    short, long = random_notes(12, 4), random_notes(31, 5)
    alone = predict_logits(model, [feats_of(short)], batch_size=1)[0]
    together = predict_logits(model, [feats_of(short), feats_of(long)], batch_size=2)[0]
    assert np.allclose(alone, together, atol=1e-5)


def test_lstm_step_by_step_equals_sequence():
    """The online LSTM can run note by note (a live keyboard) with its state."""
    model = tiny_model("arrange_lstm", seed=4)
    batch = batch_features([feats_of(random_notes(20, 6), hints=False)])
    with torch.no_grad():
        full = model(batch)
        state, steps = None, []
        for i in range(20):
            one = {k: (v[:, i:i + 1] if v.dim() >= 2 and k != "pitch_hint" else v) for k, v in batch.items()}
            out, state = model(one, state=state, return_state=True)
            steps.append(out)
    assert torch.allclose(full, torch.cat(steps, dim=1), atol=1e-5)


def test_transformer_chunks_long_input():
    model = tiny_model("arrange_transformer_dec")
    n = model.config.max_len * 2 + 5
    pred = predict_parts(model, random_notes(n, 7))
    assert pred.shape == (n,) and pred.min() >= 0 and pred.max() < 4


def test_predict_parts_hint_checks():
    from collage.models.arrange import LSTMConfig

    model = build_model("arrange_lstm", LSTMConfig.tiny(entry_hints=True)).eval()
    notes = random_notes(10, 8)
    with pytest.raises(ParameterError, match="takes entry hints"):
        predict_parts(model, notes)
    pred = predict_parts(model, notes, entry=[None, None, 0, None], mask_unentered=True)
    assert (pred == 2).all()  # the only part switched on
    assert predict_parts(model, notes[:0], entry=[0, 0, 0, 0]).shape == (0,)

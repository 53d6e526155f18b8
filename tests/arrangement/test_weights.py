"""The shipped arrange weights load, hash-check, fit their cards, and the evaluation runs on tiny models."""

from __future__ import annotations

import shutil

import pytest

from collage.errors import ModelLoadingError
from collage.pretrained import SHIPPED as ALL_SHIPPED
from collage.pretrained import load_card, load_pretrained, tiny_model, weights_dir

SHIPPED = [n for n in ALL_SHIPPED if n.startswith("arrange_")]


def test_weights_are_shipped_and_small():
    expected = {f"arrange_{d}_{m}" for d in ("bach", "pop909") for m in ("lstm", "bilstm", "transformer_enc", "transformer_dec")}
    assert expected <= set(SHIPPED), sorted(expected - set(SHIPPED))
    total = sum((weights_dir() / f"{n}.pt").stat().st_size for n in SHIPPED)
    assert total < 12 * 2**20


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_weights_load(name):
    model = load_pretrained(name)
    card = load_card(name)
    assert card["architecture"] == model.architecture
    assert model.config.n_parts == {"bach": 4, "pop909": 3}[card["dataset"]]
    assert model.config.entry_hints == name.endswith("_hints")
    for key in ("training_command", "data", "scores"):
        assert key in card
    assert card["training_command"].startswith("collage train arrange")
    assert card["data"]["train_sha256"] and 0 < card["scores"]["val_acc"] <= 100


def test_hash_mismatch_is_refused(tmp_path):
    name = SHIPPED[0]
    for suffix in (".pt", ".json"):
        shutil.copy(weights_dir() / f"{name}{suffix}", tmp_path / f"{name}{suffix}")
    pt = tmp_path / f"{name}.pt"
    data = bytearray(pt.read_bytes())
    data[-1] ^= 0xFF
    pt.write_bytes(bytes(data))
    with pytest.raises(ModelLoadingError, match="sha256 mismatch: expected"):
        load_pretrained(pt)


def test_evaluate_with_tiny_models():
    from collage.arrangement.evaluate import evaluate_arrange

    loaded = {"lstm": tiny_model("arrange_lstm"), "bilstm_hints": None}
    from collage.models.arrange import BiLSTMConfig
    from collage.pretrained import build_model

    loaded["bilstm_hints"] = build_model("arrange_bilstm", BiLSTMConfig.tiny(entry_hints=True)).eval()
    r = evaluate_arrange("bach", models=["lstm", "bilstm_hints", "zone_oracle"], max_pieces=2, loaded=loaded)
    assert set(r["accuracy"]) == {"lstm", "bilstm_hints", "zone_oracle"} and r["n_pieces"] == 2
    assert r["accuracy"]["zone_oracle"] > 50

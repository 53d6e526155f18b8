"""The Multitrack Music Transformer module: shapes, causality, the KV cache, registry round trip."""

import dataclasses

import numpy as np
import pytest
import torch

from collage.models.mmt import MMT, KVCache, MMTConfig
from collage.pretrained import build_model, load_pretrained, save_pretrained, tiny_model
from collage.represent import mmt as rep


def _codes(config, T, B=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(0, n, (B, T), generator=g) for n in config.vocab], -1)  # (B, T, 6)


def test_config_vocab_follows_the_representation():
    c = MMTConfig()
    assert c.vocab == rep.field_sizes(c.max_beat)
    assert c.vocab[rep.INSTRUMENT] == len(rep.INSTRUMENTS) + 1
    # a card's JSON list rebuilds the same frozen config
    assert MMTConfig(**json_round(dataclasses.asdict(c))) == c
    with pytest.raises(ValueError, match="multiple of n_heads"):
        MMTConfig(d_model=30, n_heads=4)


def json_round(d):
    import json

    return json.loads(json.dumps(d))


def test_forward_shapes_and_loss():
    m = tiny_model("mmt")
    x = _codes(m.config, 20)
    logits = m(x)
    assert [tuple(lg.shape) for lg in logits] == [(2, 20, n) for n in m.config.vocab]
    loss, per = m.loss(x)
    assert per.shape == (6,) and torch.isclose(loss, per.sum())
    # a random model's loss is about the sum of log vocab sizes
    assert abs(float(loss.detach()) - sum(np.log(m.config.vocab))) < 3


def test_causal_no_peeking():
    m = tiny_model("mmt")
    x = _codes(m.config, 16)
    y = x.clone()
    y[:, 10:] = _codes(m.config, 6, seed=1)
    a, b = m(x), m(y)
    for la, lb in zip(a, b):
        assert torch.allclose(la[:, :10], lb[:, :10], atol=1e-6)
        assert not torch.allclose(la[:, 10:], lb[:, 10:])


def test_kv_cache_matches_full_forward():
    m = tiny_model("mmt")
    x = _codes(m.config, 30, B=1)
    full = m(x)
    cache = KVCache(m.config, 1)
    first = m(x[:, :12], cache)  # prefill
    steps = [m(x[:, t:t + 1], cache) for t in range(12, 20)]  # one event at a time
    chunk = m(x[:, 20:30], cache)  # a chunk after a filled cache
    assert cache.length == 30
    for f in range(6):
        got = torch.cat([first[f]] + [s[f] for s in steps] + [chunk[f]], dim=1)
        assert torch.allclose(got, full[f], atol=1e-5)


def test_too_long_raises():
    m = tiny_model("mmt")
    with pytest.raises(ValueError, match="exceed max_seq_len"):
        m(_codes(m.config, m.config.max_seq_len + 1))


def test_padding_mask_excludes_padding():
    m = tiny_model("mmt")
    x = _codes(m.config, 12, B=1)
    mask = torch.ones(1, 12, dtype=torch.bool)
    mask[:, 8:] = False
    _, per_masked = m.loss(x, mask)
    _, per_short = m.loss(x[:, :8])
    assert torch.allclose(per_masked, per_short, atol=1e-5)


def test_registry_round_trip(tmp_path):
    m = tiny_model("mmt", seed=3)
    save_pretrained(m, "mmt_test", tmp_path, card={"note": "test"})
    back = load_pretrained(tmp_path / "mmt_test.pt")
    assert isinstance(back, MMT) and back.config == m.config
    x = _codes(m.config, 10)
    for a, b in zip(m(x), back(x)):
        assert torch.allclose(a, b)
    assert isinstance(build_model("mmt", dataclasses.asdict(MMTConfig.tiny())), MMT)

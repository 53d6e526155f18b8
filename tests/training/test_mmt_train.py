"""Training the MMT: a tiny run on synthetic arrays resumes, logs validation per field and exports a card."""

import json

import numpy as np

import collage.datasets.mmt as data
from collage.models.mmt import MMTConfig
from collage.pretrained import load_pretrained
from collage.represent import mmt as rep
from collage.training import mmt as tm


def _arrays(seed, n_pieces=4, n_notes=200):
    rng = np.random.default_rng(seed)
    pieces = []
    for _ in range(n_pieces):
        on = np.cumsum(rng.integers(1, 13, size=n_notes))
        rows = np.stack([np.full(n_notes, rep.NOTE), on // 12 + 1, on % 12 + 1, rng.integers(40, 90, n_notes) + 1,
                         rng.integers(1, 10, n_notes), rng.integers(1, 4, n_notes)], axis=1)
        pieces.append(rows)
    return {"codes": np.concatenate(pieces).astype(np.int16), "ptr": np.cumsum([0] + [n_notes] * n_pieces),
            "ids": np.array([f"pop909/{i:03d}" for i in range(n_pieces)])}


def test_tiny_run_resumes_and_exports(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "mmt_arrays", lambda split, **kw: _arrays(0 if split == "train" else 1))
    run = tmp_path / "run"
    r1 = tm.train_mmt(run, config=MMTConfig.tiny(), batch=2, max_steps=4, val_every=2, progress=False,
                      command="collage train mmt --test")
    assert r1.step == 4 and (run / "best.pt").exists()
    r2 = tm.train_mmt(run, config=MMTConfig.tiny(), batch=2, max_steps=6, val_every=2, progress=False)
    assert r2.step == 6  # resumed from step 4, not restarted
    train, val = tm.read_log(run)
    assert [v["step"] for v in val] == [2, 4, 6]
    assert set(val[0]["val"]) == {"val_loss"} | {f"val_{f}" for f in rep.FIELDS}
    pt = tm.ship(run, name="mmt_t", out_dir=tmp_path / "w")
    card = json.loads(pt.with_suffix(".json").read_text())
    assert card["training_command"] == "collage train mmt --test"
    assert card["training"]["steps_run"] == 6 and len(card["training"]["val_curve"]) == 3
    assert card["data"]["train_pieces"] == 4
    assert load_pretrained(pt).config == MMTConfig.tiny()


def test_a_new_run_starts_from_given_weights(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(data, "mmt_arrays", lambda split, **kw: _arrays(0 if split == "train" else 1))
    r1 = tm.train_mmt(tmp_path / "a", config=MMTConfig.tiny(), batch=2, max_steps=2, val_every=2, progress=False)
    pt = tm.ship(tmp_path / "a", name="mmt_a", out_dir=tmp_path / "w")
    start = load_pretrained(pt)
    # a new run from those weights takes one step away from them
    r2 = tm.train_mmt(tmp_path / "b", config=MMTConfig.tiny(), batch=2, max_steps=1, val_every=1, progress=False,
                      init_from=str(pt), ckpt_minutes=0, seed=1)  # another seed: fresh weights would differ
    assert r1.step == 2 and r2.step == 1
    ck = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    moved = [k for k, v in start.state_dict().items() if not torch.equal(v, ck["modules"]["model"][k])]
    assert moved, "one step was taken from the loaded weights"
    delta = max((v - ck["modules"]["model"][k]).abs().max().item() for k, v in start.state_dict().items())
    assert delta < 0.05  # one small step away from the start, not a fresh random model


def test_random_windows_are_valid_and_transposed():
    w = tm.Windows.__new__(tm.Windows)
    a = _arrays(2)
    w.codes, w.ptr, w.ids = a["codes"].astype(np.int64), a["ptr"], list(a["ids"])
    c = MMTConfig.tiny()
    rng = np.random.default_rng(0)
    shifts = set()
    for _ in range(30):
        win = w.random_window(0, rng, c)
        rep.validate_codes(win, max_beat=c.max_beat)
        assert len(win) <= c.max_seq_len
        first = win[win[:, rep.TYPE] == rep.NOTE][0]
        shifts.add(int(first[rep.PITCH]))
    assert len(shifts) > 3

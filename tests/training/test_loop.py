"""The shared training loop and the weights/card mechanism, on a toy registered model."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from collage.errors import ModelLoadingError
from collage.pretrained import build_model, load_card, load_pretrained, register_model, save_pretrained, tiny_model
from collage.training.loop import train_loop

torch.set_num_threads(1)


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    d_in: int = 3
    d_hidden: int = 8

    @classmethod
    def tiny(cls):
        return cls(d_hidden=2)


@register_model("toy_regressor", ToyConfig)
class Toy(torch.nn.Module):
    def __init__(self, config: ToyConfig):
        super().__init__()
        self.config = config
        self.net = torch.nn.Sequential(torch.nn.Linear(config.d_in, config.d_hidden), torch.nn.Linear(config.d_hidden, 1))

    def forward(self, x):  # (B, d_in) -> (B,)
        return self.net(x)[:, 0]


W = torch.tensor([1.0, -2.0, 0.5])


def make_run(tmp_path, max_steps, **kw):
    torch.manual_seed(0)
    model = Toy(ToyConfig())
    opt = torch.optim.Adam(model.parameters(), lr=0.05)

    def step_fn(step, rng):
        x = torch.from_numpy(rng.normal(size=(32, 3)).astype(np.float32))
        loss = ((model(x) - x @ W) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    x_val = torch.randn(64, 3, generator=torch.Generator().manual_seed(1))

    def val_fn():
        return {"val_loss": ((model(x_val) - x_val @ W) ** 2).mean().item()}

    res = train_loop({"model": model}, {"opt": opt}, step_fn, run_dir=tmp_path / "run", max_steps=max_steps,
                     val_fn=val_fn, val_every=20, ckpt_every=20, log_every=10, progress=False, **kw)
    return model, res


def test_loop_learns_logs_and_resumes(tmp_path):
    full, res_full = make_run(tmp_path / "a", 100)
    assert res_full.best_metrics["val_loss"] < 0.05
    lines = [json.loads(line) for line in (tmp_path / "a" / "run" / "log.jsonl").read_text().splitlines()]
    assert any("val" in r for r in lines) and any("train" in r for r in lines)
    # the same run in two halves gives the same weights as one go
    make_run(tmp_path / "b", 60)
    half, res_half = make_run(tmp_path / "b", 100)
    assert res_half.step == 100
    for a, b in zip(full.state_dict().values(), half.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_save_and_load_pretrained(tmp_path):
    model, _ = make_run(tmp_path, 20)
    pt = save_pretrained(model, "toy", tmp_path / "w", card={"training_command": "pytest", "scores": {"mse": 0.1}})
    card = load_card(pt)
    assert card["architecture"] == "toy_regressor" and card["config"] == {"d_in": 3, "d_hidden": 8}
    loaded = load_pretrained(pt)
    x = torch.randn(4, 3)
    torch.testing.assert_close(loaded(x), model.eval()(x))
    assert not loaded.training
    pt.write_bytes(pt.read_bytes() + b"x")  # corrupt the weights
    with pytest.raises(ModelLoadingError, match="sha256 mismatch: expected"):
        load_pretrained(pt)


def test_unknown_names_and_tiny():
    with pytest.raises(ModelLoadingError, match="no shipped weights named 'nope'"):
        load_pretrained("nope")
    with pytest.raises(ModelLoadingError, match="unknown architecture"):
        build_model("no_such_architecture")
    assert tiny_model("toy_regressor").config.d_hidden == 2

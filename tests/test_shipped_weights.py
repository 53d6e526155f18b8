"""Every shipped weight file loads through the registry, matches its card, and the package holds exactly them.

A shipped file that is missing fails here (it is not skipped): ``collage.pretrained.SHIPPED``
is the list of what the package must hold, and each name in it is loaded by a command's
default or a documented option (checked at the end for the defaults that are plain names).
"""

from __future__ import annotations

import json
import sys

import pytest
import torch

from collage import pretrained
from collage.demo import COLLAGENET_WEIGHTS
from collage.errors import ModelLoadingError
from collage.fusion.horizontal import JoinModels, actor_for_lam
from collage.fusion.vertical import FusionModels
from collage.pretrained import (
    SHIPPED,
    build_model,
    find_weights,
    flush_subnormals,
    load_pretrained,
    sha256_file,
    tiny_model,
    weights_dir,
)


def _files(folder, suffix: str) -> set[str]:
    return {p.stem for p in folder.glob(f"*{suffix}")}


def test_package_holds_exactly_the_shipped_weights():
    assert len(SHIPPED) == len(set(SHIPPED)), "a name is listed twice"
    d = weights_dir()
    for suffix in (".pt", ".json"):
        present = _files(d, suffix)
        assert not set(SHIPPED) - present, f"listed in SHIPPED but missing {suffix}: {sorted(set(SHIPPED) - present)}"
        assert not present - set(SHIPPED), f"{suffix} in {d} not listed in SHIPPED: {sorted(present - set(SHIPPED))}"
    assert pretrained.shipped_names() == sorted(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_weights_load_and_match_their_card(name):
    pt, js = weights_dir() / f"{name}.pt", weights_dir() / f"{name}.json"
    assert pt.is_file() and js.is_file(), f"shipped weights {name} missing from {weights_dir()}"
    card = json.loads(js.read_text())
    assert card["name"] == name
    assert card["sha256"] == sha256_file(pt), f"{pt}: sha256 differs from its card"
    # rebuilt from Config(**card["config"]) and loaded strictly, tensors only
    rebuilt = build_model(card["architecture"], card["config"])
    state = torch.load(pt, map_location="cpu", weights_only=True)
    rebuilt.load_state_dict(state, strict=True)
    assert card["n_parameters"] == sum(v.numel() for v in state.values())
    # and the registry's own loader gives the same model
    model = load_pretrained(name)
    assert model.architecture == card["architecture"] and not model.training
    assert model.config == type(model.config)(**card["config"]) == rebuilt.config
    assert model.card == card
    loaded = model.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], flush_subnormals(state[k])) for k in state)
    tiny = torch.finfo(torch.float32).tiny
    assert not any(((v.abs() < tiny) & (v != 0)).any() for v in loaded.values() if v.is_floating_point())


def test_subnormal_weights_are_set_to_zero_and_nothing_else_changes():
    tiny = torch.finfo(torch.float32).tiny
    t = torch.tensor([0.0, tiny / 4, -tiny / 1000, tiny, -0.5, 3.0])
    assert flush_subnormals(t).tolist() == [0.0, 0.0, 0.0, tiny, -0.5, 3.0]
    a = t.numpy()
    out = flush_subnormals(a)
    assert out.dtype == a.dtype and out.tolist() == [0.0, 0.0, 0.0, tiny, -0.5, 3.0]
    ints = torch.tensor([0, 1, 2])
    assert flush_subnormals(ints) is ints
    # the shipped PreMixNet holds some (weight decay's leftovers); the loaders give none of them
    _, arrays = pretrained.load_state_arrays("mashability_premixnet")
    assert not any(((abs(v) < tiny) & (v != 0)).any() for v in arrays.values() if v.dtype.kind == "f")


def test_a_missing_shipped_file_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "weights_dir", lambda: tmp_path)
    assert pretrained.shipped_names() == []
    with pytest.raises(ModelLoadingError, match="no shipped weights named 'latent_actor'"):
        load_pretrained("latent_actor")


def test_training_only_weights_are_found_outside_the_package():
    folder = pretrained.training_weights_dir()
    names = sorted(_files(folder, ".pt"))
    assert names, f"no training-only weights in {folder}"
    assert not set(names) & set(SHIPPED)
    for name in names:
        path = find_weights(name)
        assert path == folder / f"{name}.pt"
        card = json.loads(path.with_suffix(".json").read_text())
        assert card["sha256"] == sha256_file(path)
        model = load_pretrained(path)
        assert model.architecture == card["architecture"]
        # not loadable as a shipped name, and the message says where it is
        with pytest.raises(ModelLoadingError, match="training-only weights of that name"):
            load_pretrained(name)
    assert find_weights("melody_vae") == "melody_vae"
    with pytest.raises(ModelLoadingError, match="not shipped"):
        find_weights("no_such_weights")


def test_trainers_write_shipped_names_to_the_package_and_others_outside(tmp_path, monkeypatch):
    assert pretrained.default_save_dir("latent_actor") == weights_dir()
    monkeypatch.setenv(pretrained.TRAINING_WEIGHTS_ENV, str(tmp_path))
    assert pretrained.default_save_dir("latent_critic") == tmp_path
    assert pretrained.default_save_dir("latent_actor_lam1") == tmp_path


def test_command_defaults_are_shipped(monkeypatch):
    """The names inference code loads by default or through a documented option are all in SHIPPED.

    The loaders are called with the registry's loader replaced by a recorder (a tiny model of
    the architecture the real card names stands in where the caller uses the result).
    """
    from collage.arrangement.pipeline import NEURAL, load_arrange_model
    from collage.fusion import vertical
    from collage.mashup.score import load_scorer

    tiny = FusionModels.tiny()
    asked = []

    def record(name, **kw):  # a tiny model of the architecture the real card names
        asked.append(str(name))
        architecture = pretrained.load_card(name)["architecture"]
        return tiny.critic if architecture == "latent_critic" else tiny_model(architecture)

    # every module that holds the loader by name (``from collage.pretrained import load_pretrained``)
    import collage.fusion.horizontal  # noqa: F401  (the join loaders)
    import collage.mashup.score  # noqa: F401  (the mashup scorers)

    from collage.models import inference

    original, original_inference = pretrained.load_pretrained, inference.load_inference
    for module in [m for name, m in sys.modules.items() if name.startswith("collage")]:
        if getattr(module, "load_pretrained", None) is original:
            monkeypatch.setattr(module, "load_pretrained", record)
        if getattr(module, "load_inference", None) is original_inference:  # the NumPy models of collage fuse
            monkeypatch.setattr(module, "load_inference", lambda name, engine="numpy": record(name))
    FusionModels.load()  # collage fuse (and collage demo)
    FusionModels.load(actor="latent_actor_lam0.1")  # collage fuse --actor, the name its help gives
    vertical._resolve_judge(True)  # collage fuse: the harmony rating
    gradient_models = FusionModels(melody_vae=tiny.melody_vae, accomp_vae=tiny.accomp_vae)
    vertical._gradient(torch.zeros(1, tiny.melody_vae.z_dim), torch.zeros(1, tiny.accomp_vae.z_dim), gradient_models,
                       {"steps": 1})  # collage fuse --method gradient
    JoinModels.load()  # collage join
    JoinModels.load(actor=None, critic="join_critic")  # collage join --method lp
    for scorer in ("premixnet", "postmixnet"):  # collage mashup ... --scorer
        load_scorer(scorer)
    monkeypatch.undo()
    for lam in (0.1, 0.3, 1, 3, 10, 30):  # collage join --lam (its card's λ picks the file)
        asked.append(actor_for_lam(lam))
    for ensemble in ("satb", "pop909"):  # collage arrange --ensemble --model [--entry-hints]
        for model in NEURAL:
            asked.append(load_arrange_model(ensemble, model).card["name"])
        for model in ("lstm", "bilstm"):
            asked.append(load_arrange_model(ensemble, model, hints=True).card["name"])
    assert set(COLLAGENET_WEIGHTS) <= set(SHIPPED)  # collage demo
    assert set(asked) <= set(SHIPPED), sorted(set(asked) - set(SHIPPED))
    assert {"latent_critic_pretrained", "harmony_judge", "join_critic", "mashability_postmixnet_lsro"} <= set(asked)

"""Model weights: saving with a card, loading shipped or user weights, tiny test models.

A checkpoint is two files side by side:

- ``NAME.pt``: the model's ``state_dict`` (``torch.save`` of tensors only,
  loaded with ``weights_only=True``: no pickled classes);
- ``NAME.json``: the card: ``architecture`` (a registered name), ``config``
  (the frozen ``*Config`` dataclass as a dict), ``sha256`` of ``NAME.pt``, and
  whatever the trainer adds (training command, data split and its hash,
  measured scores).

Shipped weights live in ``collage/weights/`` inside the package and load by
name: ``load_pretrained("melody_vae")``. A model class is registered once::

    @register_model("melody_vae", MelodyVAEConfig)
    class MelodyVAE(nn.Module):
        def __init__(self, config: MelodyVAEConfig): ...

and rebuilt from its card as ``Model(Config(**card["config"]))`` (nanoGPT style).
``Config.tiny()`` gives a small configuration for fast tests
(:func:`tiny_model`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.resources
import json
import os
from pathlib import Path
from typing import Any, Callable

from collage.errors import ModelLoadingError, ParameterError

__all__ = [
    "register_model",
    "save_pretrained",
    "load_pretrained",
    "load_card",
    "update_card",
    "tiny_model",
    "build_model",
    "shipped_names",
    "weights_dir",
    "sha256_file",
]

_REGISTRY: dict[str, tuple[type, type]] = {}
#: modules that register models; imported lazily when a name is looked up
_MODEL_MODULES = (
    "collage.models.melody_vae",
    "collage.models.accomp_vae",
    "collage.models.latent_critic",
    "collage.models.judge",
    "collage.models.arrange",
    "collage.models.join_judge",
    "collage.models.mashability",
)


def register_model(name: str, config_cls: type) -> Callable[[type], type]:
    """Class decorator: register ``cls`` (built as ``cls(config_cls(...))``) under ``name``."""

    def deco(cls: type) -> type:
        if name in _REGISTRY and _REGISTRY[name][0] is not cls:
            raise ParameterError(f"architecture {name!r} is registered twice")
        _REGISTRY[name] = (cls, config_cls)
        cls.architecture = name
        return cls

    return deco


def _lookup(architecture: str) -> tuple[type, type]:
    if architecture not in _REGISTRY:
        for mod in _MODEL_MODULES:
            try:
                importlib.import_module(mod)
            except ModuleNotFoundError as e:
                if e.name != mod:  # a real import error inside an existing module
                    raise
    if architecture not in _REGISTRY:
        raise ModelLoadingError(f"unknown architecture {architecture!r}; known: {sorted(_REGISTRY)}")
    return _REGISTRY[architecture]


def build_model(architecture: str, config: dict | Any | None = None):
    """A fresh (randomly initialised) model of a registered architecture."""
    cls, config_cls = _lookup(architecture)
    if config is None:
        config = config_cls()
    elif isinstance(config, dict):
        names = {f.name for f in dataclasses.fields(config_cls)}
        unknown = sorted(set(config) - names)
        if unknown:
            raise ModelLoadingError(f"config for {architecture!r} has unknown fields {unknown}")
        config = config_cls(**config)
    return cls(config)


def tiny_model(architecture: str, *, seed: int = 0):
    """A tiny random-weight model (``Config.tiny()``) for fast tests, in eval mode."""
    import torch

    cls, config_cls = _lookup(architecture)
    torch.manual_seed(seed)
    model = cls(config_cls.tiny())
    return model.eval()


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def weights_dir() -> Path:
    """The package folder holding shipped weights."""
    return Path(str(importlib.resources.files("collage") / "weights"))


def shipped_names() -> list[str]:
    """Names of the weights shipped in the package."""
    d = weights_dir()
    return sorted(p.stem for p in d.glob("*.json") if (d / f"{p.stem}.pt").exists()) if d.is_dir() else []


def save_pretrained(model, name: str, out_dir: str | os.PathLike, *, card: dict | None = None) -> Path:
    """Write ``out_dir/name.pt`` (state_dict) and ``out_dir/name.json`` (card), atomically.

    The card gets ``name``, ``architecture``, ``config`` and ``sha256`` on top
    of what ``card`` holds. Returns the ``.pt`` path.
    """
    import torch

    from collage.io.atomic import atomic_path

    arch = getattr(model, "architecture", None)
    if arch is None:
        raise ParameterError(f"{type(model).__name__} is not a registered model (use @register_model)")
    out_dir = Path(out_dir)
    pt = out_dir / f"{name}.pt"
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(pt) as tmp:
        torch.save(state, tmp)
    full = dict(card or {})
    full.update(
        name=name,
        architecture=arch,
        config=dataclasses.asdict(model.config),
        sha256=sha256_file(pt),
        n_parameters=int(sum(v.numel() for v in state.values())),
    )
    with atomic_path(out_dir / f"{name}.json") as tmp:
        tmp.write_text(json.dumps(full, indent=2, sort_keys=False) + "\n")
    return pt


def _resolve(name_or_path: str | os.PathLike) -> tuple[Path, Path]:
    p = Path(name_or_path)
    if p.suffix in (".pt", ".json") or p.exists() or os.sep in str(name_or_path):
        pt = p.with_suffix(".pt")
        return pt, p.with_suffix(".json")
    d = weights_dir()
    pt, js = d / f"{name_or_path}.pt", d / f"{name_or_path}.json"
    if not pt.exists():
        raise ModelLoadingError(
            f"no shipped weights named {str(name_or_path)!r}; shipped: {shipped_names()} (or pass a path to a .pt file)"
        )
    return pt, js


def load_card(name_or_path: str | os.PathLike) -> dict:
    """The JSON card of shipped or user weights."""
    _, js = _resolve(name_or_path)
    try:
        return json.loads(js.read_text())
    except FileNotFoundError:
        raise ModelLoadingError(f"{js}: no card beside the weights") from None
    except (OSError, ValueError) as e:
        raise ModelLoadingError(f"{js}: unreadable card ({e})") from None


def update_card(name_or_path: str | os.PathLike, **fields) -> Path:
    """Set top-level fields of a card (e.g. ``config=...`` after an inference default was chosen), atomically.

    The weights file and its ``sha256`` are not touched. Returns the card's path.
    """
    from collage.io.atomic import atomic_path

    _, js = _resolve(name_or_path)
    card = load_card(name_or_path)
    card.update(fields)
    with atomic_path(js) as tmp:
        tmp.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
    return js


def load_pretrained(name_or_path: str | os.PathLike, *, check_hash: bool = True):
    """Load weights by shipped name or path; returns the model in eval mode.

    Raises:
        ModelLoadingError: missing files, unknown architecture, hash mismatch
            (expected vs actual quoted), or a state_dict that does not fit.
    """
    import torch

    pt, _ = _resolve(name_or_path)
    card = load_card(pt)
    if not pt.exists():
        raise ModelLoadingError(f"{pt}: no such weights file")
    if check_hash:
        actual = sha256_file(pt)
        if card.get("sha256") != actual:
            raise ModelLoadingError(f"{pt}: sha256 mismatch: expected {card.get('sha256')}, actual {actual}")
    model = build_model(card["architecture"], card.get("config") or {})
    try:
        state = torch.load(pt, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except (RuntimeError, ValueError, OSError, EOFError) as e:
        raise ModelLoadingError(f"{pt}: weights do not load ({str(e).splitlines()[0][:300]})") from None
    model.card = card
    return model.eval()

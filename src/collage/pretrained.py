"""Model weights: saving with a card, loading shipped or user weights, tiny test models.

A checkpoint is two files side by side:

- ``NAME.pt``: the model's ``state_dict`` (``torch.save`` of tensors only,
  loaded with ``weights_only=True``: no pickled classes);
- ``NAME.json``: the card: ``architecture`` (a registered name), ``config``
  (the frozen ``*Config`` dataclass as a dict), ``sha256`` of ``NAME.pt``, and
  whatever the trainer adds (training command, data split and its hash,
  measured scores).

Shipped weights live in ``collage/weights/`` inside the package and load by
name: ``load_pretrained("melody_vae")``. :data:`SHIPPED` lists them: the
weights a command loads by default or through a documented option. Weights that
only training and evaluation load (a critic trained beside its actor, a
judge used to select training steps, model variants only compared in an
evaluation) stay in the source repository's ``weights-training/`` folder
(:func:`training_weights_dir`); training and evaluation code finds them by name
with :func:`find_weights`. A model class is registered once::

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
import pickle
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from collage.errors import ModelLoadingError, ParameterError
from collage.io.atomic import atomic_path

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
    "SHIPPED",
    "training_weights_dir",
    "find_weights",
    "default_save_dir",
    "sha256_file",
    "read_state_dict",
    "load_state_arrays",
    "flush_subnormals",
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
    "collage.models.first_stage",
    "collage.models.mmt",
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
    # deferred: torch (about 1 s to import) loads on first use
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


#: The weights the package ships (``collage/weights/NAME.pt`` + ``NAME.json``): each is loaded by a
#: command's default or through a documented option. A test checks that the package holds exactly these.
SHIPPED: tuple[str, ...] = (
    # collage fuse (CollageNet, the default method): the two VAEs and the default actor
    "melody_vae",
    "accomp_vae",
    "latent_actor",
    # collage fuse --actor latent_actor_lam0.1
    "latent_actor_lam0.1",
    # collage fuse --method gradient (the critic it climbs)
    "latent_critic_pretrained",
    # collage fuse: the harmony rating of input and output windows
    "harmony_judge",
    # collage join (default actor), --lam 0.1/0.3/3/10/30, --method lp (the join critic)
    "join_actor",
    "join_actor_lam0.1",
    "join_actor_lam0.3",
    "join_actor_lam3",
    "join_actor_lam10",
    "join_actor_lam30",
    "join_critic",
    # collage arrange --ensemble satb|pop909 --model lstm|bilstm|transformer-enc|transformer-dec [--entry-hints]
    *(f"arrange_{d}_{m}" for d in ("bach", "pop909") for m in ("lstm", "bilstm", "transformer_enc", "transformer_dec")),
    *(f"arrange_{d}_{m}_hints" for d in ("bach", "pop909") for m in ("lstm", "bilstm")),
    # collage mashup score/retrieve/generate --scorer premixnet|postmixnet
    "mashability_premixnet",
    "mashability_postmixnet_lsro",
    # collage mashup retrieve (the first stage, which shortlists the pairs PreMixNet ranks)
    "mashup_first_stage",
    # collage generate, collage fuse --extend (the Multitrack Music Transformer)
    "mmt",
)

#: environment variable naming another folder of training-only weights
TRAINING_WEIGHTS_ENV = "COLLAGE_TRAINING_WEIGHTS"


def shipped_names() -> list[str]:
    """Names in :data:`SHIPPED` whose files are present in the package folder."""
    d = weights_dir()
    return sorted(n for n in SHIPPED if (d / f"{n}.pt").exists() and (d / f"{n}.json").exists())


def training_weights_dir() -> Path:
    """The folder of weights that only training and evaluation load (not in the package).

    ``$COLLAGE_TRAINING_WEIGHTS`` when set, else ``weights-training/`` at the
    root of the source repository this module runs from, else
    ``weights-training/`` in the current folder (an installed package).
    """
    env = os.environ.get(TRAINING_WEIGHTS_ENV)
    if env:
        return Path(env)
    root = Path(__file__).resolve().parents[2]  # src/collage/pretrained.py -> the repository root
    if (root / "pyproject.toml").is_file() and (root / "src" / "collage").is_dir():
        return root / "weights-training"
    return Path("weights-training")


def find_weights(name_or_path: str | os.PathLike) -> str | Path:
    """A name or path that :func:`load_pretrained` loads, for training and evaluation code.

    A path, or a name in :data:`SHIPPED`, is returned unchanged; another name
    is looked up in :func:`training_weights_dir` and its ``.pt`` path returned.

    Raises:
        ModelLoadingError: a name neither shipped nor in the training folder.
    """
    p = Path(name_or_path)
    if p.suffix in (".pt", ".json") or os.sep in str(name_or_path) or p.exists() or str(name_or_path) in SHIPPED:
        return name_or_path
    pt = training_weights_dir() / f"{name_or_path}.pt"
    if pt.exists():
        return pt
    raise ModelLoadingError(
        f"no weights named {str(name_or_path)!r}: not shipped (shipped: {', '.join(SHIPPED)}) and not in "
        f"{training_weights_dir()} (training-only weights are kept in the source repository's weights-training/; "
        f"set {TRAINING_WEIGHTS_ENV} or pass a path to a .pt file)"
    )


def default_save_dir(name: str) -> Path:
    """Where a trainer writes weights ``name`` by default: the package folder for a :data:`SHIPPED` name,
    else :func:`training_weights_dir`."""
    return weights_dir() if name in SHIPPED else training_weights_dir()


def save_pretrained(model, name: str, out_dir: str | os.PathLike, *, card: dict | None = None) -> Path:
    """Write ``out_dir/name.pt`` (state_dict) and ``out_dir/name.json`` (card), atomically.

    The card gets ``name``, ``architecture``, ``config`` and ``sha256`` on top
    of what ``card`` holds. Returns the ``.pt`` path.
    """
    # deferred: torch (about 1 s to import) loads on first use
    import torch


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
        extra = training_weights_dir() / f"{name_or_path}.pt"
        hint = f"; training-only weights of that name are at {extra}" if extra.exists() else ""
        raise ModelLoadingError(
            f"no shipped weights named {str(name_or_path)!r}; shipped: {shipped_names()} (or pass a path to a .pt file)"
            + hint
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
    _, js = _resolve(name_or_path)
    card = load_card(name_or_path)
    card.update(fields)
    with atomic_path(js) as tmp:
        tmp.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
    return js


def _checked(name_or_path: str | os.PathLike, check_hash: bool) -> tuple[Path, dict]:
    """The weights file and its card; the file must exist and (``check_hash``) match the card's sha256."""
    pt, _ = _resolve(name_or_path)
    card = load_card(pt)
    if not pt.exists():
        raise ModelLoadingError(f"{pt}: no such weights file")
    if check_hash:
        actual = sha256_file(pt)
        if card.get("sha256") != actual:
            raise ModelLoadingError(f"{pt}: sha256 mismatch: expected {card.get('sha256')}, actual {actual}")
    return pt, card


def flush_subnormals(t):
    """A float tensor (torch or NumPy) with its subnormal values (nonzero, below the dtype's smallest normal, e.g. 1.2e-38 in float32)
    set to zero; any other value or tensor as it is.

    Why: weight decay leaves a few weights this small (155 of the shipped PreMixNet's 92,298), and a CPU multiplies by
    a subnormal number in a slow microcode path: one such weight in a matrix made PreMixNet's 64 x 32 head layer
    about 150x slower on one core (docs/results/subnormal_weights.md). Zero changes no output: a subnormal weight's
    product is below float32's resolution of any sum it joins.
    """
    if isinstance(t, np.ndarray):
        return np.where(np.abs(t) < np.finfo(t.dtype).tiny, 0, t).astype(t.dtype) if t.dtype.kind == "f" else t
    import torch

    if not (torch.is_tensor(t) and t.is_floating_point()):
        return t
    return torch.where(t.abs() < torch.finfo(t.dtype).tiny, torch.zeros_like(t), t)


def load_pretrained(name_or_path: str | os.PathLike, *, check_hash: bool = True):
    """Load weights by shipped name or path; returns the model in eval mode.

    Raises:
        ModelLoadingError: missing files, unknown architecture, hash mismatch
            (expected vs actual quoted), or a state_dict that does not fit.
    """
    # deferred: torch (about 1 s to import) loads on first use
    import torch

    pt, card = _checked(name_or_path, check_hash)
    model = build_model(card["architecture"], card.get("config") or {})
    try:
        state = torch.load(pt, map_location="cpu", weights_only=True)
        model.load_state_dict({k: flush_subnormals(v) for k, v in state.items()})
    except (RuntimeError, ValueError, OSError, EOFError) as e:
        raise ModelLoadingError(f"{pt}: weights do not load ({str(e).splitlines()[0][:300]})") from None
    model.card = card
    return model.eval()


# -- reading a checkpoint without torch ---------------------------------------------------------
#: torch storage class -> NumPy dtype: what a shipped state dict holds (``torch.save``'s zip format)
_STORAGE_DTYPES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "LongStorage": "<i8",
                   "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
                   "BoolStorage": "?"}


class _Storage(str):
    """A storage class name in the pickle (the dtype of the tensors that reference it)."""


class _StateUnpickler(pickle.Unpickler):
    """The tensors-only pickle of ``torch.save`` (what ``weights_only=True`` accepts for a state dict):
    tensors rebuilt as NumPy arrays from the archive's storage records; any other global is refused."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, path: Path):
        super().__init__(file)
        self.archive, self.prefix, self.path = archive, prefix, path
        self.storages: dict[str, np.ndarray] = {}

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return dict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return self._rebuild
        if module == "torch" and name in _STORAGE_DTYPES:
            return _Storage(name)
        raise ModelLoadingError(f"{self.path}: holds {module}.{name}; expected a state dict of tensors only")

    def persistent_load(self, pid):
        kind, storage, key, _location, _numel = pid
        if kind != "storage" or not isinstance(storage, _Storage):
            raise ModelLoadingError(f"{self.path}: unexpected record {kind!r}; expected tensor storages only")
        if key not in self.storages:
            raw = self.archive.read(f"{self.prefix}data/{key}")
            self.storages[key] = np.frombuffer(raw, dtype=_STORAGE_DTYPES[storage])
        return self.storages[key]

    @staticmethod
    def _rebuild(storage, offset, size, stride, *_):
        item = storage.itemsize
        return np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                               strides=tuple(s * item for s in stride)).copy()


def read_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A ``.pt`` state dict (``torch.save`` of tensors only) as NumPy arrays, without importing torch.

    Reads the zip format torch has written since 1.6 (``data.pkl`` and one record per storage),
    accepting only what ``torch.load(..., weights_only=True)`` accepts for a state dict of tensors.

    Raises:
        ModelLoadingError: not such a file (quoted).
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            pkl = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if len(pkl) != 1:
                raise ModelLoadingError(f"{path}: not a torch.save zip archive (no single data.pkl)")
            prefix = pkl[0][: -len("data.pkl")]
            order = archive.read(f"{prefix}byteorder").decode() if f"{prefix}byteorder" in archive.namelist() \
                else "little"
            if order.strip() != "little":
                raise ModelLoadingError(f"{path}: byte order {order.strip()!r}; expected little")
            with archive.open(pkl[0]) as f:
                state = _StateUnpickler(f, archive, prefix, path).load()
    except (zipfile.BadZipFile, OSError, EOFError, pickle.UnpicklingError, KeyError, ValueError, TypeError) as e:
        raise ModelLoadingError(f"{path}: weights do not load ({str(e).splitlines()[0][:300]})") from None
    if not isinstance(state, dict) or not all(isinstance(v, np.ndarray) for v in state.values()):
        raise ModelLoadingError(f"{path}: expected a state dict of tensors")
    return state


def load_state_arrays(name_or_path: str | os.PathLike, *, check_hash: bool = True) -> tuple[dict, dict[str, np.ndarray]]:
    """The card and the state dict as NumPy arrays of shipped or user weights, without torch.

    The same files and the same sha256 check as :func:`load_pretrained`; what the NumPy
    inference models (:mod:`collage.models.inference`) are built from.

    Raises:
        ModelLoadingError: missing files or a hash mismatch (expected vs actual quoted).
    """
    pt, card = _checked(name_or_path, check_hash)
    return card, {k: flush_subnormals(v) for k, v in read_state_dict(pt).items()}

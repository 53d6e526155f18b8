"""Training the learned key model of :mod:`collage.audio.analyze` (profile ``'pop909-octaves'``).

A clip's octave chroma (:func:`~collage.audio.analyze.octave_chroma`, cube-root compressed,
scaled to mean 1) is rotated to each of the 12 tonics and each rotation is scored for major and
minor by one function shared over the tonics (:func:`~collage.audio.analyze.octave_scores`), so
the model is transposition-equivariant by construction; the 24 scores go through a softmax. The
function is either linear -- a key profile per octave, ``W (2, 7, 12)`` (major, minor; octaves
C1..B7; pitch classes relative to the tonic) and a bias per mode -- or a small ReLU network on the
84 rotated values (``hidden`` units). Unlike a 12-bin profile either can weigh registers
differently (the bass plays the tonic, which is what separates a major key from its relative
minor); the network can also weigh combinations (a tonic bass *and* a leading tone).

Data: the rendered POP909 train clips of the mashup pipeline (30 s; the annotated key sounding
longest in the clip; :func:`collage.training.mashability_data.render_split`), each seen three
times: vocals + harmonic (what :func:`~collage.audio.analyze.analyze` hears), and each of the two
stems alone (what ``collage mashup score`` compares).
Cross-entropy with an L2 penalty, full-batch Adam; the linear model starts from the ``pop909``
profile repeated over the octaves, the network from a seeded random start. The form (linear or
a hidden size) and the L2 weight are chosen by 5-fold cross-validation over songs (MIREX
weighted score, mean over the three inputs); a network is chosen only when it beats the best
linear model by :data:`NONLINEAR_MARGIN`, since the simpler model is preferred on a near tie.

>>> card = train_key_model(out="src/collage/audio/key_model.json")
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from collage.audio.analyze import (
    CHROMA_COMPRESSION,
    KEY_PROFILES,
    key_from_octaves,
    key_name,
    key_score,
    octave_cqt,
    octave_features,
    octave_scores,
    octaves_of_cqt,
    parse_key,
    tonic_rotations,
)
from collage.errors import ParameterError
from collage.mashup.rendered import DATA_ROOT, load_rendered_clips, render_split, split_songs

__all__ = ["clip_octaves", "fit_key_model", "cross_validate", "choose_form", "train_key_model", "INPUTS", "WEIGHT_DECAYS",
           "HIDDEN_SIZES", "NONLINEAR_MARGIN"]

log = logging.getLogger(__name__)

WEIGHT_DECAYS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
HIDDEN_SIZES = (0, 16, 32)  # 0 = linear
NONLINEAR_MARGIN = 0.010  # cross-validated MIREX score a network must gain over the linear model


#: the inputs a key is estimated from: a clip's pitched part, or one stem alone
INPUTS = ("tonal", "vocals", "harmonic")


def clip_octaves(split: str = "train", n_songs: int = 694, *, root=None, progress: bool = True):
    """``(octaves {input: (N, 7, 12)}, keys (N,) str, songs (N,) int)`` of the rendered clips of
    ``split``, for each of :data:`INPUTS` (``tonal`` = vocals + harmonic); rendered first where
    missing; clips with a silent stem left out; cached in ``root``."""

    root = DATA_ROOT if root is None else root
    render_split(split, n_songs, root=root)
    clips = load_rendered_clips(split, root=root, songs=split_songs(split, n_songs))
    cache = Path(root) / f"key_octaves_{split}_{n_songs}.npz"
    if cache.is_file():
        with np.load(cache) as z:
            if z["songs"].tolist() == [int(c.id) for c in clips] and all(f"octaves_{i}" in z.files for i in INPUTS):
                return {i: z[f"octaves_{i}"] for i in INPUTS}, z["keys"], z["songs"]
    octs = {i: [] for i in INPUTS}
    keys, songs = [], []
    for n, c in enumerate(clips):
        cv, ch = (octave_cqt(sf.read(c.stems[r], dtype="float32")[0], c.sr) for r in ("vocals", "harmonic"))
        for i, C in zip(INPUTS, (cv + ch, cv, ch)):  # the CQT is linear: that of vocals + harmonic is the sum
            octs[i].append(octaves_of_cqt(C))
        keys.append(c.key)
        songs.append(int(c.id))
        if progress and (n + 1) % 100 == 0:
            log.info("octave chroma of %d/%d %s clips", n + 1, len(clips), split)
    octs = {i: np.asarray(o) for i, o in octs.items()}
    np.savez(cache, keys=np.asarray(keys), songs=np.asarray(songs), **{f"octaves_{i}": o for i, o in octs.items()})
    return octs, np.asarray(keys), np.asarray(songs)


def _rotations(octaves: np.ndarray):
    """``(N, 7, 12)`` raw octave chroma → ``(N, 12, 7, 12)`` float32 tensor: the model's input
    rotated to each candidate tonic (:func:`~collage.audio.analyze.tonic_rotations`)."""


    return torch.from_numpy(tonic_rotations(octave_features(octaves)).astype(np.float32))


def _labels(keys) -> np.ndarray:
    out = []
    for k in keys:
        tonic, mode = parse_key(str(k))
        out.append(tonic + 12 * (mode == "minor"))
    return np.asarray(out)


def fit_key_model(octaves: np.ndarray, keys, *, hidden: int = 0, weight_decay: float = 1e-2, epochs: int = 1000,
                  lr: float = 0.01, seed: int = 0) -> dict:
    """The arrays of :func:`~collage.audio.analyze.octave_scores` fitted to raw octave chroma ``(N, 7, 12)``
    and their key labels: linear (``hidden=0``: ``W (2, 7, 12)``, ``b (2,)``) or a network with
    ``hidden`` ReLU units (``W1 (hidden, 7, 12)``, ``b1``, ``W2 (2, hidden)``, ``b2``)."""


    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 0:
        raise ParameterError(f"given hidden={hidden!r}; expected an int >= 0 (0 = linear)")
    g = torch.Generator().manual_seed(seed)
    x = _rotations(octaves)
    y = torch.from_numpy(_labels(keys))
    if hidden:
        params = {"W1": 0.1 * torch.randn(hidden, 7, 12, generator=g), "b1": torch.zeros(hidden),
                  "W2": 0.1 * torch.randn(2, hidden, generator=g), "b2": torch.zeros(2)}
    else:
        prof = torch.tensor(KEY_PROFILES["pop909"], dtype=torch.float32)
        params = {"W": 3.0 * (prof - prof.mean(1, keepdim=True))[:, None, :].repeat(1, 7, 1), "b": torch.zeros(2)}
    params = {k: torch.nn.Parameter(v) for k, v in params.items()}
    opt = torch.optim.Adam(params.values(), lr=lr)
    for _ in range(epochs):
        penalty = sum((v**2).sum() for k, v in params.items() if k.startswith("W"))
        loss = torch.nn.functional.cross_entropy(octave_scores(x, params).reshape(len(y), 24), y) + weight_decay * penalty
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: v.detach().numpy().astype(np.float64) for k, v in params.items()}


def _score(true_keys, octaves, model=None, profile: str = "pop909") -> float:
    """Mean MIREX weighted score of the keys found in ``octaves`` (by a ``model`` dict, else the 12-bin profile)."""
    found = [key_name(*key_from_octaves(o, profile, model=model)[:2]) for o in octaves]
    return float(np.mean([key_score(str(t), f) for t, f in zip(true_keys, found)]))


def _form_name(hidden: int) -> str:
    return "linear" if hidden == 0 else f"mlp{hidden}"


def cross_validate(octaves: dict, keys, songs, *, weight_decays=WEIGHT_DECAYS, hiddens=HIDDEN_SIZES, folds: int = 5,
                   seed: int = 0) -> dict:
    """``{input: {"profile": score, (form, weight_decay): score}}``: MIREX scores on held-out songs
    (folds over songs) of a model of each form (``hiddens``; 0 = linear) fitted to all inputs of the
    other folds, per input of ``octaves`` (``{input: (N, 7, 12)}``), beside the ``pop909`` 12-bin
    profile on the same clips."""
    fold = np.random.default_rng(seed).integers(folds, size=int(np.max(songs)) + 1)[songs]
    names = list(octaves)
    out = {i: {"profile": round(_score(keys, octaves[i]), 4)} for i in names}
    for hidden in hiddens:
        for wd in weight_decays:
            s = {i: np.zeros(len(keys)) for i in names}
            for f in range(folds):
                tr, te = fold != f, fold == f
                model = fit_key_model(np.concatenate([octaves[i][tr] for i in names]),
                                      np.concatenate([keys[tr]] * len(names)), hidden=hidden, weight_decay=wd)
                for i in names:
                    s[i][te] = _score(keys[te], octaves[i][te], model)
            for i in names:
                out[i][(hidden, wd)] = round(float(s[i].mean()), 4)  # clip-weighted mean over folds
            log.info("%s, weight decay %g: cross-validated %s", _form_name(hidden), wd,
                     ", ".join(f"{i} {out[i][(hidden, wd)]:.4f}" for i in names))
    return out


def choose_form(cv: dict, *, margin: float = NONLINEAR_MARGIN) -> tuple[int, float, dict]:
    """``(hidden, weight_decay, {form: best mean})`` from :func:`cross_validate`'s table: the best
    (form, weight decay) by the mean over inputs, except that a network must beat the best linear
    model by ``margin`` (else the best linear one is kept)."""
    mean = {k: float(np.mean([cv[i][k] for i in cv])) for k in next(iter(cv.values())) if k != "profile"}
    best = {h: max((k for k in mean if k[0] == h), key=mean.get) for h in sorted({k[0] for k in mean})}
    nets = [k for h, k in best.items() if h]
    net = max(nets, key=mean.get) if nets else None
    linear = best.get(0)
    pick = net if linear is None or (net is not None and mean[net] >= mean[linear] + margin) else linear
    return pick[0], pick[1], {_form_name(h): round(mean[k], 4) for h, k in best.items()}


def train_key_model(*, out: str | Path, root=None, n_songs: int = 694, hiddens=HIDDEN_SIZES,
                    weight_decays=WEIGHT_DECAYS, command: str | None = None) -> dict:
    """Cross-validate the form and the L2 weight (:func:`choose_form`), fit the choice on all clips
    and inputs, write ``out`` (arrays + card); returns the card."""
    octaves, keys, songs = clip_octaves("train", n_songs, root=root)
    cv = cross_validate(octaves, keys, songs, hiddens=hiddens, weight_decays=weight_decays)
    hidden, wd, form_means = choose_form(cv)
    model = fit_key_model(np.concatenate([octaves[i] for i in INPUTS]), np.concatenate([keys] * len(INPUTS)),
                          hidden=hidden, weight_decay=wd)
    card = {
        "description": "learned key model over octave chroma, shared over the tonics (collage.audio.analyze, "
                       f"profile 'pop909-octaves'): {_form_name(hidden)}",
        "training_command": command or " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).name, *sys.argv[1:]]),
        "data": {"clips": int(len(keys)), "songs": int(len(set(songs.tolist()))),
                 "split": "POP909 train, 4/4 songs rendered to stems (30 s, FluidR3_GM / TimGM6mb, 16 kHz)",
                 "inputs": "each clip three times: vocals + harmonic, vocals alone, harmonic alone",
                 "label": "key_audio.txt key sounding longest in the clip"},
        "fit": {"form": _form_name(hidden), "hidden": hidden, "weight_decay": wd, "epochs": 1000, "lr": 0.01,
                "optimizer": "Adam, full batch",
                "init": "seeded random (0.1 N(0, 1))" if hidden else "pop909 profile (centred, x3) in every octave",
                "compression": CHROMA_COMPRESSION},
        "scores": {"cross_validated_mirex": {i: {("profile pop909 (12 bins)" if k == "profile" else
                                                  f"{_form_name(k[0])}, weight decay {k[1]:g}"): v
                                                 for k, v in cv[i].items()} for i in INPUTS},
                   "best_mean_over_inputs": form_means,
                   "rule": f"the best (form, weight decay) by the mean over inputs; a network only when it beats the "
                           f"best linear model by {NONLINEAR_MARGIN}",
                   "folds": "5, over songs, seed 0"},
        "model": {k: np.round(v, 5).tolist() for k, v in model.items()},
    }
    Path(out).write_text(json.dumps(card, indent=1) + "\n")
    log.info("wrote %s (%s, weight decay %g)", out, _form_name(hidden), wd)
    return card

"""Training the learned key model of :mod:`collage.audio.analyze` (profile ``'pop909-octaves'``).

The model is a key profile per octave: weights ``W (2, 7, 12)`` (major, minor; octaves C1..B7;
pitch classes relative to the tonic) and a bias per mode. A clip's octave chroma
(:func:`~collage.audio.analyze.octave_chroma`, cube-root compressed, scaled to mean 1) is
rotated to each of the 12 tonics and scored by a dot product, so the model is
transposition-equivariant by construction; the 24 scores go through a softmax. Unlike a
12-bin profile it can weigh registers differently (the bass plays the tonic, which is what
separates a major key from its relative minor).

Data: the rendered POP909 train clips of the mashup pipeline (30 s; the annotated key sounding
longest in the clip; :func:`collage.training.mashability_data.render_split`), each seen three
times: vocals + harmonic (what :func:`~collage.audio.analyze.analyze` hears), and each of the two
stems alone (what ``collage mashup score`` compares).
Cross-entropy with an L2 penalty, full-batch Adam from the ``pop909`` profile repeated over the
octaves. The L2 weight is chosen by 5-fold cross-validation over songs (MIREX weighted score).

>>> card = train_key_model(out="src/collage/audio/key_model.json")
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
from pathlib import Path

import numpy as np

__all__ = ["clip_octaves", "fit_key_model", "cross_validate", "train_key_model", "INPUTS", "WEIGHT_DECAYS"]

log = logging.getLogger(__name__)

WEIGHT_DECAYS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)


#: the inputs a key is estimated from: a clip's pitched part, or one stem alone
INPUTS = ("tonal", "vocals", "harmonic")


def clip_octaves(split: str = "train", n_songs: int = 694, *, root=None, progress: bool = True):
    """``(octaves {input: (N, 7, 12)}, keys (N,) str, songs (N,) int)`` of the rendered clips of
    ``split``, for each of :data:`INPUTS` (``tonal`` = vocals + harmonic); rendered first where
    missing; clips with a silent stem left out; cached in ``root``."""
    import soundfile as sf

    from collage.audio.analyze import octave_chroma
    from collage.mashup.evaluate import load_rendered_clips
    from collage.training.mashability_data import DATA_ROOT, render_split, split_songs

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
        v, h = (sf.read(c.stems[r], dtype="float32")[0] for r in ("vocals", "harmonic"))
        for i, y in zip(INPUTS, (v + h, v, h)):
            octs[i].append(octave_chroma(y, c.sr))
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
    import torch

    from collage.audio.analyze import octave_features, tonic_rotations

    return torch.from_numpy(tonic_rotations(octave_features(octaves)).astype(np.float32))


def _labels(keys) -> np.ndarray:
    from collage.audio.analyze import parse_key

    out = []
    for k in keys:
        tonic, mode = parse_key(str(k))
        out.append(tonic + 12 * (mode == "minor"))
    return np.asarray(out)


def fit_key_model(octaves: np.ndarray, keys, *, weight_decay: float = 1e-2, epochs: int = 1000, lr: float = 0.01,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(W (2, 7, 12), b (2,))`` fitted to raw octave chroma ``(N, 7, 12)`` and their key labels."""
    import torch

    from collage.audio.analyze import KEY_PROFILES

    torch.manual_seed(seed)
    x = _rotations(octaves)
    y = torch.from_numpy(_labels(keys))
    prof = torch.tensor(KEY_PROFILES["pop909"], dtype=torch.float32)
    W = torch.nn.Parameter(3.0 * (prof - prof.mean(1, keepdim=True))[:, None, :].repeat(1, 7, 1))
    b = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.Adam([W, b], lr=lr)
    for _ in range(epochs):
        logits = torch.einsum("ntoc,moc->nmt", x, W).reshape(len(y), 24) + b.repeat_interleave(12)
        loss = torch.nn.functional.cross_entropy(logits, y) + weight_decay * (W**2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return W.detach().numpy().astype(np.float64), b.detach().numpy().astype(np.float64)


def _score(true_keys, octaves, model=None, profile: str = "pop909") -> float:
    """Mean MIREX weighted score of the keys found in ``octaves`` (by ``model`` = (W, b), else the 12-bin profile)."""
    from collage.audio.analyze import key_from_octaves, key_name
    from collage.mashup.validate import _key_score

    found = [key_name(*key_from_octaves(o, profile, model=model)[:2]) for o in octaves]
    return float(np.mean([_key_score(str(t), f) for t, f in zip(true_keys, found)]))


def cross_validate(octaves: dict, keys, songs, *, weight_decays=WEIGHT_DECAYS, folds: int = 5, seed: int = 0) -> dict:
    """``{input: {"profile": score, weight_decay: score}}``: MIREX scores on held-out songs (folds over
    songs) of a model fitted to all inputs of the other folds, per input of ``octaves``
    (``{input: (N, 7, 12)}``), beside the ``pop909`` 12-bin profile on the same clips."""
    fold = np.random.default_rng(seed).integers(folds, size=int(np.max(songs)) + 1)[songs]
    names = list(octaves)
    out = {i: {"profile": round(_score(keys, octaves[i]), 4)} for i in names}
    for wd in weight_decays:
        s = {i: np.zeros(len(keys)) for i in names}
        for f in range(folds):
            tr, te = fold != f, fold == f
            model = fit_key_model(np.concatenate([octaves[i][tr] for i in names]),
                                  np.concatenate([keys[tr]] * len(names)), weight_decay=wd)
            for i in names:
                s[i][te] = _score(keys[te], octaves[i][te], model)
        for i in names:
            out[i][wd] = round(float(s[i].mean()), 4)  # clip-weighted mean over folds
        log.info("weight decay %g: cross-validated %s", wd, ", ".join(f"{i} {out[i][wd]:.4f}" for i in names))
    return out


def train_key_model(*, out: str | Path, root=None, n_songs: int = 694, command: str | None = None) -> dict:
    """Cross-validate the L2 weight (best mean over :data:`INPUTS`), fit on all clips and inputs,
    write ``out`` (weights + card); returns the card."""
    from collage.audio.analyze import CHROMA_COMPRESSION

    octaves, keys, songs = clip_octaves("train", n_songs, root=root)
    cv = cross_validate(octaves, keys, songs)
    wd = max(WEIGHT_DECAYS, key=lambda w: np.mean([cv[i][w] for i in INPUTS]))
    W, b = fit_key_model(np.concatenate([octaves[i] for i in INPUTS]), np.concatenate([keys] * len(INPUTS)),
                         weight_decay=wd)
    card = {
        "description": "learned key profile per octave (collage.audio.analyze, profile 'pop909-octaves')",
        "training_command": command or " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).name, *sys.argv[1:]]),
        "data": {"clips": int(len(keys)), "songs": int(len(set(songs.tolist()))),
                 "split": "POP909 train, 4/4 songs rendered to stems (30 s, FluidR3_GM / TimGM6mb, 16 kHz)",
                 "inputs": "each clip three times: vocals + harmonic, vocals alone, harmonic alone",
                 "label": "key_audio.txt key sounding longest in the clip"},
        "fit": {"weight_decay": wd, "epochs": 1000, "lr": 0.01, "optimizer": "Adam, full batch",
                "init": "pop909 profile (centred, x3) in every octave", "compression": CHROMA_COMPRESSION},
        "scores": {"cross_validated_mirex": {i: {("profile pop909 (12 bins)" if k == "profile" else f"weight decay {k:g}"): v
                                                 for k, v in cv[i].items()} for i in INPUTS},
                   "folds": "5, over songs, seed 0"},
        "weights": np.round(W, 5).tolist(),
        "bias": np.round(b, 5).tolist(),
    }
    Path(out).write_text(json.dumps(card, indent=1) + "\n")
    log.info("wrote %s (weight decay %g)", out, wd)
    return card

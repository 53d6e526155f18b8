"""Training PreMixNet / PostMixNet (Huang et al., AAAI 2021) on POP909 mashups.

Positives are *original* mashups (label 1), negatives *unmatched* (label 0); the
*matched* ones are unlabeled (label -1) and, with LSRO, get the soft target
(0.5, 0.5); without LSRO they are left out. Loss: cross-entropy against the
(soft) two-class target. Inputs are random 224-frame (7.2 s) crops of the cached
257-frame (8.2 s) log-mel windows (:mod:`collage.training.mashability_data`).
The checkpoint with the best validation accuracy (original vs unmatched at 0.5,
ties broken by the lower validation loss) is kept.

>>> result = train_mashability("premix", lsro=True, run_dir="runs/mashability_premix_lsro")
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import sys
from pathlib import Path

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from collage.errors import ParameterError
from collage.mashup import score as sc
from collage.mashup.rendered import DATA_ROOT, render_split, render_timbre, timbre_root, timbre_soundfont
from collage.mashup.score import model_input
from collage.metrics.ranking import rank_and_accuracy
from collage.models.mashability import MashabilityConfig, PostMixConfig, PostMixNet, PreMixNet
from collage.pretrained import save_pretrained
from collage.training.loop import set_threads, train_loop
from collage.training.mashability_data import build_examples

__all__ = ["train_mashability", "evaluate_examples", "weights_name", "load_examples", "timbre_augment", "CROP_FRAMES", "DATA_SIZES"]

log = logging.getLogger(__name__)

CROP_FRAMES = 224
#: default songs per split (4/4 POP909 songs, a fixed shuffle) and vocal windows per song
DATA_SIZES = {"train": (200, 2), "val": (40, 2)}


def weights_name(model: str, lsro: bool) -> str:
    return f"mashability_{model}net" + ("_lsro" if lsro else "")


def load_examples(split: str, n_songs: int | None = None, windows: int | None = None, *, root=DATA_ROOT,
                  prepare: bool = True, timbres: tuple = (), timbre: str | None = None) -> dict:
    """The cached examples of the first ``n_songs`` songs of a split, ``windows`` vocal windows per
    song (defaults: :data:`DATA_SIZES`); rendered and built first when ``prepare``.

    ``timbres``: extra soundfonts mixed per stem into the mashups (:func:`build_examples`);
    ``timbre``: use only the renders of this extra soundfont (under :func:`timbre_root`)."""
    n_songs = DATA_SIZES[split][0] if n_songs is None else n_songs
    windows = DATA_SIZES[split][1] if windows is None else windows
    if timbre is not None:
        if timbres:
            raise ParameterError(f"given timbre={timbre!r} and timbres={timbres!r}; expected one of them")
        if prepare:
            render_timbre(split, n_songs, timbre, root=root)
        root = timbre_root(root, timbre)
    elif prepare:
        render_split(split, n_songs, root=root)
        for t in timbres:
            render_timbre(split, n_songs, t, root=root)
    path = build_examples(split, n_songs, root=root, windows_per_seed=windows, timbres=timbres)
    with np.load(path) as z:
        return {k: z[k] for k in z.files} | {"path": str(path)}


#: one unit of the scaled log-mel (:func:`collage.mashup.score.mel`) in dB; its floor (-90 dB) in units
DB_PER_UNIT, FLOOR = 30.0, -2.0


def timbre_augment(x: np.ndarray, rng: np.random.Generator, db: float) -> np.ndarray:
    """A random equaliser per example and source on scaled log-mel ``(B, S, F, T)``.

    Each curve is a gain, a linear tilt across the mel bins and one smooth cosine bump
    (1-3 half periods, random phase), each drawn uniformly up to ±``db`` dB (the bump up
    to ±``db``/2). It stands in for the timbre of soundfonts the model never heard;
    bins at the -90 dB floor stay there. ``db`` 0 returns ``x`` unchanged.
    """
    if db <= 0:
        return x
    B, S, F, _ = x.shape
    f = np.linspace(0.0, 1.0, F)[None, None]
    u = lambda scale: rng.uniform(-scale, scale, size=(B, S, 1))  # noqa: E731
    k = rng.integers(1, 4, size=(B, S, 1))
    curve = u(db) + u(db) * (f - 0.5) * 2 + u(db / 2) * np.cos(np.pi * k * f + rng.uniform(0, np.pi, (B, S, 1)))
    y = np.clip(x + (curve / DB_PER_UNIT)[..., None].astype(x.dtype), FLOOR, -FLOOR)
    return np.where(x <= FLOOR, x, y)



def _targets(labels: np.ndarray) -> np.ndarray:
    """``(N,)`` labels (1, 0, -1) → ``(N, 2)`` targets (positive, negative)."""
    t = np.zeros((len(labels), 2), np.float32)
    t[labels == 1, 0] = 1.0
    t[labels == 0, 1] = 1.0
    t[labels == -1] = 0.5
    return t


def ranking_pairs(labels: np.ndarray, seed_index: np.ndarray) -> np.ndarray:
    """``(P, 2)`` example indices ``(original, matched)`` of the same vocal window, every such pair."""
    orig = {int(s): i for i, (s, lab) in enumerate(zip(seed_index, labels)) if lab == 1}
    return np.asarray([(orig[int(s)], i) for i, (s, lab) in enumerate(zip(seed_index, labels))
                       if lab == -1 and int(s) in orig], dtype=np.int64).reshape(-1, 2)


def evaluate_examples(net, data: dict, *, x: torch.Tensor | None = None) -> dict:
    """Accuracy (original vs unmatched at 0.5), avg rank (original among itself and the matched) and
    the labelled cross-entropy of ``net`` (a Pre/PostMixNet, put in eval mode) on :func:`load_examples` data."""
    x = torch.from_numpy(model_input(net.config, data["x"]).astype(np.float32)) if x is None else x
    net.eval()
    with torch.no_grad():
        logits = torch.cat([net(x[i : i + 64]) for i in range(0, len(x), 64)])
    scores = torch.softmax(logits, 1)[:, 0].numpy()
    lab = data["label"]
    m = lab != -1
    tgt = torch.from_numpy(_targets(lab[m]))
    loss = float(-(tgt * torch.log_softmax(logits[torch.from_numpy(m)], 1)).sum(1).mean())
    r = rank_and_accuracy(scores, lab, data["seed_index"])
    return {"accuracy": r["accuracy"], "avg_rank": r["avg_rank"], "loss": loss}


def train_mashability(
    model: str,
    *,
    lsro: bool,
    run_dir: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    steps: int = 3000,
    batch: int = 16,
    lr: float = 1e-3,
    max_seconds: float | None = None,
    seed: int = 0,
    root=DATA_ROOT,
    config: MashabilityConfig | None = None,
    progress: bool = True,
    command: str | None = None,
    train_songs: int | None = None,
    val_songs: int | None = None,
    windows: int | None = None,
    augment_db: float = 0.0,
    timbres: tuple = (),
    val_timbre: str | None = None,
    rank_weight: float = 0.0,
    ema: float = 0.0,
) -> dict:
    """Train one variant; save ``out_dir/<weights_name>.pt/.json`` when ``out_dir`` is given.

    ``train_songs``, ``val_songs``, ``windows``: data sizes (default :data:`DATA_SIZES`).
    ``augment_db``: strength of the random per-source equaliser on training crops
    (:func:`timbre_augment`; 0 = none). ``timbres``: extra soundfonts mixed per stem into the
    training mashups; ``val_timbre``: validate on the val songs rendered with this extra soundfont.
    ``rank_weight``: weight of a pairwise ranking term (our addition): each step also draws
    ``batch // 4`` vocal windows and penalises ``softplus(m_matched - m_original)`` on their
    log-odds, so that an original outranks a matched mashup of the same vocal (the protocol's
    rank). It uses the matched mashups with or without LSRO; 0 = off.
    Returns the card's ``scores`` (validation accuracy and avg rank, steps, seconds).
    """
    if model not in ("premix", "postmix"):
        raise ParameterError(f"given model={model!r}; expected 'premix' or 'postmix'")
    if not 0.0 <= ema < 1.0:
        raise ParameterError(f"given ema={ema}; expected a decay in [0, 1)")
    for t in (*timbres, *([val_timbre] if val_timbre else [])):
        timbre_soundfont(t)  # an unknown or missing soundfont fails before hours of rendering
    set_threads()
    torch.manual_seed(seed)
    train = load_examples("train", train_songs, windows, root=root, timbres=timbres)
    val = load_examples("val", val_songs, windows, root=root, timbre=val_timbre)
    # the examples the cross-entropy samples: all (LSRO) or the labelled ones
    ce_idx = np.arange(len(train["label"])) if lsro else np.flatnonzero(train["label"] != -1)
    pairs = ranking_pairs(train["label"], train["seed_index"]) if rank_weight > 0 else np.zeros((0, 2), np.int64)
    if rank_weight > 0 and not len(pairs):
        raise ParameterError("given rank_weight > 0, but the training set has no vocal window with an original and a matched mashup")
    if config is None:
        config = MashabilityConfig() if model == "premix" else PostMixConfig()
    xtr = model_input(config, train["x"])  # (N, S, in_rows, T) float16
    ttr = _targets(train["label"])
    xva = torch.from_numpy(model_input(config, val["x"]).astype(np.float32))
    net = (PreMixNet if model == "premix" else PostMixNet)(config)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=1e-4)
    modules = {"model": net}
    if ema > 0:
        modules["ema"] = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(ema), use_buffers=True)
    judged = modules["ema"].module if ema > 0 else net  # what is validated, selected and saved
    T = xtr.shape[-1]
    crop = min(CROP_FRAMES, T)

    def step_fn(step: int, rng: np.random.Generator) -> dict:
        net.train()
        idx = ce_idx[rng.integers(len(ce_idx), size=batch)]
        n_pairs = max(1, batch // 4) if rank_weight > 0 else 0
        pair = pairs[rng.integers(len(pairs), size=n_pairs)] if n_pairs else np.zeros((0, 2), np.int64)
        rows = np.concatenate([idx, pair[:, 0], pair[:, 1]])
        starts = rng.integers(T - crop + 1, size=len(rows))
        x = np.stack([xtr[i, ..., s : s + crop] for i, s in zip(rows, starts)]).astype(np.float32)
        x[:, :, : config.n_mels] = timbre_augment(x[:, :, : config.n_mels], rng, augment_db)
        logits = net(torch.from_numpy(x))
        ce = -(torch.from_numpy(ttr[idx]) * torch.log_softmax(logits[:batch], dim=1)).sum(1).mean()
        out = {"loss": ce.item()}
        loss = ce
        if n_pairs:
            margin = logits[:, 0] - logits[:, 1]  # log-odds of "mashable"
            rank = torch.nn.functional.softplus(margin[batch + n_pairs :] - margin[batch : batch + n_pairs]).mean()
            loss = ce + rank_weight * rank
            out["rank_loss"] = rank.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if ema > 0:
            modules["ema"].update_parameters(net)
        return out

    def val_fn() -> dict:
        r = evaluate_examples(judged, val, x=xva)
        return {"val_accuracy": r["accuracy"], "val_avg_rank": r["avg_rank"], "val_loss": r["loss"],
                "val_select": r["accuracy"] - 1e-3 * r["loss"]}

    result = train_loop(
        modules,
        {"opt": opt},
        step_fn,
        run_dir=run_dir,
        max_steps=steps,
        val_fn=val_fn,
        val_every=100,
        ckpt_every=200,
        log_every=50,
        select="val_select",
        mode="max",
        seed=seed,
        progress=progress,
        max_seconds=max_seconds,
    )
    best = result.best_metrics
    scores = {
        "val_accuracy": round(float(best.get("val_accuracy", float("nan"))), 4),
        "val_avg_rank": round(float(best.get("val_avg_rank", float("nan"))), 4),
        "best_step": result.best_step,
        "steps": result.step,
        "train_seconds": round(result.seconds, 1),
    }
    if out_dir is not None:
        name = weights_name(model, lsro)
        card = {
            "description": f"{'PreMixNet' if model == 'premix' else 'PostMixNet'}{' + LSRO' if lsro else ''}"
            f"{' with the harmony branch (vocal-harmonic chroma interval profile)' if config.harmony else ''} "
            "mashability on POP909 stems rendered with FluidSynth",
            "training_command": command or " ".join(shlex.quote(a) for a in sys.argv),
            "data": {
                "train": {"split": "POP909 train (4/4 songs, fixed shuffle)", "songs": int(len(train["songs"])),
                          "examples": int(len(ce_idx)), "data_hash": str(train["data_hash"]),
                          "labels": {"original": int(np.sum(train["label"][ce_idx] == 1)), "unmatched": int(np.sum(train["label"][ce_idx] == 0)),
                                     "matched_unlabeled": int(np.sum(train["label"][ce_idx] == -1))}},
                "val": {"split": "POP909 val", "songs": int(len(val["songs"])), "examples": int(len(val["label"])),
                        "data_hash": str(val["data_hash"])},
                "soundfonts": ("FluidR3_GM and TimGM6mb (train" + (f", mixed per stem with {', '.join(timbres)}" if timbres else "")
                               + (f"; val: {val_timbre} only" if val_timbre else "/val") + "); MuseScore_General held out for test"),
                "analysis": "ground-truth POP909 beats, downbeats and key of each rendered clip (not estimates)",
                "excerpts": "8.192 s mashups at 16 kHz (shorter than the paper's 25-60 s), Rubber Band fast mode",
            },
            "features": {"sr": sc.FEATURE_SR, "n_mels": sc.N_MELS, "n_fft": sc.N_FFT, "hop": sc.HOP, "fmax": int(sc.FMAX),
                         "crop_frames": CROP_FRAMES}
            | ({"chroma": {"n_fft": sc.CHROMA_FFT, "tuning": 0.0, "scale": "clip max",
                           "used_by": "harmony branch (vocal-harmonic interval profile)"}} if config.harmony else {}),
            "lsro": bool(lsro),
            "rank_weight": float(rank_weight),
            "ema": float(ema),
            "ranking_pairs": int(len(pairs)),
            "augmentation": {"timbre_eq_db": augment_db, "what": "random per-source gain, tilt and cosine bump "
                             "on the log-mel of each training crop (collage.training.mashability.timbre_augment)"}
            if augment_db > 0 else None,
            "optimizer": {"name": "adam", "lr": lr, "weight_decay": 1e-4, "batch": batch},
            "reductions_from_paper": "64 mel bins at 16 kHz (paper: 128 at 22.05 kHz), 7.2 s training crops averaged "
            "to 64 ms frames, channels 8-8-16-16/32 (paper: 64-64-128-128/256), FC 32 (paper: 128), frequency "
            "pooling 2 per ConvBlock2D; minutes of one shared CPU core (paper: 3 days on a V100)",
            "scores": scores,
        }
        save_pretrained(judged, name, out_dir, card=card)
    (Path(run_dir) / "scores.json").write_text(json.dumps(scores, indent=1))
    return scores

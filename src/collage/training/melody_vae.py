"""Training and evaluation of the melody VAE (:mod:`collage.models.melody_vae`).

Data: POP909 train split on the beats grid (32-step windows, a random one of
the 12 transpositions per sample), validation on a fixed subset of the val
split. Loss (EC2-VAE): token cross-entropy + rhythm-state cross-entropy +
``beta * (KL_pitch + KL_rhythm)``, each KL the mean over its latent
dimensions, ``beta`` ramped linearly from 0 to ``beta_max`` (0.1). Each batch
is decoded teacher-forced with probability ``p_tf`` (1 -> ``tf_min`` over
the first 70 % of the steps), else free-running. Adam, lr decayed
exponentially to a floor, gradients clipped at norm 1.

Example::

    model, result, card = train_melody_vae(steps=6000, batch_size=64, run_dir="runs/melody_vae")
    pt = ship_melody_vae(model, card, out_dir="src/collage/weights")
"""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from collage.datasets.pop909 import SegmentSet, pop909_segments
from collage.errors import ParameterError
from collage.models.melody_vae import MelodyVAE, MelodyVAEConfig, token_rhythm
from collage.pretrained import default_save_dir, save_pretrained
from collage.represent.melody import HOLD
from collage.training.data import SegmentTensors
from collage.training.loop import freeze, set_threads, train_loop, warm_start

__all__ = ["melody_vae_loss", "evaluate_melody_vae", "train_melody_vae", "ship_melody_vae", "PAPER_SIZES"]

log = logging.getLogger(__name__)

PAPER_SIZES = {"gru_hidden": 2048, "z_pitch": 128, "z_rhythm": 128, "batch_size": 128}

ENCODER_MODULES = ("encoder", "to_mu", "to_logvar")
"""The :class:`MelodyVAE` submodules that make the posterior (frozen by ``freeze_encoder``)."""


def _kl(mu: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``(B, d)`` -> ``(B, d)`` KL(N(mu, std^2) || N(0, 1)) per dimension, nats."""
    return 0.5 * (mu.pow(2) + std.pow(2) - 1.0) - torch.log(std)


def melody_vae_loss(model: MelodyVAE, out: dict, tokens: torch.Tensor, beta: float) -> tuple[torch.Tensor, dict]:
    """EC2-VAE loss of a forward pass ``out`` on target ``tokens`` ``(B, 32)``; returns ``(loss, metrics)``."""
    ce = F.cross_entropy(out["logits"].transpose(1, 2), tokens)  # mean over (B, 32)
    ce_r = F.cross_entropy(out["rhythm_logits"].transpose(1, 2), token_rhythm(tokens))
    kl = _kl(out["mu"], out["std"])  # (B, z_dim)
    a = model.aspects
    kl_p, kl_r = kl[:, a["pitch"]].mean(), kl[:, a["rhythm"]].mean()
    loss = ce + ce_r + beta * (kl_p + kl_r)
    acc = (out["logits"].argmax(-1) == tokens).float().mean()
    return loss, {"loss": loss.item(), "ce": ce.item(), "ce_rhythm": ce_r.item(), "kl_pitch": kl_p.item(),
                  "kl_rhythm": kl_r.item(), "acc": acc.item(), "beta": float(beta)}


def _batches(data: SegmentTensors, idx: np.ndarray, batch_size: int):
    for k in range(0, len(idx), batch_size):
        yield data.batch(idx[k:k + batch_size], 0, parts=("melody", "tokens"))


@torch.no_grad()
def _validate(model: MelodyVAE, data: SegmentTensors, idx: np.ndarray, beta_max: float, batch_size: int = 512) -> dict:
    """Scores on segments ``idx`` (untransposed), ``z = mu``."""
    sums, n, onsets, hits_pitch, hits_pc, hits_tf = {}, 0, 0, 0, 0, 0
    for b in _batches(data, idx, batch_size):
        x, tok = b["melody"], b["tokens"]
        mu, std = model.encode(x)
        tf_logits, tf_r = model.decode_full(mu, tok)
        fr_logits, fr_r = model.decode_full(mu)
        rhythm = token_rhythm(tok)
        kl = _kl(mu, std)  # (B, z_dim)
        onset = tok < HOLD  # (B, 32)
        m = len(tok)
        vals = {
            "ce": F.cross_entropy(tf_logits.transpose(1, 2), tok).item(),
            "ce_rhythm": F.cross_entropy(tf_r.transpose(1, 2), rhythm).item(),
            "acc_tf": (tf_logits.argmax(-1) == tok).float().mean().item(),
            "acc_free": (fr_logits.argmax(-1) == tok).float().mean().item(),
            "rhythm_acc_free": (fr_r.argmax(-1) == rhythm).float().mean().item(),
            "rhythm_acc_tokens": (token_rhythm(fr_logits.argmax(-1)) == rhythm).float().mean().item(),
            "seq_exact_free": (fr_logits.argmax(-1) == tok).all(-1).float().mean().item(),
            "kl_pitch": kl[:, model.aspects["pitch"]].mean().item(),
            "kl_rhythm": kl[:, model.aspects["rhythm"]].mean().item(),
            "kl_sum": kl.sum(-1).mean().item(),
        }
        for k, v in vals.items():
            sums[k] = sums.get(k, 0.0) + v * m
        n += m
        dec = fr_logits.argmax(-1)  # (B, 32)
        onsets += onset.sum().item()
        hits_pitch += (onset & (dec == tok)).sum().item()
        hits_pc += (onset & (dec < HOLD) & (dec % 12 == tok % 12)).sum().item()
        hits_tf += (onset & (tf_logits.argmax(-1) == tok)).sum().item()
    out = {f"val_{k}": v / n for k, v in sums.items()}
    out["val_onset_pitch_acc_free"] = hits_pitch / onsets if onsets else float("nan")
    out["val_onset_pc_acc_free"] = hits_pc / onsets if onsets else float("nan")
    out["val_onset_pitch_acc_tf"] = hits_tf / onsets if onsets else float("nan")
    out["val_loss"] = out["val_ce"] + out["val_ce_rhythm"] + beta_max * (out["val_kl_pitch"] + out["val_kl_rhythm"])
    return out


def _pc_hist(tokens: np.ndarray) -> np.ndarray:
    """``(B, T)`` tokens -> ``(B, 12)`` duration-weighted pitch-class histogram (holds extend the last onset)."""
    b, t = tokens.shape
    hist = np.zeros((b, 12))
    cur = np.full(b, -1)
    for s in range(t):
        tok = tokens[:, s]
        cur = np.where(tok < HOLD, tok % 12, np.where(tok == HOLD, cur, -1))
        on = cur >= 0
        hist[np.flatnonzero(on), cur[on]] += 1
    return hist


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    return np.where((na > 0) & (nb > 0), (a * b).sum(1) / np.maximum(na * nb, 1e-12), 0.0)


@torch.no_grad()
def evaluate_melody_vae(model: MelodyVAE, data: SegmentTensors, *, n: int = 2000, seed: int = 0,
                        batch_size: int = 128) -> dict:
    """Reconstruction, disentanglement and speed of a melody VAE on ``n`` segments of ``data``.

    Returns a dict of floats:
        ``acc_tf``, ``acc_free``: token accuracy teacher-forced / free-running (``z = mu``);
        ``rhythm_acc_free``: the rhythm decoder's state accuracy; ``onset_pitch_acc_free``,
        ``onset_pc_acc_free``: at the steps where a note starts, the share decoded with that pitch
        (pitch class); ``onset_pitch_acc_tf``: the same pitch share teacher-forced; ``kl_*``: nats per
        dimension (``kl_sum``: per melody); ``swap_*``: with ``z = [z_pitch(a) | z_rhythm(b)]``
        for pairs from different songs, the decoded rhythm's state agreement with ``b``
        (the donor) and with ``a``, the pitch-class histogram cosine with ``a`` and ``b``
        (duration weighted), and the same agreements of ``a`` with ``b`` themselves (chance);
        ``encode_ms``, ``decode_ms``: time per batch of ``batch_size`` on this machine's threads.
    """
    model.eval()
    idx = data.fixed_subset(n, seed=seed)
    scores = {k[4:]: v for k, v in _validate(model, data, idx, 0.0).items() if k != "val_loss"}
    # swap z_rhythm between pairs of segments from different songs
    rng = np.random.default_rng(seed + 1)
    songs = data.segset.song_ids[idx]
    partner = rng.permutation(len(idx))
    same = songs == songs[partner]
    idx_a, idx_b = idx[~same], idx[partner[~same]]
    agree_b, agree_a, base, pc_a, pc_b, pc_base, pc_a_rec = [], [], [], [], [], [], []
    for k in range(0, len(idx_a), 512):
        ba = data.batch(idx_a[k:k + 512], 0, parts=("melody", "tokens"))
        bb = data.batch(idx_b[k:k + 512], 0, parts=("melody", "tokens"))
        mu_a, _ = model.encode(ba["melody"])
        mu_b, _ = model.encode(bb["melody"])
        z = mu_a.clone()
        z[:, model.aspects["rhythm"]] = mu_b[:, model.aspects["rhythm"]]
        dec = model.decode_tokens(z).numpy()
        rec_a = model.decode_tokens(mu_a).numpy()
        ta, tb = ba["tokens"].numpy(), bb["tokens"].numpy()
        rd, ra, rb = (token_rhythm(torch.from_numpy(t)).numpy() for t in (dec, ta, tb))
        agree_b.append((rd == rb).mean(1))
        agree_a.append((rd == ra).mean(1))
        base.append((ra == rb).mean(1))
        hd, ha, hb, hr = _pc_hist(dec), _pc_hist(ta), _pc_hist(tb), _pc_hist(rec_a)
        pc_a.append(_cos(hd, ha))
        pc_b.append(_cos(hd, hb))
        pc_base.append(_cos(ha, hb))
        pc_a_rec.append(_cos(hr, ha))
    cat = lambda xs: float(np.concatenate(xs).mean()) if xs else float("nan")  # noqa: E731
    scores.update(
        swap_pairs=float(len(idx_a)),
        swap_rhythm_agree_donor=cat(agree_b), swap_rhythm_agree_source=cat(agree_a),
        swap_rhythm_agree_chance=cat(base),
        swap_pc_cos_source=cat(pc_a), swap_pc_cos_donor=cat(pc_b), swap_pc_cos_chance=cat(pc_base),
        recon_pc_cos=cat(pc_a_rec),
    )
    # timing: one batch, best of 3
    b = data.batch(idx[:batch_size], 0, parts=("melody",))
    te, td = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        mu, _ = model.encode(b["melody"])
        t1 = time.perf_counter()
        model.decode_tokens(mu)
        td.append(time.perf_counter() - t1)
        te.append(t1 - t0)
    scores.update(encode_ms=1000 * min(te), decode_ms=1000 * min(td), timing_batch=float(len(b["melody"])),
                  timing_threads=float(torch.get_num_threads()))
    return scores


def _segments(split: str, max_songs: int | None):
    segs = pop909_segments(split, grid="beats")
    if max_songs is None:
        return segs
    keep_songs = segs.songs[:max_songs]
    keep = np.isin(segs.song_ids, keep_songs)
    a = segs.arrays()
    # a smaller SegmentSet over the first songs (CSR arrays rebuilt)
    def sub(notes, ptr):
        counts = np.diff(ptr)[keep]
        sel = np.repeat(keep, np.diff(ptr))
        p = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=p[1:])
        return notes[sel], p
    a["mel_notes"], a["mel_ptr"] = sub(a["mel_notes"], a["mel_ptr"])
    a["acc_notes"], a["acc_ptr"] = sub(a["acc_notes"], a["acc_ptr"])
    a["song_ids"], a["starts"] = a["song_ids"][keep], a["starts"][keep]
    return SegmentSet(a)


def train_melody_vae(
    *,
    run_dir: str | Path = "runs/melody_vae",
    steps: int = 6000,
    batch_size: int = 64,
    lr: float = 1e-3,
    lr_min: float = 1e-5,
    lr_decay: float = 0.9996,
    beta_max: float = 0.1,
    beta_warmup: float = 0.4,
    tf_min: float = 0.5,
    tf_warmup: float = 0.7,
    token_dropout: float = 0.0,
    init_from: str | None = None,
    freeze_encoder: bool = False,
    val_every: int = 250,
    val_size: int = 2048,
    seed: int = 0,
    max_seconds: float | None = None,
    config: MelodyVAEConfig | None = None,
    tiny: bool = False,
    max_songs: int | None = None,
    train_data: SegmentTensors | None = None,
    val_data: SegmentTensors | None = None,
    progress: bool = True,
) -> tuple[MelodyVAE, object, dict]:
    """Train (or resume) a melody VAE; returns ``(model with best weights, TrainResult, card)``.

    Args:
        run_dir: run folder (resumed when it holds a checkpoint).
        steps, batch_size, lr: optimizer steps, melodies per step, Adam's initial rate
            (times ``lr_decay`` per step, floored at ``lr_min``).
        beta_max, beta_warmup: KL weight and the fraction of ``steps`` over which it ramps up.
        tf_min, tf_warmup: final probability of a teacher-forced batch, reached (linearly from 1)
            at the fraction ``tf_warmup`` of ``steps`` (0: ``tf_min`` from the start).
        token_dropout: share of the global decoder's previous-token inputs blanked in
            teacher-forced batches (word dropout), so that pitch has to come from ``z_pitch``.
        init_from: warm-start from these melody-VAE weights (a shipped name or a ``.pt``; same sizes;
            the config is taken from them). Use with ``beta_warmup=0``, ``tf_warmup=0``.
        freeze_encoder: with ``init_from``, train the decoders only: the encoder (GRU, ``to_mu``,
            ``to_logvar``) keeps the warm start's weights, so its latents, and every critic and
            actor trained on them, stay valid.
        val_every, val_size: validation interval and fixed val subset size.
        max_seconds: stop after this long (resumable).
        config, tiny: model sizes (``tiny``: :meth:`MelodyVAEConfig.tiny`).
        max_songs: use only the first songs of each split (smoke tests).
        train_data, val_data: prebuilt :class:`SegmentTensors` (default: POP909 train / val, beats grid).
    """
    for name, v in (("steps", steps), ("batch_size", batch_size), ("val_every", val_every), ("val_size", val_size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ParameterError(f"given {name}={v!r}; expected a positive integer")
    for name, v, lo, hi in (("lr", lr, 0, 1), ("beta_max", beta_max, 0, 10), ("beta_warmup", beta_warmup, 0, 1),
                            ("tf_min", tf_min, 0, 1), ("tf_warmup", tf_warmup, 0, 1),
                            ("token_dropout", token_dropout, 0, 0.99),
                            ("lr_decay", lr_decay, 0, 1)):
        if not isinstance(v, (int, float)) or not lo <= v <= hi or (name in ("lr", "lr_decay") and v == 0):
            bracket = "(" if name in ("lr", "lr_decay") else "["
            raise ParameterError(f"given {name}={v!r}; expected a number in {bracket}{lo}, {hi}]")
    threads = set_threads()
    train_data = train_data if train_data is not None else SegmentTensors(_segments("train", max_songs))
    val_data = val_data if val_data is not None else SegmentTensors(_segments("val", max_songs))
    init = warm_start(init_from, MelodyVAE, "melody-VAE", freeze_encoder=freeze_encoder)
    if init is not None:
        config = init.config
    elif tiny:
        config = MelodyVAEConfig.tiny()
    config = config or MelodyVAEConfig()
    torch.manual_seed(seed)
    model = MelodyVAE(config)
    if init is not None:
        model.load_state_dict(init.state_dict())
    trainable = freeze(model, ENCODER_MODULES if freeze_encoder else ())
    opt = torch.optim.Adam(trainable, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(lr_decay ** s, lr_min / lr))
    val_idx = val_data.fixed_subset(val_size, seed=seed)

    def beta_at(step: int) -> float:
        ramp = max(beta_warmup * steps, 1.0)
        return beta_max * min(step / ramp, 1.0)

    def p_tf_at(step: int) -> float:
        if tf_warmup == 0:
            return tf_min
        return 1.0 - (1.0 - tf_min) * min(step / max(tf_warmup * steps, 1.0), 1.0)

    def step_fn(step: int, rng: np.random.Generator) -> dict:
        b = train_data.sample_batch(rng, batch_size, parts=("melody", "tokens"))
        tf = bool(rng.random() < p_tf_at(step))
        out = model(b["melody"], teacher_forcing=tf, token_dropout=token_dropout if tf else 0.0)
        loss, metrics = melody_vae_loss(model, out, b["tokens"], beta_at(step))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        metrics["tf"] = float(tf)
        return metrics

    def val_fn() -> dict:
        return _validate(model, val_data, val_idx, beta_max)

    t0 = time.time()
    res = train_loop({"model": model}, {"opt": opt}, step_fn, run_dir=run_dir, max_steps=steps, val_fn=val_fn,
                     val_every=val_every, ckpt_every=val_every, log_every=50, select="val_loss", mode="min",
                     seed=seed, schedulers={"lr": sched}, progress=progress, max_seconds=max_seconds)
    cmd = " ".join(["collage"] + sys.argv[1:]) if sys.argv and "collage" in Path(sys.argv[0]).name else None
    card = {
        "description": "Melody VAE (EC2-VAE without chord condition, CollageNet §3.4): latent [z_pitch | z_rhythm].",
        "training_command": cmd,
        "training": {
            "steps_done": int(res.step), "steps_planned": int(steps), "best_step": res.best_step,
            "batch_size": int(batch_size), "lr": lr, "lr_decay": lr_decay, "lr_min": lr_min, "beta_max": beta_max,
            "beta_warmup_fraction": beta_warmup, "teacher_forcing_min": tf_min, "teacher_forcing_warmup": tf_warmup,
            "token_dropout": token_dropout, "encoder_frozen": bool(freeze_encoder),
            "init_from": None if init_from is None else str(init_from), "seed": seed, "threads": threads,
            "seconds_this_call": round(time.time() - t0, 1), "optimizer": "Adam, grad-norm clip 1.0",
            "loss": "CE(tokens) + CE(rhythm states) + beta * (mean KL z_pitch + mean KL z_rhythm)",
        },
        "data": {
            "dataset": "POP909", "grid": "beats", "window_steps": train_data.length,
            "train": {"split": train_data.segset.split, "segments": len(train_data), "sha256": train_data.hash,
                      "songs": int(len(np.unique(train_data.segset.song_ids)))},
            "val": {"split": val_data.segset.split, "segments": len(val_data), "sha256": val_data.hash,
                    "subset": int(len(val_idx)), "subset_seed": seed},
            "augmentation": "random one of 12 transpositions (-6..+5 semitones) that keeps notes in 0..127",
            "hash_of": "sha256 of split|grid|steps_per_beat| + int32 song_ids + int32 window starts",
        },
        "reduction_from_paper": {
            "paper": PAPER_SIZES,
            "here": {"enc_hidden": config.enc_hidden, "rhythm_hidden": config.rhythm_hidden,
                     "dec_hidden": config.dec_hidden, "z_pitch": config.z_pitch, "z_rhythm": config.z_rhythm,
                     "batch_size": batch_size},
            "why": "CPU training on a shared 2-core machine (1 thread) within ~35 minutes",
        },
        "scores": {"best_val": res.best_metrics},
        "under_trained": bool(res.step < steps),
    }
    return model, res, card


def ship_melody_vae(model: MelodyVAE, card: dict, *, out_dir: str | Path | None = None, name: str = "melody_vae",
                    eval_n: int = 2000, val_data: SegmentTensors | None = None) -> Path:
    """Evaluate on the val split (:func:`evaluate_melody_vae`), put the scores in the card and
    write ``out_dir/name.pt`` + ``.json`` (default ``out_dir``: the package's weights folder)."""
    val_data = val_data if val_data is not None else SegmentTensors(_segments("val", None))
    card = dict(card)
    scores = dict(card.get("scores") or {})
    ev = evaluate_melody_vae(model, val_data, n=eval_n, seed=0)
    scores["val_eval"] = {k: (round(v, 5) if isinstance(v, float) and math.isfinite(v) else v) for k, v in ev.items()}
    scores["val_eval_segments"] = int(min(eval_n, len(val_data)))
    card["scores"] = scores
    return save_pretrained(model.eval(), name, out_dir if out_dir is not None else default_save_dir(name), card=card)

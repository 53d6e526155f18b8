"""Training and evaluation of the accompaniment VAE (:mod:`collage.models.accomp_vae`).

Data: POP909 segments on the beats grid (:func:`collage.datasets.pop909.pop909_segments`),
annotated chords per beat and the PIANO track's ``pr_mat``
(:class:`collage.training.data.SegmentTensors`), every batch transposed by a
random valid shift of -6..+5 semitones. Validation: a fixed, untransposed
subset of the 'val' split.

Loss per segment (summed over its tokens, averaged over the batch): pitch
token CE (128 pitches + end-of-step) + duration CE + chord root CE + chroma
BCE + bass CE + beta * KL, beta rising linearly from 0 to ``beta`` over
``kl_warmup`` steps.

Example::

    result = train_accomp_vae(run_dir="runs/accomp_vae", out_dir="src/collage/weights", steps=8000)
    result["scores"]["note_f1"]
"""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np
import torch
import torch.nn.functional as F

from collage.datasets.pop909 import pop909_segments
from collage.errors import ParameterError
from collage.models.accomp_vae import NO_CHORD, AccompVAE, AccompVAEConfig
from collage.pretrained import find_weights, load_pretrained, save_pretrained, tiny_model, update_card
from collage.training.data import SegmentTensors
from collage.training.loop import freeze, set_threads, train_loop, warm_start

__all__ = [
    "accomp_vae_loss",
    "chord_targets",
    "prmat_scores",
    "evaluate_accomp_vae",
    "disentanglement",
    "time_model",
    "train_accomp_vae",
    "evaluate_weights",
    "calibrate_eos_bias",
    "run_calibrate_eos_bias",
]

log = logging.getLogger(__name__)

ENCODER_MODULES = ("chord_enc", "chord_mu", "chord_std", "tex_cnn", "tex_fc", "tex_enc", "tex_mu", "tex_std")
"""The :class:`AccompVAE` submodules that make the posterior (frozen by ``freeze_encoder``)."""


def chord_targets(chord: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(B, 8, 36)`` chord vectors -> root ``(B, 8)`` long (12 = no chord), chroma ``(B, 8, 12)`` float,
    bass ``(B, 8)`` long (12 = no chord)."""
    none = chord[..., :12].sum(-1) == 0  # (B, 8)
    root = chord[..., :12].argmax(-1).masked_fill(none, NO_CHORD)
    bass = chord[..., 24:].argmax(-1).masked_fill(none, NO_CHORD)
    return root, chord[..., 12:24], bass


def accomp_vae_loss(out: dict, chord: torch.Tensor, *, beta: float) -> dict:
    """Loss terms (per segment, batch mean) of a :meth:`AccompVAE.forward` output; ``loss`` is the total."""
    b = chord.shape[0]
    pl, pt = out["pitch_logits"], out["pitch_target"]
    dl, dt = out["dur_logits"], out["dur_target"]
    pitch = F.cross_entropy(pl.flatten(0, 2), pt.flatten(), ignore_index=-100, reduction="sum") / b
    dur = F.cross_entropy(dl.flatten(0, 2), dt.flatten(), ignore_index=-100, reduction="sum") / b if dt.numel() else pl.new_zeros(())
    root_t, chroma_t, bass_t = chord_targets(chord)
    root = F.cross_entropy(out["root"].flatten(0, 1), root_t.flatten(), reduction="sum") / b
    chroma = F.binary_cross_entropy_with_logits(out["chroma"], chroma_t, reduction="sum") / b
    bass = F.cross_entropy(out["bass"].flatten(0, 1), bass_t.flatten(), reduction="sum") / b
    mu, std = out["mu"], out["std"]
    kl = (0.5 * (mu ** 2 + std ** 2 - 1) - torch.log(std)).sum(-1).mean()
    recon = pitch + dur + root + chroma + bass
    with torch.no_grad():
        pm = pt != -100
        pitch_acc = (pl.argmax(-1)[pm] == pt[pm]).float().mean() if pm.any() else pl.new_zeros(())
        dm = dt != -100
        dur_acc = (dl.argmax(-1)[dm] == dt[dm]).float().mean() if dm.any() else pl.new_zeros(())
    return {"loss": recon + beta * kl, "recon": recon, "pitch": pitch, "dur": dur, "root": root, "chroma": chroma,
            "bass": bass, "kl": kl, "tf_pitch_acc": pitch_acc, "tf_dur_acc": dur_acc}


def _f1(tp: float, n_pred: float, n_true: float) -> tuple[float, float, float]:
    p = tp / n_pred if n_pred else (1.0 if not n_true else 0.0)
    r = tp / n_true if n_true else (1.0 if not n_pred else 0.0)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def prmat_scores(pred: torch.Tensor, true: torch.Tensor) -> dict:
    """Note-level scores of decoded ``pr_mat`` s against targets, both ``(B, 32, 128)``.

    - ``note_precision/recall/f1``: a note is a hit when the other side has an
      onset at the same step and pitch (durations ignored);
    - ``onset_precision/recall/f1``: the same on steps with any onset (the
      rhythm pattern, pitches ignored);
    - ``pitch_acc_given_onset``: of the target notes at steps where the decoder
      also put an onset, the share decoded with the exact pitch;
    - ``dur_acc``: of the note hits, the share with the exact duration.
    All pooled over the batch.
    """
    p, t = pred > 0, true > 0  # (B, 32, 128)
    hit = p & t
    out = {}
    out["note_precision"], out["note_recall"], out["note_f1"] = _f1(hit.sum().item(), p.sum().item(), t.sum().item())
    ps, ts = p.any(-1), t.any(-1)  # (B, 32)
    out["onset_precision"], out["onset_recall"], out["onset_f1"] = _f1(
        (ps & ts).sum().item(), ps.sum().item(), ts.sum().item())
    both = (ps & ts)[..., None] & t  # target notes at steps with decoded onsets
    out["pitch_acc_given_onset"] = (hit & both).sum().item() / max(both.sum().item(), 1)
    out["dur_acc"] = (pred[hit].round() == true[hit].round()).float().mean().item() if hit.any() else 0.0
    return out


def _batches(n: int, size: int):
    for i in range(0, n, size):
        yield slice(i, min(i + size, n))


@torch.no_grad()
def evaluate_accomp_vae(model: AccompVAE, chords: torch.Tensor, prmats: torch.Tensor, *, batch_size: int = 128,
                        beta: float = 1.0) -> dict:
    """Validation scores of ``model`` on ``chords`` ``(N, 8, 36)`` and ``prmats`` ``(N, 32, 128)``.

    Teacher-forced losses and accuracies from ``mu`` (``val_*``), free-running
    :func:`prmat_scores` of ``decode(mu)``, chord reconstruction accuracy
    (``chord_root_acc`` over 13 classes incl. no chord, ``chord_chroma_acc`` per
    pitch class, ``chord_bass_acc``) and the KL (nats per segment).
    """
    was = model.training
    model.eval()
    sums, preds, n = {}, [], len(chords)
    root_hit = chroma_hit = bass_hit = 0.0
    for s in _batches(n, batch_size):
        c, x = chords[s], prmats[s]
        out = model(c, x, sample=False)
        terms = accomp_vae_loss(out, c, beta=beta)
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(c)
        preds.append(model.decode(out["mu"]))
        rt, ct, bt = chord_targets(c)
        root_hit += (out["root"].argmax(-1) == rt).float().sum().item()
        bass_hit += (out["bass"].argmax(-1) == bt).float().sum().item()
        chroma_hit += ((out["chroma"] > 0).float() == ct).float().sum().item()
    model.train(was)
    scores = {f"val_{k}": v / n for k, v in sums.items()}
    scores.update(prmat_scores(torch.cat(preds), prmats))
    scores["chord_root_acc"] = root_hit / (n * 8)
    scores["chord_bass_acc"] = bass_hit / (n * 8)
    scores["chord_chroma_acc"] = chroma_hit / (n * 8 * 12)
    scores["kl"] = scores["val_kl"]
    return scores


def _beat_pc_share(prmat: torch.Tensor, chords: torch.Tensor) -> torch.Tensor:
    """Share of the onsets in ``prmat`` ``(B, 32, 128)`` whose pitch class is in their beat's chord chroma
    (``chords`` ``(B, 8, 36)``); pooled per segment -> ``(B,)`` (NaN where a segment has no onsets)."""
    on = (prmat > 0).float().reshape(prmat.shape[0], 8, 4, 128).sum(2)  # (B, 8, 128) onsets per beat
    pcs = on.new_zeros(on.shape[0], 8, 12)
    pcs.index_add_(2, torch.arange(128) % 12, on)  # (B, 8, 12) onsets per pitch class
    inside = (pcs * chords[..., 12:24]).sum((1, 2))
    total = pcs.sum((1, 2))
    return torch.where(total > 0, inside / total.clamp(min=1), torch.full_like(total, float("nan")))


def _onset_f1_rows(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Per-segment F1 of the onset steps (any pitch): ``(B, 32, 128)`` x2 -> ``(B,)``."""
    p, t = (pred > 0).any(-1), (true > 0).any(-1)  # (B, 32)
    tp = (p & t).sum(-1).float()
    denom = p.sum(-1) + t.sum(-1)
    return torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.ones_like(tp))


@torch.no_grad()
def disentanglement(model: AccompVAE, chords: torch.Tensor, prmats: torch.Tensor, *, seed: int = 0,
                    batch_size: int = 128) -> dict:
    """Swap ``z_chord`` between pairs of segments and see where chord and texture go.

    Each segment ``a`` is paired with a random other segment ``b`` whose chords
    differ (root differs on at least half the beats); the swapped latent is
    ``[z_chord(b) | z_texture(a)]`` (means). Reported (means over pairs):

    - ``chroma_in_donor`` / ``chroma_in_original``: share of the swapped
      decode's onsets whose pitch class lies in the chord of the donor ``b``
      / of ``a`` at that beat; ``recon_chroma_in_original`` is the same for
      the plain reconstruction of ``a`` (the reference);
    - ``onset_f1_texture_source`` / ``onset_f1_chord_donor``: onset-step F1
      of the swapped decode against ``a``'s and ``b``'s onset patterns;
    - chance levels from the data alone: ``reference_onset_f1_pair`` (onset F1
      of ``a``'s true pattern against ``b``'s) and ``reference_chroma_in_other``
      (share of ``a``'s true onsets in ``b``'s chords).
    """
    n = len(chords)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=g)
    rt = chord_targets(chords)[0]  # (N, 8)
    # find for each a a partner with different chords (try a few random permutations)
    partner = perm.clone()
    for _ in range(10):
        bad = ((rt == rt[partner]).float().mean(-1) > 0.5) | (partner == torch.arange(n))
        if not bad.any():
            break
        partner[bad] = torch.randint(0, n, (int(bad.sum()),), generator=g)
    keep = ~(((rt == rt[partner]).float().mean(-1) > 0.5) | (partner == torch.arange(n)))
    a_idx, b_idx = torch.arange(n)[keep], partner[keep]
    was = model.training
    model.eval()
    mus = torch.cat([model.encode(chords[s], prmats[s])[0] for s in _batches(n, batch_size)])  # (N, z)
    cs = model.aspects["chord"]
    res = {k: [] for k in ("donor", "orig", "recon", "f1_src", "f1_donor")}
    for s in _batches(len(a_idx), batch_size):
        a, b = a_idx[s], b_idx[s]
        z = mus[a].clone()
        z[:, cs] = mus[b][:, cs]
        swap = model.decode(z)
        rec = model.decode(mus[a])
        res["donor"].append(_beat_pc_share(swap, chords[b]))
        res["orig"].append(_beat_pc_share(swap, chords[a]))
        res["recon"].append(_beat_pc_share(rec, chords[a]))
        res["f1_src"].append(_onset_f1_rows(swap, prmats[a]))
        res["f1_donor"].append(_onset_f1_rows(swap, prmats[b]))
    model.train(was)

    def mean(k):
        v = torch.cat(res[k])
        return float(v[~torch.isnan(v)].mean()) if (~torch.isnan(v)).any() else float("nan")

    ref_f1 = _onset_f1_rows(prmats[a_idx], prmats[b_idx])
    ref_pc = _beat_pc_share(prmats[a_idx], chords[b_idx])
    return {"n_pairs": int(len(a_idx)), "chroma_in_donor": mean("donor"), "chroma_in_original": mean("orig"),
            "recon_chroma_in_original": mean("recon"), "onset_f1_texture_source": mean("f1_src"),
            "onset_f1_chord_donor": mean("f1_donor"), "reference_onset_f1_pair": float(ref_f1.mean()) if len(ref_f1) else
            float("nan"), "reference_chroma_in_other": float(ref_pc[~torch.isnan(ref_pc)].mean())
            if (~torch.isnan(ref_pc)).any() else float("nan")}


@torch.no_grad()
def time_model(model: AccompVAE, chords: torch.Tensor, prmats: torch.Tensor, *, repeats: int = 3) -> dict:
    """Warm wall time (seconds) of ``encode`` and of free-running ``decode`` for one batch (best of ``repeats``)."""
    model.eval()
    model.decode(model.encode(chords, prmats)[0])  # warm up
    enc, dec = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        mu, _ = model.encode(chords, prmats)
        t1 = time.perf_counter()
        model.decode(mu)
        dec.append(time.perf_counter() - t1)
        enc.append(t1 - t0)
    return {"batch": int(len(chords)), "encode_s": min(enc), "decode_s": min(dec), "threads": torch.get_num_threads()}


def train_accomp_vae(
    *,
    run_dir: str = "runs/accomp_vae",
    out_dir: str | None = "src/collage/weights",
    name: str = "accomp_vae",
    steps: int = 8000,
    batch_size: int = 64,
    lr: float = 1e-3,
    lr_final: float = 1e-4,
    beta: float = 0.1,
    kl_warmup: int = 2000,
    config: AccompVAEConfig | None = None,
    val_size: int = 512,
    eval_size: int = 2000,
    val_every: int = 500,
    max_minutes: float | None = None,
    seed: int = 0,
    progress: bool = True,
    command: str | None = None,
    train_split: str = "train",
    val_split: str = "val",
    init_from: str | None = None,
    freeze_encoder: bool = False,
) -> dict:
    """Train (or resume) the accompaniment VAE, then evaluate the best weights and export them.

    Args:
        run_dir: run folder (resumable: the same call continues a stopped run).
        out_dir: where ``NAME.pt`` / ``NAME.json`` go (None: do not export).
        steps: total optimizer steps; batch_size: segments per step.
        lr, lr_final: Adam learning rate, decayed exponentially to ``lr_final`` at ``steps``.
        beta, kl_warmup: KL weight and its linear warm-up (steps).
        config: model sizes (default :class:`AccompVAEConfig`).
        val_size: fixed val segments scored every ``val_every`` steps (best by free-running note F1).
        eval_size: val segments for the final scores, the swap test and the timing.
        max_minutes: stop after this much wall time (checkpointed; run again to resume).
        init_from: warm-start from these accompaniment-VAE weights (a shipped name or a ``.pt``;
            their config is used); pair with ``kl_warmup=0``.
        freeze_encoder: with ``init_from``, train the decoders only: both encoders keep the warm
            start's weights, so its latents, and every critic and actor trained on them, stay valid.
    Returns:
        dict with ``scores`` (final evaluation), ``train`` (loop result summary) and ``weights`` (path or None).
    """
    for nm, v in (("steps", steps), ("batch_size", batch_size), ("val_size", val_size), ("eval_size", eval_size),
                  ("val_every", val_every)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ParameterError(f"given {nm}={v!r}; expected a positive integer")
    if not (lr > 0 and lr_final > 0):
        raise ParameterError(f"given lr={lr!r}, lr_final={lr_final!r}; expected both > 0")
    if beta < 0 or kl_warmup < 0:
        raise ParameterError(f"given beta={beta!r}, kl_warmup={kl_warmup!r}; expected both >= 0")
    if max_minutes is not None and max_minutes <= 0:
        raise ParameterError(f"given max_minutes={max_minutes!r}; expected > 0")
    threads = set_threads()
    init = warm_start(init_from, AccompVAE, "accompaniment-VAE", freeze_encoder=freeze_encoder)
    config = init.config if init is not None else config or AccompVAEConfig()
    train = SegmentTensors(pop909_segments(train_split, grid="beats"))
    val = SegmentTensors(pop909_segments(val_split, grid="beats"))
    val_idx = val.fixed_subset(val_size, seed=0)
    v_chords, v_prmat = torch.from_numpy(val.chords(val_idx)), torch.from_numpy(val.prmat(val_idx))

    torch.manual_seed(seed)
    model = AccompVAE(config)
    if init is not None:
        model.load_state_dict(init.state_dict())
    trainable = freeze(model, ENCODER_MODULES if freeze_encoder else ())
    opt = torch.optim.Adam(trainable, lr=lr)
    gamma = (lr_final / lr) ** (1.0 / steps)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=gamma)

    def step_fn(step: int, rng: np.random.Generator) -> dict:
        batch = train.sample_batch(rng, batch_size, parts=("chords", "prmat"))
        b_beta = beta * min(1.0, step / kl_warmup) if kl_warmup else beta
        out = model(batch["chords"], batch["prmat"])
        terms = accomp_vae_loss(out, batch["chords"], beta=b_beta)
        opt.zero_grad()
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        return {k: float(v.detach()) for k, v in terms.items() if k in ("loss", "pitch", "dur", "kl", "root", "tf_pitch_acc")}

    def val_fn() -> dict:
        s = evaluate_accomp_vae(model, v_chords, v_prmat, beta=beta)
        return {k: s[k] for k in ("val_loss", "val_recon", "val_kl", "val_tf_pitch_acc", "val_tf_dur_acc", "note_f1",
                                  "onset_f1", "pitch_acc_given_onset", "dur_acc", "chord_root_acc")}

    res = train_loop({"model": model}, {"opt": opt}, step_fn, run_dir=run_dir, max_steps=steps, val_fn=val_fn,
                     val_every=val_every, ckpt_every=val_every, log_every=50, select="note_f1", mode="max",
                     seed=seed, schedulers={"lr": sched}, progress=progress,
                     max_seconds=None if max_minutes is None else 60.0 * max_minutes)
    summary = {"step": res.step, "steps_planned": steps, "best_step": res.best_step, "seconds_this_call": res.seconds,
               "interrupted": res.interrupted, "finished": res.step >= steps}
    # final evaluation of the best weights on a larger fixed val subset
    eval_idx = val.fixed_subset(eval_size, seed=1)
    e_chords, e_prmat = torch.from_numpy(val.chords(eval_idx)), torch.from_numpy(val.prmat(eval_idx))
    scores = evaluate_accomp_vae(model, e_chords, e_prmat, beta=beta)
    scores = {k: v for k, v in scores.items() if not k.startswith("val_") or k in ("val_recon", "val_tf_pitch_acc",
                                                                                     "val_tf_dur_acc")}
    scores["disentanglement"] = disentanglement(model, e_chords, e_prmat)
    scores["timing"] = time_model(model, e_chords[:64], e_prmat[:64])
    scores["eval_segments"] = int(len(eval_idx))
    weights = None
    if out_dir is not None:
        card = {
            "training_command": command or "collage train accomp-vae",
            "data": {"dataset": "POP909", "grid": "beats", "train_split": train_split, "val_split": val_split,
                     "train_segments": int(train.n), "train_sha256": train.hash, "val_sha256": val.hash,
                     "augmentation": "12 transpositions (-6..+5), invalid shifts skipped",
                     "val_subset": f"fixed_subset({eval_size}, seed=1) of the val split, untransposed"},
            "training": {"steps": res.step, "steps_planned": steps, "best_step": res.best_step, "batch_size": batch_size,
                         "lr": lr, "lr_final": lr_final, "beta": beta, "kl_warmup": kl_warmup, "seed": seed,
                         "threads": threads, "init_from": None if init_from is None else str(init_from),
                         "encoder_frozen": bool(freeze_encoder), "selected_on": f"free-running note F1 on {val_size} val segments (fixed_subset seed 0)",
                         "finished": res.step >= steps},
            "reduction": ("PolyDis (Wang et al. 2020): z 256+256, texture GRU 1024, time GRU 1024, note GRU 512, "
                          "5-bit duration GRU; here z {z_chord}+{z_texture}, chord GRUs {chord_hidden}, texture GRU "
                          "{texture_hidden}, time GRU {time_hidden}, note GRU {note_hidden}, a 32-way duration "
                          "class per note").format(**config.__dict__),
            "scores": scores,
        }
        weights = str(save_pretrained(model, name, out_dir, card=card))
    return {"scores": scores, "train": summary, "weights": weights}


def evaluate_weights(name_or_path: str = "accomp_vae", *, n: int = 2000, split: str = "val", seed: int = 1) -> dict:
    """Re-measure shipped (or saved) weights as the training command does: scores on
    ``fixed_subset(n, seed)`` of ``split`` (beats grid, untransposed), the swap test and the timing.

    Example (the numbers in ``docs/results/accomp_vae.md``)::

        python -c "from collage.training.accomp_vae import evaluate_weights as e; import json; print(json.dumps(e(), indent=1))"
    """
    set_threads()
    model = load_pretrained(find_weights(name_or_path))
    if not isinstance(model, AccompVAE):
        raise ParameterError(f"given {name_or_path!r}: a {type(model).__name__}, expected accomp_vae weights")
    data = SegmentTensors(pop909_segments(split, grid="beats"))
    idx = data.fixed_subset(n, seed=seed)
    chords, prmat = torch.from_numpy(data.chords(idx)), torch.from_numpy(data.prmat(idx))
    beta = float(model.card.get("training", {}).get("beta", 1.0))
    scores = evaluate_accomp_vae(model, chords, prmat, beta=beta)
    scores = {k: v for k, v in scores.items() if not k.startswith("val_") or k in ("val_recon", "val_tf_pitch_acc",
                                                                                     "val_tf_dur_acc")}
    scores["disentanglement"] = disentanglement(model, chords, prmat)
    scores["timing"] = time_model(model, chords[:64], prmat[:64])
    scores["eval_segments"] = int(len(idx))
    return scores


EOS_BIAS_GRID = tuple(round(0.1 * i, 1) for i in range(16))
"""Biases :func:`run_calibrate_eos_bias` tries: 0, 0.1, ..., 1.5."""


@torch.no_grad()
def calibrate_eos_bias(model: AccompVAE, chords: torch.Tensor, prmats: torch.Tensor, *, grid=EOS_BIAS_GRID,
                       batch_size: int = 500) -> dict:
    """Choose the decoder's end-of-step bias so that the round trip keeps the true number of notes.

    Encodes ``chords`` ``(N, 8, 36)`` and ``prmats`` ``(N, 32, 128)`` (posterior
    means), decodes them at each bias of ``grid`` and picks the bias whose mean
    decoded note count per segment is closest to the true one.

    Returns:
        ``{"true_notes": float, "biases": {b: {"notes", "note_precision",
        "note_recall", "note_f1", "onset_f1"}}, "chosen": float}``.
    """
    if not len(grid):
        raise ParameterError("given an empty grid; expected at least one bias")
    mus = torch.cat([model.encode(chords[s], prmats[s])[0] for s in _batches(len(chords), batch_size)])  # (N, z)
    true_notes = float((prmats > 0).sum()) / len(prmats)
    biases = {}
    for b in grid:
        pred = torch.cat([model.decode(mus[s], eos_bias=float(b)) for s in _batches(len(mus), batch_size)])
        sc = prmat_scores(pred, prmats)
        biases[float(b)] = {"notes": float((pred > 0).sum()) / len(pred),
                            **{k: sc[k] for k in ("note_precision", "note_recall", "note_f1", "onset_f1")}}
    chosen = min(biases, key=lambda b: (abs(biases[b]["notes"] - true_notes), b))
    return {"true_notes": true_notes, "biases": biases, "chosen": chosen}


def run_calibrate_eos_bias(name: str = "accomp_vae", *, n: int = 2000, seed: int = 2, grid=EOS_BIAS_GRID,
                           write: bool = True, tiny: bool = False) -> dict:
    """`collage train accomp-eos-bias`: :func:`calibrate_eos_bias` on ``fixed_subset(n, seed)`` of the val
    split (beats grid, untransposed) and, with ``write``, the choice into the card (``config.eos_bias``,
    the sweep under ``eos_bias_calibration``; the weights file is not touched).

    ``seed`` 2 keeps the draw apart from the card's scores (seed 1) and from checkpoint selection (seed 0).
    Returns :func:`calibrate_eos_bias`'s dict plus ``"model"`` and ``"segments"``.
    """

    set_threads()
    model = tiny_model("accomp_vae") if tiny else load_pretrained(find_weights(name))
    if not isinstance(model, AccompVAE):
        raise ParameterError(f"given {name!r}: a {type(model).__name__}, expected accomp_vae weights")
    data = SegmentTensors(pop909_segments("val", grid="beats"))
    idx = data.fixed_subset(n, seed=seed)
    chords, prmat = torch.from_numpy(data.chords(idx)), torch.from_numpy(data.prmat(idx))
    res = calibrate_eos_bias(model, chords, prmat, grid=grid)
    res.update(model=name, segments=int(len(idx)))
    if write and not tiny:
        config = dataclasses.asdict(dataclasses.replace(model.config, eos_bias=res["chosen"]))
        path = update_card(find_weights(name), config=config, eos_bias_calibration={
            "command": f"collage train accomp-eos-bias --model {name} --segments {n} --seed {seed}",
            "rule": "the bias whose mean decoded note count per segment (round trip from posterior means) is "
                    f"closest to the true one, on fixed_subset({n}, seed={seed}) of the val split",
            "true_notes": round(res["true_notes"], 3),
            "val": {str(b): {k: round(v, 4) for k, v in d.items()} for b, d in res["biases"].items()},
            "chosen": res["chosen"],
        })
        log.info("%s: eos_bias %.1f written to %s", name, res["chosen"], path)
    return res

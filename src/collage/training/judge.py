"""Train the harmony judge (:class:`collage.models.judge.HarmonyJudge`) on Ωh vs Ωdh.

Each batch is half harmonic pairs (a train segment's own melody and
accompaniment, label 1) and half disharmonic pairs (the melody of one
segment and the accompaniment of a segment of another song, label 0), both
tracks of a pair transposed together by one of the 12 transpositions. The
best step on a fixed set of validation pairs (val split, no transposition)
is kept; the test accuracy on 5000 + 5000 seeded test pairs goes into the
card.

Command: ``collage train judge --run-dir runs/judge --steps 4000``.
"""

from __future__ import annotations

import logging
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from collage.datasets.pop909 import disharmonic_pairs, harmonic_pairs, pop909_segments
from collage.errors import ParameterError
from collage.models.judge import HarmonyJudge, HarmonyJudgeConfig, packed_inputs
from collage.pretrained import default_save_dir, save_pretrained
from collage.training.latents import PairData, data_hash
from collage.training.loop import set_threads, train_loop

__all__ = ["train_judge", "judge_accuracy", "pair_notes"]

log = logging.getLogger(__name__)


def pair_notes(segset, pairs: np.ndarray) -> tuple[list, list]:
    """Melody and accompaniment notes of ``(n, 2)`` pairs ``(i, j)``: lists of ``(n_k, 4)`` arrays."""
    return [segset.melody(int(i)) for i in pairs[:, 0]], [segset.accomp(int(j)) for j in pairs[:, 1]]


def judge_accuracy(judge, segset, *, n_pairs: int = 5000, seed: int = 0) -> dict[str, float]:
    """Accuracy of the judge on ``n_pairs`` Ωh and ``n_pairs`` Ωdh pairs of ``segset`` (seeded).

    Returns:
        ``{'accuracy', 'acc_harmonic', 'acc_disharmonic', 'bce'}``.
    """
    n_h = min(n_pairs, len(segset))
    ph = harmonic_pairs(segset, n_h, seed=seed)
    pd = disharmonic_pairs(segset, n_pairs, seed=seed + 1)
    sh = judge.score(*pair_notes(segset, ph))
    sd = judge.score(*pair_notes(segset, pd))
    eps = 1e-7
    bce = -(np.log(np.clip(sh, eps, 1)).sum() + np.log(np.clip(1 - sd, eps, 1)).sum()) / (len(sh) + len(sd))
    return {
        "accuracy": float(((sh > 0.5).sum() + (sd <= 0.5).sum()) / (len(sh) + len(sd))),
        "acc_harmonic": float((sh > 0.5).mean()),
        "acc_disharmonic": float((sd <= 0.5).mean()),
        "bce": float(bce),
    }


def train_judge(
    *,
    run_dir: str | os.PathLike,
    steps: int = 4000,
    batch_size: int = 256,
    lr: float = 2e-3,
    seed: int = 0,
    val_pairs: int = 2000,
    val_every: int = 250,
    config=None,
    max_seconds: float | None = None,
    progress: bool = True,
    tiny: bool = False,
    max_songs: int | None = None,
):
    """Train (or resume) the judge; returns ``(model with best weights, TrainResult, card dict)``.

    Args:
        run_dir: the run folder (resumes when it holds a checkpoint).
        steps: optimizer steps; ``batch_size`` pairs each (half Ωh, half Ωdh).
        lr: Adam learning rate (cosine-decayed to 5 % over ``steps``).
        val_pairs: Ωh and Ωdh validation pairs each.
        config: a :class:`HarmonyJudgeConfig` (default sizes; ``tiny`` for tests).
        max_songs: use only the segments of the first songs (smoke tests).
    """
    if steps < 1 or batch_size < 2:
        raise ParameterError(f"given steps={steps}, batch_size={batch_size}; expected steps >= 1, batch_size >= 2")
    set_threads()
    config = config or (HarmonyJudgeConfig.tiny() if tiny else HarmonyJudgeConfig())
    train = pop909_segments("train", grid="beats")
    val = pop909_segments("val", grid="beats")
    data = PairData(train)
    pool = np.arange(data.n)
    if max_songs is not None:
        pool = np.flatnonzero(np.isin(data.song_ids, train.songs[:max_songs]))
    torch.manual_seed(seed)
    model = HarmonyJudge(config)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    half = batch_size // 2
    labels = torch.cat([torch.ones(half), torch.zeros(batch_size - half)])

    def step_fn(step, rng):
        i = pool[rng.integers(0, len(pool), size=batch_size)]
        j = i.copy()
        j[half:] = data.other_song(i[half:], rng)
        k = data.random_shifts(i, j, rng)
        mn, ms = data.melodies(i, k)
        an, as_ = data.accomps(j, k)
        mel, acc = packed_inputs(mn, ms, an, as_, batch_size)  # (B, 32, 142), (B, 2, 32, 128)
        logits = model(mel, acc)  # (B,)
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        acc_ = ((logits > 0).float() == labels).float().mean()
        return {"loss": loss.item(), "acc": acc_.item()}

    def val_fn():
        r = judge_accuracy(model, val, n_pairs=val_pairs, seed=123)
        return {"val_acc": r["accuracy"], "val_bce": r["bce"]}

    res = train_loop({"model": model}, {"opt": opt}, step_fn, run_dir=run_dir, max_steps=steps, val_fn=val_fn,
                     val_every=min(val_every, steps), ckpt_every=min(val_every, steps), log_every=min(50, steps),
                     select="val_acc", mode="max", seed=seed, schedulers={"lr": sched}, progress=progress,
                     max_seconds=max_seconds)
    card = {
        "training_command": " ".join(["collage"] + sys.argv[1:]) if sys.argv and "collage" in sys.argv[0] else None,
        "data": {"train": "POP909 train split, beats grid, 8-beat windows (1-beat stride), Ωh vs Ωdh, "
                          "12 transpositions (both tracks together)",
                 "select": f"val split, {val_pairs} Ωh + {val_pairs} Ωdh pairs (seed 123), best val accuracy",
                 "train_hash": data_hash(train), "val_hash": data_hash(val)},
        "train": {"steps": res.step, "batch_size": batch_size, "lr": lr, "seed": seed, "best_step": res.best_step,
                  "seconds": round(res.seconds, 1), "threads": torch.get_num_threads()},
        "scores": {"val": res.best_metrics},
    }
    return model, res, card


def ship_judge(model, card: dict, *, out_dir=None, name: str = "harmony_judge", test_pairs: int = 5000,
               seed: int = 0):
    """Score the judge on the test split (``test_pairs`` Ωh + Ωdh, seeded) and save it with its card.

    ``out_dir`` defaults to the package's weights folder. Returns the ``.pt`` path.
    """
    test = pop909_segments("test", grid="beats")
    card = dict(card)
    card["scores"] = dict(card.get("scores", {}))
    card["scores"]["test"] = judge_accuracy(model, test, n_pairs=test_pairs, seed=seed)
    card["scores"]["test"]["pairs"] = f"{test_pairs} Ωh + {test_pairs} Ωdh, POP909 test split, beats grid, seed {seed}"
    card["data"] = dict(card.get("data", {}), test_hash=data_hash(test))
    return save_pretrained(model, name, out_dir or default_save_dir(name), card=card)

"""Training the Multitrack Music Transformer on POP909 and music21's corpus (resumable).

Each step draws ``batch`` pieces of the train split (uniformly), a random
start beat (beat 0 a quarter of the time, so that the model learns how
pieces begin) and a random transposition of -5..+6 semitones (kept inside
MIDI's range), as in the paper; the window is
:func:`collage.represent.mmt.window` of at most ``max_seq_len`` events and
``max_beat`` beats. Validation is the teacher-forced loss, per field, of the
first window (from beat 0, untransposed) of every validation piece.

Run folder: ``checkpoint.pt`` (every ``ckpt_minutes``), ``best.pt`` (best
validation loss), ``log.jsonl`` (train loss every 10 steps, validation per
field). Running the same command again resumes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from collage.datasets import mmt as data
from collage.models.mmt import MMT, MMTConfig, collate, eval_loss
from collage.represent import mmt as rep
from collage.training.loop import set_threads, train_loop, warm_start

__all__ = ["Windows", "read_log", "ship", "train_mmt"]

log = logging.getLogger(__name__)

TRANSPOSE = (-5, 6)
P_START_AT_ZERO = 0.25


class Windows:
    """The note events of one split with random windows for training and fixed ones for evaluation."""

    def __init__(self, split: str, *, progress: bool = False, cached_only: bool = False):
        arrays = data.mmt_arrays(split, progress=progress, cached_only=cached_only)
        self.codes = arrays["codes"].astype(np.int64)
        self.ptr = arrays["ptr"]
        self.ids = [str(x) for x in arrays["ids"].tolist()]

    def __len__(self) -> int:
        return len(self.ids)

    def notes(self, i: int) -> np.ndarray:
        return self.codes[self.ptr[i]:self.ptr[i + 1]]

    def random_window(self, i: int, rng: np.random.Generator, config: MMTConfig, *, transpose: bool = True) -> np.ndarray:
        notes = self.notes(i)
        last = int(notes[:, rep.BEAT].max()) - 1
        start = 0 if rng.random() < P_START_AT_ZERO else int(rng.integers(0, max(last - 4, 0) + 1))
        w = rep.window(notes, start_beat=start, max_len=config.max_seq_len, max_beat=config.max_beat)
        if transpose:
            m = w[:, rep.TYPE] == rep.NOTE
            if m.any():
                lo = max(TRANSPOSE[0], 1 - int(w[m, rep.PITCH].min()))
                hi = min(TRANSPOSE[1], 128 - int(w[m, rep.PITCH].max()))
                if lo <= hi:
                    w = rep.transpose_codes(w, int(rng.integers(lo, hi + 1)))
        return w

    def first_window(self, i: int, config: MMTConfig) -> np.ndarray:
        return rep.window(self.notes(i), start_beat=0, max_len=config.max_seq_len, max_beat=config.max_beat)


def train_mmt(
    run_dir: str | Path,
    *,
    config: MMTConfig,
    batch: int = 8,
    lr: float = 5e-4,
    warmup: int = 200,
    max_steps: int = 100_000,
    max_minutes: float | None = None,
    val_every: int = 200,
    ckpt_minutes: float = 5.0,
    seed: int = 0,
    progress: bool = True,
    cached_only: bool = False,
    init_from: str | None = None,
    command: str = "",
):
    """Train (or resume) an MMT in ``run_dir``; returns :class:`collage.training.loop.TrainResult`.

    ``cached_only``: use only the corpus files already parsed into the cache
    (see :func:`collage.datasets.mmt.mmt_arrays`); the pieces used are
    listed in ``run_dir/data.json``. ``init_from``: a new run starts from these MMT weights (a
    shipped name such as ``mmt``, or a ``.pt``) and takes their config, so that training goes on
    from what ships (a resumed run ignores it: its checkpoint wins).
    """
    set_threads()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    init = None if (run_dir / "config.json").exists() else warm_start(init_from, MMT, "MMT")
    if init is not None:
        config = init.config
    if (run_dir / "config.json").exists():  # resuming: the run's own config wins
        config = MMTConfig(**json.loads((run_dir / "config.json").read_text()))
    else:
        (run_dir / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=1) + "\n")
    if command and not (run_dir / "command.txt").exists():
        (run_dir / "command.txt").write_text(command + "\n")
    train = Windows("train", progress=progress, cached_only=cached_only)
    val = Windows("val", progress=progress, cached_only=cached_only)
    used = {"train": train.ids, "val": val.ids, "n_train_notes": len(train.codes), "cached_only": cached_only}
    if not (run_dir / "data.json").exists():  # a resumed run keeps the data it started with
        (run_dir / "data.json").write_text(json.dumps(used, indent=0) + "\n")
    val_windows = [val.first_window(i, config) for i in range(len(val))]
    log.info("train: %d pieces, %d notes; val: %d pieces", len(train), len(train.codes), len(val))
    model = MMT(config)
    if init is not None:
        model.load_state_dict(init.state_dict())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))
    step_s = []

    def step_fn(step, rng):
        t = time.time()
        idx = rng.integers(0, len(train), size=batch)
        codes, mask = collate([train.random_window(int(i), rng, config) for i in idx])
        loss, per = model.loss(codes, mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step_s.append(time.time() - t)
        out = {"loss": loss.item(), **{f: float(v) for f, v in zip(rep.FIELDS, per)}, "s_per_step": step_s[-1]}
        return out

    def val_fn():
        r = eval_loss(model, val_windows)
        return {"val_loss": r["loss"], **{f"val_{f}": r[f] for f in rep.FIELDS}}

    # train_loop checkpoints every ckpt_every steps: about ckpt_minutes at ~10 s per step (one thread, shared machine)
    ckpt_every = max(5, int(ckpt_minutes * 60 / 10))
    return train_loop(
        {"model": model}, {"opt": opt}, step_fn, run_dir=run_dir, max_steps=max_steps, val_fn=val_fn,
        val_every=val_every, ckpt_every=ckpt_every, log_every=10, select="val_loss", mode="min", seed=seed,
        schedulers={"sched": sched}, progress=progress,
        max_seconds=None if max_minutes is None else max_minutes * 60,
    )


def read_log(run_dir: str | Path) -> tuple[list[dict], list[dict]]:
    """(train records, validation records) of a run's ``log.jsonl``."""
    tr, va = [], []
    p = Path(run_dir) / "log.jsonl"
    if p.exists():
        for line in p.read_text().splitlines():
            r = json.loads(line)
            (va if "val" in r else tr).append(r)
    return tr, va


def ship(run_dir: str | Path, *, name: str = "mmt", out_dir: str | Path | None = None, command: str = "",
         scores: dict | None = None, note: str = "", extra: dict | None = None) -> Path:
    """Save the run's best weights as ``name.pt`` + ``name.json`` (card) in the package weights (or ``out_dir``)."""
    from collage.pretrained import save_pretrained

    run_dir = Path(run_dir)
    config = MMTConfig(**json.loads((run_dir / "config.json").read_text()))
    model = MMT(config)
    best = torch.load(run_dir / "best.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(best["model"])
    tr, va = read_log(run_dir)
    if not command and (run_dir / "command.txt").exists():
        command = (run_dir / "command.txt").read_text().strip()
    used = json.loads((run_dir / "data.json").read_text()) if (run_dir / "data.json").exists() else {}
    best_val = min(va, key=lambda r: r["val"]["val_loss"]) if va else None
    card = {
        "training_command": command,
        "data": {
            "split_file": "collage/datasets/splits/mmt.json",
            "split_sha256": data.split_hash(),
            "sources": "POP909 (project split) + music21 corpus: Bach chorales and other multi-part works",
            "train_pieces": len(used.get("train", [])),
            "train_notes": used.get("n_train_notes"),
            "val_pieces": len(used.get("val", [])),
            "corpus_cached_only": used.get("cached_only"),
            "train_ids_sha256": hashlib.sha256(json.dumps(used.get("train", [])).encode()).hexdigest(),
        },
        "training": {
            "steps_run": tr[-1]["step"] if tr else 0,
            "best_val_step": best_val["step"] if best_val else None,
            "best_val": best_val["val"] if best_val else None,
            "val_curve": [{"step": r["step"], "val_loss": round(r["val"]["val_loss"], 4)} for r in va],
        },
        "scores": scores or {},
        "note": note,
        **(extra or {}),
    }
    if out_dir is None:
        from collage.pretrained import default_save_dir

        out_dir = default_save_dir(name)
    return save_pretrained(model, name, out_dir, card=card)

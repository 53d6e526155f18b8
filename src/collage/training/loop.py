"""One resumable training loop for every model in collage.

The loop owns what every trainer needs and nothing model-specific:

- a run folder with ``checkpoint.pt`` (modules, optimizers, step, RNG states,
  best score; tensors and plain data only) written every ``ckpt_every`` steps,
  at the end and on Ctrl-C, so that running the same command again resumes;
- ``log.jsonl``: one JSON object per logged step and per validation;
- ``best.pt``: the modules' state_dicts at the best validation score;
- a progress bar (rich) on stderr.

The trainer supplies ``step_fn(step, rng) -> dict`` (draws its batch, does its
own forward/backward/optimizer steps, returns scalar metrics) and optionally
``val_fn() -> dict`` (scores on the validation split, in eval mode).

Example::

    result = train_loop(
        {"model": model}, {"opt": opt}, step_fn, run_dir="runs/melody_vae",
        max_steps=5000, val_fn=val_fn, select="val_loss", mode="min",
    )
    # result.best_metrics, result.modules (best weights loaded)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from collage.errors import ParameterError
from collage.io.atomic import atomic_path
from collage.models.runtime import set_threads  # re-exported: every training run calls it once
from collage.pretrained import find_weights, load_pretrained
from collage.progress import progress_bar

__all__ = ["train_loop", "TrainResult", "set_threads"]

log = logging.getLogger(__name__)


def warm_start(init_from, cls, what: str, *, freeze_encoder: bool = False):
    """The weights ``init_from`` (a shipped name or a .pt path) to warm-start a ``cls`` model from, or None.

    Raises a :class:`ParameterError` when they are not ``cls`` weights (``what`` names the kind in the
    message) or when ``freeze_encoder`` is asked without them.
    """
    if init_from is None:
        if freeze_encoder:
            raise ParameterError("given freeze_encoder=True without init_from; a frozen encoder needs trained weights")
        return None

    init = load_pretrained(find_weights(init_from))
    if not isinstance(init, cls):
        raise ParameterError(f"given init_from={init_from!r}: not {what} weights")
    return init


def freeze(model: torch.nn.Module, names) -> list[torch.nn.Parameter]:
    """Stop the gradients of ``model``'s submodules ``names``; return the parameters still trained."""
    for name in names:
        getattr(model, name).requires_grad_(False)
    return [p for p in model.parameters() if p.requires_grad]


@dataclasses.dataclass
class TrainResult:
    """What :func:`train_loop` returns."""

    step: int
    best_step: int | None
    best_metrics: dict
    last_metrics: dict
    seconds: float
    run_dir: Path
    interrupted: bool = False


def _rng_state(rng: np.random.Generator) -> dict:
    return {"numpy": rng.bit_generator.state, "torch": torch.get_rng_state()}


def _set_rng_state(rng: np.random.Generator, state: dict) -> None:
    rng.bit_generator.state = state["numpy"]
    torch.set_rng_state(state["torch"])


def train_loop(
    modules: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    step_fn: Callable[[int, np.random.Generator], dict],
    *,
    run_dir: str | os.PathLike,
    max_steps: int,
    val_fn: Callable[[], dict] | None = None,
    val_every: int = 500,
    ckpt_every: int = 500,
    log_every: int = 50,
    select: str = "val_loss",
    mode: str = "min",
    seed: int = 0,
    schedulers: dict | None = None,
    progress: bool = True,
    max_seconds: float | None = None,
) -> TrainResult:
    """Run (or resume) training until ``max_steps`` or ``max_seconds``.

    Args:
        modules, optimizers: everything whose state must survive a resume.
        step_fn: ``(step, rng) -> {metric: float}`` for one training step.
        run_dir: the run folder; an existing ``checkpoint.pt`` there is resumed.
        val_fn: returns validation metrics including ``select``; the loop puts
            modules in eval mode around it.
        select, mode: which validation metric picks ``best.pt`` and whether
            lower (``'min'``) or higher (``'max'``) is better.
        max_seconds: stop (with a checkpoint) after this much wall time in this
            call; running again resumes.
    Returns:
        :class:`TrainResult`; the modules hold the best weights when a
        validation ran, else the last ones.
    """
    if mode not in ("min", "max"):
        raise ParameterError(f"given mode={mode!r}; expected 'min' or 'max'")
    if max_steps < 1:
        raise ParameterError(f"given max_steps={max_steps}; expected >= 1")
    schedulers = schedulers or {}
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path, best_path, log_path = run_dir / "checkpoint.pt", run_dir / "best.pt", run_dir / "log.jsonl"
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    step, best_score, best_step, best_metrics = 0, None, None, {}
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        for k, m in modules.items():
            m.load_state_dict(ck["modules"][k])
        for k, o in optimizers.items():
            o.load_state_dict(ck["optimizers"][k])
        for k, s in schedulers.items():
            s.load_state_dict(ck["schedulers"][k])
        _set_rng_state(rng, ck["rng"])
        step, best_score, best_step, best_metrics = ck["step"], ck["best_score"], ck["best_step"], ck["best_metrics"]
        log.info("resumed %s at step %d", run_dir, step)

    def save_checkpoint():
        state = {
            "modules": {k: m.state_dict() for k, m in modules.items()},
            "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in schedulers.items()},
            "rng": _rng_state(rng),
            "step": step,
            "best_score": best_score,
            "best_step": best_step,
            "best_metrics": best_metrics,
        }
        with atomic_path(ckpt_path) as tmp:
            torch.save(state, tmp)

    def write_log(record: dict):
        with open(log_path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def validate():
        nonlocal best_score, best_step, best_metrics
        for m in modules.values():
            m.eval()
        with torch.no_grad():
            metrics = {k: float(v) for k, v in val_fn().items()}
        for m in modules.values():
            m.train()
        score = metrics.get(select)
        if score is None or not math.isfinite(score):
            raise ParameterError(f"val_fn returned no finite {select!r}: {metrics}")
        better = best_score is None or (score < best_score if mode == "min" else score > best_score)
        if better:
            best_score, best_step, best_metrics = score, step, metrics
            with atomic_path(best_path) as tmp:
                torch.save({k: m.state_dict() for k, m in modules.items()}, tmp)
        write_log({"step": step, "time": time.time(), "val": metrics, "best": better})
        return metrics

    bar = progress_bar(
        TextColumn(f"[bold]{run_dir.name}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), TextColumn("{task.fields[info]}"), disable=not progress, transient=False,
    )
    t0 = time.time()
    last, interrupted, running = {}, False, {}
    for m in modules.values():
        m.train()
    try:
        with bar:
            task = bar.add_task("train", total=max_steps, completed=step, info="")
            while step < max_steps:
                metrics = step_fn(step, rng)
                for s in schedulers.values():
                    s.step()
                step += 1
                for k, v in metrics.items():
                    running[k] = running.get(k, 0.0) + float(v)
                if step % log_every == 0 or step == max_steps:
                    n = log_every if step % log_every == 0 else step % log_every
                    last = {k: v / n for k, v in running.items()}
                    running = {}
                    write_log({"step": step, "time": time.time(), "train": last})
                    bar.update(task, info=" ".join(f"{k}={v:.4g}" for k, v in list(last.items())[:4]))
                bar.update(task, completed=step)
                if val_fn is not None and (step % val_every == 0 or step == max_steps):
                    validate()
                if step % ckpt_every == 0:
                    save_checkpoint()
                if max_seconds is not None and time.time() - t0 > max_seconds:
                    log.warning("stopping at step %d after %.0f s (max_seconds); run again to resume", step, time.time() - t0)
                    break
    except KeyboardInterrupt:
        interrupted = True
        log.warning("interrupted at step %d; checkpoint saved, run the same command to resume", step)
    save_checkpoint()
    if val_fn is not None and best_path.exists():
        best = torch.load(best_path, map_location="cpu", weights_only=True)
        for k, m in modules.items():
            m.load_state_dict(best[k])
    return TrainResult(step, best_step, best_metrics, last, time.time() - t0, run_dir, interrupted)

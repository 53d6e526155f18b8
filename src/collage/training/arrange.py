"""Training the part separation models (``collage train arrange ...``).

Batches of 16 windows of at most ``seq_len`` notes (500, the paper's) from
pieces of similar length (a random run of 16 in order of length, all cut to
the shortest one's length: no padding), random transposition by -5..+6 semitones
(the paper's "strong" augmentation), cross entropy, Adam (lr 1e-3, β = 0.9,
0.999). Validation: note accuracy on the first 2000 notes of every
validation piece (the paper's maximum evaluation length); the best
checkpoint wins. Runs through :func:`collage.training.loop.train_loop`, so a
run is resumable (run the same command again) and logs to
``RUN_DIR/log.jsonl``; at the end the best weights are written with their
card (``collage.pretrained.save_pretrained``) as ``arrange_<dataset>_<model>[_hints]``.

The zone baseline is "trained" too: :func:`fit_zones` learns the optimal
zones of the training split and writes ``collage/arrangement/zones.json``.
"""

from __future__ import annotations

import copy
import json
import logging
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from collage.arrangement.baselines import ZONES_FILE, fit_zone_model, pitch_counts
from collage.arrangement.data import entry_from_labels, load_arrays_for, note_features, pitch_hints_from_labels
from collage.arrangement.ensembles import DATASET_ENSEMBLE
from collage.arrangement.neural import predict_logits
from collage.errors import ParameterError
from collage.io.atomic import atomic_path
from collage.models.arrange import ARCHITECTURES, batch_features
from collage.pretrained import _lookup, build_model, default_save_dir, save_pretrained
from collage.training.loop import set_threads, train_loop

__all__ = ["train_arrange", "weights_name", "fit_zones", "MODELS"]

log = logging.getLogger(__name__)

MODELS = ("lstm", "bilstm", "transformer-enc", "transformer-dec")


def weights_name(dataset: str, model: str, hints: str | None = None) -> str:
    """``arrange_bach_bilstm``, ``arrange_pop909_lstm_hints``, ..."""
    name = f"arrange_{dataset}_{model.replace('-', '_')}"
    return name + ("_hints" if hints == "entry" else "_pitchhints" if hints == "pitch" else "")


def _val_accuracy(model, val, entries, hints_ph, max_len: int) -> dict:
    P = val.n_parts
    feats, labels = [], []
    for i in range(len(val)):
        notes, lab = val.piece(i)
        notes, lab = notes[:max_len], lab[:max_len]
        feats.append(note_features(notes, n_parts=P, entry=entries[i], pitch_hints=hints_ph[i]))
        labels.append(lab)
    logits = predict_logits(model, feats)
    correct = sum(int((lg.argmax(1) == lab).sum()) for lg, lab in zip(logits, labels))
    total = sum(len(lab) for lab in labels)
    return {"val_acc": 100.0 * correct / max(total, 1)}


def train_arrange(
    dataset: str,
    model: str,
    *,
    hints: str | None = None,
    run_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    max_steps: int = 3000,
    max_seconds: float | None = None,
    seq_len: int = 500,
    batch_size: int = 16,
    lr: float = 1e-3,
    transpose: tuple[int, int] = (-5, 6),
    val_every: int = 50,
    val_max_len: int = 2000,
    seed: int = 0,
    progress: bool = True,
    pop909_root=None,
    command: str | None = None,
    half: bool = True,
) -> dict:
    """Train one model and write its weights and card; returns the card.

    Args:
        dataset: ``'bach'`` or ``'pop909'``.
        model: ``'lstm'``, ``'bilstm'``, ``'transformer-enc'`` or ``'transformer-dec'``.
        hints: None, ``'entry'`` (entry hints) or ``'pitch'`` (pitch hints).
        run_dir: the resumable run folder (default ``runs/<weights name>``).
        out_dir: where the weights and card go (default: the package's ``weights/``).
        max_steps, max_seconds: stop at whichever comes first (running again resumes).
        half: store the shipped weights as float16 (halves their size; they load into float32).
    """

    if model not in ARCHITECTURES:
        raise ParameterError(f"given model {model!r}; expected one of {', '.join(ARCHITECTURES)}")
    if hints not in (None, "entry", "pitch"):
        raise ParameterError(f"given hints {hints!r}; expected 'entry' or 'pitch'")
    set_threads()
    name = weights_name(dataset, model, hints)
    run_dir = Path(run_dir or Path("runs") / name)
    out_dir = Path(out_dir) if out_dir is not None else default_save_dir(name)

    train = load_arrays_for(dataset, "train", pop909_root=pop909_root)
    val = load_arrays_for(dataset, "val", pop909_root=pop909_root)
    P = train.n_parts
    arch = ARCHITECTURES[model]

    _, config_cls = _lookup(arch)
    config = config_cls(n_parts=P, entry_hints=hints == "entry", pitch_hints=hints == "pitch")
    net = build_model(arch, config)
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-7)

    def side_info(arr):
        ents, phs = [], []
        for i in range(len(arr)):
            notes, lab = arr.piece(i)
            ents.append(entry_from_labels(notes, lab, P) if hints == "entry" else None)
            phs.append(pitch_hints_from_labels(notes, lab, P) if hints == "pitch" else None)
        return ents, phs

    tr_ent, tr_ph = side_info(train)
    va_ent, va_ph = side_info(val)
    lo, hi = transpose
    loss_fn = torch.nn.CrossEntropyLoss(reduction="none")

    # Length-bucketed batches: a random run of batch_size pieces in order of length (clipped at the
    # ends, so every piece is in the same number of runs), each cut to a random window of the
    # shortest one's length (at most seq_len): no padding, so the BiLSTM needs no packing.
    by_length = np.argsort(np.diff(train.ptr), kind="stable")

    lengths = np.diff(train.ptr)

    def step_fn(step: int, rng: np.random.Generator) -> dict:
        feats, labels = [], []
        start = int(rng.integers(-(batch_size - 1), len(train)))
        chosen = by_length[np.clip(np.arange(start, start + batch_size), 0, len(train) - 1)]
        win = int(min(seq_len, lengths[chosen].min()))  # equal-length windows: no padding in the batch
        for i in chosen:
            i = int(i)
            notes, lab = train.piece(i)
            a = int(rng.integers(len(notes) - win + 1))
            notes, lab = notes[a:a + win].copy(), lab[a:a + win]
            shift = int(rng.integers(lo, hi + 1))
            notes[:, 2] = np.clip(notes[:, 2] + shift, 0, 127)
            ph = None if tr_ph[i] is None else np.where(tr_ph[i] > 0, np.clip(tr_ph[i] + shift, 1, 127), 0)
            feats.append(note_features(notes, n_parts=P, entry=tr_ent[i], pitch_hints=ph))
            labels.append(lab)
        batch = batch_features(feats)
        y = torch.zeros(batch["mask"].shape, dtype=torch.long)  # (B, T)
        for b, lab in enumerate(labels):
            y[b, : len(lab)] = torch.from_numpy(lab)
        logits = net(batch)  # (B, T, P)
        m = batch["mask"].float()
        loss = (loss_fn(logits.transpose(1, 2), y) * m).sum() / m.sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            acc = ((logits.argmax(-1) == y).float() * m).sum() / m.sum()
        return {"loss": loss.item(), "acc": 100.0 * acc.item()}

    def val_fn() -> dict:
        return _val_accuracy(net, val, va_ent, va_ph, val_max_len)

    run_dir.mkdir(parents=True, exist_ok=True)
    history = run_dir / "commands.txt"
    this_command = command or " ".join(shlex.quote(a) for a in sys.argv)
    with open(history, "a") as f:
        f.write(this_command + "\n")
    t0 = time.time()
    result = train_loop(
        {"model": net}, {"opt": opt}, step_fn, run_dir=run_dir, max_steps=max_steps, val_fn=val_fn,
        val_every=val_every, ckpt_every=val_every, log_every=25, select="val_acc", mode="max", seed=seed,
        progress=progress, max_seconds=max_seconds,
    )
    if result.interrupted:
        log.warning("interrupted: weights not written; run the same command to resume")
        return {}
    finished = result.step >= max_steps
    best_step, val_acc = result.best_step, result.best_metrics.get("val_acc")
    ckpt = run_dir / "checkpoint.pt"
    if ckpt.exists() and result.step != best_step:
        # stopped between validations (time limit): score the last weights too and keep the better
        best_state = {k: v.clone() for k, v in net.state_dict().items()}
        net.load_state_dict(torch.load(ckpt, map_location="cpu", weights_only=True)["modules"]["model"])
        net.eval()
        last = val_fn()["val_acc"]
        net.train()
        log.info("last weights (step %d): val acc %.2f; best validated (step %s): %.2f", result.step, last,
                 best_step, val_acc if val_acc is not None else float("nan"))
        if val_acc is None or last > val_acc:
            best_step, val_acc = result.step, last
        else:
            net.load_state_dict(best_state)
    commands = [c for c in history.read_text().splitlines() if c.strip()]
    card = {
        "task": "part separation (collage arrange)",
        "dataset": dataset,
        "ensemble": {"bach": "satb", "pop909": "pop909"}[dataset],
        "model": model,
        "hints": hints,
        "training_command": commands[-1],
        "training_commands": commands,
        "data": {
            "train_split": f"{dataset} train (committed split, collage/datasets/splits/{dataset}.json)",
            "train_pieces": len(train), "train_notes": train.n_notes, "train_sha256": train.sha256,
            "val_pieces": len(val), "val_notes": val.n_notes, "val_sha256": val.sha256,
        },
        "training": {
            "steps": result.step, "best_step": best_step, "finished": finished,
            "batch_size": batch_size, "seq_len": seq_len, "lr": lr, "transpose": list(transpose),
            "val_every": val_every, "val_max_len": val_max_len, "seed": seed,
            "seconds_this_call": round(time.time() - t0, 1), "threads": 1, "device": "cpu",
            "weights_dtype": "float16" if half else "float32",
        },
        "scores": {"val_acc": val_acc},
        "paper": "Dong et al., Towards Automatic Instrumentation by Learning to Separate Parts "
                 "in Symbolic Multitrack Music, ISMIR 2021 (chapter 4 of the thesis)",
    }
    if half:
        net = copy.deepcopy(net).half()
    save_pretrained(net, name, out_dir, card=card)
    log.info("wrote %s (best val acc %.2f at step %s)", out_dir / f"{name}.pt", card["scores"]["val_acc"], best_step)
    return card


def fit_zones(dataset: str, *, out: str | Path | None = None, pop909_root=None, command: str | None = None) -> dict:
    """Learn the zone baseline's optimal zones on the training split; write them to ``zones.json``."""

    train = load_arrays_for(dataset, "train", pop909_root=pop909_root)
    zones = fit_zone_model(pitch_counts(train.notes[:, 2], train.labels, train.n_parts))
    path = Path(out) if out else ZONES_FILE
    table = json.loads(path.read_text()) if path.exists() else {}
    table[DATASET_ENSEMBLE[dataset]] = {
        "dataset": dataset,
        "boundaries": zones.boundaries,
        "order": zones.order,
        "train_sha256": train.sha256,
        "training_command": command or " ".join(sys.argv),
    }
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(table, indent=2) + "\n")
    return table[DATASET_ENSEMBLE[dataset]]

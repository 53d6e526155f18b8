"""Running the part separation networks on note sequences (numpy in, labels out).

>>> model = load_pretrained("arrange_bach_bilstm")
>>> labels = predict_parts(model, seq.notes, entry=None)         # (N,) int64
"""

from __future__ import annotations

import numpy as np

from collage.arrangement.data import note_features
from collage.errors import ParameterError

__all__ = ["predict_logits", "predict_parts", "model_uses"]


def model_uses(model) -> dict[str, bool]:
    """Which hints a model takes: ``{'entry': bool, 'pitch': bool}``."""
    c = model.config
    return {"entry": bool(c.entry_hints), "pitch": bool(c.pitch_hints)}


def predict_logits(model, feats: list[dict[str, np.ndarray]], *, batch_size: int = 16) -> list[np.ndarray]:
    """Per-note logits ``(N_i, P)`` for each feature dict (the model in eval mode, no grad).

    Sequences are batched by length; recurrent models take each whole
    sequence, Transformers chunk beyond their ``max_len``.
    """
    # deferred: torch (about 1 s to import) loads on first use
    import torch

    from collage.models.arrange import batch_features

    out: list[np.ndarray | None] = [None] * len(feats)
    order = sorted(range(len(feats)), key=lambda i: len(feats[i]["pitch"]))
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            a = 0
            while a < len(order):
                bs = batch_size
                if not hasattr(model, "lstms"):  # attention: keep B x T^2 bounded (memory)
                    t = min(len(feats[order[min(a + bs, len(order)) - 1]]["pitch"]), model.config.max_len)
                    bs = max(1, min(bs, int(8e6 // max(t * t, 1))))
                idx = order[a:a + bs]
                a += bs
                batch = batch_features([feats[i] for i in idx])
                logits = model(batch).float().numpy()  # (B, T, P)
                for b, i in enumerate(idx):
                    out[i] = logits[b, : len(feats[i]["pitch"])]
    finally:
        model.train(was_training)
    return out  # type: ignore[return-value]


def predict_parts(
    model,
    notes: np.ndarray,
    *,
    entry: list[int | None] | None = None,
    pitch_hints: np.ndarray | None = None,
    mask_unentered: bool = False,
) -> np.ndarray:
    """Part labels ``(N,)`` of a sorted ``(N, 3)`` step sequence.

    Args:
        entry: each part's entry time in steps (None: absent part); required
            by a model trained with entry hints (ParameterError otherwise).
        pitch_hints: ``(P,)`` mean pitch per part; required by a pitch-hint model.
        mask_unentered: never give a note to a part whose entry hint is off at
            that note (the hints as instrument switches); notes before every
            entry go to the first part to enter.
    """
    uses = model_uses(model)
    P = model.config.n_parts
    if uses["entry"] and entry is None:
        raise ParameterError("this model takes entry hints; give each part's entry time")
    if uses["pitch"] and pitch_hints is None:
        raise ParameterError("this model takes pitch hints; give each part's mean pitch")
    if not len(notes):
        return np.zeros(0, np.int64)
    feats = note_features(notes, n_parts=P, entry=entry, pitch_hints=pitch_hints)
    logits = predict_logits(model, [feats])[0]  # (N, P)
    if mask_unentered and entry is not None and any(t is not None for t in entry):
        on = feats["entry"] > 0  # (N, P)
        first = int(np.argmin([t if t is not None else np.inf for t in entry]))
        none_on = ~on.any(axis=1)
        on[none_on, first] = True
        logits = np.where(on, logits, -np.inf)
    return logits.argmax(axis=1).astype(np.int64)

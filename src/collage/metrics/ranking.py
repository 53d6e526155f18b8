"""Ranking and detection metrics over scored candidates (the mashability protocol's measures).

Scores are floats where higher means "more likely to work"; ``labels`` are 1 (a positive: the
original), 0 (a negative: unmatched) and -1 (unlabeled: matched); ``seeds`` groups the candidates
made from one seed.

>>> rank_and_accuracy(np.array([0.9, 0.2, 0.5]), np.array([1, 0, -1]), np.array([0, 0, 0]))
{'accuracy': 1.0, 'avg_rank': 1.0}
"""

from __future__ import annotations

import numpy as np

__all__ = ["rank_and_accuracy", "choose_threshold"]


def rank_and_accuracy(scores: np.ndarray, labels: np.ndarray, seeds: np.ndarray, *, threshold: float = 0.5) -> dict:
    """Accuracy (original vs unmatched at ``threshold``) and the mean rank of the original among
    itself and the matched mashups of its seed (1 = best; ties count half)."""
    lab = labels != -1
    acc = float(np.mean((scores[lab] >= threshold) == (labels[lab] == 1))) if lab.any() else float("nan")
    ranks = []
    for s in np.unique(seeds):
        m = seeds == s
        orig, others = scores[m & (labels == 1)], scores[m & (labels == -1)]
        if orig.size and others.size:
            ranks.append(1.0 + np.sum(others > orig[0]) + 0.5 * np.sum(others == orig[0]))
    return {"accuracy": acc, "avg_rank": float(np.mean(ranks)) if ranks else float("nan")}


def choose_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold (midpoint between sorted scores) maximising accuracy of positives (1) vs negatives (0)."""
    m = labels != -1
    s, y = scores[m], labels[m] == 1
    cands = np.unique(s)
    mids = np.concatenate([[cands[0] - 1e-6], (cands[:-1] + cands[1:]) / 2, [cands[-1] + 1e-6]])
    accs = [np.mean((s >= t) == y) for t in mids]
    return float(mids[int(np.argmax(accs))])

"""The learned first stage of retrieval, in NumPy: the second stage's score estimated from stem vectors.

>>> fs = FirstStage.load()                                              # shipped weights, once per process
>>> h = fs.scores("harmonic", v, H, shifts, ratios)                      # (N,) one number per segment
>>> pairs = shortlist_pairs(h, fs.scores("percussion", v, P, 0, r2), n=100)

A candidate accompaniment is a harmonic and a percussion stem segment; its first-stage score is
the sum of one number per segment, each from a small MLP per role
(:class:`collage.models.first_stage.FirstStageNet`, trained to rank pairs as the fast second stage
ranks them: :mod:`collage.training.first_stage`) on :func:`pair_inputs`: the vocal window's
vector, the segment's vector after the pitch shift the second stage will apply, the chroma
interval profile between the two (the cosine of the vocal's chroma with the segment's rotated by
0..11 semitones), the cosine of their bar patterns, and the stretch (``log ratio`` and its size).
The vectors are :mod:`collage.mashup.embed`'s. Computed here in NumPy from the shipped ``.pt``
(:func:`collage.pretrained.load_state_arrays`), so a query does not wait for torch.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from collage.errors import ModelLoadingError
from collage.mashup.embed import DIM, LAYOUT
from collage.pretrained import load_state_arrays

__all__ = ["N_IN", "WEIGHTS", "STUDENT_WEIGHT", "pair_inputs", "standardise", "segment_scores", "FirstStage"]

#: inputs per (vocal, segment) pair: the two vectors, 12 interval-profile cosines, the rhythm cosine, log ratio and |log ratio|
N_IN = 2 * DIM + 12 + 1 + 2
#: the shipped weights' name
WEIGHTS = "mashup_first_stage"
#: the learned score's weight beside a segment's prior (:mod:`collage.mashup.prior`), both standardised over
#: the allowed segments: chosen on val songs (see docs/results/mashup_first_stage_val.md)
STUDENT_WEIGHT = 0.25
_C, _R = LAYOUT["chroma"], LAYOUT["rhythm"]


def standardise(x: np.ndarray, ref: np.ndarray | None = None) -> np.ndarray:
    """``x`` less ``ref``'s mean, over ``ref``'s standard deviation (``ref``: ``x`` itself when None; zeros when
    ``ref`` has fewer than two values)."""
    ref = x if ref is None else ref
    return (x - ref.mean()) / (ref.std() + 1e-6) if len(ref) > 1 else np.zeros_like(x)


def segment_scores(prior: np.ndarray, learned: np.ndarray, weight: float = STUDENT_WEIGHT) -> np.ndarray:
    """The first stage's score of each allowed segment (N,): its prior and its learned score, each standardised over
    the N segments, the learned one times ``weight``."""
    return standardise(prior) + weight * standardise(learned)


def pair_inputs(v: np.ndarray, S: np.ndarray, shifts, ratios) -> np.ndarray:
    """``(N, N_IN)`` float32 inputs for the vocal vector ``v`` (DIM) and segment vectors ``S`` (N x DIM),
    each segment pitch-shifted by ``shifts`` semitones (N,) or one int, stretched by ``ratios`` (N,) or one float."""
    S = np.asarray(S, np.float32)
    n = len(S)
    shifts = np.broadcast_to(np.asarray(shifts, np.int64), (n,))
    ratios = np.broadcast_to(np.asarray(ratios, np.float64), (n,))
    x = np.empty((n, N_IN), np.float32)
    x[:, :DIM] = v
    x[:, DIM:2 * DIM] = S
    for s in np.unique(shifts):
        if s:
            m = shifts == s
            x[m, DIM + _C.start:DIM + _C.stop] = np.roll(S[m, _C], int(s), axis=1)
    sc, vc = x[:, DIM + _C.start:DIM + _C.stop], np.asarray(v[_C], np.float32)
    for k in range(12):
        x[:, 2 * DIM + k] = np.roll(sc, k, axis=1) @ vc
    x[:, 2 * DIM + 12] = S[:, _R] @ np.asarray(v[_R], np.float32)
    lr = np.log(ratios)
    x[:, 2 * DIM + 13] = lr
    x[:, 2 * DIM + 14] = np.abs(lr)
    return x


class FirstStage:
    """The two MLPs of :class:`~collage.models.first_stage.FirstStageNet` in NumPy (float32)."""

    def __init__(self, state: dict[str, np.ndarray], card: dict | None = None):
        self.card = card or {}
        self.layers = {}
        try:
            self.mean = np.asarray(state["input_mean"], np.float32)
            self.std = np.asarray(state["input_std"], np.float32)
        except KeyError as e:
            raise ModelLoadingError(f"first-stage weights lack {e.args[0]!r}") from None
        for role in ("harmonic", "percussion"):
            try:
                self.layers[role] = [(np.ascontiguousarray(state[f"roles.{role}.{i}.weight"].T, np.float32),
                                      np.asarray(state[f"roles.{role}.{i}.bias"], np.float32)) for i in (0, 2, 4)]
            except KeyError as e:
                raise ModelLoadingError(f"first-stage weights lack {e.args[0]!r}") from None
        if self.layers["harmonic"][0][0].shape[0] != N_IN:
            raise ModelLoadingError(f"first-stage weights read {self.layers['harmonic'][0][0].shape[0]} inputs; "
                                    f"the vectors give {N_IN} (embed version mismatch?)")

    @classmethod
    @functools.lru_cache(maxsize=4)
    def load(cls, name_or_path: str | os.PathLike = WEIGHTS) -> "FirstStage":
        """The shipped weights (or a ``.pt`` path), sha256-checked; cached per process.

        Raises:
            ModelLoadingError: missing files, a hash mismatch, or weights of another shape.
        """
        card, state = load_state_arrays(name_or_path)
        return cls(state, card)

    def scores(self, role: str, v: np.ndarray, S: np.ndarray, shifts=0, ratios=1.0) -> np.ndarray:
        """``(N,)`` float32: each segment's share of the pair score (see :func:`pair_inputs` for the arguments)."""
        if len(S) == 0:
            return np.zeros(0, np.float32)
        h = (pair_inputs(v, S, shifts, ratios) - self.mean) / self.std
        (w0, b0), (w1, b1), (w2, b2) = self.layers[role]
        h = np.maximum(h @ w0 + b0, 0.0)
        h = np.maximum(h @ w1 + b1, 0.0)
        return (h @ w2 + b2)[:, 0]

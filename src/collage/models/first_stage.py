"""The first stage of mashup retrieval: a small network that estimates the second stage's score from stem vectors.

Two MLPs, one per accompaniment role (``harmonic``, ``percussion``), each reading one
(vocal window, stem segment) pair's inputs (:func:`collage.mashup.firststage.pair_inputs`: the
vocal's vector, the segment's vector after the pitch shift, and what relates them, such as the
chroma interval profile and the stretch) and giving one number. A candidate accompaniment (a
harmonic and a percussion segment) scores the sum of its two numbers: separable, so a shortlist
over every pair needs only each side's best (:func:`collage.mashup.embed.shortlist_pairs`).
Trained to rank pairs as the fast second stage (PreMixNet on stored features) ranks them
(:mod:`collage.training.first_stage`); retrieval runs it in NumPy
(:class:`collage.mashup.firststage.FirstStage`).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from collage.pretrained import register_model

__all__ = ["FirstStageConfig", "FirstStageNet"]

ROLES = ("harmonic", "percussion")


@dataclasses.dataclass(frozen=True)
class FirstStageConfig:
    """``n_in``: inputs per pair (:data:`collage.mashup.firststage.N_IN`); ``hidden``: width of both hidden layers."""

    n_in: int = 145
    hidden: int = 64

    @classmethod
    def tiny(cls) -> "FirstStageConfig":
        return cls(hidden=8)


def _mlp(n_in: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))


@register_model("mashup_first_stage", FirstStageConfig)
class FirstStageNet(nn.Module):
    """``forward(role, x)``: ``(N, n_in)`` pair inputs → ``(N,)`` scores of that role's segments. The inputs are
    first standardised by ``input_mean`` and ``input_std`` (buffers, set from the training inputs)."""

    def __init__(self, config: FirstStageConfig):
        super().__init__()
        self.config = config
        self.register_buffer("input_mean", torch.zeros(config.n_in))
        self.register_buffer("input_std", torch.ones(config.n_in))
        self.roles = nn.ModuleDict({r: _mlp(config.n_in, config.hidden) for r in ROLES})

    def forward(self, role: str, x: torch.Tensor) -> torch.Tensor:
        return self.roles[role]((x - self.input_mean) / self.input_std).squeeze(-1)

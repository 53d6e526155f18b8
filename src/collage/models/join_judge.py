"""The reality classifier of phrase joining: does the right phrase follow the left one? A classifier on notes.

It is the evaluation model of ``collage eval join`` (the Connective Fusion
poster's "reality classifier"), trained apart from the latent critic and on
notes rather than latents, so that it scores the decoded output of any
joining method: positives are consecutive 8-beat melody segments of a song,
negatives segments of different songs (each at its own transposition).

Architecture: the two phrases' tokens (0..127 onset pitch, 128 hold, 129
rest; 32 steps each) as one 64-step sequence; a token embedding plus a
learned position embedding and the 12-d pitch class of each step's sounding
note; ``layers`` dilated 1-D convolutions (kernel 3, dilations 1, 2, 4, ...,
with residual connections); mean and max pooling over the steps; a linear
layer giving one logit (``sigmoid`` = probability that R follows L).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from collage.errors import ParameterError
from collage.pretrained import register_model
from collage.represent.melody import HOLD, MELODY_DIM, REST

__all__ = ["JoinJudgeConfig", "JoinJudge", "sounding_pitch_class"]

PHRASE_STEPS = 32


@dataclasses.dataclass(frozen=True)
class JoinJudgeConfig:
    """Sizes of :class:`JoinJudge`."""

    embed: int = 32
    channels: int = 64
    layers: int = 5
    dropout: float = 0.1

    @classmethod
    def tiny(cls) -> "JoinJudgeConfig":
        return cls(embed=8, channels=8, layers=2, dropout=0.0)


def sounding_pitch_class(tokens: torch.Tensor) -> torch.Tensor:
    """``(B, T)`` tokens -> ``(B, T)`` long: pitch class of the note sounding at each step, 12 at rests."""
    b, t = tokens.shape
    is_on = tokens < HOLD
    idx = torch.where(is_on, torch.arange(t).expand(b, t), torch.full_like(tokens, -1))
    idx = torch.cummax(idx, dim=1).values  # latest onset at or before each step
    pitch = torch.gather(tokens, 1, idx.clamp(min=0)) % 12
    # a step sounds if it is an onset, or a hold after a sounding step (a rest breaks the note)
    rest = tokens == REST
    last_rest = torch.cummax(torch.where(rest, torch.arange(t).expand(b, t), torch.full_like(tokens, -1)), 1).values
    sounding = (idx >= 0) & (idx > last_rest)
    return torch.where(sounding, pitch, torch.full_like(pitch, 12))


@register_model("join_judge", JoinJudgeConfig)
class JoinJudge(nn.Module):
    """``forward(left (B, 32), right (B, 32) long tokens) -> logits (B,)``; :meth:`score` for probabilities."""

    def __init__(self, config: JoinJudgeConfig):
        super().__init__()
        self.config = c = config
        self.tok = nn.Embedding(MELODY_DIM, c.embed)
        self.pc = nn.Embedding(13, c.embed)
        self.pos = nn.Embedding(2 * PHRASE_STEPS, c.embed)
        self.inp = nn.Conv1d(c.embed, c.channels, 1)
        self.convs = nn.ModuleList(nn.Conv1d(c.channels, c.channels, 3, padding=2 ** i, dilation=2 ** i)
                                   for i in range(c.layers))
        self.drop = nn.Dropout(c.dropout)
        self.out = nn.Linear(2 * c.channels, 1)

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        for name, x in (("left", left), ("right", right)):
            if x.ndim != 2 or x.shape[1] != PHRASE_STEPS or x.shape[0] != left.shape[0]:
                raise ParameterError(f"given {name}.shape={tuple(x.shape)}; expected ({left.shape[0]}, {PHRASE_STEPS})")
        x = torch.cat([left, right], dim=1).long()  # (B, 64)
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= MELODY_DIM):
            raise ParameterError(f"given tokens in [{int(x.min())}, {int(x.max())}]; expected 0..{MELODY_DIM - 1}")
        h = self.tok(x) + self.pc(sounding_pitch_class(x)) + self.pos.weight[None]  # (B, 64, E)
        h = self.inp(h.transpose(1, 2))  # (B, C, 64)
        for conv in self.convs:
            h = h + self.drop(torch.relu(conv(h)))  # (B, C, 64)
        pooled = torch.cat([h.mean(-1), h.amax(-1)], dim=-1)  # (B, 2C)
        return self.out(pooled)[:, 0]  # (B,)

    @torch.no_grad()
    def score(self, left, right, batch_size: int = 1024) -> np.ndarray:
        """``(B,)`` float probabilities that ``right`` follows ``left`` (token arrays ``(B, 32)``)."""
        self.eval()
        left = torch.as_tensor(np.asarray(left), dtype=torch.long)
        right = torch.as_tensor(np.asarray(right), dtype=torch.long)
        out = [torch.sigmoid(self(left[i:i + batch_size], right[i:i + batch_size]))
               for i in range(0, len(left), batch_size)]
        return torch.cat(out).numpy() if out else np.zeros(0, np.float32)


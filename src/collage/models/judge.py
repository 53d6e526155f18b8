"""The harmony judge: CollageNet's evaluation model, a classifier on notes.

It tells harmonic melody/accompaniment pairs (Ωh, a segment's own two
tracks) from disharmonic ones (Ωdh, tracks of different songs) and is kept
apart from the latent critic: it reads notes, not latents, so it can score
the output of any fusion method (its "harmony rate" is the share of pairs it
rates above 0.5).

Architecture (a small version of the paper's):

- melody: a bidirectional GRU over the ``(32, 130)`` one-hot melody, with
  the 12-d pitch class of each step's sounding note appended (a derived
  feature that makes transposition-invariant harmony easier to learn);
- accompaniment: a small CNN over the ``(2, 32, 128)`` onset and frame
  piano-rolls (pitch-axis convolutions, pooled over pitch) with the per-step
  12-d chroma appended, then a bidirectional GRU over the 32 steps;
- the two summaries concatenated into an MLP giving one logit
  (``sigmoid`` = probability of harmony).

Inputs are built from step notes with :func:`judge_inputs` (vectorised over
many segments) and scored with :meth:`HarmonyJudge.score`.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import torch
from torch import nn

from collage.errors import ParameterError
from collage.models.judge_features import (  # noqa: F401  (_melody_tokens_packed: training reads it from here)
    N_STEPS,
    _melody_tokens_packed,
    judge_arrays,
    pack_notes,
    packed_arrays,
)
from collage.pretrained import register_model
from collage.represent.melody import MELODY_DIM

__all__ = ["HarmonyJudgeConfig", "HarmonyJudge", "judge_inputs", "pack_notes", "packed_inputs"]


@dataclasses.dataclass(frozen=True)
class HarmonyJudgeConfig:
    """Sizes of :class:`HarmonyJudge` (paper: PianoTree encoder, GRUs of 1024 or more; ours is small)."""

    n_steps: int = N_STEPS
    mel_hidden: int = 64  # melody BiGRU hidden size (per direction)
    cnn_channels: int = 8  # first conv layer; the second has twice as many
    acc_hidden: int = 64  # accompaniment BiGRU hidden size (per direction)
    mlp_hidden: int = 128
    dropout: float = 0.2

    @classmethod
    def tiny(cls) -> "HarmonyJudgeConfig":
        return cls(mel_hidden=8, cnn_channels=2, acc_hidden=8, mlp_hidden=8, dropout=0.0)


@register_model("harmony_judge", HarmonyJudgeConfig)
class HarmonyJudge(nn.Module):
    """``forward(mel, acc) -> logits (B,)``; :meth:`score` for probabilities from notes."""

    def __init__(self, config: HarmonyJudgeConfig):
        super().__init__()
        self.config = c = config
        self.mel_gru = nn.GRU(MELODY_DIM + 12, c.mel_hidden, batch_first=True, bidirectional=True)
        ch = c.cnn_channels
        self.cnn = nn.Sequential(
            nn.Conv2d(2, ch, kernel_size=(1, 12), stride=(1, 4), padding=(0, 4)),  # 128 -> 32 pitch bins
            nn.ReLU(),
            nn.Conv2d(ch, 2 * ch, kernel_size=(3, 3), padding=1),
            nn.ReLU(),
            nn.MaxPool2d((1, 4)),  # 32 -> 8 pitch bins
        )
        self.acc_gru = nn.GRU(2 * ch * 8 + 24, c.acc_hidden, batch_first=True, bidirectional=True)
        self.head = nn.Sequential(
            nn.Linear(2 * c.mel_hidden * 2 + 2 * c.acc_hidden * 2, c.mlp_hidden),
            nn.ReLU(),
            nn.Dropout(c.dropout),
            nn.Linear(c.mlp_hidden, c.mlp_hidden),
            nn.ReLU(),
            nn.Dropout(c.dropout),
            nn.Linear(c.mlp_hidden, 1),
        )

    @staticmethod
    def _summary(gru: nn.GRU, x: torch.Tensor) -> torch.Tensor:
        out, h = gru(x)  # out (B, T, 2H), h (2, B, H)
        return torch.cat([h[0], h[1], out.mean(dim=1)], dim=-1)  # (B, 4H)

    def forward(self, mel: torch.Tensor, acc: torch.Tensor) -> torch.Tensor:
        """Logits of harmony.

        Args:
            mel: ``(B, 32, 142)`` melody one-hot (130) + sounding pitch class (12).
            acc: ``(B, 2, 32, 128)`` onset and frame piano-rolls (0/1).
        Returns:
            ``(B,)`` logits.
        """
        b, t = acc.shape[0], acc.shape[2]
        chroma = acc[:, :, :, :120].reshape(b, 2, t, 10, 12).sum(dim=3).clamp(max=1.0)  # (B, 2, T, 12)
        chroma = chroma.permute(0, 2, 1, 3).reshape(b, t, 24)  # (B, T, 24)
        feat = self.cnn(acc)  # (B, 2C, T, 8)
        feat = feat.permute(0, 2, 1, 3).reshape(b, t, -1)  # (B, T, 16C)
        a = self._summary(self.acc_gru, torch.cat([feat, chroma], dim=-1))  # (B, 4Ha)
        m = self._summary(self.mel_gru, mel)  # (B, 4Hm)
        return self.head(torch.cat([m, a], dim=-1))[:, 0]  # (B,)

    @torch.no_grad()
    def score(self, melodies: Sequence, accomps: Sequence, *, batch_size: int = 1024) -> np.ndarray:
        """Probability of harmony of each pair of step-note segments.

        Args:
            melodies, accomps: B segments each, ``(n_i, 4)`` step notes in ``[0, 32)``.
        Returns:
            ``(B,)`` float64 in [0, 1].
        """
        if len(melodies) != len(accomps):
            raise ParameterError(f"given {len(melodies)} melodies and {len(accomps)} accompaniments; expected equal")
        was = self.training
        self.eval()
        out = []
        try:
            for s in range(0, len(melodies), batch_size):
                mel, acc = judge_inputs(melodies[s:s + batch_size], accomps[s:s + batch_size],
                                        n_steps=self.config.n_steps)
                out.append(torch.sigmoid(self(mel, acc)).double().numpy())
        finally:
            self.train(was)
        return np.concatenate(out) if out else np.zeros(0)


# -- inputs from notes (built in NumPy by collage.models.judge_features) -------------------
def packed_inputs(mel_notes: np.ndarray, mel_seg: np.ndarray, acc_notes: np.ndarray, acc_seg: np.ndarray,
                  b: int, *, n_steps: int = N_STEPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Judge inputs from packed notes (see :func:`pack_notes`) of ``b`` pairs.

    Returns:
        ``mel (B, T, 142)`` float32 and ``acc (B, 2, T, 128)`` float32.
    """
    mel, acc = packed_arrays(mel_notes, mel_seg, acc_notes, acc_seg, b, n_steps=n_steps)
    return torch.from_numpy(mel), torch.from_numpy(acc)


def judge_inputs(melodies: Sequence, accomps: Sequence, *, n_steps: int = N_STEPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Judge inputs from B melody and B accompaniment segments of ``(n_i, 4)`` step notes.

    Returns:
        ``mel (B, T, 142)`` and ``acc (B, 2, T, 128)`` float32 tensors.
    """
    mel, acc = judge_arrays(melodies, accomps, n_steps=n_steps)
    return torch.from_numpy(mel), torch.from_numpy(acc)

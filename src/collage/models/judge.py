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
from collage.pretrained import register_model
from collage.represent.melody import HOLD, MELODY_DIM, REST

__all__ = ["HarmonyJudgeConfig", "HarmonyJudge", "judge_inputs", "pack_notes", "packed_inputs"]

N_STEPS = 32


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


# -- inputs from notes ------------------------------------------------------------------
def pack_notes(segments: Sequence, name: str = "segments") -> tuple[np.ndarray, np.ndarray]:
    """Concatenate B segments of ``(n_i, 4)`` notes: ``(notes (N, 4) int64, seg (N,) int64)``."""
    arrs = []
    for i, s in enumerate(segments):
        a = np.asarray(s)
        if a.size == 0:
            a = np.zeros((0, 4), np.int64)
        if a.ndim != 2 or a.shape[1] != 4:
            raise ParameterError(f"given {name}[{i}].shape={a.shape}; expected (n, 4) [onset, duration, pitch, velocity]")
        arrs.append(a.astype(np.int64))
    sizes = np.array([len(a) for a in arrs], dtype=np.int64)
    notes = np.concatenate(arrs) if arrs else np.zeros((0, 4), np.int64)
    return notes, np.repeat(np.arange(len(arrs), dtype=np.int64), sizes)


def _check_packed(notes: np.ndarray, n_steps: int, name: str) -> None:
    if len(notes) and (notes[:, 0].min() < 0 or notes[:, 0].max() >= n_steps):
        raise ParameterError(f"{name}: onsets {notes[:, 0].min()}..{notes[:, 0].max()}; expected in [0, {n_steps})")
    if len(notes) and (notes[:, 2].min() < 0 or notes[:, 2].max() > 127):
        raise ParameterError(f"{name}: pitches {notes[:, 2].min()}..{notes[:, 2].max()}; expected in 0..127")


def _melody_tokens_packed(notes: np.ndarray, seg: np.ndarray, b: int, t: int) -> np.ndarray:
    """``(B, T)`` int64 tokens of packed monophonic melodies (a later onset cuts an earlier note)."""
    tokens = np.full((b, t), REST, dtype=np.int64)
    if not len(notes):
        return tokens
    order = np.lexsort((notes[:, 2], notes[:, 0], seg))
    notes, seg = notes[order], seg[order]
    idx = np.full((b, t), -1, dtype=np.int64)
    idx[seg, notes[:, 0]] = np.arange(len(notes))  # the highest pitch wins a shared onset (sorted last)
    idx = np.maximum.accumulate(idx, axis=1)  # (B, T) the latest note begun at or before t
    ok = idx >= 0
    j = np.where(ok, idx, 0)
    steps = np.arange(t)[None, :]
    sounding = ok & (notes[j, 0] + np.maximum(notes[j, 1], 1) > steps)
    tokens[sounding] = HOLD
    onset = ok & (notes[j, 0] == steps)
    tokens[onset] = notes[j, 2][onset]
    return tokens


def packed_inputs(mel_notes: np.ndarray, mel_seg: np.ndarray, acc_notes: np.ndarray, acc_seg: np.ndarray,
                  b: int, *, n_steps: int = N_STEPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Judge inputs from packed notes (see :func:`pack_notes`) of ``b`` pairs.

    Returns:
        ``mel (B, T, 142)`` float32 and ``acc (B, 2, T, 128)`` float32.
    """
    _check_packed(mel_notes, n_steps, "melody")
    _check_packed(acc_notes, n_steps, "accompaniment")
    t = n_steps
    tokens = _melody_tokens_packed(mel_notes, mel_seg, b, t)  # (B, T)
    mel = np.zeros((b, t, MELODY_DIM + 12), dtype=np.float32)
    bi, ti = np.nonzero(np.ones((b, t), bool))
    mel[bi, ti, tokens.reshape(-1)] = 1.0
    # pitch class of the sounding note: carry each onset's pitch forward through its holds
    pitch = np.where(tokens < HOLD, tokens, -1)
    last = np.where(tokens != HOLD, np.arange(t)[None, :], -1)
    last = np.maximum.accumulate(last, axis=1)  # (B, T) last non-hold step
    sp = np.take_along_axis(pitch, np.maximum(last, 0), axis=1)
    sp = np.where(last >= 0, sp, -1)
    has = sp >= 0
    mel[np.nonzero(has)[0], np.nonzero(has)[1], MELODY_DIM + sp[has] % 12] = 1.0
    acc = np.zeros((b, 2, t + 1, 128), dtype=np.float32)
    if len(acc_notes):
        on, dur, p = acc_notes[:, 0], np.maximum(acc_notes[:, 1], 1), acc_notes[:, 2]
        acc[acc_seg, 0, on, p] = 1.0
        np.add.at(acc, (acc_seg, 1, on, p), 1.0)
        np.add.at(acc, (acc_seg, 1, np.minimum(on + dur, t), p), -1.0)
        acc[:, 1] = np.cumsum(acc[:, 1], axis=1) > 0
    return torch.from_numpy(mel), torch.from_numpy(np.ascontiguousarray(acc[:, :, :t]))


def judge_inputs(melodies: Sequence, accomps: Sequence, *, n_steps: int = N_STEPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Judge inputs from B melody and B accompaniment segments of ``(n_i, 4)`` step notes.

    Returns:
        ``mel (B, T, 142)`` and ``acc (B, 2, T, 128)`` float32 tensors.
    """
    if len(melodies) != len(accomps):
        raise ParameterError(f"given {len(melodies)} melodies and {len(accomps)} accompaniments; expected equal")
    mn, ms = pack_notes(melodies, "melodies")
    an, as_ = pack_notes(accomps, "accomps")
    return packed_inputs(mn, ms, an, as_, len(melodies), n_steps=n_steps)

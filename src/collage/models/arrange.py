"""Part separation networks (Dong et al., ISMIR 2021, §4.4): LSTM, BiLSTM, Transformer encoder and decoder.

Every model maps a batch of note features (see :func:`collage.arrangement.data.note_features`)
to per-note part logits ``(B, T, P)``. The input layer is shared:

- learned embeddings of pitch (128 × 16), position within the beat (24 × 16)
  and, for the offline models, duration (193 × 16);
- a fixed sinusoidal encoding (16) of the beat index (as in the authors' code: no weights);
- optionally the entry hints ``(B, T, P)`` (a unit step per part) and the
  pitch hints ``(B, P)`` (each part's mean pitch, through the pitch embedding).

Sizes are the paper's: three layers of 128 units (the BiLSTM 64 per
direction), layer norm and dropout 0.2 after each LSTM layer; the
Transformers three blocks of width 128, 8 heads, feed-forward 256. The
online models (LSTM, Transformer-Dec) see only past and present notes and
take no durations (unknown when a key is struck); the offline ones (BiLSTM,
Transformer-Enc) see the whole sequence and its durations.

Four registered architectures: ``arrange_lstm``, ``arrange_bilstm``,
``arrange_transformer_enc``, ``arrange_transformer_dec``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from collage.pretrained import register_model

__all__ = [
    "ArrangeConfig",
    "LSTMConfig",
    "BiLSTMConfig",
    "TransformerEncConfig",
    "TransformerDecConfig",
    "PartLSTM",
    "PartBiLSTM",
    "PartTransformerEnc",
    "PartTransformerDec",
    "ARCHITECTURES",
    "batch_features",
]

N_POSITIONS = 24  # steps per beat of collage.arrangement.data
MAX_DURATION = 192


@dataclasses.dataclass(frozen=True)
class ArrangeConfig:
    """Shared fields. ``d_model``: LSTM units per layer in total (BiLSTM: half per direction) or Transformer width."""

    n_parts: int = 4
    n_layers: int = 3
    d_model: int = 128
    n_heads: int = 8
    d_ff: int = 256
    emb_dim: int = 16
    dropout: float = 0.2
    use_duration: bool = False
    entry_hints: bool = False
    pitch_hints: bool = False
    max_len: int = 2000  # longest sequence the Transformers take at once (longer input is chunked)

    @classmethod
    def tiny(cls, **kw) -> "ArrangeConfig":
        base = dict(n_layers=1, d_model=8, n_heads=2, d_ff=16, emb_dim=4, max_len=64)
        base.update(kw)
        return cls(**base)


@dataclasses.dataclass(frozen=True)
class LSTMConfig(ArrangeConfig):
    pass


@dataclasses.dataclass(frozen=True)
class BiLSTMConfig(ArrangeConfig):
    use_duration: bool = True


@dataclasses.dataclass(frozen=True)
class TransformerEncConfig(ArrangeConfig):
    use_duration: bool = True
    dropout: float = 0.1


@dataclasses.dataclass(frozen=True)
class TransformerDecConfig(ArrangeConfig):
    dropout: float = 0.1


def sinusoid(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Fixed sinusoidal encoding of integer positions ``x`` (any shape) -> ``x.shape + (dim,)``."""
    i = torch.arange(dim, device=x.device)
    rates = 1.0 / torch.pow(10000.0, (2 * (i // 2)).float() / dim)  # (dim,)
    ang = x.float().unsqueeze(-1) * rates  # (..., dim)
    return torch.where(i % 2 == 0, torch.sin(ang), torch.cos(ang))


def batch_features(feats: list[dict[str, np.ndarray]], device="cpu") -> dict[str, torch.Tensor]:
    """Pad a list of :func:`~collage.arrangement.data.note_features` dicts into a batch of tensors.

    Returns ``pitch``, ``position``, ``beat``, ``duration`` ``(B, T)`` long, ``entry``
    ``(B, T, P)`` float, ``pitch_hint`` ``(B, P)`` long and ``mask`` ``(B, T)`` bool (True on notes).
    """
    B = len(feats)
    T = max((len(f["pitch"]) for f in feats), default=0)
    P = feats[0]["entry"].shape[1] if feats else 0
    out = {k: np.zeros((B, T), np.int64) for k in ("pitch", "position", "beat", "duration")}
    out["entry"] = np.zeros((B, T, P), np.float32)
    out["pitch_hint"] = np.zeros((B, P), np.int64)
    out["mask"] = np.zeros((B, T), bool)
    for b, f in enumerate(feats):
        n = len(f["pitch"])
        for k in ("pitch", "position", "beat", "duration"):
            out[k][b, :n] = f[k]
        out["entry"][b, :n] = f["entry"]
        out["pitch_hint"][b] = f["pitch_hint"]
        out["mask"][b, :n] = True
    return {k: torch.from_numpy(v).to(device) for k, v in out.items()}


class NoteInput(nn.Module):
    """Features -> ``(B, T, in_dim)``: embeddings of pitch, position, (duration), beat sinusoid, hints."""

    def __init__(self, c: ArrangeConfig):
        super().__init__()
        self.c = c
        e = c.emb_dim
        self.pitch = nn.Embedding(128, e)
        self.position = nn.Embedding(N_POSITIONS, e)
        self.duration = nn.Embedding(MAX_DURATION + 1, e) if c.use_duration else None
        self.out_dim = 3 * e + (e if c.use_duration else 0)
        self.out_dim += c.n_parts if c.entry_hints else 0
        self.out_dim += c.n_parts * e if c.pitch_hints else 0

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        c = self.c
        parts = [
            self.pitch(x["pitch"].clamp(0, 127)),  # (B, T, e)
            self.position(x["position"].clamp(0, N_POSITIONS - 1)),  # (B, T, e)
            sinusoid(x["beat"], c.emb_dim),  # (B, T, e)
        ]
        if self.duration is not None:
            parts.append(self.duration(x["duration"].clamp(0, MAX_DURATION)))  # (B, T, e)
        if c.entry_hints:
            parts.append(x["entry"].float())  # (B, T, P)
        if c.pitch_hints:
            B, T = x["pitch"].shape
            ph = self.pitch(x["pitch_hint"].clamp(0, 127)).reshape(B, 1, -1)  # (B, 1, P*e)
            parts.append(ph.expand(B, T, ph.shape[-1]))  # (B, T, P*e)
        return torch.cat(parts, dim=-1)  # (B, T, in_dim)


class _LSTMBase(nn.Module):
    bidirectional = False

    def __init__(self, config: ArrangeConfig):
        super().__init__()
        self.config = c = config
        self.input = NoteInput(c)
        hidden = c.d_model // 2 if self.bidirectional else c.d_model
        dims = [self.input.out_dim] + [c.d_model] * (c.n_layers - 1)
        self.lstms = nn.ModuleList(
            nn.LSTM(d, hidden, batch_first=True, bidirectional=self.bidirectional) for d in dims
        )
        self.norms = nn.ModuleList(nn.LayerNorm(c.d_model) for _ in range(c.n_layers))
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.d_model, c.n_parts)

    @property
    def online(self) -> bool:
        return not self.bidirectional

    def forward(self, x: dict[str, torch.Tensor], state: list | None = None, return_state: bool = False):
        """Part logits ``(B, T, P)``; with ``return_state`` also the LSTM states (online model only)."""
        h = self.input(x)  # (B, T, in_dim)
        mask = x.get("mask")
        lengths = None
        if self.bidirectional and mask is not None and not bool(mask.all()):
            lengths = mask.sum(1).clamp(min=1).cpu()
        new_state = []
        for i, (lstm, norm) in enumerate(zip(self.lstms, self.norms)):
            if lengths is not None:
                packed = nn.utils.rnn.pack_padded_sequence(h, lengths, batch_first=True, enforce_sorted=False)
                out, _ = lstm(packed)
                h, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=h.shape[1])
            else:
                h, st = lstm(h, None if state is None else state[i])  # (B, T, d_model)
                new_state.append(st)
            h = self.drop(norm(h))
        logits = self.head(h)  # (B, T, P)
        return (logits, new_state) if return_state else logits


@register_model("arrange_lstm", LSTMConfig)
class PartLSTM(_LSTMBase):
    """Online LSTM: three layers of 128 units; step-by-step use through ``state``."""

    bidirectional = False


@register_model("arrange_bilstm", BiLSTMConfig)
class PartBiLSTM(_LSTMBase):
    """Offline BiLSTM: three layers of 64 units per direction, with durations."""

    bidirectional = True


class _TransformerBase(nn.Module):
    causal = False

    def __init__(self, config: ArrangeConfig):
        super().__init__()
        self.config = c = config
        self.input = NoteInput(c)
        self.proj = nn.Linear(self.input.out_dim, c.d_model)
        layer = nn.TransformerEncoderLayer(c.d_model, c.n_heads, c.d_ff, c.dropout, batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, c.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(c.d_model)
        self.head = nn.Linear(c.d_model, c.n_parts)

    @property
    def online(self) -> bool:
        return self.causal

    def _forward_chunk(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        B, T = x["pitch"].shape
        h = self.proj(self.input(x))  # (B, T, d_model)
        h = h + sinusoid(torch.arange(T, device=h.device), self.config.d_model)  # note-index encoding
        mask = x.get("mask")
        pad = None if mask is None else ~mask  # (B, T) True on padding
        attn = None
        if self.causal:
            attn = torch.ones(T, T, dtype=torch.bool, device=h.device).triu(1)  # (T, T) True: blocked (future)
        h = self.blocks(h, mask=attn, src_key_padding_mask=pad)  # (B, T, d_model)
        return self.head(self.norm(h))  # (B, T, P)

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        """Part logits ``(B, T, P)``; sequences longer than ``max_len`` go in consecutive chunks."""
        T = x["pitch"].shape[1]
        L = self.config.max_len
        if T <= L:
            return self._forward_chunk(x)
        outs = []
        for a in range(0, T, L):
            chunk = {k: (v[:, a:a + L] if v.dim() >= 2 and v.shape[1] == T and k != "pitch_hint" else v)
                     for k, v in x.items()}
            outs.append(self._forward_chunk(chunk))
        return torch.cat(outs, dim=1)


@register_model("arrange_transformer_enc", TransformerEncConfig)
class PartTransformerEnc(_TransformerBase):
    """Offline Transformer encoder (padding mask only), with durations."""

    causal = False


@register_model("arrange_transformer_dec", TransformerDecConfig)
class PartTransformerDec(_TransformerBase):
    """Online Transformer 'decoder': the same blocks under a look-ahead (causal) mask."""

    causal = True


#: model name on the command line -> registered architecture
ARCHITECTURES = {
    "lstm": "arrange_lstm",
    "bilstm": "arrange_bilstm",
    "transformer-enc": "arrange_transformer_enc",
    "transformer-dec": "arrange_transformer_dec",
}

"""The Multitrack Music Transformer (Dong et al., ICASSP 2023): a decoder-only transformer over MMT events.

Each event is six codes (:mod:`collage.represent.mmt`: type, beat, position,
pitch, duration, instrument). The input of a step is the sum of one
embedding per field plus a learned absolute position embedding; the output
is one linear head per field, and the loss is the sum of the six cross
entropies. The model predicts the six fields of the next event
independently, so one forward step yields one whole note.

Generation caches the attention keys and values of every layer
(:class:`KVCache`): a step costs one position's worth of work, not the
whole prefix. Sampling (top-k per field, temperature, the monotonic
constraints) is :mod:`collage.generation`'s job.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from collage.pretrained import register_model
from collage.represent import mmt as rep
from collage.represent.mmt import FIELDS, field_sizes

__all__ = ["MMT", "KVCache", "MMTConfig"]


@dataclasses.dataclass(frozen=True)
class MMTConfig:
    """Architecture of :class:`MMT`.

    Attributes:
        max_seq_len: events per window (the learned positions); longer music
            is generated with a sliding window.
        max_beat: beats per window (the beat field has ``max_beat + 1`` codes).
        d_model, n_layers, n_heads, d_ff: transformer size.
        dropout: during training only.
        vocab: codes per field; default from :func:`collage.represent.mmt.field_sizes`.
    """

    max_seq_len: int = 512
    max_beat: int = 256
    d_model: int = 256
    n_layers: int = 4
    n_heads: int = 8
    d_ff: int = 1024
    dropout: float = 0.1
    vocab: tuple[int, ...] = ()

    def __post_init__(self):
        if not self.vocab:
            object.__setattr__(self, "vocab", tuple(field_sizes(self.max_beat)))
        else:
            object.__setattr__(self, "vocab", tuple(int(v) for v in self.vocab))
        if len(self.vocab) != len(FIELDS):
            raise ValueError(f"given vocab of {len(self.vocab)} fields; expected {len(FIELDS)}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not a multiple of n_heads={self.n_heads}")

    @classmethod
    def tiny(cls) -> MMTConfig:
        return cls(max_seq_len=64, max_beat=64, d_model=32, n_layers=2, n_heads=2, d_ff=64, dropout=0.0)


class KVCache:
    """Per-layer attention keys and values of the positions seen so far (batch ``B``).

    ``k[l]`` and ``v[l]`` are ``(B, n_heads, max_seq_len, d_head)``; the first
    ``length`` positions are filled.
    """

    def __init__(self, config: MMTConfig, batch: int, *, device=None, dtype=torch.float32):
        d_head = config.d_model // config.n_heads
        shape = (batch, config.n_heads, config.max_seq_len, d_head)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layers)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(config.n_layers)]
        self.length = 0
        self.max_len = config.max_seq_len


class _Block(nn.Module):
    def __init__(self, c: MMTConfig):
        super().__init__()
        self.n_heads = c.n_heads
        self.ln1 = nn.LayerNorm(c.d_model)
        self.qkv = nn.Linear(c.d_model, 3 * c.d_model)
        self.proj = nn.Linear(c.d_model, c.d_model)
        self.ln2 = nn.LayerNorm(c.d_model)
        self.ff1 = nn.Linear(c.d_model, c.d_ff)
        self.ff2 = nn.Linear(c.d_ff, c.d_model)
        self.drop = nn.Dropout(c.dropout)
        self.p_attn = c.dropout

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        B, T, D = x.shape
        H = self.n_heads
        q, k, v = self.qkv(self.ln1(x)).split(D, dim=2)  # (B, T, D) each
        q = q.view(B, T, H, D // H).transpose(1, 2)  # (B, H, T, Dh)
        k = k.view(B, T, H, D // H).transpose(1, 2)
        v = v.view(B, T, H, D // H).transpose(1, 2)
        if cache is None:
            y = F.scaled_dot_product_attention(
                q, k, v, is_causal=True, dropout_p=self.p_attn if self.training else 0.0
            )
        else:
            start = cache.length
            cache.k[layer][:, :, start:start + T] = k
            cache.v[layer][:, :, start:start + T] = v
            kk = cache.k[layer][:, :, : start + T]
            vv = cache.v[layer][:, :, : start + T]
            if T == 1:
                y = F.scaled_dot_product_attention(q, kk, vv)
            elif start == 0:
                y = F.scaled_dot_product_attention(q, kk, vv, is_causal=True)
            else:  # a chunk after a filled cache: query i sees keys <= start + i
                mask = torch.ones(T, start + T, dtype=torch.bool, device=x.device).tril(diagonal=start)
                y = F.scaled_dot_product_attention(q, kk, vv, attn_mask=mask)
        y = y.transpose(1, 2).reshape(B, T, D)  # (B, T, D)
        x = x + self.drop(self.proj(y))
        x = x + self.drop(self.ff2(F.gelu(self.ff1(self.ln2(x)))))
        return x


class MMT(nn.Module):
    """Decoder-only transformer with one embedding and one output head per field."""

    def __init__(self, config: MMTConfig):
        super().__init__()
        self.config = config
        c = config
        self.embed = nn.ModuleList(nn.Embedding(n, c.d_model) for n in c.vocab)
        self.pos = nn.Embedding(c.max_seq_len, c.d_model)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(_Block(c) for _ in range(c.n_layers))
        self.ln_f = nn.LayerNorm(c.d_model)
        self.heads = nn.ModuleList(nn.Linear(c.d_model, n) for n in c.vocab)
        self.apply(self._init)
        for b in self.blocks:  # GPT-2 style: scale the residual projections by depth
            nn.init.normal_(b.proj.weight, std=0.02 / math.sqrt(2 * c.n_layers))
            nn.init.normal_(b.ff2.weight, std=0.02 / math.sqrt(2 * c.n_layers))

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def _embed(self, codes: torch.Tensor, start: int) -> torch.Tensor:
        T = codes.shape[1]
        if start + T > self.config.max_seq_len:
            raise ValueError(f"{start + T} events exceed max_seq_len={self.config.max_seq_len}")
        x = self.pos(torch.arange(start, start + T, device=codes.device))[None]  # (1, T, D)
        for f, emb in enumerate(self.embed):
            x = x + emb(codes[..., f])  # (B, T, D)
        return self.drop(x)

    def forward(self, codes: torch.Tensor, cache: KVCache | None = None) -> list[torch.Tensor]:
        """Logits of the next event's fields: six tensors ``(B, T, vocab[f])``.

        ``codes`` is ``(B, T, 6)`` int64. With a ``cache``, ``codes`` are the
        events after the cached ones; the cache is extended by ``T``.
        """
        start = cache.length if cache is not None else 0
        x = self._embed(codes, start)  # (B, T, D)
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i)
        if cache is not None:
            cache.length = start + codes.shape[1]
        x = self.ln_f(x)
        return [head(x) for head in self.heads]

    def loss(self, codes: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced loss of ``codes`` ``(B, T, 6)``: (sum over fields of the mean CE, per-field mean CE ``(6,)``).

        ``mask`` ``(B, T)`` bool marks real events (padding False); the target
        of position ``t`` is event ``t + 1``.
        """
        logits = self.forward(codes[:, :-1])
        target = codes[:, 1:]  # (B, T-1, 6)
        m = torch.ones(target.shape[:2], dtype=torch.bool, device=codes.device) if mask is None else mask[:, 1:]
        per = []
        for f, lg in enumerate(logits):
            ce = F.cross_entropy(lg.reshape(-1, lg.shape[-1]), target[..., f].reshape(-1), reduction="none")
            per.append((ce * m.reshape(-1)).sum() / m.sum().clamp(min=1))
        per_t = torch.stack(per)  # (6,)
        return per_t.sum(), per_t.detach()


register_model("mmt", MMTConfig)(MMT)


def collate(windows: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad windows to one length: ``(codes (B, T, 6) int64, mask (B, T) bool)``."""
    T = max(len(w) for w in windows)
    codes = np.zeros((len(windows), T, 6), dtype=np.int64)
    mask = np.zeros((len(windows), T), dtype=bool)
    for b, w in enumerate(windows):
        codes[b, : len(w)] = w
        mask[b, : len(w)] = True
    return torch.from_numpy(codes), torch.from_numpy(mask)


@torch.no_grad()
def eval_loss(model: MMT, windows: list[np.ndarray], *, batch: int = 8) -> dict[str, float]:
    """Teacher-forced cross entropy per field (nats per event, weighted by events), and their sum ``loss``."""
    was = model.training
    model.eval()
    total = np.zeros(len(rep.FIELDS))
    n = 0
    for s in range(0, len(windows), batch):
        codes, mask = collate(windows[s:s + batch])
        k = int(mask[:, 1:].sum())
        _, per = model.loss(codes, mask)
        total += per.numpy() * k
        n += k
    model.train(was)
    per_field = total / max(n, 1)
    out = {f: float(v) for f, v in zip(rep.FIELDS, per_field)}
    out["loss"] = float(per_field.sum())
    out["events"] = n
    return out

"""PreMixNet and PostMixNet (Huang et al., AAAI 2021, fig. 3): mashability from mel spectrograms.

``SourceNet``: two ConvBlock2D (each two 3×3 conv + BatchNorm + ReLU, then average
pooling). As in the paper (sec. 4.2), PreMixNet concatenates the three SourceNets' maps
(one per stem: vocals, harmonic, percussion; weights not shared) along the filters;
then a ConvBlock1D whose first kernel spans all remaining mel bins (3 × F) summarises
each frame (of all stems at once, so that their alignment is visible), the time axis
is reduced (mean + max of each filter, our reading of "average over time and max +
mean") and two fully connected layers give 2 logits (positive = mashable, negative).
PostMixNet is the same on one SourceNet of the mix.

Input: ``(B, S, n_mels, T)`` log-mel (S = 3 stems for PreMixNet, 1 mix for
PostMixNet); internally ``(B, C, T, F)`` so that pooling ``(pt, pf)`` reads time first.
``score(x)`` is the softmax probability of the positive class, ``(B,)`` in [0, 1].
``input_norm="time_mean"`` (config) first removes each source's mean log-mel spectrum over
the input's frames, i.e. its static timbre.

Harmony branch (our addition, ``harmony > 0``, PreMixNet only): each source then also carries
:data:`N_CHROMA` chroma rows below its mel rows, ``(B, S, n_mels + 12, T)``. Per frame, the
cosine between the vocal chroma and the harmonic chroma rotated by k = 0..11 semitones gives an
interval profile ``(B, 12, T)``: transposition-invariant, it says which intervals the melody
forms with the concurrent chords (mass on unisons, thirds and fifths when they fit, on seconds
and tritones when the keys clash). A 1×1 conv summarises it; its mean over frames, weighted by
how much both stems sound, and the same on the clip-level chroma profiles join the head. The
paper's 2-D convolutions pool frequency away before the stems meet and combine them linearly,
which cannot express "these two pitch sets agree up to a transposition".

Reductions from the paper (CPU training on a shared 2-core machine): 64 mel bins at
16 kHz instead of 128 at 22.05 kHz, ~7-8 s inputs averaged to 64 ms frames, channels
8-8-16-16 / 32 instead of 64-64-128-128 / 256, an FC width of 32 instead of 128, and
frequency pooling 2 in each ConvBlock2D (the paper pools time only).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from collage.errors import ParameterError
from collage.pretrained import register_model
from collage.represent.pitch import PITCH_NAMES

__all__ = ["N_CHROMA", "MashabilityConfig", "PostMixConfig", "SourceNet", "PreMixNet", "PostMixNet", "MashabilityEnsemble"]

#: the chroma rows the features carry under the mel rows: one per pitch class
N_CHROMA = len(PITCH_NAMES)


@dataclass(frozen=True)
class MashabilityConfig:
    """Sizes of a Pre/PostMixNet; ``n_sources`` is 3 (stems) or 1 (mix)."""

    n_sources: int = 3
    n_mels: int = 64
    channels: tuple = (8, 8, 16, 16)
    c1d: int = 32
    fc: int = 32
    pool_input: int = 2
    pool_time: int = 2
    pool_freq: int = 2
    dropout: float = 0.2
    #: "none", or "time_mean": subtract each source's per-bin mean over the input's frames (a
    #: cepstral-mean-style normalisation: a soundfont's static spectral envelope is an offset per
    #: log-mel bin, so this removes it while keeping how the spectrum moves in time)
    input_norm: str = "none"
    #: channels of the harmony branch (vocal-harmonic chroma interval profile); 0 = off (the paper's net)
    harmony: int = 0

    @property
    def in_rows(self) -> int:
        """Feature rows each source takes: the mel bins, then the chroma when the harmony branch is on."""
        return self.n_mels + (N_CHROMA if self.harmony else 0)

    def __post_init__(self):
        if self.input_norm not in ("none", "time_mean"):
            raise ParameterError(f"given input_norm={self.input_norm!r}; expected 'none' or 'time_mean'")
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if len(self.channels) != 4:
            raise ParameterError(f"given channels={self.channels!r}; expected 4 numbers (two ConvBlock2D)")
        if self.n_mels % (self.pool_freq**2) != 0:
            raise ParameterError(f"given n_mels={self.n_mels}; expected a multiple of pool_freq**2={self.pool_freq**2}")
        if self.harmony and self.n_sources != 3:
            raise ParameterError(f"given harmony={self.harmony} with n_sources={self.n_sources}; "
                                 "the harmony branch compares the vocal and harmonic stems (PreMixNet)")

    @classmethod
    def tiny(cls, n_sources: int = 3) -> "MashabilityConfig":
        return cls(n_sources=n_sources, n_mels=16, channels=(2, 2, 4, 4), c1d=8, fc=8, pool_input=1)


def _block2d(cin: int, cout1: int, cout2: int, pool: tuple[int, int]) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout1, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout1),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout1, cout2, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout2),
        nn.ReLU(inplace=True),
        nn.AvgPool2d(pool, ceil_mode=True),
    )


class SourceNet(nn.Module):
    """``(B, n_mels, T)`` log-mel → ``(B, c3, T/4p, F/4)`` feature maps (two ConvBlock2D); the
    input is first averaged over ``pool_input`` frames in time (64 ms steps at the default 2)."""

    def __init__(self, config: MashabilityConfig):
        super().__init__()
        c = config.channels
        pool = (config.pool_time, config.pool_freq)
        self.pool_input = nn.AvgPool2d((config.pool_input, 1), ceil_mode=True)
        self.block1 = _block2d(1, c[0], c[1], pool)
        self.block2 = _block2d(c[1], c[2], c[3], pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pool_input(x.transpose(1, 2).unsqueeze(1))  # (B, 1, T/p, F)
        return self.block2(self.block1(h))  # (B, c3, T/4p, F/4)


def interval_profile(v: torch.Tensor, h: torch.Tensor, eps: float = 1e-4) -> tuple[torch.Tensor, torch.Tensor]:
    """Vocal and harmonic chroma ``(B, 12, T)`` → per-frame cosine between ``v`` and ``h`` rotated
    by k semitones, ``r[:, k, t] = <v_t, h_t shifted by k> / (|v_t| |h_t|)``, ``(B, 12, T)``, and
    each frame's weight ``|v_t| |h_t|`` ``(B, T)`` (0 where either stem is silent)."""
    nv, nh = (v * v).sum(1).sqrt(), (h * h).sum(1).sqrt()  # not .norm(dim=1): 30x slower over this axis on CPU
    hh = torch.cat([h, h[:, :-1]], dim=1)  # each rotation a view of it (torch.roll copies every one)
    r = torch.stack([(v * hh[:, k:k + N_CHROMA]).sum(1) for k in range(N_CHROMA)], dim=1)
    return r / (nv * nh + eps).unsqueeze(1), nv * nh


class _MixNet(nn.Module):
    def __init__(self, config: MashabilityConfig):
        super().__init__()
        self.config = config
        self.sources = nn.ModuleList(SourceNet(config) for _ in range(config.n_sources))
        f = config.n_mels // config.pool_freq**2
        cin = config.channels[3] * config.n_sources
        self.block1d = nn.Sequential(  # sees every stem at once, frame by frame
            nn.Conv2d(cin, config.c1d, (3, f), padding=(1, 0), bias=False),  # one value per frame
            nn.BatchNorm2d(config.c1d),
            nn.ReLU(inplace=True),
            nn.Conv2d(config.c1d, config.c1d, (3, 1), padding=(1, 0), bias=False),
            nn.BatchNorm2d(config.c1d),
            nn.ReLU(inplace=True),
            nn.AvgPool2d((config.pool_time, 1), ceil_mode=True),
        )
        if config.harmony:
            self.harmony = nn.Sequential(nn.Conv1d(N_CHROMA, config.harmony, 1), nn.ReLU(inplace=True))
        self.head = nn.Sequential(
            nn.Linear(config.c1d + 2 * config.harmony, config.fc),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(config.fc, 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, S, in_rows, T)`` → ``(B, 2)`` logits (positive, negative)."""
        cfg = self.config
        if x.ndim != 4 or x.shape[1] != cfg.n_sources or x.shape[2] != cfg.in_rows or x.shape[3] < 8:
            raise ParameterError(
                f"given input shape {tuple(x.shape)}; expected (B, {cfg.n_sources}, {cfg.in_rows}, T >= 8)"
            )
        x, chroma = x[:, :, : cfg.n_mels], x[:, :, cfg.n_mels :]
        if cfg.input_norm == "time_mean":
            x = x - x.mean(dim=3, keepdim=True)
        h = torch.cat([net(x[:, i]) for i, net in enumerate(self.sources)], dim=1)  # (B, S * c3, T', F')
        h = self.block1d(h).squeeze(3)  # (B, c1d, T'')
        h = h.mean(dim=2) + h.amax(dim=2)  # (B, c1d)
        if cfg.harmony:
            h = torch.cat([h, self._harmony(chroma[:, 0], chroma[:, 1])], dim=1)
        return self.head(h)  # (B, 2)

    def _harmony(self, v: torch.Tensor, hc: torch.Tensor) -> torch.Tensor:
        """Vocal and harmonic chroma ``(B, 12, T)`` → ``(B, 2 * harmony)``: the branch's
        frame-weighted mean and its value on the clip-level chroma profiles."""
        r, w = interval_profile(v, hc)
        z = self.harmony(r)  # (B, harmony, T)
        frames = (z * w.unsqueeze(1)).sum(2) / (w.sum(1, keepdim=True) + 1e-4)
        r_clip, _ = interval_profile(v.mean(2, keepdim=True), hc.mean(2, keepdim=True))
        return torch.cat([frames, self.harmony(r_clip).squeeze(2)], dim=1)

    @torch.no_grad()
    def score(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, S, in_rows, T)`` → ``(B,)`` probability of the positive class (eval mode)."""
        return torch.softmax(self(x), dim=1)[:, 0]


@register_model("premixnet", MashabilityConfig)
class PreMixNet(_MixNet):
    """One SourceNet per stem (vocals, harmonic, percussion), not sharing weights."""

    def __init__(self, config: MashabilityConfig):
        if config.n_sources != 3:
            raise ParameterError(f"given n_sources={config.n_sources}; PreMixNet takes 3 stems")
        super().__init__(config)


@dataclass(frozen=True)
class PostMixConfig(MashabilityConfig):
    """A :class:`MashabilityConfig` with one source (the mix)."""

    n_sources: int = 1

    @classmethod
    def tiny(cls, n_sources: int = 1) -> "PostMixConfig":
        return cls(n_sources=1, n_mels=16, channels=(2, 2, 4, 4), c1d=8, fc=8, pool_input=1)


@register_model("postmixnet", PostMixConfig)
class PostMixNet(_MixNet):
    """One SourceNet on the mix."""

    def __init__(self, config: MashabilityConfig):
        if config.n_sources != 1:
            raise ParameterError(f"given n_sources={config.n_sources}; PostMixNet takes the mix only")
        super().__init__(config)


class MashabilityEnsemble(nn.Module):
    """Models that read the same inputs (sources and feature rows); ``score`` is the mean of their
    probabilities, ``(B, S, in_rows, T)`` → ``(B,)`` in [0, 1]. ``config`` is the first member's."""

    def __init__(self, members):
        super().__init__()
        members = list(members)
        if not members:
            raise ParameterError("given no models; an ensemble needs at least one")
        reads = {(m.config.n_sources, m.config.in_rows) for m in members}
        if len(reads) > 1:
            raise ParameterError(f"given models reading different inputs (sources, rows) {sorted(reads)}; "
                                 "expected one kind")
        self.members = nn.ModuleList(members)
        self.config = members[0].config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, S, in_rows, T)`` → ``(B, 2)`` log of the members' mean class probabilities (logits
        whose softmax is that mean)."""
        return torch.stack([torch.softmax(m(x), dim=1) for m in self.members]).mean(0).clamp_min(1e-12).log()

    @torch.no_grad()
    def score(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self(x), dim=1)[:, 0]

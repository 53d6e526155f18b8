"""The melody VAE: EC2-VAE (Yang et al., 2019) without the chord condition, as CollageNet §3.4 uses it.

A melody is a ``(32, 130)`` one-hot (:mod:`collage.represent.melody`: 0-127
pitch onset, 128 hold, 129 rest). The latent is ``z = [z_pitch | z_rhythm]``:

- encoder: a bidirectional GRU over the one-hot; its last forward and
  backward states give ``mu`` and ``std`` (``exp(logvar / 2)``) of ``z``;
- rhythm decoder: a GRU driven by ``z_rhythm`` only, predicting the 3-state
  rhythm per step (onset / hold / rest, :func:`~collage.represent.melody.rhythm_states`);
- global decoder: a GRU driven by ``z_pitch`` and the rhythm decoder's
  per-step probabilities, predicting the 130-way token per step.

Since the rhythm decoder never sees ``z_pitch``, ``z_rhythm`` must carry the
rhythm; the global decoder reads rhythm only through the rhythm decoder, so
``z_pitch`` is pushed to carry the rest (pitch contour): the disentanglement
EC2-VAE trains for. Sizes are reduced from the paper's (GRU hidden 2048)
to train on a CPU; see :class:`MelodyVAEConfig`.

Example::

    model = load_pretrained("melody_vae")
    mu, std = model.encode(x)              # x (B, 32, 130) -> (B, 256) each
    z = mu.clone(); z[:, model.aspects["rhythm"]] = mu2[:, model.aspects["rhythm"]]
    tokens = model.decode_tokens(z)        # (B, 32) long
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn
from torch.nn import functional as F

from collage.errors import ParameterError
from collage.pretrained import register_model

__all__ = ["MelodyVAEConfig", "MelodyVAE", "N_RHYTHM", "token_rhythm"]

N_RHYTHM = 3  # onset, hold, rest (collage.represent.melody.ONSET_STATE, HOLD_STATE, REST_STATE)
_HOLD, _REST = 128, 129


@dataclasses.dataclass(frozen=True)
class MelodyVAEConfig:
    """Sizes of the melody VAE.

    Attributes:
        n_steps: steps per melody (32 = 8 beats of 16ths).
        n_tokens: tokens per step (130).
        z_pitch, z_rhythm: latent sizes (paper: 128 + 128).
        enc_hidden: encoder GRU hidden size per direction (paper: 2048).
        rhythm_hidden: rhythm decoder GRU hidden size (paper: 2048).
        dec_hidden: global decoder GRU hidden size (paper: 2048).
    """

    n_steps: int = 32
    n_tokens: int = 130
    z_pitch: int = 128
    z_rhythm: int = 128
    enc_hidden: int = 256
    rhythm_hidden: int = 256
    dec_hidden: int = 384

    def __post_init__(self):
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ParameterError(f"given {f.name}={v!r}; expected a positive integer")
        if self.n_tokens != 130:
            raise ParameterError(f"given n_tokens={self.n_tokens}; expected 130 (128 pitches, hold, rest)")

    @classmethod
    def tiny(cls) -> "MelodyVAEConfig":
        """A small configuration for fast tests."""
        return cls(z_pitch=8, z_rhythm=8, enc_hidden=16, rhythm_hidden=16, dec_hidden=16)


def token_rhythm(tokens: torch.Tensor) -> torch.Tensor:
    """``(...)`` long tokens -> ``(...)`` long rhythm states (0 onset, 1 hold, 2 rest)."""
    return torch.where(tokens < _HOLD, 0, torch.where(tokens == _HOLD, 1, 2))


@register_model("melody_vae", MelodyVAEConfig)
class MelodyVAE(nn.Module):
    """EC2-VAE without chords; see the module doc. Latent ``[z_pitch | z_rhythm]`` of size :attr:`z_dim`."""

    def __init__(self, config: MelodyVAEConfig):
        super().__init__()
        if not isinstance(config, MelodyVAEConfig):
            raise ParameterError(f"given config of type {type(config).__name__}; expected MelodyVAEConfig")
        self.config = c = config
        self.z_dim = c.z_pitch + c.z_rhythm
        self.encoder = nn.GRU(c.n_tokens, c.enc_hidden, batch_first=True, bidirectional=True)
        self.to_mu = nn.Linear(2 * c.enc_hidden, self.z_dim)
        self.to_logvar = nn.Linear(2 * c.enc_hidden, self.z_dim)
        self.rhythm_init = nn.Linear(c.z_rhythm, c.rhythm_hidden)
        self.rhythm_gru = nn.GRU(N_RHYTHM + c.z_rhythm, c.rhythm_hidden, batch_first=True)
        self.rhythm_out = nn.Linear(c.rhythm_hidden, N_RHYTHM)
        self.global_init = nn.Linear(c.z_pitch, c.dec_hidden)
        self.global_gru = nn.GRU(c.n_tokens + N_RHYTHM + c.z_pitch, c.dec_hidden, batch_first=True)
        self.global_out = nn.Linear(c.dec_hidden, c.n_tokens)

    @property
    def aspects(self) -> dict[str, slice]:
        """Which latent dimensions hold which aspect: ``{"pitch": ..., "rhythm": ...}``."""
        zp = self.config.z_pitch
        return {"pitch": slice(0, zp), "rhythm": slice(zp, self.z_dim)}

    def _check_x(self, x: torch.Tensor) -> None:
        c = self.config
        if not torch.is_tensor(x) or x.ndim != 3 or tuple(x.shape[1:]) != (c.n_steps, c.n_tokens):
            shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise ParameterError(f"given x.shape={shape}; expected (B, {c.n_steps}, {c.n_tokens})")

    def _check_z(self, z: torch.Tensor) -> None:
        if not torch.is_tensor(z) or z.ndim != 2 or z.shape[1] != self.z_dim:
            shape = tuple(z.shape) if torch.is_tensor(z) else type(z).__name__
            raise ParameterError(f"given z.shape={shape}; expected (B, {self.z_dim})")

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` ``(B, 32, 130)`` float one-hot -> ``(mu, std)``, each ``(B, z_dim)``."""
        self._check_x(x)
        _, h = self.encoder(x.float())  # h (2, B, enc_hidden)
        h = torch.cat([h[0], h[1]], dim=-1)  # (B, 2 * enc_hidden)
        mu = self.to_mu(h)  # (B, z_dim)
        std = torch.exp(0.5 * self.to_logvar(h).clamp(-20.0, 10.0))  # (B, z_dim)
        return mu, std

    # -- decoders ------------------------------------------------------------------
    def _rhythm(self, z_r: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        """Rhythm logits ``(B, T, 3)``; teacher-forced on ``target`` ``(B, T)`` states when given."""
        c = self.config
        b = z_r.shape[0]
        h = torch.tanh(self.rhythm_init(z_r))[None]  # (1, B, rhythm_hidden)
        if target is not None:
            prev = F.one_hot(target[:, :-1], N_RHYTHM).float()  # (B, T-1, 3)
            prev = torch.cat([z_r.new_zeros(b, 1, N_RHYTHM), prev], dim=1)  # (B, T, 3)
            inp = torch.cat([prev, z_r[:, None].expand(b, c.n_steps, -1)], dim=-1)  # (B, T, 3 + z_rhythm)
            out, _ = self.rhythm_gru(inp, h)  # (B, T, rhythm_hidden)
            return self.rhythm_out(out)  # (B, T, 3)
        prev = z_r.new_zeros(b, N_RHYTHM)
        logits = []
        for _ in range(c.n_steps):
            out, h = self.rhythm_gru(torch.cat([prev, z_r], dim=-1)[:, None], h)  # (B, 1, rhythm_hidden)
            step = self.rhythm_out(out[:, 0])  # (B, 3)
            logits.append(step)
            prev = F.one_hot(step.argmax(-1), N_RHYTHM).float()
        return torch.stack(logits, dim=1)  # (B, T, 3)

    def _global(self, z_p: torch.Tensor, rhythm: torch.Tensor, target: torch.Tensor | None,
                token_dropout: float = 0.0) -> torch.Tensor:
        """Token logits ``(B, T, 130)`` from ``z_pitch`` and rhythm probabilities ``(B, T, 3)``.

        ``token_dropout``: when teacher-forced, the share of previous-token inputs blanked
        (all zeros; Bowman et al. 2016's word dropout), so that pitch must come from ``z_pitch``.
        """
        c = self.config
        b = z_p.shape[0]
        h = torch.tanh(self.global_init(z_p))[None]  # (1, B, dec_hidden)
        if target is not None:
            prev = F.one_hot(target[:, :-1], c.n_tokens).float()  # (B, T-1, 130)
            if token_dropout > 0:
                prev = prev * (torch.rand(prev.shape[:2], device=prev.device) >= token_dropout)[..., None]
            prev = torch.cat([z_p.new_zeros(b, 1, c.n_tokens), prev], dim=1)  # (B, T, 130)
            inp = torch.cat([prev, rhythm, z_p[:, None].expand(b, c.n_steps, -1)], dim=-1)  # (B, T, 133 + z_pitch)
            out, _ = self.global_gru(inp, h)  # (B, T, dec_hidden)
            return self.global_out(out)  # (B, T, 130)
        prev = z_p.new_zeros(b, c.n_tokens)
        logits = []
        for t in range(c.n_steps):
            out, h = self.global_gru(torch.cat([prev, rhythm[:, t], z_p], dim=-1)[:, None], h)  # (B, 1, dec_hidden)
            step = self.global_out(out[:, 0])  # (B, 130)
            logits.append(step)
            prev = F.one_hot(step.argmax(-1), c.n_tokens).float()
        return torch.stack(logits, dim=1)  # (B, T, 130)

    def decode_full(self, z: torch.Tensor, target: torch.Tensor | None = None,
                    token_dropout: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """``z`` ``(B, z_dim)`` -> ``(token_logits (B, 32, 130), rhythm_logits (B, 32, 3))``.

        With ``target`` ``(B, 32)`` long tokens both decoders are teacher-forced
        (their previous-step inputs are the target's; the global decoder's blanked at
        the rate ``token_dropout``, a training aid); without, they run free,
        feeding back their own argmax.
        """
        if isinstance(token_dropout, bool) or not isinstance(token_dropout, (int, float)) or not 0 <= token_dropout < 1:
            raise ParameterError(f"given token_dropout={token_dropout!r}; expected a number in [0, 1)")
        self._check_z(z)
        c = self.config
        if target is not None and (target.ndim != 2 or target.shape != (z.shape[0], c.n_steps)):
            raise ParameterError(f"given target.shape={tuple(target.shape)}; expected ({z.shape[0]}, {c.n_steps})")
        z_p, z_r = z[:, self.aspects["pitch"]], z[:, self.aspects["rhythm"]]
        r_logits = self._rhythm(z_r, None if target is None else token_rhythm(target))  # (B, T, 3)
        logits = self._global(z_p, r_logits.softmax(-1), target, token_dropout)  # (B, T, 130)
        return logits, r_logits

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``z`` ``(B, z_dim)`` -> token logits ``(B, 32, 130)``, free-running (no teacher forcing)."""
        return self.decode_full(z)[0]

    @torch.no_grad()
    def decode_tokens(self, z: torch.Tensor) -> torch.Tensor:
        """``z`` ``(B, z_dim)`` -> ``(B, 32)`` long argmax tokens (free-running)."""
        return self.decode(z).argmax(-1)

    def forward(self, x: torch.Tensor, *, teacher_forcing: bool = False, sample: bool = True,
                token_dropout: float = 0.0) -> dict:
        """Encode, draw ``z`` (``mu`` when ``sample`` is False) and decode.

        Args:
            x: ``(B, 32, 130)`` one-hot melodies.
            teacher_forcing: decode with the input's own tokens as previous-step inputs.
            token_dropout: with ``teacher_forcing``, the share of those inputs blanked.
        Returns:
            ``{"mu", "std", "z"}`` ``(B, z_dim)``, ``"logits"`` ``(B, 32, 130)``,
            ``"rhythm_logits"`` ``(B, 32, 3)``.
        """
        mu, std = self.encode(x)
        z = mu + std * torch.randn_like(std) if sample else mu  # (B, z_dim)
        target = x.argmax(-1) if teacher_forcing else None  # (B, 32)
        logits, r_logits = self.decode_full(z, target, token_dropout)
        return {"mu": mu, "std": std, "z": z, "logits": logits, "rhythm_logits": r_logits}

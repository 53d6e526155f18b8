"""A latent actor-critic over two latents with named aspects (CollageNet §3; Engel et al. 2018).

One mechanism, two pairings: vertical fusion pairs a melody latent
``z_a = [z_pitch | z_rhythm]`` with an accompaniment latent
``z_b = [z_chord | z_texture]``; phrase joining pairs two phrase latents.
The configs carry the two sizes and the aspect slices, so nothing here knows
about music.

- :class:`LatentCritic` (``"latent_critic"``): ``D(z_a, z_b) -> logits (B,)``;
  each latent passes through linear + ReLU, the two are concatenated and go
  through ``layers`` blocks of linear + ReLU + dropout to one logit
  (``sigmoid`` = probability that the pair is "real", i.e. harmonic).
- :class:`LatentActor` (``"latent_actor"``): ``G(z_a, z_b, controls) -> (z_a', z_b')``;
  the same trunk also fed the controls (one per aspect, in [0, 1], how much
  to *keep*), ending in a gated residual: ``out = (1 - g) * z + g * delta``
  with ``g = sigmoid(.)`` (times ``1 - c_aspect`` with ``control_gate``) and
  ``delta`` predicted per dimension.
- :func:`latent_distance`: CollageNet's ``rho(z_hat, z) = (1/d) * || log(1 + (z_hat - z)^2) / sigma_bar^2 ||_1``.

Sizes: the paper uses 8 x 1024 MLPs; the default here is 4 x 256 with 256-wide latent embeddings (see
``docs/results/fusion.md`` for the measured reduction).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import torch
from torch import nn

from collage.errors import ParameterError
from collage.pretrained import register_model
from collage.represent.checks import check_int

__all__ = [
    "TINY_SIZES",
    "LatentCriticConfig",
    "LatentActorConfig",
    "LatentCritic",
    "LatentActor",
    "latent_distance",
    "aspects_from_slices",
    "FUSION_ASPECTS",
    "iterate",
    "join_configs",
]

#: the control order of vertical fusion: melody aspects, then accompaniment aspects
FUSION_ASPECTS = ("pitch", "rhythm", "chord", "texture")
#: The sizes of the tiny critics and actors of the fast tests (``--tiny``): the one place they are set.
TINY_SIZES = {"embed": 16, "hidden": 16, "layers": 2, "dropout": 0.0}


def aspects_from_slices(slices: Mapping[str, slice]) -> tuple[tuple[str, int, int], ...]:
    """``{'pitch': slice(0, 128), ...}`` -> ``(('pitch', 0, 128), ...)`` (the config form)."""
    return tuple((str(k), int(s.start or 0), int(s.stop)) for k, s in slices.items())


def _as_aspects(value, name: str, d: int) -> tuple[tuple[str, int, int], ...]:
    try:
        out = tuple((str(n), int(a), int(b)) for n, a, b in value)
    except (TypeError, ValueError):
        raise ParameterError(f"given {name}={value!r}; expected ((name, start, stop), ...)") from None
    for n, a, b in out:
        if not 0 <= a < b <= d:
            raise ParameterError(f"given {name} aspect {n!r} = [{a}, {b}); expected 0 <= start < stop <= {d}")
    return out


@dataclasses.dataclass(frozen=True)
class LatentCriticConfig:
    """Sizes of :class:`LatentCritic` (and the shared part of :class:`LatentActorConfig`).

    Attributes:
        d_a, d_b: sizes of the two latents (fusion: melody 256, accompaniment 256).
        aspects_a, aspects_b: ``((name, start, stop), ...)`` slices of each
            latent; the controls follow this order (a's aspects, then b's).
        embed: width of the linear + ReLU applied to each latent before concatenation.
        hidden, layers: the MLP blocks (linear + ReLU + dropout), paper: 8 x 1024.
        dropout: in each block (paper: 0.5).
    """

    d_a: int = 256
    d_b: int = 256
    aspects_a: tuple = (("pitch", 0, 128), ("rhythm", 128, 256))
    aspects_b: tuple = (("chord", 0, 128), ("texture", 128, 256))
    embed: int = 256
    hidden: int = 256
    layers: int = 4
    dropout: float = 0.5

    def __post_init__(self):
        for k in ("d_a", "d_b", "embed", "hidden", "layers"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ParameterError(f"given {k}={v!r}; expected a positive integer")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ParameterError(f"given dropout={self.dropout!r}; expected in [0, 1)")
        object.__setattr__(self, "aspects_a", _as_aspects(self.aspects_a, "aspects_a", self.d_a))
        object.__setattr__(self, "aspects_b", _as_aspects(self.aspects_b, "aspects_b", self.d_b))

    @property
    def aspect_names(self) -> tuple[str, ...]:
        return tuple(n for n, _, _ in self.aspects_a + self.aspects_b)

    @classmethod
    def tiny(cls) -> "LatentCriticConfig":
        return cls(d_a=16, d_b=16, aspects_a=(("pitch", 0, 8), ("rhythm", 8, 16)),
                   aspects_b=(("chord", 0, 8), ("texture", 8, 16)), **TINY_SIZES)

    @classmethod
    def for_latents(cls, aspects_a: Mapping[str, slice], aspects_b: Mapping[str, slice], d_a: int, d_b: int,
                    **sizes) -> "LatentCriticConfig":
        """A config for two latents given their aspect slices (e.g. ``vae.aspects``)."""
        return cls(d_a=d_a, d_b=d_b, aspects_a=aspects_from_slices(aspects_a),
                   aspects_b=aspects_from_slices(aspects_b), **sizes)


@dataclasses.dataclass(frozen=True)
class LatentActorConfig(LatentCriticConfig):
    """Sizes of :class:`LatentActor`: those of the critic plus the gate's initial bias.

    ``gate_bias`` starts the gates near closed (``sigmoid(-1) = 0.27``) so
    that an untrained actor stays close to its input.

    ``control_gate``: scale each aspect's gate by ``1 - c_aspect`` (the
    control says how much to *keep*), so that a control of 1 returns that
    aspect unchanged and the room to move shrinks as the control rises;
    without it the controls are only inputs and the distance penalty alone
    ties them to the output (the paper's form, whose controls our smaller,
    shorter-trained actors learned to ignore: ``docs/results/fusion.md``).

    ``iterations``: how many times :meth:`LatentActor.transform` applies the
    actor by default, each time to its previous output (the iterated
    transformation of Connective Fusion). Training always applies it once;
    the shipped value is chosen afterwards on the val split
    (``collage train actor-iterations``, ``docs/results/fusion.md``).
    """

    gate_bias: float = -1.0
    control_gate: bool = False
    iterations: int = 1

    def __post_init__(self):
        super().__post_init__()
        check_int(self.iterations, "iterations", minimum=1)

    @classmethod
    def tiny(cls) -> "LatentActorConfig":
        return cls(**dataclasses.asdict(LatentCriticConfig.tiny()))


def join_configs(vae, *, tiny: bool = False, sizes: dict | None = None
                 ) -> tuple[LatentCriticConfig, LatentActorConfig]:
    """Critic and actor configs for phrase joining: two melody latents of ``vae``.

    The aspects are ``left_pitch, left_rhythm, right_pitch, right_rhythm`` (``vae.aspects`` of each
    side); the actor's controls do not scale its gate (``control_gate=False``). ``tiny`` uses the
    small sizes of the fast tests; otherwise ``sizes`` (``embed``, ``hidden``, ``layers``,
    ``dropout``) override the defaults.
    """
    sizes = dict(TINY_SIZES) if tiny else dict(sizes or {})
    left = {f"left_{k}": sl for k, sl in vae.aspects.items()}
    right = {f"right_{k}": sl for k, sl in vae.aspects.items()}
    cc = LatentCriticConfig.for_latents(left, right, vae.z_dim, vae.z_dim, **sizes)
    ac = dataclasses.replace(LatentActorConfig.for_latents(left, right, vae.z_dim, vae.z_dim, **sizes),
                             control_gate=False)
    return cc, ac


def _mlp(d_in: int, hidden: int, layers: int, dropout: float) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i in range(layers):
        mods += [nn.Linear(d_in if i == 0 else hidden, hidden), nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*mods)


def _check_pair(model, z_a: torch.Tensor, z_b: torch.Tensor) -> None:
    c = model.config
    if z_a.ndim != 2 or z_a.shape[1] != c.d_a:
        raise ParameterError(f"given z_a.shape={tuple(z_a.shape)}; expected (B, {c.d_a})")
    if z_b.ndim != 2 or z_b.shape != (z_a.shape[0], c.d_b):
        raise ParameterError(f"given z_b.shape={tuple(z_b.shape)}; expected ({z_a.shape[0]}, {c.d_b})")


class _Trunk(nn.Module):
    def __init__(self, c: LatentCriticConfig, n_extra: int = 0):
        super().__init__()
        self.embed_a = nn.Sequential(nn.Linear(c.d_a, c.embed), nn.ReLU())
        self.embed_b = nn.Sequential(nn.Linear(c.d_b, c.embed), nn.ReLU())
        self.mlp = _mlp(2 * c.embed + n_extra, c.hidden, c.layers, c.dropout)

    def forward(self, z_a, z_b, extra=None):
        h = [self.embed_a(z_a), self.embed_b(z_b)]  # (B, E) each
        if extra is not None:
            h.append(extra)
        return self.mlp(torch.cat(h, dim=-1))  # (B, H)


@register_model("latent_critic", LatentCriticConfig)
class LatentCritic(nn.Module):
    """The critic D: ``forward(z_a (B, d_a), z_b (B, d_b)) -> logits (B,)``."""

    def __init__(self, config: LatentCriticConfig):
        super().__init__()
        self.config = config
        self.trunk = _Trunk(config)
        self.out = nn.Linear(config.hidden, 1)

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
        _check_pair(self, z_a, z_b)
        return self.out(self.trunk(z_a, z_b))[:, 0]  # (B,)


@register_model("latent_actor", LatentActorConfig)
class LatentActor(nn.Module):
    """The actor G: ``forward(z_a, z_b, controls (B, n_aspects) in [0, 1]) -> (z_a', z_b')``."""

    def __init__(self, config: LatentActorConfig):
        super().__init__()
        self.config = config
        self.n_aspects = len(config.aspects_a) + len(config.aspects_b)
        self.trunk = _Trunk(config, n_extra=self.n_aspects)
        d = config.d_a + config.d_b
        self.delta = nn.Linear(config.hidden, d)
        self.gate = nn.Linear(config.hidden, d)
        nn.init.constant_(self.gate.bias, config.gate_bias)
        # the mean posterior scale per dimension (set by training; used by latent_distance)
        self.register_buffer("sigma_a", torch.ones(config.d_a))  # (d_a,)
        self.register_buffer("sigma_b", torch.ones(config.d_b))  # (d_b,)

    def aspect_slices(self) -> dict[str, tuple[int, slice]]:
        """``{aspect: (0 for z_a or 1 for z_b, slice)}`` in control order."""
        c = self.config
        out = {n: (0, slice(a, b)) for n, a, b in c.aspects_a}
        out.update({n: (1, slice(a, b)) for n, a, b in c.aspects_b})
        return out

    def distances(self, z_a_hat, z_b_hat, z_a, z_b) -> dict[str, torch.Tensor]:
        """rho per aspect and of each whole latent (``'z_a'``, ``'z_b'``): ``{name: (B,)}`` with :attr:`sigma_a`/:attr:`sigma_b`."""
        out = {}
        for n, (which, sl) in self.aspect_slices().items():
            zh, z, s = (z_a_hat, z_a, self.sigma_a) if which == 0 else (z_b_hat, z_b, self.sigma_b)
            out[n] = latent_distance(zh[:, sl], z[:, sl], s[sl])
        out["z_a"] = latent_distance(z_a_hat, z_a, self.sigma_a)
        out["z_b"] = latent_distance(z_b_hat, z_b, self.sigma_b)
        return out

    def keep_scale(self, controls: torch.Tensor) -> torch.Tensor:
        """``1 - c_aspect`` spread over each aspect's latent dimensions (1 outside every aspect): ``(B, d_a + d_b)``."""
        c = self.config
        scale = torch.ones(controls.shape[0], c.d_a + c.d_b, dtype=controls.dtype)
        for k, (which, sl) in enumerate(self.aspect_slices().values()):
            off = 0 if which == 0 else c.d_a
            scale[:, off + sl.start: off + sl.stop] = 1 - controls[:, k: k + 1]
        return scale

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor, controls: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_pair(self, z_a, z_b)
        if controls.ndim != 2 or controls.shape != (z_a.shape[0], self.n_aspects):
            raise ParameterError(
                f"given controls.shape={tuple(controls.shape)}; expected ({z_a.shape[0]}, {self.n_aspects}) "
                f"for the aspects {self.config.aspect_names}")
        h = self.trunk(z_a, z_b, controls.to(z_a.dtype))  # (B, H)
        z = torch.cat([z_a, z_b], dim=-1)  # (B, d_a + d_b)
        g = torch.sigmoid(self.gate(h))  # (B, d_a + d_b)
        if self.config.control_gate:
            g = g * self.keep_scale(controls.to(z_a.dtype))  # (B, d_a + d_b)
        out = (1 - g) * z + g * self.delta(h)  # (B, d_a + d_b)
        return out[:, : self.config.d_a], out[:, self.config.d_a:]

    @torch.no_grad()
    def transform(self, z_a: torch.Tensor, z_b: torch.Tensor, controls: torch.Tensor, *,
                  iterations: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The iterated transformation (inference): ``(z_a, z_b) <- G(z_a, z_b, controls)``, ``iterations`` times.

        Args:
            z_a ``(B, d_a)``, z_b ``(B, d_b)``, controls ``(B, n_aspects)`` in [0, 1].
            iterations: >= 0 (0 returns the inputs); None uses ``config.iterations``.
        Returns:
            ``(z_a', z_b')``, ``(B, d_a)`` and ``(B, d_b)``. With ``control_gate`` an
            aspect whose control is 1 is returned unchanged however many times it is applied.
        """
        return iterate(self, z_a, z_b, controls, self.config.iterations if iterations is None else iterations)


def iterate(actor, z_a: torch.Tensor, z_b: torch.Tensor, controls: torch.Tensor, iterations: int
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(z_a, z_b) <- actor(z_a, z_b, controls)``, ``iterations`` (>= 0) times, with gradients when enabled.

    The one loop behind :meth:`LatentActor.transform`, fusion and unrolled training; ``actor`` is any
    callable of that signature.
    """
    for _ in range(check_int(iterations, "iterations", minimum=0)):
        z_a, z_b = actor(z_a, z_b, controls)
    return z_a, z_b


def latent_distance(z_hat: torch.Tensor, z: torch.Tensor, sigma_bar: torch.Tensor) -> torch.Tensor:
    """CollageNet's rho: ``(1/d) * sum_k log(1 + (z_hat_k - z_k)^2) / sigma_bar_k^2``.

    Args:
        z_hat, z: ``(B, d)`` latents (or an aspect's slice of them).
        sigma_bar: ``(d,)`` mean posterior scale (std) per dimension over the training set.
    Returns:
        ``(B,)`` distances (0 where ``z_hat == z``).
    """
    if z_hat.shape != z.shape or z.ndim != 2 or sigma_bar.shape != (z.shape[1],):
        raise ParameterError(f"given z_hat {tuple(z_hat.shape)}, z {tuple(z.shape)}, sigma_bar "
                             f"{tuple(sigma_bar.shape)}; expected (B, d), (B, d), (d,)")
    return (torch.log1p((z_hat - z) ** 2) / sigma_bar ** 2).mean(dim=-1)  # (B,)

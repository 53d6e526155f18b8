"""Horizontal fusion: join two phrases so that the second follows the first (the ``collage join`` pipeline).

>>> result = join("left.mid", "right.mid", style=[0.2, 0.8, 0.5, 0.5], iterations=2)
>>> collage.io.write_midi(result.piece, "joined.mid")      # one track MELODY: L then R'

After Akama's Connective Fusion, on the latent actor-critic shared with
vertical fusion (:mod:`collage.models.latent_critic`):

1. **inputs** (:mod:`collage.fusion.inputs`, :mod:`collage.fusion.windows`):
   each file's melody track (MELODY, else the only pitched track) on the
   16th-note grid of its own tempo map, reduced to its skyline. The output
   plays at the left phrase's tempo and metre (very different tempi warn).
2. **the joint**: the last 8 beats of L (its length rounded up to a whole
   bar; a shorter L is padded with silence before it) and the first 8 beats
   of R are encoded by the melody VAE (posterior means ``z_L``, ``z_R``).
3. **transformation**:

   - ``'ours'``: the join actor ``G(z_L, z_R, s) -> (z_L', z_R')`` with a
     style ``s`` in [0, 1]^4 (left pitch, left rhythm, right pitch, right
     rhythm: the style latent learned with G, not a keep control), applied
     ``iterations`` times, each on the previous output;
   - ``'lp'`` (baseline): latent random search, :func:`lp_search`, against
     the pre-trained join critic under a z-distance budget.

4. **output**: both latents decoded to notes; the rest of L before the joint
   and the rest of R after it are kept unchanged: one track, L's beginning,
   L', R', R's end.

``z_distance`` is ``rho(z_L', z_L) + rho(z_R', z_R)`` (CollageNet's rho with
the training set's mean posterior scale), the distance the actor was
trained to keep small.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from typing import Any

import numpy as np
import torch

from collage.errors import ParameterError
from collage.fusion import inputs as _inputs
from collage.fusion import windows as W
from collage.io import as_piece
from collage.models.latent_critic import join_configs, latent_distance
from collage.piece import Piece, Track
from collage.pretrained import build_model, load_card, load_pretrained, shipped_names, tiny_model
from collage.represent.checks import check_int, check_unit_interval
from collage.represent.grid import SEGMENT_STEPS
from collage.represent.melody import melody_tokens, skyline, tokens_to_notes

__all__ = ["JOIN_METHODS", "STYLE_NAMES", "LP_STEPS", "LP_BUDGET", "LP_STEP_SIZE", "JoinModels", "JoinResult",
           "check_style", "check_iterations", "transform_latents", "joint_distance", "lp_search", "encode_tokens",
           "decode_tokens", "join_latents", "join", "actor_for_lam"]

log = logging.getLogger(__name__)

JOIN_METHODS = ("ours", "lp")
STYLE_NAMES = ("left_pitch", "left_rhythm", "right_pitch", "right_rhythm")
TEMPO_RATIO_WARN = 1.5
LP_STEPS = 400
"""Random-search steps of the LP baseline (each one critic evaluation of every pair)."""
LP_BUDGET = 4.0
"""The LP baseline's z-distance budget (``rho_L + rho_R``)."""
LP_STEP_SIZE = 0.5
"""LP proposal scale, in units of the mean posterior scale per dimension."""


@dataclasses.dataclass
class JoinModels:
    """Loaded models for :func:`join` (pass one in loops to load once).

    Attributes:
        melody_vae: a :class:`collage.models.melody_vae.MelodyVAE`.
        actor: a :class:`collage.models.latent_critic.LatentActor` over (z_L, z_R) ('ours').
        critic: a :class:`collage.models.latent_critic.LatentCritic` over (z_L, z_R) ('lp').
        sigma: ``(d,)`` mean posterior scale per latent dimension (for rho; from the actor,
            else the critic's card).
        lam: the actor's distance weight (from its card; None if unknown).
    """

    melody_vae: Any
    actor: Any = None
    critic: Any = None
    sigma: torch.Tensor | None = None
    lam: float | None = None

    @classmethod
    def load(cls, *, melody_vae: str | os.PathLike = "melody_vae", actor: str | os.PathLike | None = "join_actor",
             critic: str | os.PathLike | None = None) -> "JoinModels":
        """Load shipped weights by name (or user weights by path); None skips that model.

        Raises:
            ModelLoadingError: weights missing, corrupt or of the wrong hash.
        """
        a = None if actor is None else load_pretrained(actor)
        lam = None if actor is None else load_card(actor).get("lam")
        c = sigma = None
        if critic is not None:
            c = load_pretrained(critic)
            card_sigma = load_card(critic).get("sigma_bar")
            sigma = None if card_sigma is None else torch.tensor(card_sigma, dtype=torch.float32)
        if a is not None:
            sigma = a.sigma_a.clone()
        return cls(melody_vae=load_pretrained(melody_vae), actor=a, critic=c, sigma=sigma, lam=lam)

    @classmethod
    def tiny(cls, seed: int = 0) -> "JoinModels":
        """Tiny random-weight models (VAE, actor, critic) for fast tests."""
        vae = tiny_model("melody_vae", seed=seed)
        cc, ac = join_configs(vae, tiny=True)
        torch.manual_seed(seed)
        actor = build_model("latent_actor", ac).eval()
        critic = build_model("latent_critic", cc).eval()
        return cls(melody_vae=vae, actor=actor, critic=critic, sigma=torch.ones(vae.z_dim), lam=1.0)


def actor_for_lam(lam: float | None) -> str:
    """The shipped join actor trained at ``lam``: ``join_actor`` (the default) or ``join_actor_lam<λ>``.

    Raises:
        ParameterError: no shipped actor has that λ (the available ones are listed).
    """
    names = [n for n in shipped_names() if n == "join_actor" or n.startswith("join_actor_lam")]
    if lam is None:
        return "join_actor"
    lams = {}
    for n in names:
        v = load_card(n).get("lam")
        if v is not None:
            lams.setdefault(float(v), n)
    for v, n in lams.items():
        if math.isclose(v, float(lam), rel_tol=1e-6, abs_tol=1e-9):
            return n
    raise ParameterError(f"given lam={lam:g}; the shipped join actors have lam in "
                         f"{', '.join(f'{v:g}' for v in sorted(lams)) or 'none'}")


@dataclasses.dataclass(frozen=True)
class JoinResult:
    """What :func:`join` made and how.

    Attributes:
        piece: one track MELODY: L before the joint, L', R', R after the joint (L's tempo, tpq and metre).
        method: ``'ours'`` or ``'lp'``.
        style: ``{name: value}`` of :data:`STYLE_NAMES` (None for 'lp').
        iterations: transformations applied ('ours') or search steps ('lp').
        lam: the actor's λ ('ours').
        seed: the seed (LP's proposals).
        z_distance: ``rho(z_L', z_L) + rho(z_R', z_R)``.
        joint_start: step where L' starts in the output; R' starts 32 steps later.
        n_steps: the output's length in steps.
        left_input, right_input: the selected input melodies as pieces (for plots).
        left_qpm, right_qpm: average input tempi.
    """

    piece: Piece
    method: str
    style: dict
    iterations: int
    lam: float | None
    seed: int
    z_distance: float
    joint_start: int
    n_steps: int
    left_input: Piece
    right_input: Piece
    left_qpm: float
    right_qpm: float

    def summary(self) -> dict:
        """The result as plain JSON types (what ``collage join --json`` prints, without the output paths).

        Keys: ``method``, ``style``, ``iterations``, ``lam``, ``seed``, ``z_distance``,
        ``joint_beat`` and ``n_beats`` (beats), ``left_qpm`` and ``right_qpm`` (quarter
        notes per minute), ``n_notes``.
        """
        return {"method": self.method, "style": self.style, "iterations": self.iterations, "lam": self.lam,
                "seed": self.seed, "z_distance": round(self.z_distance, 6), "joint_beat": self.joint_start / 4,
                "n_beats": self.n_steps / 4, "left_qpm": round(self.left_qpm, 3),
                "right_qpm": round(self.right_qpm, 3), "n_notes": len(self.piece.tracks[0])}


def check_style(style) -> np.ndarray:
    """``None`` (0.5 each), one number (for all four) or four numbers in [0, 1] -> ``(4,)`` float32."""
    if style is None:
        return np.full(len(STYLE_NAMES), 0.5, np.float32)
    values = [style] if isinstance(style, (int, float, np.number)) else list(style)
    if len(values) not in (1, len(STYLE_NAMES)):
        raise ParameterError(f"given {len(values)} style values {values}; expected 1 or {len(STYLE_NAMES)} "
                             f"({', '.join(STYLE_NAMES)}), each in [0, 1]")
    out = [check_unit_interval(v, f"style value {v!r}") for v in values]
    return np.asarray(out * (len(STYLE_NAMES) if len(out) == 1 else 1), np.float32)


def check_iterations(value, name: str = "iterations", lo: int = 1) -> int:
    """An integer >= ``lo`` (a float, bool or string is refused)."""
    return check_int(value, name, minimum=lo)


def joint_distance(z_l_hat: torch.Tensor, z_r_hat: torch.Tensor, z_l: torch.Tensor, z_r: torch.Tensor,
                   sigma: torch.Tensor) -> torch.Tensor:
    """``(B,)`` ``rho(z_L', z_L) + rho(z_R', z_R)`` with the mean posterior scale ``sigma (d,)``."""
    return latent_distance(z_l_hat, z_l, sigma) + latent_distance(z_r_hat, z_r, sigma)


@torch.no_grad()
def transform_latents(actor, z_l: torch.Tensor, z_r: torch.Tensor, style, *, iterations: int = 1
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """The iterated transformation: ``(z_L, z_R) <- G(z_L, z_R, s)``, ``iterations`` times.

    Args:
        actor: the join actor; ``z_l``, ``z_r`` ``(B, d)``.
        style: ``(4,)`` or ``(B, 4)`` values in [0, 1].
    Returns:
        ``(z_L', z_R')`` ``(B, d)`` each.
    """
    iterations = check_iterations(iterations, lo=0)
    s = torch.as_tensor(np.asarray(style, np.float32))
    if s.ndim == 1:
        s = s.expand(z_l.shape[0], -1)  # (B, 4)
    actor.eval()
    return actor.transform(z_l, z_r, s, iterations=iterations)


@torch.no_grad()
def lp_search(z_l: torch.Tensor, z_r: torch.Tensor, critic, *, sigma: torch.Tensor, budget: float = LP_BUDGET,
              steps: int = LP_STEPS, step_size: float = LP_STEP_SIZE, seed: int = 0,
              start: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The LP baseline: iterated random perturbations that raise the critic's score within a z-distance budget.

    Each step proposes ``z + step_size * sigma * eps`` for both latents of
    every pair and accepts the proposal where the critic's logit rises and
    ``rho(z_L', z_L) + rho(z_R', z_R) <= budget`` (distances to the input).
    The compute budget is ``steps`` critic evaluations per pair. ``start``:
    continue a search from its result (distances still to ``z_l``, ``z_r``).

    Returns:
        ``(z_L', z_R')`` ``(B, d)``.
    """
    steps = check_iterations(steps, "steps", lo=0)
    if not (isinstance(budget, (int, float)) and budget >= 0):
        raise ParameterError(f"given budget={budget!r}; expected a number >= 0")
    if not (isinstance(step_size, (int, float)) and step_size > 0):
        raise ParameterError(f"given step_size={step_size!r}; expected a positive number")
    critic.eval()
    g = torch.Generator().manual_seed(int(seed))
    d = z_l.shape[1]
    z0 = torch.cat([z_l, z_r], dim=1)  # (B, 2d)
    z = z0.clone() if start is None else torch.cat(start, dim=1)
    score = critic(z[:, :d], z[:, d:])  # (B,)
    scale = step_size * torch.cat([sigma, sigma])  # (2d,)
    for _ in range(steps):
        prop = z + scale * torch.randn(z.shape, generator=g)  # (B, 2d)
        dist = joint_distance(prop[:, :d], prop[:, d:], z0[:, :d], z0[:, d:], sigma)  # (B,)
        s = critic(prop[:, :d], prop[:, d:])  # (B,)
        ok = (s > score) & (dist <= budget)
        z = torch.where(ok[:, None], prop, z)
        score = torch.where(ok, s, score)
    return z[:, :d], z[:, d:]


@torch.no_grad()
def encode_tokens(vae, tokens: np.ndarray) -> torch.Tensor:
    """``(B, 32)`` melody tokens -> ``(B, d)`` posterior means."""
    x = torch.nn.functional.one_hot(torch.as_tensor(np.asarray(tokens), dtype=torch.long), 130).float()  # (B, 32, 130)
    vae.eval()
    return vae.encode(x)[0]


@torch.no_grad()
def decode_tokens(vae, z: torch.Tensor) -> np.ndarray:
    """``(B, d)`` latents -> ``(B, 32)`` int64 tokens (free-running decode)."""
    vae.eval()
    return vae.decode_tokens(z).cpu().numpy().astype(np.int64)


def join_latents(z_l: torch.Tensor, z_r: torch.Tensor, *, models: JoinModels, method: str = "ours", style=None,
                 iterations: int = 1, seed: int = 0, lp_budget: float = LP_BUDGET, lp_steps: int = LP_STEPS
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Transform a batch of latent pairs by ``method`` (see :func:`transform_latents` and :func:`lp_search`)."""
    if method not in JOIN_METHODS:
        raise ParameterError(f"given method={method!r}; expected one of {', '.join(JOIN_METHODS)}")
    if method == "ours":
        if models.actor is None:
            raise ParameterError("method 'ours' needs the join actor (models.actor is None)")
        return transform_latents(models.actor, z_l, z_r, check_style(style), iterations=iterations)
    if models.critic is None or models.sigma is None:
        raise ParameterError("method 'lp' needs the join critic and the latent scale (models.critic, models.sigma)")
    return lp_search(z_l, z_r, models.critic, sigma=models.sigma, budget=lp_budget, steps=lp_steps, seed=seed)


def _velocity(notes: np.ndarray) -> int:
    return int(np.clip(np.median(notes[:, 3]), 1, 127)) if len(notes) else 90


def join(
    left: Piece | str | os.PathLike,
    right: Piece | str | os.PathLike,
    *,
    style=None,
    iterations: int = 1,
    method: str = "ours",
    seed: int = 0,
    models: JoinModels | None = None,
    left_track: str | None = None,
    right_track: str | None = None,
    lp_budget: float = LP_BUDGET,
    lp_steps: int = LP_STEPS,
) -> JoinResult:
    """Join two phrases: transform L's last and R's first 8 beats so that R follows L coherently.

    >>> result = collage.join("left.mid", "right.mid", style=[0.5, 0.5, 0.8, 0.8])
    >>> collage.save(result.piece, "joined.mid")

    Args:
        left, right: pieces or files (MIDI, MusicXML, ABC); their melody
            tracks are used (MELODY, else the only pitched track, or the named track).
        style: None (0.5 each), one value or four values in [0, 1] (:data:`STYLE_NAMES`); 'ours' only.
        iterations: how many times the transformation is applied ('ours'), >= 1.
        method: ``'ours'`` (the join actor) or ``'lp'`` (latent random search).
        seed: seeds LP's proposals ('ours' is deterministic).
        models: loaded :class:`JoinModels`; None loads the shipped ones.
        left_track, right_track: melody track names.
        lp_budget, lp_steps: the LP baseline's z-distance budget and steps.
    Returns:
        a :class:`JoinResult`.
    Raises:
        ParameterError: a bad argument (quoted) or an unusable track choice.
        InvalidMidiError / InvalidScoreError: unreadable, empty or drum-only input.
        ModelLoadingError: the shipped weights cannot be loaded.
    """
    s = check_style(style)
    iterations = check_iterations(iterations)
    seed = check_iterations(seed, "seed", lo=0)
    if method not in JOIN_METHODS:
        raise ParameterError(f"given method={method!r}; expected one of {', '.join(JOIN_METHODS)}")
    if method == "lp" and style is not None:
        log.warning("the style does not apply to method 'lp'; ignored")
    if models is not None and not isinstance(models, JoinModels):
        raise ParameterError(f"given models of type {type(models).__name__}; expected a JoinModels")

    phrases = []
    for role, src, track in (("left", left, left_track), ("right", right, right_track)):
        piece = as_piece(src)
        tr = _inputs.select_melody(piece, track)
        W.check_metre(piece, f"{role} phrase")
        notes, n = W.to_step_notes(tr, piece)
        notes = skyline(notes, source=piece.source or role)
        phrases.append((piece, tr, notes, n))
    (l_piece, l_track, l_notes, n_l), (r_piece, r_track, r_notes, n_r) = phrases
    l_in = dataclasses.replace(l_piece, tracks=[l_track], key_signatures=[])
    r_in = dataclasses.replace(r_piece, tracks=[r_track], key_signatures=[])
    q_l, q_r = W.mean_qpm(l_in), W.mean_qpm(r_in)
    if max(q_l, q_r) / max(min(q_l, q_r), 1e-9) >= TEMPO_RATIO_WARN:
        log.warning("very different tempi: left %.0f qpm, right %.0f qpm; beats are matched one to one, so the "
                    "right phrase plays at the left one's tempo (%.2fx its own)", q_l, q_r, q_l / q_r)

    start = n_l - SEGMENT_STEPS  # the joint window of L in L's steps (negative: L is padded before)
    tok_l = melody_tokens(l_notes - np.array([start, 0, 0, 0]), SEGMENT_STEPS)  # (32,)
    tok_r = melody_tokens(r_notes, SEGMENT_STEPS)  # (32,)
    if models is None:
        models = JoinModels.load(actor=actor_for_lam(None) if method == "ours" else None,
                                 critic="join_critic" if method == "lp" else None)
    z_l = encode_tokens(models.melody_vae, tok_l[None])  # (1, d)
    z_r = encode_tokens(models.melody_vae, tok_r[None])
    h_l, h_r = join_latents(z_l, z_r, models=models, method=method, style=s, iterations=iterations, seed=seed,
                            lp_budget=lp_budget, lp_steps=lp_steps)
    sigma = models.sigma if models.sigma is not None else torch.ones(z_l.shape[1])
    dist = float(joint_distance(h_l, h_r, z_l, z_r, sigma)[0])
    out_l, out_r = decode_tokens(models.melody_vae, torch.cat([h_l, h_r]))  # (32,) each

    off = max(start, 0)  # where L' starts in the output
    parts = [
        W.trim_notes(l_notes, start) if start > 0 else np.zeros((0, 4), np.int64),
        tokens_to_notes(out_l, velocity=_velocity(l_notes)) + np.array([off, 0, 0, 0]),
        tokens_to_notes(out_r, velocity=_velocity(r_notes)) + np.array([off + SEGMENT_STEPS, 0, 0, 0]),
        r_notes[r_notes[:, 0] >= SEGMENT_STEPS] + np.array([off + SEGMENT_STEPS, 0, 0, 0]),
    ]
    notes = np.concatenate(parts).astype(np.int64)
    notes = notes[np.lexsort((notes[:, 2], notes[:, 0]))]
    n_steps = off + SEGMENT_STEPS + max(n_r, SEGMENT_STEPS)
    program = l_track.program if not l_track.is_drum else 0
    piece = Piece([Track(W.steps_to_ticks(notes, l_piece.tpq), name="MELODY", program=program)], tpq=l_piece.tpq,
                  tempos=list(l_piece.tempos), time_signatures=list(l_piece.time_signatures), key_signatures=[])
    return JoinResult(
        piece=piece, method=method,
        style=dict(zip(STYLE_NAMES, map(float, s))) if method == "ours" else {n: None for n in STYLE_NAMES},
        iterations=iterations if method == "ours" else int(lp_steps), lam=models.lam if method == "ours" else None,
        seed=seed, z_distance=dist, joint_start=int(off), n_steps=int(n_steps), left_input=l_in,
        right_input=r_in, left_qpm=q_l, right_qpm=q_r,
    )

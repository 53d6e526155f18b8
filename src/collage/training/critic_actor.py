"""Adversarial training of the latent actor G and critic D (CollageNet §3.2-3.4), and a critic alone.

One mechanism, two pairings. A *pairing* says which latent pairs are real
and how the controls weigh the distance term; the trainers here take any
pairing (or a :class:`collage.training.latents.LatentSet`, which means the
vertical one):

- :class:`LatentSampler` (vertical fusion, CollageNet): positives Ωh (a
  segment's melody and accompaniment, one transposition), negatives Ωdh
  (melody and accompaniment of different songs, each at its own
  transposition); the controls weigh each aspect's distance.
- :class:`collage.training.join_data.JoinPairing` (phrase joining,
  Connective Fusion): positives are consecutive 8-beat melody segments of a
  song, negatives unpaired segments of different songs; the controls are the
  style vector and the distance term weighs every aspect alike, i.e. it is
  ``rho(z_a', z_a) + rho(z_b', z_b)`` (the poster's eq. 7).

Data: cached posteriors of the train split under transpositions; each batch
samples ``z = mu + std * eps``.

- D's positives: the pairing's positives.
- D's negatives: the pairing's negatives, prior samples ``N(0, I)`` and, when
  an actor is trained, G's outputs on negative and prior inputs (a third each).
- D's loss: ``BCE(D(pos), 1) + BCE(D(neg), 0)`` with logits (the paper's
  eq. (2); its ``L_{c=0}`` should read ``log(1 - D(z))``).
- G's loss: ``BCE(D(G(z, c)), 1) + lam * mean(sum_aspect w_aspect(c) * rho(z_hat_aspect, z_aspect))``
  on negative and prior inputs, controls ``c ~ U(0, 1)`` per sample and
  aspect, weights ``w`` from the pairing (:meth:`LatentSampler.distance_weights`).
- Adam with ``betas=(0, 0.9)`` for both (paper: lr 3e-5; our smaller model
  trains with 1e-4 in fewer steps).

Selection: the critic alone keeps its best validation accuracy (Ωh vs Ωdh
and prior, posterior means of the val split); the actor keeps the step with
the best judge harmony rate of decoded val fusions at controls 0.5 (when a
judge and the VAEs are given) and otherwise its last step.

Commands: ``collage train critic`` (pre-trained critic for the data-driven
baseline) and ``collage train actor --lam 1`` (actor and critic).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from collage.errors import ParameterError
from collage.fusion.gradient import decode_latents
from collage.models.latent_critic import (
    TINY_SIZES,
    LatentActor,
    LatentActorConfig,
    LatentCritic,
    LatentCriticConfig,
    iterate,
    latent_distance,
)
from collage.pretrained import (
    build_model,
    default_save_dir,
    find_weights,
    load_pretrained,
    save_pretrained,
    shipped_names,
    tiny_model,
    update_card,
)
from collage.represent.checks import check_int
from collage.training.latents import cached_latents, latents_info
from collage.training.loop import set_threads, train_loop

__all__ = ["LatentSampler", "as_pairing", "train_critic", "train_actor", "actor_val_metrics", "iteration_sweep",
           "run_choose_iterations"]

log = logging.getLogger(__name__)


def _z(mu, std, s, k, sample: bool) -> torch.Tensor:
    """Latents of segments ``k`` at transpositions ``s``: the means, or samples of the posteriors. ``(B, d)``."""
    m = torch.from_numpy(mu[s, k].astype(np.float32))  # (B, d)
    if not sample:
        return m
    return m + torch.from_numpy(std[s, k].astype(np.float32)) * torch.randn_like(m)


class LatentSampler:
    """The vertical pairing: draws Ωh / Ωdh / prior latent batches from a :class:`LatentSet`.

    The pairing interface the trainers use: :meth:`positive`,
    :meth:`negative`, :meth:`prior`, :meth:`distance_weights`, ``sigma_a``
    and ``sigma_b`` (``(d,)`` mean posterior scales).
    """

    def __init__(self, lat):
        self.lat = lat
        self.n_shift = lat.mel_mu.shape[0]
        self.song_ids = np.asarray(lat.song_ids)
        sa, sb = lat.sigma_bar()
        self.sigma_a = torch.from_numpy(np.asarray(sa, np.float32))
        self.sigma_b = torch.from_numpy(np.asarray(sb, np.float32))
        self.d_a, self.d_b = lat.mel_mu.shape[-1], lat.acc_mu.shape[-1]

    def other_song(self, i: np.ndarray, rng) -> np.ndarray:
        n = len(self.song_ids)
        j = rng.integers(0, n, size=len(i))
        bad = self.song_ids[i] == self.song_ids[j]
        for _ in range(100):
            if not bad.any():
                break
            j[bad] = rng.integers(0, n, size=int(bad.sum()))
            bad = self.song_ids[i] == self.song_ids[j]
        return j

    def harmonic(self, n: int, rng, *, sample: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Ωh: ``(z_mel (n, d_a), z_acc (n, d_b))``, one segment and transposition per row."""
        k = rng.integers(0, self.lat.n, size=n)
        s = rng.integers(0, self.n_shift, size=n)
        return (_z(self.lat.mel_mu, self.lat.mel_std, s, k, sample),
                _z(self.lat.acc_mu, self.lat.acc_std, s, k, sample))

    def disharmonic(self, n: int, rng, *, sample: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Ωdh: melody and accompaniment of different songs, each at its own transposition."""
        i = rng.integers(0, self.lat.n, size=n)
        j = self.other_song(i, rng)
        si = rng.integers(0, self.n_shift, size=n)
        sj = rng.integers(0, self.n_shift, size=n)
        return (_z(self.lat.mel_mu, self.lat.mel_std, si, i, sample),
                _z(self.lat.acc_mu, self.lat.acc_std, sj, j, sample))

    def positive(self, n: int, rng, *, sample: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """The pairing's real pairs: Ωh."""
        return self.harmonic(n, rng, sample=sample)

    def negative(self, n: int, rng, *, sample: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """The pairing's unreal pairs (also G's data inputs): Ωdh."""
        return self.disharmonic(n, rng, sample=sample)

    def prior(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``N(0, I)`` samples of both latents: ``((n, d_a), (n, d_b))``."""
        return torch.randn(n, self.d_a), torch.randn(n, self.d_b)

    @staticmethod
    def distance_weights(controls: torch.Tensor, actor) -> torch.Tensor:
        """``(B, n_aspects)`` weight of each aspect's rho in G's distance term: the keep controls themselves."""
        return controls


def as_pairing(data):
    """``data`` if it is a pairing (has ``positive``), else the vertical :class:`LatentSampler` of a LatentSet."""
    return data if hasattr(data, "positive") else LatentSampler(data)


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _critic_val(critic, val, n: int = 2000) -> dict[str, float]:
    """Accuracy on the pairing's positives vs negatives (``_h`` / ``_dh``) and on prior samples."""
    rng = np.random.default_rng(321)
    torch.manual_seed(321)
    zh = val.positive(n, rng, sample=False)
    zd = val.negative(n, rng, sample=False)
    zp = val.prior(n)
    ph, pd, pp = critic(*zh), critic(*zd), critic(*zp)
    acc_h, acc_d, acc_p = (ph > 0).float().mean(), (pd <= 0).float().mean(), (pp <= 0).float().mean()
    bce = (_bce(ph, 1.0) + _bce(pd, 0.0)) / 2
    return {"val_acc": float((acc_h + acc_d) / 2), "val_acc_h": float(acc_h), "val_acc_dh": float(acc_d),
            "val_acc_prior": float(acc_p), "val_bce": float(bce)}


def _adam(params, lr):
    return torch.optim.Adam(params, lr=lr, betas=(0.0, 0.9))


def train_critic(train_lat, val_lat, *, run_dir, config=None, steps: int = 3000, batch_size: int = 512,
                 lr: float = 1e-4, seed: int = 0, val_every: int = 250, progress: bool = True,
                 max_seconds: float | None = None):
    """Train a critic without an actor (the pairing's positives vs its negatives and prior samples, half each).

    ``train_lat``, ``val_lat``: pairings, or LatentSets (the vertical pairing).
    Returns ``(critic with the best val weights, TrainResult)``.
    """
    set_threads()
    tr, va = as_pairing(train_lat), as_pairing(val_lat)
    torch.manual_seed(seed)

    critic = LatentCritic(config or LatentCriticConfig())
    opt = _adam(critic.parameters(), lr)

    def step_fn(step, rng):
        zh = tr.positive(batch_size, rng)
        zd = tr.negative(batch_size // 2, rng)
        zp = tr.prior(batch_size - batch_size // 2)
        neg = critic(torch.cat([zd[0], zp[0]]), torch.cat([zd[1], zp[1]]))  # (B,)
        pos = critic(*zh)  # (B,)
        loss = _bce(pos, 1.0) + _bce(neg, 0.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"d_loss": loss.item(), "d_pos": torch.sigmoid(pos).mean().item(),
                "d_neg": torch.sigmoid(neg).mean().item()}

    res = train_loop({"critic": critic}, {"opt": opt}, step_fn, run_dir=run_dir, max_steps=steps,
                     val_fn=lambda: _critic_val(critic, va), val_every=min(val_every, steps),
                     ckpt_every=min(val_every, steps), log_every=min(50, steps), select="val_acc", mode="max",
                     seed=seed, progress=progress, max_seconds=max_seconds)
    return critic.eval(), res


@torch.no_grad()
def actor_val_metrics(actor, critic, val, *, mel_vae=None, acc_vae=None, judge=None,
                      n: int = 500, iterations: int | None = None) -> dict[str, float]:
    """Val metrics of the actor on ``n`` negative pairs of the pairing ``val`` (posterior means) at controls 0.5,
    the actor applied ``iterations`` times (None: its ``config.iterations``).

    Always: the critic's mean output before/after and rho per latent; with
    the VAEs and a judge, ``harmony_rate`` of the decoded fusions.
    """
    rng = np.random.default_rng(321)
    za, zb = val.negative(n, rng, sample=False)
    c = torch.full((n, actor.n_aspects), 0.5)
    ha, hb = actor.transform(za, zb, c, iterations=iterations)
    d = actor.distances(ha, hb, za, zb)
    out = {"val_d_in": float(torch.sigmoid(critic(za, zb)).mean()), "val_d_out": float(torch.sigmoid(critic(ha, hb)).mean()),
           "val_rho_a": float(d["z_a"].mean()), "val_rho_b": float(d["z_b"].mean())}
    if mel_vae is not None and acc_vae is not None and judge is not None:
        mels, accs = decode_latents(mel_vae, acc_vae, ha, hb)
        out["val_harmony"] = float((judge.score(mels, accs) > 0.5).mean())
    return out


def train_actor(train_lat, val_lat, *, run_dir, lam: float = 1.0, actor_config=None, critic_config=None,
                steps: int = 4000, batch_size: int = 512, lr: float = 1e-4, seed: int = 0, val_every: int = 500,
                mel_vae=None, acc_vae=None, judge=None, val_pairs: int = 500, progress: bool = True,
                max_seconds: float | None = None, init=None, diversity: float = 0.0, diversity_cap: float = 0.5,
                val_score=None, unroll: int = 1, val_iterations: int | None = None):
    """Train actor and critic together (one D step, then one G step, per training step).

    ``train_lat``, ``val_lat``: pairings, or LatentSets (the vertical pairing).

    ``init``: optional ``(actor_state_dict, critic_state_dict)`` to start from
    (a warm start from trained weights of the same sizes; a checkpoint in
    ``run_dir`` still takes precedence, so a run resumes where it stopped).

    ``diversity``: weight of a mode-seeking term (Mao et al., CVPR 2019): the
    actor's loss gets ``- diversity * min(r, diversity_cap)`` with
    ``r = mean|G(z, c1) - G(z, c2)| / mean|c1 - c2|`` for two control draws (the same dropout
    masks in both passes, so that only the controls make the difference), so
    that the controls (the join actor's style) change the output instead of
    being ignored, as a GAN generator tends to do with its noise input.

    ``val_score``: optional ``actor -> float`` (higher is better, e.g. a note-level
    judge on decoded val outputs) that picks the kept step instead of the harmony rate.

    ``unroll``: train the iterated transformation. Each step draws ``k`` in
    ``1..unroll`` and applies the actor ``k`` times (gradients through all of
    them); the critic sees, and the adversarial and distance terms score, the
    ``k``-th output against the original input. 1 is the paper's single pass.

    ``val_iterations``: the val harmony rate that picks the kept step is measured
    after this many applications (default ``unroll``), e.g. the count the actor
    will be used at.

    Returns ``(actor, critic, TrainResult)``; with ``val_score``, or a judge and the
    VAEs, the best val score picks the weights, else the last step is kept.
    """
    if lam < 0:
        raise ParameterError(f"given lam={lam!r}; expected >= 0")
    unroll = check_int(unroll, "unroll", minimum=1)
    val_iterations = check_int(unroll if val_iterations is None else val_iterations, "val_iterations", minimum=1)
    set_threads()
    tr, va = as_pairing(train_lat), as_pairing(val_lat)
    torch.manual_seed(seed)

    actor = LatentActor(actor_config or LatentActorConfig())
    critic = LatentCritic(critic_config or LatentCriticConfig())
    if (actor.config.d_a, actor.config.d_b) != (tr.d_a, tr.d_b):
        raise ParameterError(f"actor sizes {(actor.config.d_a, actor.config.d_b)} do not match the latents "
                             f"{(tr.d_a, tr.d_b)}")
    if init is not None:
        actor.load_state_dict(init[0])
        critic.load_state_dict(init[1])
    actor.sigma_a.copy_(tr.sigma_a)
    actor.sigma_b.copy_(tr.sigma_b)
    opt_d, opt_g = _adam(critic.parameters(), lr), _adam(actor.parameters(), lr)
    slices = actor.aspect_slices()
    third = batch_size // 3

    def g_inputs(n, rng):
        zd = tr.negative(n - n // 2, rng)
        zp = tr.prior(n // 2)
        za, zb = torch.cat([zd[0], zp[0]]), torch.cat([zd[1], zp[1]])
        return za, zb, torch.rand(n, actor.n_aspects)

    def step_fn(step, rng):
        n_apply = int(rng.integers(1, unroll + 1)) if unroll > 1 else 1
        # critic step
        zh = tr.positive(batch_size, rng)
        zd = tr.negative(third, rng)
        zp = tr.prior(third)
        ga, gb, gc = g_inputs(batch_size - 2 * third, rng)
        with torch.no_grad():
            fa, fb = iterate(actor, ga, gb, gc, n_apply)
        neg = critic(torch.cat([zd[0], zp[0], fa]), torch.cat([zd[1], zp[1], fb]))  # (B,)
        pos = critic(*zh)  # (B,)
        d_loss = _bce(pos, 1.0) + _bce(neg, 0.0)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        # actor step
        za, zb, c = g_inputs(batch_size, rng)
        rng_state = torch.get_rng_state() if diversity > 0 else None
        ha, hb = iterate(actor, za, zb, c, n_apply)
        adv = _bce(critic(ha, hb), 1.0)
        w = tr.distance_weights(c, actor)  # (B, n_aspects)
        dist = torch.zeros(batch_size)
        for k, (name, (which, sl)) in enumerate(slices.items()):
            zh_, z_, s_ = (ha, za, actor.sigma_a) if which == 0 else (hb, zb, actor.sigma_b)
            dist = dist + w[:, k] * latent_distance(zh_[:, sl], z_[:, sl], s_[sl])
        g_loss = adv + lam * dist.mean()
        metrics = {}
        if diversity > 0:
            c2 = torch.rand_like(c)
            with torch.random.fork_rng(devices=[]):  # the first pass's dropout masks: only the controls differ
                torch.set_rng_state(rng_state)
                ha2, hb2 = actor(za, zb, c2)
            moved = torch.cat([ha - ha2, hb - hb2], dim=1).abs().mean(1)  # (B,)
            ratio = moved / ((c - c2).abs().mean(1) + 1e-3)  # (B,)
            g_loss = g_loss - diversity * ratio.clamp(max=diversity_cap).mean()
            metrics["g_div"] = ratio.mean().item()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        return {"d_loss": d_loss.item(), "g_adv": adv.item(), "g_dist": dist.mean().item(),
                "d_pos": torch.sigmoid(pos).mean().item(), **metrics}

    use_judge = judge is not None and mel_vae is not None and acc_vae is not None

    def val_fn():
        m = actor_val_metrics(actor, critic, va, mel_vae=mel_vae, acc_vae=acc_vae, judge=judge, n=val_pairs,
                              iterations=val_iterations)
        if val_score is not None:
            m["val_score"] = float(val_score(actor))
            m["val_select"] = m["val_score"]
        else:
            m["val_select"] = m["val_harmony"] if use_judge else float(step_counter())
        return m

    state = {"step": 0}

    def step_counter():
        return state["step"]

    def counted_step(step, rng):
        state["step"] = step + 1
        return step_fn(step, rng)

    res = train_loop({"actor": actor, "critic": critic}, {"opt_d": opt_d, "opt_g": opt_g}, counted_step,
                     run_dir=run_dir, max_steps=steps, val_fn=val_fn, val_every=min(val_every, steps),
                     ckpt_every=min(val_every, steps), log_every=min(50, steps), select="val_select", mode="max",
                     seed=seed, progress=progress, max_seconds=max_seconds)
    return actor.eval(), critic.eval(), res


def base_card(kind: str, *, latents_info: dict, train_info: dict, scores: dict) -> dict:
    """The common part of a critic/actor card."""
    return {
        "training_command": " ".join(["collage"] + sys.argv[1:]) if sys.argv and "collage" in sys.argv[0] else None,
        "data": dict(latents_info, split="POP909 train (beats grid, 12 transpositions); selected on val"),
        "train": train_info,
        "scores": scores,
        "kind": kind,
    }


def _load_vaes(mel_vae, acc_vae, tiny: bool):
    if tiny:
        return tiny_model("melody_vae"), tiny_model("accomp_vae")
    return load_pretrained(mel_vae or "melody_vae"), load_pretrained(acc_vae or "accomp_vae")


def _configs(mel, acc, tiny: bool, sizes: dict):
    if tiny:
        sizes = dict(TINY_SIZES)
    cc = LatentCriticConfig.for_latents(mel.aspects, acc.aspects, mel.z_dim, acc.z_dim, **sizes)
    ac = LatentActorConfig.for_latents(mel.aspects, acc.aspects, mel.z_dim, acc.z_dim, **sizes)
    return cc, ac


def _critic_name(actor_name: str) -> str:
    """The critic trained with an actor: ``latent_actor_lam0.1`` -> ``latent_critic_lam0.1``."""
    return actor_name.replace("latent_actor", "latent_critic") if "latent_actor" in actor_name else actor_name + "_critic"


def _critic_weights(actor: str | os.PathLike):
    """The critic trained with ``actor`` (a name or path) as something :func:`load_pretrained` loads.

    Critics are training-only weights: a shipped actor's critic is found by name in the
    repository's ``weights-training/`` (:func:`collage.pretrained.find_weights`); an actor
    given by path has its critic beside it, or else by name.
    """
    name = _critic_name(str(actor))
    if Path(name).suffix == ".pt" and not Path(name).exists():
        name = Path(name).stem
    return find_weights(name)


def lam_name(lam: float) -> str:
    """``1.0`` -> ``'1'``, ``0.3`` -> ``'0.3'`` (used in weight names and eval rows)."""
    return f"{lam:g}"


def run_train_critic(*, run_dir, steps=3000, batch_size=256, lr=1e-4, seed=0, segments=8000, out_dir=None,
                     name="latent_critic_pretrained", mel_vae=None, acc_vae=None, tiny=False, sizes=None,
                     max_seconds=None, progress=True):
    """`collage train critic`: latents (cached), a critic without actor, shipped as ``name``. Returns the .pt path.

    Stopped early by ``max_seconds``, it still ships (the card records the steps done); running again resumes.
    """
    mel, acc = _load_vaes(mel_vae, acc_vae, tiny)
    n_val = max(segments // 8, 100)
    tr = cached_latents(mel, acc, "train", max_segments=segments, seed=seed, progress=progress)
    va = cached_latents(mel, acc, "val", max_segments=n_val, seed=seed, progress=progress)
    cc, _ = _configs(mel, acc, tiny, sizes or {})
    critic, res = train_critic(tr, va, run_dir=run_dir, config=cc, steps=steps, batch_size=batch_size, lr=lr,
                               seed=seed, progress=progress, max_seconds=max_seconds)
    if res.step < steps:
        log.warning("stopped at step %d of %d (max_seconds); shipping the %s weights; run again to resume",
                    res.step, steps, "best" if res.best_step else "last")
    card = base_card("critic (pre-trained without an actor; the data-driven baseline's)",
                     latents_info=latents_info(mel, acc, "train", segments, seed),
                     train_info={"steps": res.step, "batch_size": batch_size, "lr": lr, "betas": [0.0, 0.9],
                                 "seed": seed, "best_step": res.best_step, "seconds": round(res.seconds, 1),
                                 "planned_steps": steps, "negatives": "Ωdh and prior samples, half each"},
                     scores={"val": res.best_metrics})
    return save_pretrained(critic, name, out_dir or default_save_dir(name), card=card)


def run_train_actor(*, run_dir, lam=1.0, steps=3000, batch_size=256, lr=1e-4, seed=0, segments=8000,
                    out_dir=None, name=None, mel_vae=None, acc_vae=None, judge=None, tiny=False, sizes=None,
                    ship_critic: bool = True, max_seconds=None, progress=True, control_gate: bool = True,
                    init_from: str | None = None, unroll: int = 1, val_iterations: int | None = None):
    """`collage train actor`: actor and critic at ``lam``; ships ``latent_actor[_lam<λ>]`` (+ its critic).

    ``control_gate``: scale each aspect's gate by ``1 - control`` (see
    :class:`~collage.models.latent_critic.LatentActorConfig`). ``init_from``:
    warm-start from trained actor weights (a name or path; the critic from the
    matching ``latent_critic*`` file) with the same sizes.

    Returns the actor's .pt path; stopped early by ``max_seconds``, it still ships (the card records the
    steps done) and running again resumes.
    """
    mel, acc = _load_vaes(mel_vae, acc_vae, tiny)
    n_val = max(segments // 8, 100)
    tr = cached_latents(mel, acc, "train", max_segments=segments, seed=seed, progress=progress)
    va = cached_latents(mel, acc, "val", max_segments=n_val, seed=seed, progress=progress)
    cc, ac = _configs(mel, acc, tiny, sizes or {})
    ac = dataclasses.replace(ac, control_gate=control_gate)
    init = None
    if init_from is not None:
        init_actor = load_pretrained(find_weights(init_from))
        init_critic = load_pretrained(_critic_weights(init_from))
        init = (init_actor.state_dict(), init_critic.state_dict())
    if judge is None:
        judge = tiny_model("harmony_judge") if tiny else (
            load_pretrained("harmony_judge") if "harmony_judge" in shipped_names() else None)
    elif isinstance(judge, str):
        judge = load_pretrained(find_weights(judge))
    actor, critic, res = train_actor(tr, va, run_dir=run_dir, lam=lam, actor_config=ac, critic_config=cc,
                                     steps=steps, batch_size=batch_size, lr=lr, seed=seed, mel_vae=mel,
                                     acc_vae=acc, judge=judge, val_pairs=100 if tiny else 500, progress=progress,
                                     max_seconds=max_seconds, init=init, unroll=unroll,
                                     val_iterations=val_iterations)
    if res.step < steps:
        log.warning("stopped at step %d of %d (max_seconds); shipping the %s weights; run again to resume",
                    res.step, steps, "best" if res.best_step else "last")
    name = name or "latent_actor"
    card = base_card(f"actor (CollageNet G) at lambda={lam:g}",
                     latents_info=latents_info(mel, acc, "train", segments, seed),
                     train_info={"lam": lam, "steps": res.step, "batch_size": batch_size, "lr": lr,
                                 "betas": [0.0, 0.9], "seed": seed, "best_step": res.best_step,
                                 "seconds": round(res.seconds, 1), "planned_steps": steps,
                                 "control_gate": control_gate, "init_from": init_from, "unroll": unroll,
                                 "val_iterations": val_iterations or unroll,
                                 "select": "best judge harmony rate of 500 decoded val Ωdh fusions at controls 0.5"
                                 + (f", the actor applied {val_iterations or unroll} times"
                                    if (val_iterations or unroll) > 1 else "")
                                 if judge is not None else "last step"},
                     scores={"val": res.best_metrics})
    card["lam"] = lam
    pt = save_pretrained(actor, name, out_dir or default_save_dir(name), card=card)
    if ship_critic:  # the critic is training-only: by default it goes to the training folder
        cname = _critic_name(name)
        save_pretrained(critic, cname, out_dir or default_save_dir(cname), card=dict(card, kind=f"critic trained with the actor at lambda={lam:g}"))
    return pt


def iteration_sweep(actor, critic, val, *, mel_vae, acc_vae, judge, iterations=range(1, 9), n: int = 500,
                    tolerance: float = 0.01) -> dict:
    """Choose how many times the actor is applied at inference, on val (:func:`actor_val_metrics` per count).

    ``val``: a pairing, or a LatentSet (the vertical pairing).

    The choice is the smallest count whose val harmony rate is within ``tolerance`` of the best
    (the data-driven baseline's rule for its step count).

    Returns:
        ``{"pairs": n, "iterations": {k: metrics}, "chosen": k, "tolerance": tolerance}``.
    """
    ks = sorted({int(k) for k in iterations})
    if not ks or ks[0] < 1:
        raise ParameterError(f"given iterations={list(iterations)!r}; expected counts >= 1")
    val = as_pairing(val)
    out = {k: actor_val_metrics(actor, critic, val, mel_vae=mel_vae, acc_vae=acc_vae, judge=judge, n=n, iterations=k)
           for k in ks}
    best = max(v["val_harmony"] for v in out.values())
    chosen = min(k for k, v in out.items() if v["val_harmony"] >= best - tolerance)
    return {"pairs": int(n), "iterations": out, "chosen": int(chosen), "tolerance": float(tolerance)}


def run_choose_iterations(name: str = "latent_actor", *, max_iterations: int = 8, segments: int = 8000, seed: int = 0,
                          tolerance: float = 0.01, write: bool = True, tiny: bool = False) -> dict:
    """`collage train actor-iterations`: choose a shipped actor's default iterations on val and record it.

    Val data: the pairs :func:`actor_val_metrics` draws from the val latents that
    :func:`run_train_actor` uses (``segments // 8`` val segments, ``seed``). With
    ``write`` the choice goes into the actor's card (``config.iterations``) and the
    sweep under ``iterations_sweep``; the weights file is not touched.

    Returns:
        :func:`iteration_sweep`'s dict plus ``"actor"``.
    """
    max_iterations = check_int(max_iterations, "max_iterations", minimum=1)
    mel, acc = _load_vaes(None, None, tiny)
    va = as_pairing(cached_latents(mel, acc, "val", max_segments=max(segments // 8, 100), seed=seed))
    if tiny:
        cc, ac = _configs(mel, acc, True, {})
        torch.manual_seed(seed)
        actor, critic = build_model("latent_actor", ac).eval(), build_model("latent_critic", cc).eval()
        judge = tiny_model("harmony_judge")
    else:
        actor, critic = load_pretrained(find_weights(name)), load_pretrained(_critic_weights(name))
        judge = load_pretrained("harmony_judge")
    res = iteration_sweep(actor, critic, va, mel_vae=mel, acc_vae=acc, judge=judge,
                          iterations=range(1, max_iterations + 1), n=100 if tiny else 500, tolerance=tolerance)
    res["actor"] = name
    if write and not tiny:
        config = dataclasses.asdict(dataclasses.replace(actor.config, iterations=res["chosen"]))
        path = update_card(find_weights(name), config=config, iterations_sweep={
            "command": f"collage train actor-iterations --actor {name} --max-iterations {max_iterations}",
            "rule": f"smallest count within {tolerance:g} of the best val harmony rate (500 val Ωdh pairs, "
                    "posterior means, controls 0.5)",
            "val": {str(k): {m: round(v, 4) for m, v in d.items()} for k, d in res["iterations"].items()},
            "chosen": res["chosen"],
        })
        log.info("%s: default iterations %d written to %s", name, res["chosen"], path)
    return res

"""Training for phrase joining (Connective Fusion): the join critic and actors, and the reality classifier.

The critic and actor are the latent actor-critic of vertical fusion
(:mod:`collage.training.critic_actor`) with the horizontal pairing
(:class:`collage.training.join_data.JoinPairing`): ``z_a = z_L``, ``z_b = z_R``,
both melody latents ``[pitch | rhythm]``; the actor's four "controls" are the
style vector ``s ~ U(0, 1)^4`` (one per aspect: left pitch, left rhythm,
right pitch, right rhythm) and do not scale its gate (``control_gate=False``);
the distance term is ``lam * (rho(z_L', z_L) + rho(z_R', z_R))``.

- ``collage train join-critic``: a critic alone (consecutive vs unpaired and
  prior), the reality score of the LP baseline: ``join_critic``;
- ``collage train join-actor --lam L``: actor and critic together:
  ``join_actor`` (the default) or ``join_actor_lam<L>``; the actor is kept
  at its last validated step;
- ``collage train join-judge``: the reality classifier on notes used by the
  evaluation (:mod:`collage.models.join_judge`): ``join_judge``.
"""

from __future__ import annotations

import logging
import sys

import numpy as np
import torch
import torch.nn.functional as F

from collage.datasets.pop909 import pop909_segments
from collage.errors import ParameterError
from collage.fusion.horizontal import decode_tokens
from collage.models.join_judge import JoinJudge, JoinJudgeConfig
from collage.models.latent_critic import join_configs
from collage.pretrained import default_save_dir, find_weights, load_pretrained, save_pretrained, tiny_model
from collage.training.critic_actor import actor_val_metrics, lam_name, train_actor, train_critic
from collage.training.join_data import (
    JoinLatents,
    JoinPairing,
    join_index,
    join_latents,
    pair_index,
    restrict_songs,
    segment_tokens,
    transpose_tokens,
)
from collage.training.latents import _vae_key, data_hash
from collage.training.loop import set_threads, train_loop

__all__ = ["run_train_join_critic", "run_train_join_actor", "train_join_judge",
           "run_train_join_judge", "judge_batch", "join_actor_name", "TINY_SONGS"]

log = logging.getLogger(__name__)

#: songs per split used by ``--tiny`` smoke runs
TINY_SONGS = 6


def join_actor_name(lam: float, default: bool) -> str:
    """``join_actor`` (the shipped default) or ``join_actor_lam<λ>``."""
    return "join_actor" if default else f"join_actor_lam{lam_name(lam)}"


def _vae(vae, tiny: bool):
    return tiny_model("melody_vae") if tiny else load_pretrained(vae or "melody_vae")


def _latents(vae, tiny: bool, progress: bool):
    songs = TINY_SONGS if tiny else None
    tr = join_latents(vae, "train", songs=songs, progress=progress)
    va = join_latents(vae, "val", shifts=(0,), songs=songs, progress=progress)
    return tr, va


def _card(kind: str, vae, tr, info: dict, scores: dict) -> dict:
    segset = pop909_segments("train", grid="beats")
    return {
        "training_command": " ".join(["collage"] + sys.argv[1:]) if sys.argv and "collage" in sys.argv[0] else None,
        "kind": kind,
        "data": {"latents": f"POP909 train (beats grid), {tr.n} non-overlapping 8-beat segments "
                            f"({int((tr.right >= 0).sum())} consecutive pairs) x transpositions {list(tr.shifts)}, "
                            f"posteriors of melody_vae {_vae_key(vae)}",
                 "train_hash": data_hash(segset), "split": "POP909 train; val for the reported scores"},
        "style": "s ~ U(0,1)^4: left pitch, left rhythm, right pitch, right rhythm (inputs only, no gate scaling)",
        "train": info,
        "scores": scores,
    }


def run_train_join_critic(*, run_dir, steps: int = 2000, batch_size: int = 256, lr: float = 1e-4, seed: int = 0,
                          out_dir=None, name: str = "join_critic", vae=None, tiny: bool = False, sizes=None,
                          max_seconds=None, progress: bool = True):
    """`collage train join-critic`: a critic without actor on the horizontal pairing; ships ``name``. Returns the .pt path."""
    mel = _vae(vae, tiny)
    tr, va = _latents(mel, tiny, progress)
    cc, _ = join_configs(mel, tiny=tiny, sizes=sizes)
    critic, res = train_critic(JoinPairing(tr), JoinPairing(va), run_dir=run_dir, config=cc, steps=steps,
                               batch_size=batch_size, lr=lr, seed=seed, progress=progress, max_seconds=max_seconds)
    if res.step < steps:
        log.warning("stopped at step %d of %d (max_seconds); shipping; run again to resume", res.step, steps)
    card = _card("join critic (pre-trained without an actor; the reality score of the LP baseline)", mel, tr,
                 {"steps": res.step, "planned_steps": steps, "batch_size": batch_size, "lr": lr, "betas": [0.0, 0.9],
                  "seed": seed, "best_step": res.best_step, "seconds": round(res.seconds, 1),
                  "negatives": "segments of different songs and prior samples, half each",
                  "select": "best val accuracy (consecutive vs different-song pairs, posterior means)"},
                 {"val": res.best_metrics})
    card["sigma_bar"] = [round(float(v), 6) for v in tr.sigma_bar()]  # rho's scale for the LP baseline
    return save_pretrained(critic, name, out_dir or default_save_dir(name), card=card)


def judge_val_score(vae, judge, val, *, n: int = 500, seed: int = 321):
    """``actor -> float``: the reality classifier's mean probability on ``n`` unpaired val pairs
    (posterior means, fixed draws) after one transformation at random styles (fixed draws)."""
    rng = np.random.default_rng(seed)
    z_l, z_r = val.negative(n, rng, sample=False)
    style = torch.from_numpy(rng.random((n, 4)).astype(np.float32))

    @torch.no_grad()
    def score(actor) -> float:
        actor.eval()
        h_l, h_r = actor(z_l, z_r, style)
        return float(judge.score(decode_tokens(vae, h_l), decode_tokens(vae, h_r)).mean())

    return score


def run_train_join_actor(*, run_dir, lam: float = 1.0, steps: int = 3000, batch_size: int = 256, lr: float = 1e-4,
                         seed: int = 0, out_dir=None, name: str | None = None, vae=None, tiny: bool = False,
                         sizes=None, max_seconds=None, progress: bool = True, diversity: float = 0.0,
                         diversity_cap: float = 0.5, init_from: str | None = None, judge: str | None = None):
    """`collage train join-actor`: actor and critic at ``lam`` on the horizontal pairing; ships the actor as ``name``.

    ``diversity``, ``diversity_cap``: weight and cap of the mode-seeking style term
    (:func:`~collage.training.critic_actor.train_actor`).
    ``init_from``: warm-start the actor from these join-actor weights and the critic from ``join_critic``.
    ``judge``: a reality classifier (e.g. ``join_judge``) that picks the kept step by its mean score on
    decoded val joins (:func:`judge_val_score`); without it the last validated step is kept.
    Returns the .pt path; stopped early by ``max_seconds`` it still ships (the card records the
    steps) and running again resumes.
    """
    if lam < 0:
        raise ParameterError(f"given lam={lam!r}; expected >= 0")
    mel = _vae(vae, tiny)
    tr, va = _latents(mel, tiny, progress)
    cc, ac = join_configs(mel, tiny=tiny, sizes=sizes)
    init = None
    if init_from is not None:
        init = (load_pretrained(find_weights(init_from)).state_dict(), load_pretrained("join_critic").state_dict())
    val_score = None
    if judge is not None:
        j = tiny_model("join_judge") if tiny else load_pretrained(find_weights(judge))
        val_score = judge_val_score(mel, j, JoinPairing(va), n=100 if tiny else 500)
    actor, critic, res = train_actor(JoinPairing(tr), JoinPairing(va), run_dir=run_dir, lam=lam, actor_config=ac,
                                     critic_config=cc, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                                     val_pairs=100 if tiny else 500, progress=progress, max_seconds=max_seconds,
                                     init=init, diversity=diversity, diversity_cap=diversity_cap, val_score=val_score)
    if res.step < steps:
        log.warning("stopped at step %d of %d (max_seconds); shipping; run again to resume", res.step, steps)
    name = name or join_actor_name(lam, True)
    card = _card(f"join actor (Connective Fusion G) at lambda={lam:g}", mel, tr,
                 {"lam": lam, "steps": res.step, "planned_steps": steps, "batch_size": batch_size, "lr": lr,
                  "betas": [0.0, 0.9], "seed": seed, "seconds": round(res.seconds, 1), "best_step": res.best_step,
                  "diversity": diversity, "diversity_cap": diversity_cap, "init_from": init_from,
                  "select": (f"best mean {judge} score of 500 decoded val joins (one transformation, random styles)"
                             if judge else "the last validated step (validation every 500 steps)")},
                 {"val": actor_val_metrics(actor, critic, JoinPairing(va), n=100 if tiny else 500),
                  "val_note": "500 unpaired val pairs (posterior means) at style 0.5: mean critic output before "
                              "(val_d_in) and after (val_d_out), rho of each latent"})
    card["lam"] = lam
    return save_pretrained(actor, name, out_dir or default_save_dir(name), card=card)


# -- the reality classifier --------------------------------------------------------------
def judge_batch(tokens: np.ndarray, song_ids: np.ndarray, right: np.ndarray, n: int, rng: np.random.Generator,
                *, shifts: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Half consecutive pairs (label 1), half pairs of different songs (label 0).

    Args:
        tokens: ``(K, 32)`` segment tokens; ``song_ids``, ``right`` ``(K,)`` as in :class:`JoinLatents`.
        shifts: transpose each pair (positives: both phrases alike; negatives: each its own) by -6..5 semitones.
    Returns:
        ``(left (n, 32), right (n, 32), labels (n,))``.
    """
    lat = JoinLatents(mu=np.zeros((1, len(tokens), 1)), std=np.zeros((1, len(tokens), 1)),
                      valid=np.ones((1, len(tokens)), bool), shifts=(0,), song_ids=song_ids,
                      starts=np.zeros(len(tokens), np.int64), right=right, index=np.arange(len(tokens)))
    npos = n // 2
    pi, pj = pair_index(lat, npos, rng, paired=True)
    ni, nj = pair_index(lat, n - npos, rng, paired=False)
    li, ri = tokens[np.concatenate([pi, ni])], tokens[np.concatenate([pj, nj])]
    if shifts:
        sp = rng.integers(-6, 6, size=npos)
        sl = np.concatenate([sp, rng.integers(-6, 6, size=n - npos)])
        sr = np.concatenate([sp, rng.integers(-6, 6, size=n - npos)])
        both = np.concatenate([li, ri], axis=1)
        moved = transpose_tokens(both, np.where(np.arange(n) < npos, sl, 0))  # positives: one shift for both
        li, ri = moved[:, :32], moved[:, 32:]
        li = np.where((np.arange(n) >= npos)[:, None], transpose_tokens(li, sl), li)
        ri = np.where((np.arange(n) >= npos)[:, None], transpose_tokens(ri, sr), ri)
    y = np.concatenate([np.ones(npos), np.zeros(n - npos)]).astype(np.float32)
    return torch.from_numpy(li), torch.from_numpy(ri), torch.from_numpy(y)


def _judge_data(split: str, songs: int | None):
    segset = pop909_segments(split, grid="beats")
    index, right = restrict_songs(segset, *join_index(segset), songs)
    return segment_tokens(segset, index), np.asarray(segset.song_ids)[index], right


def judge_accuracy(judge, data, n: int = 4000, seed: int = 321) -> dict[str, float]:
    """Accuracy of ``judge`` on ``n`` balanced untransposed pairs of ``data = (tokens, song_ids, right)``."""
    left, right, y = judge_batch(*data, n, np.random.default_rng(seed), shifts=False)
    p = judge.score(left.numpy(), right.numpy())
    pred = p > 0.5
    yb = y.numpy() > 0.5
    return {"acc": float((pred == yb).mean()), "acc_paired": float(pred[yb].mean()),
            "acc_unpaired": float((~pred[~yb]).mean()), "mean_p_paired": float(p[yb].mean()),
            "mean_p_unpaired": float(p[~yb].mean())}


def train_join_judge(train_data, val_data, *, run_dir, config=None, steps: int = 3000, batch_size: int = 128,
                     lr: float = 1e-3, seed: int = 0, val_every: int = 250, progress: bool = True,
                     max_seconds: float | None = None):
    """Train the reality classifier (BCE, Adam); the best val accuracy is kept. Returns ``(judge, TrainResult)``."""
    set_threads()
    torch.manual_seed(seed)
    judge = JoinJudge(config or JoinJudgeConfig())
    opt = torch.optim.Adam(judge.parameters(), lr=lr)

    def step_fn(step, rng):
        left, right, y = judge_batch(*train_data, batch_size, rng)
        logits = judge(left, right)
        loss = F.binary_cross_entropy_with_logits(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "acc": float(((logits > 0).float() == y).float().mean())}

    def val_fn():
        return {f"val_{k}": v for k, v in judge_accuracy(judge, val_data, n=2000).items()}

    res = train_loop({"judge": judge}, {"opt": opt}, step_fn, run_dir=run_dir, max_steps=steps, val_fn=val_fn,
                     val_every=min(val_every, steps), ckpt_every=min(val_every, steps), log_every=min(50, steps),
                     select="val_acc", mode="max", seed=seed, progress=progress, max_seconds=max_seconds)
    return judge.eval(), res


def run_train_join_judge(*, run_dir, steps: int = 3000, batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
                         out_dir=None, name: str = "join_judge", tiny: bool = False, max_seconds=None,
                         progress: bool = True):
    """`collage train join-judge`: the reality classifier on POP909 notes; ships ``name`` with its test accuracy."""
    songs = TINY_SONGS if tiny else None
    tr, va, te = (_judge_data(s, songs) for s in ("train", "val", "test"))
    config = JoinJudgeConfig.tiny() if tiny else JoinJudgeConfig()
    judge, res = train_join_judge(tr, va, run_dir=run_dir, config=config, steps=steps, batch_size=batch_size, lr=lr,
                                  seed=seed, progress=progress, max_seconds=max_seconds)
    test = judge_accuracy(judge, te)
    log.info("join judge test accuracy %.3f", test["acc"])
    card = {
        "training_command": " ".join(["collage"] + sys.argv[1:]) if sys.argv and "collage" in sys.argv[0] else None,
        "kind": "reality classifier on notes (consecutive vs different-song 8-beat melody segments)",
        "data": {"split": "POP909 train (beats grid, non-overlapping 8-beat segments), selected on val, "
                          "scored on test", "train_hash": data_hash(pop909_segments("train", grid="beats")),
                 "test_hash": data_hash(pop909_segments("test", grid="beats")),
                 "augmentation": "transpositions -6..+5 (a consecutive pair moves as one)"},
        "train": {"steps": res.step, "planned_steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed,
                  "best_step": res.best_step, "seconds": round(res.seconds, 1)},
        "scores": {"val": res.best_metrics, "test": test,
                   "test_note": "4000 balanced untransposed test pairs (seed 321)"},
    }
    return save_pretrained(judge, name, out_dir or default_save_dir(name), card=card)

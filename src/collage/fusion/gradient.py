"""The data-driven fusion baseline (CollageNet §4.2): climb a pre-trained critic in latent space.

A critic trained without an actor (``latent_critic_pretrained``) scores how
harmonic a pair of latents looks; Adam moves ``z_mel`` and ``z_acc`` for a
number of steps (learning rate 0.005) to maximise it, i.e. to minimise
``softplus(-D(z_mel, z_acc))`` (the BCE toward "harmonic"). The baseline has
no controls: every aspect may change.

- :func:`gradient_fuse_latents`: the latent-level method;
- :func:`encode_pairs` / :func:`decode_latents`: step notes <-> latents
  through the two VAEs (shared with the CollageNet evaluation);
- :func:`gradient_fuse_segments`: the note-level wrapper the pipeline uses.

``DEFAULT_STEPS`` is chosen by the evaluation (``docs/results/fusion.md``).
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import torch

from collage.errors import ParameterError
from collage.pretrained import load_pretrained
from collage.represent.accompaniment import durmat, durmat_to_notes
from collage.represent.chord import estimate_chords
from collage.represent.melody import melody_onehot, melody_tokens, tokens_to_notes

__all__ = ["DEFAULT_STEPS", "DEFAULT_LR", "gradient_fuse_latents", "gradient_fuse_segments", "encode_pairs",
           "decode_latents", "segment_inputs"]

log = logging.getLogger(__name__)

DEFAULT_STEPS = 25
"""Adam steps of the data-driven baseline (see ``docs/results/fusion.md`` for the choice)."""
DEFAULT_LR = 0.005


def gradient_fuse_latents(z_mel: torch.Tensor, z_acc: torch.Tensor, critic, *, steps: int = DEFAULT_STEPS,
                          lr: float = DEFAULT_LR) -> tuple[torch.Tensor, torch.Tensor]:
    """Move a batch of latent pairs up the critic's score with Adam.

    Args:
        z_mel: ``(B, d_a)`` melody latents.
        z_acc: ``(B, d_b)`` accompaniment latents.
        critic: a :class:`collage.models.latent_critic.LatentCritic` (put in
            eval mode here; its weights do not change).
        steps: Adam steps (0 returns copies of the inputs).
        lr: Adam learning rate (paper: 0.005).
    Returns:
        ``(z_mel', z_acc')`` detached, same shapes.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ParameterError(f"given steps={steps!r}; expected a non-negative integer")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ParameterError(f"given lr={lr!r}; expected a positive number")
    if z_mel.ndim != 2 or z_acc.ndim != 2 or z_mel.shape[0] != z_acc.shape[0]:
        raise ParameterError(f"given z_mel.shape={tuple(z_mel.shape)}, z_acc.shape={tuple(z_acc.shape)}; "
                             "expected (B, d_a) and (B, d_b)")
    critic.eval()
    za = z_mel.detach().clone().float().requires_grad_(True)  # (B, d_a)
    zb = z_acc.detach().clone().float().requires_grad_(True)  # (B, d_b)
    if steps == 0:
        return za.detach(), zb.detach()
    req = [p.requires_grad for p in critic.parameters()]
    for p in critic.parameters():
        p.requires_grad_(False)
    try:
        opt = torch.optim.Adam([za, zb], lr=float(lr))
        with torch.enable_grad():
            for _ in range(int(steps)):
                loss = torch.nn.functional.softplus(-critic(za, zb)).sum()  # -log D, summed over the batch
                opt.zero_grad()
                loss.backward()
                opt.step()
    finally:
        for p, r in zip(critic.parameters(), req):
            p.requires_grad_(r)
    return za.detach(), zb.detach()


# -- notes <-> latents --------------------------------------------------------------
def segment_inputs(melodies: Sequence, accomps: Sequence, *, chords=None, n_steps: int = 32,
                   steps_per_beat: int = 4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """VAE inputs of B segments of step notes.

    Args:
        melodies, accomps: B arrays of ``(n, 4)`` window-relative step notes.
        chords: ``(B, 8, 36)`` chord vectors (e.g. from annotations); None
            estimates them from the accompaniment
            (:func:`collage.represent.chord.estimate_chords`).
    Returns:
        ``melody (B, 32, 130)`` one-hot, ``chord (B, 8, 36)``, ``prmat (B, 32, 128)`` float32 tensors.
    """
    if len(melodies) != len(accomps):
        raise ParameterError(f"given {len(melodies)} melodies and {len(accomps)} accompaniments; expected equal")
    b, n_beats = len(melodies), n_steps // steps_per_beat
    mel = np.zeros((b, n_steps, 130), np.float32)
    prm = np.zeros((b, n_steps, 128), np.float32)
    ch = np.zeros((b, n_beats, 36), np.float32)
    for r, (m, a) in enumerate(zip(melodies, accomps)):
        m = np.asarray(m, np.int64).reshape(-1, 4)
        a = np.asarray(a, np.int64).reshape(-1, 4)
        mel[r] = melody_onehot(melody_tokens(m, n_steps))
        prm[r] = durmat(a, n_steps)
        if chords is None:
            ch[r] = estimate_chords(a, n_beats, steps_per_beat=steps_per_beat)
    if chords is not None:
        ch = np.asarray(chords, np.float32)
        if ch.shape != (b, n_beats, 36):
            raise ParameterError(f"given chords.shape={ch.shape}; expected ({b}, {n_beats}, 36)")
    return torch.from_numpy(mel), torch.from_numpy(ch), torch.from_numpy(prm)


@torch.no_grad()
def encode_pairs(mel_vae, acc_vae, melodies: Sequence, accomps: Sequence, *, chords=None,
                 batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means of B segment pairs: ``(z_mel (B, d_a), z_acc (B, d_b))``."""
    za, zb = [], []
    for s in range(0, len(melodies), batch_size):
        ch = None if chords is None else np.asarray(chords)[s:s + batch_size]
        mel, chord, prm = segment_inputs(melodies[s:s + batch_size], accomps[s:s + batch_size], chords=ch)
        za.append(mel_vae.encode(mel)[0])
        zb.append(acc_vae.encode(chord, prm)[0])
    if not za:
        return torch.zeros(0, mel_vae.z_dim), torch.zeros(0, acc_vae.z_dim)
    return torch.cat(za), torch.cat(zb)


@torch.no_grad()
def decode_latents(mel_vae, acc_vae, z_mel: torch.Tensor, z_acc: torch.Tensor, *,
                   batch_size: int = 512) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Decode B latent pairs to step notes: two lists of ``(n, 4)`` int64 arrays (durations clipped to the window)."""
    mels, accs = [], []
    for s in range(0, len(z_mel), batch_size):
        tok = mel_vae.decode_tokens(z_mel[s:s + batch_size]).numpy()  # (b, 32)
        prm = acc_vae.decode(z_acc[s:s + batch_size]).numpy()  # (b, 32, 128)
        t = tok.shape[1]
        for r in range(len(tok)):
            mels.append(tokens_to_notes(tok[r]))
            a = durmat_to_notes(prm[r])
            a[:, 1] = np.minimum(a[:, 1], t - a[:, 0])
            accs.append(a)
    return mels, accs


def gradient_fuse_segments(melodies: Sequence, accomps: Sequence, *, mel_vae=None, acc_vae=None, critic=None,
                           steps: int = DEFAULT_STEPS, lr: float = DEFAULT_LR, chords=None,
                           batch_size: int = 512) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The data-driven baseline on B segment pairs of step notes (32 steps each).

    Encodes with the VAEs (posterior means), climbs the critic, decodes.
    Models default to the shipped ``melody_vae``, ``accomp_vae`` and
    ``latent_critic_pretrained``.

    Returns:
        ``(melodies, accomps)``: two lists of B ``(n, 4)`` int64 step-note arrays.
    """
    mel_vae = mel_vae if mel_vae is not None else load_pretrained("melody_vae")
    acc_vae = acc_vae if acc_vae is not None else load_pretrained("accomp_vae")
    critic = critic if critic is not None else load_pretrained("latent_critic_pretrained")
    mel_vae.eval()
    acc_vae.eval()
    za, zb = encode_pairs(mel_vae, acc_vae, melodies, accomps, chords=chords, batch_size=batch_size)
    ha, hb = [], []
    for s in range(0, len(za), batch_size):
        a, b = gradient_fuse_latents(za[s:s + batch_size], zb[s:s + batch_size], critic, steps=steps, lr=lr)
        ha.append(a)
        hb.append(b)
    if not ha:
        return [], []
    return decode_latents(mel_vae, acc_vae, torch.cat(ha), torch.cat(hb), batch_size=batch_size)

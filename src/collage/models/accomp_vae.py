"""The accompaniment VAE (PolyDis style): a latent of chord ⊕ texture for 8-beat accompaniments.

After Wang et al. (2020), "Learning interpretable representation for
controllable polyphonic music generation" (PolyDis), at sizes that train on
one CPU thread (see :class:`AccompVAEConfig`).

- **Chord encoder**: a bidirectional GRU over the ``(8, 36)`` chord track
  (one :mod:`collage.represent.chord` vector per beat) -> ``z_chord``.
- **Texture encoder**: a CNN over the ``(32, 128)`` ``pr_mat`` (two input
  planes: onset indicator and duration / 32) whose kernel spans 4 steps x 12
  pitches with stride one beat in time, max-pooled over pitch, then a
  bidirectional GRU over the 8 beats -> ``z_texture``.
- **Chord decoder**: a GRU over the 8 beats fed ``z_chord`` (plus a learned
  beat embedding) predicting root (12 classes + no chord), chroma (12
  binary) and bass (12 + no chord).
- **Piano-tree decoder**: a time-level GRU over the 32 steps fed
  ``[z_chord | z_texture]`` and a summary of the previous step's onsets;
  per step a note-level GRU emits the notes starting there in ascending
  pitch, each a pitch token (128 pitches + end-of-step) followed by a
  32-way duration class (duration - 1 steps). Teacher-forced in training
  (:meth:`AccompVAE.teacher_forced`), greedy at inference (:meth:`AccompVAE.decode`,
  with pitches forced to ascend so a step never repeats a pitch), at most
  ``max_notes`` notes per step. Greedy decoding ends steps too early; the
  end-of-step logit can be lowered by ``config.eos_bias``
  (:func:`collage.training.accomp_vae.calibrate_eos_bias` finds the bias that keeps
  the true number of notes; the shipped card keeps 0, since that bias cost note F1).

The latent is ``[z_chord | z_texture]``; :attr:`AccompVAE.aspects` names the
slices. Example::

    model = load_pretrained("accomp_vae")
    mu, std = model.encode(chord, prmat)      # (B, 8, 36), (B, 32, 128) -> (B, z_dim) each
    prmat_hat = model.decode(mu)              # (B, 32, 128) long, durations (steps) at onsets
    notes = durmat_to_notes(prmat_hat[0].numpy())
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from collage.errors import ParameterError
from collage.pretrained import register_model

__all__ = ["AccompVAEConfig", "AccompVAE", "prmat_to_tree", "EOS", "N_STEPS", "N_BEATS", "CHORD_DIM"]

N_STEPS = 32  # steps per segment (8 beats of 16ths)
N_BEATS = 8
CHORD_DIM = 36
N_PITCH = 128
EOS = 128  # end-of-step pitch token
SOS = 129  # start-of-step input token (never predicted)
NO_CHORD = 12  # root / bass class of a no-chord beat


@dataclasses.dataclass(frozen=True)
class AccompVAEConfig:
    """Sizes of :class:`AccompVAE`.

    PolyDis used z 256 + 256, chord GRUs 256/512, texture GRU 1024, time GRU
    1024 and note GRU 512; the defaults here are the reduction we train on a
    CPU thread.
    """

    z_chord: int = 128
    z_texture: int = 128
    chord_hidden: int = 128  # chord encoder (per direction) and decoder GRUs
    texture_channels: int = 10  # CNN filters
    texture_hidden: int = 256  # texture bi-GRU, per direction
    time_hidden: int = 256  # time-level decoder GRU
    note_hidden: int = 128  # note-level decoder GRU
    pitch_emb: int = 64
    dur_emb: int = 16
    feedback_dim: int = 64  # summary of the previous step's onsets fed to the time GRU
    feedback_dropout: float = 0.2  # training only: zero a step's feedback with this probability
    max_notes: int = 16  # notes per step at inference
    max_dur: int = 32  # duration classes (steps)
    eos_bias: float = 0.0  # inference only: subtracted from the end-of-step logit (chosen on val after training)

    def __post_init__(self):
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "feedback_dropout":
                if not 0.0 <= v < 1.0:
                    raise ParameterError(f"given feedback_dropout={v!r}; expected 0 <= p < 1")
            elif f.name == "eos_bias":
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise ParameterError(f"given eos_bias={v!r}; expected a finite number")
            elif isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ParameterError(f"given {f.name}={v!r}; expected a positive integer")

    @property
    def z_dim(self) -> int:
        return self.z_chord + self.z_texture

    @classmethod
    def tiny(cls) -> "AccompVAEConfig":
        return cls(z_chord=8, z_texture=8, chord_hidden=8, texture_channels=2, texture_hidden=8, time_hidden=16,
                   note_hidden=8, pitch_emb=8, dur_emb=4, feedback_dim=4, max_notes=4)


def _check_batch(x: torch.Tensor, name: str, tail: tuple) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ParameterError(f"given {name} of type {type(x).__name__}; expected a torch.Tensor")
    if x.ndim != 1 + len(tail) or tuple(x.shape[1:]) != tail:
        raise ParameterError(f"given {name}.shape={tuple(x.shape)}; expected (B, {', '.join(map(str, tail))})")
    return x


def prmat_to_tree(prmat: torch.Tensor, max_notes: int, max_dur: int = 32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Piano-tree targets from a ``pr_mat``: per step the onsets in ascending pitch.

    Args:
        prmat: ``(B, T, 128)`` durations (steps) at onset cells, 0 elsewhere.
        max_notes: slots per step; higher onsets beyond it are dropped
            (as :func:`collage.represent.accompaniment.pianotree` does).
        max_dur: durations are clipped to ``1 .. max_dur``.
    Returns:
        ``pitch`` ``(B, T, max_notes)`` long (pad :data:`EOS`), ``dur``
        ``(B, T, max_notes)`` long duration - 1 (pad 0), ``count`` ``(B, T)`` long.
    """
    b, t, _ = prmat.shape
    on = prmat > 0  # (B, T, 128)
    rank = on.long().cumsum(-1) - 1  # (B, T, 128) slot of each onset
    keep = on & (rank < max_notes)
    bi, ti, pi = keep.nonzero(as_tuple=True)
    si = rank[bi, ti, pi]
    pitch = torch.full((b, t, max_notes), EOS, dtype=torch.long, device=prmat.device)
    dur = torch.zeros((b, t, max_notes), dtype=torch.long, device=prmat.device)
    pitch[bi, ti, si] = pi
    dur[bi, ti, si] = prmat[bi, ti, pi].round().long().clamp(1, max_dur) - 1
    return pitch, dur, keep.sum(-1)


@register_model("accomp_vae", AccompVAEConfig)
class AccompVAE(nn.Module):
    """PolyDis-style accompaniment VAE; latent ``[z_chord | z_texture]`` (see the module doc)."""

    def __init__(self, config: AccompVAEConfig):
        super().__init__()
        if not isinstance(config, AccompVAEConfig):
            raise ParameterError(f"given config of type {type(config).__name__}; expected AccompVAEConfig")
        self.config = c = config
        self.z_dim = c.z_dim
        # chord encoder
        self.chord_enc = nn.GRU(CHORD_DIM, c.chord_hidden, batch_first=True, bidirectional=True)
        self.chord_mu = nn.Linear(2 * c.chord_hidden, c.z_chord)
        self.chord_std = nn.Linear(2 * c.chord_hidden, c.z_chord)
        # texture encoder
        self.tex_cnn = nn.Sequential(
            nn.Conv2d(2, c.texture_channels, kernel_size=(4, 12), stride=(4, 1)), nn.ReLU(),
            nn.MaxPool2d(kernel_size=(1, 4), stride=(1, 4)),
        )
        n_pool = (N_PITCH - 12 + 1) // 4  # 29 pitch cells after conv + pool
        self.tex_fc = nn.Sequential(nn.Linear(c.texture_channels * n_pool, c.texture_hidden), nn.ReLU())
        self.tex_enc = nn.GRU(c.texture_hidden, c.texture_hidden, batch_first=True, bidirectional=True)
        self.tex_mu = nn.Linear(2 * c.texture_hidden, c.z_texture)
        self.tex_std = nn.Linear(2 * c.texture_hidden, c.z_texture)
        # chord decoder
        self.chord_beat = nn.Parameter(torch.zeros(N_BEATS, c.chord_hidden))
        self.chord_in = nn.Linear(c.z_chord, c.chord_hidden)
        self.chord_dec = nn.GRU(c.chord_hidden, c.chord_hidden, batch_first=True)
        self.root_out = nn.Linear(c.chord_hidden, 13)
        self.chroma_out = nn.Linear(c.chord_hidden, 12)
        self.bass_out = nn.Linear(c.chord_hidden, 13)
        # piano-tree decoder: time level
        self.time_init = nn.Linear(c.z_dim, c.time_hidden)
        self.feedback = nn.Linear(2 * N_PITCH, c.feedback_dim)
        self.time_gru = nn.GRU(c.z_dim + c.feedback_dim, c.time_hidden, batch_first=True)
        # note level
        self.note_init = nn.Linear(c.time_hidden, c.note_hidden)
        self.pitch_embed = nn.Embedding(N_PITCH + 2, c.pitch_emb)  # 128 pitches, EOS, SOS
        self.dur_embed = nn.Embedding(c.max_dur + 1, c.dur_emb)  # durations - 1, and SOS
        self.note_gru = nn.GRU(c.pitch_emb + c.dur_emb, c.note_hidden, batch_first=True)
        self.pitch_out = nn.Linear(c.note_hidden, N_PITCH + 1)
        self.dur_out = nn.Sequential(nn.Linear(c.note_hidden + c.pitch_emb, c.note_hidden), nn.ReLU(),
                                     nn.Linear(c.note_hidden, c.max_dur))

    # ------------------------------------------------------------------ latent layout
    @property
    def aspects(self) -> dict[str, slice]:
        """Latent slices: ``{"chord": slice(0, z_chord), "texture": slice(z_chord, z_dim)}``."""
        return {"chord": slice(0, self.config.z_chord), "texture": slice(self.config.z_chord, self.z_dim)}

    # ------------------------------------------------------------------ encoders
    def encode(self, chord: torch.Tensor, prmat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior of a batch.

        Args:
            chord: ``(B, 8, 36)`` float chord vectors, one per beat.
            prmat: ``(B, 32, 128)`` float ``pr_mat`` (duration in steps at each onset cell).
        Returns:
            ``(mu, std)``, each ``(B, z_dim)`` with layout ``[z_chord | z_texture]``.
        """
        _check_batch(chord, "chord", (N_BEATS, CHORD_DIM))
        _check_batch(prmat, "prmat", (N_STEPS, N_PITCH))
        if chord.shape[0] != prmat.shape[0]:
            raise ParameterError(f"given chord batch {chord.shape[0]} and prmat batch {prmat.shape[0]}; expected equal")
        chord, prmat = chord.float(), prmat.float()
        _, h = self.chord_enc(chord)  # h: (2, B, Hc)
        h = torch.cat([h[0], h[1]], dim=-1)  # (B, 2 Hc)
        mu_c, std_c = self.chord_mu(h), F.softplus(self.chord_std(h)) + 1e-5  # (B, z_chord)
        x = torch.stack([(prmat > 0).float(), prmat.clamp(0, self.config.max_dur) / self.config.max_dur], 1)  # (B, 2, 32, 128)
        x = self.tex_cnn(x)  # (B, C, 8, 29)
        x = x.permute(0, 2, 1, 3).flatten(2)  # (B, 8, C * 29)
        _, h = self.tex_enc(self.tex_fc(x))  # h: (2, B, Ht)
        h = torch.cat([h[0], h[1]], dim=-1)  # (B, 2 Ht)
        mu_t, std_t = self.tex_mu(h), F.softplus(self.tex_std(h)) + 1e-5  # (B, z_texture)
        return torch.cat([mu_c, mu_t], -1), torch.cat([std_c, std_t], -1)

    # ------------------------------------------------------------------ chord decoder
    def chord_logits(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Chord decoder outputs: root ``(B, 8, 13)``, chroma ``(B, 8, 12)``, bass ``(B, 8, 13)`` logits
        (class 12 of root and bass: no chord)."""
        _check_batch(z, "z", (self.z_dim,))
        zc = z[:, self.aspects["chord"]]  # (B, z_chord)
        x = self.chord_in(zc)[:, None, :] + self.chord_beat[None]  # (B, 8, Hc)
        h, _ = self.chord_dec(torch.tanh(x))  # (B, 8, Hc)
        return self.root_out(h), self.chroma_out(h), self.bass_out(h)

    def decode_chord(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, z_dim)`` -> ``(B, 8, 36)`` float chord vectors (argmax root and bass, chroma > 0.5;
        a no-chord root gives an all-zero beat)."""
        root, chroma, bass = self.chord_logits(z)
        r, b = root.argmax(-1), bass.argmax(-1)  # (B, 8)
        out = torch.cat([F.one_hot(r, 13)[..., :12], (chroma > 0).long(), F.one_hot(b, 13)[..., :12]], -1).float()
        return out * (r != NO_CHORD)[..., None].float()  # (B, 8, 36)

    # ------------------------------------------------------------------ piano-tree decoder
    def _feedback(self, prev: torch.Tensor) -> torch.Tensor:
        """``(B, T, 128)`` pr_mat rows -> ``(B, T, feedback_dim)`` summaries."""
        x = torch.cat([(prev > 0).float(), prev.float().clamp(0, self.config.max_dur) / self.config.max_dur], -1)
        return torch.relu(self.feedback(x))

    def _note_inputs(self, pitch: torch.Tensor, dur: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.pitch_embed(pitch), self.dur_embed(dur)], -1)

    def teacher_forced(self, z: torch.Tensor, prmat: torch.Tensor) -> dict:
        """Piano-tree decoder logits with teacher forcing (training and evaluation).

        Args:
            z: ``(B, z_dim)`` latent.
            prmat: ``(B, 32, 128)`` target ``pr_mat``.
        Returns:
            dict with ``pitch_logits`` ``(B, 32, L, 129)`` (L = the batch's most
            notes in a step + 1, the last token of each step being :data:`EOS`),
            ``pitch_target`` ``(B, 32, L)`` (-100 past each step's EOS),
            ``dur_logits`` ``(B, 32, L - 1, max_dur)``, ``dur_target``
            ``(B, 32, L - 1)`` (duration - 1; -100 where no note).
        """
        c = self.config
        _check_batch(z, "z", (self.z_dim,))
        _check_batch(prmat, "prmat", (N_STEPS, N_PITCH))
        b = z.shape[0]
        pitch, dur, count = prmat_to_tree(prmat, c.max_notes, c.max_dur)  # (B, 32, M), (B, 32, M), (B, 32)
        # time level: feedback from the previous step's notes
        prev = torch.cat([prmat.new_zeros(b, 1, N_PITCH), prmat[:, :-1]], 1)  # (B, 32, 128)
        fb = self._feedback(prev)  # (B, 32, F)
        if self.training and c.feedback_dropout > 0:
            fb = fb * (torch.rand(b, N_STEPS, 1, device=z.device) >= c.feedback_dropout).float()
        h0 = torch.tanh(self.time_init(z))[None]  # (1, B, Ht)
        t_out, _ = self.time_gru(torch.cat([z[:, None].expand(b, N_STEPS, -1), fb], -1), h0)  # (B, 32, Ht)
        # note level: [SOS, n_1 .. n_k] -> [n_1 .. n_k, EOS], packed by length
        length = int(count.max().item()) + 1
        sos_p = pitch.new_full((b, N_STEPS, 1), SOS)
        sos_d = dur.new_full((b, N_STEPS, 1), c.max_dur)
        in_p = torch.cat([sos_p, pitch[..., :length - 1]], -1).reshape(b * N_STEPS, length)  # (BT, L)
        in_d = torch.cat([sos_d, dur[..., :length - 1]], -1).reshape(b * N_STEPS, length)  # (BT, L)
        lens = (count.reshape(-1) + 1).cpu()  # (BT,)
        x = self._note_inputs(in_p, in_d)  # (BT, L, E)
        hn = torch.tanh(self.note_init(t_out)).reshape(1, b * N_STEPS, -1)  # (1, BT, Hn)
        packed = pack_padded_sequence(x, lens, batch_first=True, enforce_sorted=False)
        out, _ = self.note_gru(packed, hn)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=length)  # (BT, L, Hn)
        out = out.reshape(b, N_STEPS, length, -1)
        pitch_logits = self.pitch_out(out)  # (B, 32, L, 129)
        tgt_p = torch.cat([pitch, pitch.new_full((b, N_STEPS, 1), EOS)], -1)[..., :length]  # (B, 32, L)
        pos = torch.arange(length, device=z.device)
        tgt_p = tgt_p.masked_fill(pos[None, None, :] > count[..., None], -100)
        note_p = pitch[..., :length - 1]  # (B, 32, L-1) teacher pitch of each note
        dur_logits = self.dur_out(torch.cat([out[:, :, :length - 1], self.pitch_embed(note_p)], -1))  # (B, 32, L-1, D)
        tgt_d = dur[..., :length - 1].masked_fill(pos[None, None, :length - 1] >= count[..., None], -100)
        return {"pitch_logits": pitch_logits, "pitch_target": tgt_p, "dur_logits": dur_logits, "dur_target": tgt_d}

    @torch.no_grad()
    def decode(self, z: torch.Tensor, *, eos_bias: float | None = None) -> torch.Tensor:
        """Free-running greedy decoding of the piano-tree.

        Args:
            z: ``(B, z_dim)`` latent ``[z_chord | z_texture]``.
            eos_bias: subtracted from the end-of-step logit before each greedy
                choice; > 0 decodes more notes per step, 0 is plain greedy
                (None: ``config.eos_bias``).
        Returns:
            ``(B, 32, 128)`` long ``pr_mat``: each decoded note's duration in
            steps (1..max_dur) at its onset cell, 0 elsewhere; turn a row
            into notes with :func:`collage.represent.accompaniment.durmat_to_notes`.
        """
        c = self.config
        _check_batch(z, "z", (self.z_dim,))
        eos_bias = float(c.eos_bias if eos_bias is None else eos_bias)
        z = z.float()
        b = z.shape[0]
        out = torch.zeros(b, N_STEPS, N_PITCH, dtype=torch.long, device=z.device)
        h = torch.tanh(self.time_init(z))[None]  # (1, B, Ht)
        prev = torch.zeros(b, N_PITCH, device=z.device)  # (B, 128)
        rows = torch.arange(b, device=z.device)
        for t in range(N_STEPS):
            fb = self._feedback(prev[:, None])  # (B, 1, F)
            t_out, h = self.time_gru(torch.cat([z[:, None], fb], -1), h)  # (B, 1, Ht)
            hn = torch.tanh(self.note_init(t_out[:, 0]))[None]  # (1, B, Hn)
            p_in = torch.full((b,), SOS, dtype=torch.long, device=z.device)
            d_in = torch.full((b,), c.max_dur, dtype=torch.long, device=z.device)
            last = torch.full((b,), -1, dtype=torch.long, device=z.device)  # highest pitch emitted so far
            alive = torch.ones(b, dtype=torch.bool, device=z.device)
            for _ in range(c.max_notes):
                o, hn = self.note_gru(self._note_inputs(p_in, d_in)[:, None], hn)  # (B, 1, Hn)
                logits = self.pitch_out(o[:, 0])  # (B, 129)
                if eos_bias:
                    logits[:, EOS] -= eos_bias
                below = torch.arange(N_PITCH, device=z.device)[None] <= last[:, None]  # (B, 128) pitches not above the last
                logits[:, :N_PITCH] = logits[:, :N_PITCH].masked_fill(below, float("-inf"))
                p = logits.argmax(-1)  # (B,)
                alive = alive & (p != EOS)
                if not alive.any():
                    break
                pc = p.clamp(max=N_PITCH - 1)
                d = self.dur_out(torch.cat([o[:, 0], self.pitch_embed(pc)], -1)).argmax(-1)  # (B,) duration - 1
                sel = rows[alive]
                out[sel, t, pc[alive]] = d[alive] + 1
                last = torch.where(alive, pc, last)
                p_in, d_in = pc, d
            prev = out[:, t].float()
        return out

    def decode_tokens(self, z: torch.Tensor) -> torch.Tensor:
        """Alias of :meth:`decode` (the accompaniment's tokens are its ``pr_mat``): ``(B, 32, 128)`` long."""
        return self.decode(z)

    def forward(self, chord: torch.Tensor, prmat: torch.Tensor, *, sample: bool = True) -> dict:
        """Encode, sample ``z`` (or take ``mu``), decode with teacher forcing.

        Returns the :meth:`teacher_forced` dict plus ``mu``, ``std``, ``z`` ``(B, z_dim)`` and the
        chord logits ``root`` ``(B, 8, 13)``, ``chroma`` ``(B, 8, 12)``, ``bass`` ``(B, 8, 13)``.
        """
        mu, std = self.encode(chord, prmat)
        z = mu + std * torch.randn_like(std) if sample else mu  # (B, z_dim)
        out = self.teacher_forced(z, prmat.float())
        out["root"], out["chroma"], out["bass"] = self.chord_logits(z)
        out.update(mu=mu, std=std, z=z)
        return out

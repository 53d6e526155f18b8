"""NumPy inference of the models ``collage fuse`` runs, without torch.

``collage fuse`` runs two VAEs, the latent actor and the harmony judge on a
few windows at a time, where PyTorch's start-up (about 2 s to import) and its
per-operation overhead (a decoder step is a few small matrix products) cost
more than the arithmetic. The classes here compute what the torch modules
compute in eval mode, in float32 with NumPy, from the same shipped ``.pt``
files (read by :func:`collage.pretrained.load_state_arrays`, with the same
sha256 check; no copy of the weights ships):

===========================  =====================================================================
class                        what it computes (the torch method it matches)
===========================  =====================================================================
:class:`MelodyVAENP`         ``encode_mean`` (``MelodyVAE.encode``'s mean), ``decode_tokens``
:class:`AccompVAENP`         ``encode_mean`` (``AccompVAE.encode``'s mean), ``decode`` (greedy piano tree)
:class:`LatentActorNP`       ``__call__`` (``LatentActor.forward``)
:class:`HarmonyJudgeNP`      ``score`` (``HarmonyJudge.score``)
===========================  =====================================================================

They agree with torch to float rounding (about 1e-6 relative), and greedy
decoding gives the same notes: ``tests/models/test_inference.py`` checks the
bundled examples and POP909 validation pairs note for note. Algebra is
rearranged where it is exact up to rounding: a one-hot or embedding input to
a GRU becomes a row of a precomputed table, a latent that is fed at every
step is projected once, and the piano-tree decoder computes only the windows
whose current step has not ended.

:func:`load_inference` gives the NumPy model for the architectures above and
the torch model (:func:`collage.pretrained.load_pretrained`) for any other,
so callers need not know which they got; NumPy models say ``engine = "numpy"``.
"""

from __future__ import annotations

import collections
import hashlib
import os
import threading
import types
from typing import Sequence

import numpy as np

from collage.errors import ModelLoadingError, ParameterError
from collage.models.judge_features import judge_arrays
from collage.pretrained import load_pretrained, load_state_arrays

__all__ = [
    "ENGINES",
    "NUMPY_ARCHITECTURES",
    "MelodyVAENP",
    "AccompVAENP",
    "LatentActorNP",
    "HarmonyJudgeNP",
    "load_inference",
    "from_torch",
]

ENGINES = ("numpy", "torch")
_F = np.float32


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, in place on a temporary ``x``: ``(1 + tanh(x / 2)) / 2`` (no overflow)."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=x)


def _linear(state: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(W^T (in, out), b (out,))`` of an ``nn.Linear`` called ``name``."""
    return np.ascontiguousarray(state[f"{name}.weight"].T, dtype=_F), state[f"{name}.bias"].astype(_F)


class _Matmul:
    """``x @ w`` for a fixed ``w`` ``(K, N)``; with a few rows, as column blocks.

    OpenBLAS's sgemm is up to twice as slow with a handful of rows and a wide ``w`` (a decoder
    step of a few windows) as the same product cut into 96-column blocks (measured on the
    shipped GRU sizes: 7 rows x 384 x 1152 in 89 us instead of 154).
    """

    SMALL = 32  # rows up to which the blocks are used
    BLOCK = 96
    WIDE = 512  # columns from which they are

    def __init__(self, w: np.ndarray):
        self.w = np.ascontiguousarray(w, dtype=_F)
        n = self.w.shape[1]
        self.cuts = list(range(0, n, self.BLOCK))
        self.blocks = [np.ascontiguousarray(self.w[:, c: c + self.BLOCK]) for c in self.cuts] if n >= self.WIDE else None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.blocks is None or len(x) > self.SMALL:
            return x @ self.w
        out = np.empty((len(x), self.w.shape[1]), dtype=_F)
        for c, blk in zip(self.cuts, self.blocks):
            np.matmul(x, blk, out=out[:, c: c + blk.shape[1]])
        return out


class _GRU:
    """One direction of one layer of an ``nn.GRU`` (gates r, z, n, as torch orders them).

    ``wi`` ``(in, 3H)``, ``bi`` ``(3H,)`` project the input; ``wh`` ``(H, 3H)``, ``bh`` ``(3H,)`` the state.
    """

    def __init__(self, state: dict, prefix: str, suffix: str = ""):
        self.wi = np.ascontiguousarray(state[f"{prefix}.weight_ih_l0{suffix}"].T, dtype=_F)
        self.wh = _Matmul(state[f"{prefix}.weight_hh_l0{suffix}"].T)
        self.bi = state[f"{prefix}.bias_ih_l0{suffix}"].astype(_F)
        self.bh = state[f"{prefix}.bias_hh_l0{suffix}"].astype(_F)
        self.hidden = len(self.bh) // 3

    def step(self, gi: np.ndarray, h: np.ndarray) -> np.ndarray:
        """``gi`` ``(B, 3H)`` the projected input (bias included), ``h`` ``(B, H)`` -> the next state ``(B, H)``."""
        n = self.hidden
        gh = self.wh(h)
        gh += self.bh
        rz = _sigmoid(gi[:, : 2 * n] + gh[:, : 2 * n])  # (B, 2H)
        new = gh[:, 2 * n:]
        new *= rz[:, :n]
        new += gi[:, 2 * n:]
        np.tanh(new, out=new)  # (B, H)
        h = h - new
        h *= rz[:, n:]
        h += new
        return h  # torch's (h - n) * z + n

    def run(self, gi: np.ndarray, *, reverse: bool = False, outputs: bool = False):
        """``gi`` ``(B, T, 3H)`` projected inputs from a zero state -> the last state ``(B, H)``
        (and with ``outputs`` every state ``(B, T, H)`` in time order)."""
        b, t, _ = gi.shape
        h = np.zeros((b, self.hidden), dtype=_F)
        out = np.empty((b, t, self.hidden), dtype=_F) if outputs else None
        for i in (range(t - 1, -1, -1) if reverse else range(t)):
            h = self.step(gi[:, i], h)
            if outputs:
                out[:, i] = h
        return (h, out) if outputs else h


class _BiGRU:
    """A bidirectional one-layer ``nn.GRU`` (batch first) of a state dict."""

    def __init__(self, state: dict, prefix: str):
        self.fwd, self.bwd = _GRU(state, prefix), _GRU(state, prefix, "_reverse")

    def last(self, x: np.ndarray) -> np.ndarray:
        """``x`` ``(B, T, I)`` -> ``[h_forward | h_backward]`` ``(B, 2H)`` (torch's ``cat([h[0], h[1]])``)."""
        return np.concatenate([self.fwd.run(x @ self.fwd.wi + self.fwd.bi),
                               self.bwd.run(x @ self.bwd.wi + self.bwd.bi, reverse=True)], axis=-1)


def _argmax(x: np.ndarray) -> np.ndarray:
    return x.argmax(axis=-1)


class _Model:
    """What the NumPy models share: ``engine``, ``architecture``, the ``card`` and its ``config``
    (attributes, as the torch modules' ``config`` dataclasses have them)."""

    engine = "numpy"
    architecture = ""

    def __init__(self, card: dict):
        self.card = card
        self.config = types.SimpleNamespace(**dict(card.get("config") or {}))

    def _cfg(self, key: str):
        if not hasattr(self.config, key):
            raise ModelLoadingError(f"{self.card.get('name', self.architecture)}: its card's config has no {key!r}")
        return getattr(self.config, key)


class MelodyVAENP(_Model):
    """The melody VAE (:class:`collage.models.melody_vae.MelodyVAE`) in NumPy: encode and greedy decode."""

    architecture = "melody_vae"

    def __init__(self, card: dict, state: dict):
        super().__init__(card)
        self.n_steps, self.n_tokens = int(self._cfg("n_steps")), int(self._cfg("n_tokens"))
        zp, zr = int(self._cfg("z_pitch")), int(self._cfg("z_rhythm"))
        self.z_dim = zp + zr
        self.aspects = {"pitch": slice(0, zp), "rhythm": slice(zp, self.z_dim)}
        self.encoder = _BiGRU(state, "encoder")
        self.to_mu = _linear(state, "to_mu")
        self.rhythm_init, self.rhythm_out = _linear(state, "rhythm_init"), _linear(state, "rhythm_out")
        self.rhythm_gru = _GRU(state, "rhythm_gru")  # input [previous state one-hot (3) | z_rhythm]
        self.global_init, self.global_out = _linear(state, "global_init"), _linear(state, "global_out")
        self.global_gru = _GRU(state, "global_gru")  # input [previous token one-hot (130) | rhythm (3) | z_pitch]

    def encode_mean(self, tokens: np.ndarray) -> np.ndarray:
        """``tokens`` ``(B, 32)`` ints in 0..129 (the one-hot's argmax) -> posterior means ``(B, z_dim)``."""
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.ndim != 2 or tokens.shape[1] != self.n_steps:
            raise ParameterError(f"given tokens.shape={tokens.shape}; expected (B, {self.n_steps})")
        fwd, bwd = self.encoder.fwd, self.encoder.bwd
        h = np.concatenate([fwd.run(fwd.wi[tokens] + fwd.bi),  # a one-hot input selects a row
                            bwd.run(bwd.wi[tokens] + bwd.bi, reverse=True)], axis=-1)  # (B, 2 He)
        w, b = self.to_mu
        return h @ w + b

    def decode_tokens(self, z: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """``z`` ``(B, z_dim)`` -> ``(B, 32)`` int64 greedy tokens.

        ``lengths`` ``(B,)``: decode only the first ``lengths[i]`` steps of row ``i`` (default all);
        the decoders are causal, so those steps are the same, and the rest are rests.
        """
        z = np.asarray(z, dtype=_F)
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ParameterError(f"given z.shape={z.shape}; expected (B, {self.z_dim})")
        b, t_all = len(z), self.n_steps
        lengths = _lengths(lengths, b, t_all)
        z_p, z_r = z[:, self.aspects["pitch"]], z[:, self.aspects["rhythm"]]
        # rhythm decoder: 3 states per step, its own argmax fed back
        g = self.rhythm_gru
        w, bias = self.rhythm_init
        h = np.tanh(z_r @ w + bias)
        fixed = z_r @ g.wi[3:] + g.bi  # (B, 3Hr): z_rhythm is fed at every step
        w, bias = self.rhythm_out
        r_logits = np.zeros((b, t_all, 3), dtype=_F)
        rows = np.arange(b)  # the rows still decoding
        prev = None
        for t in range(int(lengths.max(initial=0))):
            if lengths[rows].min() <= t:
                keep = lengths[rows] > t
                rows, h, fixed = rows[keep], h[keep], fixed[keep]
                prev = None if prev is None else prev[keep]
            h = g.step(fixed if prev is None else fixed + g.wi[prev], h)
            step = h @ w + bias
            r_logits[rows, t] = step
            prev = _argmax(step)
        e = np.exp(r_logits - r_logits.max(-1, keepdims=True))
        probs = e / e.sum(-1, keepdims=True)  # (B, T, 3) softmax
        # global decoder: tokens from z_pitch and the rhythm probabilities
        g = self.global_gru
        nt = self.n_tokens
        w, bias = self.global_init
        h = np.tanh(z_p @ w + bias)
        fixed = z_p @ g.wi[nt + 3:] + g.bi  # (B, 3Hg): z_pitch is fed at every step
        fixed = fixed[None] + np.matmul(probs.transpose(1, 0, 2), g.wi[nt: nt + 3])  # (T, B, 3Hg), a block per step
        w, bias = self.global_out
        tokens = np.full((b, t_all), self.n_tokens - 1, dtype=np.int64)  # rests past each row's length
        rows = np.arange(b)
        prev = None
        for t in range(int(lengths.max(initial=0))):
            if lengths[rows].min() <= t:
                keep = lengths[rows] > t
                rows, h = rows[keep], h[keep]
                prev = None if prev is None else prev[keep]
            gi = fixed[t] if len(rows) == b else fixed[t, rows]
            h = g.step(gi if prev is None else gi + g.wi[prev], h)
            prev = _argmax(h @ w + bias)
            tokens[rows, t] = prev
        return tokens


_N_PITCH, _EOS, _SOS, _N_BEATS, _N_STEPS, _CHORD_DIM = 128, 128, 129, 8, 32, 36


#: row k: -inf for the pitches below k, 0 from k on (the pitches a step may still emit after pitch k - 1)
_BELOW = np.where(np.arange(_N_PITCH)[None, :] < np.arange(_N_PITCH + 1)[:, None], -np.inf, 0.0).astype(_F)


def _lengths(lengths, b: int, t_all: int) -> np.ndarray:
    """``(B,)`` int64 steps to decode per row (default ``t_all`` each), checked to lie in ``0..t_all``."""
    if lengths is None:
        return np.full(b, t_all, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.shape != (b,) or (b and (lengths.min() < 0 or lengths.max() > t_all)):
        raise ParameterError(f"given lengths of shape {lengths.shape}; expected ({b},) steps in 0..{t_all}")
    return lengths


class AccompVAENP(_Model):
    """The accompaniment VAE (:class:`collage.models.accomp_vae.AccompVAE`) in NumPy: encode, greedy decode."""

    architecture = "accomp_vae"

    def __init__(self, card: dict, state: dict):
        super().__init__(card)
        zc, zt = int(self._cfg("z_chord")), int(self._cfg("z_texture"))
        self.z_dim = zc + zt
        self.aspects = {"chord": slice(0, zc), "texture": slice(zc, self.z_dim)}
        self.max_notes, self.max_dur = int(self._cfg("max_notes")), int(self._cfg("max_dur"))
        self.eos_bias = float(getattr(self.config, "eos_bias", 0.0))
        # encoders
        self.chord_enc = _BiGRU(state, "chord_enc")
        self.chord_mu = _linear(state, "chord_mu")
        w = state["tex_cnn.0.weight"].astype(_F)  # (C, 2, 4, 12)
        self.tex_conv = np.ascontiguousarray(w.transpose(3, 1, 2, 0).reshape(12, 8, -1))  # (12 pitch taps, 2*4, C)
        self.tex_conv_b = state["tex_cnn.0.bias"].astype(_F)
        self.tex_fc = _linear(state, "tex_fc.0")
        self.tex_enc = _BiGRU(state, "tex_enc")
        self.tex_mu = _linear(state, "tex_mu")
        # piano-tree decoder
        self.time_init, self.feedback = _linear(state, "time_init"), _linear(state, "feedback")
        self.time_gru = _GRU(state, "time_gru")  # input [z | feedback]
        self.note_init = _linear(state, "note_init")
        self.note_gru = g = _GRU(state, "note_gru")  # input [pitch embedding | duration embedding]
        pe, de = state["pitch_embed.weight"].astype(_F), state["dur_embed.weight"].astype(_F)
        self.pitch_in = pe @ g.wi[: pe.shape[1]] + g.bi  # (130, 3Hn): an embedding input is a table row
        self.dur_in = de @ g.wi[pe.shape[1]:]  # (max_dur + 1, 3Hn)
        self.pitch_out = _linear(state, "pitch_out")
        w1, self.dur_b1 = _linear(state, "dur_out.0")  # input [note state | pitch embedding]
        hn = g.hidden
        self.dur_w1, self.dur_pitch = np.ascontiguousarray(w1[:hn]), pe @ w1[hn:]  # (Hn, Hn), (130, Hn)
        self.dur_out = _linear(state, "dur_out.2")

    def encode_mean(self, chord: np.ndarray, prmat: np.ndarray) -> np.ndarray:
        """``chord`` ``(B, 8, 36)``, ``prmat`` ``(B, 32, 128)`` (durations at onsets) -> means ``(B, z_dim)``."""
        chord, prmat = np.asarray(chord, dtype=_F), np.asarray(prmat, dtype=_F)
        b = len(chord)
        if chord.shape != (b, _N_BEATS, _CHORD_DIM) or prmat.shape != (b, _N_STEPS, _N_PITCH):
            raise ParameterError(f"given chord.shape={chord.shape}, prmat.shape={prmat.shape}; "
                                 f"expected (B, {_N_BEATS}, {_CHORD_DIM}) and (B, {_N_STEPS}, {_N_PITCH})")
        w, bias = self.chord_mu
        mu_c = self.chord_enc.last(chord) @ w + bias  # (B, z_chord)
        # texture: conv over (beat, 12 pitches) with stride one beat, ReLU, max-pool 4 pitches
        x = np.stack([prmat > 0, np.clip(prmat, 0, self.max_dur) / _F(self.max_dur)], -1).astype(_F)  # (B, 32, 128, 2)
        x = x.reshape(b, _N_BEATS, 4, _N_PITCH, 2).transpose(0, 1, 3, 4, 2).reshape(b, _N_BEATS, _N_PITCH, 8)
        n_out = _N_PITCH - 11
        y = x[:, :, 0:n_out] @ self.tex_conv[0]
        for v in range(1, 12):
            y += x[:, :, v: v + n_out] @ self.tex_conv[v]  # (B, 8, 117, C)
        y = _relu(y + self.tex_conv_b)
        n_pool = n_out // 4
        y = y[:, :, : 4 * n_pool].reshape(b, _N_BEATS, n_pool, 4, -1).max(3)  # (B, 8, 29, C)
        y = y.transpose(0, 1, 3, 2).reshape(b, _N_BEATS, -1)  # (B, 8, C * 29), torch's channel-major flatten
        w, bias = self.tex_fc
        w2, b2 = self.tex_mu
        mu_t = self.tex_enc.last(_relu(y @ w + bias)) @ w2 + b2  # (B, z_texture)
        return np.concatenate([mu_c, mu_t], axis=-1)

    def decode(self, z: np.ndarray, *, eos_bias: float | None = None, lengths: np.ndarray | None = None
               ) -> np.ndarray:
        """Greedy piano-tree decoding: ``z`` ``(B, z_dim)`` -> ``(B, 32, 128)`` int64 ``pr_mat``.

        Each decoded note's duration (1..max_dur steps) at its onset cell. ``lengths`` ``(B,)``: decode
        only the first ``lengths[i]`` steps of row ``i`` (default all; the decoder is causal, so those
        steps are the same, and the rest are empty).
        """
        z = np.asarray(z, dtype=_F)
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ParameterError(f"given z.shape={z.shape}; expected (B, {self.z_dim})")
        eos_bias = float(self.eos_bias if eos_bias is None else eos_bias)
        b = len(z)
        lengths = _lengths(lengths, b, _N_STEPS)
        live = np.arange(b)  # the rows still decoding
        out = np.zeros((b, _N_STEPS, _N_PITCH), dtype=np.int64)
        tg, ng = self.time_gru, self.note_gru
        w, bias = self.time_init
        h = np.tanh(z @ w + bias)  # (B, Ht)
        fixed = z @ tg.wi[: self.z_dim] + tg.bi  # (B, 3Ht): z is fed at every step
        w_fb, b_fb = self.feedback
        w_ni, b_ni = self.note_init
        w_po, b_po = self.pitch_out
        w_d2, b_d2 = self.dur_out
        prev = np.zeros((b, _N_PITCH), dtype=_F)
        for t in range(int(lengths.max(initial=0))):
            if lengths[live].min() <= t:
                keep = lengths[live] > t
                live, h, fixed, prev = live[keep], h[keep], fixed[keep], prev[keep]
            a = len(live)
            feat = np.concatenate([prev > 0, np.clip(prev, 0, self.max_dur) / _F(self.max_dur)], -1).astype(_F)
            fb = _relu(feat @ w_fb + b_fb)  # (A, F)
            h = tg.step(fixed + fb @ tg.wi[self.z_dim:], h)
            hn = np.tanh(h @ w_ni + b_ni)  # (A, Hn)
            rows = live  # the windows still emitting notes at this step
            p_in = np.full(a, _SOS)
            d_in = np.full(a, self.max_dur)
            last = np.full(a, -1)  # the highest pitch emitted so far
            for _ in range(self.max_notes):
                hn = ng.step(self.pitch_in[p_in] + self.dur_in[d_in], hn)  # (A, Hn)
                logits = hn @ w_po + b_po  # (A, 129)
                if eos_bias:
                    logits[:, _EOS] -= eos_bias
                logits[:, :_N_PITCH] += _BELOW[last + 1]  # -inf up to the last pitch: pitches ascend within a step
                p = _argmax(logits)
                alive = p != _EOS
                if not alive.all():
                    if not alive.any():
                        break
                    rows, hn, p, last = rows[alive], hn[alive], p[alive], last[alive]
                d = _argmax(_relu(hn @ self.dur_w1 + self.dur_pitch[p] + self.dur_b1) @ w_d2 + b_d2)  # duration - 1
                out[rows, t, p] = d + 1
                last, p_in, d_in = p, p, d
            prev = out[live, t].astype(_F)
        return out


class LatentActorNP(_Model):
    """The latent actor (:class:`collage.models.latent_critic.LatentActor`) in NumPy: ``actor(z_a, z_b, controls)``."""

    architecture = "latent_actor"

    def __init__(self, card: dict, state: dict):
        super().__init__(card)
        self.d_a, self.d_b = int(self._cfg("d_a")), int(self._cfg("d_b"))
        self.aspects_a = [tuple(a) for a in self._cfg("aspects_a")]
        self.aspects_b = [tuple(a) for a in self._cfg("aspects_b")]
        self.aspect_names = self.config.aspect_names = tuple(str(n) for n, _, _ in self.aspects_a + self.aspects_b)
        self.control_gate = bool(getattr(self.config, "control_gate", False))
        self.iterations = self.config.iterations = int(getattr(self.config, "iterations", 1))
        self.embed_a, self.embed_b = _linear(state, "trunk.embed_a.0"), _linear(state, "trunk.embed_b.0")
        n_layers = int(self._cfg("layers"))
        self.mlp = [_linear(state, f"trunk.mlp.{3 * i}") for i in range(n_layers)]  # linear, ReLU, dropout
        (wd, bd), (wg, bg) = _linear(state, "delta"), _linear(state, "gate")
        self.gate_delta = np.ascontiguousarray(np.concatenate([wg, wd], axis=1)), np.concatenate([bg, bd])  # one product

    def keep_scale(self, controls: np.ndarray) -> np.ndarray:
        """``1 - c_aspect`` over each aspect's latent dimensions (1 elsewhere): ``(B, d_a + d_b)``."""
        scale = np.ones((len(controls), self.d_a + self.d_b), dtype=controls.dtype)
        for k, (_, a, b) in enumerate(self.aspects_a):
            scale[:, a:b] = 1 - controls[:, k: k + 1]
        off = len(self.aspects_a)
        for k, (_, a, b) in enumerate(self.aspects_b):
            scale[:, self.d_a + a: self.d_a + b] = 1 - controls[:, off + k: off + k + 1]
        return scale

    def __call__(self, z_a: np.ndarray, z_b: np.ndarray, controls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``z_a`` ``(B, d_a)``, ``z_b`` ``(B, d_b)``, ``controls`` ``(B, n_aspects)`` -> ``(z_a', z_b')``."""
        z_a, z_b, controls = (np.asarray(v, dtype=_F) for v in (z_a, z_b, controls))
        b = len(z_a)
        if z_a.shape != (b, self.d_a) or z_b.shape != (b, self.d_b) or controls.shape != (b, len(self.aspect_names)):
            raise ParameterError(f"given z_a {z_a.shape}, z_b {z_b.shape}, controls {controls.shape}; expected "
                                 f"(B, {self.d_a}), (B, {self.d_b}), (B, {len(self.aspect_names)})")
        (wa, ba), (wb, bb) = self.embed_a, self.embed_b
        h = np.concatenate([_relu(z_a @ wa + ba), _relu(z_b @ wb + bb), controls], axis=-1)
        for w, bias in self.mlp:
            h = _relu(h @ w + bias)
        z = np.concatenate([z_a, z_b], axis=-1)
        d = z.shape[1]
        w, bias = self.gate_delta
        gd = h @ w + bias  # (B, 2d): the gate's logits, then delta
        g = _sigmoid(gd[:, :d])
        if self.control_gate:
            g = g * self.keep_scale(controls)
        out = (1 - g) * z + g * gd[:, d:]
        return out[:, : self.d_a], out[:, self.d_a:]


class HarmonyJudgeNP(_Model):
    """The harmony judge (:class:`collage.models.judge.HarmonyJudge`) in NumPy: :meth:`score` from notes.

    ``score`` remembers its last few answers by the content of the notes (a studio re-rates the same
    input windows after every control change).
    """

    architecture = "harmony_judge"
    _MEMO = 4

    def __init__(self, card: dict, state: dict):
        super().__init__(card)
        self.n_steps = int(self._cfg("n_steps"))
        self.mel_gru, self.acc_gru = _BiGRU(state, "mel_gru"), _BiGRU(state, "acc_gru")
        w = state["cnn.0.weight"].astype(_F)  # (C, 2, 1, 12)
        self.conv1 = np.ascontiguousarray(w[:, :, 0].transpose(2, 1, 0))  # (12 taps, 2, C)
        self.conv1_b = state["cnn.0.bias"].astype(_F)
        w = state["cnn.2.weight"].astype(_F)  # (2C, C, 3, 3)
        self.conv2 = np.ascontiguousarray(w.transpose(2, 3, 1, 0))  # (3, 3, C, 2C)
        self.conv2_b = state["cnn.2.bias"].astype(_F)
        # the four GRU directions run side by side: one batched product per step
        dirs = (self.mel_gru.fwd, self.mel_gru.bwd, self.acc_gru.fwd, self.acc_gru.bwd)
        if len({g.hidden for g in dirs}) != 1:
            raise ModelLoadingError(f"{card.get('name', 'harmony_judge')}: melody and accompaniment GRUs differ in size")
        self._wh = np.stack([g.wh.w for g in dirs])  # (4, H, 3H)
        self._bh = np.stack([g.bh for g in dirs])[:, None]  # (4, 1, 3H)
        self.head = [_linear(state, f"head.{i}") for i in (0, 3, 6)]
        self._memo: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()  # the studio rates in worker threads

    def _summaries(self, mel: np.ndarray, acc: np.ndarray) -> np.ndarray:
        """Both bidirectional GRUs over ``(B, T, *)`` inputs -> ``[melody | accompaniment]`` summaries
        ``(B, 8H)``, each ``[h_forward, h_backward, mean of the states over T]`` (torch's ``_summary``)."""
        b, t, _ = mel.shape
        mg, ag = self.mel_gru, self.acc_gru
        gi = np.stack([mel @ mg.fwd.wi + mg.fwd.bi, (mel @ mg.bwd.wi + mg.bwd.bi)[:, ::-1],
                       acc @ ag.fwd.wi + ag.fwd.bi, (acc @ ag.bwd.wi + ag.bwd.bi)[:, ::-1]], axis=1)  # (B, 4, T, 3H)
        gi = np.ascontiguousarray(gi.transpose(2, 1, 0, 3))  # (T, 4, B, 3H): one contiguous block per step
        n = self._wh.shape[1]
        h = np.zeros((4, b, n), dtype=_F)
        total = np.zeros((4, b, n), dtype=_F)
        for i in range(t):  # the backward directions read their inputs reversed
            gh = np.matmul(h, self._wh)
            gh += self._bh
            x = gi[i]
            rz = _sigmoid(x[..., : 2 * n] + gh[..., : 2 * n])
            new = gh[..., 2 * n:]
            new *= rz[..., :n]
            new += x[..., 2 * n:]
            np.tanh(new, out=new)
            h = h - new
            h *= rz[..., n:]
            h += new
            total += h
        mean = total / _F(t)
        return np.concatenate([h[0], h[1], mean[0], mean[1], h[2], h[3], mean[2], mean[3]], axis=-1)

    def logits(self, mel: np.ndarray, acc: np.ndarray) -> np.ndarray:
        """``mel`` ``(B, 32, 142)``, ``acc`` ``(B, 2, 32, 128)`` (:mod:`collage.models.judge_features`) -> ``(B,)``."""
        b, t = acc.shape[0], acc.shape[2]
        chroma = np.minimum(acc[:, :, :, :120].reshape(b, 2, t, 10, 12).sum(axis=3), 1.0)  # (B, 2, T, 12)
        chroma = chroma.transpose(0, 2, 1, 3).reshape(b, t, 24)
        # the convolutions as sums of shifted products (channels last): cheaper here than im2col copies
        x = np.zeros((b, t, _N_PITCH + 8, 2), dtype=_F)  # (B, T, 136, 2), pitch padded by 4
        x[:, :, 4:-4] = acc.transpose(0, 2, 3, 1)
        n1 = (x.shape[2] - 12) // 4 + 1  # 32 pitch bins (kernel 12, stride 4)
        y = x[:, :, 0: 4 * (n1 - 1) + 1: 4] @ self.conv1[0]
        for v in range(1, 12):
            y += x[:, :, v: v + 4 * (n1 - 1) + 1: 4] @ self.conv1[v]  # (B, T, 32, C)
        y += self.conv1_b
        pad = np.zeros((b, t + 2, n1 + 2, y.shape[-1]), dtype=_F)  # (B, T + 2, 34, C), time and pitch padded by 1
        pad[:, 1:-1, 1:-1] = _relu(y)
        out = pad[:, 0:t, 0:n1] @ self.conv2[0, 0]
        for dt in range(3):
            for dp in range(3):
                if dt or dp:
                    out += pad[:, dt: dt + t, dp: dp + n1] @ self.conv2[dt, dp]  # (B, T, 32, 2C)
        out = _relu(out + self.conv2_b)
        feat = out.reshape(b, t, n1 // 4, 4, -1).max(axis=3)  # (B, T, 8, 2C)
        feat = feat.transpose(0, 1, 3, 2).reshape(b, t, -1)  # (B, T, 16C), channel-major as torch flattens
        h = self._summaries(mel, np.concatenate([feat, chroma], axis=-1))  # (B, 8H)
        (w0, b0), (w1, b1), (w2, b2) = self.head
        h = _relu(h @ w0 + b0)
        h = _relu(h @ w1 + b1)
        return (h @ w2 + b2)[:, 0]

    def score(self, melodies: Sequence, accomps: Sequence, *, batch_size: int = 128) -> np.ndarray:
        """Probability of harmony of each pair of step-note segments: ``(B,)`` float64 in [0, 1]."""
        if len(melodies) != len(accomps):
            raise ParameterError(f"given {len(melodies)} melodies and {len(accomps)} accompaniments; expected equal")
        key = _content_key(melodies, accomps, batch_size)
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key].copy()
        out = []
        for s in range(0, len(melodies), batch_size):
            mel, acc = judge_arrays(melodies[s:s + batch_size], accomps[s:s + batch_size], n_steps=self.n_steps)
            out.append(_sigmoid(self.logits(mel, acc)).astype(np.float64))
        probs = np.concatenate(out) if out else np.zeros(0)
        with self._lock:
            self._memo[key] = probs.copy()
            if len(self._memo) > self._MEMO:
                self._memo.popitem(last=False)
        return probs


def _content_key(*parts) -> bytes:
    """A digest of note lists and numbers: equal for equal content (shapes and values), else different."""
    h = hashlib.blake2b(digest_size=20)
    for part in parts:
        if isinstance(part, (int, float, str)):
            h.update(repr(part).encode())
            continue
        h.update(b"[%d]" % len(part))
        for a in part:
            a = np.ascontiguousarray(a, dtype=np.int64)
            h.update(repr(a.shape).encode())
            h.update(a.tobytes())
    return h.digest()


NUMPY_ARCHITECTURES = {c.architecture: c for c in (MelodyVAENP, AccompVAENP, LatentActorNP, HarmonyJudgeNP)}
"""Architecture name -> its NumPy class."""


def load_inference(name_or_path: str | os.PathLike, *, engine: str = "numpy"):
    """Shipped or user weights for inference: the NumPy model when ``engine='numpy'`` and the
    architecture is in :data:`NUMPY_ARCHITECTURES`, else the torch model (:func:`load_pretrained`;
    also for a file that only torch reads, e.g. one holding parameters or bfloat16 tensors).

    Raises:
        ModelLoadingError: missing, corrupt or mismatched weights (as :func:`load_pretrained`).
        ParameterError: an unknown ``engine``.
    """
    if engine not in ENGINES:
        raise ParameterError(f"given engine={engine!r}; expected one of {', '.join(ENGINES)}")
    if engine == "numpy":
        try:
            card, state = load_state_arrays(name_or_path)
        except ModelLoadingError:
            return load_pretrained(name_or_path)  # a file only torch reads (or a bad one: torch's loader says why)
        cls = NUMPY_ARCHITECTURES.get(card.get("architecture"))
        if cls is not None:
            try:
                return cls(card, state)
            except KeyError as e:
                raise ModelLoadingError(f"{name_or_path}: weights do not fit {cls.architecture} (no {e})") from None
    return load_pretrained(name_or_path)


def from_torch(model):
    """The NumPy twin of a loaded torch model of an architecture in :data:`NUMPY_ARCHITECTURES` (same weights)."""
    import dataclasses

    cls = NUMPY_ARCHITECTURES.get(getattr(model, "architecture", None))
    if cls is None:
        raise ParameterError(f"given a {type(model).__name__}; expected one of {sorted(NUMPY_ARCHITECTURES)}")
    card = dict(getattr(model, "card", {}) or {})
    card.setdefault("architecture", model.architecture)
    card["config"] = dataclasses.asdict(model.config)
    state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    return cls(card, state)

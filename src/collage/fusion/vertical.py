"""Vertical fusion of a whole melody and an unrelated accompaniment (the ``collage fuse`` pipeline).

>>> result = fuse("melody.mid", "accompaniment.mid", keep_pitch=0.8, keep_texture=0.2)
>>> collage.io.write_midi(result.piece, "fused.mid")      # tracks MELODY and ACCOMPANIMENT

The steps, for inputs of any length:

1. **tracks** (:mod:`collage.fusion.inputs`): the melody track and the
   accompaniment tracks of each file.
2. **grid** (:mod:`collage.fusion.windows`): each input on the 16th-note grid
   of its own tempo map; a polyphonic melody is reduced to its skyline (with
   a warning). Non-4/4 metres are fused as a continuous stream of beats (with
   a warning); tempi differing by more than :data:`TEMPO_RATIO_WARN` warn. The
   output plays at the melody's tempo, ``tpq`` and metre.
3. **key pre-alignment** (:mod:`collage.fusion.keyalign`, on by default): the
   accompaniment is transposed by the interval in -6..+6 semitones that best
   matches the melody's pitch-class profile (``FusionResult.key_shift``).
4. **length**: the shorter input is looped to the longer one (``fit='loop'``,
   the default) or the longer one trimmed (``fit='trim'``).
5. **windows**: 8-beat windows every ``hop_beats`` beats (default 4); the last
   one padded with silence.
6. **fusion** by ``method`` (:data:`DEFAULT_METHOD` ``'revoice'``, chosen on validation); per window,
   ``batch_size`` windows at a time, for the model methods (every window of
   most songs in one batch; ``on_progress`` hears of each batch):

   - ``'collagenet'``: melody window -> tokens -> one-hot -> melody VAE
     posterior mean ``z_mel``; accompaniment window -> chords (estimated over
     the whole accompaniment, :func:`collage.represent.chord.estimate_chords`)
     and ``pr_mat`` -> accompaniment VAE posterior mean ``z_acc``; the latent
     actor moves ``(z_mel, z_acc)`` under the four keep controls, applied
     ``iterations`` times to its own output (default: the actor's
     ``config.iterations``, chosen on the val split); both decoders turn the
     result back into notes.
   - ``'rule'``: :func:`collage.fusion.rule.rule_fuse_segment` on each window
     (melody only; the accompaniment is passed through and the keep controls
     do not apply).
   - ``'gradient'``: the data-driven baseline,
     :func:`collage.fusion.gradient.gradient_fuse_latents` on the latents
     with the pre-trained critic ``latent_critic_pretrained`` (the keep
     controls do not apply; ``gradient_options`` may set ``steps``, ``lr``).
   - ``'revoice'``: no windows and no network. The whole piece in one pass of
     :func:`collage.fusion.reharmonize.reharmonize` (chords per beat for the
     melody by one Viterbi pass over every beat, each beat's chord scored with
     the melody of the 8 beats around it; the accompaniment's own notes
     re-voiced onto them; melody onsets snapped and pitches edited within the
     keep budgets; accompaniment onsets moved onto the melody's under
     ``keep_texture``), with the shipped statistics ``chord_stats.json``
     (:func:`collage.fusion.reharmonize.load_chord_stats`). Every note keeps
     its row: the accompaniment's velocities and note ends are the input's,
     and the note counts of both tracks are unchanged.

   A window where an input track is silent stays silent in that track (not
   an error). A decoded note takes the velocity of the input note with the
   same onset and pitch, else that of the input track's latest onset at or
   before it.
7. **stitching** (:func:`collage.fusion.windows.stitch`): each step belongs to
   one window, and notes held across window boundaries become one note; the
   result is trimmed back to the piece's length.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
import threading
from typing import Any, Callable, Sequence

import numpy as np

import collage.fusion.inputs as _inputs
import collage.fusion.windows as W
from collage.fusion.edit import keep_aspects
from collage.errors import ParameterError
from collage.fusion.keyalign import _best_shift
from collage.fusion.reharmonize import accompaniment_chords, load_chord_stats, reharmonize
from collage.fusion.rule import _rule_fuse
from collage.io import as_piece
from collage.models.inference import ENGINES, _content_key, load_inference
from collage.piece import Piece, Tempo, Track, check_notes
from collage.pretrained import build_model, load_pretrained, tiny_model
from collage.represent.accompaniment import _durmat
from collage.represent.checks import check_int, check_unit_interval
from collage.represent.chord import estimate_chords
from collage.represent.grid import SEGMENT_BEATS, SEGMENT_STEPS, STEPS_PER_BEAT
from collage.represent.melody import (
    HOLD,
    _melody_tokens,
    melody_onehot,
    skyline,
)
from collage.represent.transpose import transpose_notes

__all__ = [
    "METHODS",
    "TEMPO_RATIO_WARN",
    "CONTROL_NAMES",
    "FusionModels",
    "FusionResult",
    "fuse",
    "check_controls",
    "DEFAULT_METHOD",
    "MODEL_FREE",
    "fuse_windows",
    "actor_iterations",
]

log = logging.getLogger(__name__)

METHODS = ("collagenet", "rule", "gradient", "revoice")
DEFAULT_METHOD = "revoice"
""":func:`fuse`'s method, chosen on validation by a rule written before the test split was read
(``docs/results/fusion_default_rule.md``)."""
CONTROLLED = ("collagenet", "revoice")
"""The methods the keep controls steer."""
MODEL_FREE = ("rule", "revoice")
"""The methods that load no models and read no chords of the windows."""
REVOICE_CONTEXT_BEATS = SEGMENT_BEATS
"""``method='revoice'``: the beats of melody around each beat that its chord choice also reads (the 8-beat
window the configuration was chosen on)."""
CONTROL_NAMES = ("pitch", "rhythm", "chord", "texture")
TEMPO_RATIO_WARN = 1.5
"""Inputs whose average tempi differ by this factor or more get a warning."""
DEFAULT_WEIGHTS = {"melody_vae": "melody_vae", "accomp_vae": "accomp_vae", "actor": "latent_actor"}
MELODY_PROGRAM = 73  # flute, for a melody that came from a piano-family track
ACCOMP_PROGRAM = 0  # acoustic grand piano


ENCODINGS_KEPT = 4
"""Inputs whose encodings a :class:`FusionModels` remembers (per VAE; NumPy models only)."""


@dataclasses.dataclass
class FusionModels:
    """The loaded models of the CollageNet method (pass one to :func:`fuse` in loops to load once).

    Attributes:
        melody_vae: a :class:`collage.models.melody_vae.MelodyVAE` (or the same interface), or its
            NumPy twin :class:`collage.models.inference.MelodyVAENP`.
        accomp_vae: a :class:`collage.models.accomp_vae.AccompVAE` (or :class:`~collage.models.inference.AccompVAENP`).
        actor: a :class:`collage.models.latent_critic.LatentActor` (or :class:`~collage.models.inference.LatentActorNP`):
            ``actor(z_mel, z_acc, controls)`` -> ``(z_mel', z_acc')``.
        critic: the pre-trained critic of the data-driven baseline (or None);
            used only by ``method='gradient'`` (always torch).

    With NumPy VAEs, the object remembers the encodings of the last :data:`ENCODINGS_KEPT`
    inputs it fused, keyed by their content (the windows' notes and chords), so that fusing the
    same inputs again with other controls (a studio moving a slider) runs only the actor and the
    decoders. The weights of NumPy models are not changed in place, so a remembered encoding is
    the one the model would compute; torch models, which a training loop may update, are not cached.
    """

    melody_vae: Any
    accomp_vae: Any
    actor: Any = None
    critic: Any = None
    _encodings: collections.OrderedDict = dataclasses.field(default_factory=collections.OrderedDict, init=False,
                                                            repr=False, compare=False)
    _lock: Any = dataclasses.field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @classmethod
    def load(cls, melody_vae: str | os.PathLike = "melody_vae", accomp_vae: str | os.PathLike = "accomp_vae",
             actor: str | os.PathLike | None = "latent_actor", critic: str | os.PathLike | None = None,
             *, engine: str = "numpy") -> "FusionModels":
        """Load shipped weights by name (or user weights by path); None skips that model.

        ``engine='numpy'`` (the default) runs the VAEs and the actor in NumPy
        (:mod:`collage.models.inference`: the same weights and notes, no torch import);
        ``'torch'`` loads the torch modules (what training and the gradient baseline's
        own experiments need). The critic is always torch.

        Raises:
            ModelLoadingError: weights missing, corrupt or of the wrong hash.
            ParameterError: an unknown ``engine``.
        """
        if engine not in ENGINES:
            raise ParameterError(f"given engine={engine!r}; expected one of {', '.join(ENGINES)}")
        loaded_actor = None if actor is None else load_inference(actor, engine=engine)  # first: the likeliest user choice
        loaded_critic = None if critic is None else load_pretrained(critic)
        return cls(melody_vae=load_inference(melody_vae, engine=engine),
                   accomp_vae=load_inference(accomp_vae, engine=engine), actor=loaded_actor, critic=loaded_critic)

    def encoding(self, role: str, model, key: bytes, compute) -> np.ndarray:
        """``compute()`` (an ``(K, D)`` encoding by ``model`` of inputs whose content digest is ``key``),
        remembered for NumPy models: the last :data:`ENCODINGS_KEPT` per role. Returned read-only."""
        if not _is_numpy(model):
            return compute()
        full = (role, id(model), key)
        with self._lock:  # the studio fuses in worker threads
            hit = self._encodings.get(full)
            if hit is not None and hit[0] is model:  # the model itself is held, so its id is not reused
                self._encodings.move_to_end(full)
                return hit[1]
        z = np.asarray(compute())
        z.flags.writeable = False
        with self._lock:
            self._encodings[full] = (model, z)
            while len(self._encodings) > 2 * ENCODINGS_KEPT:
                self._encodings.popitem(last=False)
        return z

    @classmethod
    def tiny(cls, seed: int = 0) -> "FusionModels":
        """Tiny random-weight models (VAEs, actor and critic) for fast tests."""
        # deferred: torch (about 1 s to import) loads on first use
        import torch

        from collage.models.latent_critic import TINY_SIZES as sizes
        from collage.models.latent_critic import LatentActorConfig, LatentCriticConfig

        mvae, avae = tiny_model("melody_vae", seed=seed), tiny_model("accomp_vae", seed=seed)
        torch.manual_seed(seed)
        actor = build_model("latent_actor", LatentActorConfig.for_latents(
            mvae.aspects, avae.aspects, mvae.z_dim, avae.z_dim, **sizes)).eval()
        critic = build_model("latent_critic", LatentCriticConfig.for_latents(
            mvae.aspects, avae.aspects, mvae.z_dim, avae.z_dim, **sizes)).eval()
        return cls(melody_vae=mvae, accomp_vae=avae, actor=actor, critic=critic)


@dataclasses.dataclass(frozen=True)
class FusionResult:
    """What :func:`fuse` made and how.

    Attributes:
        piece: the fused piece: tracks MELODY and ACCOMPANIMENT, at the
            melody's ``tpq``, tempo map and metre.
        method: ``'collagenet'``, ``'rule'``, ``'gradient'`` or ``'revoice'``.
        controls: ``{"pitch", "rhythm", "chord", "texture"}`` keep values used
            (all None for the methods without controls).
        iterations: times the actor was applied (None for the methods without an actor).
        seed: the seed.
        key_shift: semitones the accompaniment was transposed (0 without key alignment).
        key_scores: profile correlation of each candidate shift (empty without key alignment).
        n_steps: length of the output in 16th-note steps.
        n_windows: number of 8-beat windows fused.
        hop_steps: steps between window starts.
        fit: ``{"looped": "melody" | "accompaniment" | None, "trimmed": ... , "loops": float}``.
        silent_windows: ``{"melody": n, "accompaniment": n}`` windows left silent
            because the input was silent there.
        melody_qpm, accomp_qpm: average input tempi (quarter notes per minute).
        melody_input, accomp_input: the selected input tracks as pieces (for plots).
        harmony: with a ``judge``, ``{"input": rate, "output": rate, "windows": n, "per_window": [...]}``:
            the share of the n windows (those where both inputs have notes) that the harmony judge rates
            harmonic (probability > 0.5), before (after key alignment) and after fusion, and each rated
            window's ``{"beat", "input", "output"}`` (start beat, the judge's probabilities); else None.
    """

    piece: Piece
    method: str
    controls: dict
    iterations: int | None
    seed: int
    key_shift: int
    key_scores: dict
    n_steps: int
    n_windows: int
    hop_steps: int
    fit: dict
    silent_windows: dict
    melody_qpm: float
    accomp_qpm: float
    melody_input: Piece
    accomp_input: Piece
    harmony: dict | None = None

    def summary(self) -> dict:
        """The result as plain JSON types (what ``collage fuse --json`` prints, without the output paths).

        Keys: ``method``, ``controls``, ``iterations``, ``seed``, ``key_shift`` (semitones),
        ``n_windows``, ``hop_beats``, ``n_beats``, ``duration_s`` (seconds), ``fit``,
        ``silent_windows``, ``melody_qpm`` and ``accomp_qpm`` (quarter notes per minute),
        ``n_notes`` (per output track) and ``harmony``.
        """
        return {
            "method": self.method,
            "controls": self.controls,
            "iterations": self.iterations,
            "seed": self.seed,
            "key_shift": self.key_shift,
            "n_windows": self.n_windows,
            "hop_beats": self.hop_steps // 4,
            "n_beats": self.n_steps / 4,
            "duration_s": round(self.piece.duration_s, 6),
            "fit": self.fit,
            "silent_windows": self.silent_windows,
            "melody_qpm": round(self.melody_qpm, 3),
            "accomp_qpm": round(self.accomp_qpm, 3),
            "n_notes": {t.name: len(t) for t in self.piece.tracks},
            "harmony": self.harmony,
        }


def check_controls(**controls) -> dict[str, float]:
    """Validate keep controls (``pitch=..., rhythm=..., chord=..., texture=...``): each a number in [0, 1]."""
    return {name: check_unit_interval(value, f"keep_{name}={value!r}") for name, value in controls.items()}


def actor_iterations(actor, iterations: int | None = None) -> int:
    """``iterations``, or the actor's default (``actor.config.iterations``; 1 for an actor without one)."""
    if iterations is not None:
        return check_int(iterations, "iterations", minimum=1)
    return int(getattr(getattr(actor, "config", None), "iterations", 1))


def _velocity_contour(notes: np.ndarray, n_steps: int, default: int = 80) -> np.ndarray:
    """``(n_steps,)`` int: the velocity of the latest input onset at or before each step (the first one before it)."""
    out = np.full(n_steps, default, dtype=np.int64)
    if not len(notes):
        return out
    on = np.clip(notes[:, 0], 0, max(n_steps - 1, 0))
    last = np.full(n_steps, -1, dtype=np.int64)
    np.maximum.at(last, on, notes[:, 3])  # loudest onset at each step
    idx = np.where(last >= 0, np.arange(n_steps), -1)
    idx = np.maximum.accumulate(idx)
    first = int(np.flatnonzero(last >= 0)[0])
    idx[idx < 0] = first
    return last[idx]


def _onset_velocities(notes: np.ndarray, n_steps: int) -> np.ndarray:
    """``(n_steps, 128)`` int: the velocity of the input note starting at each (step, pitch), 0 where none."""
    grid = np.zeros((n_steps, 128), dtype=np.int64)
    keep = (notes[:, 0] >= 0) & (notes[:, 0] < n_steps)
    np.maximum.at(grid, (notes[keep, 0], notes[keep, 2]), notes[keep, 3])
    return grid


def _with_velocity(windows: list, grid: np.ndarray, contour: np.ndarray, starts: np.ndarray) -> list:
    """Window-relative decoded notes (one array per window starting at ``starts``) with input velocities:
    the same (onset, pitch)'s, else the contour's."""
    sizes = [len(w) for w in windows]
    if not sum(sizes):
        return list(windows)
    notes = np.concatenate(windows).astype(np.int64)  # a copy
    pos = np.clip(notes[:, 0] + np.repeat(np.asarray(starts, dtype=np.int64), sizes), 0, len(contour) - 1)
    same = grid[pos, notes[:, 2]]
    notes[:, 3] = np.clip(np.where(same > 0, same, contour[pos]), 1, 127)
    return np.split(notes, np.cumsum(sizes)[:-1])


def fuse_windows(mel_windows: Sequence[np.ndarray], acc_windows: Sequence[np.ndarray], *, method: str = "collagenet",
                 controls: dict | None = None, models: FusionModels | None = None, seed: int = 0,
                 chords: np.ndarray | None = None, gradient_options: dict | None = None,
                 iterations: int | None = None, batch_size: int = 256) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Fuse a batch of 32-step windows (window-relative step notes), ``batch_size`` windows at a time.

    Args:
        mel_windows, acc_windows: K arrays each of ``(n, 4)`` step notes in ``[0, 32)``.
        method: ``'collagenet'``, ``'rule'``, ``'gradient'`` or ``'revoice'`` (each window re-voiced on its
            own, as in ``docs/results/fusion_reharmonize.md``; :func:`fuse` re-voices whole pieces instead).
        controls: keep values ``{"pitch", "rhythm", "chord", "texture"}`` (collagenet, revoice; missing ones 0.5).
        models: a :class:`FusionModels` (collagenet, gradient; required here).
        seed: seeds the rule's skips (the other methods are deterministic).
        chords: ``(K, 8, 36)`` chord tracks of the accompaniment windows; None
            estimates them window by window.
        gradient_options: ``steps`` and ``lr`` for the gradient baseline.
        iterations: times the actor is applied to its own output (collagenet);
            None: the actor's ``config.iterations``.
        batch_size: windows through the models at once (bounds memory on long
            inputs; every window is fused independently, so it does not change the result).
    Returns:
        ``(melodies, accompaniments)``: K fused window-relative note arrays each
        (velocities are placeholders: 90 for the melody, 64 for the accompaniment,
        except for the rule and revoice methods, which keep them).
    """
    mel_windows = [check_notes(m, f"mel_windows[{i}]") for i, m in enumerate(mel_windows)]
    acc_windows = [check_notes(a, f"acc_windows[{i}]") for i, a in enumerate(acc_windows)]
    return _fuse_windows(mel_windows, acc_windows, method=method, controls=controls, models=models, seed=seed,
                         chords=chords, gradient_options=gradient_options, iterations=iterations,
                         batch_size=batch_size)


def _fuse_windows(mel_windows, acc_windows, *, method="collagenet", controls=None, models=None, seed=0, chords=None,
                  gradient_options=None, iterations=None, batch_size=256, decode=(None, None), on_progress=None,
                  lengths=None):
    """:func:`fuse_windows` of checked windows (:func:`fuse`'s own, cut from checked tracks).

    ``decode``: ``(melody, accompaniment)`` ``(K,)`` bool masks of the windows whose track is wanted
    (None: all); the others come back empty. A track wanted nowhere is not decoded, and when neither
    is, the models do not run. ``on_progress("fusing", done, K)`` is called before the first batch
    and after each. ``lengths``: ``(K,)`` steps of each window that are read afterwards
    (:func:`_steps_read`); NumPy decoders stop there (None: all 32).
    """
    k = len(mel_windows)
    if len(acc_windows) != k:
        raise ParameterError(f"given {k} melody windows and {len(acc_windows)} accompaniment windows; expected equal")
    if method not in METHODS:
        raise ParameterError(f"given method={method!r}; expected one of {', '.join(METHODS)}")
    if method == "rule":
        rng = np.random.default_rng(seed)
        return [_rule_fuse(m, a, rng) for m, a in zip(mel_windows, acc_windows)], list(acc_windows)
    if method == "revoice":
        c = {n: 0.5 for n in CONTROL_NAMES} | check_controls(**(controls or {}))
        stats = load_chord_stats()
        out = [reharmonize(m, a, stats, n_steps=SEGMENT_STEPS, keep_chord=c["chord"], keep_pitch=c["pitch"],
                           keep_rhythm=c["rhythm"], keep_texture=c["texture"],
                           tensions="snap" if c["texture"] < 0.5 else "keep")[:2]
               for m, a in zip(mel_windows, acc_windows)]
        return [m for m, _ in out], [a for _, a in out]
    if models is None:
        raise ParameterError(f"method {method!r} needs models (a FusionModels)")
    check_int(batch_size, "batch_size", minimum=1)
    masks = [np.ones(k, dtype=bool) if m is None else np.asarray(m, dtype=bool) for m in decode]
    empty = np.zeros((0, 4), dtype=np.int64)
    report = on_progress or (lambda stage, done, total: None)
    report("fusing", 0, k)
    if not (masks[0].any() or masks[1].any()):
        report("fusing", k, k)
        return [empty] * k, [empty] * k

    if chords is None:
        chords = np.stack([estimate_chords(a, SEGMENT_BEATS) for a in acc_windows]) if k else None  # (K, 8, 36)
    mels, accs = [], []
    for s in range(0, k, batch_size):
        part = slice(s, s + batch_size)
        m, a = _fuse_batch(mel_windows[part], acc_windows[part], chords[part], method=method, controls=controls,
                           models=models, gradient_options=gradient_options, iterations=iterations,
                           decode=(masks[0][part], masks[1][part]),
                           lengths=None if lengths is None else np.asarray(lengths)[part])
        mels += m
        accs += a
        report("fusing", min(s + batch_size, k), k)
    return mels, accs


_REMEMBERED: collections.OrderedDict = collections.OrderedDict()
_REMEMBERED_LOCK = threading.Lock()


def _remembered(kind: str, parts: tuple, compute):
    """``compute()``, a pure function of ``parts`` (note arrays and plain values), remembered for the last
    :data:`ENCODINGS_KEPT` inputs of each ``kind``: a re-fusion of the same inputs (a control change)
    does not estimate their key and chords again. Arrays come back read-only."""
    key = (kind, _content_key([p for p in parts if isinstance(p, np.ndarray)]),
           repr([p for p in parts if not isinstance(p, np.ndarray)]))
    with _REMEMBERED_LOCK:
        if key in _REMEMBERED:
            _REMEMBERED.move_to_end(key)
            return _REMEMBERED[key]
    value = compute()
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    with _REMEMBERED_LOCK:
        _REMEMBERED[key] = value
        while len(_REMEMBERED) > 2 * ENCODINGS_KEPT:
            _REMEMBERED.popitem(last=False)
    return value


def _is_numpy(model) -> bool:
    """Whether ``model`` is a NumPy inference model (:mod:`collage.models.inference`)."""
    return getattr(model, "engine", None) == "numpy"


def _encode(models: FusionModels, mel_windows, acc_windows, chords) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means ``(K, Dm)``, ``(K, Da)`` float32 of a batch of windows (remembered by content)."""
    mvae, avae = models.melody_vae, models.accomp_vae
    chords = np.asarray(chords, dtype=np.float32)  # (K, 8, 36)

    def tokens():
        return np.stack([_melody_tokens(m, SEGMENT_STEPS) for m in mel_windows])  # (K, 32); windows checked already

    def prmat():
        return np.stack([_durmat(a, SEGMENT_STEPS) for a in acc_windows]).astype(np.float32)  # (K, 32, 128)

    if _is_numpy(mvae):
        z_mel = models.encoding("melody", mvae, _content_key(mel_windows), lambda: mvae.encode_mean(tokens()))
    else:
        import torch  # deferred: torch (about 2 s to import) only for torch models

        with torch.no_grad():
            x = torch.from_numpy(np.stack([melody_onehot(t) for t in tokens()]))  # (K, 32, 130)
            z_mel = mvae.encode(x)[0].cpu().numpy()
    if _is_numpy(avae):
        key = _content_key(acc_windows) + chords.tobytes()
        z_acc = models.encoding("accompaniment", avae, key, lambda: avae.encode_mean(chords, prmat()))
    else:
        import torch  # deferred: torch (about 2 s to import) only for torch models

        with torch.no_grad():
            z_acc = avae.encode(torch.from_numpy(chords), torch.from_numpy(prmat()))[0].cpu().numpy()
    return z_mel, z_acc


def _steps_read(plan: W.WindowPlan) -> np.ndarray:
    """``(K,)`` the first steps of each window that :func:`collage.fusion.windows.stitch` reads: those it
    owns and the first step of the next window's (where it checks for a held note); the last window's
    up to the piece's end. The decoders are causal, so decoding only these changes nothing."""
    ends = np.append(plan.owner_starts[1:] + 1, plan.n_steps)  # exclusive, in piece steps
    return np.clip(ends - plan.starts, 1, plan.length)


def _decode(model, z: np.ndarray, mask: np.ndarray, role: str, lengths: np.ndarray | None = None
            ) -> list[np.ndarray]:
    """Window notes decoded from ``z`` ``(K, D)`` where ``mask``, empty elsewhere (a NumPy model decodes
    only those rows, each for its ``lengths`` steps; a torch model decodes the whole batch, as it
    always has)."""
    k = len(z)
    out = [np.zeros((0, 4), dtype=np.int64)] * k
    if not mask.any():
        return out
    if _is_numpy(model):
        rows = np.flatnonzero(mask)
        n = None if lengths is None else lengths[rows]
        dec = model.decode_tokens(z[rows], lengths=n) if role == "melody" else model.decode(z[rows], lengths=n)
    else:
        import torch  # deferred: torch (about 2 s to import) only for torch models

        rows = np.arange(k)
        zt = torch.from_numpy(np.ascontiguousarray(z))
        with torch.no_grad():
            dec = (model.decode_tokens(zt) if role == "melody" else model.decode(zt)).cpu().numpy()
    notes = _token_notes(np.asarray(dec)) if role == "melody" else _durmat_notes(np.asarray(dec))
    for r, n in zip(rows, notes):
        if mask[r]:
            out[r] = n
    return out


def _split_rows(notes: np.ndarray, row: np.ndarray, k: int) -> list[np.ndarray]:
    """``(N, 4)`` notes of ``k`` windows, ``row`` ``(N,)`` (sorted) the window of each -> one array per window."""
    return np.split(notes, np.cumsum(np.bincount(row, minlength=k))[:-1])


def _token_notes(tokens: np.ndarray) -> list[np.ndarray]:
    """:func:`~collage.represent.melody.tokens_to_notes` of every row of decoded ``(K, T)`` tokens at once."""
    k, t = tokens.shape
    after = np.where(tokens != HOLD, np.arange(t), t)  # (K, T): where a note ends, if one sounds before
    after = np.minimum.accumulate(after[:, ::-1], axis=1)[:, ::-1]  # the first such step at or after each
    after = np.concatenate([after[:, 1:], np.full((k, 1), t)], axis=1)  # ... after each step
    row, on = np.nonzero(tokens < HOLD)  # onsets, by window then step
    notes = np.stack([on, after[row, on] - on, tokens[row, on], np.full(len(on), 90)], axis=1).astype(np.int64)
    return _split_rows(notes, row, k)


def _durmat_notes(prmat: np.ndarray) -> list[np.ndarray]:
    """``trim_notes(durmat_to_notes(m), 32)`` of every decoded ``(32, 128)`` ``pr_mat`` of ``(K, 32, 128)`` at once."""
    k, t = prmat.shape[:2]
    row, on, pitch = np.nonzero(prmat)  # by window, onset, pitch
    dur = np.maximum(np.minimum(on + prmat[row, on, pitch], t) - on, 1)  # cut at the window's end
    notes = np.stack([on, dur, pitch, np.full(len(on), 64)], axis=1).astype(np.int64)
    return _split_rows(notes, row, k)


def _fuse_batch(mel_windows, acc_windows, chords, *, method, controls, models, gradient_options, iterations,
                decode, lengths=None):
    """:func:`fuse_windows` of the learned methods on one batch of K windows with their ``(K, 8, 36)`` chords."""
    k = len(mel_windows)
    z_mel, z_acc = _encode(models, mel_windows, acc_windows, chords)
    if method == "collagenet":
        actor = models.actor
        if actor is None:
            raise ParameterError("method 'collagenet' needs the latent actor (models.actor is None)")
        c = controls or {}
        names = tuple(getattr(getattr(actor, "config", None), "aspect_names", CONTROL_NAMES))
        unknown = [n for n in names if n not in CONTROL_NAMES]
        if unknown:
            raise ParameterError(f"the actor's aspects {list(names)} are not the controls {list(CONTROL_NAMES)}")
        ctl = np.repeat(np.array([[c.get(n, 0.5) for n in names]], dtype=np.float32), k, axis=0)  # (K, 4)
        n = actor_iterations(actor, iterations)
        if _is_numpy(actor):
            for _ in range(n):  # the iterated transformation
                z_mel, z_acc = actor(z_mel, z_acc, ctl)  # (K, Dm), (K, Da)
        else:
            import torch  # deferred: torch (about 2 s to import) only for torch models

            from collage.models.latent_critic import iterate

            with torch.no_grad():
                zm, za = iterate(actor, torch.from_numpy(np.array(z_mel)), torch.from_numpy(np.array(z_acc)),
                                 torch.from_numpy(ctl), n)  # (K, Dm), (K, Da): the iterated transformation
            z_mel, z_acc = zm.cpu().numpy(), za.cpu().numpy()
    else:
        import torch  # deferred: the gradient baseline climbs a torch critic

        with torch.no_grad():
            zm, za = _gradient(torch.from_numpy(np.array(z_mel)), torch.from_numpy(np.array(z_acc)), models,
                               gradient_options or {})
        z_mel, z_acc = zm.detach().cpu().numpy(), za.detach().cpu().numpy()
    return (_decode(models.melody_vae, np.asarray(z_mel), decode[0], "melody", lengths),
            _decode(models.accomp_vae, np.asarray(z_acc), decode[1], "accompaniment", lengths))


def _gradient(z_mel, z_acc, models: FusionModels, options: dict):
    """The data-driven baseline on latents (:func:`collage.fusion.gradient.gradient_fuse_latents`)."""
    # deferred: optional dependency, probed when called
    try:
        from collage.fusion.gradient import gradient_fuse_latents
    except ModuleNotFoundError as e:
        if e.name != "collage.fusion.gradient":
            raise
        raise ParameterError("method 'gradient' is not available in this installation "
                             "(collage.fusion.gradient is missing); use 'collagenet' or 'rule'") from None
    critic = models.critic
    if critic is None:
        critic = models.critic = load_pretrained("latent_critic_pretrained")
    unknown = sorted(set(options) - {"steps", "lr"})
    if unknown:
        raise ParameterError(f"given gradient_options with {unknown}; expected only 'steps' and 'lr'")
    return gradient_fuse_latents(z_mel, z_acc, critic, **options)


def _dedupe(notes: np.ndarray, role: str) -> np.ndarray:
    """Step notes without doublings: of notes sharing onset and pitch (merged tracks, doubled voices) the
    longest is kept (logged), and a note is cut where the next note of its pitch starts."""
    if not len(notes):
        return notes
    order = np.lexsort((-notes[:, 1], notes[:, 2], notes[:, 0]))  # onset, pitch, longest first
    s = notes[order]
    first = np.ones(len(s), dtype=bool)
    first[1:] = (s[1:, 0] != s[:-1, 0]) | (s[1:, 2] != s[:-1, 2])
    if not first.all():
        log.info("%s: %d notes doubled another's onset and pitch on the step grid; kept the longest",
                 role, int((~first).sum()))
    s = s[first]
    by_pitch = np.lexsort((s[:, 0], s[:, 2]))  # a note is cut where the next one of its pitch starts
    t = s[by_pitch]
    nxt = np.append(t[1:, 0], np.iinfo(np.int64).max)
    same = np.append(t[1:, 2] == t[:-1, 2], False)
    t[:, 1] = np.where(same, np.minimum(t[:, 1], nxt - t[:, 0]), t[:, 1])
    return t[np.lexsort((t[:, 2], t[:, 0]))]


def _repeat_tempos(piece: Piece, period_ticks: int, end_tick: int) -> list[Tempo]:
    """The melody's tempo map repeated every ``period_ticks`` up to ``end_tick`` (for a looped melody)."""
    base = [t for t in piece.tempos if t.tick < period_ticks]
    if len({t.qpm for t in base}) <= 1:
        return list(piece.tempos[:1]) if piece.tempos else []
    first_qpm = base[0].qpm if base[0].tick == 0 else 120.0
    out = []
    for k in range(max(-(-end_tick // period_ticks), 1)):
        loop = [Tempo(t.tick + k * period_ticks, t.qpm) for t in base]
        if k and loop[0].tick != k * period_ticks:
            loop.insert(0, Tempo(k * period_ticks, first_qpm))
        out.extend(loop)
    return out


def fuse(
    melody: Piece | str | os.PathLike,
    accompaniment: Piece | str | os.PathLike,
    *,
    keep_pitch: float = 0.5,
    keep_rhythm: float = 0.5,
    keep_chord: float = 0.5,
    keep_texture: float = 0.5,
    method: str = DEFAULT_METHOD,
    seed: int = 0,
    models: FusionModels | None = None,
    melody_track: str | None = None,
    accomp_tracks: Sequence[str] | None = None,
    fit: str = "loop",
    key_align: bool = True,
    key_method: str = "mixed",
    hop_beats: int = 4,
    gradient_options: dict | None = None,
    iterations: int | None = None,
    judge: Any = None,
    batch_size: int = 256,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> FusionResult:
    """Fuse a melody and an unrelated accompaniment of any length into a harmonic two-track piece.

    >>> result = collage.fuse("melody.mid", "accompaniment.mid", keep_pitch=0.8, keep_texture=1.0)
    >>> collage.save(result.piece, "fused.mid")

    Args:
        melody, accompaniment: pieces or files (MIDI, MusicXML, ABC).
        keep_pitch, keep_rhythm, keep_chord, keep_texture: how much to keep of
            the melody's pitch and rhythm and the accompaniment's chords and
            texture, each in [0, 1] (1: change as little as possible). Used by
            ``'revoice'`` and ``'collagenet'`` (for ``'revoice'``: ``keep_chord`` the cost of leaving the
            accompaniment's own chord, ``keep_pitch`` the share of melody notes whose pitch may move,
            ``keep_rhythm`` below 0.5 the share whose onset may snap to an accompaniment onset,
            ``keep_texture`` below 1 the share of accompaniment onsets that may move onto melody
            onsets, and below 0.5 snaps the re-voiced non-chord tones to chord tones; see ``docs/fuse.md``).
        method: ``'revoice'`` (default: chord-explicit re-voicing of the accompaniment's own notes; no
            models), ``'collagenet'`` (the latent actor and the two VAEs), ``'rule'`` or ``'gradient'``.
        seed: seeds the rule baseline's random skips (CollageNet uses posterior means and
            is deterministic).
        models: loaded :class:`FusionModels`; None loads the shipped weights
            (collagenet, gradient) as :meth:`FusionModels.load` does (NumPy models, no torch).
            Passing the same object again remembers the encodings of unchanged inputs,
            so a loop over controls re-runs only the actor and the decoders.
        melody_track: the melody's track name (default: MELODY, else the only pitched track).
        accomp_tracks: the accompaniment's track names (default: PIANO, else all pitched tracks).
        fit: ``'loop'`` the shorter input (default) or ``'trim'`` the longer one.
        key_align: transpose the accompaniment toward the melody's pitch classes first.
        key_method: ``'mixed'`` (default), ``'key'`` or ``'profile'``; see :mod:`collage.fusion.keyalign`.
        hop_beats: beats between window starts, 1..8 (8: no overlap).
        gradient_options: ``{"steps": ..., "lr": ...}`` for the data-driven baseline.
        iterations: how many times CollageNet's actor is applied, each time to its
            own output (>= 1; None: the actor's default, ``actor.config.iterations``).
            More iterations move further toward harmony and further from the inputs;
            a control of 1 still keeps its aspect exactly.
        judge: a harmony judge (:class:`collage.models.judge.HarmonyJudge`), or True for the
            shipped ``harmony_judge``, to rate each window before and after fusion
            (:attr:`FusionResult.harmony`); None skips it.
        batch_size: windows through the models at once (bounds memory on long inputs, and sets
            how often ``on_progress`` hears; every window is fused alone, so the result is the same).
        on_progress: called as ``on_progress(stage, done, total)`` while the work goes on:
            ``("fusing", w, n_windows)`` before the first batch of windows and after each,
            ``("rating", w, n_rated)`` before and after the judge rates the windows (with
            ``judge``). It runs in the caller's thread; what it raises propagates (to stop the fusion).
    Returns:
        a :class:`FusionResult`.
    Raises:
        ParameterError: a bad argument (quoted) or an unusable track choice.
        InvalidMidiError / InvalidScoreError: unreadable, empty or drum-only input.
        ModelLoadingError: the shipped weights cannot be loaded.
    """
    controls = check_controls(pitch=keep_pitch, rhythm=keep_rhythm, chord=keep_chord, texture=keep_texture)
    if method not in METHODS:
        raise ParameterError(f"given method={method!r}; expected one of {', '.join(METHODS)}")
    seed = check_int(seed, "seed", minimum=0)
    hop_beats = check_int(hop_beats, "hop_beats", minimum=1, maximum=SEGMENT_BEATS)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if on_progress is not None and not callable(on_progress):
        raise ParameterError(f"given on_progress of type {type(on_progress).__name__}; expected a function or None")
    if iterations is not None:
        iterations = check_int(iterations, "iterations", minimum=1)
        if method != "collagenet":
            log.warning("iterations apply to method 'collagenet' only; ignored for %r", method)
    if fit not in W.FIT_MODES:
        raise ParameterError(f"given fit={fit!r}; expected one of {', '.join(W.FIT_MODES)}")
    if method not in CONTROLLED and any(v != 0.5 for v in controls.values()):
        log.warning("the keep controls do not apply to method %r; ignored", method)
    if models is not None and not isinstance(models, FusionModels):
        raise ParameterError(f"given models of type {type(models).__name__}; expected a FusionModels")

    mel_piece = as_piece(melody)
    acc_piece = as_piece(accompaniment)
    mel_track = _inputs.select_melody(mel_piece, melody_track)
    acc_track = _inputs.select_accompaniment(acc_piece, accomp_tracks)
    W.check_metre(mel_piece, "melody")
    W.check_metre(acc_piece, "accompaniment")
    mel_in = dataclasses.replace(mel_piece, tracks=[mel_track], key_signatures=[])
    acc_in = dataclasses.replace(acc_piece, tracks=[acc_track], key_signatures=[])
    q_mel, q_acc = W.mean_qpm(mel_in), W.mean_qpm(acc_in)
    if max(q_mel, q_acc) / max(min(q_mel, q_acc), 1e-9) >= TEMPO_RATIO_WARN:
        log.warning(
            "very different tempi: melody %.0f qpm, accompaniment %.0f qpm; beats are matched one to one, "
            "so the accompaniment plays at the melody's tempo (%.2fx its own)", q_mel, q_acc, q_mel / q_acc,
        )

    mel, n_mel = W.to_step_notes(mel_track, mel_piece)
    mel = skyline(mel, source=mel_piece.source or "melody")
    acc, n_acc = W.to_step_notes(acc_track, acc_piece)
    acc = _dedupe(acc, "accompaniment")

    shift, scores = 0, {}
    if key_align:
        shift, scores = _remembered("key", (mel, acc, key_method), lambda: _best_shift(mel, acc, method=key_method))
        scores = dict(scores)
        if shift:
            acc = transpose_notes(acc, shift)
        log.info("key alignment: accompaniment transposed by %+d semitones (score %.2f -> %.2f)",
                 shift, scores.get(0, 0.0), scores.get(shift, 0.0))

    mel, acc, n_steps, fit_info = W.fit_lengths(mel, n_mel, acc, n_acc, mode=fit)
    if fit_info["looped"]:
        log.info("length: %s looped %.2f times to %d beats", fit_info["looped"], fit_info["loops"],
                 n_steps // STEPS_PER_BEAT)
    elif fit_info["trimmed"]:
        log.info("length: %s trimmed to %d beats", fit_info["trimmed"], n_steps // STEPS_PER_BEAT)

    plan = W.plan_windows(n_steps, hop=hop_beats * STEPS_PER_BEAT)
    mel_w = W.crop_windows(mel, plan)
    acc_w = W.crop_windows(acc, plan)
    stats = load_chord_stats() if method == "revoice" else None  # before any work: a missing file fails early
    if method not in MODEL_FREE and models is None:
        models = FusionModels.load(actor="latent_actor" if method == "collagenet" else None,
                                   critic="latent_critic_pretrained" if method == "gradient" else None)
    judge = _resolve_judge(judge)  # before the fusion runs, so that a bad or missing judge fails early
    chords = None
    if method not in MODEL_FREE:
        n_beats = plan.padded // STEPS_PER_BEAT
        all_chords = _remembered("chords", (acc, n_beats), lambda: estimate_chords(acc, n_beats))  # (beats, 36)
        b0 = plan.starts // STEPS_PER_BEAT
        chords = np.stack([all_chords[b:b + SEGMENT_BEATS] for b in b0])  # (K, 8, 36)
    if method == "revoice":
        fused_mel, fused_acc = _revoice(mel, acc, n_steps, controls, stats, on_progress, plan.n_windows)
        silent = {"melody": sum(not len(w) for w in mel_w), "accompaniment": sum(not len(w) for w in acc_w)}
    else:
        # which windows' tracks the decoders must write: a silent input window stays silent, and a track whose
        # controls are all 1 is the input's own (keep_aspects below), so nothing of it is decoded
        want_mel = np.array([len(w) > 0 for w in mel_w], dtype=bool)
        want_acc = np.array([len(w) > 0 for w in acc_w], dtype=bool)
        if method == "collagenet":
            iterations = actor_iterations(models.actor, iterations)
            want_mel &= not (controls["pitch"] >= 1.0 and controls["rhythm"] >= 1.0)
            want_acc &= not (controls["chord"] >= 1.0 and controls["texture"] >= 1.0)
        out_mel, out_acc = _fuse_windows(mel_w, acc_w, method=method, controls=controls, models=models, seed=seed,
                                        chords=chords, gradient_options=gradient_options, iterations=iterations,
                                        batch_size=batch_size, on_progress=on_progress, decode=(want_mel, want_acc),
                                        lengths=_steps_read(plan))

        mel_vel = (_onset_velocities(mel, plan.padded), _velocity_contour(mel, plan.padded, default=90))
        acc_vel = (_onset_velocities(acc, plan.padded), _velocity_contour(acc, plan.padded, default=64))
        silent = {"melody": 0, "accompaniment": 0}
        for k in range(plan.n_windows):
            if not len(mel_w[k]):
                out_mel[k] = np.zeros((0, 4), dtype=np.int64)
                silent["melody"] += 1
            if not len(acc_w[k]):
                out_acc[k] = np.zeros((0, 4), dtype=np.int64)
                silent["accompaniment"] += 1
        if method != "rule":
            out_mel = _with_velocity(out_mel, *mel_vel, plan.starts)
            out_acc = _with_velocity(out_acc, *acc_vel, plan.starts)
        fused_mel = W.stitch_notes(out_mel, plan) if want_mel.any() or method == "rule" else mel[:0]
        fused_acc = acc if method == "rule" else W.stitch_notes(out_acc, plan) if want_acc.any() else acc[:0]
        if method == "collagenet":  # a control at 1 keeps its aspect: the input's own notes, not a reconstruction
            fused_mel, fused_acc = keep_aspects(controls, mel, fused_mel, acc, fused_acc)
    if silent["melody"]:
        log.info("%d of %d windows have no melody notes: left silent in the melody", silent["melody"], plan.n_windows)

    harmony = None
    if judge is not None:
        harmony = _rate_windows(judge, mel_w, acc_w, W.crop_windows(fused_mel, plan), W.crop_windows(fused_acc, plan),
                                starts=plan.starts, on_progress=on_progress)
    piece = _output_piece(fused_mel, fused_acc, mel_piece, mel_track, acc_track, n_steps, n_mel, fit_info)
    return FusionResult(
        piece=piece,
        method=method,
        controls=controls if method in CONTROLLED else {n: None for n in CONTROL_NAMES},
        iterations=iterations if method == "collagenet" else None,
        seed=seed,
        key_shift=int(shift),
        key_scores=scores,
        n_steps=int(n_steps),
        n_windows=plan.n_windows,
        hop_steps=plan.hop,
        fit=fit_info,
        silent_windows=silent,
        melody_qpm=q_mel,
        accomp_qpm=q_acc,
        melody_input=mel_in,
        accomp_input=acc_in,
        harmony=harmony,
    )


def _revoice(mel: np.ndarray, acc: np.ndarray, n_steps: int, controls: dict, stats, on_progress,
             n_windows: int) -> tuple[np.ndarray, np.ndarray]:
    """``method='revoice'`` on the whole piece: ``(melody, accompaniment)`` step notes, row for row the inputs'
    (``mel`` monophonic, ``acc`` key-aligned and fitted, ``n_steps`` long)."""
    report = on_progress or (lambda stage, done, total: None)
    report("fusing", 0, n_windows)
    n_pad = -(-max(n_steps, 1) // STEPS_PER_BEAT) * STEPS_PER_BEAT
    # the accompaniment's chords per beat depend on it alone: a control change does not estimate them again
    own = _remembered("revoice-own", (acc, n_pad), lambda: accompaniment_chords(acc, n_pad // STEPS_PER_BEAT,
                                                                                 STEPS_PER_BEAT))
    out_mel, out_acc, _ = reharmonize(mel, acc, stats, n_steps=n_pad, span_steps=STEPS_PER_BEAT,
                                      keep_chord=controls["chord"], keep_pitch=controls["pitch"],
                                      keep_rhythm=controls["rhythm"], keep_texture=controls["texture"],
                                      tensions="snap" if controls["texture"] < 0.5 else "keep",
                                      context_spans=REVOICE_CONTEXT_BEATS, own=own)
    report("fusing", n_windows, n_windows)
    return out_mel, out_acc


def _resolve_judge(judge):
    """``fuse``'s ``judge`` argument -> a judge or None (True loads the shipped ``harmony_judge``)."""
    if judge is None or judge is False:
        return None
    if judge is True:
        judge = load_inference("harmony_judge")
    if not callable(getattr(judge, "score", None)):
        raise ParameterError(f"given judge of type {type(judge).__name__}; expected a harmony judge or True")
    return judge


def _rate_windows(judge, mel_in, acc_in, mel_out, acc_out, *, starts=None, on_progress=None) -> dict:
    """:attr:`FusionResult.harmony` from the input and output windows (window-relative step notes).

    ``starts``: the windows' start steps; with them, ``"per_window"`` lists each rated window's
    ``{"beat": start beat, "input": p, "output": p}`` (the judge's probabilities).
    """
    both = [k for k in range(len(mel_in)) if len(mel_in[k]) and len(acc_in[k])]
    report = on_progress or (lambda stage, done, total: None)
    report("rating", 0, len(both))
    if not both:
        return {"input": None, "output": None, "windows": 0, "per_window": []}
    p_in = judge.score([mel_in[k] for k in both], [acc_in[k] for k in both])  # (n,)
    p_out = judge.score([mel_out[k] for k in both], [acc_out[k] for k in both])  # (n,)
    report("rating", len(both), len(both))
    out = {"input": float((p_in > 0.5).mean()), "output": float((p_out > 0.5).mean()), "windows": len(both)}
    if starts is not None:
        out["per_window"] = [{"beat": int(starts[k]) / STEPS_PER_BEAT, "input": round(float(a), 4),
                              "output": round(float(b), 4)} for k, a, b in zip(both, p_in, p_out)]
    return out


def _output_piece(mel: np.ndarray, acc: np.ndarray, mel_piece: Piece, mel_track: Track, acc_track: Track,
                  n_steps: int, n_mel: int, fit_info: dict) -> Piece:
    tpq = mel_piece.tpq
    ticks_per_step = tpq / STEPS_PER_BEAT
    tempos = list(mel_piece.tempos)
    if fit_info["looped"] == "melody":
        tempos = _repeat_tempos(mel_piece, int(round(n_mel * ticks_per_step)), int(round(n_steps * ticks_per_step)))
    mel_program = MELODY_PROGRAM if mel_track.program < 8 else mel_track.program
    acc_program = acc_track.program if not acc_track.is_drum else ACCOMP_PROGRAM
    return Piece(
        [
            Track(W.steps_to_ticks(mel, tpq), name="MELODY", program=mel_program),
            Track(W.steps_to_ticks(acc, tpq), name="ACCOMPANIMENT", program=acc_program),
        ],
        tpq=tpq,
        tempos=tempos,
        time_signatures=list(mel_piece.time_signatures),
        key_signatures=[],
    )

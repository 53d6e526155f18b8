"""Scoring mashups: the learned models (PreMixNet / PostMixNet) and AutoMashUpper behind one API.

>>> feats = mashup_features(stems, sr)                 # (4, 76, T): vocals, harmonic, percussion, mix
>>> learned_scores([feats], model)                   # (N,) probability that the mashup works
>>> automashupper_score(stems, sr, beats=b, downbeats=d)["score"]

Features, per role: 16 kHz audio, 1024-point STFT, hop 512 (32 ms), 64 mel bins up to 8 kHz,
power in dB scaled to about [-2, 2]; under them 12 chroma rows (4096-point STFT, same hop,
A440 tuning, energy scaled by the clip's loudest frame to [0, 1]; vocals and harmonic only,
zeros for percussion and mix). Each model reads the rows it
was trained on (``config.in_rows``: the mel bins, plus the chroma for the harmony branch). Long mashups are scored by the mean over
windows of :data:`WINDOW_FRAMES` frames (8.2 s), the length the models were trained on.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import librosa
import numpy as np

from collage.errors import ParameterError
from collage.mashup.automashupper import mashability
from collage.pretrained import load_pretrained
from collage.represent.pitch import PITCH_NAMES

__all__ = [
    "FEATURE_SR",
    "N_MELS",
    "N_CHROMA",
    "HOP",
    "WINDOW_FRAMES",
    "SCORERS",
    "MODEL_NAMES",
    "mel",
    "chroma",
    "mashup_features",
    "windows",
    "learned_scores",
    "load_scorer",
    "automashupper_score",
]

FEATURE_SR = 16000
N_MELS = 64
N_CHROMA = len(PITCH_NAMES)  # one chroma row per pitch class (as models.mashability.N_CHROMA, which reads them)
CHROMA_FFT = 4096
N_FFT = 1024
HOP = 512
FMAX = 8000.0
WINDOW_FRAMES = 256
FEATURE_ROLES = ("vocals", "harmonic", "percussion", "mix")
#: the roles whose chroma is computed: the harmony branch compares these two (chroma is the slow
#: part of the features, ~23 ms per 25 s stem, so the others are left at zero)
CHROMA_ROLES = ("vocals", "harmonic")
#: scorer name (CLI) → shipped weights name: of each model's variants, the one chosen on the
#: unseen-timbre validation sets (val songs rendered with the gmbank soundfont;
#: benchmarks/mashability_val.py, docs/results/mashup.md). ``premixnet``: generation 4's recipe with
#: seed 1 (the test protocol on 77 val songs: 0.968 accuracy, avg rank 1.117; seed 0: 0.968, 1.156).
#: ``postmixnet``: the LSRO variant (0.812 against 0.787 on the window set).
MODEL_NAMES = {"premixnet": "mashability_premixnet", "postmixnet": "mashability_postmixnet_lsro"}
SCORERS = (*MODEL_NAMES, "automashupper")


def mel(y: np.ndarray, sr: int = FEATURE_SR) -> np.ndarray:
    """``(n,)`` audio at :data:`FEATURE_SR` → ``(N_MELS, T)`` float32 scaled log-mel."""
    if sr != FEATURE_SR:
        raise ParameterError(f"given sr={sr}; features are computed at {FEATURE_SR} Hz (resample first)")
    S = librosa.feature.melspectrogram(
        y=np.asarray(y, dtype=np.float32), sr=sr, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, fmax=FMAX
    )
    db = librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=None)
    return ((np.clip(db, -90.0, 30.0) + 30.0) / 30.0).astype(np.float32)


def chroma(y: np.ndarray, sr: int = FEATURE_SR) -> np.ndarray:
    """``(n,)`` audio at :data:`FEATURE_SR` → ``(N_CHROMA, T)`` float32 chroma energy divided by
    the clip's largest value (so in [0, 1]; a silent clip gives zeros). Same frames as :func:`mel`."""
    if sr != FEATURE_SR:
        raise ParameterError(f"given sr={sr}; features are computed at {FEATURE_SR} Hz (resample first)")
    c = librosa.feature.chroma_stft(y=np.asarray(y, dtype=np.float32), sr=sr, n_fft=CHROMA_FFT, hop_length=HOP,
                                    norm=None, tuning=0.0)
    return (c / max(float(c.max()), 1e-8)).astype(np.float32)


def mashup_features(stems: Mapping[str, np.ndarray], sr: int = FEATURE_SR) -> np.ndarray:
    """Stems with ``"vocals"``, ``"harmonic"``, ``"percussion"``, ``"mix"`` →
    ``(4, N_MELS + N_CHROMA, T)`` float32: each role's :func:`mel` rows, then its :func:`chroma` rows
    for the roles in :data:`CHROMA_ROLES` (zeros for the others, which no model reads)."""
    missing = [r for r in FEATURE_ROLES if r not in stems]
    if missing:
        raise ParameterError(f"given stems without {missing}; expected {FEATURE_ROLES}")
    out = []
    for r in FEATURE_ROLES:
        m = mel(stems[r], sr)
        c = chroma(stems[r], sr) if r in CHROMA_ROLES else np.zeros((N_CHROMA, m.shape[1]), np.float32)
        out.append(np.concatenate([m, c]))
    return np.stack(out)


def windows(feats: np.ndarray, frames: int = WINDOW_FRAMES) -> np.ndarray:
    """``(4, F, T)`` → ``(W, 4, F, frames)``: non-overlapping windows, the last one flush with the end."""
    T = feats.shape[-1]
    if T <= frames:
        return feats[None]
    starts = list(range(0, T - frames + 1, frames))
    if starts[-1] + frames < T:
        starts.append(T - frames)
    return np.stack([feats[..., s : s + frames] for s in starts])


def model_input(config, feats: np.ndarray) -> np.ndarray:
    """``(..., 4, F, T)`` features → the rows a model of ``config`` reads: its sources (the 3 stems
    or the mix) and its ``config.in_rows`` feature rows."""
    if feats.shape[-2] < config.in_rows:
        raise ParameterError(f"given features with {feats.shape[-2]} rows; the model reads {config.in_rows}")
    src = slice(0, 3) if config.n_sources == 3 else slice(3, 4)
    return feats[..., src, : config.in_rows, :]


def learned_scores(feats: Sequence[np.ndarray], model, *, batch: int = 32) -> np.ndarray:
    """Mean positive-class probability over windows for each ``(4, F, T)`` feature array → ``(N,)``."""
    # deferred: torch (about 1 s to import) loads on first use
    import torch

    if len(feats) == 0:
        return np.zeros(0, np.float32)
    wins, owner = [], []
    for i, f in enumerate(feats):
        w = windows(np.asarray(f, dtype=np.float32))
        wins.append(w)
        owner += [i] * len(w)
    x = np.concatenate(wins)
    x = model_input(model.config, x)
    model.eval()
    out = np.concatenate(
        [model.score(torch.from_numpy(np.ascontiguousarray(x[i : i + batch]))).numpy() for i in range(0, len(x), batch)]
    )
    owner = np.asarray(owner)
    return np.array([out[owner == i].mean() for i in range(len(feats))], dtype=np.float32)


def load_scorer(name: str):
    """A shipped learned model by scorer name (``premixnet``/``postmixnet``) or weights name/path."""
    # deferred: torch (about 1 s to import) loads on first use
    import collage.models.mashability  # noqa: F401  (registers the architectures)

    return load_pretrained(MODEL_NAMES.get(name, name))


def automashupper_score(
    stems: Mapping[str, np.ndarray], sr: int, *, beats: np.ndarray, downbeats: np.ndarray, shifts=(0,)
) -> dict:
    """AutoMashUpper's terms for the three stems (see :mod:`collage.mashup.automashupper`)."""
    return mashability({r: stems[r] for r in ("vocals", "harmonic", "percussion")}, sr, beats=beats, downbeats=downbeats, shifts=shifts)

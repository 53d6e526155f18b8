"""Stem-segment embeddings for the first stage of retrieval: compatibility before any shift or stretch.

>>> rows = segment_embeddings(harmonic, percussion, sr, downbeats, segments)   # at build time
>>> v = vocal_embedding(vocal, sr, downbeats, start_s, seconds)                # at query time
>>> s = harmonic_scores(v, H, shifts) + percussion_scores(v, P)                 # one number per segment

A *stem segment* is a harmonic or percussion stem of a song from one of its stored segment
starts (a downbeat). Its vector is made before anything is shifted or stretched:

- ``harmonic``: the segment's mean chroma (12 pitch classes, absolute, L2-normalised). The
  vocal's mean chroma is compared with it *after* the pitch shift the second stage would
  apply (the key distance, at most ±3 semitones): a cosine of rolled vectors, so one vector per
  segment serves every allowed shift;
- ``percussion`` (and the vocal's rhythm): the onset strength sampled at 16 steps per bar
  between consecutive downbeats and averaged over the segment's bars (L2-normalised): a
  bar-synchronous pattern, the same whatever the tempo, so it survives the time stretch.

The first-stage score of a candidate (a harmonic and a percussion segment) is the sum of
the two cosines less the stretch each stem needs (``|log ratio|``): untrained, principled
(the second stage hears exactly this chroma after this shift, and this pattern after this
stretch), and separable, so the best pairs come from the best harmonic and the best
percussion segments (:func:`shortlist_pairs`).
"""

from __future__ import annotations

import librosa
import numpy as np

__all__ = ["EMBED_VERSION", "DIM", "STEPS", "chroma_vector", "rhythm_vector", "segment_embeddings",
           "vocal_embedding", "harmonic_scores", "percussion_scores", "shortlist_pairs"]

#: Bumped when the vectors change; stored in the DB, older vectors are recomputed.
EMBED_VERSION = 1
#: Steps per bar of the rhythm pattern.
STEPS = 16
#: Length of every stored vector: 12 chroma bins, then ``STEPS`` rhythm steps.
DIM = 12 + STEPS
_HOP = 512


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return (v / n).astype(np.float32) if n > 1e-9 else np.zeros_like(v, dtype=np.float32)


def _chroma_frames(y: np.ndarray, sr: int) -> np.ndarray:
    return librosa.feature.chroma_stft(y=np.asarray(y, np.float32), sr=sr, hop_length=4 * _HOP, n_fft=8 * _HOP)


def _onset_env(y: np.ndarray, sr: int) -> np.ndarray:
    return librosa.onset.onset_strength(y=np.asarray(y, np.float32), sr=sr, hop_length=_HOP)


def chroma_vector(frames: np.ndarray, sr: int, start_s: float, end_s: float) -> np.ndarray:
    """Mean of chroma ``frames`` (12 x T, hop 2048) over [start_s, end_s), unit length."""
    a, b = int(start_s * sr / (4 * _HOP)), max(int(np.ceil(end_s * sr / (4 * _HOP))), int(start_s * sr / (4 * _HOP)) + 1)
    seg = frames[:, a:b]
    return _unit(seg.mean(axis=1)) if seg.size else np.zeros(12, np.float32)


def rhythm_vector(env: np.ndarray, sr: int, downbeats, start_s: float, end_s: float) -> np.ndarray:
    """Onset strength ``env`` (hop 512) at ``STEPS`` steps per bar, averaged over the bars
    between ``downbeats`` inside [start_s, end_s], unit length."""
    db = np.asarray(downbeats, dtype=np.float64)
    db = db[(db >= start_s - 1e-3) & (db <= end_s + 1e-3)]
    if len(db) < 2:
        return np.zeros(STEPS, np.float32)
    t_env = np.arange(len(env)) * _HOP / sr
    bars = [np.interp(np.linspace(a, b, STEPS, endpoint=False), t_env, env) for a, b in zip(db[:-1], db[1:])]
    pat = np.mean(bars, axis=0)
    return _unit(pat - pat.mean())


def segment_embeddings(harmonic: np.ndarray | None, percussion: np.ndarray | None, sr: int, downbeats,
                       segments: list[dict]) -> list[dict]:
    """``[{"role", "bars", "start_s", "end_s", "vec" (DIM float32)}]`` for each segment of each
    stem given (None or silent stems are left out); a harmonic vector holds chroma and rhythm,
    a percussion vector zeros for chroma."""
    out = []
    if harmonic is not None and np.any(harmonic):
        ch, env = _chroma_frames(harmonic, sr), _onset_env(harmonic, sr)
        for g in segments:
            v = np.concatenate([chroma_vector(ch, sr, g["start_s"], g["end_s"]),
                                rhythm_vector(env, sr, downbeats, g["start_s"], g["end_s"])])
            out.append({"role": "harmonic", "bars": g["bars"], "start_s": g["start_s"], "end_s": g["end_s"], "vec": v})
    if percussion is not None and np.any(percussion):
        env = _onset_env(percussion, sr)
        for g in segments:
            v = np.concatenate([np.zeros(12, np.float32), rhythm_vector(env, sr, downbeats, g["start_s"], g["end_s"])])
            out.append({"role": "percussion", "bars": g["bars"], "start_s": g["start_s"], "end_s": g["end_s"], "vec": v})
    return out


def vocal_embedding(vocal: np.ndarray, sr: int, downbeats, start_s: float, seconds: float) -> np.ndarray:
    """The vocal's vector (DIM) over its window: its chroma and its bar-synchronous onset pattern. Only the
    window and a second either side are analysed, so a whole song's vocal costs what its window costs."""
    a = max(0.0, start_s - 1.0)
    y = np.asarray(vocal)[int(a * sr): int(np.ceil((start_s + seconds + 1.0) * sr))]
    s, e = start_s - a, start_s - a + seconds
    return np.concatenate([chroma_vector(_chroma_frames(y, sr), sr, s, e),
                           rhythm_vector(_onset_env(y, sr), sr, np.asarray(downbeats, np.float64) - a, s, e)])


def harmonic_scores(v: np.ndarray, H: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Cosine of the vocal's chroma with each harmonic segment's chroma after pitch-shifting it by
    ``shifts`` semitones (N,): ``H`` (N x DIM) -> (N,)."""
    out = np.empty(len(H), np.float32)
    vc = v[:12]
    for s in np.unique(shifts):
        m = shifts == s
        out[m] = np.roll(H[m, :12], int(s), axis=1) @ vc
    return out


def percussion_scores(v: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Cosine of the vocal's bar pattern with each percussion segment's: ``P`` (N x DIM) -> (N,)."""
    return P[:, 12:] @ v[12:]


def shortlist_pairs(h_scores: np.ndarray, p_scores: np.ndarray, n: int, *, exclude=None) -> list[tuple[int, int]]:
    """The ``n`` (harmonic index, percussion index) pairs with the highest ``h + p``, best first.

    The score is separable, so only the best ``n`` of each side can take part in the best ``n``
    pairs: a partial sort of each side, then of the sums. ``exclude(i, j)``: True for pairs not
    allowed (both stems from one song); they are skipped, and to make up for them each side
    keeps its best ``2 n``. ``exclude`` is called once per pair considered, best first, so it may
    also drop repeats.
    """
    if len(h_scores) == 0 or len(p_scores) == 0 or n < 1:
        return []
    k_h, k_p = min(2 * n, len(h_scores)), min(2 * n, len(p_scores))
    hi = np.argpartition(-h_scores, k_h - 1)[:k_h] if k_h < len(h_scores) else np.arange(len(h_scores))
    pi = np.argpartition(-p_scores, k_p - 1)[:k_p] if k_p < len(p_scores) else np.arange(len(p_scores))
    tot = h_scores[hi][:, None] + p_scores[pi][None, :]
    order = np.argsort(-tot, axis=None, kind="stable")
    out = []
    for flat in order:
        i, j = int(hi[flat // len(pi)]), int(pi[flat % len(pi)])
        if exclude is not None and exclude(i, j):
            continue
        out.append((i, j))
        if len(out) == n:
            break
    return out

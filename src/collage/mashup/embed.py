"""Stem-segment descriptors for the first stage of retrieval: what a stem sounds like, before any shift or stretch.

>>> rows = segment_embeddings(harmonic, percussion, sr, downbeats, segments)   # at build time
>>> v = vocal_embedding(vocal, sr, downbeats, start_s, seconds)                # at query time

A *stem segment* is a harmonic or percussion stem of a song from one of its stored segment
starts (a downbeat). Its vector (:data:`DIM` numbers, the same layout for a vocal window,
:data:`LAYOUT`) describes the first :data:`SPAN_S` seconds of it, made before anything is
shifted or stretched:

- ``chroma`` (12): the mean chroma, absolute pitch classes, unit length (a pitch shift of ``s``
  semitones is ``np.roll(chroma, s)``);
- ``rhythm`` (16): the onset strength at 16 steps per bar between consecutive downbeats,
  averaged over the bars, mean removed, unit length: the same whatever the tempo, so it
  survives the time stretch;
- ``bands`` (16): the mean log power of 16 mel bands (dB) less the loudest band's: the
  spectral envelope, independent of the level;
- ``band_std`` (16): each band's standard deviation over time (dB, frames floored 60 dB under
  the loudest): how much the stem moves;
- ``stats`` (5): the share of frames within 40 dB of the loudest (how much of the span
  sounds), the onset strength's mean over its maximum, the chroma's change from frame to frame
  (1 - cosine), its peak share per frame (one pitch class against many), and the rhythm
  pattern's strength (its standard deviation over its mean).

No vector says how well two stems go together: the learned first stage
(:mod:`collage.mashup.firststage`) reads a vocal's vector and a segment's and estimates the
second stage's score from them.
"""

from __future__ import annotations

import librosa
import numpy as np

__all__ = ["EMBED_VERSION", "DIM", "STEPS", "SPAN_S", "LAYOUT", "chroma_vector", "rhythm_vector", "segment_embeddings",
           "vocal_embedding", "grid_shape", "shortlist_pairs"]

#: Bumped when the vectors change; stored in the DB, older vectors are recomputed.
EMBED_VERSION = 2
#: Steps per bar of the rhythm pattern.
STEPS = 16
#: Mel bands of the spectral envelope.
BANDS = 16
#: Seconds of a segment described, from its start (about what a 15-25 s mashup hears of it).
SPAN_S = 20.0
#: The slices of a vector.
LAYOUT = {"chroma": slice(0, 12), "rhythm": slice(12, 12 + STEPS), "bands": slice(28, 28 + BANDS),
          "band_std": slice(44, 44 + BANDS), "stats": slice(60, 65)}
#: Length of every stored vector.
DIM = 65
_HOP = 512
_CHROMA_HOP = 4 * _HOP


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return (v / n).astype(np.float32) if n > 1e-9 else np.zeros_like(v, dtype=np.float32)


def _chroma_frames(y: np.ndarray, sr: int) -> np.ndarray:
    return librosa.feature.chroma_stft(y=np.asarray(y, np.float32), sr=sr, hop_length=_CHROMA_HOP, n_fft=8 * _HOP)


def _onset_env(y: np.ndarray, sr: int) -> np.ndarray:
    return librosa.onset.onset_strength(y=np.asarray(y, np.float32), sr=sr, hop_length=_HOP)


def _band_frames(y: np.ndarray, sr: int) -> np.ndarray:
    """``(BANDS, T)`` mel power in dB (hop 2048, as the chroma frames)."""
    S = librosa.feature.melspectrogram(y=np.asarray(y, np.float32), sr=sr, n_fft=8 * _HOP, hop_length=_CHROMA_HOP,
                                       n_mels=BANDS, fmax=min(8000.0, sr / 2))
    return librosa.power_to_db(S, ref=1.0, amin=1e-12, top_db=None).astype(np.float32)


def _span(n_frames: int, sr: int, hop: int, start_s: float, end_s: float) -> slice:
    a = int(max(start_s, 0.0) * sr / hop)
    return slice(a, max(int(np.ceil(end_s * sr / hop)), a + 1))


def chroma_vector(frames: np.ndarray, sr: int, start_s: float, end_s: float) -> np.ndarray:
    """Mean of chroma ``frames`` (12 x T, hop 2048) over [start_s, end_s), unit length."""
    seg = frames[:, _span(frames.shape[1], sr, _CHROMA_HOP, start_s, end_s)]
    return _unit(seg.mean(axis=1)) if seg.size else np.zeros(12, np.float32)


def _pattern(env: np.ndarray, sr: int, downbeats, start_s: float, end_s: float) -> np.ndarray | None:
    db = np.asarray(downbeats, dtype=np.float64)
    db = db[(db >= start_s - 1e-3) & (db <= end_s + 1e-3)]
    if len(db) < 2:
        return None
    t_env = np.arange(len(env)) * _HOP / sr
    return np.mean([np.interp(np.linspace(a, b, STEPS, endpoint=False), t_env, env) for a, b in zip(db[:-1], db[1:])],
                   axis=0)


def rhythm_vector(env: np.ndarray, sr: int, downbeats, start_s: float, end_s: float) -> np.ndarray:
    """Onset strength ``env`` (hop 512) at ``STEPS`` steps per bar, averaged over the bars
    between ``downbeats`` inside [start_s, end_s], mean removed, unit length."""
    pat = _pattern(env, sr, downbeats, start_s, end_s)
    return np.zeros(STEPS, np.float32) if pat is None else _unit(pat - pat.mean())


class _Frames:
    """One stem's frame-wise features, computed once and described over any span."""

    def __init__(self, y: np.ndarray, sr: int):
        self.sr = sr
        self.chroma, self.env, self.bands = _chroma_frames(y, sr), _onset_env(y, sr), _band_frames(y, sr)

    def describe(self, downbeats, start_s: float, end_s: float) -> np.ndarray:
        """The :data:`DIM` vector of [start_s, end_s)."""
        sr = self.sr
        c = self.chroma[:, _span(self.chroma.shape[1], sr, _CHROMA_HOP, start_s, end_s)]
        b = self.bands[:, _span(self.bands.shape[1], sr, _CHROMA_HOP, start_s, end_s)]
        e = self.env[_span(len(self.env), sr, _HOP, start_s, end_s)]
        v = np.zeros(DIM, np.float32)
        if c.size:
            v[LAYOUT["chroma"]] = _unit(c.mean(axis=1))
            cn = c / (np.linalg.norm(c, axis=0, keepdims=True) + 1e-9)
            flux = 1.0 - (cn[:, 1:] * cn[:, :-1]).sum(0) if c.shape[1] > 1 else np.zeros(1)
            peak = c.max(0) / (c.sum(0) + 1e-9)
        else:
            flux = peak = np.zeros(1)
        pat = _pattern(self.env, sr, downbeats, start_s, end_s)
        if pat is not None:
            v[LAYOUT["rhythm"]] = _unit(pat - pat.mean())
        if b.size:
            top = float(b.max())
            fl = np.maximum(b, top - 60.0)
            mean = fl.mean(axis=1)
            v[LAYOUT["bands"]] = (mean - mean.max()) / 20.0
            v[LAYOUT["band_std"]] = fl.std(axis=1) / 10.0
            level = 10 * np.log10(np.sum(10 ** (b / 10.0), axis=0) + 1e-12)
            active = float(np.mean(level > level.max() - 40.0))
        else:
            active = 0.0
        strength = float(pat.std() / (pat.mean() + 1e-9)) if pat is not None else 0.0
        v[LAYOUT["stats"]] = [active, float(e.mean() / (e.max() + 1e-9)) if e.size else 0.0, float(flux.mean()),
                              float(peak.mean()), min(strength, 5.0)]
        return v


def segment_embeddings(harmonic: np.ndarray | None, percussion: np.ndarray | None, sr: int, downbeats,
                       segments: list[dict]) -> list[dict]:
    """``[{"role", "bars", "start_s", "end_s", "vec" (DIM float32)}]`` for each segment of each
    stem given (None or silent stems are left out); each vector describes the segment's first
    :data:`SPAN_S` seconds."""
    out = []
    for role, y in (("harmonic", harmonic), ("percussion", percussion)):
        if y is None or not np.any(y):
            continue
        fr = _Frames(y, sr)
        for g in segments:
            v = fr.describe(downbeats, g["start_s"], min(g["end_s"], g["start_s"] + SPAN_S))
            out.append({"role": role, "bars": g["bars"], "start_s": g["start_s"], "end_s": g["end_s"], "vec": v})
    return out


def vocal_embedding(vocal: np.ndarray, sr: int, downbeats, start_s: float, seconds: float) -> np.ndarray:
    """The vocal's vector (DIM) over its window [start_s, start_s + seconds). Only the window and a
    second either side are analysed, so a whole song's vocal costs what its window costs."""
    a = max(0.0, start_s - 1.0)
    y = np.asarray(vocal)[int(a * sr): int(np.ceil((start_s + seconds + 1.0) * sr))]
    s = start_s - a
    return _Frames(y, sr).describe(np.asarray(downbeats, np.float64) - a, s, s + min(seconds, SPAN_S))


def grid_shape(n: int, aspect: float = 1.0) -> tuple[int, int]:
    """The segments of each side of a grid of about ``n`` pairs with ``aspect`` percussion segments per harmonic
    one: ``(ceil(sqrt(n / aspect)), ceil(sqrt(n * aspect)))``."""
    return int(np.ceil(np.sqrt(n / aspect) - 1e-9)), int(np.ceil(np.sqrt(n * aspect) - 1e-9))


def shortlist_pairs(h_scores: np.ndarray, p_scores: np.ndarray, n: int, *, h_group=None, p_group=None,
                    h_block=None, p_block=None, aspect: float = 1.0) -> list[tuple[int, int]]:
    """Up to ``n`` (harmonic index, percussion index) pairs: of every pair of the best ``k = ceil(sqrt(n))``
    harmonic and the best ``k`` percussion segments that may be paired, the best ``n`` by ``h + p``, best first
    (with ``aspect``, the best :func:`grid_shape` ``(n, aspect)`` of each side instead).

    A grid rather than the ``n`` best sums: the second stage pays per segment (its SourceNet) far more
    than per pair (the head), so its cost is set by the ``2k`` segments, and the best pair of a vocal needs
    only each of its segments near the top of its side, not their sum near the top of all sums. A pair
    may not take both stems from one song (``h_group[i] == p_group[j]``) and must take them from one
    block (``h_block[i] == p_block[j]``: e.g. one reading of the vocal's tempo); such pairs are left out
    of the grid, not replaced, so the cost stays that of ``2k`` segments.
    """
    nh, np_ = len(h_scores), len(p_scores)
    if nh == 0 or np_ == 0 or n < 1:
        return []
    oh = np.argsort(-np.asarray(h_scores), kind="stable")
    op = np.argsort(-np.asarray(p_scores), kind="stable")
    kh, kp = grid_shape(n, aspect)
    oh, op = oh[:kh], op[:kp]
    ok = np.ones((len(oh), len(op)), bool)
    if h_group is not None:
        ok &= np.asarray(h_group)[oh][:, None] != np.asarray(p_group)[op][None, :]
    if h_block is not None:
        ok &= np.asarray(h_block)[oh][:, None] == np.asarray(p_block)[op][None, :]
    tot = np.where(ok, np.asarray(h_scores)[oh][:, None] + np.asarray(p_scores)[op][None, :], -np.inf)
    flat = np.argsort(-tot, axis=None, kind="stable")[: min(n, int(ok.sum()))]
    return [(int(oh[f // len(op)]), int(op[f % len(op)])) for f in flat]

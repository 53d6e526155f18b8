"""Training data for the judge, the critic and the actor.

- :class:`PairData`: the segments of one POP909 split as flat arrays, with
  vectorised gathering of many segments' notes at once and transposition
  augmentation (both tracks of a pair moved together; a transposition that
  would leave pitches 0..127 is replaced by none);
- :func:`encode_latents` / :func:`cached_latents`: the melody and
  accompaniment VAE posteriors ``(mu, std)`` of every segment under each of
  the 12 transpositions (-6..+5 semitones), cached as ``.npz``, so that the
  latent critic and actor train without running the VAEs.
"""

from __future__ import annotations

import hashlib
import logging
import os

import numpy as np
import torch

from collage.datasets.cache import cache_dir
from collage.datasets.pop909 import pop909_segments
from collage.errors import ParameterError
from collage.models.judge import _melody_tokens_packed
from collage.progress import progress_bar
from collage.represent.chord import chord_vectors
from collage.represent.transpose import transpose_chords

__all__ = ["PairData", "TRANSPOSITIONS", "data_hash", "encode_latents", "cached_latents", "LatentSet",
           "segment_vae_inputs", "segment_chords", "encode_part",
           "cached_part", "latents_info"]

log = logging.getLogger(__name__)

#: the 12 transpositions used as augmentation (semitones)
TRANSPOSITIONS = tuple(range(-6, 6))


def data_hash(segset) -> str:
    """sha256 (first 16 hex digits) of a SegmentSet's song ids and window starts."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(segset.song_ids, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(segset.starts, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


def _gather(notes: np.ndarray, ptr: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Notes of segments ``idx`` from CSR arrays: ``(notes (N, 4) int64, seg (N,) position in idx)``."""
    lo, hi = ptr[idx], ptr[idx + 1]
    cnt = hi - lo
    seg = np.repeat(np.arange(len(idx), dtype=np.int64), cnt)
    start = np.repeat(lo - np.concatenate([[0], np.cumsum(cnt)[:-1]]), cnt)
    rows = np.arange(int(cnt.sum()), dtype=np.int64) + start
    return notes[rows].astype(np.int64), seg


class PairData:
    """One split's segments as flat arrays for fast batch building.

    Args:
        segset: a :class:`collage.datasets.pop909.SegmentSet`.
    """

    def __init__(self, segset):
        a = segset.arrays()
        self.segset = segset
        self.n = len(segset)
        self.song_ids = np.asarray(segset.song_ids)
        self.mel_notes, self.mel_ptr = a["mel_notes"], a["mel_ptr"]
        self.acc_notes, self.acc_ptr = a["acc_notes"], a["acc_ptr"]
        self.mel_lo, self.mel_hi = self._range(self.mel_notes, self.mel_ptr)
        self.acc_lo, self.acc_hi = self._range(self.acc_notes, self.acc_ptr)

    @staticmethod
    def _range(notes, ptr) -> tuple[np.ndarray, np.ndarray]:
        p = notes[:, 2].astype(np.int64)
        cnt = np.diff(ptr)
        nz = cnt > 0
        lo = np.full(len(cnt), 127, np.int64)
        hi = np.zeros(len(cnt), np.int64)
        lo[nz] = np.minimum.reduceat(p, ptr[:-1][nz])
        hi[nz] = np.maximum.reduceat(p, ptr[:-1][nz])
        return lo, hi

    def valid_shift(self, i: np.ndarray, j: np.ndarray, k: np.ndarray) -> np.ndarray:
        """Whether shifting melody ``i`` and accompaniment ``j`` by ``k`` keeps pitches in 0..127."""
        lo = np.minimum(self.mel_lo[i], self.acc_lo[j])
        hi = np.maximum(self.mel_hi[i], self.acc_hi[j])
        return (lo + k >= 0) & (hi + k <= 127)

    def random_shifts(self, i: np.ndarray, j: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One of the 12 transpositions per pair (0 where the drawn one would leave 0..127)."""
        k = rng.integers(TRANSPOSITIONS[0], TRANSPOSITIONS[-1] + 1, size=len(i))
        return np.where(self.valid_shift(i, j, k), k, 0)

    def melodies(self, idx: np.ndarray, shift: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Packed melody notes of segments ``idx`` (optionally transposed by ``shift`` per segment)."""
        notes, seg = _gather(self.mel_notes, self.mel_ptr, np.asarray(idx, np.int64))
        if shift is not None:
            notes[:, 2] += np.asarray(shift)[seg]
        return notes, seg

    def accomps(self, idx: np.ndarray, shift: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Packed accompaniment notes of segments ``idx`` (optionally transposed)."""
        notes, seg = _gather(self.acc_notes, self.acc_ptr, np.asarray(idx, np.int64))
        if shift is not None:
            notes[:, 2] += np.asarray(shift)[seg]
        return notes, seg

    def other_song(self, i: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """For each segment in ``i`` a random segment of a different song (Ωdh partner)."""
        j = rng.integers(0, self.n, size=len(i))
        bad = self.song_ids[i] == self.song_ids[j]
        while bad.any():
            j[bad] = rng.integers(0, self.n, size=int(bad.sum()))
            bad = self.song_ids[i] == self.song_ids[j]
        return j


# -- VAE inputs and latents -------------------------------------------------------------
def segment_vae_inputs(segset, idx: np.ndarray, shift: int = 0, *, data: "PairData | None" = None,
                       chords: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """VAE inputs of segments ``idx`` transposed by ``shift`` semitones (vectorised).

    Args:
        segset: the SegmentSet; ``data`` its :class:`PairData` (built when None).
        chords: ``(len(idx), 8, 36)`` untransposed chord vectors when already known.
    Returns:
        ``melody (B, 32, 130)`` float32 one-hot, ``chord (B, 8, 36)`` float32,
        ``prmat (B, 32, 128)`` float32 (durations in steps at onsets, clipped to 32;
        of notes sharing onset and pitch the longest).
    """
    data = data or PairData(segset)
    t = segset.length
    idx = np.asarray(idx, np.int64)
    b = len(idx)
    sh = np.full(b, int(shift))
    mn, ms = data.melodies(idx, sh)
    an, as_ = data.accomps(idx, sh)
    tokens = _melody_tokens_packed(mn, ms, b, t)  # (B, T)
    mel = np.zeros((b, t, 130), np.float32)
    np.put_along_axis(mel, tokens[..., None], 1.0, axis=-1)
    prm = np.zeros((b, t, 128), np.float32)
    if len(an):
        np.maximum.at(prm, (as_, an[:, 0], an[:, 2]), np.clip(an[:, 1], 1, 32).astype(np.float32))
    if chords is None:
        chords = segment_chords(segset, idx)
    chord = transpose_chords(chords, int(shift)) if shift else np.array(chords, np.float32)
    return mel, chord.astype(np.float32), prm


def segment_chords(segset, idx: np.ndarray) -> np.ndarray:
    """``(len(idx), 8, 36)`` float32 annotated chord vectors of segments ``idx``."""
    idx = np.asarray(idx, np.int64)
    labels = [lab for i in idx.tolist() for lab in segset.chords(i)]
    return chord_vectors(labels).reshape(len(idx), -1, 36) if len(idx) else np.zeros((0, 8, 36), np.float32)


class LatentSet:
    """Cached posteriors of one split: ``mel_mu, mel_std (S, K, dm)``, ``acc_mu, acc_std (S, K, da)``.

    ``S`` = 12 transpositions (:data:`TRANSPOSITIONS`), ``K`` segments;
    ``valid (S, K)`` says which transpositions keep the segment in 0..127
    (an invalid one holds the untransposed latents). ``song_ids (K,)``.
    """

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.mel_mu, self.mel_std = arrays["mel_mu"], arrays["mel_std"]
        self.acc_mu, self.acc_std = arrays["acc_mu"], arrays["acc_std"]
        self.valid = arrays["valid"]
        self.song_ids = arrays["song_ids"]
        self.n = self.mel_mu.shape[1]

    def sigma_bar(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean posterior scale per dimension over the set: ``(dm,)``, ``(da,)`` float32."""
        return self.mel_std.reshape(-1, self.mel_std.shape[-1]).mean(0), \
            self.acc_std.reshape(-1, self.acc_std.shape[-1]).mean(0)


def _subset(n: int, max_segments: int | None, seed: int) -> np.ndarray:
    idx = np.arange(n)
    if max_segments is not None and max_segments < n:
        idx = np.sort(np.random.default_rng(seed).choice(n, size=max_segments, replace=False))
    return idx


@torch.no_grad()
def encode_part(vae, part: str, segset, idx: np.ndarray, *, shifts=TRANSPOSITIONS, batch_size: int = 512,
                progress: bool = False) -> dict[str, np.ndarray]:
    """Posteriors of one VAE (``part`` = ``'mel'`` or ``'acc'``) for segments ``idx`` under each shift.

    A shift that would move either track of a segment out of 0..127 is
    replaced by no shift (``valid`` False there).

    Returns:
        ``{part_mu, part_std: (S, K, z_dim) float16, valid: (S, K) bool}``.
    """
    if part not in ("mel", "acc"):
        raise ParameterError(f"given part={part!r}; expected 'mel' or 'acc'")
    data = PairData(segset)
    idx = np.asarray(idx, np.int64)
    lo = np.minimum(data.mel_lo[idx], data.acc_lo[idx])
    hi = np.maximum(data.mel_hi[idx], data.acc_hi[idx])
    chords_all = segment_chords(segset, idx) if part == "acc" else None  # (K, 8, 36)
    vae.eval()
    s, k = len(shifts), len(idx)
    mu = np.zeros((s, k, vae.z_dim), np.float16)
    sd = np.zeros((s, k, vae.z_dim), np.float16)
    valid = np.zeros((s, k), bool)
    bar = None
    if progress:
        bar = progress_bar(transient=False)
        bar.start()
        task = bar.add_task(f"encoding {part} latents", total=s * k)
    try:
        for si, sh in enumerate(shifts):
            ok = (lo + sh >= 0) & (hi + sh <= 127)
            valid[si] = ok
            for b0 in range(0, k, batch_size):
                sel = np.arange(b0, min(b0 + batch_size, k))
                bad = ~ok[sel]
                for rows, shv in ((sel[~bad], sh), (sel[bad], 0)):
                    if not len(rows):
                        continue
                    mel, chord, prm = segment_vae_inputs(segset, idx[rows], shv, data=data,
                                                         chords=None if chords_all is None else chords_all[rows])
                    if part == "mel":
                        m, v = vae.encode(torch.from_numpy(mel))
                    else:
                        m, v = vae.encode(torch.from_numpy(chord), torch.from_numpy(prm))
                    mu[si, rows] = m.numpy()
                    sd[si, rows] = v.numpy()
                if bar is not None:
                    bar.advance(task, len(sel))
    finally:
        if bar is not None:
            bar.stop()
    return {f"{part}_mu": mu, f"{part}_std": sd, "valid": valid}


def encode_latents(mel_vae, acc_vae, segset, *, shifts=TRANSPOSITIONS, batch_size: int = 512,
                   max_segments: int | None = None, seed: int = 0, progress: bool = False) -> dict[str, np.ndarray]:
    """Posterior ``(mu, std)`` of every segment (or a seeded subset) under each transposition.

    Returns:
        dict of arrays for :class:`LatentSet` (float16 latents to halve the
        cache), plus ``index (K,)`` the segment indices encoded.
    """
    idx = _subset(len(segset), max_segments, seed)
    out = encode_part(mel_vae, "mel", segset, idx, shifts=shifts, batch_size=batch_size, progress=progress)
    out.update(encode_part(acc_vae, "acc", segset, idx, shifts=shifts, batch_size=batch_size, progress=progress))
    out["song_ids"] = np.asarray(segset.song_ids)[idx]
    out["index"] = idx
    return out


def _vae_key(vae) -> str:
    h = hashlib.sha256()
    for k, v in vae.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().numpy().tobytes())
    return h.hexdigest()[:12]


def cached_part(vae, part: str, split: str, *, max_segments: int | None = None, seed: int = 0,
                progress: bool = False, index: np.ndarray | None = None,
                shifts: tuple[int, ...] = TRANSPOSITIONS) -> dict[str, np.ndarray]:
    """:func:`encode_part` of a POP909 split (beats grid), cached under ``$COLLAGE_CACHE/latents``.

    ``index`` (segment indices) replaces the seeded subset of ``max_segments``;
    ``shifts`` are the transpositions encoded. The file name holds the VAE's
    weight hash, the segment data hash and the selection, so new weights
    re-encode. Returns the arrays plus ``index`` and ``song_ids``.
    """
    segset = pop909_segments(split, grid="beats")
    key = f"{_vae_key(vae)}-{data_hash(segset)}-{max_segments}-{seed}"
    if index is not None or tuple(shifts) != TRANSPOSITIONS:
        h = hashlib.sha256(np.ascontiguousarray(index if index is not None else [], np.int64).tobytes())
        h.update(np.asarray(shifts, np.int64).tobytes())
        key += f"-{h.hexdigest()[:12]}"
    path = cache_dir() / "latents" / f"{part}-{split}-{key}.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    idx = _subset(len(segset), max_segments, seed) if index is None else np.asarray(index, np.int64)
    arrays = encode_part(vae, part, segset, idx, shifts=tuple(shifts), progress=progress)
    arrays["index"] = idx
    arrays["song_ids"] = np.asarray(segset.song_ids)[idx]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    log.info("%s: cached %s latents of %d %s segments", path, part, len(idx), split)
    return arrays


def cached_latents(mel_vae, acc_vae, split: str, *, max_segments: int | None = None, seed: int = 0,
                   progress: bool = False) -> LatentSet:
    """Both VAEs' posteriors of a POP909 split (each part cached on its own, see :func:`cached_part`)."""
    m = cached_part(mel_vae, "mel", split, max_segments=max_segments, seed=seed, progress=progress)
    a = cached_part(acc_vae, "acc", split, max_segments=max_segments, seed=seed, progress=progress)
    arrays = dict(m)
    arrays.update(a)
    return LatentSet(arrays)


def latents_info(mel_vae, acc_vae, split: str, max_segments, seed) -> dict:
    """What a critic/actor card records about its latents."""
    segset = pop909_segments(split, grid="beats")
    return {"latents": f"POP909 {split} (beats grid), {max_segments or len(segset)} segments (seed {seed}) "
                        f"x 12 transpositions, posteriors of melody_vae {_vae_key(mel_vae)} and accomp_vae "
                        f"{_vae_key(acc_vae)}", f"{split}_hash": data_hash(segset)}

"""Horizontal pairs for phrase joining (Connective Fusion): consecutive 8-beat melody segments of POP909.

- :func:`join_index`: of a split's segments (8-beat windows every beat), the
  non-overlapping ones, every 8 beats from each song's grid origin, and for
  each the position of its right neighbour (the window 8 beats later in the
  same song) or -1;
- :class:`JoinLatents` / :func:`join_latents`: the melody VAE posteriors of
  those segments under a few transpositions, cached through
  :func:`collage.training.latents.cached_part`;
- :class:`JoinPairing`: the horizontal pairing for
  :mod:`collage.training.critic_actor` (positives: ``(z_L, z_R)`` of
  consecutive segments at one transposition; negatives: segments of different
  songs, each at its own transposition);
- :func:`segment_tokens` / :func:`transpose_tokens`: melody tokens of the
  same segments for the reality classifier (:mod:`collage.models.join_judge`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from collage.datasets.pop909 import pop909_segments
from collage.errors import ParameterError
from collage.models.judge import _melody_tokens_packed
from collage.represent.grid import SEGMENT_STEPS
from collage.training.latents import PairData, cached_part

__all__ = ["JOIN_SHIFTS", "join_index", "JoinLatents", "join_latents", "JoinPairing", "segment_tokens",
           "transpose_tokens", "pair_index", "restrict_songs"]

#: transpositions (semitones) of the training latents (the eval splits use 0 only)
JOIN_SHIFTS = (-3, 0, 3)


def join_index(segset, stride: int = SEGMENT_STEPS) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping segments and their right neighbours.

    Returns:
        ``(index (K,), right (K,))``: segment indices (into ``segset``) whose
        start is a multiple of ``stride`` steps, and for each the position in
        ``index`` of the segment ``stride`` steps later in the same song (-1 if
        that window was dropped or the song ends).
    """
    starts = np.asarray(segset.starts, np.int64)
    songs = np.asarray(segset.song_ids, np.int64)
    index = np.flatnonzero(starts % stride == 0)
    key = songs[index] * (1 << 32) + starts[index]
    order = np.argsort(key)
    want = key + stride
    pos = np.searchsorted(key[order], want)
    pos = np.minimum(pos, len(key) - 1)
    hit = key[order][pos] == want
    right = np.where(hit, order[pos], -1).astype(np.int64)
    return index.astype(np.int64), right


@dataclasses.dataclass
class JoinLatents:
    """Melody posteriors of :func:`join_index`'s segments of one split.

    Attributes:
        mu, std: ``(S, K, d)`` float16 posterior means and scales per transposition.
        valid: ``(S, K)`` whether the transposition was applied (else the untransposed latents).
        shifts: ``(S,)`` the transpositions in semitones.
        song_ids, starts: ``(K,)`` song and start step of each segment.
        right: ``(K,)`` position of the right neighbour or -1.
        index: ``(K,)`` the segments' indices in the split's SegmentSet.
    """

    mu: np.ndarray
    std: np.ndarray
    valid: np.ndarray
    shifts: tuple
    song_ids: np.ndarray
    starts: np.ndarray
    right: np.ndarray
    index: np.ndarray

    @property
    def n(self) -> int:
        return self.mu.shape[1]

    def sigma_bar(self) -> np.ndarray:
        """``(d,)`` float32 mean posterior scale per dimension."""
        return self.std.reshape(-1, self.std.shape[-1]).astype(np.float32).mean(0)


def restrict_songs(segset, index: np.ndarray, right: np.ndarray, songs: int | None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`join_index`'s output limited to the first ``songs`` songs of the split (None: all)."""
    if songs is None:
        return index, right
    keep = np.isin(np.asarray(segset.song_ids)[index], np.asarray(segset.songs)[:songs])
    new_pos = np.cumsum(keep) - 1
    has = right >= 0
    r = np.where(has, right, 0)
    return index[keep], np.where(has & keep[r], new_pos[r], -1)[keep]


def join_latents(vae, split: str, *, shifts=JOIN_SHIFTS, songs: int | None = None,
                 progress: bool = False) -> JoinLatents:
    """The cached melody posteriors of a split's :func:`join_index` segments (beats grid; ``songs``: the first N only)."""
    segset = pop909_segments(split, grid="beats")
    index, right = restrict_songs(segset, *join_index(segset), songs)
    a = cached_part(vae, "mel", split, index=index, shifts=tuple(shifts), progress=progress)
    return JoinLatents(mu=a["mel_mu"], std=a["mel_std"], valid=a["valid"], shifts=tuple(shifts),
                       song_ids=np.asarray(segset.song_ids)[index], starts=np.asarray(segset.starts)[index],
                       right=right, index=index)


def pair_index(lat: JoinLatents, n: int, rng: np.random.Generator, *, paired: bool) -> tuple[np.ndarray, np.ndarray]:
    """``n`` (left, right) segment positions: consecutive pairs, or (``paired=False``) pairs of different songs."""
    if paired:
        has = np.flatnonzero(lat.right >= 0)
        if not len(has):
            raise ParameterError("no consecutive segment pairs in these latents")
        i = has[rng.integers(0, len(has), size=n)]
        return i, lat.right[i]
    if len(np.unique(lat.song_ids)) < 2:
        raise ParameterError("unpaired segments need at least two songs")
    i = rng.integers(0, lat.n, size=n)
    j = rng.integers(0, lat.n, size=n)
    bad = lat.song_ids[i] == lat.song_ids[j]
    while bad.any():
        j[bad] = rng.integers(0, lat.n, size=int(bad.sum()))
        bad = lat.song_ids[i] == lat.song_ids[j]
    return i, j


class JoinPairing:
    """The horizontal pairing (see :mod:`collage.training.critic_actor`): ``z_a = z_L``, ``z_b = z_R``.

    Positives: consecutive segments of a song at one transposition (one at
    which both were transposed, else none). Negatives: segments of different
    songs, each at its own transposition. G's distance term weighs each
    aspect by its share of the latent, so that it is ``rho(z_L', z_L) + rho(z_R', z_R)``.
    """

    def __init__(self, lat: JoinLatents):
        self.lat = lat
        self.n_shift = lat.mu.shape[0]
        self.zero = list(lat.shifts).index(0) if 0 in lat.shifts else 0
        s = torch.from_numpy(lat.sigma_bar())
        self.sigma_a, self.sigma_b = s, s.clone()
        self.d_a = self.d_b = lat.mu.shape[-1]

    def _z(self, s, k, sample: bool) -> torch.Tensor:
        m = torch.from_numpy(self.lat.mu[s, k].astype(np.float32))  # (B, d)
        if not sample:
            return m
        return m + torch.from_numpy(self.lat.std[s, k].astype(np.float32)) * torch.randn_like(m)

    def positive(self, n: int, rng, *, sample: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Consecutive pairs ``(z_L (n, d), z_R (n, d))``."""
        i, j = pair_index(self.lat, n, rng, paired=True)
        s = rng.integers(0, self.n_shift, size=n)
        s = np.where(self.lat.valid[s, i] & self.lat.valid[s, j], s, self.zero)
        return self._z(s, i, sample), self._z(s, j, sample)

    def negative(self, n: int, rng, *, sample: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Unpaired segments of different songs, each at its own transposition."""
        i, j = pair_index(self.lat, n, rng, paired=False)
        si = rng.integers(0, self.n_shift, size=n)
        sj = rng.integers(0, self.n_shift, size=n)
        return self._z(si, i, sample), self._z(sj, j, sample)

    def prior(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``N(0, I)`` samples: ``((n, d), (n, d))``."""
        return torch.randn(n, self.d_a), torch.randn(n, self.d_b)

    @staticmethod
    def distance_weights(controls: torch.Tensor, actor) -> torch.Tensor:
        """``(B, n_aspects)``: each aspect's share of its latent (the style does not weigh the distance)."""
        c = actor.config
        w = [(b - a) / c.d_a for _, a, b in c.aspects_a] + [(b - a) / c.d_b for _, a, b in c.aspects_b]
        return torch.tensor(w, dtype=controls.dtype).expand(controls.shape[0], -1)


def segment_tokens(segset, index: np.ndarray) -> np.ndarray:
    """``(K, 32)`` int64 melody tokens (0..127 onset pitch, 128 hold, 129 rest) of segments ``index``."""
    data = PairData(segset)
    index = np.asarray(index, np.int64)
    notes, seg = data.melodies(index)
    return np.asarray(_melody_tokens_packed(notes, seg, len(index), segset.length), np.int64)


def transpose_tokens(tokens: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Tokens ``(B, T)`` moved by ``shift (B,)`` semitones; a row that would leave 0..127 stays as it is."""
    tokens = np.asarray(tokens, np.int64)
    shift = np.asarray(shift, np.int64)
    pitch = tokens < 128
    moved = np.where(pitch, tokens + shift[:, None], tokens)
    ok = np.all(~pitch | ((moved >= 0) & (moved <= 127)), axis=1)
    return np.where(ok[:, None], moved, tokens)

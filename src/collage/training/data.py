"""Tensor pipelines over POP909 segments for the melody and accompaniment VAEs.

:class:`SegmentTensors` precomputes, once per :class:`~collage.datasets.pop909.SegmentSet`,
compact per-segment arrays and turns any batch of segment indices plus a
transposition into model inputs:

- melody: ``(n, 32)`` tokens (0-127 pitch onset, 128 hold, 129 rest; from
  :meth:`SegmentSet.melody`, so a note sounding at the window's start enters
  as an onset at step 0) and their ``(n, 32, 130)`` one-hot;
- chords: ``(n, 8, 36)`` chord vectors, one per beat (annotated labels);
- prmat: ``(n, 32, 128)`` PolyDis ``pr_mat``, exactly
  :func:`collage.represent.accompaniment.durmat` of the song's PIANO notes
  over the window (only notes *starting* in the window; durations in steps,
  clipped at 32, not at the window's end).

Transposition (augmentation) shifts melody, accompaniment and chords together
by ``shift`` semitones; :data:`SHIFTS` are the 12 used (-6..+5). A shift that
would move a melody or accompaniment note outside 0..127 is invalid for that
segment: :meth:`SegmentTensors.valid_shifts` says which, and
:meth:`SegmentTensors.sample_batch` only draws valid ones.

Example::

    segs = pop909_segments("train", grid="beats")
    data = SegmentTensors(segs)
    batch = data.sample_batch(rng, 128)           # dict of torch tensors
    batch["melody"].shape                           # (128, 32, 130)
    x = data.melody_onehot([0, 1], shift=3)         # numpy (2, 32, 130)
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import torch

from collage.datasets.pop909 import SEGMENT_BEATS, SegmentSet
from collage.errors import ParameterError
from collage.represent.accompaniment import MAX_DUR
from collage.represent.chord import CHORD_DIM, PITCH_NAMES, chord_vectors
from collage.represent.melody import HOLD, MELODY_DIM, REST
from collage.represent.segments import crop_all, window_starts

__all__ = ["SHIFTS", "SegmentTensors", "data_hash", "synthetic_segment_set"]

log = logging.getLogger(__name__)

#: The 12 transpositions used as augmentation, in semitones.
SHIFTS = np.arange(-6, 6, dtype=np.int64)
N_BEATS = 8
PARTS = ("melody", "tokens", "chords", "prmat")


def data_hash(segset) -> str:
    """sha256 (hex) of a segment set's identity: split, grid, song ids and window starts."""
    h = hashlib.sha256()
    h.update(f"{segset.split}|{segset.grid}|{segset.steps_per_beat}|".encode())
    h.update(np.ascontiguousarray(segset.song_ids, dtype=np.int32).tobytes())
    h.update(np.ascontiguousarray(segset.starts, dtype=np.int32).tobytes())
    return h.hexdigest()


def _melody_tokens_all(notes: np.ndarray, ptr: np.ndarray, length: int) -> np.ndarray:
    """Vectorised :func:`~collage.represent.melody.melody_tokens` for CSR window notes -> ``(K, length)`` int16."""
    k = len(ptr) - 1
    seg = np.repeat(np.arange(k), np.diff(ptr))
    on = notes[:, 0].astype(np.int64)
    off = np.minimum(on + np.maximum(notes[:, 1].astype(np.int64), 1), length)
    delta = np.zeros((k, length + 1), dtype=np.int32)
    np.add.at(delta, (seg, on), 1)
    np.add.at(delta, (seg, off), -1)
    sounding = np.cumsum(delta[:, :length], axis=1) > 0  # (K, length)
    tokens = np.where(sounding, HOLD, REST).astype(np.int16)
    tokens[seg, on] = notes[:, 2]  # skyline windows: one onset per step, later onsets win anyway
    return tokens


class SegmentTensors:
    """Model-ready arrays of a :class:`~collage.datasets.pop909.SegmentSet` (see the module doc).

    Args:
        segset: the segments (8-beat windows, ``length`` steps each).
    Attributes:
        n: number of segments.
        length: steps per window (32 at 4 steps per beat).
        tokens: ``(n, length)`` int16 melody tokens of every segment (untransposed).
        hash: :func:`data_hash` of the set.
    """

    def __init__(self, segset):
        if not isinstance(segset, SegmentSet):
            raise ParameterError(f"given segset of type {type(segset).__name__}; expected a SegmentSet")
        a = segset.arrays()
        self.segset = segset
        self.n = len(segset)
        self.length = segset.length
        self.steps_per_beat = segset.steps_per_beat
        self.hash = data_hash(segset)
        # melody tokens, and the melody's pitch range per segment
        mel, mptr = a["mel_notes"], a["mel_ptr"]
        self.tokens = _melody_tokens_all(mel, mptr, self.length)  # (n, 32) int16
        mseg = np.repeat(np.arange(self.n), np.diff(mptr))
        mel_lo = np.full(self.n, 127, np.int64)
        mel_hi = np.zeros(self.n, np.int64)
        np.minimum.at(mel_lo, mseg, mel[:, 2].astype(np.int64))
        np.maximum.at(mel_hi, mseg, mel[:, 2].astype(np.int64))
        # accompaniment: notes starting in each window are a contiguous run of the song's notes (sorted by onset)
        song_row = {int(s): r for r, s in enumerate(a["songs"].tolist())}
        rows = np.array([song_row[int(s)] for s in segset.song_ids.tolist()], dtype=np.int64).reshape(-1)
        acc, aptr = a["song_acc"].astype(np.int64), a["song_acc_ptr"]
        self._acc = acc  # (M, 4) song step notes, all songs concatenated
        self._acc_lo = np.zeros(self.n, np.int64)
        self._acc_hi = np.zeros(self.n, np.int64)
        starts = segset.starts.astype(np.int64)
        for r in np.unique(rows).tolist():
            sel = np.flatnonzero(rows == r)
            p0, p1 = aptr[r], aptr[r + 1]
            on = acc[p0:p1, 0]
            if len(on) > 1 and np.any(np.diff(on) < 0):
                raise ParameterError(f"song {int(a['songs'][r])}: accompaniment notes are not sorted by onset")
            self._acc_lo[sel] = p0 + np.searchsorted(on, starts[sel], side="left")
            self._acc_hi[sel] = p0 + np.searchsorted(on, starts[sel] + self.length, side="left")
        self._starts = starts
        counts = self._acc_hi - self._acc_lo
        aseg = np.repeat(np.arange(self.n), counts)
        aidx = np.concatenate([np.arange(lo, hi) for lo, hi in zip(self._acc_lo, self._acc_hi)]) if self.n else (
            np.zeros(0, np.int64))
        acc_lo = np.full(self.n, 127, np.int64)
        acc_hi = np.zeros(self.n, np.int64)
        np.minimum.at(acc_lo, aseg, acc[aidx, 2])
        np.maximum.at(acc_hi, aseg, acc[aidx, 2])
        lo, hi = np.minimum(mel_lo, acc_lo), np.maximum(mel_hi, acc_hi)
        # (n, 12) which shifts keep every note in 0..127
        self._valid = (lo[:, None] + SHIFTS[None, :] >= 0) & (hi[:, None] + SHIFTS[None, :] <= 127)
        # chords: vocabulary index of each of the 8 beats
        self._vocab_vec = chord_vectors(a["chord_vocab"].tolist())  # (V, 36)
        b0 = a["beat_ptr"][rows] + starts // self.steps_per_beat
        self._chord_idx = a["beat_chord"][b0[:, None] + np.arange(N_BEATS)[None, :]].astype(np.int64)  # (n, 8)
        log.debug("SegmentTensors: %d segments of %s (%s grid)", self.n, segset.split, segset.grid)

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return f"SegmentTensors(split={self.segset.split!r}, grid={self.segset.grid!r}, n={self.n})"

    # -- argument checks ---------------------------------------------------------
    def _idx(self, idx) -> np.ndarray:
        arr = np.asarray(idx)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            raise ParameterError(f"given idx of shape {arr.shape} and dtype {arr.dtype}; expected 1-d integers")
        if arr.size and (arr.min() < 0 or arr.max() >= self.n):
            raise ParameterError(f"given idx with values {int(arr.min())}..{int(arr.max())}; expected 0..{self.n - 1}")
        return arr.astype(np.int64)

    def _shift(self, shift, n: int) -> np.ndarray:
        s = np.asarray(shift)
        if s.size and s.dtype.kind not in "iu":
            raise ParameterError(f"given shift={shift!r}; expected integer semitones")
        s = np.broadcast_to(s.astype(np.int64), (n,)) if s.ndim == 0 or s.shape == (n,) else None
        if s is None:
            raise ParameterError(f"given shift of shape {np.shape(shift)}; expected a scalar or ({n},)")
        return s

    # -- per-part arrays -----------------------------------------------------------
    def valid_shifts(self, idx) -> np.ndarray:
        """``(n, 12)`` bool: which of :data:`SHIFTS` keep all notes of each segment in 0..127."""
        return self._valid[self._idx(idx)]

    def _check_valid(self, idx: np.ndarray, shift: np.ndarray) -> None:
        ok = np.ones(len(idx), bool)
        inside = (shift >= SHIFTS[0]) & (shift <= SHIFTS[-1])
        ok[inside] = self._valid[idx[inside], shift[inside] - SHIFTS[0]]
        if (~inside).any():  # shifts beyond the table: check against the pitch range directly
            for j in np.flatnonzero(~inside).tolist():
                toks = self.tokens[idx[j]]
                p = np.concatenate([toks[toks < HOLD], self._acc[self._acc_lo[idx[j]]:self._acc_hi[idx[j]], 2]])
                ok[j] = p.size == 0 or (p.min() + shift[j] >= 0 and p.max() + shift[j] <= 127)
        if not ok.all():
            j = int(np.flatnonzero(~ok)[0])
            raise ParameterError(f"given shift={int(shift[j])} for segment {int(idx[j])}: moves notes outside 0..127")

    def melody_tokens(self, idx, shift=0) -> np.ndarray:
        """``(n, 32)`` int64 melody tokens of segments ``idx`` transposed by ``shift`` (scalar or ``(n,)``)."""
        idx = self._idx(idx)
        shift = self._shift(shift, len(idx))
        self._check_valid(idx, shift)
        tok = self.tokens[idx].astype(np.int64)  # (n, 32)
        return np.where(tok < HOLD, tok + shift[:, None], tok)

    def melody_onehot(self, idx, shift=0) -> np.ndarray:
        """``(n, 32, 130)`` float32 one-hot melody of segments ``idx`` transposed by ``shift``."""
        tok = self.melody_tokens(idx, shift)
        out = np.zeros(tok.shape + (MELODY_DIM,), dtype=np.float32)
        np.put_along_axis(out, tok[..., None], 1.0, axis=-1)
        return out

    def chords(self, idx, shift=0) -> np.ndarray:
        """``(n, 8, 36)`` float32 chord vectors (one per beat) of segments ``idx`` transposed by ``shift``."""
        idx = self._idx(idx)
        shift = self._shift(shift, len(idx))
        vec = self._vocab_vec[self._chord_idx[idx]]  # (n, 8, 36)
        blocks = vec.reshape(len(idx), N_BEATS, 3, 12)
        src = (np.arange(12)[None, :] - shift[:, None]) % 12  # (n, 12): new[j] = old[j - shift]
        out = np.take_along_axis(blocks, src[:, None, None, :], axis=-1)
        return np.ascontiguousarray(out.reshape(len(idx), N_BEATS, CHORD_DIM))

    def prmat(self, idx, shift=0) -> np.ndarray:
        """``(n, 32, 128)`` float32 PolyDis ``pr_mat`` (duration in steps at each onset cell, <= 32)."""
        idx = self._idx(idx)
        shift = self._shift(shift, len(idx))
        self._check_valid(idx, shift)
        lo, hi = self._acc_lo[idx], self._acc_hi[idx]
        counts = hi - lo
        row = np.repeat(np.arange(len(idx)), counts)
        take = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(counts.sum())
        notes = self._acc[take]  # (M, 4)
        t = notes[:, 0] - self._starts[idx][row]
        p = notes[:, 2] + shift[row]
        d = np.clip(notes[:, 1], 1, MAX_DUR)
        out = np.zeros((len(idx), self.length, 128), dtype=np.float32)
        order = np.argsort(d, kind="stable")  # of two notes in one cell the longer is written last and kept
        out[row[order], t[order], p[order]] = d[order]
        return out

    # -- batches -------------------------------------------------------------------
    def random_shifts(self, rng: np.random.Generator, idx) -> np.ndarray:
        """One valid shift per segment, uniform over its valid :data:`SHIFTS` (0 is always valid)."""
        valid = self.valid_shifts(idx)  # (n, 12)
        u = rng.random(valid.shape)
        u[~valid] = -1.0
        return SHIFTS[u.argmax(axis=1)]

    def batch(self, idx, shift=0, *, parts=PARTS) -> dict:
        """Torch tensors of segments ``idx``: any of ``melody`` ``(B, 32, 130)`` float, ``tokens``
        ``(B, 32)`` long, ``chords`` ``(B, 8, 36)`` float, ``prmat`` ``(B, 32, 128)`` float; plus
        ``index`` and ``shift`` ``(B,)`` long."""
        idx = self._idx(idx)
        shift = self._shift(shift, len(idx)).copy()
        bad = sorted(set(parts) - set(PARTS))
        if bad:
            raise ParameterError(f"given parts={tuple(parts)!r}; expected names from {PARTS}")
        out = {"index": torch.from_numpy(idx.copy()), "shift": torch.from_numpy(shift)}
        if "tokens" in parts or "melody" in parts:
            tok = self.melody_tokens(idx, shift)
            if "tokens" in parts:
                out["tokens"] = torch.from_numpy(tok)
            if "melody" in parts:
                out["melody"] = torch.nn.functional.one_hot(torch.from_numpy(tok), MELODY_DIM).float()
        if "chords" in parts:
            out["chords"] = torch.from_numpy(self.chords(idx, shift))
        if "prmat" in parts:
            out["prmat"] = torch.from_numpy(self.prmat(idx, shift))
        return out

    def sample_batch(self, rng: np.random.Generator, batch_size: int, augment: bool = True, *, parts=PARTS) -> dict:
        """A random batch (segments uniform with replacement; with ``augment`` a random valid
        transposition each), as :meth:`batch`."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ParameterError(f"given batch_size={batch_size!r}; expected a positive integer")
        if self.n == 0:
            raise ParameterError("cannot sample from an empty segment set")
        idx = rng.integers(0, self.n, size=int(batch_size))
        shift = self.random_shifts(rng, idx) if augment else np.zeros(len(idx), np.int64)
        return self.batch(idx, shift, parts=parts)

    def fixed_subset(self, n: int, *, seed: int = 0) -> np.ndarray:
        """``min(n, len)`` sorted segment indices drawn without replacement (seeded): a fixed validation subset."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ParameterError(f"given n={n!r}; expected a positive integer")
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(self.n, size=min(int(n), self.n), replace=False)).astype(np.int64)


def synthetic_segment_set(n_songs: int = 4, *, n_beats: int = 24, split: str = "train", seed: int = 0):
    """A :class:`~collage.datasets.pop909.SegmentSet` of random songs built in code (tests, smoke runs
    without POP909): a monophonic melody of quarter and eighth notes with rests, block-chord
    accompaniment on each beat, one chord label per 2 beats; windows as :func:`pop909_segments` cuts them."""
    for name, v in (("n_songs", n_songs), ("n_beats", n_beats)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ParameterError(f"given {name}={v!r}; expected a positive integer")
    if n_beats < SEGMENT_BEATS:
        raise ParameterError(f"given n_beats={n_beats}; expected >= {SEGMENT_BEATS} (one window)")
    rng = np.random.default_rng(seed)
    spb, length = 4, SEGMENT_BEATS * 4
    parts = {k: [] for k in ("mel", "acc", "mw", "aw", "mc", "ac", "starts", "sid", "nsteps", "chords", "nbeats")}
    for s in range(1, n_songs + 1):
        mel, t = [], 0
        while t < n_beats * spb:
            dur = int(rng.choice([2, 4, 8]))
            if rng.random() < 0.8:
                mel.append([t, dur, int(rng.integers(55, 80)), 90])
            t += dur
        mel = np.array(mel, np.int64).reshape(-1, 4)
        roots = rng.integers(0, 12, size=-(-n_beats // 2))
        labels = [f"{PITCH_NAMES[r]}:{'maj' if r % 2 else 'min'}" for r in roots.repeat(2)[:n_beats]]
        acc = np.array([[b * spb, spb, 48 + int(roots[b // 2]) + iv, 70] for b in range(n_beats) for iv in (0, 7, 12)],
                       np.int64)
        n_steps = n_beats * spb
        starts = window_starts(n_steps, length=length, stride=spb)
        mw, mp = crop_all(mel, starts, length)
        aw, ap = crop_all(acc, starts, length)
        mc, ac = np.diff(mp), np.diff(ap)
        keep = (mc > 0) & (ac > 0)
        parts["mel"].append(mel)
        parts["acc"].append(acc)
        parts["mw"].append(mw[np.repeat(keep, mc)])
        parts["aw"].append(aw[np.repeat(keep, ac)])
        parts["mc"].append(mc[keep])
        parts["ac"].append(ac[keep])
        parts["starts"].append(starts[keep])
        parts["sid"].append(np.full(int(keep.sum()), s, np.int32))
        parts["nsteps"].append(n_steps)
        parts["chords"].extend(labels)
        parts["nbeats"].append(len(labels))

    def ptr(counts):
        out = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=out[1:])
        return out

    vocab, beat_chord = np.unique(np.array(parts["chords"], dtype=str), return_inverse=True)
    return SegmentSet({
        "mel_notes": np.concatenate(parts["mw"]).astype(np.int16),
        "mel_ptr": ptr(np.concatenate(parts["mc"])),
        "acc_notes": np.concatenate(parts["aw"]).astype(np.int16),
        "acc_ptr": ptr(np.concatenate(parts["ac"])),
        "song_ids": np.concatenate(parts["sid"]),
        "starts": np.concatenate(parts["starts"]).astype(np.int32),
        "songs": np.arange(1, n_songs + 1, dtype=np.int32),
        "song_mel": np.concatenate(parts["mel"]).astype(np.int32),
        "song_mel_ptr": ptr([len(x) for x in parts["mel"]]),
        "song_acc": np.concatenate(parts["acc"]).astype(np.int32),
        "song_acc_ptr": ptr([len(x) for x in parts["acc"]]),
        "song_n_steps": np.array(parts["nsteps"], np.int64),
        "chord_vocab": vocab,
        "beat_chord": beat_chord.astype(np.int16),
        "beat_ptr": ptr(parts["nbeats"]),
        "meta": np.array([split, "beats", str(spb)]),
    })

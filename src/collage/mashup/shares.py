"""The second stage's costliest part stored at build time: each whole stem's SourceNet share, per stretch and phase.

>>> stored = ensure_shares("songs.db", names, scorer, feats)     # {song: {"h_share", "p_share"}}, memory-mapped
>>> H = gather_shares(stored, "harmonic", segments, seconds=25.0)  # (N, W, c1d, T'', 1), as FastScorer's shares

In :class:`~collage.mashup.fastscore.FastScorer` a stem segment costs one SourceNet pass per 8.2 s
window (about 3 ms for a 25 s mashup on one core), a pair of segments only the small head (about
0.02 ms). To look at every allowed segment, not only a shortlist, the SourceNets run once per song
at build time instead: over the *whole* stem, placed at each stretch of :data:`SHARE_RATIOS`
(the harmonic stem per pitch shift of :data:`~collage.mashup.fastscore.SHIFTS`), at :data:`SHARE_PHASES` offsets.
A candidate's share per window is then a slice of the stored sequence (the nearest stretch and
phase): no network runs. The slices approximate the per-window shares: a window's edges see the
stem around them instead of zero padding, the per-window mean (PreMixNet's ``time_mean`` input
norm) becomes a running mean over one window's length, the stretch is the nearest stored one (at
most 2.5 % off) and the start the nearest stored offset. So the first stage ranks segments by them
(:func:`collage.mashup.retrieval.shares_first_stage`); the second stage still computes its shares.

Stored as ``<db>.features/<song>/share-<model>/*.npy`` (``<model>``: a hash of the scorer's weights), read
memory-mapped; about 64 MB per 5-minute song (float16; `benchmarks/mashup_shares_error.py`).
"""

from __future__ import annotations

import hashlib
import os
from functools import partial
from typing import Mapping, Sequence

import numpy as np

from collage.mashup.fastscore import (FEATURE_VERSION, HARMONIC_VERSIONS, MEL_OVERSAMPLE, PERC_RATIOS, SHIFTS, FastScorer, _SILENT_DB,
                                      _gain_db, _harmonic_version, _interp, _scaled_db, _song_dir, nearest_stored, read_arrays,
                                      window_starts, write_arrays)
from collage.mashup.score import FEATURE_SR, HOP, WINDOW_FRAMES

__all__ = ["SHARE_RATIOS", "SHARE_PHASES", "stem_shares", "song_shares", "ensure_shares", "ensure_db_shares", "gather_shares",
           "distinct_windows"]

#: the stretches at which each stem's shares are stored, per role (each read from the nearest stored version of the
#: features, as the second stage reads them; the percussion's at 1.0 only for a ratio of exactly 1)
SHARE_RATIOS = {"harmonic": (0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2), "percussion": PERC_RATIOS}
#: offsets stored per stretch and share frame (8 model frames, 256 ms at stretch 1), per role: the harmonic stem's at
#: every model frame (32 ms), the percussion's at every quarter frame (8 ms), as its share changes about 3 % per
#: millisecond of placement (docs/results/mashup_placement_sensitivity.md); a window is read from the nearest
SHARE_PHASES = {"harmonic": 8, "percussion": 32}
_STEP = 8  # model frames (hop 512) per share frame: SourceNet pools time by 2 x 2 x 2


def _running_mean(x: np.ndarray, w: int = WINDOW_FRAMES) -> np.ndarray:
    """``(F, T)`` → each frame's per-row mean over the ``w`` frames around it (shifted inward at the ends)."""
    T = x.shape[1]
    c = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1, dtype=np.float64)], axis=1)
    lo = np.clip(np.arange(T) - w // 2, 0, max(T - w, 0))
    hi = np.minimum(lo + w, T)
    return ((c[:, hi] - c[:, lo]) / (hi - lo)).astype(np.float32)


def _placed_stem(mel_db: np.ndarray, ms: np.ndarray, peak: np.ndarray, r0: float, ratio: float,
                 shift: float = 0.0) -> np.ndarray:
    """The whole stem as the model reads it, stretched by ``ratio`` from a stored version at ``r0`` and started
    ``shift`` model frames late (a fraction of one): ``(64, T)``, scaled log-mel at the song's loudness gain, less
    its running mean (see the module doc)."""
    T = int(mel_db.shape[1] / MEL_OVERSAMPLE * r0 / ratio)
    m = _scaled_db(_interp(mel_db, (np.arange(T) + shift) * ratio * MEL_OVERSAMPLE / r0, _SILENT_DB, power=True),
                   _gain_db(ms, peak, 0.0, len(ms) / 10.0))
    return m - _running_mean(m)


def _silence(scorer: FastScorer, i: int) -> np.ndarray:
    """Source ``i``'s share of a silent window, one frame: ``(c1d,)``."""
    return scorer._share(i, np.zeros((1, scorer.cfg.n_mels, WINDOW_FRAMES), np.float32))[0, :, WINDOW_FRAMES // 16, 0].numpy()


def _sequence_shares(scorer: FastScorer, i: int, placed, phases: int, silence: np.ndarray) -> np.ndarray:
    """Source ``i``'s share of a whole placed stem at each of ``phases`` offsets a share frame: ``(phases, c1d, n)``;
    ``placed(shift)`` gives the stem ``(64, T)`` started ``shift`` model frames late (a fraction of one)."""
    torch, sub = scorer.torch, phases // _STEP
    ms = [placed(k / sub) for k in range(sub)]
    n = ms[0].shape[1] // _STEP
    res = np.repeat(np.repeat(silence[None, :, None], phases, 0), n, 2)
    for ph in range(phases):
        x = ms[ph % sub][:, ph // sub:]
        T = x.shape[1] // _STEP * _STEP
        if T == 0:
            continue
        x = torch.from_numpy(np.ascontiguousarray(x[None, :, :T]))
        with torch.no_grad():
            s = scorer._source_share(i, x)[0, :, :, 0]
        res[ph, :, : s.shape[1]] = s.numpy()
    return res


def stem_shares(scorer: FastScorer, feats: Mapping[str, np.ndarray], role: str, ratio: float,
                semitones: int = 0, *, silence: np.ndarray | None = None) -> np.ndarray:
    """The ``role`` stem of one song, shifted by ``semitones`` (harmonic) and stretched by ``ratio`` from the nearest
    stored version of its features, its SourceNet share at each of the role's :data:`SHARE_PHASES` offsets:
    ``(phases, c1d, n)`` float32, ``n`` share frames (256 ms each at stretch 1); ``silence``: the role's share of a
    silent frame (:func:`_silence`), computed when not given."""
    if role == "harmonic":
        k, i = _harmonic_version(semitones, ratio), 1
        placed = partial(_placed_stem, feats["h_mel"][k], feats["h_ms"][k], feats["h_peak"][k], HARMONIC_VERSIONS[k][1], ratio)
    else:
        k, i = int(nearest_stored(PERC_RATIOS, ratio, exact_one=True)), 2
        placed = partial(_placed_stem, feats["p_mel"][k], feats["p_ms"], feats["p_peak"], PERC_RATIOS[k], ratio)
    return _sequence_shares(scorer, i, placed, SHARE_PHASES[role], _silence(scorer, i) if silence is None else silence)


def song_shares(scorer: FastScorer, feats: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One song's stored shares from its features (:func:`~collage.mashup.fastscore.song_features`):
    ``h_share (len(SHIFTS), len(SHARE_RATIOS["harmonic"]), phases, c1d, n)`` and ``p_share
    (len(SHARE_RATIOS["percussion"]), phases, c1d, n)`` float16 (:func:`stem_shares` at each stored shift and
    stretch); a stem the song lacks is left out. About 20 s per 5-minute song on one core."""
    out = {"h_silence": _silence(scorer, 1), "p_silence": _silence(scorer, 2)}
    if "h_mel" in feats:
        rows = [stem_shares(scorer, feats, "harmonic", r, s, silence=out["h_silence"])
                for s in SHIFTS for r in SHARE_RATIOS["harmonic"]]
        out["h_share"] = _stack(rows, out["h_silence"]).reshape(len(SHIFTS), len(SHARE_RATIOS["harmonic"]),
                                                                 *rows[0].shape[:2], -1)
    if "p_mel" in feats:
        out["p_share"] = _stack([stem_shares(scorer, feats, "percussion", r, silence=out["p_silence"])
                                 for r in SHARE_RATIOS["percussion"]], out["p_silence"])
    return out


def _stack(rows: Sequence[np.ndarray], silence: np.ndarray) -> np.ndarray:
    """``(P, c, n_i)`` arrays → ``(len, P, c, max n_i)`` float16, the shorter ones padded with the silent share."""
    n = max(r.shape[-1] for r in rows)
    out = np.repeat(np.repeat(silence[None, None, :, None], len(rows), 0), rows[0].shape[0], 1).repeat(n, 3)
    for i, r in enumerate(rows):
        out[i, :, :, : r.shape[-1]] = r
    return out.astype(np.float16)


def model_tag(scorer: FastScorer) -> str:
    """A short hash of the scorer's weights and of how the shares are stored: stored shares belong to one model
    and one layout (:data:`SHARE_RATIOS`, :data:`SHARE_PHASES`, the features' version)."""
    h = hashlib.sha256(repr((sorted(SHARE_RATIOS.items()), sorted(SHARE_PHASES.items()), PERC_RATIOS, SHIFTS, FEATURE_VERSION)).encode())
    for k, v in sorted(scorer.model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().numpy().tobytes())
    return h.hexdigest()[:12]


def ensure_shares(db_path: str | os.PathLike, names, scorer: FastScorer, features, *,
                  report=None) -> dict[str, dict[str, np.ndarray]]:
    """The stored shares of the songs ``names``, computed from their features where missing and stored;
    ``features(names)`` gives the songs' features (:func:`~collage.mashup.fastscore.ensure_features`);
    ``report(done, total)`` is called as the missing ones are computed (about 20 s each).

    Raises:
        OutputError: the features folder cannot be written.
    """
    tag, out, todo = model_tag(scorer), {}, []
    for n in names:
        d = _song_dir(db_path, n) / f"share-{tag}"
        if d.is_dir():
            out[n] = read_arrays(d)
        else:
            todo.append((n, d))
    for i, (n, d) in enumerate(todo):
        if report:
            report(i, len(todo))
        write_arrays(d, song_shares(scorer, features({n})[n]), "the SourceNet shares")
        out[n] = read_arrays(d)
    if todo and report:
        report(len(todo), len(todo))
    return out


def ensure_db_shares(db_path: str | os.PathLike, names, *, scorer: FastScorer | None = None,
                     progress: bool = False) -> int:
    """Store the shares of every song of ``names`` (a MashupDB's) that lacks them, one song at a time; returns how
    many were computed.

    Raises:
        InvalidInputError / InvalidAudioError: the DB or a stem cannot be read.
        OutputError: the features folder cannot be written.
    """
    # deferred: dbclips imports the analysis (librosa models)
    from collage.mashup.dbclips import clips_from_db
    from collage.mashup.fastscore import ensure_features
    from collage.mashup.score import load_scorer
    from collage.progress import track

    scorer = scorer or FastScorer(load_scorer("premixnet"))
    tag = model_tag(scorer)
    todo = [n for n in names if not (_song_dir(db_path, n) / f"share-{tag}").is_dir()]
    for n in track(todo, "storing SourceNet shares", show=progress and bool(todo)):
        ensure_shares(db_path, [n], scorer, lambda ns: ensure_features(db_path, clips_from_db(db_path, names=set(ns))))
    return len(todo)


def distinct_windows(seconds: float) -> np.ndarray:
    """The model windows of a ``seconds`` mashup that overlap the one before by less than half (the last window,
    flush with the end, often repeats most of the one before it): indices into the ``W`` windows."""
    st = window_starts(seconds)
    return np.asarray([0] + [i for i in range(1, len(st)) if st[i] - st[i - 1] >= WINDOW_FRAMES // 2], np.int64)


def gather_shares(stored: Mapping[str, Mapping[str, np.ndarray]], role: str, segments: Sequence[tuple], *,
                  seconds: float) -> np.ndarray:
    """The stored shares of stem segments as :meth:`~collage.mashup.fastscore.FastScorer.score` uses its own:
    ``segments`` ``[(song, start_s, ratio, semitones)]`` (semitones 0 for percussion) → ``(N, W, c1d, T'', 1)``
    float32, ``W`` the windows of a ``seconds`` mashup."""
    nw, starts = WINDOW_FRAMES // _STEP, np.asarray(window_starts(seconds), np.float64)
    frames = starts[:, None] + _STEP * np.arange(nw)[None, :]  # (W, nw): each share frame's first model frame
    key, phases, grid = "h_share" if role == "harmonic" else "p_share", SHARE_PHASES[role], SHARE_RATIOS[role]
    sil = next(iter(stored.values()))[f"{key[0]}_silence"].astype(np.float32)
    out = np.empty((len(segments), len(starts), len(sil), nw), np.float32)
    if not len(segments):
        return out[..., None]
    start, ratio = (np.asarray([seg[i] for seg in segments], np.float64) for i in (1, 2))
    ri = nearest_stored(grid, ratio, exact_one=role == "percussion")
    r0 = np.asarray(grid)[ri]
    # each share frame from where its content lies in the stored sequence (the nearest stored offset): a stretch
    # off the stored one then only moves the frames, it does not accumulate within a window
    q = np.rint((start[:, None, None] * FEATURE_SR / HOP + frames[None] * ratio[:, None, None]) / r0[:, None, None]
                * phases / _STEP).astype(np.int64)  # (N, W, nw)
    ph, j = q % phases, q // phases
    for n, (song, _, _, semis) in enumerate(segments):
        S = stored[song][key][int(semis) - SHIFTS[0], ri[n]] if role == "harmonic" else stored[song][key][ri[n]]
        jn, size = j[n], S.shape[-1]
        if jn.min() >= 0 and jn.max() < size:
            out[n] = S[ph[n], :, jn].transpose(0, 2, 1)
        else:
            ok = (jn >= 0) & (jn < size)
            out[n] = np.where(ok[..., None], S[ph[n], :, np.clip(jn, 0, size - 1)], sil).transpose(0, 2, 1)
    return out[..., None]

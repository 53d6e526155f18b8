"""The second stage's costliest part stored at build time: each whole stem's SourceNet share, per stretch and phase.

>>> stored = ensure_shares("songs.db", names, scorer, feats)     # {song: {"h_share", "p_share"}}, memory-mapped
>>> H = gather_shares(stored, "harmonic", segments, seconds=25.0)  # (N, W, c1d, T'', 1), as FastScorer's shares

In :class:`~collage.mashup.fastscore.FastScorer` a stem segment costs one SourceNet pass per 8.2 s
window (about 4.4 ms for a 25 s mashup on one core), a pair of segments only the small head (about
0.05 ms). To look at every allowed segment, not only a shortlist, the SourceNets run once per song
at build time instead: over the *whole* stem, placed at each stretch of :data:`SHARE_RATIOS`
(harmonic, per pitch shift of :data:`~collage.mashup.fastscore.SHIFTS`) or
:data:`~collage.mashup.fastscore.PERC_RATIOS` (percussion), at :data:`SHARE_PHASES` frame offsets.
A candidate's share per window is then a slice of the stored sequence (the nearest stretch and
phase): no network runs. The slices approximate the per-window shares: a window's edges see the
stem around them instead of zero padding, the per-window mean (PreMixNet's ``time_mean`` input
norm) becomes a running mean over one window's length, the stretch is the nearest stored one (at
most 2.5 % off) and the start the nearest even frame. So the first stage ranks segments by them
(:func:`collage.mashup.retrieval.shares_first_stage`); the second stage still computes its shares.

Stored as ``<db>.features/<song>/share-<model>/*.npy`` (``<model>``: a hash of the scorer's weights), read
memory-mapped; about 22 MB per 5-minute song (float16).
"""

from __future__ import annotations

import hashlib
import os
from typing import Mapping, Sequence

import numpy as np

from collage.mashup.fastscore import (FEATURE_VERSION, HARMONIC_VERSIONS, MEL_OVERSAMPLE, PERC_RATIOS, SHIFTS, FastScorer, _SILENT_DB,
                                      _frames, _gain_db, _harmonic_version, _interp, _song_dir, read_arrays, write_arrays)
from collage.mashup.score import FEATURE_SR, HOP, WINDOW_FRAMES

__all__ = ["SHARE_RATIOS", "SHARE_PHASES", "song_shares", "ensure_shares", "ensure_db_shares", "gather_shares",
           "distinct_windows"]

#: the stretches at which each harmonic stem's shares are stored (the percussion's: PERC_RATIOS)
SHARE_RATIOS = (0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2)
#: frame offsets stored per stretch: windows then start on every 2nd model frame (64 ms)
SHARE_PHASES = 8
_STEP = 8  # model frames (hop 512) per share frame: SourceNet pools time by 2 x 2 x 2
_OFFSET = _STEP // SHARE_PHASES  # model frames between two stored phases


def _running_mean(x: np.ndarray, w: int = WINDOW_FRAMES) -> np.ndarray:
    """``(F, T)`` → each frame's per-row mean over the ``w`` frames around it (shifted inward at the ends)."""
    T = x.shape[1]
    c = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1, dtype=np.float64)], axis=1)
    lo = np.clip(np.arange(T) - w // 2, 0, max(T - w, 0))
    hi = np.minimum(lo + w, T)
    return ((c[:, hi] - c[:, lo]) / (hi - lo)).astype(np.float32)


def _placed_stem(mel_db: np.ndarray, ms: np.ndarray, peak: np.ndarray, r0: float, ratio: float) -> np.ndarray:
    """The whole stem as the model reads it, stretched by ``ratio`` from a stored version at ``r0``: ``(64, T)``,
    scaled log-mel at the song's loudness gain, less its running mean (see the module doc)."""
    T = int(mel_db.shape[1] / MEL_OVERSAMPLE * r0 / ratio)
    power = _interp(mel_db, np.arange(T) * ratio * MEL_OVERSAMPLE / r0, _SILENT_DB, power=True)
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(np.maximum(power, 1e-30)) + _gain_db(ms, peak, 0.0, len(ms) / 10.0)
    m = ((np.clip(db, -90.0, 30.0) + 30.0) / 30.0).astype(np.float32)
    return m - _running_mean(m)


def _silence(scorer: FastScorer, i: int) -> np.ndarray:
    """Source ``i``'s share of a silent window, one frame: ``(c1d,)``."""
    return scorer._share(i, np.zeros((1, scorer.cfg.n_mels, WINDOW_FRAMES), np.float32))[0, :, WINDOW_FRAMES // 16, 0].numpy()


def _sequence_shares(scorer: FastScorer, i: int, m: np.ndarray, silence: np.ndarray) -> np.ndarray:
    """Source ``i``'s share of a whole placed stem ``m`` (64, T) at each phase: ``(SHARE_PHASES, c1d, n)``."""
    torch, n = scorer.torch, m.shape[1] // _STEP
    res = np.repeat(np.repeat(silence[None, :, None], SHARE_PHASES, 0), n, 2)
    for ph in range(SHARE_PHASES):
        x = m[:, _OFFSET * ph:]
        T = x.shape[1] // _STEP * _STEP
        if T == 0:
            continue
        x = torch.from_numpy(np.ascontiguousarray(x[:, :T]))
        with torch.no_grad():
            h = x.reshape(1, x.shape[0], T // 2, 2).mean(-1).transpose(1, 2).contiguous().unsqueeze(1)
            s = torch.nn.functional.conv2d(scorer._sources[i](h), scorer._w[i], padding=scorer._pad)[0, :, :, 0]
        res[ph, :, : s.shape[1]] = s.numpy()
    return res


def song_shares(scorer: FastScorer, feats: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One song's stored shares from its features (:func:`~collage.mashup.fastscore.song_features`):
    ``h_share (len(SHIFTS), len(SHARE_RATIOS), SHARE_PHASES, c1d, n)`` and ``p_share (len(PERC_RATIOS),
    SHARE_PHASES, c1d, n)`` float16, ``n`` share frames (256 ms each at stretch 1); a stem the song lacks is left out.
    About 10 s per 5-minute song on one core."""
    out = {}
    if "h_mel" in feats:
        sil = _silence(scorer, 1)
        rows = []
        for s in SHIFTS:
            for r in SHARE_RATIOS:
                k = _harmonic_version(s, r)
                m = _placed_stem(feats["h_mel"][k], feats["h_ms"][k], feats["h_peak"][k], HARMONIC_VERSIONS[k][1], r)
                rows.append(_sequence_shares(scorer, 1, m, sil))
        out["h_share"] = _stack(rows, sil).reshape(len(SHIFTS), len(SHARE_RATIOS), *rows[0].shape[:2], -1)
    if "p_mel" in feats:
        sil = _silence(scorer, 2)
        rows = [_sequence_shares(scorer, 2, _placed_stem(feats["p_mel"][k], feats["p_ms"], feats["p_peak"], r, r), sil)
                for k, r in enumerate(PERC_RATIOS)]
        out["p_share"] = _stack(rows, sil)
    out["h_silence"], out["p_silence"] = _silence(scorer, 1), _silence(scorer, 2)
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
    h = hashlib.sha256(repr((SHARE_RATIOS, SHARE_PHASES, PERC_RATIOS, SHIFTS, FEATURE_VERSION)).encode())
    for k, v in sorted(scorer.model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().numpy().tobytes())
    return h.hexdigest()[:12]


def ensure_shares(db_path: str | os.PathLike, names, scorer: FastScorer, features, *,
                  report=None) -> dict[str, dict[str, np.ndarray]]:
    """The stored shares of the songs ``names``, computed from their features where missing and stored;
    ``features(names)`` gives the songs' features (:func:`~collage.mashup.fastscore.ensure_features`);
    ``report(done, total)`` is called as the missing ones are computed (about 10 s each).

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


def _window_starts(seconds: float) -> list[int]:
    """The first frame of each model window of a ``seconds`` mashup (as :func:`~collage.mashup.score.windows`)."""
    T = _frames(seconds)
    if T <= WINDOW_FRAMES:
        return [0]
    st = list(range(0, T - WINDOW_FRAMES + 1, WINDOW_FRAMES))
    return st + [T - WINDOW_FRAMES] if st[-1] + WINDOW_FRAMES < T else st


def distinct_windows(seconds: float) -> np.ndarray:
    """The model windows of a ``seconds`` mashup that overlap the one before by less than half (the last window,
    flush with the end, often repeats most of the one before it): indices into the ``W`` windows."""
    st = _window_starts(seconds)
    return np.asarray([0] + [i for i in range(1, len(st)) if st[i] - st[i - 1] >= WINDOW_FRAMES // 2], np.int64)


def _nearest(grid: Sequence[float], ratio: float, *, exact_one: bool) -> int:
    g = np.asarray([r if r != 1.0 or ratio == 1.0 or not exact_one else np.inf for r in grid])
    return int(np.argmin(np.abs(g - ratio)))


def gather_shares(stored: Mapping[str, Mapping[str, np.ndarray]], role: str, segments: Sequence[tuple], *,
                  seconds: float) -> np.ndarray:
    """The stored shares of stem segments as :meth:`~collage.mashup.fastscore.FastScorer.score` uses its own:
    ``segments`` ``[(song, start_s, ratio, semitones)]`` (semitones 0 for percussion) → ``(N, W, c1d, T'', 1)``
    float32, ``W`` the windows of a ``seconds`` mashup."""
    nw, starts = WINDOW_FRAMES // _STEP, np.asarray(_window_starts(seconds), np.float64)
    frames = starts[:, None] + _STEP * np.arange(nw)[None, :]  # (W, nw): each share frame's first model frame
    key = "h_share" if role == "harmonic" else "p_share"
    sil = next(iter(stored.values()))[f"{key[0]}_silence"].astype(np.float32)
    out = np.empty((len(segments), len(starts), len(sil), nw), np.float32)
    out[:] = sil[None, None, :, None]
    for n, (song, start, ratio, semis) in enumerate(segments):
        if role == "harmonic":
            ri = _nearest(SHARE_RATIOS, ratio, exact_one=False)
            S, r0 = stored[song][key][int(semis) - SHIFTS[0], ri], SHARE_RATIOS[ri]
        else:
            ri = _nearest(PERC_RATIOS, ratio, exact_one=True)
            S, r0 = stored[song][key][ri], PERC_RATIOS[ri]
        # each share frame from where its content lies in the stored sequence (the nearest even frame): a stretch
        # off the stored one then only moves the frames, it does not accumulate within a window
        q = np.rint((start * FEATURE_SR / HOP + frames * ratio) / r0 / _OFFSET).astype(np.int64) * _OFFSET  # (W, nw)
        ph, j = (q % _STEP) // _OFFSET, q // _STEP
        ok = (j >= 0) & (j < S.shape[-1])
        out[n] = np.where(ok[:, None, :], S[ph, :, np.clip(j, 0, S.shape[-1] - 1)].transpose(0, 2, 1), out[n])
    return out[..., None]

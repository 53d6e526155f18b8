"""The second stage of retrieval at query-time cost: PreMixNet on stem features computed once per song.

>>> feats = ensure_features("songs.db", names)                 # per song, computed on first use, kept on disk
>>> scorer = FastScorer(load_scorer("premixnet"))
>>> q = scorer.vocal(seed, vocal_start_s=0.0, seconds=25.0)    # the vocal: exact, once per query
>>> scorer.score(q, cands, feats)                              # (N,) PreMixNet probabilities

What :func:`collage.mashup.retrieval.score_candidates` does per candidate (shift and stretch the
stems with Rubber Band, normalise each to -14 LUFS, log-mel and chroma, the network) is split
into what does not depend on the vocal, computed once per song, and what does:

- **per song** (:func:`song_features`, at :data:`~collage.mashup.score.FEATURE_SR`): the harmonic
  stem pitch-shifted by each allowed shift (:data:`HARMONIC_VERSIONS`, Rubber Band fast mode, the whole stem),
  and for each its log-mel power in dB (64 x T at hop 256, unclipped), its chroma energy (12 x T, unscaled) and
  its K-weighted mean square and peak per 100 ms (BS.1770); the percussion stem unshifted, stretched
  by each of :data:`PERC_RATIOS`, without chroma. Stored as ``<db>.features/<song>/*.npy``, read memory-mapped.
- **per candidate**: the time stretch is applied to the features: output frame ``t`` reads the
  source at ``start + t * ratio`` frames (linear interpolation of power; Rubber Band keeps the
  spectrum and moves it in time). The stem's loudness normalisation is a gain from the stored
  100 ms energies (gated as BS.1770), added to the dB mel before the model's clip; the chroma is
  scaled by the window's maximum as :func:`~collage.mashup.score.chroma` does.
- **the network in parts**: each source's SourceNet and its share of the first frame-wise
  convolution (linear, so the three shares add up exactly) run once per stem segment; only the
  rest of the head runs per pair, so scoring every pair of H harmonic and P percussion segments
  costs H + P SourceNets and H x P small heads.

The approximations (stretch on features, loudness from stored energies, the whole stem shifted at
once, frames at the window's edges) change the scores a little; their agreement with the exact
path is measured in ``docs/results/mashup_fast_second_stage.md``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

import librosa
import numpy as np

from collage.audio.mix import normalize_loudness
from collage.audio.stretch import stretch
from collage.errors import OutputError, ParameterError
from collage.mashup.generate import MAX_KEY_DISTANCE, Candidate, Clip, place_stem
from collage.mashup.score import CHROMA_FFT, FEATURE_SR, FMAX, HOP, N_FFT, N_MELS, WINDOW_FRAMES, chroma, mel, windows

__all__ = ["FEATURE_VERSION", "SHIFTS", "PERC_RATIOS", "HARMONIC_VERSIONS", "song_features", "features_dir", "ensure_features", "PairSides",
           "ensure_db_features", "read_arrays", "write_arrays", "placed_features", "placed_chroma", "window_starts", "nearest_stored",
           "FastScorer", "VocalQuery"]

#: Bumped when the stored features change; older files are recomputed.
FEATURE_VERSION = 3
#: The pitch shifts (semitones) stored for each harmonic stem: every shift a matched candidate can need.
SHIFTS = tuple(range(-MAX_KEY_DISTANCE, MAX_KEY_DISTANCE + 1))
_BLOCK = 1600  # samples per 100 ms at FEATURE_SR: the BS.1770 block step
#: mel frames are stored this many times per model frame (hop 256): a stretch reads the source between
#: frames, and at hop 512 interpolation smears percussive onsets (measured: mean error 0.11 -> 0.06)
MEL_OVERSAMPLE = 2
#: speed factors at which the percussion stem is stored stretched (Rubber Band fast mode): a candidate's
#: stretch starts from the nearest one and only the rest (at most 1.5 %) is applied to the features, since
#: Rubber Band's own stretch changes a drum's envelope in ways interpolating frames does not. 1.0 is the
#: stem as it is, used only for a ratio of exactly 1 (the exact path then leaves it unprocessed too); any
#: other ratio starts from a stretched one (0.98 and 1.02 near 1), as even a tiny stretch smears clicks.
PERC_RATIOS = (0.8, 0.85, 0.9, 0.95, 0.98, 1.0, 1.02, 1.05, 1.1, 1.15, 1.2)
#: the harmonic stem's stored versions, (semitones, speed factor): each allowed shift, and shift 0 also
#: through Rubber Band (stretched by 1.02), the start for a candidate that is stretched but not shifted
HARMONIC_VERSIONS = tuple((s, 1.0) for s in SHIFTS) + ((0, 1.02),)
_SILENT_DB = -200.0
_DB_TO_LN_POWER = np.float32(np.log(10.0) / 10.0)  # dB -> natural log of the power
_DB_PER_LOG2 = np.float32(10.0 * np.log10(2.0))  # log2 of the power -> dB
_TARGET_LUFS, _PEAK = -14.0, 0.99


def _mel_db(y: np.ndarray) -> np.ndarray:
    S = librosa.feature.melspectrogram(y=y, sr=FEATURE_SR, n_fft=N_FFT, hop_length=HOP // MEL_OVERSAMPLE, n_mels=N_MELS,
                                       fmax=FMAX)
    return librosa.power_to_db(S, ref=1.0, amin=1e-20, top_db=None).astype(np.float32)


def _chroma_energy(y: np.ndarray) -> np.ndarray:
    return librosa.feature.chroma_stft(y=y, sr=FEATURE_SR, n_fft=CHROMA_FFT, hop_length=HOP, norm=None,
                                       tuning=0.0).astype(np.float32)


def _k_blocks(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """K-weighted mean square and peak |y| per 100 ms: ``(n,)`` → two ``(ceil(n / 1600),)``."""
    # deferred: pyloudnorm (1 s to import, with scipy) loads on first use
    import pyloudnorm

    k = np.asarray(y, np.float64)
    for f in pyloudnorm.Meter(FEATURE_SR)._filters.values():
        k = f.apply_filter(k)
    n = -(-len(y) // _BLOCK)
    pad = lambda a: np.pad(a, (0, n * _BLOCK - len(a))).reshape(n, _BLOCK)  # noqa: E731
    return (pad(k) ** 2).mean(1).astype(np.float32), np.abs(pad(np.asarray(y, np.float32))).max(1)


def song_features(harmonic: np.ndarray | None, percussion: np.ndarray | None) -> dict[str, np.ndarray]:
    """The per-song arrays (audio at :data:`FEATURE_SR`): ``h_mel (len(HARMONIC_VERSIONS), 64, T)`` float16 dB at hop
    256, ``h_chroma (len(HARMONIC_VERSIONS), 12, T / 2)`` float32 (hop 512), ``h_ms``, ``h_peak (len(HARMONIC_VERSIONS),
    n_100ms)`` float32; ``p_mel
    (len(PERC_RATIOS), 64, T)`` (stretched by each of :data:`PERC_RATIOS`), ``p_ms``, ``p_peak``; a stem that is None is left out."""
    out: dict[str, np.ndarray] = {"version": np.asarray(FEATURE_VERSION)}
    if harmonic is not None:
        mels, chs, mss, pks = [], [], [], []
        for s, r in HARMONIC_VERSIONS:
            y = np.asarray(harmonic, np.float32)
            if s or r != 1.0:
                y = stretch(y, FEATURE_SR, ratio=r, semitones=float(s), high_quality=False)
            mels.append(_mel_db(y))
            chs.append(_chroma_energy(y))
            ms, pk = _k_blocks(y)
            mss.append(ms)
            pks.append(pk)
        out |= {"h_mel": _stack(mels, _SILENT_DB).astype(np.float16), "h_chroma": _stack(chs, 0.0),
                "h_ms": _stack([m[None] for m in mss], 0.0)[:, 0], "h_peak": _stack([p[None] for p in pks], 0.0)[:, 0]}
    if percussion is not None:
        y = np.asarray(percussion, np.float32)
        ms, pk = _k_blocks(y)
        mels = [_mel_db(stretch(y, FEATURE_SR, ratio=r, high_quality=False) if r != 1.0 else y) for r in PERC_RATIOS]
        out |= {"p_mel": _stack(mels, _SILENT_DB).astype(np.float16), "p_ms": ms, "p_peak": pk}
    return out


def _stack(arrays: Sequence[np.ndarray], fill: float) -> np.ndarray:
    """``(R, T_i)`` arrays → ``(n, R, max T_i)``, the shorter ones padded with ``fill``."""
    out = np.full((len(arrays), arrays[0].shape[0], max(a.shape[1] for a in arrays)), fill, np.float32)
    for i, a in enumerate(arrays):
        out[i, :, : a.shape[1]] = a
    return out


def features_dir(db_path: str | os.PathLike) -> Path:
    """Where a MashupDB's per-song features live: ``<db>.features/<song>/NAME.npy`` beside the DB file."""
    return Path(str(db_path) + ".features")


def _song_dir(db_path, name: str) -> Path:
    return features_dir(db_path) / re.sub(r"[^A-Za-z0-9._-]", "_", str(name))


def _read(d: Path) -> dict[str, np.ndarray] | None:
    """A song's stored features, memory-mapped (a query reads only the frames it needs); None when
    missing or of another :data:`FEATURE_VERSION`."""
    v = d / "version.npy"
    if not v.is_file() or int(np.load(v)) != FEATURE_VERSION:
        return None
    return read_arrays(d)


def read_arrays(d: Path) -> dict[str, np.ndarray]:
    """``{NAME: array}`` of the folder's ``NAME.npy`` files, memory-mapped (a query reads only the frames it needs): plain
    read-only arrays over the maps (indexing an ``np.memmap`` runs a Python layer, a few microseconds a read)."""
    return {f.stem: np.asarray(np.load(f, mmap_mode="r")) for f in d.glob("*.npy")}


def write_arrays(d: Path, arrays: Mapping[str, np.ndarray], what: str) -> None:
    """``d/NAME.npy`` for each array; the folder appears whole or not at all (``what`` names it in the error)."""
    try:
        d.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=d.name + ".", dir=d.parent))
        for k, v in arrays.items():
            np.save(tmp / f"{k}.npy", v)
        if d.exists():
            shutil.rmtree(d)
        os.replace(tmp, d)
    except OSError as e:
        raise OutputError(d, f"cannot store {what} ({e.strerror or e})") from None


def ensure_features(db_path: str | os.PathLike, clips: Sequence[Clip]) -> dict[str, dict[str, np.ndarray]]:
    """The features of each clip's song (``clip.id`` is the DB's song name), read from
    ``<db>.features/`` or computed from the clip's stems and stored there (a song's folder appears whole
    or not at all).

    Raises:
        InvalidAudioError: a stem cannot be read.
        OutputError: the features folder cannot be written.
    """
    out = {}
    for c in clips:
        d = _song_dir(db_path, c.id)
        got = _read(d)
        if got is None:
            feats = song_features(c.stem("harmonic") if "harmonic" in c.stems else None,
                                  c.stem("percussion") if "percussion" in c.stems else None)
            write_arrays(d, feats, "the features")
            got = _read(d)
        out[c.id] = got
    return out


def ensure_db_features(db_path: str | os.PathLike, *, progress: bool = False) -> int:
    """Store the features of every song of a MashupDB that lacks them; returns how many songs were done.

    Raises:
        InvalidInputError: the DB cannot be read.
        OutputError: the features folder cannot be written.
    """
    # deferred: dbclips imports the analysis (librosa models); fastscore is imported by retrieval anyway
    from collage.mashup.dbclips import clips_from_db
    from collage.progress import track

    todo = [c for c in clips_from_db(db_path) if _read(_song_dir(db_path, c.id)) is None]
    for i in track(range(len(todo)), "storing stem features", show=progress and bool(todo)):
        ensure_features(db_path, [todo[i]])
        todo[i] = None  # its audio can go
    return len(todo)


def _gated_lufs(z: np.ndarray) -> float:
    """BS.1770 integrated loudness from 400 ms block mean squares ``z`` (mono)."""
    with np.errstate(divide="ignore"):
        lj = -0.691 + 10 * np.log10(z)
    z = z[lj >= -70.0]
    if z.size == 0:
        return float("-inf")
    gamma_r = -0.691 + 10 * np.log10(z.mean()) - 10.0
    with np.errstate(divide="ignore"):
        keep = z[-0.691 + 10 * np.log10(z) > gamma_r]
    return float(-0.691 + 10 * np.log10(keep.mean())) if keep.size else float("-inf")


def _gain_db(ms: np.ndarray, peak: np.ndarray, src0: float, src_seconds: float) -> float:
    """The gain (dB) :func:`~collage.audio.mix.normalize_loudness` would apply to the source span
    [src0, src0 + src_seconds) s, from its 100 ms K-weighted mean squares and peaks."""
    a, b = int(np.floor(src0 * 10 + 1e-6)), int(np.ceil((src0 + src_seconds) * 10 - 1e-6))
    idx = np.arange(a, b)
    ok = (idx >= 0) & (idx < len(ms))
    m = np.where(ok, ms[np.clip(idx, 0, len(ms) - 1)], 0.0)
    if len(m) < 4:
        return 0.0
    z = np.convolve(m, np.ones(4) / 4, mode="valid")  # 400 ms blocks every 100 ms
    lufs = _gated_lufs(z)
    pk = float(np.max(np.where(ok, peak[np.clip(idx, 0, len(peak) - 1)], 0.0)))
    gain = 0.0 if not np.isfinite(lufs) or lufs < -70.0 else _TARGET_LUFS - lufs
    if pk > 0 and pk * 10 ** (gain / 20) > _PEAK:
        gain = 20 * np.log10(_PEAK / pk)
    return float(gain)


def _frames(seconds: float) -> int:
    return 1 + int(round(seconds * FEATURE_SR)) // HOP  # as librosa's centred frames of the placed stem


def _interp(x: np.ndarray, u: np.ndarray, fill: float, *, power: bool = False) -> np.ndarray:
    """Columns of ``x`` (R, T) read at fractional frames ``u`` (linear), ``fill`` outside; with ``power``,
    ``x`` is in dB and the interpolation is of the power (the result too)."""
    i0 = np.floor(u).astype(np.int64)
    w = (u - i0).astype(np.float32)
    T = x.shape[1]
    lo, hi = min(max(int(i0.min()), 0), T), min(max(int(i0.max()) + 2, 0), T)  # np.clip on a scalar is slow
    n = hi - lo
    if power:
        fill = 10.0 ** (fill / 10.0)
    if n == 0:
        return np.full((x.shape[0], len(u)), fill, np.float32)
    # only the frames read (x may be memory-mapped), between two columns of ``fill``: a frame outside reads one
    xs = np.empty((x.shape[0], n + 2), np.float32)
    body = xs[:, 1:-1]
    if power and x.dtype == np.float16:  # one lookup per frame instead of a cast (slow in numpy) and an exp
        np.take(_f16_power(), x[:, lo:hi].view(np.uint16), out=body, mode="clip")
    else:
        body[:] = x[:, lo:hi]
        if power:  # exp: 3x faster than 10 ** x in float32
            np.multiply(body, _DB_TO_LN_POWER, out=body)
            np.exp(body, out=body)
    xs[:, 0] = xs[:, -1] = fill
    j = i0 - (lo - 1)
    a, b = xs[:, np.clip(j, 0, n + 1)], xs[:, np.clip(j + 1, 0, n + 1)]
    a *= 1 - w
    b *= w
    a += b
    return a


@functools.cache
def _f16_power() -> np.ndarray:
    """``(65536,)`` float32: the power of each float16 number read as dB, by its bits (what :func:`_interp` computes
    from float16 dB, exactly: ``exp(float32(x) * ln(10) / 10)``)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.exp(np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float32) * _DB_TO_LN_POWER)


def _scaled_db(power: np.ndarray, gain_db: float) -> np.ndarray:
    """Power (float32) → the model's scaled log-mel, in place: ``(clip(dB + gain_db, -90, 30) + 30) / 30``."""
    np.maximum(power, 1e-30, out=power)
    np.log2(power, out=power)  # log2: 5x faster than log10 in float32
    power *= _DB_PER_LOG2
    power += gain_db
    np.clip(power, -90.0, 30.0, out=power)
    power += 30.0
    power /= 30.0
    return power


def _harmonic_version(semitones: int, ratio: float) -> int:
    """Which of :data:`HARMONIC_VERSIONS` a harmonic segment shifted by ``semitones`` and stretched by ``ratio`` starts from."""
    if semitones not in SHIFTS:
        raise ParameterError(f"given semitones={semitones!r}; stored shifts are {SHIFTS[0]}..{SHIFTS[-1]}")
    return HARMONIC_VERSIONS.index((int(semitones), 1.0) if semitones or ratio == 1.0 else (0, 1.02))


def _source_frames(start_s: float, seconds: float, ratio: float, offset_s: float) -> tuple[float, np.ndarray]:
    """The source's start (s) and the source frame (hop 512, fractional) each output frame of the placed stem reads."""
    src0 = start_s - offset_s * ratio
    return src0, src0 * FEATURE_SR / HOP + np.arange(_frames(seconds)) * ratio


def nearest_stored(grid: Sequence[float], ratio, *, exact_one: bool) -> np.ndarray:
    """Index into ``grid`` (stored stretches) of the one nearest each ``ratio`` (a number or an array): ``ratio``'s
    shape, int. ``exact_one``: the grid's 1.0 (the stem unprocessed) only for a ratio of exactly 1, as the exact path
    leaves only such a stem unstretched."""
    r, g = np.asarray(ratio, np.float64), np.asarray(grid, np.float64)
    d = np.abs(g - r[..., None])
    if exact_one:
        d = np.where((g == 1.0) & (r[..., None] != 1.0), np.inf, d)
    return np.argmin(d, axis=-1)


def placed_chroma(feats: Mapping[str, np.ndarray], *, start_s: float, seconds: float, ratio: float = 1.0,
                  semitones: int = 0, offset_s: float = 0.0, frames: np.ndarray | None = None) -> np.ndarray:
    """The harmonic stem's ``(12, T)`` chroma as :func:`placed_features` gives it, without the log-mel; with ``frames``
    (output frame numbers), only those ``(12, len(frames))``, scaled by their own largest value."""
    k = _harmonic_version(semitones, ratio)
    _, u = _source_frames(start_s, seconds, ratio, offset_s)
    if frames is not None:
        u = u[frames]
    c = _interp(feats["h_chroma"][k], u / HARMONIC_VERSIONS[k][1], 0.0)
    return (c / max(float(c.max()), 1e-8)).astype(np.float32)


def window_starts(seconds: float) -> list[int]:
    """The first frame of each model window of a ``seconds`` mashup (as :func:`~collage.mashup.score.windows`)."""
    T = _frames(seconds)
    if T <= WINDOW_FRAMES:
        return [0]
    st = list(range(0, T - WINDOW_FRAMES + 1, WINDOW_FRAMES))
    return st + [T - WINDOW_FRAMES] if st[-1] + WINDOW_FRAMES < T else st


def _windowed_chroma(feats, seconds: float, segment: tuple, step: int) -> np.ndarray:
    """A harmonic segment ``(song, start_s, ratio, semitones)``'s placed chroma per model window, every ``step``-th
    frame: ``(W, 12, frames / step)``; with ``step`` 1 ``windows(placed_chroma(...))``, else only the frames read
    (scaled by their largest value: the harmony branch reads each frame's direction and the frames' relative weights)."""
    song, start, ratio, shift = segment
    if step == 1:
        return windows(placed_chroma(feats[song], start_s=start, seconds=seconds, ratio=ratio, semitones=int(shift)))
    n = min(_frames(seconds), WINDOW_FRAMES)
    fr = (np.asarray(window_starts(seconds))[:, None] + np.arange(0, n, step)[None]).ravel()
    c = placed_chroma(feats[song], start_s=start, seconds=seconds, ratio=ratio, semitones=int(shift), frames=fr)
    return c.reshape(12, -1, len(range(0, n, step))).transpose(1, 0, 2)


def placed_features(feats: Mapping[str, np.ndarray], role: str, *, start_s: float, seconds: float, ratio: float = 1.0,
                    semitones: int = 0, offset_s: float = 0.0) -> tuple[np.ndarray, np.ndarray | None]:
    """What :func:`~collage.mashup.score.mel` and :func:`~collage.mashup.score.chroma` would give for the
    stem ``role`` placed as :func:`~collage.mashup.generate.place_stem` places it and normalised to -14
    LUFS: ``(64, T)`` scaled log-mel and ``(12, T)`` chroma (None for percussion), ``T`` the frames of
    ``seconds``."""
    pre = "h" if role == "harmonic" else "p"
    if role == "harmonic":
        k = _harmonic_version(semitones, ratio)
        r0 = HARMONIC_VERSIONS[k][1]
        mel_db, ms, pk = feats["h_mel"][k], feats["h_ms"][k], feats["h_peak"][k]
    elif semitones:
        raise ParameterError(f"given semitones={semitones!r} for the {role} stem; only the harmonic stem is shifted")
    else:
        k = int(nearest_stored(PERC_RATIOS, ratio, exact_one=True))
        r0 = PERC_RATIOS[k]
        mel_db, ms, pk = feats["p_mel"][k], feats["p_ms"], feats["p_peak"]
    src0, u = _source_frames(start_s, seconds, ratio, offset_s)  # source time in model frames (hop 512)
    stored = u * MEL_OVERSAMPLE / r0  # in the stored version's mel frames
    m = _interp(mel_db, stored, _SILENT_DB, power=True)
    g = _gain_db(ms, pk, src0, seconds * ratio)
    _scaled_db(m, g)
    if pre == "p":
        return m, None
    return m, placed_chroma(feats, start_s=start_s, seconds=seconds, ratio=ratio, semitones=semitones, offset_s=offset_s)


def _pair(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _bn_affine(bn):
    """An eval-mode ``BatchNorm2d`` as ``x * scale + shift`` per channel: ``(scale, shift)``, each ``(C,)``."""
    scale = bn.weight / (bn.running_var + bn.eps).sqrt()
    return scale.detach(), (bn.bias - bn.running_mean * scale).detach()


def _fast_pool(pool):
    """An ``AvgPool2d`` with no padding and kernel = stride of 1 or 2 per axis, as sums of strided slices where the
    map divides evenly (the same numbers up to float rounding; ``avg_pool2d`` is 7-8x slower on these small maps on
    one core); else the pool itself."""
    kt, kf = _pair(pool.kernel_size)
    if _pair(pool.stride) != (kt, kf) or _pair(pool.padding) != (0, 0) or max(kt, kf) > 2:
        return pool

    def run(x):
        if x.shape[2] % kt or x.shape[3] % kf:
            return pool(x)
        if kt == 2:
            x = x[:, :, 0::2] + x[:, :, 1::2]
        if kf == 2:
            x = x[..., 0::2] + x[..., 1::2]
        return x * (1.0 / (kt * kf)) if kt * kf > 1 else x

    return run


class _Chain:
    """Steps applied in turn: an eval-mode ``nn.Sequential`` without the module machinery, on the input in the
    memory layout ``layout`` (a ``torch.memory_format``; None: as given)."""

    def __init__(self, steps, layout=None):
        self.steps, self.layout = steps, layout

    def __call__(self, x):
        if self.layout is not None:
            x = x.contiguous(memory_format=self.layout)
        for f in self.steps:
            x = f(x)
        return x


def _fused(seq) -> _Chain:
    """The modules ``seq`` (eval mode) as a :class:`_Chain`: each ``Conv2d`` + ``BatchNorm2d`` pair fused into one
    convolution (:func:`torch.nn.utils.fusion.fuse_conv_bn_eval`) with channels-last weights, each average pooling by
    :func:`_fast_pool`, dropout left out.

    Channels-last because a SourceNet's maps have few channels (1-16): oneDNN's convolutions are faster in that
    layout on one core (a SourceNet share about 2x, the same numbers up to float rounding:
    docs/results/mashup_channels_last.md)."""
    import torch

    out = []
    for m in seq:
        if isinstance(m, torch.nn.BatchNorm2d) and out and isinstance(out[-1], torch.nn.Conv2d):
            out[-1] = torch.nn.utils.fusion.fuse_conv_bn_eval(out[-1].eval(), m.eval())
        elif isinstance(m, torch.nn.AvgPool2d):
            out.append(_fast_pool(m))
        elif not isinstance(m, torch.nn.Dropout):
            out.append(m.eval())
    return _Chain([m.to(memory_format=torch.channels_last) if isinstance(m, torch.nn.Conv2d) else m for m in out],
                  torch.channels_last)


class _FrameHead:
    """PreMixNet's frame-wise part after the first convolution (``block1d[2:]``: ReLU, a ``(k, 1)`` convolution
    and its batch norm, ReLU, average pooling over time), eval mode, on maps ``(N, c1d, T'')`` → ``(N, c1d,
    T'' / pool)``, ``x`` overwritten (by its ReLU, as the module in place did). The same function as the 2-D
    modules on ``(N, c1d, T'', 1)`` up to float rounding, the convolution fused with its batch norm and run as a
    1-D one: the maps are one frame wide, and as a 1-D convolution the head runs 1.5x faster per pair on one
    core than as a 2-D one in the channels-last layout (docs/results/mashup_channels_last.md)."""

    def __init__(self, seq):
        import torch

        kinds = (torch.nn.ReLU, torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.ReLU, torch.nn.AvgPool2d)
        if len(seq) != len(kinds) or not all(isinstance(m, k) for m, k in zip(seq, kinds)) or seq[1].kernel_size[1] != 1:
            raise ParameterError("given a head unlike PreMixNet's frame-wise block")
        _, conv, bn, _, pool = seq
        fused = torch.nn.utils.fusion.fuse_conv_bn_eval(conv.eval(), bn.eval())
        self.torch, self.weight, self.bias = torch, fused.weight[..., 0].detach().contiguous(), fused.bias.detach()
        self.pad, self.pool = int(_pair(conv.padding)[0]), int(_pair(pool.kernel_size)[0])
        self.ceil = bool(pool.ceil_mode)

    def __call__(self, x):
        F = self.torch.nn.functional
        h = F.conv1d(x.relu_(), self.weight, self.bias, padding=self.pad).relu_()
        if self.pool == 2 and h.shape[2] % 2 == 0:  # as _fast_pool: sums of strided slices
            return (h[..., 0::2] + h[..., 1::2]) * 0.5
        return F.avg_pool1d(h, self.pool, ceil_mode=self.ceil) if self.pool > 1 else h


def _segment_key(role: str, song: str, start_s: float, ratio: float, semitones: int = 0, offset_s: float = 0.0) -> tuple:
    """How :class:`FastScorer`'s cache names a placed segment (the percussion's without semitones)."""
    if role == "harmonic":
        return song, round(start_s, 4), round(ratio, 6), int(semitones), round(offset_s, 4)
    return song, round(start_s, 4), round(ratio, 6), round(offset_s, 4)


class PairSides:
    """Shares laid out for pairing (:meth:`FastScorer.pair_sides`): the vocal's added to each harmonic segment's,
    ``vH`` ``(n, W, c1d, T'')``, the percussion segments' ``P`` ``(m, W, c1d, T'')`` (contiguous, each window a
    frame-wise map, the layout the head's 1-D convolution reads) and the harmony features ``HH`` ``(n, W, 2
    harmony)`` or None. Made once, paired many times."""

    def __init__(self, vH, P, HH):
        self.vH, self.P, self.HH = vH, P, HH


class VocalQuery:
    """One vocal window, ready to be paired: its SourceNet share per window and its chroma windows."""

    def __init__(self, seconds: float, share, chroma_w: np.ndarray):
        self.seconds, self.share, self.chroma_w = seconds, share, chroma_w


class FastScorer:
    """PreMixNet evaluated in parts (see the module doc): ``vocal`` once per query, ``score`` per batch of
    candidates. ``model``: a loaded PreMixNet (three sources; a harmony branch or none)."""

    def __init__(self, model):
        # deferred: torch (about 1 s to import) loads on first use
        import torch

        from collage.models.mashability import PreMixNet

        if not isinstance(model, PreMixNet):
            raise ParameterError(f"given a {type(model).__name__}; the fast second stage splits a PreMixNet")
        self.torch, self.model = torch, model.eval()
        self.cfg = model.config
        conv, bn = model.block1d[0], model.block1d[1]
        # eval-mode batch norms folded into the convolutions before them (the same function up to float
        # rounding; 2x faster on CPU): in each SourceNet, and the head's first one into every source's share of
        # the first convolution (scale) and the vocal's share (shift), the shares adding up before it
        scale, shift = _bn_affine(bn)
        c3 = self.cfg.channels[3]
        self._w = [(conv.weight[:, i * c3:(i + 1) * c3] * scale[:, None, None, None]).detach()
                   .contiguous(memory_format=torch.channels_last) for i in range(3)]
        self._bias0 = shift[:, None, None]
        self._pad = conv.padding
        self._sources = [_fused([*net.block1, *net.block2]) for net in model.sources]
        self._frames = _FrameHead(model.block1d[2:])

    def _share(self, i: int, mel_w: np.ndarray, *, chunk: int = 8):
        """Source ``i``'s share of the first frame-wise convolution, batch norm folded in (the vocal's, ``i`` = 0,
        with its shift): ``(B, 64, frames)`` → ``(B, c1d, T'', 1)``, ``chunk`` windows per call (small batches stay
        in cache: 8 runs 1.8x faster per window than 64 on one core)."""
        torch = self.torch
        out = []
        with torch.no_grad():
            for s in range(0, len(mel_w), chunk):
                x = torch.from_numpy(np.ascontiguousarray(mel_w[s: s + chunk], dtype=np.float32))
                if self.cfg.input_norm == "time_mean":
                    x = x - x.mean(dim=2, keepdim=True)
                out.append(self._source_share(i, x))
        out = torch.cat(out)
        return out + self._bias0 if i == 0 else out

    def _source_share(self, i: int, x):
        """Source ``i``'s SourceNet and share of the first frame-wise convolution on normalised log-mel ``x`` ``(B, 64,
        T)`` tensor → ``(B, c1d, T'', 1)`` (no shift), under ``torch.no_grad``: for :meth:`_share`'s windows and the
        whole stems of :func:`~collage.mashup.shares.stem_shares`."""
        torch, p = self.torch, self.cfg.pool_input
        B, F, T = x.shape
        if p == 2 and T % 2 == 0:  # SourceNet's input pooling by strided slices (a mean over a last axis of 2
            # is 8x slower on one core), on a contiguous layout: the same numbers up to float rounding
            h = ((x[..., 0::2] + x[..., 1::2]) * 0.5).transpose(1, 2).contiguous().unsqueeze(1)
        elif T % p == 0:
            h = x.reshape(B, F, T // p, p).mean(-1).transpose(1, 2).contiguous().unsqueeze(1)
        else:
            h = self.model.sources[i].pool_input(x.transpose(1, 2).unsqueeze(1))
        return torch.nn.functional.conv2d(self._sources[i](h), self._w[i], padding=self._pad)

    def vocal(self, seed: Clip, *, vocal_start_s: float, seconds: float) -> VocalQuery:
        """The vocal window placed, normalised and featurised exactly as the exact path does."""
        y = normalize_loudness(place_stem(seed.stem("vocals"), seed.sr, start_s=vocal_start_s, seconds=seconds), seed.sr,
                               target_lufs=_TARGET_LUFS)
        if seed.sr != FEATURE_SR:
            raise ParameterError(f"given a vocal at {seed.sr} Hz; the fast second stage reads {FEATURE_SR} Hz")
        m, c = mel(y, seed.sr), chroma(y, seed.sr)
        return VocalQuery(seconds, self._share(0, windows(m)), windows(c))

    def score(self, q: VocalQuery, cands: Sequence[Candidate], feats: Mapping[str, Mapping[str, np.ndarray]],
              *, batch: int = 256, cache: dict | None = None) -> np.ndarray:
        """PreMixNet's probability for each candidate, ``(N,)``; ``feats[song]`` from :func:`ensure_features`.
        A harmonic or percussion segment shared by several candidates is computed once; ``cache`` (a dict
        the caller keeps) also keeps each placed segment's SourceNet share for later calls, which the
        windows of one vocal can share (a segment's placement does not depend on the vocal's start)."""
        torch = self.torch
        if not cands:
            return np.zeros(0, np.float32)
        cache = {} if cache is None else cache
        hkeys, pkeys, hi, pi = self._segments(q, cands, feats, cache)
        W, shape = len(q.chroma_w), q.share.shape
        h_share = [cache[("h", q.seconds, hk)][0].reshape(shape) for hk in hkeys]
        p_share = [cache[("p", q.seconds, pk)].reshape(shape) for pk in pkeys]
        h_harm = []
        if self.cfg.harmony:
            hc = torch.from_numpy(np.concatenate([cache[("h", q.seconds, hk)][1] for hk in hkeys]))
            with torch.no_grad():
                h_harm = list(self.model._harmony(torch.from_numpy(q.chroma_w).repeat(len(hkeys), 1, 1), hc)
                              .reshape(len(hkeys), W, -1))
        H, P = torch.stack(h_share), torch.stack(p_share)  # (n, W, c1d, T'', 1)
        HH = torch.stack(h_harm) if h_harm else None
        return self._combine(self.pair_sides(q.share, H, P, HH), torch.as_tensor(hi), torch.as_tensor(pi), batch)

    def _segments(self, q: VocalQuery, cands: Sequence[Candidate], feats, cache: dict):
        """The candidates' distinct harmonic and percussion segments (keys, in order), each one's SourceNet share (and
        the harmonic one's placed chroma windows) computed into ``cache`` where missing, and each candidate's two
        segments as indices into them: ``(hkeys, pkeys, hi, pi)``."""
        hkeys, pkeys, hi, pi = {}, {}, [], []
        for c in cands:
            hk = _segment_key("harmonic", c.harmonic, c.harmonic_start_s, c.harmonic_ratio, c.harmonic_semitones,
                              c.harmonic_offset_s)
            pk = _segment_key("percussion", c.percussion, c.percussion_start_s, c.percussion_ratio, 0, c.percussion_offset_s)
            hi.append(hkeys.setdefault(hk, len(hkeys)))
            pi.append(pkeys.setdefault(pk, len(pkeys)))
        self._fill(q, hkeys, pkeys, feats, cache)
        return list(hkeys), list(pkeys), hi, pi

    def segment_shares(self, q: VocalQuery, role: str, segments: Sequence[tuple], feats, cache: dict):
        """The SourceNet shares of stem segments ``[(song, start_s, ratio, semitones)]`` (semitones 0 for percussion)
        placed for the vocal ``q`` as :meth:`score` computes them, through ``cache`` (computed into it where missing):
        ``(n, W, c1d, T'', 1)`` tensor."""
        torch = self.torch
        keys = [_segment_key(role, *seg) for seg in segments]
        if role == "harmonic":
            self._fill(q, keys, [], feats, cache)
            out = [cache[("h", q.seconds, k)][0] for k in keys]
        else:
            self._fill(q, [], keys, feats, cache)
            out = [cache[("p", q.seconds, k)] for k in keys]
        return torch.stack([x.reshape(q.share.shape) for x in out]) if out else torch.zeros(0, *q.share.shape)

    def _fill(self, q: VocalQuery, hkeys, pkeys, feats, cache: dict) -> None:
        """Each segment's SourceNet share (and the harmonic one's placed chroma windows) computed into ``cache`` where
        missing; keys as :meth:`_segments` makes them."""
        W = len(q.chroma_w)
        todo = [hk for hk in hkeys if ("h", q.seconds, hk) not in cache]
        if todo:
            placed = [placed_features(feats[hk[0]], "harmonic", start_s=hk[1], seconds=q.seconds, ratio=hk[2],
                                      semitones=hk[3], offset_s=hk[4]) for hk in todo]
            shares = self._share(1, np.concatenate([windows(m) for m, _ in placed])).reshape(len(todo), W, -1)
            for n, hk in enumerate(todo):
                cache[("h", q.seconds, hk)] = (shares[n], windows(placed[n][1]))
        todo = [pk for pk in pkeys if ("p", q.seconds, pk) not in cache]
        if todo:
            placed = [placed_features(feats[pk[0]], "percussion", start_s=pk[1], seconds=q.seconds, ratio=pk[2],
                                      offset_s=pk[3])[0] for pk in todo]
            shares = self._share(2, np.concatenate([windows(m) for m in placed])).reshape(len(todo), W, -1)
            for n, pk in enumerate(todo):
                cache[("p", q.seconds, pk)] = shares[n]

    def texture(self, q: VocalQuery, cands: Sequence[Candidate], feats, *, cache: dict | None = None):
        """``(W, c1d)`` tensor: the part of the head's input that the stems' sounds give (the frame-wise convolutions,
        pooled over time), for the vocal ``q`` with the mean SourceNet share of ``cands``' harmonic segments and of
        their percussion segments: a reference accompaniment sound, for :meth:`harmony_scores`."""
        torch = self.torch
        if not cands:
            raise ParameterError("given no candidate to take the reference sound from")
        cache = {} if cache is None else cache
        hkeys, pkeys, _, _ = self._segments(q, cands, feats, cache)
        shape = q.share.shape
        x = (q.share + torch.stack([cache[("h", q.seconds, k)][0].reshape(shape) for k in hkeys]).mean(0)
             + torch.stack([cache[("p", q.seconds, k)].reshape(shape) for k in pkeys]).mean(0))
        with torch.no_grad():
            return self._pooled(x[..., 0])

    def profile_scores(self, vocal_profile: np.ndarray, profiles: np.ndarray, texture) -> np.ndarray:
        """``(N,)`` float32 log-odds as :meth:`harmony_scores`, from one 12-bin chroma profile per side instead of the
        frames: the vocal's ``(12,)`` and each segment's ``(N, 12)`` (e.g. the stored vectors' chroma, rotated by the
        pitch shift). Coarser (no frame-by-frame agreement) and far cheaper: a vector operation over every segment."""
        torch = self.torch
        if not self.cfg.harmony:
            raise ParameterError("the scorer has no harmony branch")
        n, W = len(profiles), len(texture)
        if n == 0:
            return np.zeros(0, np.float32)
        with torch.no_grad():
            v = torch.from_numpy(np.broadcast_to(np.asarray(vocal_profile, np.float32)[None, :, None], (n, 12, 1)).copy())
            harm = self.model._harmony(v, torch.from_numpy(np.asarray(profiles, np.float32)[:, :, None]))  # (n, 2h)
            x = torch.cat([texture[None].expand(n, W, -1), harm[:, None].expand(n, W, -1)], dim=2).reshape(n * W, -1)
            p = torch.softmax(self.model.head(x), dim=1)[:, 0].reshape(n, W).mean(1).clamp(1e-6, 1 - 1e-6)
            return torch.log(p / (1 - p)).numpy().astype(np.float32)

    def harmony_scores(self, q: VocalQuery, segments: Sequence[tuple], feats, texture, *, step: int = 4,
                       batch: int = 64) -> np.ndarray:
        """``(M,)`` float32 log-odds of PreMixNet for the vocal ``q`` and each harmonic segment ``(song, start_s, ratio,
        semitones)`` of ``segments``, the accompaniment's sound fixed to ``texture`` (:meth:`texture`): what tells the
        segments apart is the network's harmony branch alone, the vocal's chroma against the segment's frame by frame
        (read from the stored features, every ``step``-th frame). Milliseconds for hundreds of segments: no SourceNet."""
        torch = self.torch
        if not self.cfg.harmony:
            raise ParameterError("the scorer has no harmony branch")
        if len(segments) == 0:
            return np.zeros(0, np.float32)
        vch = torch.from_numpy(np.ascontiguousarray(q.chroma_w[:, :, ::step]))
        W, out = len(vch), []
        with torch.no_grad():
            for s in range(0, len(segments), batch):
                part = segments[s: s + batch]
                hc = np.stack([_windowed_chroma(feats, q.seconds, seg, step) for seg in part])  # (m, W, 12, frames / step)
                m = len(part)
                harm = self.model._harmony(vch.repeat(m, 1, 1), torch.from_numpy(hc.reshape(m * W, 12, -1)))
                lo = self.model.head(torch.cat([texture.repeat(m, 1), harm], dim=1))
                p = torch.softmax(lo, dim=1)[:, 0].reshape(m, W).mean(1).clamp(1e-6, 1 - 1e-6)
                out.append(torch.log(p / (1 - p)).numpy())
        return np.concatenate(out).astype(np.float32)

    def harmony_features(self, q: VocalQuery, segments: Sequence[tuple], feats, *, step: int = 1, batch: int = 64):
        """``(M, W, 2 harmony)`` tensor: the harmony branch's output for the vocal ``q`` and each harmonic segment
        ``(song, start_s, ratio, semitones)`` of ``segments`` per window, from the stored chroma (as :meth:`score`;
        with ``step`` > 1, from every ``step``-th frame: nearly the same, ``step`` times cheaper)."""
        torch = self.torch
        vch, W, out = torch.from_numpy(np.ascontiguousarray(q.chroma_w[:, :, ::step])), len(q.chroma_w), []
        with torch.no_grad():
            for s in range(0, len(segments), batch):
                part = segments[s: s + batch]
                hc = np.concatenate([_windowed_chroma(feats, q.seconds, seg, step) for seg in part])
                out.append(self.model._harmony(vch.repeat(len(part), 1, 1), torch.from_numpy(hc)).reshape(len(part), W, -1))
        return torch.cat(out) if out else torch.zeros(0, W, 2 * self.cfg.harmony)

    def pair_sides(self, v, H, P, HH=None) -> PairSides:
        """Given shares ready to be paired: the vocal's ``v`` ``(W, c1d, T'', 1)`` (:attr:`VocalQuery.share`, or some of
        its windows), ``H``, ``P`` ``(n, W, c1d, T'', 1)`` (e.g. stored ones: :func:`~collage.mashup.shares.gather_shares`)
        and harmony features ``HH`` ``(n, W, 2 harmony)`` (or None); for :meth:`pair_logits`. A side given as None is
        left None (to be taken from other sides)."""
        torch = self.torch
        with torch.no_grad():
            vH = None if H is None else (torch.as_tensor(v)[None] + torch.as_tensor(H))[..., 0].contiguous()
            return PairSides(vH, None if P is None else torch.as_tensor(P)[..., 0].contiguous(), HH)

    def pair_logits(self, sides: PairSides, hi, pi, *, batch: int = 128) -> np.ndarray:
        """PreMixNet's log-odds for the pairs ``(hi[n], pi[n])`` of :meth:`pair_sides`' harmonic and percussion
        segments: ``(N,)`` float32."""
        torch = self.torch
        p = np.clip(self._combine(sides, torch.as_tensor(hi), torch.as_tensor(pi), batch), 1e-6, 1 - 1e-6)
        return np.log(p / (1 - p)).astype(np.float32)

    def _pooled(self, x):
        """The summed shares ``(N, c1d, T'')`` (overwritten) → ``(N, c1d)``: the rest of the frame-wise convolutions, then the mean
        plus the max over time (as PreMixNet's forward)."""
        h = self._frames(x).transpose(1, 2).contiguous()  # time first: these reductions over 16 frames run 1.7x faster
        return h.mean(dim=1) + h.amax(dim=1)

    def _combine(self, sides: PairSides, hi, pi, batch: int) -> np.ndarray:
        """The rest of the network for pairs ``(hi[n], pi[n])`` of ``sides`` → ``(N,)`` probabilities, the mean over
        windows. ``batch`` pairs at a time: 128 keep a batch's maps (about 1.5 MB) near the core."""
        torch = self.torch
        out = []
        hi, pi = torch.as_tensor(hi, dtype=torch.long), torch.as_tensor(pi, dtype=torch.long)
        with torch.no_grad():
            for s in range(0, len(hi), batch):
                a, b = hi[s: s + batch], pi[s: s + batch]
                x = sides.vH.index_select(0, a).add_(sides.P.index_select(0, b))  # (B, W, c1d, T'')
                B, W = x.shape[:2]
                h = self._pooled(x.reshape(B * W, *x.shape[2:]))
                if sides.HH is not None:
                    h = torch.cat([h, sides.HH[a].reshape(B * W, -1)], dim=1)
                p = torch.softmax(self.model.head(h), dim=1)[:, 0].reshape(B, W).mean(1)
                out.append(p.numpy())
        return np.concatenate(out).astype(np.float32)

    def score_features(self, feats: Sequence[np.ndarray]) -> np.ndarray:
        """The network in parts on given ``(4, F, T)`` features (:func:`~collage.mashup.score.mashup_features`):
        the same numbers as :func:`~collage.mashup.score.learned_scores` up to float rounding, ``(N,)``."""
        torch = self.torch
        n_mels, out = self.cfg.n_mels, []
        zero = torch.zeros(1, dtype=torch.long)
        for f in feats:
            v, h, p = (self._share(i, windows(f[i, :n_mels])) for i in range(3))
            hh = None
            if self.cfg.harmony:
                with torch.no_grad():
                    hh = self.model._harmony(torch.from_numpy(windows(f[0, n_mels:n_mels + 12])),
                                             torch.from_numpy(windows(f[1, n_mels:n_mels + 12])))[None]
            out.append(self._combine(self.pair_sides(v, h[None], p[None], hh), zero, zero, 1))
        return np.concatenate(out) if out else np.zeros(0, np.float32)

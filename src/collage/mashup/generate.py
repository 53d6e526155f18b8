"""Candidate mashups under the paper's three conditions (Huang et al., AAAI 2021, sec. 3).

A :class:`Clip` is one song excerpt with its three stems (vocals, harmonic,
percussion) and its analysis (key, tempo, beats, downbeats). The vocal of one
clip is the *seed*; a :class:`Candidate` says which harmonic and percussion
stems go with it and how they are adjusted:

- ``original``: the seed's own harmonic and percussion, unchanged;
- ``matched``: a harmonic stem whose key is within ±3 semitones of the
  vocal's and whose tempo ratio is in [0.8, 1.2], pitch-shifted and
  time-stretched to the vocal; a percussion stem with a tempo ratio in
  [0.8, 1.2], time-stretched; both start on a downbeat, aligned to the
  vocal's downbeat;
- ``unmatched``: ``key`` (harmonic not pitch-shifted; we require a key
  distance of at least one semitone so that the negative is one),
  ``tempo`` (no time stretching, and the first downbeat of one stem offset
  by 0.1-1 s either way), or ``key+tempo``.

>>> cands = matched_candidates(seed, pool, n=5, seconds=25, rng=rng)
>>> audio = render_candidate(cands[0], clips)   # {"vocals", "harmonic", "percussion", "mix"}

Keys are strings such as ``"F#:maj"``, ``"A:min"``, ``"C major"`` (any spelling); keys
are compared through their relative major (A minor = C major).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from collage.audio.mix import mix_stems, normalize_loudness
from collage.audio.stretch import stretch
from collage.errors import InvalidAudioError, ParameterError
from collage.io.audio import load_audio
from collage.represent.pitch import parse_key  # re-exported: part of this module's API

__all__ = [
    "ROLES",
    "CONDITIONS",
    "UNMATCHED_MODES",
    "Clip",
    "Candidate",
    "parse_key",
    "key_distance",
    "tempo_ratio",
    "original_candidate",
    "matched_candidates",
    "unmatched_candidate",
    "render_candidate",
    "vocal_starts",
    "MAX_KEY_DISTANCE",
    "TEMPO_RANGE",
]

ROLES = ("vocals", "harmonic", "percussion")
CONDITIONS = ("original", "matched", "unmatched")
UNMATCHED_MODES = ("key", "tempo", "key+tempo")
MAX_KEY_DISTANCE = 3
TEMPO_RANGE = (0.8, 1.2)
MIN_OFFSET_S, MAX_OFFSET_S = 0.1, 1.0
MIN_SECONDS, MAX_SECONDS = 5.0, 600.0


def _relative_major(key) -> int:
    pc, mode = parse_key(key)
    return (pc + 3) % 12 if mode == "minor" else pc


def key_distance(key_to, key_from) -> int:
    """The pitch shift in semitones, in [-6, 5], that takes ``key_from`` to ``key_to`` (relative majors)."""
    return int((_relative_major(key_to) - _relative_major(key_from) + 6) % 12 - 6)


def tempo_ratio(tempo_vocal: float, tempo_other: float) -> float:
    """Speed factor that brings a stem at ``tempo_other`` BPM to ``tempo_vocal`` BPM."""
    if not (tempo_vocal > 0 and tempo_other > 0 and np.isfinite(tempo_vocal) and np.isfinite(tempo_other)):
        raise ParameterError(f"given tempi {tempo_vocal!r}, {tempo_other!r}; expected positive BPM")
    return float(tempo_vocal / tempo_other)


@dataclasses.dataclass
class Clip:
    """One song excerpt: stems plus analysis. Times are seconds from the clip's start.

    ``stems`` maps a role to an ``(n,)`` float32 array or to a path; paths are
    loaded on first use by ``loader(path, sr) -> (n,)`` (default: soundfile +
    resampling to ``sr``).
    """

    id: str
    sr: int
    key: str
    tempo: float
    beats: np.ndarray
    downbeats: np.ndarray
    stems: dict
    loader: Callable | None = None

    def stem(self, role: str) -> np.ndarray:
        """The ``(n,)`` float32 audio of ``role`` at ``self.sr``."""
        if role not in ROLES:
            raise ParameterError(f"given role={role!r}; expected one of {ROLES}")
        if role not in self.stems:
            raise InvalidAudioError(None, f"clip {self.id} has no {role} stem")
        y = self.stems[role]
        if isinstance(y, (str, Path)):
            y = (self.loader or _load_resampled)(y, self.sr)
            self.stems[role] = y
        return y

    @property
    def duration(self) -> float:
        return max(len(self.stem(r)) for r in ROLES if r in self.stems) / self.sr


def _load_resampled(path, sr: int) -> np.ndarray:
    return load_audio(path, sr=sr, min_seconds=0.0)


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A mashup recipe. Offsets delay a stem (negative: advance); ratios are speed factors."""

    condition: str
    vocal: str
    harmonic: str
    percussion: str
    seconds: float
    vocal_start_s: float
    harmonic_start_s: float
    percussion_start_s: float
    harmonic_semitones: int = 0
    harmonic_ratio: float = 1.0
    percussion_ratio: float = 1.0
    harmonic_offset_s: float = 0.0
    percussion_offset_s: float = 0.0
    unmatched_mode: str | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# -- choosing windows ------------------------------------------------------------------------
def _check_seconds(seconds: float) -> float:
    if not (isinstance(seconds, (int, float)) and MIN_SECONDS <= seconds <= MAX_SECONDS):
        raise ParameterError(f"given seconds={seconds!r}; expected a length in [{MIN_SECONDS}, {MAX_SECONDS}] s")
    return float(seconds)


def vocal_starts(clip: Clip, seconds: float, *, min_active: float = 0.5, hop_s: float = 0.5) -> np.ndarray:
    """Downbeats (s) where a ``seconds`` window fits in the clip and the vocal is active.

    Active: at least ``min_active`` of the window's ``hop_s`` frames have an RMS
    above 1/10 of the clip's vocal RMS. Falls back to all fitting downbeats, and
    to ``[0.0]`` when none fits.
    """
    y = clip.stem("vocals")
    fit = clip.downbeats[(clip.downbeats >= 0) & (clip.downbeats + seconds <= len(y) / clip.sr + 1e-6)]
    if fit.size == 0:
        return np.array([0.0])
    hop = max(int(hop_s * clip.sr), 1)
    n = len(y) // hop
    if n == 0:
        return fit
    rms = np.sqrt(np.mean(y[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1))
    active = rms > 0.1 * (np.sqrt(np.mean(y.astype(np.float64) ** 2)) + 1e-12)
    keep = []
    for s in fit:
        a, b = int(s / hop_s), int((s + seconds) / hop_s)
        if b > a and active[a:b].mean() >= min_active:
            keep.append(s)
    return np.array(keep) if keep else fit


def _accomp_start(clip: Clip, seconds_src: float, rng: np.random.Generator) -> float:
    """A random downbeat of ``clip`` with ``seconds_src`` of audio after it (else the first downbeat)."""
    dur = clip.duration
    db = clip.downbeats[clip.downbeats >= 0]
    fit = db[db + seconds_src <= dur + 1e-6]
    if fit.size:
        return float(rng.choice(fit))
    return float(db[0]) if db.size else 0.0


# -- the three conditions --------------------------------------------------------------------
def original_candidate(seed: Clip, *, seconds: float, vocal_start_s: float) -> Candidate:
    """The seed's own stems, same window."""
    seconds = _check_seconds(seconds)
    return Candidate("original", seed.id, seed.id, seed.id, seconds, vocal_start_s, vocal_start_s, vocal_start_s)


def _others(seed: Clip, pool: Iterable[Clip]) -> list[Clip]:
    return [c for c in pool if c.id != seed.id and _song_of(c.id) != _song_of(seed.id)]


def _song_of(clip_id: str) -> str:
    """Clips of one song share the id before ``'#'`` (``"042#1"`` is a window of song ``"042"``)."""
    return str(clip_id).split("#", 1)[0]


def harmonic_pool(seed: Clip, pool: Sequence[Clip]) -> list[Clip]:
    """Other songs' clips in key (±3 semitones) and in tempo (ratio in [0.8, 1.2])."""
    return [
        c
        for c in _others(seed, pool)
        if abs(key_distance(seed.key, c.key)) <= MAX_KEY_DISTANCE
        and TEMPO_RANGE[0] <= tempo_ratio(seed.tempo, c.tempo) <= TEMPO_RANGE[1]
    ]


def percussion_pool(seed: Clip, pool: Sequence[Clip]) -> list[Clip]:
    """Other songs' clips in tempo (ratio in [0.8, 1.2])."""
    return [c for c in _others(seed, pool) if TEMPO_RANGE[0] <= tempo_ratio(seed.tempo, c.tempo) <= TEMPO_RANGE[1]]


def matched_candidates(
    seed: Clip,
    pool: Sequence[Clip],
    *,
    n: int,
    seconds: float,
    vocal_start_s: float,
    rng: np.random.Generator,
) -> list[Candidate]:
    """Up to ``n`` distinct matched candidates (fewer when the pool has fewer pairs)."""
    seconds = _check_seconds(seconds)
    hs, ps = harmonic_pool(seed, pool), percussion_pool(seed, pool)
    pairs = [(h, p) for h in hs for p in ps]
    out = []
    for i in rng.permutation(len(pairs))[:n]:
        h, p = pairs[i]
        rh, rp = tempo_ratio(seed.tempo, h.tempo), tempo_ratio(seed.tempo, p.tempo)
        out.append(
            Candidate(
                "matched",
                seed.id,
                h.id,
                p.id,
                seconds,
                vocal_start_s,
                _accomp_start(h, seconds * rh, rng),
                _accomp_start(p, seconds * rp, rng),
                harmonic_semitones=key_distance(seed.key, h.key),
                harmonic_ratio=rh,
                percussion_ratio=rp,
            )
        )
    return out


def unmatched_candidate(
    seed: Clip,
    pool: Sequence[Clip],
    *,
    seconds: float,
    vocal_start_s: float,
    rng: np.random.Generator,
    mode: str | None = None,
) -> Candidate | None:
    """One unmatched candidate (``mode`` drawn at random when None); None when the pool cannot make one."""
    seconds = _check_seconds(seconds)
    if mode is None:
        mode = UNMATCHED_MODES[int(rng.integers(len(UNMATCHED_MODES)))]
    if mode not in UNMATCHED_MODES:
        raise ParameterError(f"given mode={mode!r}; expected one of {UNMATCHED_MODES}")
    others = _others(seed, pool)
    key_off = "key" in mode
    tempo_off = "tempo" in mode
    if tempo_off:
        hs = others if key_off else [c for c in others if abs(key_distance(seed.key, c.key)) <= MAX_KEY_DISTANCE]
        ps = others
    else:
        hs = [c for c in percussion_pool(seed, others)]
        ps = percussion_pool(seed, others)
    if key_off:
        hs = [c for c in hs if key_distance(seed.key, c.key) != 0]
    if not hs or not ps:
        return None
    h, p = hs[int(rng.integers(len(hs)))], ps[int(rng.integers(len(ps)))]
    rh = 1.0 if tempo_off else tempo_ratio(seed.tempo, h.tempo)
    rp = 1.0 if tempo_off else tempo_ratio(seed.tempo, p.tempo)
    off_h = off_p = 0.0
    if tempo_off:
        off = float(rng.uniform(MIN_OFFSET_S, MAX_OFFSET_S) * rng.choice([-1.0, 1.0]))
        if rng.random() < 0.5:
            off_h = off
        else:
            off_p = off
    return Candidate(
        "unmatched",
        seed.id,
        h.id,
        p.id,
        seconds,
        vocal_start_s,
        _accomp_start(h, seconds * rh + MAX_OFFSET_S, rng),
        _accomp_start(p, seconds * rp + MAX_OFFSET_S, rng),
        harmonic_semitones=0 if key_off else key_distance(seed.key, h.key),
        harmonic_ratio=rh,
        percussion_ratio=rp,
        harmonic_offset_s=off_h,
        percussion_offset_s=off_p,
        unmatched_mode=mode,
    )


# -- rendering -------------------------------------------------------------------------------
def place_stem(
    y: np.ndarray,
    sr: int,
    *,
    start_s: float,
    seconds: float,
    ratio: float = 1.0,
    semitones: float = 0.0,
    offset_s: float = 0.0,
    high_quality: bool = True,
) -> np.ndarray:
    """Cut, stretch and shift a stem so that source time ``start_s`` lands at output ``offset_s``.

    Returns ``(round(seconds * sr),)`` float32; missing source audio is silence.
    """
    n_out = int(round(seconds * sr))
    src0 = start_s - offset_s * ratio  # source time heard at output time 0
    n_src = int(np.ceil((seconds * ratio + 0.5) * sr))
    a = int(round(src0 * sr))
    seg = np.zeros(n_src, np.float32)
    lo, hi = max(a, 0), min(a + n_src, len(y))
    if hi > lo:
        seg[lo - a : hi - a] = y[lo:hi]
    out = stretch(seg, sr, ratio=ratio, semitones=semitones, high_quality=high_quality) if (ratio != 1.0 or semitones != 0) else seg
    if len(out) < n_out:
        out = np.pad(out, (0, n_out - len(out)))
    return np.ascontiguousarray(out[:n_out], dtype=np.float32)


def render_candidate(
    cand: Candidate,
    clips: Mapping[str, Clip],
    *,
    stem_lufs: float | None = -14.0,
    mix_lufs: float | None = -14.0,
    high_quality: bool = True,
) -> dict[str, np.ndarray]:
    """The aligned stems and the loudness-normalised mix of ``cand``: role/'mix' → ``(n,)`` float32.

    All clips must share one sample rate. Each stem is normalised to
    ``stem_lufs`` before summing; the mix to ``mix_lufs``. ``high_quality``
    selects Rubber Band's mode (the training data uses the fast one).
    """
    v, h, p = clips[cand.vocal], clips[cand.harmonic], clips[cand.percussion]
    sr = v.sr
    if h.sr != sr or p.sr != sr:
        raise ParameterError(f"clips {v.id}, {h.id}, {p.id} have sample rates {v.sr}, {h.sr}, {p.sr}; expected one")
    out = {
        "vocals": place_stem(v.stem("vocals"), sr, start_s=cand.vocal_start_s, seconds=cand.seconds),
        "harmonic": place_stem(
            h.stem("harmonic"),
            sr,
            start_s=cand.harmonic_start_s,
            seconds=cand.seconds,
            ratio=cand.harmonic_ratio,
            semitones=cand.harmonic_semitones,
            offset_s=cand.harmonic_offset_s,
            high_quality=high_quality,
        ),
        "percussion": place_stem(
            p.stem("percussion"),
            sr,
            start_s=cand.percussion_start_s,
            seconds=cand.seconds,
            ratio=cand.percussion_ratio,
            offset_s=cand.percussion_offset_s,
            high_quality=high_quality,
        ),
    }
    if stem_lufs is not None:
        out = {r: normalize_loudness(y, sr, target_lufs=stem_lufs) for r, y in out.items()}
    out["mix"] = mix_stems([out[r] for r in ROLES], sr, stem_lufs=None, mix_lufs=mix_lufs)
    return out

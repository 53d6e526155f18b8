"""Key, tempo, beats and downbeats of an audio clip or its stems.

>>> a = analyze(sr=22050, mix=y)                                   # a full mix
>>> a = analyze(sr=22050, percussion=p, harmonic=h, vocals=v)      # stems: better beats
>>> a.key, a.mode, a.tempo, a.beats[:4], a.downbeats[:2]
('F#:maj', 'major', 90.1, array([0.02, 0.69, 1.35, 2.02]), array([0.02, 2.69]))

Beats (:func:`track_beats`). librosa's dynamic-programming beat tracker (Ellis 2007) on
an onset envelope taken from the percussion stem when there is one (else from the
percussive part of the mix), run at three tempo hypotheses: the tempogram's best tempo
under a broad prior (replaced by a tempo 2/3, 3/4, 4/3 or 3/2 of it when that one's period
is better repeated at the half bar and bar: the autocorrelation peak can be a syncopation
period, such as the 1.5 beats between a ballad's kicks; measured on POP909 val songs by
``benchmarks/analysis_choices.py``), half and double it. The metrical level is then chosen
by the pop *backbeat* test: at the right level the off-beats (beats 2 and 4) carry the snare, so the
low+mid band (kick, snare; hats excluded) onset strength on odd beats is comparable to
that on even beats; at double tempo the odd "beats" are eighth-note off-beats that carry
only hats. The fastest hypothesis that passes the test wins; a tempo prior centred on
POP909's median tempo (76 BPM) breaks the remaining ties.

Downbeats (:func:`estimate_downbeats`): 4/4 bars; of the four phases, the one whose beats
have the most kick, the least snare, the most bass onsets and the most harmonic change
(chord changes fall on downbeats) -- the bar-level periodicity of percussion and harmony.

Key (:func:`estimate_key`): a 36-bins-per-octave CQT chromagram of the pitched part --
vocals + harmonic, i.e. the mix minus the percussion stem, or the harmonic part of the mix by
HPSS -- averaged over the clip per octave and pitch class (:func:`octave_chroma`), cube-root
compressed, then scored by a key profile (:func:`key_from_octaves`). The default,
``'pop909-octaves'``, is learned: one profile per octave and mode, a tonic-shared linear
classifier fitted to 693 rendered POP909 train clips, each heard as vocals + harmonic and as each
stem alone (:mod:`collage.training.key_model`,
``collage train key-model``; its card in ``key_model.json``), so that it can weigh the bass
register, which tells a major key from its relative minor. The 12-bin profiles fold the octaves
and correlate with the 24 rotations: ``'pop909'`` (measured on the POP909 train split; the
default before), Albrecht & Shanahan's, Temperley's and Krumhansl-Kessler's. On 40 POP909 val
songs rendered with the training soundfonts and again with the held-out one
(``benchmarks/analysis_choices.py``; MIREX weighted score): pop909 0.948 / 0.930, Albrecht
0.880 / 0.880, Krumhansl 0.812 / 0.838, Temperley 0.742 / 0.760 (without the compression:
0.898 / 0.880, 0.880 / 0.762, ...); see ``key_model.json`` for the cross-validated comparison
that made the learned profile the default. Keys are spelled as everywhere in collage
(:mod:`collage.represent.pitch`): ``'F#:maj'``, ``'C#:min'``; any spelling is read.
Given a ``context`` (the clip's whole song), :func:`analyze` takes the key from it: a 30 s clip that
leans to the relative minor is heard right in its song (``benchmarks/key_song_context.py``: 0.854 ->
0.891 on val; the MashupDB does this for every source). :func:`analyze_stem` analyses one stem alone.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import librosa
import numpy as np

from collage.errors import CollageError, ParameterError
from collage.represent.pitch import PITCH_NAMES, key_name, parse_key  # re-exported: part of this module's API

__all__ = [
    "Analysis",
    "AnalysisError",
    "KEY_PROFILES",
    "PITCH_NAMES",
    "analyze",
    "analyze_stem",
    "tonal_part",
    "estimate_key",
    "key_from_chroma",
    "key_from_octaves",
    "octave_chroma",
    "octave_cqt",
    "octave_scores",
    "octaves_of_cqt",
    "octave_features",
    "tonic_rotations",
    "fold_chroma",
    "track_beats",
    "estimate_downbeats",
    "key_name",
    "parse_key",
    "to_mir_eval_key",
    "key_score",
]

log = logging.getLogger(__name__)

HOP = 512
KEY_PROFILES = {  # (major, minor), tonic first
    "temperley": (
        (0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400),
        (0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330),
    ),
    "krumhansl": (
        (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
        (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
    ),
    "albrecht": (
        (0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081),
        (0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052),
    ),
    # POP909 train split: duration-weighted pitch-class shares of all notes within each key_audio.txt
    # span, rotated to the tonic and averaged (512 major, 369 minor spans);
    # `python benchmarks/analysis_choices.py` recomputes them
    "pop909": (
        (0.2186, 0.0015, 0.1316, 0.0023, 0.1445, 0.0868, 0.0036, 0.2089, 0.0058, 0.1243, 0.0053, 0.0667),
        (0.2214, 0.0026, 0.0819, 0.1479, 0.0049, 0.1230, 0.0025, 0.1935, 0.0718, 0.0057, 0.1322, 0.0125),
    ),
}
#: learned profiles per octave (:mod:`collage.training.key_model`): name -> file beside this module
OCTAVE_PROFILES = {"pop909-octaves": "key_model.json"}
DEFAULT_KEY_PROFILE = "pop909-octaves"
CHROMA_COMPRESSION = 1 / 3  # per octave and pitch class, before folding the octaves
TEMPO_PRIOR_BPM = 76.0  # POP909's median annotated tempo (train split)
TEMPO_PRIOR_OCTAVES = 0.6  # its log2 spread
MIN_BPM, MAX_BPM = 45.0, 220.0
BACKBEAT_MIN = 0.3  # off-beat / on-beat kick+snare strength needed to accept a level
COMB_MULTIPLES = (1, 2, 4)  # the beat-period comb: beat, half bar, bar (4/4)
TEMPO_RATIOS = (2 / 3, 3 / 4, 4 / 3, 3 / 2)  # non-octave alternatives to the autocorrelation's tempo


class AnalysisError(CollageError):
    """The clip has no measurable beat (or no pitch content for a key)."""


@dataclasses.dataclass
class Analysis:
    """What :func:`analyze` finds (times in seconds from the clip start).

    Attributes:
        key: e.g. ``'F#:maj'``; ``tonic`` its pitch class (0 = C), ``mode`` ``'major'``/``'minor'``.
        key_strength: for a 12-bin profile the correlation of the chroma with the winning
            rotation, in [-1, 1]; for a learned octave profile the model's probability of the key.
        tempo: BPM (from the median inter-beat interval).
        beats: ``(B,)`` float64 beat times; ``downbeats``: ``(D,)`` the first beats of bars.
    """

    key: str
    tonic: int
    mode: str
    key_strength: float
    tempo: float
    beats: np.ndarray
    downbeats: np.ndarray

    def to_dict(self) -> dict:
        return {
            "key": self.key, "tonic": self.tonic, "mode": self.mode,
            "key_strength": round(float(self.key_strength), 4), "tempo": round(float(self.tempo), 3),
            "beats": [round(float(x), 4) for x in self.beats],
            "downbeats": [round(float(x), 4) for x in self.downbeats],
        }


# -- keys ----------------------------------------------------------------------------
def to_mir_eval_key(label: str) -> str:
    """``'Gb:maj' -> 'F# major'`` (the form :func:`mir_eval.key.weighted_score` reads)."""
    pc, mode = parse_key(label)
    return f"{key_name(pc, mode).split(':')[0]} {mode}"


def key_score(ref: str, est: str) -> float:
    """MIREX weighted key score of an estimated key label against a reference one, both ``'C:maj'``
    form: 1 same key, 0.5 a fifth apart, 0.3 relative, 0.2 parallel, else 0
    (:func:`mir_eval.key.weighted_score`)."""
    import mir_eval  # deferred: importing mir_eval takes about a second, only validation needs it

    return float(mir_eval.key.weighted_score(to_mir_eval_key(ref), to_mir_eval_key(est)))


def octave_cqt(y: np.ndarray, sr: int) -> np.ndarray:
    """``(252, T)`` complex 36-bins-per-octave CQT of a mono clip, C1..B7 (:data:`HOP` samples a frame).
    Linear in ``y``: the CQT of a sum of stems is the sum of their CQTs."""
    return librosa.cqt(np.asarray(y, dtype=np.float32), sr=sr, hop_length=HOP, fmin=librosa.note_to_hz("C1"),
                       n_bins=7 * 36, bins_per_octave=36)


def octaves_of_cqt(C: np.ndarray) -> np.ndarray:
    """``(252, T)`` CQT (:func:`octave_cqt`) -> ``(7, 12)`` time-averaged magnitude per octave and pitch
    class, each semitone's centre bin and its two neighbours summed."""
    return np.roll(np.abs(C), 1, axis=0).reshape(7, 12, 3, -1).sum(axis=2).mean(axis=-1)


def octave_chroma(y: np.ndarray, sr: int) -> np.ndarray:
    """``(7, 12)`` time-averaged CQT magnitude per octave (C1..B7) and pitch class of a mono clip:
    :func:`octaves_of_cqt` of :func:`octave_cqt`."""
    return octaves_of_cqt(octave_cqt(y, sr))


def fold_chroma(octaves: np.ndarray, compression: float = CHROMA_COMPRESSION) -> np.ndarray:
    """``(7, 12)`` -> ``(12,)`` L1-normalised chroma: each octave's values ``** compression`` (so
    that one loud register, such as a bass line, does not outweigh the others), then summed."""
    if isinstance(compression, bool) or not isinstance(compression, (int, float)) or not 0 < compression <= 1:
        raise ParameterError(f"given compression={compression!r}; expected a number in (0, 1]")
    chroma = (np.asarray(octaves, dtype=np.float64) ** compression).sum(axis=0)
    return chroma / (chroma.sum() + 1e-12)


def key_from_chroma(chroma: np.ndarray, profile: str = "pop909") -> tuple[int, str, float]:
    """``(tonic, mode, correlation)``: the best of the 24 rotations of ``profile`` for a ``(12,)`` chroma.

    Raises:
        AnalysisError: the chroma is flat or not finite (no pitched content).
    """
    if profile not in KEY_PROFILES:
        raise ParameterError(f"given profile={profile!r}; expected one of {', '.join(KEY_PROFILES)}")
    chroma = np.asarray(chroma, dtype=np.float64)
    if not np.isfinite(chroma).all() or chroma.std() < 1e-9:
        raise AnalysisError("no pitched content to estimate a key from")
    best = (-2.0, 0, "major")
    for mode, prof in zip(("major", "minor"), KEY_PROFILES[profile]):
        prof = np.asarray(prof)
        for t in range(12):
            r = float(np.corrcoef(chroma, np.roll(prof, t))[0, 1])
            if r > best[0]:
                best = (r, t, mode)
    return best[1], best[2], best[0]


def octave_features(octaves: np.ndarray, compression: float = CHROMA_COMPRESSION) -> np.ndarray:
    """``(..., 7, 12)`` octave chroma → the learned profiles' input: ``** compression``, scaled to mean 1."""
    f = np.asarray(octaves, dtype=np.float64) ** compression
    return f * (f.shape[-1] * f.shape[-2]) / (f.sum(axis=(-2, -1), keepdims=True) + 1e-12)


def tonic_rotations(x: np.ndarray) -> np.ndarray:
    """``(..., 7, 12)`` → ``(..., 12, 7, 12)``: the octave chroma rotated so that each candidate
    tonic ``t`` (axis -3) is pitch class 0."""
    return np.stack([np.roll(x, -t, axis=-1) for t in range(12)], axis=-3)


def octave_scores(x, model: dict):
    """``(..., 12, 7, 12)`` rotated octave features (:func:`tonic_rotations` of :func:`octave_features`)
    -> ``(..., 2, 12)`` scores of (major, minor) x tonic under a learned octave ``model``: linear,
    ``{"W": (2, 7, 12), "b": (2,)}``, or a one-hidden-layer ReLU network applied to each rotation,
    ``{"W1": (H, 7, 12), "b1": (H,), "W2": (2, H), "b2": (2,)}``. Both share their weights over the
    tonics, so the key found moves with a transposition. NumPy arrays or torch tensors (training)."""
    x = x.reshape(*x.shape[:-3], 12, 84)  # one row per tonic
    if "W1" in model:
        h = (x @ model["W1"].reshape(-1, 84).T + model["b1"]).clip(min=0)
        s = h @ model["W2"].T + model["b2"]
    else:
        s = x @ model["W"].reshape(2, 84).T + model["b"]
    return s.swapaxes(-1, -2)


_OCTAVE_MODELS: dict = {}  # profile -> model dict, read once


def _octave_model(profile: str) -> dict:
    """The arrays of a shipped learned profile (:func:`octave_scores`): its card's ``model``, or the
    linear ``weights`` and ``bias`` of the first cards."""
    if profile not in _OCTAVE_MODELS:
        card = json.loads((Path(__file__).with_name(OCTAVE_PROFILES[profile])).read_text())
        arrays = card.get("model") or {"W": card["weights"], "b": card["bias"]}
        _OCTAVE_MODELS[profile] = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    return _OCTAVE_MODELS[profile]


def _check_profile(profile: str) -> None:
    if profile not in KEY_PROFILES and profile not in OCTAVE_PROFILES:
        raise ParameterError(f"given profile={profile!r}; expected one of {', '.join([*OCTAVE_PROFILES, *KEY_PROFILES])}")


def key_from_octaves(octaves: np.ndarray, profile: str = DEFAULT_KEY_PROFILE, *, model=None,
                     compression: float = CHROMA_COMPRESSION) -> tuple[int, str, float]:
    """``(tonic, mode, strength)`` of a ``(7, 12)`` octave chroma (:func:`octave_chroma`).

    A learned octave profile (:data:`OCTAVE_PROFILES`, or a ``model`` dict of :func:`octave_scores`)
    scores the 24 rotations and returns the softmax probability as the strength; a 12-bin
    profile (:data:`KEY_PROFILES`) is correlated with the folded chroma (:func:`key_from_chroma`).

    Raises:
        AnalysisError: the chroma is flat or not finite (no pitched content).
    """
    if model is None:
        _check_profile(profile)
        if profile in KEY_PROFILES:
            return key_from_chroma(fold_chroma(octaves, compression), profile)
        model = _octave_model(profile)
    o = np.asarray(octaves, dtype=np.float64)
    if not np.isfinite(o).all() or o.std() < 1e-12:
        raise AnalysisError("no pitched content to estimate a key from")
    scores = octave_scores(tonic_rotations(octave_features(o, compression)), model)  # (2, 12)
    p = np.exp(scores - scores.max())
    p /= p.sum()
    m, t = np.unravel_index(int(np.argmax(p)), p.shape)
    return int(t), ("major", "minor")[m], float(p[m, t])


def estimate_key(y: np.ndarray, sr: int, *, profile: str = DEFAULT_KEY_PROFILE,
                 compression: float = CHROMA_COMPRESSION) -> tuple[int, str, float]:
    """``(tonic pitch class, 'major'|'minor', strength)`` of a mono clip
    (:func:`octave_chroma`, then :func:`key_from_octaves` with ``profile``).

    Raises:
        AnalysisError: the clip has no pitched content.
    """
    _check_profile(profile)  # before the CQT, which is the slow part
    return key_from_octaves(octave_chroma(y, sr), profile, compression=compression)


# -- beats -----------------------------------------------------------------------------
def _band_envelopes(y: np.ndarray, sr: int) -> np.ndarray:
    """``(3, T)`` onset strength (half-wave rectified flux of a log-compressed mel spectrogram)
    in the low (< 150 Hz: kick, bass), mid (150-4000 Hz: snare, pitched) and high
    (> 4000 Hz: hats) bands, frames of :data:`HOP` samples. The compression is mild
    (``log1p(10 S / max S)``), so loud hits dominate quiet ones, unlike a dB flux."""
    S = librosa.feature.melspectrogram(y=y, sr=sr, hop_length=HOP, n_mels=64, fmax=sr / 2)  # (64, T)
    mel_f = librosa.mel_frequencies(n_mels=64, fmax=sr / 2)
    lo, mid = max(1, int(np.searchsorted(mel_f, 150.0))), int(np.searchsorted(mel_f, 4000.0))
    X = np.log1p(10.0 * S / (S.max() + 1e-12))
    flux = np.maximum(0.0, np.diff(X, axis=1, prepend=X[:, :1]))
    return np.stack([flux[:lo].sum(0), flux[lo:mid].sum(0), flux[mid:].sum(0)])


def _dp_beats(env: np.ndarray, period: float, *, tightness: float = 100.0) -> np.ndarray:
    """Ellis' (2007) dynamic-programming beat tracker: frame indices of the beat sequence that
    maximises onset strength minus ``tightness * log(interval / period)**2`` per interval.

    ``env``: ``(T,)`` onset envelope; ``period``: the beat period in frames.
    """
    T = len(env)
    env = env / (env.std() + 1e-9)
    score = env.astype(np.float64).copy()
    back = np.full(T, -1, dtype=np.int64)
    lo, hi = max(1, int(round(period / 2))), max(2, int(round(2 * period)))
    for t in range(lo, T):
        taus = np.arange(max(0, t - hi), t - lo + 1)
        c = score[taus] - tightness * np.log((t - taus) / period) ** 2
        j = int(np.argmax(c))
        if c[j] > 0:  # a predecessor only when it helps: otherwise a new sequence starts here
            score[t] += c[j]
            back[t] = taus[j]
    tail = np.arange(max(0, T - int(np.ceil(period)) - 1), T)
    t = int(tail[np.argmax(score[tail])])
    beats = [t]
    while back[t] >= 0:
        t = int(back[t])
        beats.append(t)
    return np.array(beats[::-1], dtype=np.int64)


def _at(env: np.ndarray, frames: np.ndarray, width: int = 2) -> np.ndarray:
    """Max of ``env`` within ``width`` frames of each frame index."""
    idx = np.clip(frames[:, None] + np.arange(-width, width + 1)[None, :], 0, len(env) - 1)
    return env[idx].max(axis=1)


def _backbeat(env_ks: np.ndarray, beats_f: np.ndarray) -> float:
    """Kick+snare strength on odd beats over that on even beats (phase with the stronger
    even beats); ~1 at the right level, ~0 at double tempo."""
    if len(beats_f) < 8:
        return 0.0
    s = _at(env_ks, beats_f)
    a, b = np.median(s[0::2]), np.median(s[1::2])
    hi, lo = max(a, b), min(a, b)
    return float(lo / hi) if hi > 0 else 0.0


def _comb(ac: np.ndarray, period: float, multiples=COMB_MULTIPLES) -> float:
    """Mean autocorrelation ``ac`` (lag in frames) at ``period`` (frames, fractional) times
    ``multiples``, linearly interpolated; lags beyond ``ac`` are skipped."""
    vals = [np.interp(k * period, np.arange(len(ac)), ac) for k in multiples if k * period < len(ac) - 1]
    return float(np.mean(vals)) if vals else -np.inf


def _metrical_tempo(ac: np.ndarray, t0: float, sr: int, ratios=TEMPO_RATIOS) -> float:
    """``t0`` or a tempo a simple ratio away (:data:`TEMPO_RATIOS`) whose beat period is better
    reinforced by its half bar and bar (:func:`_comb`): the autocorrelation peak can be the
    period of a syncopation (e.g. the 1.5 beats between the kicks of a ballad groove), which
    the half bar and bar do not repeat."""
    best, best_score = t0, _comb(ac, 60.0 * sr / (HOP * t0))
    for r in ratios:
        t = t0 * r
        if MIN_BPM <= t <= MAX_BPM:
            sc = _comb(ac, 60.0 * sr / (HOP * t))
            if sc > best_score:
                best, best_score = t, sc
    return best


def _prior(bpm: float) -> float:
    return float(np.exp(-0.5 * (np.log2(bpm / TEMPO_PRIOR_BPM) / TEMPO_PRIOR_OCTAVES) ** 2))


def track_beats(
    y: np.ndarray | None,
    sr: int,
    *,
    percussion: np.ndarray | None = None,
    backbeat_min: float = BACKBEAT_MIN,
    tempo_ratios=TEMPO_RATIOS,
) -> tuple[float, np.ndarray]:
    """``(tempo_bpm, beats (B,) seconds)`` of a clip.

    Args:
        y: the mix (or any stem); may be None when ``percussion`` is given.
        percussion: the percussion stem, if known: its onsets drive the tracker.
        backbeat_min: the off-beat / on-beat strength ratio a metrical level must reach.
        tempo_ratios: the non-octave alternatives to the autocorrelation's tempo that the
            half-bar/bar comb may pick instead (``()``: none, the tracker before that check).
    Raises:
        AnalysisError: no periodic onsets (e.g. a sustained pad or a single hit).
    """
    src = percussion
    if src is None:
        if y is None:
            raise ParameterError("give the mix y or a percussion stem")
        src = librosa.effects.percussive(np.asarray(y, dtype=np.float32), margin=1.0)
    src = np.asarray(src, dtype=np.float32)
    bands = _band_envelopes(src, sr)  # (3, T)
    env = bands.sum(axis=0)
    env_ks = bands[0] + bands[1]
    if env.max() <= 1e-6 or np.count_nonzero(env > 0.1 * env.max()) < 8:
        raise AnalysisError("no beat found: the clip has too few onsets to estimate a tempo")
    tg = librosa.autocorrelate(env - env.mean())
    lags = np.arange(1, len(tg))
    bpm = 60.0 * sr / (HOP * lags)
    ok = (bpm >= MIN_BPM) & (bpm <= MAX_BPM)
    if not ok.any() or tg[1:][ok].max() <= 0:
        raise AnalysisError("no beat found: the onsets are not periodic")
    weight = np.exp(-0.5 * np.log2(bpm / 110.0) ** 2)  # broad (1 octave), only to pick among peaks
    t0 = float(bpm[ok][np.argmax((tg[1:] * weight)[ok])])
    t0 = _metrical_tempo(tg / (tg[0] + 1e-12), t0, sr, tempo_ratios)
    hyps = sorted({round(t, 2) for t in (t0 / 2, t0, 2 * t0) if MIN_BPM <= t <= MAX_BPM}, reverse=True)
    cands = []
    for t in hyps:
        bf = _dp_beats(env, 60.0 * sr / (HOP * t))
        if len(bf) < 4:
            continue
        bt = bf * HOP / sr
        tempo = 60.0 / float(np.median(np.diff(bt)))
        cands.append((tempo, bt, _backbeat(env_ks, bf)))
    passing = [c for c in cands if c[2] >= backbeat_min]
    if passing:
        tempo, beats, _ = max(passing, key=lambda c: c[0])
    else:
        tempo, beats, _ = max(cands, key=lambda c: _prior(c[0]))
    log.debug("tempo hypotheses %s -> %.1f BPM", [(round(c[0], 1), round(c[2], 2)) for c in cands], tempo)
    return tempo, beats


def estimate_downbeats(
    beats: np.ndarray,
    sr: int,
    *,
    percussion: np.ndarray | None = None,
    harmonic: np.ndarray | None = None,
    beats_per_bar: int = 4,
) -> np.ndarray:
    """The downbeats among ``beats`` (seconds): the bar phase with the most kick, the least
    snare, the most bass onsets and the most chord change (z-scored per clip and summed).
    At least one of ``percussion``/``harmonic`` is needed."""
    beats = np.asarray(beats, dtype=np.float64)
    if len(beats) < beats_per_bar:
        return beats[:1]
    frames = librosa.time_to_frames(beats, sr=sr, hop_length=HOP)
    score = np.zeros(len(beats))

    def z(x):
        return (x - x.mean()) / (x.std() + 1e-9)

    if percussion is not None:
        bands = _band_envelopes(np.asarray(percussion, dtype=np.float32), sr)
        frames_p = np.clip(frames, 0, bands.shape[1] - 1)
        score += z(_at(bands[0], frames_p)) - 0.5 * z(_at(bands[1], frames_p)) + 0.3 * z(_at(bands[2], frames_p))
    if harmonic is not None:
        low = _band_envelopes(np.asarray(harmonic, dtype=np.float32), sr)[0]  # bass onsets
        score += z(_at(low, np.clip(frames, 0, len(low) - 1)))
        chroma = librosa.feature.chroma_cqt(y=np.asarray(harmonic, dtype=np.float32), sr=sr, hop_length=HOP)
        bounds = np.clip(np.concatenate([frames, [chroma.shape[1]]]), 0, chroma.shape[1])
        sync = librosa.util.sync(chroma, bounds, aggregate=np.mean, pad=False)[:, : len(beats)]  # (12, B)
        sync = sync / (np.linalg.norm(sync, axis=0, keepdims=True) + 1e-9)
        change = np.concatenate([[0.0], 1.0 - np.sum(sync[:, 1:] * sync[:, :-1], axis=0)])
        score += z(change[: len(beats)]) if len(change) >= len(beats) else 0.0
    phase = int(np.argmax([score[p::beats_per_bar].mean() for p in range(beats_per_bar)]))
    return beats[phase::beats_per_bar]


# -- everything ------------------------------------------------------------------------
def tonal_part(*, mix=None, vocals=None, harmonic=None, percussion=None) -> np.ndarray:
    """``(n,)`` float32 pitched part of a clip, which the key is taken from: vocals + harmonic when
    both are given, else the mix (or the stems' sum) minus the percussion stem, else the harmonic
    part of the mix by HPSS.

    Raises:
        ParameterError: no signal given.
    """
    given = [v for v in (mix, vocals, harmonic, percussion) if v is not None]
    if not given:
        raise ParameterError("need a mix or at least one stem")
    n = min(len(v) for v in given)
    f32 = lambda v: np.asarray(v[:n], dtype=np.float32)  # noqa: E731
    if vocals is not None and harmonic is not None:
        return f32(vocals) + f32(harmonic)
    whole = f32(mix) if mix is not None else sum(f32(v) for v in given)
    if percussion is not None:
        return whole - f32(percussion)
    return librosa.effects.harmonic(whole, margin=1.0)


def analyze(
    *,
    sr: int,
    mix: np.ndarray | None = None,
    vocals: np.ndarray | None = None,
    harmonic: np.ndarray | None = None,
    percussion: np.ndarray | None = None,
    profile: str = DEFAULT_KEY_PROFILE,
    context: dict[str, np.ndarray] | None = None,
) -> Analysis:
    """Key, tempo, beats and downbeats of one clip from its mix and/or stems.

    Beats come from ``percussion`` when given, else from the percussive part of ``mix``
    (or of the stems' sum); the key from the pitched part (:func:`tonal_part`); each array is
    ``(n,)`` float32 at ``sr``.

    ``context``: the same kinds of signal (keys ``mix``, ``vocals``, ``harmonic``,
    ``percussion``) for a longer span that holds the clip, such as its whole song: the key is
    then taken from the context's pitched part instead of the clip's. A clip's key is better told
    in its song: the POP909 val clips score 0.854 alone and 0.891 in their songs
    (``benchmarks/key_song_context.py``). Beats and downbeats stay the clip's own.

    Raises:
        ParameterError: no signal given, or signals of different lengths.
        AnalysisError: no beat or no pitch content.
    """
    given = {k: v for k, v in (("mix", mix), ("vocals", vocals), ("harmonic", harmonic), ("percussion", percussion))
             if v is not None}
    if not given:
        raise ParameterError("analyze needs a mix or at least one stem")
    if context is not None and (not context or not set(context) <= {"mix", "vocals", "harmonic", "percussion"}):
        raise ParameterError(f"given context keys {sorted(context)!r}; expected some of mix, vocals, harmonic, percussion")
    if mix is None:
        n = min(len(v) for v in given.values())
        mix = sum(np.asarray(v[:n], dtype=np.float32) for v in given.values())
    mix = np.asarray(mix, dtype=np.float32)
    tempo, beats = track_beats(mix, sr, percussion=percussion)
    tonal = tonal_part(mix=mix, vocals=vocals, harmonic=harmonic, percussion=percussion)
    key_from = tonal if context is None else tonal_part(**context)
    tonic, mode, strength = estimate_key(key_from, sr, profile=profile)
    if percussion is None:
        percussion_for_bars = librosa.effects.percussive(mix, margin=1.0)
    else:
        percussion_for_bars = percussion
    downbeats = estimate_downbeats(beats, sr, percussion=percussion_for_bars,
                                   harmonic=harmonic if harmonic is not None else tonal)
    return Analysis(key_name(tonic, mode), tonic, mode, strength, tempo, beats, downbeats)


def analyze_stem(y: np.ndarray, sr: int, role: str, *, profile: str = DEFAULT_KEY_PROFILE,
                 context: np.ndarray | None = None) -> dict:
    """One stem heard on its own, as :meth:`Analysis.to_dict` (``key``, ``tonic``, ``mode``,
    ``key_strength``, ``tempo``, ``beats``, ``downbeats``).

    ``role``: ``vocals`` or ``harmonic`` (key from the stem, or from ``context``, the same stem over
    the whole song; beats from its own onsets, a hint for a vocal, at the metrical level nearest the
    tempo prior: on 77 val vocals that halves the octave errors of the backbeat test, 38 -> 15,
    ``benchmarks/vocal_phase_hint.py``) or ``percussion`` (no key).
    What cannot be found is left empty instead of raising: the key fields are None for an
    unpitched stem, ``tempo`` is None and the beats empty for a stem without a periodic pulse.
    """
    if role not in ("vocals", "harmonic", "percussion"):
        raise ParameterError(f"given role={role!r}; expected vocals, harmonic or percussion")
    y = np.asarray(y, dtype=np.float32)
    out = {"key": None, "tonic": None, "mode": None, "key_strength": None, "tempo": None, "beats": [], "downbeats": []}
    if role != "percussion":
        try:
            tonic, mode, strength = estimate_key(y if context is None else context, sr, profile=profile)
            out |= {"key": key_name(tonic, mode), "tonic": tonic, "mode": mode, "key_strength": round(float(strength), 4)}
        except AnalysisError:
            pass
    try:
        if role == "percussion":
            tempo, beats = track_beats(None, sr, percussion=y)
        else:  # no backbeat to test on a pitched stem: the tempo prior picks the metrical level
            tempo, beats = track_beats(y, sr, backbeat_min=np.inf)
    except AnalysisError:
        return out
    down = estimate_downbeats(beats, sr, **{"percussion" if role == "percussion" else "harmonic": y})
    return out | {"tempo": round(float(tempo), 3), "beats": [round(float(x), 4) for x in beats],
                  "downbeats": [round(float(x), 4) for x in down]}

"""One combination of three stems scored as it is, and the score explained.

>>> r = score_combination("vocals.wav", "harmonic.wav", "drums.wav", scorer="automashupper")
>>> r["score"], r["key_distance"], r["tempo_ratio"], r["downbeat_phase"]

The explanation: key distance of the harmonic stem from the vocal (semitones),
tempo ratio (vocal / percussion), downbeat phase of the percussion against the
vocal's bars, and AutoMashUpper's harmonic, rhythmic and spectral-balance terms.
"""

from __future__ import annotations

import os

from collage.audio.analyze import (
    AnalysisError,
    analyze,
    estimate_downbeats,
    estimate_key,
    key_name,
    track_beats,
)
from collage.audio.mix import mix_stems, normalize_loudness
from collage.errors import ParameterError
from collage.io.audio import load_audio
from collage.mashup.generate import key_distance
from collage.mashup.score import (
    FEATURE_SR,
    automashupper_score,
    learned_scores,
    load_scorer,
    mashup_features,
)

__all__ = ["SCORERS", "downbeat_phase", "fold_octave", "score_combination"]

#: The ways to score a mashup: the two learned models (shipped weights) and the rule-based AutoMashUpper.
SCORERS = ("premixnet", "postmixnet", "automashupper")


def _stem_analysis(path: str, fn, *args, **kw):
    """Run an analysis step on one stem, naming the file when it fails."""
    try:
        return fn(*args, **kw)
    except AnalysisError as e:
        raise AnalysisError(f"{path}: {e}") from None


def fold_octave(ratio: float) -> float:
    """A tempo ratio moved by factors of 2 into [1/sqrt 2, sqrt 2] (a lone vocal's beat is often tracked at double or half tempo)."""
    r = float(ratio)
    while r > 2**0.5:
        r /= 2
    while r < 2**-0.5:
        r *= 2
    return r


def downbeat_phase(vocal_downbeats, vocal_tempo: float, percussion_downbeats) -> float:
    """Offset of the percussion's first downbeat from the vocal's bar grid, in bars, in [-0.5, 0.5)
    (4/4 bars of the vocal's tempo; times in seconds)."""
    bar = 4 * 60.0 / float(vocal_tempo)
    return float(((percussion_downbeats[0] - vocal_downbeats[0]) / bar + 0.5) % 1.0 - 0.5)


def score_combination(vocals: str | os.PathLike, harmonic: str | os.PathLike, percussion: str | os.PathLike, *,
                      scorer: str = "premixnet") -> dict:
    """Score three stem files as they are (no shifting): the learned score and its explanation.

    The stems are read (any rate, mono or stereo), cut to the shortest,
    loudness-normalised and mixed; ``scorer`` is one of :data:`SCORERS`.

    Returns ``{"score", "scorer", "key_distance", "tempo_ratio", "downbeat_phase",
    "harmonic", "rhythmic", "spectral", "automashupper", "analysis": {role: ...}}``;
    ``tempo_ratio`` is vocal tempo / percussion tempo folded by octaves (``tempo_ratio_raw``
    unfolded), ``downbeat_phase`` the offset of
    the percussion's first downbeat from the vocal's bar grid in bars, in [-0.5, 0.5).
    """
    if scorer not in SCORERS:
        raise ParameterError(f"given scorer={scorer!r}; expected one of {', '.join(SCORERS)}")
    sr = FEATURE_SR
    paths = {"vocals": vocals, "harmonic": harmonic, "percussion": percussion}
    audio = {r: load_audio(p, sr=sr) for r, p in paths.items()}
    n = min(len(y) for y in audio.values())
    audio = {r: normalize_loudness(y[:n], sr) for r, y in audio.items()}

    v, h, p = audio["vocals"], audio["harmonic"], audio["percussion"]
    key_v = key_name(*_stem_analysis(vocals, estimate_key, v, sr)[:2])
    key_h = key_name(*_stem_analysis(harmonic, estimate_key, h, sr)[:2])
    tempo_v, beats_v = _stem_analysis(vocals, track_beats, v, sr)
    tempo_p, beats_p = _stem_analysis(percussion, track_beats, None, sr, percussion=p)
    down_v = estimate_downbeats(beats_v, sr, harmonic=v)
    down_p = estimate_downbeats(beats_p, sr, percussion=p)
    joint = _stem_analysis(vocals, analyze, sr=sr, vocals=v, harmonic=h, percussion=p)  # the mashup's beat grid
    phase = downbeat_phase(down_v if len(down_v) else beats_v, tempo_v, down_p if len(down_p) else beats_p)
    amu = automashupper_score(audio, sr, beats=joint.beats, downbeats=joint.downbeats)
    stems = dict(audio)
    stems["mix"] = mix_stems([audio[r] for r in ("vocals", "harmonic", "percussion")], sr, stem_lufs=None)
    if scorer == "automashupper":
        score = amu["score"]
    else:
        score = float(learned_scores([mashup_features(stems, sr)], load_scorer(scorer))[0])
    return {
        "score": round(float(score), 4),
        "scorer": scorer,
        "key_distance": key_distance(key_v, key_h),
        "tempo_ratio": round(fold_octave(tempo_v / tempo_p), 4),
        "tempo_ratio_raw": round(float(tempo_v / tempo_p), 4),
        "downbeat_phase": round(phase, 4),
        "harmonic": round(amu["harmonic"], 4),
        "rhythmic": round(amu["rhythmic"], 4),
        "spectral": round(amu["spectral"], 4),
        "automashupper": round(amu["score"], 4),
        "seconds": round(n / sr, 2),
        "analysis": {
            "vocals": {"key": key_v, "tempo": round(float(tempo_v), 2)},
            "harmonic": {"key": key_h},
            "percussion": {"tempo": round(float(tempo_p), 2)},
            "mashup": {"tempo": round(float(joint.tempo), 2), "beats": len(joint.beats)},
        },
    }

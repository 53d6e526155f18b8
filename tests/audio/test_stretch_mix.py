"""Rubber Band stretching and loudness mixing on synthetic audio."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collage.audio.mix import loudness, mix_stems, normalize_loudness
from collage.audio.stretch import stretch
from collage.errors import ParameterError

SR = 8000


def tone(f=440.0, seconds=2.0, sr=SR, amp=0.3):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * f * t)).astype(np.float32)


@settings(max_examples=6, deadline=None)
@given(ratio=st.floats(0.8, 1.25), semitones=st.integers(-3, 3))
def test_stretch_length_is_input_over_ratio(ratio, semitones):
    y = tone(seconds=1.5)
    out = stretch(y, SR, ratio=ratio, semitones=semitones, high_quality=False)
    assert out.dtype == np.float32
    assert abs(len(out) - len(y) / ratio) <= 0.01 * len(y) + 64


def test_pitch_shift_moves_the_peak_frequency():
    y = tone(440.0, seconds=2.0)
    out = stretch(y, SR, semitones=12)
    spec = np.abs(np.fft.rfft(out[SR // 2 : SR + SR // 2]))
    peak_hz = np.argmax(spec) * SR / SR  # 1 s window: bin = 1 Hz
    assert abs(peak_hz - 880.0) < 15


def test_stretch_rejects_bad_input():
    with pytest.raises(ParameterError, match="NaN"):
        stretch(np.array([0.0, np.nan] * 100, np.float32), SR, ratio=1.1)
    with pytest.raises(ParameterError, match="ratio"):
        stretch(tone(), SR, ratio=10.0)


def test_normalize_loudness_hits_target_and_guards_peak():
    y = tone(amp=0.01)
    out = normalize_loudness(y, SR, target_lufs=-20.0)
    assert abs(loudness(out, SR) - (-20.0)) < 0.1
    loud = normalize_loudness(tone(amp=0.01), SR, target_lufs=-1.0)
    assert np.max(np.abs(loud)) <= 0.99 + 1e-6


def test_silence_is_left_alone_and_mix_is_normalised():
    silent = np.zeros(SR * 2, np.float32)
    assert np.all(normalize_loudness(silent, SR) == 0)
    m = mix_stems([tone(220, amp=0.5), tone(330, seconds=1.5, amp=0.01), silent], SR, mix_lufs=-14.0)
    assert len(m) == int(1.5 * SR)
    assert abs(loudness(m, SR) + 14.0) < 0.2

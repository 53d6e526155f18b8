"""Mashup candidates under the original / matched / unmatched conditions."""

import numpy as np
import pytest

from collage.errors import ParameterError
from collage.mashup.generate import (
    key_distance,
    matched_candidates,
    original_candidate,
    parse_key,
    place_stem,
    render_candidate,
    tempo_ratio,
    unmatched_candidate,
)

SR = 16000


def test_parse_key_and_distance():
    assert parse_key("Gb:maj") == (6, "major")
    assert parse_key("f# minor") == (6, "minor")
    assert key_distance("C:maj", "A:min") == 0  # relative keys
    assert key_distance("D:maj", "C:maj") == 2
    assert key_distance("C:maj", "B:maj") == 1
    assert key_distance("C:maj", "F#:maj") == -6
    with pytest.raises(ParameterError, match="key"):
        parse_key("H:dorian")


def test_matched_candidates_respect_key_and_tempo(clips):
    seed = clips[0]  # C major, 120 BPM
    rng = np.random.default_rng(0)
    cands = matched_candidates(seed, clips, n=10, seconds=6.0, vocal_start_s=0.0, rng=rng)
    assert cands, "the pool has matching stems"
    by = {c.id: c for c in clips}
    for c in cands:
        assert c.harmonic != seed.id and c.percussion != seed.id
        assert abs(c.harmonic_semitones) <= 3
        assert c.harmonic_semitones == key_distance(seed.key, by[c.harmonic].key)
        assert 0.8 <= c.percussion_ratio <= 1.2 and 0.8 <= c.harmonic_ratio <= 1.2
    # F# major is 6 semitones away and 70 BPM is out of range: never chosen
    assert not any(c.harmonic in ("d", "e") for c in cands)
    assert not any(c.percussion == "e" for c in cands)


def test_unmatched_modes(clips):
    seed = clips[0]
    rng = np.random.default_rng(1)
    k = unmatched_candidate(seed, clips, seconds=6.0, vocal_start_s=0.0, rng=rng, mode="key")
    assert k.harmonic_semitones == 0 and key_distance(seed.key, {c.id: c for c in clips}[k.harmonic].key) != 0
    t = unmatched_candidate(seed, clips, seconds=6.0, vocal_start_s=0.0, rng=rng, mode="tempo")
    assert t.harmonic_ratio == 1.0 and t.percussion_ratio == 1.0
    assert 0.1 <= abs(t.harmonic_offset_s + t.percussion_offset_s) <= 1.0
    with pytest.raises(ParameterError, match="mode"):
        unmatched_candidate(seed, clips, seconds=6.0, vocal_start_s=0.0, rng=rng, mode="chord")


def test_render_candidate_lengths_and_loudness(clips):
    from collage.audio.mix import loudness

    by = {c.id: c for c in clips}
    rng = np.random.default_rng(0)
    cand = matched_candidates(clips[0], clips, n=1, seconds=6.0, vocal_start_s=0.0, rng=rng)[0]
    out = render_candidate(cand, by, high_quality=False)
    assert set(out) == {"vocals", "harmonic", "percussion", "mix"}
    assert all(len(y) == 6 * SR for y in out.values())
    assert abs(loudness(out["mix"], SR) + 14.0) < 0.5
    orig = render_candidate(original_candidate(clips[0], seconds=6.0, vocal_start_s=0.0), by)
    assert np.max(np.abs(orig["mix"])) <= 0.99 + 1e-6


def test_place_stem_aligns_downbeats():
    """A click at source time 2.0 s, stretched by 1.25 from start 1.0 s, lands at 0.8 s (+ offset)."""
    y = np.zeros(SR * 6, np.float32)
    y[2 * SR : 2 * SR + 80] = 1.0
    out = place_stem(y, SR, start_s=1.0, seconds=3.0, ratio=1.25, offset_s=0.5, high_quality=False)
    assert len(out) == 3 * SR
    env = np.convolve(np.abs(out), np.ones(160), mode="same")
    assert abs(np.argmax(env) / SR - 1.3) < 0.03


def test_seconds_are_checked(clips):
    with pytest.raises(ParameterError, match="seconds"):
        original_candidate(clips[0], seconds=2.0, vocal_start_s=0.0)
    with pytest.raises(ParameterError, match="BPM"):
        tempo_ratio(0.0, 120.0)

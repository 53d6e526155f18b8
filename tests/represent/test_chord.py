"""Chords: Harte label parsing, per-beat chord tracks, the estimator, chord-vector transposition."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collage.errors import ParameterError
from collage.represent.chord import (
    CHORD_DIM,
    beat_chroma,
    chord_track_from_labels,
    chord_vector,
    chord_vectors,
    estimate_chord_labels,
    estimate_chords,
    labels_at_beats,
    parse_chord,
    vector_to_label,
)
from collage.represent.transpose import transpose_chords


@pytest.mark.parametrize(
    "label, root, chroma, bass",
    [
        ("C:maj", 0, {0, 4, 7}, 0),
        ("A:min7", 9, {9, 0, 4, 7}, 9),
        ("Bb:maj/5", 10, {10, 2, 5}, 5),
        ("F#:sus4(b7)", 6, {6, 11, 1, 4}, 6),
        ("G:7", 7, {7, 11, 2, 5}, 7),
        ("D:hdim7", 2, {2, 5, 8, 0}, 2),
        ("C#:min/b3", 1, {1, 4, 8}, 4),
        ("Ab:maj7/7", 8, {8, 0, 3, 7}, 7),
        ("E:dim7", 4, {4, 7, 10, 1}, 4),
        ("C:maj(*5,9)", 0, {0, 4, 2}, 0),
        ("C:maj/b7", 0, {0, 4, 7, 10}, 10),
        ("Cb", 11, {11, 3, 6}, 11),
        ("N", -1, set(), -1),
    ],
)
def test_parse_chord(label, root, chroma, bass):
    c = parse_chord(label)
    assert (c.root, set(c.chroma), c.bass) == (root, chroma, bass)
    v = chord_vector(label)
    assert v.shape == (CHORD_DIM,) and v.dtype == np.float32
    if root < 0:
        assert not v.any()
        return
    assert np.flatnonzero(v[:12]).tolist() == [root]
    assert set(np.flatnonzero(v[12:24]).tolist()) == chroma
    assert np.flatnonzero(v[24:]).tolist() == [bass]


def test_unknown_quality_and_bad_label():
    with pytest.raises(ParameterError, match=r"'C:blues7'.*unknown quality 'blues7'"):
        parse_chord("C:blues7")
    with pytest.raises(ParameterError, match="'H:maj'"):
        parse_chord("H:maj")
    with pytest.raises(ParameterError, match="degree 'x'"):
        parse_chord("C:maj(3,x)")
    with pytest.raises(ParameterError, match="Harte syntax"):
        parse_chord("C:maj/x")


@pytest.mark.pop909
def test_every_pop909_label_parses(pop909_root):
    labels = set()
    for path in sorted(pop909_root.glob("*/chord_midi.txt")):
        for line in path.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) == 3:
                labels.add(parts[2])
    assert len(labels) > 100  # 320 distinct labels in POP909
    for label in labels:
        vec = chord_vector(label)
        # and the vector names a label with the same vector
        np.testing.assert_array_equal(chord_vector(vector_to_label(vec)), vec, err_msg=label)


def test_vector_to_label_roundtrip_names():
    for label in ("C:maj", "A:min7/b7", "F#:sus4(b7)", "D:hdim7", "Bb:maj/5", "E:sus2", "N"):
        assert vector_to_label(chord_vector(label)) == label


def test_labels_at_beats_majority_and_midpoint():
    segs = [(0.0, 1.2, "C:maj"), (1.2, 2.0, "G:maj"), (2.5, 4.0, "A:min")]
    beats = [0.0, 1.0, 2.0, 3.0]
    # beat 1 [1, 2): C 0.2 s, G 0.8 s; beat 2 [2, 3): gap 0.5 s, Am 0.5 s -> a tie, which the chord wins
    assert labels_at_beats(segs, beats) == ["C:maj", "G:maj", "A:min", "A:min"]
    assert labels_at_beats([(0.0, 0.4, "C:maj"), (0.4, 1.0, "N")], [0.0, 1.0]) == ["N", "N"]
    assert labels_at_beats(segs, beats, method="midpoint") == ["C:maj", "G:maj", "A:min", "A:min"]
    track = chord_track_from_labels(segs, beats)
    assert track.shape == (4, CHORD_DIM) and track.dtype == np.float32
    np.testing.assert_array_equal(track, chord_vectors(["C:maj", "G:maj", "A:min", "A:min"]))
    with pytest.raises(ParameterError, match="beat_times_s"):
        labels_at_beats(segs, [0.0, 0.0])
    with pytest.raises(ParameterError, match="method='vote'"):
        labels_at_beats(segs, beats, method="vote")


def _block(chord_pitches, beat, spb=4, beats=1):
    return [[beat * spb, beats * spb, p, 80] for p in chord_pitches]


def test_estimator_on_clear_triads():
    notes = np.array(
        _block([48, 64, 67, 72], 0)  # C major
        + _block([45, 60, 64, 69], 1)  # A minor
        + _block([43, 59, 62, 65], 2)  # G7
        + _block([52, 60, 67], 3)  # C major, first inversion
        + _block([50, 53, 57], 5)  # D minor after a silent beat
    )
    labels = estimate_chord_labels(notes, 6)
    assert labels == ["C:maj", "A:min", "G:7", "C:maj/3", "N", "D:min"]
    track = estimate_chords(notes, 6)
    np.testing.assert_array_equal(track, chord_vectors(labels))
    # the same without smoothing, and at 2 steps per beat
    assert estimate_chord_labels(notes, 6, smoothing=0.0) == labels
    half = notes.copy()
    half[:, :2] //= 2
    assert estimate_chord_labels(half, 6, steps_per_beat=2) == labels


def test_beat_chroma_counts_sounding_steps():
    notes = np.array([[2, 4, 60, 80], [0, 8, 43, 80], [-4, 6, 76, 80]])
    chroma, bass = beat_chroma(notes, 3)
    assert chroma[0, 0] == 2 and chroma[1, 0] == 2 and chroma[0, 7] == 4 and chroma[0, 4] == 2
    assert bass.tolist() == [43, 43, -1]


@pytest.mark.pop909
def test_estimator_agrees_with_pop909_annotation(pop909_root):
    from collage.io import read_midi
    from collage.represent.grid import BeatGrid, quantize

    d = pop909_root / "001"
    piece = read_midi(d / "001.mid")
    beats = np.loadtxt(d / "beat_midi.txt", ndmin=2)[:, 0]
    segs = [ln.split("\t") for ln in (d / "chord_midi.txt").read_text().splitlines() if ln.count("\t") == 2]
    ref = labels_at_beats([(float(a), float(b), c) for a, b, c in segs], beats)
    notes = quantize(piece.track("PIANO").notes, BeatGrid.from_seconds(piece, beats))
    est = estimate_chord_labels(notes, len(beats))
    roots = [(parse_chord(r).root, parse_chord(e).root) for r, e in zip(ref, est) if r != "N"]
    assert np.mean([a == b for a, b in roots]) > 0.8


chord_labels = st.sampled_from(["C:maj", "A:min7", "Bb:maj/5", "F#:sus4(b7)", "G:7", "D:hdim7", "N", "E:dim7"])


@settings(max_examples=60, deadline=None)
@given(st.lists(chord_labels, min_size=1, max_size=16), st.integers(-30, 30))
def test_transpose_chords_and_back(labels, k):
    track = chord_vectors(labels)
    up = transpose_chords(track, k)
    assert up.shape == track.shape and up.dtype == track.dtype
    np.testing.assert_array_equal(transpose_chords(up, -k), track)
    for label, vec in zip(labels, up):
        c = parse_chord(label)
        if c.is_none:
            assert not vec.any()
            continue
        assert vec[: 12].argmax() == (c.root + k) % 12 and vec[24:].argmax() == (c.bass + k) % 12
        assert set(np.flatnonzero(vec[12:24])) == {(pc + k) % 12 for pc in c.chroma}


def test_transpose_chord_by_hand():
    assert vector_to_label(transpose_chords(chord_vector("C:maj/3"), 2)) == "D:maj/3"
    with pytest.raises(ParameterError, match=r"chords.shape=\(24,\)"):
        transpose_chords(np.zeros(24), 1)

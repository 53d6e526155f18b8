"""collage.fusion.reharmonize: chord-explicit re-voicing of the accompaniment's own notes."""

import numpy as np
import pytest

from collage.errors import ParameterError
from collage.fusion.reharmonize import (
    QUALITIES, TONES, ChordStats, accompaniment_chords, choose_chords, edit_melody, fit_chord_stats,
    reduce_label, reharmonize, revoice, strong_steps_for,
)

C, AM, F, G7 = 0, 12 + 9, 5, 24 + 7  # chord indices: 12 * quality + root


def chord_mask(k):
    q, r = divmod(k, 12)
    return {(r + iv) % 12 for iv in TONES[q]}


def texture(chords_roots):
    """Two bars of a bass + broken-chord texture, one triad per half bar (8 steps), in C major."""
    notes = []
    for s, (root, third) in enumerate(chords_roots):
        t = 8 * s
        notes.append([t, 8, 36 + root, 80])                       # bass: the root
        for k, iv in enumerate((0, third, 7, 12)):
            notes.append([t + 2 * k, 2, 48 + root + iv, 64 + k])  # arpeggio
    return np.array(notes, dtype=np.int64)


@pytest.fixture(scope="module")
def stats():
    # a toy corpus: C-major melodies over C / F / G / Am, enough to make the tables informative
    mel = np.array([[0, 4, 72, 90], [4, 4, 76, 90], [8, 4, 77, 90], [12, 4, 81, 90],
                    [16, 4, 79, 90], [20, 4, 74, 90], [24, 4, 81, 90], [28, 4, 76, 90]], dtype=np.int64)
    labels = ["C:maj", "C:maj", "F:maj", "F:maj", "G:7", "G:7", "A:min", "A:min"]
    return fit_chord_stats([(mel, labels)] * 5)


def test_reduce_label():
    assert reduce_label("C:maj") == (0, 0)
    assert reduce_label("A:min7/b7") == (9, 3)
    assert reduce_label("G:7") == (7, 2)
    assert reduce_label("F:maj7") == (5, 4)
    assert reduce_label("B:dim") is None and reduce_label("N") is None and reduce_label("C:sus4") is None


def test_stats_shapes_and_fit(stats):
    assert stats.fit.shape == (len(QUALITIES), 12) and stats.trans.shape == (len(QUALITIES), 12, len(QUALITIES))
    np.testing.assert_allclose(np.exp(stats.trans).sum(axis=(1, 2)), 1.0)
    # a melody on C and E fits C major better than C# major
    chroma = np.zeros(12)
    chroma[[0, 4]] = 4
    fit = stats.chord_fit(chroma)
    assert fit[C] > fit[1]
    with pytest.raises(ParameterError):
        ChordStats(np.zeros((2, 12)), stats.trans)


def test_accompaniment_chords_read_the_texture():
    acc = texture([(0, 4), (9, 3), (5, 4), (7, 4)])  # C, Am, F, G
    assert accompaniment_chords(acc, 4, 8).tolist() == [C, AM, F, 7]


def test_unchanged_chords_give_identical_notes(stats):
    acc = texture([(0, 4), (9, 3), (5, 4), (7, 4)])
    mel = np.array([[0, 8, 61, 90], [8, 8, 66, 90], [16, 8, 63, 90], [24, 8, 68, 90]], dtype=np.int64)
    out_mel, out_acc, info = reharmonize(mel, acc, stats, keep_chord=1.0, keep_pitch=1.0, span_steps=8)
    np.testing.assert_array_equal(out_acc, acc)
    np.testing.assert_array_equal(out_mel, mel)
    np.testing.assert_array_equal(info["chords"], info["own"])
    # a span whose chord is kept keeps its notes even when another span changes
    own = accompaniment_chords(acc, 4, 8)
    new = own.copy()
    new[1] = F
    out = revoice(acc, own, new, span_steps=8)
    keep = acc[:, 0] // 8 != 1
    np.testing.assert_array_equal(out[keep], acc[keep])


@pytest.mark.parametrize("tensions", ["keep", "snap"])
def test_revoiced_notes_are_in_the_new_chord_and_keep_the_rhythm(tensions):
    acc = texture([(0, 4), (0, 4), (0, 4), (0, 4)])  # C major throughout, chord tones only
    own = np.array([C, C, C, C])
    new = np.array([C, AM, F, G7])
    out = revoice(acc, own, new, span_steps=8, tensions=tensions)
    np.testing.assert_array_equal(out[:, [0, 1, 3]], acc[:, [0, 1, 3]])  # onsets, durations, velocities
    for s, k in enumerate(new.tolist()):
        rows = acc[:, 0] // 8 == s
        assert {int(p) % 12 for p in out[rows, 2]} <= chord_mask(k)
        assert np.abs(out[rows, 2] - acc[rows, 2]).max() <= 6  # nearest-octave placement
        # the bass (first note of each span) plays the new root
        assert out[np.flatnonzero(rows)[0], 2] % 12 == k % 12
    # the voicing's shape: the arpeggio still rises in every span
    for s in range(4):
        arp = out[(acc[:, 0] // 8 == s) & (acc[:, 1] == 2), 2]
        assert np.all(np.diff(arp) > 0)


def test_non_chord_tones_keep_their_interval_or_snap():
    acc = np.array([[0, 4, 62, 80], [0, 4, 60, 80], [0, 4, 64, 80], [0, 4, 67, 80]], dtype=np.int64)  # D over C
    own, new = np.array([C]), np.array([F])
    kept = revoice(acc, own, new, span_steps=8, tensions="keep")
    assert kept[0, 2] % 12 == 7  # a ninth above F
    snapped = revoice(acc, own, new, span_steps=8, tensions="snap")
    assert {int(p) % 12 for p in snapped[:, 2]} <= chord_mask(F)
    # no two notes meet on one pitch at one onset
    assert len({(o, p) for o, p in snapped[:, [0, 2]].tolist()}) == len(snapped)
    with pytest.raises(ParameterError):
        revoice(acc, own, new, span_steps=8, tensions="loose")


def test_keep_chord_moves_fewer_chords_as_it_grows(stats):
    acc = texture([(0, 4), (0, 4), (0, 4), (0, 4)])
    own = accompaniment_chords(acc, 4, 8)
    mel = np.array([[0, 8, 77, 90], [8, 8, 81, 90], [16, 8, 79, 90], [24, 8, 71, 90]], dtype=np.int64)  # F A G B
    changed = [int((choose_chords(mel, own, stats, span_steps=8, keep_chord=k) != own).sum())
               for k in (0.0, 0.5, 0.9, 0.99, 1.0)]
    assert changed == sorted(changed, reverse=True) and changed[0] > 0 and changed[-1] == 0


def test_melody_edits_stay_in_budget():
    mel = np.array([[0, 8, 61, 90], [8, 4, 66, 90], [12, 4, 66, 90], [16, 8, 63, 90]], dtype=np.int64)
    chords = np.array([C, C, C, C])
    assert np.array_equal(edit_melody(mel, chords, span_steps=8, keep_pitch=1.0), mel)
    out = edit_melody(mel, chords, span_steps=8, keep_pitch=0.5)  # budget 2 of 4
    np.testing.assert_array_equal(out[:, [0, 1, 3]], mel[:, [0, 1, 3]])
    moved = np.flatnonzero(out[:, 2] != mel[:, 2])
    assert len(moved) == 2 and set(moved.tolist()) == {0, 3}  # strong steps (0, 8, 16), longest first
    assert all(int(p) % 12 in chord_mask(C) for p in out[moved, 2])
    assert out[2, 2] == 66  # step 12 is not strong


def test_reharmonize_checks_its_arguments(stats):
    acc = texture([(0, 4)] * 4)
    mel = np.array([[0, 8, 60, 90]], dtype=np.int64)
    with pytest.raises(ParameterError, match="keep_chord"):
        reharmonize(mel, acc, stats, keep_chord=2)
    with pytest.raises(ParameterError, match="multiple"):
        reharmonize(mel, acc, stats, n_steps=30)
    with pytest.raises(ParameterError, match="ChordStats"):
        reharmonize(mel, acc, None)
    m, a, info = reharmonize(mel, np.zeros((0, 4), dtype=np.int64), stats)  # no accompaniment: nothing to do
    assert len(a) == 0 and (info["chords"] == -1).all() and np.array_equal(m, mel)


def test_default_changes_chords_and_keeps_rhythm_and_count(stats):
    acc = texture([(0, 4)] * 4)  # C major throughout
    mel = np.array([[0, 4, 77, 90], [4, 4, 81, 90], [8, 4, 77, 90], [12, 4, 74, 90],
                    [16, 4, 79, 90], [20, 4, 71, 90], [24, 4, 74, 90], [28, 4, 67, 90]], dtype=np.int64)  # F A F D G B D G
    m, a, info = reharmonize(mel, acc, stats)
    assert (info["chords"] != info["own"]).any()
    assert len(a) == len(acc) and len(m) == len(mel)
    np.testing.assert_array_equal(a[:, [0, 1, 3]], acc[:, [0, 1, 3]])
    np.testing.assert_array_equal(m[:, [0, 1, 3]], mel[:, [0, 1, 3]])
    assert (m[:, 2] != mel[:, 2]).sum() <= len(mel) // 2


def test_lower_keep_pitch_never_edits_less(stats):
    assert [strong_steps_for(k) for k in (1.0, 0.75, 0.5, 0.25, 0.0)] == [4, 4, 2, 1, 1]
    acc = texture([(0, 4)] * 4)
    mel = np.array([[o, 1, p, 90] for o, p in zip(range(0, 32, 2), [61, 66, 63, 68, 70, 61, 66, 63] * 2)],
                   dtype=np.int64)
    mel[1::2, 0] += 1  # every other note off the 8th-note grid
    moved = [int((reharmonize(mel, acc, stats, keep_pitch=k, keep_chord=1.0)[0][:, 2] != mel[:, 2]).sum())
             for k in (1.0, 0.75, 0.5, 0.25, 0.0)]
    assert moved == sorted(moved) and moved[0] == 0 and moved[-1] > moved[2]

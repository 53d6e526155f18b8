"""Sequences, labels and features of a built chorale."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from collage.arrangement.data import (
    STEPS_PER_BEAT,
    entry_from_labels,
    merge_pitched_notes,
    note_features,
    pitch_hints_from_labels,
    sequence_from_piece,
    to_steps,
)
from collage.errors import ParameterError
from collage.piece import Piece, Track


def test_sequence_sorted_with_labels(chorale):
    seq = sequence_from_piece(chorale, "satb")
    assert len(seq) == chorale.n_notes == 18
    on, pitch = seq.notes[:, 0], seq.notes[:, 2]
    assert (np.diff(on) >= 0).all()
    same = np.diff(on) == 0
    assert (np.diff(pitch)[same] >= 0).all()  # by onset, then pitch
    # first onset: bass C3, tenor E4, soprano C5 (the alto enters at beat 1)
    assert seq.notes[:3].tolist() == [[0, 96, 48], [0, 24, 64], [0, 24, 72]]
    assert seq.labels[:3].tolist() == [3, 2, 0]
    # every note keeps its label: the per-part pitch multisets match the tracks
    for k, t in enumerate(chorale.tracks):
        assert sorted(seq.notes[seq.labels == k, 2].tolist()) == sorted(t.pitches.tolist())
    # order maps back to the merged tick rows
    assert (seq.ticks[seq.order, 2] == seq.notes[:, 2]).all()


def test_steps_and_features(chorale):
    seq = sequence_from_piece(chorale, "satb")
    assert STEPS_PER_BEAT == 24
    assert to_steps(np.array([[240, 120, 60, 90]]), 480).tolist() == [[12, 6, 60]]
    entry = seq.entry_steps()
    assert entry == [0, 24, 0, 0]  # the alto enters one beat late
    f = note_features(seq.notes, n_parts=4, entry=entry, pitch_hints=pitch_hints_from_labels(seq.notes, seq.labels, 4))
    n = len(seq)
    assert f["pitch"].shape == f["position"].shape == f["beat"].shape == f["duration"].shape == (n,)
    assert f["entry"].shape == (n, 4) and f["pitch_hint"].shape == (4,)
    i = int(np.flatnonzero((seq.notes[:, 0] == 12 * 13))[0])  # the tenor's eighth note F4 at beat 6.5
    assert f["beat"][i] == 6 and f["position"][i] == 12 and f["duration"][i] == 12
    assert f["entry"][0].tolist() == [1, 0, 1, 1]  # alto not entered at the first onset
    assert f["entry"][-1].tolist() == [1, 1, 1, 1]
    assert f["pitch_hint"][3] == round((48 + 43) / 2)
    none = note_features(seq.notes, n_parts=4)
    assert not none["entry"].any() and not none["pitch_hint"].any()


def test_entry_and_absent_part():
    notes = np.array([[0, 4, 60], [4, 4, 62]])
    assert entry_from_labels(notes, np.array([0, 0]), 3) == [0, None, None]
    f = note_features(notes, n_parts=3, entry=[0, None, None])
    assert f["entry"][:, 1:].sum() == 0
    with pytest.raises(ParameterError, match="entry hints; expected one per part"):
        note_features(notes, n_parts=3, entry=[0])


def test_duration_clipped_and_beat():
    f = note_features(np.array([[24 * 5000, 1000, 60]]), n_parts=2)
    assert f["duration"][0] == 192 and f["beat"][0] == 4095


def test_sequence_rejects_foreign_track(chorale):
    chorale.tracks.append(Track(np.array([[0, 480, 60, 80]]), name="Organ"))
    with pytest.raises(ParameterError, match="'Organ' .* is not a part of 'satb'"):
        sequence_from_piece(chorale, "satb")
    assert len(sequence_from_piece(chorale, "satb", strict=False)) == 18


def test_merge_drops_drums_and_duplicates(chorale, caplog):
    drums = Track(np.array([[0, 120, 36, 100], [480, 120, 38, 100]]), name="Drums", is_drum=True)
    double = Track(chorale.tracks[0].notes.copy(), name="Flute")  # doubles the soprano
    piece = Piece(chorale.tracks + [drums, double], tpq=chorale.tpq)
    with caplog.at_level(logging.WARNING):
        seq = merge_pitched_notes(piece, 4)
    # the alto and tenor sing two unisons (G4, A4) and the flute doubles the soprano's five notes
    assert len(seq) == 18 - 2 and seq.labels is None
    text = caplog.text
    assert "dropped 2 drum note(s)" in text and "merged 7 duplicate note(s)" in text

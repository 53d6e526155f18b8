"""Zone and closest-pitch baselines on hand-made examples with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from collage.arrangement.baselines import (
    ZoneModel,
    closest_pitch,
    entry_note_indices,
    fit_zone_model,
    load_zones,
    pitch_counts,
    zone_predict,
)
from collage.errors import ModelLoadingError, ParameterError


def test_zone_fit_known_answer():
    # part 0 high (70..79), part 1 middle (55..64), part 2 low (30..40): perfect zones exist
    pitches = np.r_[np.arange(70, 80), np.arange(55, 65), np.arange(30, 41)]
    labels = np.r_[np.zeros(10), np.ones(10), np.full(11, 2)].astype(int)
    z = fit_zone_model(pitch_counts(pitches, labels, 3))
    assert z.order == [0, 1, 2]
    assert (zone_predict(pitches, z) == labels).all()
    assert 65 <= z.boundaries[0] <= 70 and 41 <= z.boundaries[1] <= 55 and z.boundaries[2] == 0


def test_zone_fit_finds_order():
    # part 1 sits above part 0: the order must flip; one stray note cannot be fixed
    pitches = np.array([80, 81, 82, 50, 51, 52, 81])
    labels = np.array([1, 1, 1, 0, 0, 0, 0])
    z = fit_zone_model(pitch_counts(pitches, labels, 2))
    assert z.order == [1, 0]
    assert (zone_predict(pitches, z) == labels).sum() == 6


def test_zone_table_and_shipped_zones():
    z = ZoneModel(boundaries=[60, 0], order=[0, 1])
    t = z.table()
    assert t[127] == 0 and t[60] == 0 and t[59] == 1 and t[0] == 1
    satb = load_zones("satb")
    assert sorted(satb.order) == [0, 1, 2, 3]
    assert load_zones("pop909").table().shape == (128,)
    with pytest.raises(ModelLoadingError, match="no zones for ensemble 'nonet'"):
        load_zones("nonet")


def test_closest_pitch_follows_voices():
    # two voices a tenth apart moving in parallel; the upper (part 0) enters first
    notes = np.array([[0, 1, 72], [0, 1, 60], [1, 1, 74], [1, 1, 62], [2, 1, 76], [2, 1, 64]])
    order = np.lexsort((notes[:, 2], notes[:, 0]))
    notes = notes[order]  # sorted by onset then pitch: lower voice first in each chord
    first = [1, 0]  # part 0 (upper) starts with note 1 (72), part 1 with note 0 (60)
    pred = closest_pitch(notes, first)
    assert pred.tolist() == [1, 0, 1, 0, 1, 0]
    assert closest_pitch(notes, first, mono=True).tolist() == [1, 0, 1, 0, 1, 0]


def test_closest_pitch_mono_vs_poly():
    # part 0 holds a long note; part 1 plays a line that passes right by it
    notes = np.array([[0, 8, 67], [0, 1, 60], [1, 1, 64], [2, 1, 66], [3, 1, 62]])
    notes = notes[np.lexsort((notes[:, 2], notes[:, 0]))]
    first = [1, 0]  # 67 is part 0's first note, 60 part 1's
    truth = [1, 0, 1, 1, 1]
    poly = closest_pitch(notes, first)
    mono = closest_pitch(notes, first, mono=True)
    assert mono.tolist() == truth  # part 0 is still sounding, so the line stays in part 1
    assert poly.tolist() == [1, 0, 0, 0, 1]  # 64 and 66 are closer to 67


def test_closest_pitch_waits_for_entry():
    notes = np.array([[0, 1, 60], [1, 1, 72], [2, 1, 71]])
    pred = closest_pitch(notes, [1, 0])  # part 0 enters at note 1
    assert pred.tolist() == [1, 0, 0]
    with pytest.raises(ParameterError, match="at least one part"):
        closest_pitch(notes, [None, None])


def test_entry_note_indices():
    notes = np.array([[0, 4, 48], [0, 4, 64], [0, 4, 72], [24, 4, 67]])
    # parts listed high to low: three enter at 0, the second at beat 1
    assert entry_note_indices(notes, [0, 24, 0, 0]) == [2, 3, 1, 0]
    assert entry_note_indices(notes, [0, None, None, 30]) == [2, None, None, None]

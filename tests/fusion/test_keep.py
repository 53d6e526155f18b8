"""Keep means keep: a control at 1 takes its aspect from the input's own notes."""

import numpy as np
import pytest

import collage
from collage.examples import path as example_path
from collage.fusion.edit import keep_aspects, pitches_at
from collage.fusion.vertical import FusionModels
from collage.metrics.notes import note_f1

ALL = dict(keep_pitch=1.0, keep_rhythm=1.0, keep_chord=1.0, keep_texture=1.0)


def _beats(track, tpq):
    n = track.notes.astype(float)
    return np.stack([n[:, 0] / tpq, n[:, 1] / tpq, n[:, 2]], axis=1)


@pytest.mark.parametrize("models", ["shipped", "tiny"])
def test_all_controls_at_one_give_the_bundled_examples_back(models):
    m = FusionModels.load() if models == "shipped" else FusionModels.tiny()
    mel, acc = collage.load(example_path("melody")), collage.load(example_path("accompaniment"))
    r = collage.fuse(mel, acc, method="collagenet", models=m, **ALL)
    out = {t.name: t for t in r.piece.tracks}
    assert note_f1(_beats(mel.tracks[0], mel.tpq), _beats(out["MELODY"], r.piece.tpq))["f1"] == 1.0
    ref = _beats(acc.tracks[0], acc.tpq)
    ref[:, 2] += r.key_shift
    assert note_f1(ref, _beats(out["ACCOMPANIMENT"], r.piece.tpq))["f1"] == 1.0
    assert len(out["ACCOMPANIMENT"].notes) == len(acc.tracks[0].notes)  # 72 in, 72 out
    np.testing.assert_array_equal(out["MELODY"].notes[:, 3], mel.tracks[0].notes[:, 3])  # velocities too


def test_one_kept_aspect_of_the_melody():
    mel, acc = collage.load(example_path("melody")), collage.load(example_path("accompaniment"))
    tiny = FusionModels.tiny()
    mel_in = _beats(mel.tracks[0], mel.tpq)
    rhythm = collage.fuse(mel, acc, method="collagenet", models=tiny, keep_pitch=0.0, keep_rhythm=1.0)
    got = _beats(rhythm.piece.tracks[0], rhythm.piece.tpq)
    # the input's onsets and durations note for note, on the 16th-note grid fusion works on (within 1/8 beat)
    np.testing.assert_allclose(got[:, :2], mel_in[:, :2], atol=0.125)
    pitch = collage.fuse(mel, acc, method="collagenet", models=tiny, keep_pitch=1.0, keep_rhythm=0.0)
    got = _beats(pitch.piece.tracks[0], pitch.piece.tpq)
    # every note sounds a pitch the input melody sounds at (or nearest to) that onset
    steps = np.round(mel_in * [4, 4, 1]).astype(np.int64)  # the input on the 16th-note grid
    np.testing.assert_array_equal(got[:, 2], pitches_at(steps, np.round(got[:, 0] * 4).astype(np.int64)))


def test_pitches_at_sounding_else_nearest_onset():
    src = np.array([[0, 4, 60, 90], [8, 2, 64, 90], [12, 4, 67, 90]])
    np.testing.assert_array_equal(pitches_at(src, np.array([0, 3, 4, 6, 7, 9, 10, 11, 15, 30])),
                                  [60, 60, 60, 64, 64, 64, 64, 67, 67, 67])
    # ties go to the earlier note: step 4 is 4 from onsets 0 and 8 -> 60; step 10 is 2 from 8 and 12 -> 64
    assert pitches_at(src, np.array([4]))[0] == 60


def test_keep_aspects_leaves_changed_aspects_to_the_models():
    mel_in = np.array([[0, 4, 60, 80], [4, 4, 62, 80]])
    mel_out = np.array([[0, 2, 65, 90], [2, 6, 67, 90]])
    acc_in, acc_out = np.array([[0, 8, 48, 70]]), np.array([[0, 8, 50, 64]])
    half = dict(pitch=0.5, rhythm=0.5, chord=0.5, texture=0.99)
    m, a = keep_aspects(half, mel_in, mel_out, acc_in, acc_out)
    assert m is mel_out and a is acc_out
    m, a = keep_aspects(dict(half, chord=1.0, texture=1.0, rhythm=1.0), mel_in, mel_out, acc_in, acc_out)
    np.testing.assert_array_equal(a, acc_in)
    np.testing.assert_array_equal(m, [[0, 4, 65, 80], [4, 4, 67, 80]])  # input rhythm, output pitches

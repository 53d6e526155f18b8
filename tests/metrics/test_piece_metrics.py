"""collage.metrics.piece against muspy 0.5.0 (the reference), plus edge cases.

The same file is read with ``collage.io.read_midi`` (symusic) and
``muspy.read_midi`` (mido); both give the same notes and muspy's
``resolution`` is the file's ticks per beat, our ``Piece.tpq``.
"""

from __future__ import annotations

import math
import warnings

import mido
import numpy as np
import pytest

from collage.errors import ParameterError
from collage.io import read_midi
from collage.metrics import piece as pm
from collage.metrics.piece import EmptyInputWarning
from collage.piece import KeySignature, Piece, TimeSignature, Track

muspy = pytest.importorskip("muspy")

SONGS = ["001", "002", "100", "500", "909"]
METRICS = [
    "pitch_range",
    "n_pitches_used",
    "n_pitch_classes_used",
    "polyphony",
    "polyphony_rate",
    "pitch_in_scale_rate",
    "scale_consistency",
    "pitch_entropy",
    "pitch_class_entropy",
    "empty_beat_rate",
    "empty_measure_rate",
    "drum_in_pattern_rate",
    "drum_pattern_consistency",
    "groove_consistency",
]


def muspy_metrics(music, *, root, mode, meter="duple", measure_resolution, threshold=2) -> dict:
    return {
        "pitch_range": muspy.pitch_range(music),
        "n_pitches_used": muspy.n_pitches_used(music),
        "n_pitch_classes_used": muspy.n_pitch_classes_used(music),
        "polyphony": muspy.polyphony(music),
        "polyphony_rate": muspy.polyphony_rate(music, threshold),
        "pitch_in_scale_rate": muspy.pitch_in_scale_rate(music, root, mode),
        "scale_consistency": muspy.scale_consistency(music),
        "pitch_entropy": muspy.pitch_entropy(music),
        "pitch_class_entropy": muspy.pitch_class_entropy(music),
        "empty_beat_rate": muspy.empty_beat_rate(music),
        "empty_measure_rate": muspy.empty_measure_rate(music, measure_resolution),
        "drum_in_pattern_rate": muspy.drum_in_pattern_rate(music, meter),
        "drum_pattern_consistency": muspy.drum_pattern_consistency(music),
        "groove_consistency": muspy.groove_consistency(music, measure_resolution),
    }


def assert_same(ours: dict, theirs: dict, keys=METRICS):
    for k in keys:
        a, b = ours[k], float(theirs[k])
        if math.isnan(b):
            assert math.isnan(a), (k, a, b)
        else:
            assert a == pytest.approx(b, rel=0, abs=1e-12), (k, a, b)


def drop_control_changes(music):
    """muspy counts control-change events (kept as track annotations) in a piece's
    length; a Piece keeps no control changes. Drop them to compare like with like."""
    for track in music.tracks:
        track.annotations = []
    return music


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyInputWarning)
        return fn(*args, **kwargs)


# -- POP909 ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def pop909_pairs(pop909_root):
    pairs = {}
    for song in SONGS:
        path = pop909_root / song / f"{song}.mid"
        pairs[song] = (read_midi(path), muspy.read_midi(path))
    return pairs


@pytest.mark.pop909
@pytest.mark.parametrize("song", SONGS)
def test_agrees_with_muspy_on_pop909(pop909_pairs, song):
    piece, music = pop909_pairs[song]
    assert piece.tpq == music.resolution == 480
    theirs = muspy_metrics(drop_control_changes(music.deepcopy()), root=7, mode="minor", measure_resolution=4 * 480)
    ours = quiet(pm.evaluate, piece, root=7, mode="minor", measure_resolution=4 * 480)
    assert set(ours) == set(METRICS)
    assert_same(ours, theirs)
    assert math.isnan(ours["drum_pattern_consistency"])  # POP909 has no drums


@pytest.mark.pop909
def test_piece_functions_match_evaluate_and_muspy_per_metric(pop909_pairs):
    piece, music = pop909_pairs["002"]  # no control change after the last note
    mr = 2 * 480  # the file says 2/4
    assert pm.measure_ticks(piece) == mr
    got = {
        "pitch_range": pm.pitch_range(piece),
        "n_pitches_used": pm.n_pitches_used(piece),
        "n_pitch_classes_used": pm.n_pitch_classes_used(piece),
        "polyphony": pm.polyphony(piece),
        "polyphony_rate": pm.polyphony_rate(piece, threshold=1),
        "pitch_in_scale_rate": pm.pitch_in_scale_rate(piece, root=2, mode="Major"),
        "scale_consistency": pm.scale_consistency(piece),
        "pitch_entropy": pm.pitch_entropy(piece),
        "pitch_class_entropy": pm.pitch_class_entropy(piece),
        "empty_beat_rate": pm.empty_beat_rate(piece),
        "empty_measure_rate": pm.empty_measure_rate(piece),
        "groove_consistency": pm.groove_consistency(piece),
    }
    theirs = muspy_metrics(music, root=2, mode="major", measure_resolution=mr, threshold=1)
    assert_same(got, theirs, keys=list(got))
    ours = quiet(pm.evaluate, piece, root=2, mode="major", threshold=1)
    assert_same(ours, got, keys=list(got))
    assert isinstance(got["pitch_range"], int) and isinstance(got["n_pitches_used"], int)


@pytest.mark.pop909
def test_length_with_control_changes_reproduced_through_arrays(pop909_pairs):
    # in 001 the piano's pedal events run past the last note: muspy's length is longer
    piece, music = pop909_pairs["001"]
    muspy_length = max(t.get_end_time() for t in music.tracks)
    assert muspy_length > piece.end_tick
    a = pm.note_arrays(piece)
    mr = 4 * 480
    assert pm.empty_beat_rate_from_arrays(a.onsets, a.durations, resolution=480, length=muspy_length) == (
        muspy.empty_beat_rate(music)
    )
    assert pm.empty_measure_rate_from_arrays(a.onsets, a.durations, measure_resolution=mr, length=muspy_length) == (
        muspy.empty_measure_rate(music, mr)
    )
    assert pm.groove_consistency_from_arrays(a.onsets, a.durations, measure_resolution=mr, length=muspy_length) == (
        pytest.approx(muspy.groove_consistency(music, mr), abs=1e-12)
    )
    assert pm.polyphony_rate_from_arrays(a.onsets, a.durations, a.pitches, length=muspy_length) == (
        muspy.polyphony_rate(music)
    )
    # the Piece-level value uses the last note's end, and differs
    assert pm.empty_beat_rate(piece) != muspy.empty_beat_rate(music)


# -- files built in code -----------------------------------------------------------


def _write(tmp_path, name, tpq, meta, tracks):
    """A type-1 MIDI file: ``meta`` messages in track 0, then ``tracks`` of
    ``(channel, program, [(onset, duration, pitch)], cc_tick_or_None)``."""
    mid = mido.MidiFile(ticks_per_beat=tpq)
    t0 = mido.MidiTrack(meta)
    mid.tracks.append(t0)
    for channel, program, notes, cc_tick in tracks:
        events = [(on, 1, mido.Message("note_on", note=p, velocity=90, channel=channel)) for on, du, p in notes]
        events += [(on + du, 0, mido.Message("note_off", note=p, velocity=0, channel=channel)) for on, du, p in notes]
        if cc_tick is not None:
            events.append((cc_tick, 2, mido.Message("control_change", control=64, value=0, channel=channel)))
        events.sort(key=lambda e: (e[0], e[1]))
        trk = mido.MidiTrack([mido.Message("program_change", program=program, channel=channel, time=0)])
        now = 0
        for tick, _, msg in events:
            trk.append(msg.copy(time=tick - now))
            now = tick
        mid.tracks.append(trk)
    path = tmp_path / name
    mid.save(path)
    return path


@pytest.fixture
def drum_file(tmp_path):
    """4/4 at tpq 120 (divisible by 2, 3 and 4): piano chords and a drum track with
    16th, triplet and off-grid hits."""
    rng = np.random.default_rng(7)
    q = 120
    piano = [(b * q, q * int(rng.integers(1, 4)), int(p)) for b in range(16) for p in rng.choice(range(48, 72), 3, False)]
    grid = [0, 30, 40, 60, 80, 90, 7, 55]
    drums = [(b * q + int(rng.choice(grid)), 10, int(rng.choice([36, 38, 42]))) for b in range(20) for _ in range(3)]
    drums = sorted(set(drums))
    meta = [mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0)]
    return _write(tmp_path, "drums.mid", q, meta, [(0, 0, piano, None), (9, 0, drums, None)])


@pytest.mark.parametrize("meter", ["duple", "triple"])
def test_agrees_with_muspy_with_drums(drum_file, meter):
    piece, music = read_midi(drum_file), muspy.read_midi(drum_file)
    assert [t.is_drum for t in piece.tracks] == [t.is_drum for t in music.tracks] == [False, True]
    mr = 4 * music.resolution
    ours = quiet(pm.evaluate, piece, root=0, mode="major", meter=meter)
    theirs = muspy_metrics(music, root=0, mode="major", meter=meter, measure_resolution=mr)
    assert_same(ours, theirs)
    assert 0 < ours["drum_in_pattern_rate"] < 1
    assert pm.drum_in_pattern_rate(piece, meter=meter) == theirs["drum_in_pattern_rate"]
    assert pm.drum_pattern_consistency(piece) == theirs["drum_pattern_consistency"]


def test_metre_tempo_and_key_from_the_file(tmp_path):
    """tpq 96, 3/4, two tempi, a key signature (E-flat major) and a pedal event
    after the last note: muspy's resolution is the file's 96, a measure 3 * 96 ticks."""
    q = 96
    meta = [
        mido.MetaMessage("key_signature", key="Eb", time=0),
        mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90), time=0),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(140), time=6 * q),
    ]
    rng = np.random.default_rng(3)
    notes = [(int(on), int(du), int(p)) for on, du, p in zip(
        np.sort(rng.integers(0, 24 * q, 120)), rng.integers(1, 2 * q, 120), rng.choice([63, 65, 67, 68, 70, 72, 74, 61], 120)
    )]
    path = _write(tmp_path, "waltz.mid", q, meta, [(0, 0, notes, 30 * q)])
    piece, music = read_midi(path), muspy.read_midi(path)
    assert piece.tpq == music.resolution == q
    assert pm.measure_ticks(piece) == 3 * q
    key = music.key_signatures[0]
    assert pm.key_root_mode(piece) == (key.root, key.mode) == (3, "major")
    ours = quiet(pm.evaluate, piece)  # measure and key from the file
    theirs = muspy_metrics(drop_control_changes(music), root=key.root, mode=key.mode, measure_resolution=3 * q)
    assert_same(ours, theirs)
    assert ours["groove_consistency"] != quiet(pm.evaluate, piece, measure_resolution=4 * q)["groove_consistency"]


def _music(tracks, resolution):
    return muspy.Music(
        resolution=resolution,
        tracks=[
            muspy.Track(is_drum=t.is_drum, notes=[muspy.Note(int(o), int(p), int(d), 64) for o, d, p, _ in t.notes])
            for t in tracks
        ],
    )


def test_agrees_with_muspy_on_random_pieces():
    """Overlapping same-pitch notes, zero durations, odd resolutions, drums."""
    rng = np.random.default_rng(0)
    for _ in range(60):
        res = int(rng.choice([1, 3, 4, 7, 12, 96]))
        tracks = []
        for _ in range(int(rng.integers(1, 4))):
            n = int(rng.integers(0, 25))
            on, du = rng.integers(0, 12 * res, n), rng.integers(0, 3 * res, n) * (rng.random(n) < 0.9)
            notes = np.stack([on, du, rng.integers(40, 52, n), np.full(n, 64)], 1)
            tracks.append(Track(notes, is_drum=bool(rng.random() < 0.3)))
        piece, music = Piece(tracks, tpq=res), _music(tracks, res)
        opts = dict(root=int(rng.integers(12)), mode=str(rng.choice(["major", "minor"])),
                    meter=str(rng.choice(["duple", "triple"])), threshold=int(rng.integers(0, 4)))
        mr = int(rng.choice([1, res, 3 * res, 4 * res]))
        ours = quiet(pm.evaluate, piece, measure_resolution=mr, **opts)
        theirs = muspy_metrics(music, measure_resolution=mr, **opts)
        if piece.n_notes and all(t.is_drum for t in tracks if len(t)):
            assert theirs["pitch_range"] == -127 and ours["pitch_range"] == 0  # see below
            theirs["pitch_range"] = 0
        assert_same(ours, theirs)


# -- edge cases --------------------------------------------------------------------


EMPTY_VALUES = {
    "pitch_range": 0.0,
    "n_pitches_used": 0.0,
    "n_pitch_classes_used": 0.0,
    **{k: math.nan for k in METRICS[3:]},
}


@pytest.mark.parametrize("tracks", [[], [Track(np.zeros((0, 4)), name="silent")]], ids=["no-tracks", "no-notes"])
def test_empty_piece_warns_once_and_returns_documented_values(tracks):
    piece = Piece(tracks, tpq=480)
    with pytest.warns(EmptyInputWarning) as record:
        out = pm.evaluate(piece)
    assert len(record) == 1
    assert "no pitched notes" in str(record[0].message) and "no drum notes" in str(record[0].message)
    for k, v in EMPTY_VALUES.items():
        assert (math.isnan(out[k]) if math.isnan(v) else out[k] == v), k
    with pytest.warns(EmptyInputWarning, match="pitch_range: no pitched notes; returning 0"):
        assert pm.pitch_range(piece) == 0
    with pytest.warns(EmptyInputWarning, match="polyphony: no sounding pitched notes; returning nan"):
        assert math.isnan(pm.polyphony(piece))
    with pytest.warns(EmptyInputWarning, match="empty_beat_rate: the piece has length 0"):
        assert math.isnan(pm.empty_beat_rate(piece))
    with pytest.warns(EmptyInputWarning, match="groove_consistency: fewer than two measures"):
        assert math.isnan(pm.groove_consistency(piece))
    with pytest.warns(EmptyInputWarning, match="drum_pattern_consistency: no drum notes; returning nan"):
        assert math.isnan(pm.drum_pattern_consistency(piece))


def test_only_drums():
    q = 24
    drums = Track(np.array([[i * 6, 3, 36 + i % 3, 100] for i in range(40)]), is_drum=True)
    piece = Piece([drums], tpq=q)
    music = _music([drums], q)
    with pytest.warns(EmptyInputWarning, match="pitch_entropy: no pitched notes; returning nan"):
        assert math.isnan(pm.pitch_entropy(piece))
    with pytest.warns(EmptyInputWarning, match="polyphony_rate: no pitched notes; returning 0.0"):
        assert pm.polyphony_rate(piece) == muspy.polyphony_rate(music) == 0.0
    with pytest.warns(EmptyInputWarning, match="pitch_range"):
        assert pm.pitch_range(piece) == 0
    assert muspy.pitch_range(music) == -127  # muspy's artefact; we document 0 instead
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # drum and all-note metrics do not warn
        assert pm.drum_in_pattern_rate(piece, meter="duple") == muspy.drum_in_pattern_rate(music, "duple") == 1.0
        assert pm.drum_in_pattern_rate(piece, meter="triple") == muspy.drum_in_pattern_rate(music, "triple")
        assert pm.empty_beat_rate(piece) == muspy.empty_beat_rate(music)
        assert pm.groove_consistency(piece, measure_resolution=4 * q) == muspy.groove_consistency(music, 4 * q)


def test_touching_and_overlapping_notes_of_one_pitch():
    # [0, 10) and [5, 20) of pitch 60 merge; [20, 30) touches; 64 over [8, 12)
    on, du, p = np.array([0, 5, 20, 8]), np.array([10, 15, 10, 4]), np.array([60, 60, 60, 64])
    assert pm.polyphony_from_arrays(on, du, p) == (30 + 4) / 30
    assert pm.polyphony_rate_from_arrays(on, du, p, threshold=1) == 4 / 30
    assert pm.polyphony_rate_from_arrays(on, du, p, threshold=1, length=60) == 4 / 60
    # a note ending on a beat line also occupies the next beat (muspy's convention)
    assert pm.empty_beat_rate_from_arrays([0], [10], resolution=10, length=40) == 1 - 2 / 5


def test_time_signature_change_warns():
    piece = Piece(
        [Track(np.array([[0, 480, 60, 80], [4000, 480, 62, 80]]))],
        tpq=480,
        time_signatures=[TimeSignature(0, 3, 4), TimeSignature(1440, 4, 4)],
    )
    with pytest.warns(UserWarning, match="changes time signature; measure metrics use the first, 3/4"):
        assert pm.measure_ticks(piece) == 1440
    assert pm.measure_ticks(Piece([], tpq=96, time_signatures=[TimeSignature(0, 6, 8)])) == 288
    assert pm.measure_ticks(Piece([], tpq=96)) == 384


@pytest.mark.parametrize(
    "sharps, minor, expected", [(0, False, (0, "major")), (0, True, (9, "minor")), (-3, False, (3, "major")),
                                (2, True, (11, "minor")), (7, False, (1, "major"))]
)
def test_key_root_mode(sharps, minor, expected):
    assert pm.key_root_mode(Piece([], key_signatures=[KeySignature(0, sharps, minor)])) == expected


def test_no_key_gives_nan_pitch_in_scale_rate_with_a_warning(two_track_piece):
    with pytest.warns(EmptyInputWarning, match="pitch_in_scale_rate: no root/mode given and no key signature"):
        out = pm.evaluate(two_track_piece)
    assert math.isnan(out["pitch_in_scale_rate"])
    assert quiet(pm.evaluate, two_track_piece, root=0, mode="major")["pitch_in_scale_rate"] == 1.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda p: pm.empty_measure_rate(p, measure_resolution=-4), r"given measure_resolution=-4; expected a positive"),
        (lambda p: pm.groove_consistency(p, measure_resolution=0), r"given measure_resolution=0"),
        (lambda p: pm.groove_consistency(p, measure_resolution=2.5), r"given measure_resolution=2.5"),
        (lambda p: pm.evaluate(p, measure_resolution=-1), r"given measure_resolution=-1"),
        (lambda p: pm.pitch_in_scale_rate(p, root=0, mode="dorian"), r"given mode='dorian'; expected one of \['major', 'minor'\]"),
        (lambda p: pm.pitch_in_scale_rate(p, root=12, mode="major"), r"given root=12; expected a pitch class 0..11"),
        (lambda p: pm.evaluate(p, root=0), r"given root=0, mode=None; give both or neither"),
        (lambda p: pm.drum_in_pattern_rate(p, meter="quadruple"), r"given meter='quadruple'; expected one of"),
        (lambda p: pm.polyphony_rate(p, threshold=-1), r"given threshold=-1"),
        (lambda p: pm.evaluate("song.mid"), r"given piece of type str; expected a collage.piece.Piece"),
        (lambda p: pm.polyphony_from_arrays([0, 1], [1], [60, 60]), r"onsets.shape=\(2,\), durations.shape=\(1,\)"),
        (lambda p: pm.pitch_entropy_from_arrays([60, 128]), r"given a pitch of 128; expected MIDI numbers 0..127"),
        (lambda p: pm.pitch_range_from_arrays([[60]]), r"given pitches.shape=\(1, 1\); expected a 1-D array"),
        (lambda p: pm.empty_beat_rate_from_arrays([0], [-5], resolution=4), r"given a duration of -5 ticks"),
        (lambda p: pm.empty_beat_rate_from_arrays([0], [8], resolution=4, length=4), r"given length=4; expected an integer >= the last note's end \(8 ticks\)"),
    ],
)
def test_invalid_arguments_raise(two_track_piece, call, match):
    with pytest.raises(ParameterError, match=match):
        call(two_track_piece)


def test_validate_names_the_bad_track(two_track_piece):
    pm.validate(two_track_piece)
    bad = Track(np.array([[0, 10, 60, 80]]), name="LEAD")
    bad.notes[0, 1] = -10  # Track does not check durations itself
    with pytest.raises(ParameterError, match=r"track 1 \('LEAD'\) has a duration of -10 ticks"):
        pm.evaluate(Piece([two_track_piece.tracks[0], bad]))

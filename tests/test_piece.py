"""Piece and Track: validation, selection, transposition, time maps, require_pitched."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collage.errors import InvalidMidiError, InvalidScoreError, ParameterError
from collage.piece import DEFAULT_QPM, KeySignature, Piece, Tempo, TimeSignature, Track

# -- construction -----------------------------------------------------------------


def test_notes_are_sorted_and_int64():
    t = Track([[10, 5, 64, 80], [0, 5, 67, 80], [0, 5, 60, 80]])
    assert t.notes.dtype == np.int64
    assert t.notes[:, :3].tolist() == [[0, 5, 60], [0, 5, 67], [10, 5, 64]]
    assert Track(np.zeros((0, 4))).notes.shape == (0, 4)
    assert Track([]).notes.shape == (0, 4)


@pytest.mark.parametrize(
    "row, problem",
    [
        ([-1, 5, 60, 80], r"0\]=-1 \(onset\); expected >= 0"),
        ([0, -5, 60, 80], r"1\]=-5 \(duration\); expected >= 0"),
        ([0, 5, 128, 80], r"2\]=128 \(pitch\); expected 0\.\.127"),
        ([0, 5, -1, 80], r"2\]=-1 \(pitch\); expected 0\.\.127"),
        ([0, 5, 60, 200], r"3\]=200 \(velocity\); expected 0\.\.127"),
    ],
)
def test_bad_notes_are_rejected(row, problem):
    with pytest.raises(ParameterError, match=r"given notes\[1, " + problem):
        Track([[0, 1, 60, 80], row])


def test_bad_shapes_and_values():
    with pytest.raises(ParameterError, match=r"given notes.shape=\(2, 3\); expected \(N, 4\)"):
        Track([[0, 1, 60], [1, 1, 62]])
    with pytest.raises(ParameterError, match=r"notes\[0, 0\]=0\.5; expected integer"):
        Track(np.array([[0.5, 1, 60, 80]]))
    assert Track(np.array([[0.0, 1.0, 60.0, 80.0]])).notes.tolist() == [[0, 1, 60, 80]]
    with pytest.raises(ParameterError, match="given program=128"):
        Track([], program=128)


def test_piece_validation():
    with pytest.raises(ParameterError, match="given tpq=0"):
        Piece([], tpq=0)
    with pytest.raises(ParameterError, match="given tpq=96.5"):
        Piece([], tpq=96.5)
    assert type(Piece([], tpq=np.int64(96)).tpq) is int
    with pytest.raises(ParameterError, match="given tempo 0.0 qpm at tick 5"):
        Piece([], tempos=[Tempo(0, 120), Tempo(5, 0)])
    with pytest.raises(ParameterError, match="given tempo -60.0 qpm"):
        Piece([], tempos=[Tempo(0, -60)])
    with pytest.raises(ParameterError, match="given tempo inf qpm"):
        Piece([], tempos=[Tempo(0, float("inf"))])
    with pytest.raises(ParameterError, match="given time signature 0/4 at tick 0"):
        Piece([], time_signatures=[TimeSignature(0, 0, 4)])


def test_maps_sorted_by_tick_keeping_order_within_a_tick():
    p = Piece([], tempos=[(1000, 90), (0, 140), (0, 100)], key_signatures=[(5, 2, False), (0, -1, True)])
    assert p.tempos == [Tempo(0, 140.0), Tempo(0, 100.0), Tempo(1000, 90.0)]
    assert p.key_signatures == [KeySignature(0, -1, True), KeySignature(5, 2, False)]
    # the last of the events at tick 0 governs: 480 ticks at 100 qpm = 0.6 s
    assert p.ticks_to_seconds(480) == pytest.approx(0.6)


def test_sizes(two_track_piece):
    p = two_track_piece
    assert p.n_notes == 14 and p.end_tick == 8 * 480 and p.track_names == ["MELODY", "PIANO"]
    assert p.duration_s == pytest.approx(8 * 0.6)
    assert Piece([]).end_tick == 0 and Piece([]).duration_s == 0.0


# -- selection ----------------------------------------------------------------------


def test_select(two_track_piece):
    p = two_track_piece
    assert p.track("melody").name == "MELODY"
    assert p.track(-1).name == "PIANO"
    assert p.select(["piano", 0]).track_names == ["PIANO", "MELODY"]
    assert p.has_track(" Piano ") and not p.has_track("drums")
    assert p.select("piano").track_names == ["PIANO"]  # one name, not its letters
    assert p.select(1).track_names == ["PIANO"]
    with pytest.raises(ParameterError, match=r"no track named 'bass'; the piece has tracks \['MELODY', 'PIANO'\]"):
        p.select(["bass"])
    with pytest.raises(ParameterError, match="given track index 2; the piece has 2 tracks"):
        p.track(2)
    src = Piece(p.tracks, source="song.mid")
    with pytest.raises(ParameterError, match="song.mid has 2 tracks"):
        src.track(5)


def test_merged(two_track_piece):
    m = two_track_piece.merged(name="all")
    assert len(m) == 14 and m.name == "all" and not m.is_drum
    assert np.all(np.diff(m.onsets) >= 0)
    assert len(Piece([]).merged()) == 0


# -- drums, require_pitched ---------------------------------------------------------


def drums():
    return Track([[0, 10, 36, 100], [240, 10, 38, 100]], name="kit", is_drum=True)


def test_pitched_and_require_pitched(two_track_piece):
    p = Piece(two_track_piece.tracks + [drums()], source="song.mid")
    assert p.pitched().track_names == ["MELODY", "PIANO"]
    assert p.require_pitched().track_names == ["MELODY", "PIANO"]


@pytest.mark.parametrize(
    "source, error, prefix",
    [("beat.mid", InvalidMidiError, "beat.mid: "), ("beat.musicxml", InvalidScoreError, "beat.musicxml: "), (None, InvalidMidiError, "the piece: ")],
)
def test_require_pitched_drum_only(source, error, prefix):
    p = Piece([drums()], source=source)
    assert p.pitched().n_notes == 0
    with pytest.raises(error, match=f"^{prefix}has only drum notes; expected pitched notes$"):
        p.require_pitched()


def test_require_pitched_empty():
    p = Piece([Track([], name="silent")], source="x.mid")
    with pytest.raises(InvalidMidiError, match="^x.mid: has no notes"):
        p.require_pitched()


# -- transposition ------------------------------------------------------------------

note_rows = st.lists(
    st.tuples(st.integers(0, 5000), st.integers(0, 960), st.integers(0, 127), st.integers(1, 127)), min_size=1, max_size=30
)


@settings(max_examples=60, deadline=None)
@given(rows=note_rows, drum_rows=note_rows, k=st.integers(-127, 127))
def test_transpose_there_and_back(rows, drum_rows, k):
    p = Piece([Track(rows, name="a"), Track(drum_rows, name="kit", is_drum=True), Track([], name="empty")])
    lo, hi = int(p.tracks[0].pitches.min()), int(p.tracks[0].pitches.max())
    if not (0 <= lo + k and hi + k <= 127):
        with pytest.raises(ParameterError, match=f"transposing by {k} moves notes of track 'a' outside 0..127"):
            p.transpose(k)
        return
    up = p.transpose(k)
    assert sorted(up.tracks[0].pitches.tolist()) == sorted((p.tracks[0].pitches + k).tolist())
    np.testing.assert_array_equal(up.tracks[1].notes, p.tracks[1].notes)  # drums untouched
    back = up.transpose(-k)
    for a, b in zip(p.tracks, back.tracks):
        np.testing.assert_array_equal(a.notes, b.notes)
    assert back.tempos == p.tempos and back.track_names == p.track_names


def test_transpose_out_of_range_and_bad_amounts(two_track_piece):
    with pytest.raises(ParameterError, match="transposing by 70 moves notes of track 'MELODY' outside 0..127"):
        two_track_piece.transpose(70)
    with pytest.raises(ParameterError, match="transposing by -49"):
        two_track_piece.transpose(-49)
    with pytest.raises(ParameterError, match=r"given semitones=1.5; expected a whole number"):
        two_track_piece.transpose(1.5)
    assert two_track_piece.transpose(np.int64(2)).tracks[0].pitches[0] == 62
    # drums may sit anywhere: they are not moved, so they never block a transposition
    p = Piece([Track([[0, 1, 127, 1]], is_drum=True), Track([[0, 1, 60, 1]])])
    assert p.transpose(10).tracks[0].pitches.tolist() == [127]


# -- time maps ------------------------------------------------------------------------


def test_default_tempo_before_first_event():
    p = Piece([], tpq=100, tempos=[Tempo(200, 60.0)])
    # ticks 0..200 at 120 qpm (0.005 s per tick), then 60 qpm (0.01 s per tick)
    assert p.ticks_to_seconds([0, 100, 200, 300]) == pytest.approx([0, 0.5, 1.0, 2.0])
    assert p.seconds_to_ticks([0.5, 1.0, 2.0]) == pytest.approx([100, 200, 300])
    assert DEFAULT_QPM == 120.0


def test_time_maps_keep_shape():
    p = Piece([], tpq=480, tempos=[Tempo(0, 100.0), Tempo(960, 50.0)])
    grid = np.arange(12).reshape(3, 4) * 480
    assert p.ticks_to_seconds(grid).shape == (3, 4)
    np.testing.assert_allclose(p.seconds_to_ticks(p.ticks_to_seconds(grid)), grid)

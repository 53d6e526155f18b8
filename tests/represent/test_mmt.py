"""The MMT event representation: encode/decode round trips, order, instruments, windows."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collage.errors import ParameterError
from collage.piece import Piece, Track
from collage.represent import mmt as rep


def _piece(rows_by_track, tpq=480):
    tracks = [Track(np.array(rows, dtype=np.int64).reshape(-1, 4), name=name, program=rep.PROGRAMS[name])
              for name, rows in rows_by_track.items()]
    return Piece(tracks, tpq=tpq)


def _note_set(piece):
    return {(t.name, *r[:3]) for t in piece.tracks for r in t.notes.tolist()}


note_rows = st.lists(
    st.tuples(
        st.integers(0, 200 * 12),              # onset in positions
        st.sampled_from(rep.DURATIONS),        # a duration the codebook holds
        st.integers(0, 127),
    ),
    min_size=1, max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(tracks=st.dictionaries(st.sampled_from(rep.INSTRUMENTS), note_rows, min_size=1, max_size=4))
def test_round_trip_on_grid(tracks):
    # notes on the 1/12-beat grid with codebook durations come back exactly (as a set: duplicates merge)
    k = 480 // rep.RESOLUTION
    piece = _piece({n: [[o * k, d * k, p, 80] for o, d, p in rows] for n, rows in tracks.items()})
    codes = rep.encode(piece)
    rep.validate_codes(codes)
    back = rep.decode(codes)
    assert _note_set(back) == _note_set(piece)
    # and encoding the decoded piece gives the same codes
    assert np.array_equal(rep.encode(back), codes)


def test_layout_and_sort_order():
    piece = _piece({
        "piano": [[480, 480, 60, 80], [0, 240, 64, 80]],
        "melody": [[0, 240, 72, 80], [0, 240, 64, 80]],
    })
    codes = rep.encode(piece)
    types = codes[:, rep.TYPE].tolist()
    assert types == [rep.SOS, rep.INSTRUMENT_EVENT, rep.INSTRUMENT_EVENT, rep.SON, 3, 3, 3, 3, rep.EOS]
    # instruments sorted by code: melody (1) before piano (3)
    assert codes[1:3, rep.INSTRUMENT].tolist() == [1, 3]
    notes = codes[4:8]
    keys = [tuple(r) for r in notes[:, 1:].tolist()]
    assert keys == sorted(keys)  # (beat, position, pitch, duration, instrument)
    assert notes[0].tolist() == [3, 1, 1, 65, rep.DURATIONS.index(6) + 1, 1]  # beat 0, pos 0, E4, 1/2 beat, melody
    # non-note events have every other field 0
    assert (codes[codes[:, rep.TYPE] != rep.NOTE][:, 1:5] == 0).all()


def test_durations_go_to_the_closest_known_value():
    idx = rep.quantize_duration([1, 7, 11, 13, 500, 0])
    assert [rep.DURATIONS[i] for i in idx] == [1, 6, 10, 12, 384, 1]


def test_off_grid_times_are_rounded_to_twelfths():
    piece = _piece({"piano": [[41, 119, 60, 80]]})  # 480 tpq: 41 ticks ~ 1 position, 119 ~ 3
    on, du, pi, ins = rep.decode_notes(rep.encode(piece))
    assert on.tolist() == [1] and du.tolist() == [3] and pi.tolist() == [60]


@pytest.mark.parametrize("name,program,expected", [
    ("MELODY", 0, "melody"), ("BRIDGE", 0, "counter-melody"), ("PIANO", 0, "piano"),
    ("ACCOMPANIMENT", 0, "piano"), ("Violin I", 0, "violin"), ("2nd Violin", 40, "violin"),
    ("Violoncello", 0, "cello"), ("Cello", 0, "cello"), ("Viola", 0, "viola"), ("Cantus", 0, "soprano"),
    ("Altus", 0, "alto"), ("Tenore", 0, "tenor"), ("Basso", 0, "bass"), ("Quinto", 0, "quintus"),
    ("Bass\rContinuo", 0, "bass"), ("Double Bass", 0, "contrabass"), ("Soprano I", 0, "soprano"),
    ("Track 1", 0, "piano"), ("Track 2", 41, "viola"), ("", 73, "flute"), ("Flauto 1", 0, "flute"),
])
def test_instrument_of_track(name, program, expected):
    assert rep.instrument_of_track(name, program) == expected


def test_check_instruments():
    assert rep.check_instruments("violin, Viola,cello") == ["violin", "viola", "cello"]
    with pytest.raises(ParameterError, match="given instrument 'kazoo'; supported: melody, counter-melody"):
        rep.check_instruments("violin,kazoo")
    with pytest.raises(ParameterError, match="given no instruments"):
        rep.check_instruments([])


def test_encode_with_explicit_instruments_and_drums_skipped():
    piece = Piece([Track(np.array([[0, 480, 60, 80]]), name="x"), Track(np.array([[0, 480, 36, 80]]), is_drum=True)])
    codes = rep.encode(piece, instruments=["violin", "cello"])
    assert codes[codes[:, rep.TYPE] == rep.NOTE][:, rep.INSTRUMENT].tolist() == [rep.INSTRUMENTS.index("violin") + 1]
    with pytest.raises(ParameterError, match="expected one per track"):
        rep.encode(piece, instruments=["violin"])


def test_window_rebases_and_ends():
    piece = _piece({"piano": [[i * 480, 480, 60 + i % 12, 80] for i in range(20)],
                    "melody": [[i * 480 + 240, 240, 72, 80] for i in range(20)]})
    notes = rep.encode(piece)
    w = rep.window(notes, start_beat=5, max_len=100, max_beat=256)
    assert w[0, rep.TYPE] == rep.SOS and w[-1, rep.TYPE] == rep.EOS
    n = w[w[:, rep.TYPE] == rep.NOTE]
    assert n[0, rep.BEAT] == 1 and len(n) == 30  # beats 5..19 of two tracks
    short = rep.window(notes, start_beat=0, max_len=10, max_beat=256)
    assert len(short) == 10 and short[-1, rep.TYPE] == rep.NOTE  # cut: no end-of-song
    few_beats = rep.window(notes, start_beat=0, max_len=100, max_beat=4)
    assert few_beats[:, rep.BEAT].max() <= 4 and few_beats[-1, rep.TYPE] == rep.NOTE


def test_transpose_codes():
    codes = rep.encode(_piece({"piano": [[0, 480, 60, 80]]}))
    up = rep.transpose_codes(codes, 5)
    assert rep.decode_notes(up)[2].tolist() == [65]
    with pytest.raises(ParameterError, match="leave 0..127"):
        rep.transpose_codes(codes, 80)


def test_validate_codes_rejects_disorder_and_ranges():
    with pytest.raises(ParameterError, match=r"expected \(N, 6\)"):
        rep.validate_codes(np.zeros((3, 5)))
    bad = np.array([[0, 0, 0, 0, 0, 0], [3, 1, 1, 61, 1, 1], [1, 0, 0, 0, 0, 1]])
    with pytest.raises(ParameterError, match="type instrument after note"):
        rep.validate_codes(bad)
    with pytest.raises(ParameterError, match="position=14"):
        rep.validate_codes(np.array([[3, 1, 14, 61, 1, 1]]))

"""Write -> read round trips: random pieces (hypothesis), tempo maps on other tracks, POP909.

What survives a MIDI round trip exactly: notes (onset, duration, pitch,
velocity 1..127), track names, programs, drum flags, tpq, time signatures, key
signatures, tempo ticks. Tempos are stored as whole microseconds per quarter
note (mspq = round(6e7 / qpm)), so a tempo reads back within a relative error of
0.5 / mspq = qpm / 1.2e8 (under 3e-6 at 300 qpm); a tempo read from a file is
already whole and round-trips exactly. Not kept: tracks without notes (readers
drop them), velocity 0 (written as 1); see tests/io/test_midi.py.
"""

from __future__ import annotations

import os

import mido
import numpy as np
import pytest
import symusic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collage.io import read_midi, write_midi
from collage.piece import KeySignature, Piece, Tempo, TimeSignature, Track

# Raise COLLAGE_HYPOTHESIS_EXAMPLES for a longer search (600 passed when these tests were written).
MAX_EXAMPLES = int(os.environ.get("COLLAGE_HYPOTHESIS_EXAMPLES", "40"))
SETTINGS = settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# -- strategies -------------------------------------------------------------------

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@st.composite
def tracks(draw, tpq: int) -> Track:
    """A track of 1..24 notes; notes of one pitch do not overlap (MIDI cannot tell them apart)."""
    n = draw(st.integers(1, 24))
    onsets = draw(st.lists(st.integers(0, 16 * tpq), min_size=n, max_size=n))
    durs = draw(st.lists(st.integers(1, 4 * tpq), min_size=n, max_size=n))
    pitches = draw(st.lists(st.integers(0, 127), min_size=n, max_size=n))
    vels = draw(st.lists(st.integers(1, 127), min_size=n, max_size=n))
    rows, busy_until = [], {}
    for o, d, p, v in sorted(zip(onsets, durs, pitches, vels)):
        if o < busy_until.get(p, 0):
            continue
        busy_until[p] = o + d
        rows.append([o, d, p, v])
    return Track(np.array(rows), name=draw(names), program=draw(st.integers(0, 127)), is_drum=draw(st.booleans()))


def events(draw, make, n_max: int, horizon: int):
    ticks = draw(st.lists(st.integers(0, horizon), min_size=0, max_size=n_max, unique=True))
    return [make(t) for t in sorted(ticks)]


@st.composite
def pieces(draw) -> Piece:
    tpq = draw(st.sampled_from([96, 220, 480, 960]))
    horizon = 16 * tpq
    tempos = events(draw, lambda t: Tempo(t, draw(st.floats(20.0, 300.0))), 4, horizon)
    tsigs = events(
        draw, lambda t: TimeSignature(t, draw(st.integers(1, 16)), draw(st.sampled_from([1, 2, 4, 8, 16, 32]))), 3, horizon
    )
    keys = events(draw, lambda t: KeySignature(t, draw(st.integers(-7, 7)), draw(st.booleans())), 3, horizon)
    return Piece(
        draw(st.lists(tracks(tpq), min_size=1, max_size=5)),
        tpq=tpq,
        tempos=tempos,
        time_signatures=tsigs,
        key_signatures=keys,
    )


# -- comparison -------------------------------------------------------------------


def assert_same(a: Piece, b: Piece, *, tempo_rtol: float) -> None:
    assert b.tpq == a.tpq
    assert [(t.name, t.program, t.is_drum) for t in b.tracks] == [(t.name, t.program, t.is_drum) for t in a.tracks]
    for ta, tb in zip(a.tracks, b.tracks):
        np.testing.assert_array_equal(tb.notes, ta.notes, err_msg=f"track {ta.name!r}")
    assert b.time_signatures == a.time_signatures
    assert b.key_signatures == a.key_signatures
    assert [t.tick for t in b.tempos] == [t.tick for t in a.tempos]
    np.testing.assert_allclose([t.qpm for t in b.tempos], [t.qpm for t in a.tempos], rtol=tempo_rtol, atol=0)


# -- random pieces ----------------------------------------------------------------


@SETTINGS
@given(piece=pieces())
def test_write_read_random_pieces(tmp_path, piece):
    back = read_midi(write_midi(piece, tmp_path / "rt.mid"), max_duration_s=None)
    assert_same(piece, back, tempo_rtol=300 / 1.2e8)
    # A second trip is exact: the tempos are whole microseconds now.
    again = read_midi(write_midi(back, tmp_path / "rt2.mid"), max_duration_s=None)
    assert_same(back, again, tempo_rtol=1e-12)
    assert again.duration_s == pytest.approx(back.duration_s)


def test_tempo_quantisation_bound(tmp_path):
    qpms = [20.0, 33.3333, 97.1, 133.3, 299.99]
    piece = Piece([Track([[0, 1, 60, 1]])], tpq=480, tempos=[Tempo(i * 10, q) for i, q in enumerate(qpms)])
    back = read_midi(write_midi(piece, tmp_path / "q.mid"))
    for q, t in zip(qpms, back.tempos):
        mspq = round(6e7 / q)
        assert t.qpm == pytest.approx(6e7 / mspq, rel=1e-12)
        assert abs(t.qpm - q) / q <= q / 1.2e8 * 1.0001


# -- tempo map on a track other than the first ------------------------------------


def test_tempo_and_metre_on_second_track_survive(tmp_path):
    """pretty_midi reads tempo only from track 0; collage must keep a map stored on track 1."""
    mf = mido.MidiFile(type=1, ticks_per_beat=480)
    mf.tracks.append(mido.MidiTrack([mido.MetaMessage("track_name", name="conductor")]))
    mf.tracks.append(
        mido.MidiTrack(
            [
                mido.MetaMessage("track_name", name="piano"),
                mido.MetaMessage("set_tempo", tempo=400_000, time=0),
                mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0),
                mido.MetaMessage("key_signature", key="Em", time=0),
                mido.Message("note_on", note=64, velocity=80, time=0),
                mido.MetaMessage("set_tempo", tempo=750_000, time=960),
                mido.MetaMessage("time_signature", numerator=6, denominator=8, time=0),
                mido.Message("note_off", note=64, velocity=0, time=480),
                mido.Message("note_on", note=67, velocity=70, time=0),
                mido.Message("note_off", note=67, velocity=0, time=480),
            ]
        )
    )
    src = tmp_path / "tempo_on_1.mid"
    mf.save(str(src))

    piece = read_midi(src)
    assert [(t.tick, round(t.qpm, 6)) for t in piece.tempos] == [(0, 150.0), (960, 80.0)]
    assert piece.time_signatures == [TimeSignature(0, 3, 4), TimeSignature(960, 6, 8)]
    assert piece.key_signatures == [KeySignature(0, 1, True)]
    assert piece.track_names == ["piano"]
    # 960 ticks at 150 qpm (0.8 s) + 960 ticks at 80 qpm (1.5 s)
    assert piece.duration_s == pytest.approx(2.3) == pytest.approx(mido.MidiFile(str(src)).length)

    back = read_midi(write_midi(piece, tmp_path / "out.mid"))
    assert_same(piece, back, tempo_rtol=1e-12)
    assert back.duration_s == pytest.approx(2.3)


# -- time maps --------------------------------------------------------------------


def mido_seconds(piece: Piece, ticks: np.ndarray) -> np.ndarray:
    """Seconds of ``ticks`` by mido's rule: walk the tempo events, tick2second per segment."""
    out = []
    for tick in ticks:
        t, last, tempo = 0.0, 0, 500_000  # mido's DEFAULT_TEMPO
        for ev in piece.tempos:
            if ev.tick >= tick:
                break
            t += mido.tick2second(ev.tick - last, piece.tpq, tempo)
            last, tempo = ev.tick, 6e7 / ev.qpm  # mido.bpm2tempo rounds to whole µs; keep it exact
        out.append(t + mido.tick2second(tick - last, piece.tpq, tempo))
    return np.array(out)


@st.composite
def tempo_maps(draw) -> Piece:
    tpq = draw(st.sampled_from([96, 220, 480, 960]))
    ticks = sorted(draw(st.lists(st.integers(0, 64 * tpq), min_size=1, max_size=8, unique=True)))
    return Piece([], tpq=tpq, tempos=[Tempo(t, draw(st.floats(10.0, 400.0))) for t in ticks])


@SETTINGS
@given(piece=tempo_maps(), frac=st.lists(st.floats(0, 1.2), min_size=1, max_size=20))
def test_ticks_seconds_inverse_and_match_mido(piece, frac):
    ticks = np.array(frac) * 64 * piece.tpq
    secs = piece.ticks_to_seconds(ticks)
    np.testing.assert_allclose(piece.seconds_to_ticks(secs), ticks, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(secs, mido_seconds(piece, ticks), rtol=1e-9, atol=1e-9)
    assert np.all(np.diff(piece.ticks_to_seconds(np.sort(ticks))) >= 0)


# -- POP909 -----------------------------------------------------------------------

SONGS = ["001", "002", "008", "012"]  # 002, 008, 012: many tempo changes; 008: a metre change and a key


@pytest.mark.pop909
@pytest.mark.parametrize("song", SONGS)
def test_pop909_read_write_read(pop909_root, tmp_path, song):
    src = pop909_root / song / f"{song}.mid"
    piece = read_midi(src)
    assert piece.tpq == 480 and piece.has_track("MELODY")
    back = read_midi(write_midi(piece, tmp_path / f"{song}.mid"))
    assert_same(piece, back, tempo_rtol=1e-12)
    assert back.duration_s == pytest.approx(piece.duration_s, rel=1e-12)


@pytest.mark.pop909
@pytest.mark.parametrize("song", ["002", "012"])
def test_pop909_seconds_agree_with_symusic(pop909_root, song):
    src = pop909_root / song / f"{song}.mid"
    piece = read_midi(src)
    assert len(piece.tempos) > 1
    seconds = symusic.Score(str(src)).to("second")
    for track, strack in zip(piece.tracks, (t for t in seconds.tracks if len(t.notes))):
        ref = strack.notes.numpy()
        np.testing.assert_allclose(piece.ticks_to_seconds(track.onsets), ref["time"], atol=1e-4)
        np.testing.assert_allclose(piece.ticks_to_seconds(track.offsets), ref["time"] + ref["duration"], atol=1e-4)
    # and back again
    onsets = piece.tracks[0].onsets
    np.testing.assert_allclose(piece.seconds_to_ticks(piece.ticks_to_seconds(onsets)), onsets, atol=1e-6)

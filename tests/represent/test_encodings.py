"""MusPy-style encodings: inverses, MusPy agreement on POP909, transposition of notes and rolls."""

import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collage.errors import ParameterError
from collage.represent.encodings import (
    PITCH_HOLD,
    PITCH_REST,
    event_vocab_size,
    from_event_representation,
    from_note_representation,
    from_pianoroll_representation,
    from_pitch_representation,
    to_event_representation,
    to_note_representation,
    to_pianoroll_representation,
    to_pitch_representation,
)
from collage.represent.transpose import transpose_notes, transpose_roll


def _sorted(notes):
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, 4)
    return notes[np.lexsort((notes[:, 3], notes[:, 1], notes[:, 2], notes[:, 0]))]


@st.composite
def poly_notes(draw, *, min_gap=0, max_notes=40, velocities=st.integers(1, 127)):
    """Polyphonic step notes where notes of one pitch never overlap (gap >= min_gap between them)."""
    rows = draw(
        st.lists(st.tuples(st.integers(0, 127), st.integers(0, 12), st.integers(1, 20), velocities), max_size=max_notes)
    )
    cursor: dict[int, int] = {}
    out = []
    for pitch, gap, dur, vel in rows:
        on = cursor.get(pitch, -min_gap) + min_gap + gap
        out.append([on, dur, pitch, vel])
        cursor[pitch] = on + dur
    return _sorted(out)


@st.composite
def mono_notes(draw, *, min_gap=0, max_notes=30):
    """A monophonic line: each note starts at or after the previous one's end."""
    rows = draw(st.lists(st.tuples(st.integers(0, 127), st.integers(0, 6), st.integers(1, 12)), max_size=max_notes))
    t, out = 0, []
    for pitch, gap, dur in rows:
        t += gap + (min_gap if out else 0)
        out.append([t, dur, pitch, 64])
        t += dur
    return _sorted(out)


# -- inverses -------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(poly_notes(velocities=st.just(64)), st.sampled_from([1, 3, 100]))
def test_event_roundtrip(notes, max_shift):
    ev = to_event_representation(notes, max_time_shift=max_shift)
    assert ev.ndim == 1 and (ev.size == 0 or ev.max() < event_vocab_size(max_time_shift=max_shift))
    np.testing.assert_array_equal(from_event_representation(ev, max_time_shift=max_shift), notes)


@settings(max_examples=80, deadline=None)
@given(poly_notes(velocities=st.integers(0, 31).map(lambda b: 4 * b)), st.booleans(), st.booleans())
def test_event_roundtrip_with_velocity(notes, force, eos):
    kw = dict(encode_velocity=True, use_end_of_sequence_event=eos)
    ev = to_event_representation(notes, force_velocity_event=force, **kw)
    assert ev.size == 0 or ev.max() < event_vocab_size(**kw)
    if eos:
        assert ev[-1] == event_vocab_size(**kw) - 1
    np.testing.assert_array_equal(from_event_representation(ev, **kw), notes)


def test_event_codes_by_hand():
    notes = np.array([[0, 2, 60, 100], [3, 250, 62, 10]])
    assert to_event_representation(notes).tolist() == [60, 256 + 1, 128 + 60, 256, 62, 355, 355, 256 + 49, 128 + 62]
    ev = to_event_representation(notes, encode_velocity=True)
    assert ev[:2].tolist() == [356 + 25, 60]  # bin 100 * 32 // 128 = 25, before the note-on
    assert from_event_representation(ev, encode_velocity=True)[:, 3].tolist() == [100, 8]


def test_event_bad_code_is_rejected():
    with pytest.raises(ParameterError, match="event code 400"):
        from_event_representation(np.array([60, 400]))


@settings(max_examples=80, deadline=None)
@given(mono_notes(min_gap=0))
def test_pitch_roundtrip_hold(notes):
    tokens = to_pitch_representation(notes, use_hold_state=True)
    assert tokens.ndim == 1 and (tokens.size == 0 or tokens.max() <= PITCH_HOLD)
    np.testing.assert_array_equal(from_pitch_representation(tokens, use_hold_state=True), notes)


@settings(max_examples=80, deadline=None)
@given(mono_notes(min_gap=1))
def test_pitch_roundtrip_no_hold(notes):
    tokens = to_pitch_representation(notes)
    assert tokens.size == 0 or tokens.max() <= PITCH_REST
    np.testing.assert_array_equal(from_pitch_representation(tokens), notes)


def test_pitch_tokens_by_hand():
    notes = np.array([[1, 2, 60, 80], [3, 1, 62, 80]])
    assert to_pitch_representation(notes, n_steps=6).tolist() == [128, 60, 60, 62, 128, 128]
    assert to_pitch_representation(notes, use_hold_state=True).tolist() == [128, 60, 129, 62]
    with pytest.raises(ParameterError, match="token 129"):
        from_pitch_representation(np.array([60, 129]))


@settings(max_examples=80, deadline=None)
@given(poly_notes(min_gap=1))
def test_pianoroll_roundtrip(notes):
    roll = to_pianoroll_representation(notes)
    assert roll.shape == (int((notes[:, 0] + notes[:, 1]).max()) if len(notes) else 0, 128)
    assert roll.dtype == np.uint8
    np.testing.assert_array_equal(from_pianoroll_representation(roll), notes)
    binary = to_pianoroll_representation(notes, encode_velocity=False)
    assert binary.dtype == bool
    expected = notes.copy()
    expected[:, 3] = 64
    np.testing.assert_array_equal(from_pianoroll_representation(binary, encode_velocity=False), expected)


def test_pianoroll_rejects_bad_shape():
    with pytest.raises(ParameterError, match=r"roll.shape=\(31, 127\)"):
        from_pianoroll_representation(np.zeros((31, 127), np.uint8))


@settings(max_examples=80, deadline=None)
@given(poly_notes())
def test_note_representation_roundtrip(notes):
    arr = to_note_representation(notes)
    np.testing.assert_array_equal(arr[:, [0, 2, 1, 3]], notes)
    np.testing.assert_array_equal(from_note_representation(arr), notes)


def test_bad_notes_are_rejected():
    with pytest.raises(ParameterError, match=r"notes.shape=\(3,\)"):
        to_event_representation(np.array([0, 1, 60]))
    with pytest.raises(ParameterError, match=r"notes\[0, 2\]=128 \(pitch\); expected 0\.\.127"):
        to_pianoroll_representation(np.array([[0, 1, 128, 64]]))
    with pytest.raises(ParameterError, match=r"notes\[0, 0\]=-1 \(onset\); expected >= 0"):
        to_pitch_representation(np.array([[-1, 1, 60, 64]]))


# -- transposition of notes and rolls ---------------------------------------------


@settings(max_examples=80, deadline=None)
@given(poly_notes(min_gap=1), st.integers(-30, 30))
def test_transpose_notes_and_back(notes, k):
    if len(notes) and not (0 <= notes[:, 2].min() + k and notes[:, 2].max() + k <= 127):
        with pytest.raises(ParameterError, match=f"semitones={k}"):
            transpose_notes(notes, k)
        return
    up = transpose_notes(notes, k)
    np.testing.assert_array_equal(transpose_notes(up, -k), notes)
    # rolls within range: transposing the roll is transposing the notes
    roll = to_pianoroll_representation(notes)
    np.testing.assert_array_equal(transpose_roll(roll, k), to_pianoroll_representation(up, n_steps=len(roll)))
    np.testing.assert_array_equal(transpose_roll(transpose_roll(roll, k), -k), roll)


def test_transpose_out_of_range_drop(caplog):
    notes = np.array([[0, 1, 120, 64], [0, 1, 60, 64]])
    with caplog.at_level(logging.WARNING):
        out = transpose_notes(notes, 10, on_overflow="drop")
    assert out.tolist() == [[0, 1, 70, 64]] and "dropped 1 notes" in caplog.text
    roll = to_pianoroll_representation(notes)
    with pytest.raises(ParameterError, match="semitones=10"):
        transpose_roll(roll, 10)
    shifted = transpose_roll(roll, 10, on_overflow="drop")
    assert shifted[0, 70] == 64 and np.count_nonzero(shifted) == 1
    with pytest.raises(ParameterError, match="on_overflow='wrap'"):
        transpose_roll(roll, 1, on_overflow="wrap")


# -- agreement with MusPy on a real POP909 file -----------------------------------


@pytest.fixture(scope="module")
def pop909_song(pop909_root):
    muspy = pytest.importorskip("muspy")
    from collage.io import read_midi

    path = pop909_root / "001" / "001.mid"
    music = muspy.read_midi(path)
    piece = read_midi(path)
    assert music.resolution == piece.tpq  # both in the file's ticks: one tick = one time step

    def one_track(name):
        m = music.deepcopy()
        m.tracks = [t for t in m.tracks if t.name == name]
        return m, piece.track(name).notes

    return muspy, one_track


@pytest.mark.pop909
@pytest.mark.parametrize("track", ["MELODY", "PIANO"])
def test_event_equals_muspy(pop909_song, track):
    muspy, one_track = pop909_song
    music, notes = one_track(track)
    np.testing.assert_array_equal(to_event_representation(notes), muspy.to_event_representation(music)[:, 0])
    for force in (True, False):
        ours = to_event_representation(notes, encode_velocity=True, force_velocity_event=force)
        theirs = muspy.to_event_representation(music, encode_velocity=True, force_velocity_event=force)[:, 0]
        np.testing.assert_array_equal(ours, theirs)
    # decoding: same notes as MusPy's decoder
    decoded = muspy.from_event_representation(theirs[:, None])
    expected = _sorted([[n.time, n.duration, n.pitch, n.velocity] for n in decoded.tracks[0].notes])
    np.testing.assert_array_equal(from_event_representation(theirs, encode_velocity=True), expected)


@pytest.mark.pop909
def test_pitch_equals_muspy(pop909_song):
    muspy, one_track = pop909_song
    music, notes = one_track("MELODY")
    hold = to_pitch_representation(notes, use_hold_state=True)
    np.testing.assert_array_equal(hold, muspy.to_pitch_representation(music, use_hold_state=True)[:, 0])
    # documented difference: without hold states MusPy leaves rests at 0, collage writes 128
    plain = to_pitch_representation(notes)
    theirs = muspy.to_pitch_representation(music)[:, 0]
    np.testing.assert_array_equal(np.where(plain == PITCH_REST, 0, plain), theirs)
    assert (plain == PITCH_REST).any()


@pytest.mark.pop909
@pytest.mark.parametrize("encode_velocity", [True, False])
def test_pianoroll_equals_muspy(pop909_song, encode_velocity):
    muspy, one_track = pop909_song
    music, notes = one_track("PIANO")
    ours = to_pianoroll_representation(notes, encode_velocity=encode_velocity)
    theirs = muspy.to_pianoroll_representation(music, encode_velocity=encode_velocity)
    # documented difference: MusPy appends one all-zero row
    assert theirs.shape == (len(ours) + 1, 128) and not theirs[-1].any()
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs[:-1])


@pytest.mark.pop909
def test_note_representation_equals_muspy(pop909_song):
    muspy, one_track = pop909_song
    music, notes = one_track("PIANO")
    theirs = muspy.to_note_representation(music)
    np.testing.assert_array_equal(to_note_representation(notes), theirs)
    np.testing.assert_array_equal(from_note_representation(theirs), _sorted(notes))

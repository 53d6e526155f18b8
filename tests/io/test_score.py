"""MusicXML and ABC through music21: parts become named tracks, with tempo and metre."""

from __future__ import annotations

import logging

import music21 as m21
import numpy as np
import pytest

from collage.errors import InvalidScoreError, ParameterError
from collage.io import read, read_score
from collage.io.score import piece_from_music21
from collage.piece import KeySignature, Tempo, TimeSignature


def two_part_score() -> m21.stream.Score:
    """Flute: C D E F quarters (E tied into a half), Cello: a C-E-G chord held for a bar; 3/4 at 90 qpm."""
    flute = m21.stream.Part(id="P1")
    flute.partName = "Flute"
    flute.insert(0, m21.instrument.Flute())
    flute.append(m21.tempo.MetronomeMark(number=90))
    flute.append(m21.meter.TimeSignature("3/4"))
    flute.append(m21.key.KeySignature(-1))
    flute.append(m21.note.Note("C5", quarterLength=1))
    flute.append(m21.note.Note("D5", quarterLength=1))
    e1 = m21.note.Note("E5", quarterLength=1)
    e1.tie = m21.tie.Tie("start")
    e2 = m21.note.Note("E5", quarterLength=2)
    e2.tie = m21.tie.Tie("stop")
    flute.append([e1, e2])
    flute.append(m21.note.Note("F5", quarterLength=1))
    cello = m21.stream.Part(id="P2")
    cello.partName = "Cello"
    cello.insert(0, m21.instrument.Violoncello())
    cello.append(m21.meter.TimeSignature("3/4"))
    cello.append(m21.chord.Chord(["C3", "E3", "G3"], quarterLength=3))
    cello.append(m21.note.Rest(quarterLength=3))
    score = m21.stream.Score([flute, cello])
    return score.makeNotation()


@pytest.fixture(scope="module")
def musicxml_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("xml") / "duet.musicxml"
    two_part_score().write("musicxml", fp=str(path))
    return path


def test_musicxml_parts_become_tracks(musicxml_path):
    piece = read_score(musicxml_path, tpq=96)
    assert piece.tpq == 96 and piece.source == str(musicxml_path)
    assert piece.track_names == ["Flute", "Cello"]
    flute, cello = piece.tracks
    # the tie E5 (1 + 2 quarters) is one note
    assert flute.notes[:, :3].tolist() == [[0, 96, 72], [96, 96, 74], [192, 288, 76], [480, 96, 77]]
    assert cello.notes[:, :3].tolist() == [[0, 288, 48], [0, 288, 52], [0, 288, 55]]
    assert flute.program == 73 and cello.program == 42  # GM flute, cello (0-based)
    assert not flute.is_drum
    assert piece.tempos == [Tempo(0, 90.0)]  # one mark, not one per part
    assert piece.time_signatures == [TimeSignature(0, 3, 4)]
    assert piece.key_signatures == [KeySignature(0, -1, False)]
    assert piece.duration_s == pytest.approx(6 * 60 / 90)


def test_read_dispatches_by_suffix(musicxml_path):
    assert read(musicxml_path, tpq=240, max_ticks=10).tpq == 240  # MIDI-only options are ignored


def test_piece_from_music21_directly():
    piece = piece_from_music21(two_part_score(), tpq=4)
    assert piece.tracks[0].notes[:, :3].tolist() == [[0, 4, 72], [4, 4, 74], [8, 12, 76], [20, 4, 77]]
    with pytest.raises(ParameterError, match="given tpq=0"):
        read_score("whatever.musicxml", tpq=0)


ABC = """X:1
T:Little tune
M:6/8
L:1/8
Q:1/4=120
K:D
d2c BAG|F3-F2 z|
"""


def test_abc_tune(tmp_path):
    path = tmp_path / "tune.abc"
    path.write_text(ABC)
    piece = read_score(path, tpq=480)
    assert len(piece.tracks) == 1
    notes = piece.tracks[0].notes
    # d2 c B A G | F3-F2 (tied: 5 eighths) z ; an eighth is 240 ticks
    assert notes[:, :3].tolist() == [
        [0, 480, 74], [480, 240, 73], [720, 240, 71], [960, 240, 69], [1200, 240, 67], [1440, 1200, 66],
    ]
    assert piece.time_signatures == [TimeSignature(0, 6, 8)]
    assert piece.key_signatures == [KeySignature(0, 2, False)]
    assert [round(t.qpm, 6) for t in piece.tempos] == [120.0]
    assert piece.tracks[0].name  # music21 names the single part; never empty


def test_bach_chorale_from_corpus():
    piece = piece_from_music21(m21.corpus.parse("bach/bwv66.6"), tpq=480, source="bwv66.6")
    assert piece.track_names == ["Soprano", "Alto", "Tenor", "Bass"]
    ranges = {t.name: (int(t.pitches.min()), int(t.pitches.max())) for t in piece.tracks}
    # SATB ranges (MIDI): soprano ~C4-A5, alto ~F3-D5, tenor ~C3-G4, bass ~E2-C4
    for name, (lo, hi) in ranges.items():
        assert 36 <= lo <= hi <= 84, (name, lo, hi)
    assert ranges["Soprano"][1] > ranges["Alto"][1] > ranges["Tenor"][1] > ranges["Bass"][1]
    assert ranges["Soprano"][0] > ranges["Bass"][0]
    assert all(len(t) > 20 for t in piece.tracks)
    assert piece.time_signatures == [TimeSignature(0, 4, 4)]
    assert piece.key_signatures[0].sharps == 3
    ends = {int(t.offsets.max()) for t in piece.tracks}
    assert len(ends) == 1  # the voices end together
    assert len(piece.tempos) <= 1  # not one per voice


def test_out_of_range_pitch_is_dropped_with_a_warning(caplog):
    part = m21.stream.Part()
    part.append(m21.note.Note("C4", quarterLength=1))
    high = m21.note.Note(quarterLength=1)
    high.pitch.ps = 130  # music21 holds pitches MIDI cannot (and its .midi would fold this to 118)
    part.append(high)
    with caplog.at_level(logging.WARNING, logger="collage.io.score"):
        piece = piece_from_music21(m21.stream.Score([part]), source="high.musicxml")
    assert piece.tracks[0].pitches.tolist() == [60]
    assert "high.musicxml: dropped 1 notes of part 0 outside MIDI pitch 0..127" in caplog.text


def test_grace_notes_and_velocity_zero():
    part = m21.stream.Part()
    grace = m21.note.Note("D4").getGrace()
    part.append(grace)
    quiet = m21.note.Note("C4", quarterLength=1)
    quiet.volume.velocity = 0
    part.append(quiet)
    piece = piece_from_music21(m21.stream.Score([part]), tpq=10)
    assert piece.tracks[0].notes.tolist() == [[0, 10, 60, 1]]


def test_unpitched_percussion():
    part = m21.stream.Part()
    part.partName = "Drums"
    part.insert(0, m21.instrument.SnareDrum())
    hit = m21.note.Unpitched(quarterLength=1)
    hit.displayStep, hit.displayOctave = "C", 5
    part.append(hit)
    piece = piece_from_music21(m21.stream.Score([part]), tpq=8)
    track = piece.tracks[0]
    assert track.is_drum and track.notes[:, :2].tolist() == [[0, 8]]
    assert piece.pitched().n_notes == 0


def test_opus_of_one_score_is_read():
    opus = m21.stream.Opus()
    opus.append(two_part_score())
    assert piece_from_music21(opus).track_names == ["Flute", "Cello"]
    opus.append(two_part_score())
    with pytest.raises(ParameterError, match="given a music21 Opus of 2 pieces"):
        piece_from_music21(opus)


def test_musicxml_write_read_ticks_match_music21(musicxml_path):
    """Onsets at tpq 480 are music21's quarter-length offsets times 480."""
    piece = read_score(musicxml_path)
    ref = m21.converter.parse(str(musicxml_path)).parts[0].stripTies().flatten().notes
    np.testing.assert_array_equal(piece.tracks[0].onsets, [int(n.offset * 480) for n in ref])


def test_empty_score_allowed(tmp_path):
    path = tmp_path / "rest.musicxml"
    s = m21.stream.Score([m21.stream.Part([m21.note.Rest(quarterLength=4)])])
    s.write("musicxml", fp=str(path))
    with pytest.raises(InvalidScoreError, match="contains no notes"):
        read_score(path)
    assert read_score(path, allow_empty=True).n_notes == 0

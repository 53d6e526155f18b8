"""MIDI reading and writing: edge cases of the conversion and of the atomic write."""

from __future__ import annotations

import io
import os
import stat

import mido
import numpy as np
import pytest
import symusic

import collage.io.midi

from collage.errors import OutputError, ParameterError
from collage.io import atomic_path, read_midi, write_midi
from collage.io.midi import piece_to_symusic
from collage.piece import KeySignature, Piece, Tempo, TimeSignature, Track


def midi_file(tmp_path, tracks, *, tpq=480, name="in.mid"):
    mf = mido.MidiFile(type=1, ticks_per_beat=tpq)
    for events in tracks:
        mf.tracks.append(mido.MidiTrack(events))
    path = tmp_path / name
    mf.save(str(path))
    return path


def note(pitch, length, velocity=90, channel=0, delay=0):
    return [
        mido.Message("note_on", note=pitch, velocity=velocity, channel=channel, time=delay),
        mido.Message("note_off", note=pitch, velocity=0, channel=channel, time=length),
    ]


def mido_seconds(path) -> float:
    """mido's own length: it walks the merged track with tick2second."""
    return mido.MidiFile(str(path)).length


# -- reading ---------------------------------------------------------------------


def test_tempo_only_after_the_start_uses_120_before_it(tmp_path):
    # One note of 1920 ticks (tpq 480); the tempo drops to 60 qpm halfway. Before
    # the first tempo event MIDI runs at 120 qpm: 960 ticks = 1 s, then 960 ticks = 2 s.
    events = [
        mido.Message("note_on", note=60, velocity=90, time=0),
        mido.MetaMessage("set_tempo", tempo=1_000_000, time=960),
        mido.Message("note_off", note=60, velocity=0, time=960),
    ]
    path = midi_file(tmp_path, [events])
    piece = read_midi(path)
    assert piece.tempos == [Tempo(960, 60.0)]
    assert piece.ticks_to_seconds([480, 960, 1920]) == pytest.approx([0.5, 1.0, 3.0])
    assert piece.duration_s == pytest.approx(mido_seconds(path))
    assert piece.duration_s == pytest.approx(symusic.Score(str(path)).to("second").end())
    assert piece.seconds_to_ticks([0.5, 3.0]) == pytest.approx([480, 1920])


def test_no_tempo_means_120(tmp_path):
    piece = read_midi(midi_file(tmp_path, [note(60, 960)]))
    assert piece.tempos == []
    assert piece.duration_s == pytest.approx(1.0)


def test_zero_duration_note_is_kept(tmp_path):
    piece = read_midi(midi_file(tmp_path, [note(60, 0) + note(62, 10)]))
    assert piece.tracks[0].notes.tolist() == [[0, 0, 60, 90], [0, 10, 62, 90]]


def test_tracks_without_notes_are_dropped(tmp_path):
    conductor = [mido.MetaMessage("track_name", name="conductor"), mido.MetaMessage("set_tempo", tempo=400_000)]
    empty = [mido.MetaMessage("track_name", name="silent"), mido.Message("program_change", program=40)]
    path = midi_file(tmp_path, [conductor, empty, [mido.MetaMessage("track_name", name="lead")] + note(60, 10)])
    piece = read_midi(path)
    assert piece.track_names == ["lead"]
    assert piece.tempos == [Tempo(0, 150.0)]


def test_drum_channel_and_programs(tmp_path):
    drums = [mido.MetaMessage("track_name", name="kit")] + note(36, 10, channel=9)
    bass = [mido.MetaMessage("track_name", name="bass"), mido.Message("program_change", program=33, channel=1)]
    path = midi_file(tmp_path, [drums, bass + note(40, 10, channel=1)])
    piece = read_midi(path)
    assert [(t.name, t.program, t.is_drum) for t in piece.tracks] == [("kit", 0, True), ("bass", 33, False)]


def test_same_tick_tempos_last_one_wins(tmp_path):
    events = [mido.MetaMessage("set_tempo", tempo=1_000_000), mido.MetaMessage("set_tempo", tempo=250_000)] + note(60, 480)
    path = midi_file(tmp_path, [events])
    piece = read_midi(path)
    assert [t.qpm for t in piece.tempos] == [60.0, 240.0]  # file order kept
    assert piece.duration_s == pytest.approx(0.25) == pytest.approx(mido_seconds(path))


# -- writing ---------------------------------------------------------------------


def test_velocity_zero_is_written_as_one(tmp_path):
    piece = Piece([Track([[0, 100, 60, 0], [0, 100, 64, 80]], name="soft")], tpq=96)
    back = read_midi(write_midi(piece, tmp_path / "v0.mid"))
    assert back.tracks[0].notes.tolist() == [[0, 100, 60, 1], [0, 100, 64, 80]]


def test_zero_duration_notes_round_trip(tmp_path):
    piece = Piece([Track([[0, 0, 60, 90], [0, 10, 62, 90], [10, 0, 60, 70]], name="ticks")], tpq=96)
    back = read_midi(write_midi(piece, tmp_path / "z.mid"))
    np.testing.assert_array_equal(back.tracks[0].notes, piece.tracks[0].notes)


def test_empty_tracks_are_written_but_not_read_back(tmp_path):
    piece = Piece(
        [Track(np.zeros((0, 4)), name="empty", program=5), Track([[0, 10, 60, 90]], name="a", program=3)],
        tpq=96,
        tempos=[Tempo(0, 100.0)],
    )
    path = write_midi(piece, tmp_path / "e.mid")
    assert [t.name for t in mido.MidiFile(str(path)).tracks] == ["empty", "a"]
    back = read_midi(path)
    assert back.track_names == ["a"]
    assert back.tempos[0].qpm == pytest.approx(100.0)  # the meta events on the empty first track survive


def test_piece_without_tracks_writes_its_maps(tmp_path):
    piece = Piece([], tpq=240, tempos=[Tempo(0, 90.0)], time_signatures=[TimeSignature(0, 3, 4)])
    back = read_midi(write_midi(piece, tmp_path / "none.mid"), allow_empty=True)
    assert back.tracks == [] and back.tpq == 240
    assert back.time_signatures == [TimeSignature(0, 3, 4)]
    assert back.tempos[0].qpm == pytest.approx(90.0, rel=1e-6)


@pytest.mark.parametrize(
    "piece, problem",
    [
        (Piece([Track([[0, 1, 60, 1]])], tempos=[Tempo(0, 3.0)]), r"given tempo 3 qpm at tick 0; a MIDI file holds 3\.576"),
        (Piece([Track([[0, 1, 60, 1]])], time_signatures=[TimeSignature(0, 6, 3)]), "given time signature 6/3 at tick 0"),
        (Piece([Track([[0, 1, 60, 1]])], time_signatures=[TimeSignature(0, 300, 4)]), "given time signature 300/4"),
        (Piece([Track([[0, 1, 60, 1]])], key_signatures=[KeySignature(0, 9, False)]), "given key signature with sharps=9"),
        (Piece([Track([[2**31, 1, 60, 1]], name="far")]), "track 'far' ends at tick 2147483649"),
        (Piece([Track([[0, 1, 60, 1]])], tpq=40000), "given tpq=40000"),
    ],
)
def test_unwritable_pieces_raise_and_write_nothing(tmp_path, piece, problem):
    out = tmp_path / "out.mid"
    with pytest.raises(ParameterError, match=problem):
        write_midi(piece, out)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_file_has_normal_permissions(tmp_path, umask, mode):
    """Not mkstemp's 0o600: the output is as readable as any file the user makes."""
    old = os.umask(umask)
    try:
        path = write_midi(Piece([Track([[0, 1, 60, 1]])]), tmp_path / "perm.mid")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode


# -- atomic writes ---------------------------------------------------------------


class FakeScore:
    """Stands in for a symusic Score whose writer dies half-way."""

    def __init__(self, dump):
        self.dump = dump

    def dump_midi(self, path):
        self.dump(self, path)


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def half_then_fail(self, path):
        with open(path, "wb") as f:
            f.write(b"MThd\x00\x00")  # half a header...
        raise RuntimeError("disk full")  # ...then the writer dies

    monkeypatch.setattr(collage.io.midi, "piece_to_symusic", lambda piece: FakeScore(half_then_fail))
    with pytest.raises(RuntimeError, match="disk full"):
        write_midi(Piece([Track([[0, 1, 60, 1]])]), tmp_path / "out.mid")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    out = tmp_path / "out.mid"
    out.write_bytes(b"old contents")

    def fail(self, path):
        open(path, "wb").write(b"partial")
        raise RuntimeError("boom")

    monkeypatch.setattr(collage.io.midi, "piece_to_symusic", lambda piece: FakeScore(fail))
    with pytest.raises(RuntimeError):
        write_midi(Piece([Track([[0, 1, 60, 1]])]), out)
    assert out.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["out.mid"]


def test_atomic_path_keeps_suffix_and_replaces(tmp_path):
    out = tmp_path / "sub" / "x.mid"
    with atomic_path(out) as tmp:
        assert tmp.suffix == ".mid" and tmp.parent == out.parent and tmp != out
        tmp.write_bytes(b"new")
        assert not out.exists()
    assert out.read_bytes() == b"new"
    assert [p.name for p in out.parent.iterdir()] == ["x.mid"]


def test_write_onto_a_directory(tmp_path):
    (tmp_path / "out.mid").mkdir()
    with pytest.raises(OutputError, match=f"^{tmp_path / 'out.mid'}: is a directory"):
        write_midi(Piece([Track([[0, 1, 60, 1]])]), tmp_path / "out.mid")


def test_write_under_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "out.mid"
    with pytest.raises(OutputError, match=f"^{out}: cannot create its folder"):
        write_midi(Piece([Track([[0, 1, 60, 1]])]), out)


def test_piece_to_symusic_matches_piece():
    piece = Piece([Track([[0, 10, 60, 90], [5, 10, 64, 0]], name="x", program=7)], tpq=96, tempos=[Tempo(0, 90.0)])
    score = piece_to_symusic(piece)
    assert score.ticks_per_quarter == 96
    assert [(n.time, n.duration, n.pitch, n.velocity) for n in score.tracks[0].notes] == [(0, 10, 60, 90), (5, 10, 64, 1)]
    assert io.BytesIO(score.dumps_midi()).read(4) == b"MThd"


def test_type_0_is_split_by_channel(tmp_path):
    mf = mido.MidiFile(type=0, ticks_per_beat=96)
    events = [mido.MetaMessage("track_name", name="all"), mido.Message("program_change", program=24, channel=2)]
    events += [
        mido.Message("note_on", note=64, velocity=80, channel=2, time=0),
        mido.Message("note_on", note=42, velocity=100, channel=9, time=0),
        mido.Message("note_off", note=42, velocity=0, channel=9, time=24),
        mido.Message("note_off", note=64, velocity=0, channel=2, time=72),
    ]
    mf.tracks.append(mido.MidiTrack(events))
    path = tmp_path / "type0.mid"
    mf.save(str(path))
    piece = read_midi(path)
    got = sorted((t.program, t.is_drum, t.notes.tolist()) for t in piece.tracks)
    assert got == [(0, True, [[0, 24, 42, 100]]), (24, False, [[0, 96, 64, 80]])]
    assert piece.pitched().n_notes == 1

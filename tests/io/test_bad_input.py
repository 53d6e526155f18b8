"""Bad input gets a clear error: one InvalidInputError naming the file and the problem.

Every fixture is built here, in tmp_path, from raw bytes or with mido. Each
test asserts the error class, that ``str(err)`` starts with the path, and
(with ``match=``) that it names the problem.
"""

from __future__ import annotations

import io
import os
import re
import struct

import mido
import numpy as np
import pytest

from collage.errors import InvalidInputError, InvalidMidiError, InvalidScoreError
from collage.io import read, read_midi, read_score
from collage.io.midi import check_midi_bytes


def midi_bytes(tracks, *, tpq=480, type=1) -> bytes:
    """A Standard MIDI File from lists of mido messages, one list per track."""
    mf = mido.MidiFile(type=type, ticks_per_beat=tpq)
    for events in tracks:
        mf.tracks.append(mido.MidiTrack(events))
    buf = io.BytesIO()
    mf.save(file=buf)
    return buf.getvalue()


def one_note(pitch=60, channel=0, length=480):
    return [
        mido.Message("note_on", note=pitch, velocity=90, channel=channel, time=0),
        mido.Message("note_off", note=pitch, velocity=0, channel=channel, time=length),
    ]


def write(tmp_path, name, data: bytes | str):
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    return path


def raises(error, path, problem):
    """pytest.raises for ``error`` whose message is ``"<path>: <problem...>"``."""
    return pytest.raises(error, match="^" + re.escape(f"{path}: ") + problem)


GOOD = midi_bytes([one_note()])


def test_good_file_reads(tmp_path):
    piece = read_midi(write(tmp_path, "good.mid", GOOD))
    assert piece.n_notes == 1


# -- not MIDI at all -----------------------------------------------------------


@pytest.mark.parametrize(
    "name, data",
    [
        ("text.mid", "This is not a MIDI file.\n"),
        ("image.mid", b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)),
        ("random.mid", np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()),
        ("short.mid", b"MT"),
    ],
)
def test_not_a_midi_file(tmp_path, name, data):
    path = write(tmp_path, name, data)
    with raises(InvalidMidiError, path, r"is not a MIDI file \(no 'MThd' header\)"):
        read_midi(path)


def test_zero_byte_file(tmp_path):
    path = write(tmp_path, "zero.mid", b"")
    with raises(InvalidMidiError, path, r"is empty \(0 bytes\)"):
        read_midi(path)


def test_unknown_extension_is_tried_as_midi(tmp_path):
    path = write(tmp_path, "notes.txt", "C D E F G")
    with raises(InvalidMidiError, path, "is not a MIDI file"):
        read(path)


# -- truncated -----------------------------------------------------------------


@pytest.mark.parametrize("cut", [4, 10, 13])
def test_truncated_mid_header(tmp_path, cut):
    path = write(tmp_path, "cut.mid", GOOD[:cut])
    with raises(InvalidMidiError, path, "is truncated: the MIDI header is cut off"):
        read_midi(path)


def test_header_length_beyond_file(tmp_path):
    data = b"MThd" + struct.pack(">IHHH", 600, 1, 1, 480) + b"\x00" * 10
    path = write(tmp_path, "hdr.mid", data)
    with raises(InvalidMidiError, path, "is truncated: the MIDI header claims 600 bytes"):
        read_midi(path)


def test_truncated_mid_chunk(tmp_path):
    path = write(tmp_path, "cut.mid", GOOD[:-5])
    with raises(InvalidMidiError, path, r"is truncated: chunk b'MTrk' at byte 14 claims \d+ bytes but only \d+ remain"):
        read_midi(path)


def test_truncated_mid_chunk_header(tmp_path):
    path = write(tmp_path, "cut.mid", GOOD[:18])
    with raises(InvalidMidiError, path, "is truncated: chunk header at byte 14 is cut off"):
        read_midi(path)


def test_missing_tracks(tmp_path):
    data = midi_bytes([one_note(), one_note(62)])
    data = data[:8] + struct.pack(">HHH", 1, 5, 480) + data[14:]  # announce 5 tracks, hold 2
    path = write(tmp_path, "few.mid", data)
    with raises(InvalidMidiError, path, "is truncated: the header announces 5 tracks but 2 are present"):
        read_midi(path)


def test_corrupt_event_data(tmp_path):
    data = bytearray(GOOD)
    i = data.index(bytes([0x90, 60, 90]))
    data[i + 2] = 0xC8  # velocity 200: not a 7-bit value
    path = write(tmp_path, "corrupt.mid", bytes(data))
    with raises(InvalidMidiError, path, r"cannot be parsed \(corrupt event data: velocity=200 is not a 7-bit MIDI value\)"):
        read_midi(path)


def test_time_signature_with_zero_numerator(tmp_path):
    events = [mido.MetaMessage("time_signature", numerator=0, denominator=4)] + one_note()
    path = write(tmp_path, "ts0.mid", midi_bytes([events]))
    with raises(InvalidMidiError, path, "has a time signature 0/4 at tick 0; the numerator must be >= 1"):
        read_midi(path)


# -- header fields ---------------------------------------------------------------


def with_division(division: int) -> bytes:
    return GOOD[:12] + struct.pack(">H", division) + GOOD[14:]


def test_zero_ticks_per_beat(tmp_path):
    path = write(tmp_path, "tpq0.mid", with_division(0))
    with raises(InvalidMidiError, path, "has 0 ticks per quarter note"):
        read_midi(path)


def test_smpte_division(tmp_path):
    # Top bit set: -25 frames per second, 40 ticks per frame (a "negative ticks per beat").
    path = write(tmp_path, "smpte.mid", with_division(((256 - 25) << 8) | 40))
    with raises(InvalidMidiError, path, "uses SMPTE time division"):
        read_midi(path)


def test_type_2(tmp_path):
    path = write(tmp_path, "type2.mid", midi_bytes([one_note(), one_note(62)], type=2))
    with raises(InvalidMidiError, path, "is a type-2 MIDI file"):
        read_midi(path)


def test_unknown_format(tmp_path):
    path = write(tmp_path, "fmt7.mid", GOOD[:8] + struct.pack(">H", 7) + GOOD[10:])
    with raises(InvalidMidiError, path, "has unknown MIDI format 7"):
        read_midi(path)


def test_check_midi_bytes_without_path():
    assert check_midi_bytes(GOOD) == 480
    with pytest.raises(InvalidMidiError, match="^is not a MIDI file"):
        check_midi_bytes(b"RIFF....")


# -- empty, drum-only ------------------------------------------------------------


def test_empty_midi(tmp_path):
    data = midi_bytes([[mido.MetaMessage("track_name", name="nothing"), mido.MetaMessage("set_tempo", tempo=500000)]])
    path = write(tmp_path, "empty.mid", data)
    with raises(InvalidMidiError, path, "contains no notes"):
        read_midi(path)
    piece = read_midi(path, allow_empty=True)
    assert piece.n_notes == 0 and piece.tracks == []
    assert piece.duration_s == 0.0
    with raises(InvalidMidiError, path, "has no notes; expected pitched notes"):
        piece.require_pitched()


def test_drum_only_midi(tmp_path):
    kick = one_note(36, channel=9, length=120)
    path = write(tmp_path, "drums.mid", midi_bytes([kick + one_note(38, channel=9, length=120)]))
    piece = read_midi(path)  # not empty: it reads
    assert piece.n_notes == 2 and all(t.is_drum for t in piece.tracks)
    assert piece.pitched().n_notes == 0
    assert piece.pitched().tracks == []
    with raises(InvalidMidiError, path, "has only drum notes; expected pitched notes"):
        piece.require_pitched()


def test_require_pitched_passes_pitched_tracks(tmp_path):
    path = write(tmp_path, "mixed.mid", midi_bytes([one_note(60), one_note(36, channel=9)]))
    piece = read_midi(path)
    pitched = piece.require_pitched()
    assert [t.is_drum for t in pitched.tracks] == [False]
    assert pitched.source == str(path)


# -- huge length -----------------------------------------------------------------


def huge_file() -> bytes:
    """A 1-note file whose note-off comes 0x0FFFFFFF ticks (the largest delta) after its note-on."""
    return midi_bytes([one_note(60, length=0x0FFFFFFF)])


def test_huge_length_rejected_by_default(tmp_path):
    # 268M ticks at 480 tpq and 120 qpm is about 155 hours: over the default 4 h.
    path = write(tmp_path, "huge.mid", huge_file())
    with raises(InvalidMidiError, path, r"is too long: \d+ s > max_duration_s=14400 s"):
        read_midi(path)


def test_huge_length_max_ticks(tmp_path):
    path = write(tmp_path, "huge.mid", huge_file())
    with raises(InvalidMidiError, path, f"is too long: last note ends at tick {0x0FFFFFFF} > max_ticks=1000000"):
        read_midi(path, max_ticks=1_000_000, max_duration_s=None)


def test_huge_length_accepted_when_lifted(tmp_path):
    path = write(tmp_path, "huge.mid", huge_file())
    piece = read_midi(path, max_ticks=None, max_duration_s=None)
    assert piece.end_tick == 0x0FFFFFFF
    assert piece.duration_s == pytest.approx(0x0FFFFFFF / 480 * 0.5)


def test_times_past_int32_are_rejected(tmp_path):
    # Nine maximal deltas overflow symusic's 32-bit tick counter.
    events = [mido.MetaMessage("text", text="x", time=0x0FFFFFFF) for _ in range(9)] + one_note(60)
    path = write(tmp_path, "wrap.mid", midi_bytes([events]))
    with raises(InvalidMidiError, path, "is too long: event times run past 2147483647 ticks"):
        read_midi(path, max_ticks=None, max_duration_s=None)


def test_tempo_of_zero_microseconds(tmp_path):
    events = [mido.MetaMessage("set_tempo", tempo=0)] + one_note()
    path = write(tmp_path, "tempo0.mid", midi_bytes([events]))
    with raises(InvalidMidiError, path, "has a tempo of 0 microseconds per quarter note at tick 0"):
        read_midi(path)


# -- the file system -------------------------------------------------------------


@pytest.mark.parametrize("reader, error", [(read_midi, InvalidMidiError), (read_score, InvalidScoreError), (read, InvalidInputError)])
def test_missing_file(tmp_path, reader, error):
    path = tmp_path / "nowhere" / "song.musicxml"
    with raises(error, path, "no such file"):
        reader(path)


@pytest.mark.parametrize("reader, error", [(read_midi, InvalidMidiError), (read_score, InvalidScoreError)])
def test_directory_instead_of_file(tmp_path, reader, error):
    path = tmp_path / "song.mid"
    path.mkdir()
    with raises(error, path, "is a directory; expected a file"):
        reader(path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read a chmod-000 file")
def test_unreadable_file(tmp_path):
    path = write(tmp_path, "locked.mid", GOOD)
    path.chmod(0)
    try:
        with raises(InvalidMidiError, path, r"cannot be read \(Permission denied\)"):
            read_midi(path)
    finally:
        path.chmod(0o644)


def test_unreadable_file_simulated(tmp_path, monkeypatch):
    """The chmod-000 case for root too: the OSError from reading becomes one line."""
    path = write(tmp_path, "locked.mid", GOOD)

    def deny(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(type(path), "read_bytes", deny)
    with raises(InvalidMidiError, path, r"cannot be read \(Permission denied\)"):
        read_midi(path)


# -- MusicXML and ABC ------------------------------------------------------------


def test_broken_xml(tmp_path):
    path = write(tmp_path, "broken.musicxml", '<?xml version="1.0"?>\n<score-partwise><part id="P1"><measure')
    with raises(InvalidScoreError, path, r"cannot be parsed as musicxml \("):
        read_score(path)


def test_xml_that_is_not_musicxml(tmp_path):
    path = write(tmp_path, "feed.xml", '<?xml version="1.0"?>\n<rss version="2.0"><channel><title>x</title></channel></rss>')
    with raises(InvalidScoreError, path, r"cannot be parsed as xml \("):
        read_score(path)


def test_binary_junk_as_musicxml(tmp_path):
    path = write(tmp_path, "junk.mxl", b"\x00\xff" * 100)
    with raises(InvalidScoreError, path, r"cannot be parsed as mxl \("):
        read_score(path)


def test_malformed_abc(tmp_path):
    # A note before any default note length (L:) or meter: music21 cannot time it.
    path = write(tmp_path, "bad.abc", "X:1\nT:broken\nK:Q\nabc|\n")
    with raises(InvalidScoreError, path, r"cannot be parsed as abc \("):
        read_score(path)


def test_abc_without_notes(tmp_path):
    path = write(tmp_path, "header.abc", "X:1\nT:only a header\nM:4/4\nL:1/4\nK:C\n")
    with raises(InvalidScoreError, path, "contains no notes"):
        read_score(path)


def test_abc_tune_book_needs_a_choice(tmp_path):
    tunes = "X:1\nT:One\nM:4/4\nL:1/4\nK:C\nCDEF|\n\nX:2\nT:Two\nM:3/4\nL:1/4\nK:G\nGAB|\n"
    path = write(tmp_path, "book.abc", tunes)
    with raises(InvalidScoreError, path, r"holds 2 tunes; choose one with tune=0\.\.1"):
        read_score(path)
    assert read_score(path, tune=1).time_signatures[0][1:] == (3, 4)
    assert read(path, tune=0).n_notes == 4
    with raises(InvalidScoreError, path, "holds 2 tunes; given tune=5"):
        read_score(path, tune=5)


def test_every_error_is_one_line(tmp_path):
    """The messages above are single lines (the CLI prints them as they are)."""
    cases = [
        (read_midi, write(tmp_path, "a.mid", GOOD[:-3])),
        (read_midi, write(tmp_path, "b.mid", with_division(0))),
        (read_score, write(tmp_path, "c.musicxml", "<score-partwise><oops")),
        (read_score, write(tmp_path, "d.abc", "X:1\nK:Q\nabc|\n")),
    ]
    for reader, path in cases:
        with pytest.raises(InvalidInputError) as info:
            reader(path)
        assert "\n" not in str(info.value)
        assert str(info.value).startswith(f"{path}: ")
        assert info.value.path == str(path)

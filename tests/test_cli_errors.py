"""Bad input through the CLI: exit code 2, one line on stderr, no traceback, no output.

Uses ``collage info`` (the read-only command) for the reading errors and
``collage plot -o`` for an unwritable output; one case runs the real
``python -m collage.cli`` process to see exactly what a user sees.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys

import mido
import pytest

from collage.cli import main
from collage.io import write_midi
from collage.piece import Piece, Track


def midi_bytes(events, *, type=1, tpq=480) -> bytes:
    mf = mido.MidiFile(type=type, ticks_per_beat=tpq)
    for evs in events:
        mf.tracks.append(mido.MidiTrack(evs))
    buf = io.BytesIO()
    mf.save(file=buf)
    return buf.getvalue()


NOTE = [mido.Message("note_on", note=60, velocity=90, time=0), mido.Message("note_off", note=60, velocity=0, time=480)]
GOOD = midi_bytes([NOTE])

# name -> (file contents or None for "do not create" / "dir" for a directory, the problem's words)
CASES = {
    "text.mid": (b"just some text\n", "is not a MIDI file"),
    "picture.mid": (b"\x89PNG\r\n\x1a\n" + bytes(40), "is not a MIDI file"),
    "cut_header.mid": (GOOD[:10], "is truncated: the MIDI header is cut off"),
    "cut_chunk.mid": (GOOD[:-4], "is truncated: chunk b'MTrk'"),
    "tpq0.mid": (GOOD[:12] + b"\x00\x00" + GOOD[14:], "has 0 ticks per quarter note"),
    "smpte.mid": (GOOD[:12] + struct.pack(">H", 0xE728) + GOOD[14:], "uses SMPTE time division"),
    "type2.mid": (midi_bytes([NOTE, NOTE], type=2), "is a type-2 MIDI file"),
    "huge.mid": (midi_bytes([[NOTE[0], NOTE[1].copy(time=0x0FFFFFFF)]]), "is too long"),
    "missing.mid": (None, "no such file"),
    "folder.mid": ("dir", "is a directory"),
    "broken.musicxml": (b"<score-partwise><part", "cannot be parsed as musicxml"),
    "bad.abc": (b"X:1\nK:Q\nabc|\n", "cannot be parsed as abc"),
}


def make(tmp_path, name):
    data, _ = CASES[name]
    path = tmp_path / name
    if data == "dir":
        path.mkdir()
    elif data is not None:
        path.write_bytes(data)
    return path


def assert_one_error_line(err: str, path, problem: str):
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"collage: error: {path}: "), lines[0]
    assert problem in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("name", sorted(CASES))
def test_info_on_bad_input(tmp_path, capsys, name):
    path = make(tmp_path, name)
    rc = main(["info", str(path)])
    out, err = capsys.readouterr()
    assert rc == 2
    assert out == ""
    assert_one_error_line(err, path, CASES[name][1])


def test_info_accepts_empty_and_drum_only(tmp_path, capsys):
    """``info`` summarises what it is given: an empty file and a drum-only file are not errors."""
    empty = tmp_path / "empty.mid"
    empty.write_bytes(midi_bytes([[mido.MetaMessage("track_name", name="x")]]))
    drums = tmp_path / "drums.mid"
    drums.write_bytes(midi_bytes([[m.copy(channel=9) for m in NOTE]]))
    for path in (empty, drums):
        assert main(["info", str(path)]) == 0
        out, err = capsys.readouterr()
        assert str(path) in out and err == ""


def test_plot_into_a_directory_fails_cleanly(tmp_path, capsys):
    song = write_midi(Piece([Track([[0, 480, 60, 90]], name="a")]), tmp_path / "song.mid")
    target = tmp_path / "out.png"
    target.mkdir()
    rc = main(["plot", str(song), "-o", str(target)])
    out, err = capsys.readouterr()
    assert rc == 2
    assert_one_error_line(err, target, "is a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png", "song.mid"]
    assert list(target.iterdir()) == []


def test_real_process(tmp_path):
    """What a user sees: the installed entry point's stderr and exit status."""
    path = make(tmp_path, "cut_chunk.mid")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "collage.cli", "info", str(path)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert_one_error_line(proc.stderr, path, "is truncated")

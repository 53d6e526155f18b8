"""iter_folder over a folder with good and bad files."""

from __future__ import annotations

import logging

import pytest

from collage.datasets import iter_folder
from collage.errors import InvalidInputError, InvalidMidiError, ParameterError
from collage.io import write_midi


@pytest.fixture
def folder(tmp_path, two_track_piece):
    write_midi(two_track_piece, tmp_path / "a.mid")
    (tmp_path / "sub").mkdir()
    write_midi(two_track_piece, tmp_path / "sub" / "b.MIDI")
    (tmp_path / "bad.mid").write_bytes(b"not a midi file at all")
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "tune.abc").write_text("X:1\nT:Scale\nM:4/4\nL:1/4\nK:C\nCDEF|GABc|\n")
    (tmp_path / "broken.musicxml").write_text("<score-partwise><part")
    (tmp_path / ".hidden").mkdir()
    write_midi(two_track_piece, tmp_path / ".hidden" / "c.mid")
    return tmp_path


def test_skip_logs_and_yields_good_files(folder, caplog):
    with caplog.at_level(logging.WARNING, logger="collage.datasets.folder"):
        got = list(iter_folder(folder, on_error="skip"))
    assert [p.relative_to(folder).as_posix() for p, _ in got] == ["a.mid", "sub/b.MIDI", "tune.abc"]
    assert all(piece.track_names == ["MELODY", "PIANO"] for _, piece in got[:2])
    assert got[2][1].n_notes == 8
    assert "bad.mid" in caplog.text and "MThd" in caplog.text
    assert "broken.musicxml: cannot be parsed" in caplog.text


def test_non_recursive(folder):
    got = [p.name for p, _ in iter_folder(folder, recursive=False, on_error="skip")]
    assert got == ["a.mid", "tune.abc"]


def test_raise_on_bad_file(folder):
    with pytest.raises(InvalidMidiError, match=r"bad\.mid: is not a MIDI file"):
        list(iter_folder(folder))


def test_bad_arguments(tmp_path):
    with pytest.raises(ParameterError, match="on_error='ignore'"):
        iter_folder(tmp_path, on_error="ignore")
    with pytest.raises(InvalidInputError, match="no such folder"):
        iter_folder(tmp_path / "nope")

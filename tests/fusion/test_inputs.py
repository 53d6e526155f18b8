"""Track selection of `collage fuse`: which notes are the melody and which the accompaniment."""

import numpy as np
import pytest

from collage.errors import InvalidMidiError, ParameterError
from collage.fusion.inputs import select_accompaniment, select_melody
from collage.io import as_piece as load_piece
from collage.piece import Piece, Track


def tr(name, pitch, *, drum=False, program=0, n=4):
    return Track(np.array([[i * 480, 480, pitch, 80] for i in range(n)]), name=name, is_drum=drum, program=program)


def test_melody_track_by_name_then_only_pitched_track():
    p = Piece([tr("Strings", 50), tr("melody", 72), tr("Drums", 36, drum=True)])
    assert select_melody(p).pitches.tolist() == [72] * 4
    assert select_melody(p).name == "MELODY"
    assert select_melody(p, "strings").pitches.tolist() == [50] * 4
    only = Piece([tr("Flute", 76, program=73), tr("Drums", 36, drum=True)])
    mel = select_melody(only)
    assert mel.pitches.tolist() == [76] * 4 and mel.program == 73


def test_melody_ambiguous_or_missing_track_is_one_clear_error():
    p = Piece([tr("Strings", 50), tr("Lead", 72)], source="two.mid")
    with pytest.raises(ParameterError, match=r"two.mid: has 2 pitched tracks \['Strings', 'Lead'\].*--melody-track"):
        select_melody(p)
    with pytest.raises(ParameterError, match="no track named 'vox'"):
        select_melody(p, "vox")


def test_empty_and_drum_only_inputs_fail_with_one_line():
    with pytest.raises(InvalidMidiError, match="drums.mid: has only drum notes"):
        select_melody(Piece([tr("Drums", 36, drum=True)], source="drums.mid"))
    with pytest.raises(InvalidMidiError, match="empty.mid: has no notes"):
        select_accompaniment(Piece([Track(np.zeros((0, 4)), name="PIANO")], source="empty.mid"))


def test_accompaniment_piano_else_named_else_all_but_melody():
    p = Piece([tr("MELODY", 72), tr("PIANO", 48), tr("Bass", 36), tr("Drums", 40, drum=True)])
    assert select_accompaniment(p).pitches.tolist() == [48] * 4
    both = select_accompaniment(p, ["bass", "piano"])
    assert sorted(set(both.pitches.tolist())) == [36, 48] and len(both) == 8
    band = Piece([tr("MELODY", 72), tr("Guitar", 55), tr("Bass", 36)])
    acc = select_accompaniment(band)
    assert sorted(set(acc.pitches.tolist())) == [36, 55] and acc.name == "ACCOMPANIMENT"
    alone = Piece([tr("MELODY", 72)])  # the melody file as its own accompaniment still works
    assert select_accompaniment(alone).pitches.tolist() == [72] * 4


def test_load_piece_accepts_pieces_and_paths(tmp_path):
    from collage.io import write_midi

    p = Piece([tr("MELODY", 72)])
    assert load_piece(p) is p
    write_midi(p, tmp_path / "m.mid")
    assert load_piece(tmp_path / "m.mid").track_names == ["MELODY"]
    with pytest.raises(ParameterError, match="expected a Piece or a file path"):
        load_piece(42)

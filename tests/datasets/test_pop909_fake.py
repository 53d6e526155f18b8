"""POP909 loading on a one-song copy built in code (runs without the data)."""

from __future__ import annotations

import numpy as np
import pytest

from collage.datasets import load_song, pop909_segments, split_ids
from collage.errors import InvalidInputError
from collage.io import write_midi


@pytest.fixture
def fake_root(tmp_path, two_track_piece, monkeypatch):
    """Song 1 (in the train split): two 4/4 bars at 100 qpm (0.6 s a beat), C then F."""
    monkeypatch.setenv("COLLAGE_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "pop909"
    d = root / "001"
    d.mkdir(parents=True)
    (root / "index.csv").write_text(
        "song_id,name,artist,modify_times,num_beats_per_measure,num_quavers_per_beat\n1,Song,Someone,1,2,2\n",
        encoding="utf-8",
    )
    write_midi(two_track_piece, d / "001.mid")
    (d / "beat_midi.txt").write_text("".join(f"{0.6 * i} {1.0 - i % 2} {float(i % 4 == 0)}\n" for i in range(8)))
    (d / "chord_midi.txt").write_text("0.0\t2.4\tC:maj\n2.4\t4.8\tF:maj\n")
    (d / "key_audio.txt").write_text("0.0\t4.8\tC:maj\n")
    assert 1 in split_ids("train")
    return root


@pytest.mark.parametrize("grid", ["beats", "ticks"])
def test_one_song_segments(fake_root, grid):
    segs = pop909_segments("train", grid=grid, root=fake_root)
    assert len(segs) == 1 and segs.song_ids.tolist() == [1] and segs.starts.tolist() == [0]
    mel = segs.melody(0)
    np.testing.assert_array_equal(mel[:, 0], np.arange(0, 32, 4))
    np.testing.assert_array_equal(mel[:, 1], 4)
    np.testing.assert_array_equal(mel[:, 2], [60, 62, 64, 65, 67, 65, 64, 62])
    acc = segs.accomp(0)
    np.testing.assert_array_equal(acc[:, :3], [[0, 16, 48], [0, 16, 52], [0, 16, 55],
                                                [16, 16, 53], [16, 16, 57], [16, 16, 60]])
    assert segs.chords(0) == ["C:maj"] * 4 + ["F:maj"] * 4
    assert segs.song_chords(1) == segs.chords(0)
    assert segs.song_n_steps(1) == 32
    assert pop909_segments("val", grid=grid, root=fake_root).starts.shape == (0,)


def test_song_annotations(fake_root):
    song = load_song(1, fake_root)
    assert song.info.name == "Song" and song.keys == ["C:maj"]
    np.testing.assert_allclose(song.beat_times, 0.6 * np.arange(8))
    assert song.downbeats.tolist() == [True, False, False, False, True, False, False, False]
    assert song.chord_labels == ["C:maj", "F:maj"]


def test_bad_beat_file_names_the_file(fake_root):
    (fake_root / "001" / "beat_midi.txt").write_text("0.5 1.0 1.0\n")
    with pytest.raises(InvalidInputError, match=r"001/beat_midi\.txt: unusable beat annotation"):
        pop909_segments("train", root=fake_root)
    (fake_root / "001" / "beat_midi.txt").write_text("0.5 1.0\n")
    with pytest.raises(InvalidInputError, match=r"beat_midi\.txt: line 1 has 2 columns"):
        load_song(1, fake_root)
    (fake_root / "001" / "beat_midi.txt").unlink()
    with pytest.raises(InvalidInputError, match=r"beat_midi\.txt: no such file"):
        load_song(1, fake_root)

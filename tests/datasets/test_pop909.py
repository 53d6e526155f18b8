"""POP909: root lookup, songs, segments, pairs and the segment cache.

Tests that read the data use the ``pop909_root`` fixture (skipped when absent).
Segments are extracted for the 'val' split (77 duple-metre songs, < 1 s each grid)
into a temporary ``COLLAGE_CACHE``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import collage

from collage.datasets import (
    SegmentSet,
    disharmonic_pairs,
    four_four_ids,
    harmonic_pairs,
    load_song,
    pop909_segments,
    song_index,
    split_ids,
)
from collage.datasets.pop909 import pop909_root as find_root
from collage.datasets.pop909 import segment_cache_path
from collage.errors import DatasetNotFoundError, ParameterError
from collage.represent.segments import crop

pytestmark = pytest.mark.pop909


def test_missing_root_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(DatasetNotFoundError, match=r"POP909 not found at .*nope.*root=.*COLLAGE_POP909") as e:
        find_root(tmp_path / "nope")
    assert "\n" not in str(e.value)
    monkeypatch.setenv("COLLAGE_POP909", str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match="COLLAGE_POP909"):
        find_root()
    with pytest.raises(DatasetNotFoundError):
        pop909_segments("val")


def test_root_from_env_and_repository(pop909_root, monkeypatch, tmp_path):
    monkeypatch.setenv("COLLAGE_POP909", str(pop909_root))
    assert find_root().resolve() == pop909_root.resolve()
    assert find_root(pop909_root) == pop909_root
    monkeypatch.delenv("COLLAGE_POP909")
    monkeypatch.chdir(tmp_path)
    beside_repo = Path(collage.__file__).resolve().parents[3] / "shared" / "data" / "pop909"
    if not (beside_repo / "index.csv").exists():
        pytest.skip("POP909 is not beside the repository")
    assert find_root().resolve() == beside_repo.resolve()


def test_index_and_four_four(pop909_root):
    index = song_index(pop909_root)
    assert len(index) == 909 and sorted(index) == list(range(1, 910))
    ff = four_four_ids(pop909_root)
    assert len(ff) == 857
    assert all(index[i].four_four for i in ff.tolist())
    assert sum(len(split_ids(s, four_four=True, root=pop909_root)) for s in ("train", "val", "test")) == 857
    sub = split_ids("val", four_four=True, root=pop909_root)
    assert set(sub.tolist()) <= set(split_ids("val").tolist()) & set(ff.tolist())


def test_load_song(pop909_root):
    song = load_song(1, pop909_root)
    assert song.song_id == 1 and song.info.four_four
    assert song.piece.track_names == ["MELODY", "BRIDGE", "PIANO"]
    assert song.beat_times.ndim == 1 and np.all(np.diff(song.beat_times) > 0)
    assert song.downbeats.dtype == bool and song.downbeats.any()
    assert song.chord_spans.shape == (len(song.chord_labels), 2)
    assert "B:maj" in song.chord_labels
    assert song.keys == ["F#:maj"]  # the file says Gb:maj
    with pytest.raises(ParameterError, match="song_id=0"):
        load_song(0, pop909_root)


@pytest.fixture(scope="module")
def cache_env(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        d = tmp_path_factory.mktemp("cache")
        mp.setenv("COLLAGE_CACHE", str(d))
        yield d


@pytest.fixture(scope="module", params=["beats", "ticks"])
def segs(request, pop909_root, cache_env) -> SegmentSet:
    return pop909_segments("val", grid=request.param, root=pop909_root)


def test_segment_invariants(segs, pop909_root):
    assert len(segs) > 10_000
    assert segs.length == 32
    mel, acc = segs.arrays()["mel_notes"], segs.arrays()["acc_notes"]
    for notes in (mel, acc):
        on, dur = notes[:, 0].astype(int), notes[:, 1].astype(int)
        assert on.min() >= 0 and on.max() < 32
        assert dur.min() >= 1 and (on + dur).max() <= 32
        assert notes[:, 2].min() >= 0 and notes[:, 2].max() <= 127
    a = segs.arrays()
    assert np.all(np.diff(a["mel_ptr"]) > 0) and np.all(np.diff(a["acc_ptr"]) > 0)
    # melody monophonic: onsets strictly increase and notes never overlap, within each segment
    same = np.repeat(np.arange(len(segs)), np.diff(a["mel_ptr"]))
    nxt_same = same[1:] == same[:-1]
    on = mel[:, 0].astype(int)
    end = on + mel[:, 1]
    assert np.all(on[1:][nxt_same] > on[:-1][nxt_same])
    assert np.all(end[:-1][nxt_same] <= on[1:][nxt_same])
    # song-level: only the split's duple-metre songs; starts on beats
    assert set(np.unique(segs.song_ids).tolist()) <= set(split_ids("val", four_four=True, root=pop909_root).tolist())
    assert np.all(segs.starts % 4 == 0)


def test_segments_agree_with_crop(segs):
    rng = np.random.default_rng(0)
    for i in rng.choice(len(segs), 50, replace=False).tolist():
        sid, s = int(segs.song_ids[i]), int(segs.starts[i])
        np.testing.assert_array_equal(segs.melody(i), crop(segs.song_melody(sid), s, 32))
        np.testing.assert_array_equal(segs.accomp(i), crop(segs.song_accomp(sid), s, 32))
        assert s + 32 <= segs.song_n_steps(sid)
        chords = segs.chords(i)
        assert len(chords) == 8 and all(isinstance(c, str) and c for c in chords)
        assert len(segs.song_chords(sid)) == -(-segs.song_n_steps(sid) // 4)


def test_pairs(segs):
    h = harmonic_pairs(segs, 500, seed=1)
    assert h.shape == (500, 2) and np.all(h[:, 0] == h[:, 1]) and len(np.unique(h[:, 0])) == 500
    np.testing.assert_array_equal(h, harmonic_pairs(segs, 500, seed=1))
    d = disharmonic_pairs(segs, 5000, seed=1)
    assert d.shape == (5000, 2) and d.min() >= 0 and d.max() < len(segs)
    assert np.all(segs.song_ids[d[:, 0]] != segs.song_ids[d[:, 1]])
    np.testing.assert_array_equal(d, disharmonic_pairs(segs, 5000, seed=1))
    assert not np.array_equal(d, disharmonic_pairs(segs, 5000, seed=2))
    with pytest.raises(ParameterError, match="n=-1"):
        disharmonic_pairs(segs, -1, seed=0)
    with pytest.raises(ParameterError, match="only"):
        harmonic_pairs(segs, len(segs) + 1, seed=0)


def test_cache_round_trip_and_corrupt_file(pop909_root, cache_env, caplog):
    fresh = pop909_segments("test", grid="ticks", root=pop909_root, cache=False)
    first = pop909_segments("test", grid="ticks", root=pop909_root)
    path = segment_cache_path("test", "ticks", 4, split_ids("test", four_four=True, root=pop909_root), pop909_root)
    assert path.exists() and path.parent.parent == cache_env
    cached = pop909_segments("test", grid="ticks", root=pop909_root)
    for other in (first, cached):
        a, b = fresh.arrays(), other.arrays()
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
            assert a[k].dtype == b[k].dtype, k
    path.write_bytes(b"PK\x03\x04 garbage")
    stale = path.with_name(path.name.rsplit("-", 1)[0] + "-0123456789abcdef.npz")
    stale.write_bytes(b"old inputs")
    rebuilt = pop909_segments("test", grid="ticks", root=pop909_root)
    assert "corrupt cache file" in caplog.text
    assert path.exists() and not stale.exists()
    np.testing.assert_array_equal(rebuilt.arrays()["acc_notes"], fresh.arrays()["acc_notes"])
    assert pop909_segments("test", grid="ticks", root=pop909_root).arrays()["starts"].shape == fresh.starts.shape


def test_bad_segment_arguments(pop909_root):
    with pytest.raises(ParameterError, match="grid='bars'"):
        pop909_segments("val", grid="bars", root=pop909_root)
    with pytest.raises(ParameterError, match="steps_per_beat=0"):
        pop909_segments("val", steps_per_beat=0, root=pop909_root)

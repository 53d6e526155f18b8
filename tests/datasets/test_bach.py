"""Bach chorales from music21's corpus: four parts, cached conversion."""

from __future__ import annotations

import numpy as np
import pytest

from collage.datasets import bach_ids, iter_chorales, load_chorale
from collage.datasets.bach import PART_NAMES, parse_chorale
from collage.errors import InvalidScoreError, ParameterError


@pytest.fixture
def cache_env(tmp_path, monkeypatch):
    monkeypatch.setenv("COLLAGE_CACHE", str(tmp_path))
    return tmp_path


def test_chorales_load_with_four_parts_and_cache(cache_env):
    for cid in bach_ids("val")[:2]:
        fresh = load_chorale(cid)
        assert fresh.track_names == list(PART_NAMES)
        assert all(len(t) > 10 for t in fresh.tracks)
        assert fresh.tpq == 480 and fresh.time_signatures
        assert list(cache_env.glob(f"bach/{cid}-*.npz"))
        cached = load_chorale(cid)
        assert cached.track_names == fresh.track_names
        for a, b in zip(fresh.tracks, cached.tracks):
            np.testing.assert_array_equal(a.notes, b.notes)
        assert cached.tempos == fresh.tempos and cached.key_signatures == fresh.key_signatures
        assert cached.time_signatures == fresh.time_signatures


def test_iter_chorales_and_corrupt_cache(cache_env, caplog):
    cid = bach_ids("test")[0]
    load_chorale(cid)
    (path,) = cache_env.glob(f"bach/{cid}-*.npz")
    path.write_bytes(b"garbage")
    got = next(iter_chorales("test"))
    assert got[0] == cid and got[1].track_names == list(PART_NAMES)
    assert "corrupt cache file" in caplog.text


def test_bad_ids():
    with pytest.raises(ParameterError, match="bwv9999"):
        load_chorale("bwv9999")
    with pytest.raises(ParameterError, match="chorale_id=3"):
        load_chorale(3)


def test_score_without_vocal_parts_is_rejected():
    with pytest.raises(InvalidScoreError, match=r"bwv846.*0 vocal parts with more than 10 notes.*Piano"):
        parse_chorale("bwv846")


def test_vocal_parts_are_taken_from_larger_scores():
    """Instruments beside the choir are dropped; compound part names are mapped (the authors' rule)."""
    piece = parse_chorale("bwv8.6")  # Soprano, Alto, Tenor, Bass, Continuo
    assert piece.track_names == list(PART_NAMES) and all(len(t) > 10 for t in piece.tracks)
    piece = parse_chorale("bwv41.6")  # 'Soprano Oboe 1 Violin1', ... beside trumpets and timpani
    assert piece.track_names == list(PART_NAMES) and all(len(t) > 10 for t in piece.tracks)
    for t in piece.tracks:
        assert len(np.unique(t.notes[:, :3], axis=0)) == len(t)  # duplicates kept once

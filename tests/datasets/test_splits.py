"""Committed splits: deterministic, song-level, disjoint, 80/10/10 (no data needed)."""

from __future__ import annotations

import numpy as np
import pytest

from collage.datasets import bach_ids, split_ids
from collage.datasets.cache import load_split_file, make_split
from collage.errors import ParameterError


def test_pop909_split_sizes_disjoint_cover_all():
    parts = {s: split_ids(s) for s in ("train", "val", "test")}
    assert [len(parts[s]) for s in ("train", "val", "test")] == [727, 91, 91]
    allids = np.concatenate(list(parts.values()))
    assert len(np.unique(allids)) == 909
    np.testing.assert_array_equal(np.sort(allids), np.arange(1, 910))
    np.testing.assert_array_equal(split_ids("all"), np.arange(1, 910))
    for s, ids in parts.items():
        assert np.all(np.diff(ids) > 0), s


def test_pop909_split_matches_procedure_and_json():
    data = load_split_file("pop909")
    again = make_split(list(range(1, 910)), seed=data["seed"], fractions=tuple(data["fractions"]))
    for s in ("train", "val", "test"):
        assert again[s] == data[s] == split_ids(s).tolist()


def test_make_split_is_deterministic_and_seeded():
    ids = [f"x{i}" for i in range(50)]
    a, b = make_split(ids, seed=1), make_split(list(reversed(ids)), seed=1)
    assert a == b
    assert make_split(ids, seed=2) != a
    assert [len(a[s]) for s in ("train", "val", "test")] == [40, 5, 5]
    with pytest.raises(ParameterError, match="duplicates"):
        make_split(["a", "a", "b"], seed=0)
    with pytest.raises(ParameterError, match="fractions"):
        make_split(ids, seed=0, fractions=(0.5, 0.1, 0.1))


def test_bad_split_name():
    with pytest.raises(ParameterError, match="split='dev'"):
        split_ids("dev")
    with pytest.raises(ParameterError, match="split='dev'"):
        bach_ids("dev")


def test_bach_split_disjoint_and_matches_json():
    data = load_split_file("bach")
    parts = {s: bach_ids(s) for s in ("train", "val", "test")}
    flat = sum(parts.values(), [])
    assert len(flat) == len(set(flat)) == data["n_kept"] == len(bach_ids("all"))
    assert abs(len(parts["train"]) / len(flat) - 0.8) < 0.01
    again = make_split(flat, seed=data["seed"], fractions=tuple(data["fractions"]))
    assert all(again[s] == parts[s] for s in parts)
    assert not set(flat) & set(data["skipped"])

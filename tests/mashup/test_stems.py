"""Stems rendered from POP909: drum grooves on the beat grid, the clip, the truth."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from collage.errors import ParameterError
from collage.mashup.stems import (
    CRASH, GROOVES, KICK, ROLES, SOUNDFONTS, TEST_SOUNDFONT, default_clip, drum_notes, pick_soundfont,
    render_pop909_song, render_pop909_stems,
)


def _grid(n_bars=8, ibi=0.5, pickup=1):
    beats = 0.3 + ibi * np.arange(4 * n_bars + pickup)
    down = np.zeros(len(beats), bool)
    down[pickup::4] = True
    return beats, down


def test_drums_sit_on_the_beat_grid():
    beats, down = _grid()
    notes, info = drum_notes(beats, down, song_id=5, seed=0)
    steps = (beats[:, None] + 0.125 * np.arange(4)[None, :]).ravel()
    assert np.abs(notes[:, 0, None] - steps[None, :]).min(axis=1).max() < 1e-9  # every hit on a 16th
    kicks = notes[notes[:, 2] == KICK, 0]
    assert np.isin(beats[down][:4], kicks).sum() >= 3  # the groove starts its bars with a kick
    assert info["groove"] in {g.name for g in GROOVES}
    assert ((notes[:, 3] >= 1) & (notes[:, 3] <= 127)).all()


def test_drums_vary_per_song_and_repeat_per_seed():
    beats, down = _grid(16)
    a, _ = drum_notes(beats, down, song_id=1, seed=0)
    b, _ = drum_notes(beats, down, song_id=1, seed=0)
    assert np.array_equal(a, b)
    others = [drum_notes(beats, down, song_id=s, seed=0)[0] for s in range(2, 8)]
    assert any(o.shape != a.shape or not np.array_equal(o, a) for o in others)
    crashes = a[a[:, 2] == CRASH, 0]
    assert len(crashes) >= 1 and np.isin(crashes, beats[down]).all()


def test_bad_grid_raises():
    with pytest.raises(ParameterError, match="increase"):
        drum_notes(np.array([1.0, 0.5, 2.0]), np.array([True, False, False]))


def test_default_clip_starts_on_a_downbeat_that_fits():
    beats, down = _grid(40)
    start, end = default_clip(beats, down, seconds=30.0)
    assert start in beats[down] and end - start == pytest.approx(30.0) and end <= beats[-1]
    assert abs(start - (beats[0] + 0.25 * (beats[-1] - beats[0]))) <= 2.0


def test_soundfont_convention(pop909_root):
    from collage.datasets.pop909 import split_ids

    assert pick_soundfont(int(split_ids("test")[0])) == TEST_SOUNDFONT
    train = [pick_soundfont(int(s)) for s in split_ids("train")[:20]]
    assert set(train) <= set(SOUNDFONTS[:2]) and len(set(train)) == 2


@pytest.mark.pop909
def test_render_song_clip(pop909_root, tmp_path):
    meta = render_pop909_stems(1, tmp_path, soundfont=SOUNDFONTS[1], seconds=6.0, sr=16000, root=pop909_root)
    ys = {}
    for name in ROLES + ("mix",):
        y, sr = sf.read(meta["paths"][name], dtype="float32")
        assert sr == 16000 and y.ndim == 1 and len(y) == meta["n_samples"] == 96000
        ys[name] = y
    assert all(np.sqrt(np.mean(ys[r] ** 2)) > 1e-3 for r in ROLES)
    np.testing.assert_allclose(ys["mix"], ys["vocals"] + ys["harmonic"] + ys["percussion"], atol=1e-6)
    assert meta["key"] == "F#:maj" and abs(meta["tempo"] - 90.0) < 1.0
    assert meta["beats"][0] == 0.0 and meta["downbeats"][0] == 0.0  # the clip starts on a downbeat
    assert all(0 <= b < 6.0 for b in meta["beats"]) and len(meta["beats"]) == 9
    assert json.loads((tmp_path / "stems.json").read_text())["programs"] == meta["programs"]
    assert not list(tmp_path.glob(".*"))  # no temporary files left


@pytest.mark.pop909
def test_render_whole_song_in_memory(pop909_root):
    from collage.datasets.pop909 import load_song

    song = render_pop909_song(1, soundfont=SOUNDFONTS[1], sr=8000, root=pop909_root)
    b = load_song(1, pop909_root).beat_times
    assert set(song) == {"vocals", "harmonic"}
    assert all(y.dtype == np.float32 and len(y) == round((b[-1] + np.median(np.diff(b))) * 8000) for y in song.values())
    assert all(np.sqrt(np.mean(y ** 2)) > 1e-3 for y in song.values())
    assert len(render_pop909_song(1, soundfont=SOUNDFONTS[1], sr=8000, root=pop909_root, max_seconds=20)["vocals"]) == 160000
    with pytest.raises(ParameterError, match="roles"):
        render_pop909_song(1, soundfont=SOUNDFONTS[1], roles=("drums",), root=pop909_root)

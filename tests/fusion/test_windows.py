"""Any length on the step grid: lengths, loop/trim, window plans and seam-free stitching."""

import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collage.errors import ParameterError
from collage.fusion import windows as W
from collage.piece import Piece, TimeSignature, Track


def n(*rows):
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


def test_plan_windows_covers_the_piece_and_owns_each_step_once():
    plan = W.plan_windows(128)  # 32 beats, default hop of 4 beats
    assert plan.starts.tolist() == [0, 16, 32, 48, 64, 80, 96]
    assert plan.owner_starts.tolist() == [0, 24, 40, 56, 72, 88, 104]  # middle of each overlap
    assert plan.padded == 128
    owner = plan.owner()
    assert len(owner) == 128 and (np.diff(owner) >= 0).all()
    assert all(plan.starts[k] <= t < plan.starts[k] + 32 for t, k in enumerate(owner))
    odd = W.plan_windows(70)  # a partial last window is padded
    assert odd.starts.tolist() == [0, 16, 32, 48] and odd.padded == 80
    short = W.plan_windows(12)
    assert short.starts.tolist() == [0] and short.padded == 32
    one_beat = W.plan_windows(64, hop=4)
    assert one_beat.owner_starts[1] - one_beat.starts[1] == 12  # overlap 28 -> cut at 14, down to a beat
    flat = W.plan_windows(64, hop=32)
    assert flat.starts.tolist() == [0, 32] and flat.owner_starts.tolist() == [0, 32]
    with pytest.raises(ParameterError, match="given hop=40 steps"):
        W.plan_windows(64, hop=40)
    with pytest.raises(ParameterError, match="given n_steps=0"):
        W.plan_windows(0)


def test_lengths_are_rounded_to_bars_of_the_first_metre():
    piece = Piece([Track(n([0, 480, 60, 80], [480 * 5, 240, 62, 80]))], tpq=480)
    notes, n_steps = W.to_step_notes(piece.tracks[0], piece)
    assert notes[:, :2].tolist() == [[0, 4], [20, 2]]
    assert n_steps == 32  # 5.5 beats -> 2 bars of 4/4
    waltz = Piece(piece.tracks, tpq=480, time_signatures=[TimeSignature(0, 3, 4)])
    assert W.steps_per_bar(waltz) == 12 and W.to_step_notes(waltz.tracks[0], waltz)[1] == 24
    assert W.steps_per_bar(Piece([], time_signatures=[TimeSignature(0, 6, 8)])) == 12


def test_check_metre_warns_for_non_duple_metres(caplog):
    with caplog.at_level(logging.WARNING):
        assert W.check_metre(Piece([], time_signatures=[TimeSignature(0, 2, 2)]))
        assert W.check_metre(Piece([]))
        assert not caplog.records
        assert not W.check_metre(Piece([], time_signatures=[TimeSignature(0, 3, 4)], source="waltz.mid"), "melody")
    assert "waltz.mid: melody is in 3/4 at tick 0; fused as a continuous stream of quarter-note beats" in caplog.text


def test_loop_and_trim():
    mel = n([0, 4, 60, 80], [12, 8, 62, 80])  # 16 steps long, the last note sounding to 20
    looped = W.loop_notes(mel, 16, 40)
    assert looped[:, 0].tolist() == [0, 12, 16, 28, 32]
    assert looped[-1, 1] == 4 + 0 and looped[1, 1] == 8  # [32, 36) fits; nothing crosses 40
    assert W.loop_notes(n([0, 4, 60, 80], [12, 8, 62, 80]), 16, 30)[-1].tolist() == [28, 2, 62, 80]
    assert W.trim_notes(mel, 14).tolist() == [[0, 4, 60, 80], [12, 2, 62, 80]]
    acc = n([0, 64, 48, 70])
    m2, a2, length, info = W.fit_lengths(mel, 16, acc, 64, mode="loop")
    assert length == 64 and info["looped"] == "melody" and info["loops"] == 4 and len(m2) == 8
    m3, a3, length, info = W.fit_lengths(mel, 16, acc, 64, mode="trim")
    assert length == 16 and info["trimmed"] == "accompaniment" and a3.tolist() == [[0, 16, 48, 70]]
    with pytest.raises(ParameterError, match="given fit='stretch'"):
        W.fit_lengths(mel, 16, acc, 64, mode="stretch")


@st.composite
def step_songs(draw):
    """Random step notes with no two notes of one pitch overlapping, and a length."""
    n_steps = draw(st.integers(1, 150))
    rows = []
    for p in draw(st.lists(st.integers(40, 90), min_size=0, max_size=6, unique=True)):
        t = draw(st.integers(0, 20))
        while t < n_steps:
            dur = draw(st.integers(1, 45))
            rows.append([t, min(dur, n_steps - t), p, draw(st.integers(1, 127))])
            t += dur + draw(st.integers(0, 10))
    notes = n(*rows) if rows else np.zeros((0, 4), dtype=np.int64)
    return notes[np.lexsort((notes[:, 2], notes[:, 0]))], n_steps


@settings(max_examples=60, deadline=None)
@given(step_songs(), st.integers(1, 7))
def test_windows_then_stitch_is_the_identity(song, hop_beats):
    notes, n_steps = song
    plan = W.plan_windows(n_steps, hop=4 * hop_beats)
    out = W.stitch_notes(W.crop_windows(notes, plan), plan)
    assert out.tolist() == notes.tolist()


def test_identity_without_overlap_merges_notes_split_by_the_windows():
    notes = n([4, 60, 60, 80], [30, 10, 64, 90])  # a 15-beat note, and one across the first seam
    plan = W.plan_windows(96, hop=32)
    assert W.stitch_notes(W.crop_windows(notes, plan), plan).tolist() == notes.tolist()


def test_seams_neither_double_nor_break_notes():
    plan = W.plan_windows(48)  # windows [0, 32) and [16, 48); window 1 owns from step 24
    w0 = n([18, 6, 64, 80],  # in the shared part: both windows have it; it must appear once
           [20, 12, 60, 81],  # held across the seam by window 0 ...
           [21, 7, 67, 82])  # ... and restarted by window 1 exactly at the seam
    w1 = n([2, 6, 64, 70],
           [4, 12, 60, 71],  # (20..32: the same note as window 0's)
           [8, 4, 67, 72],  # onset at step 24: merged with window 0's G
           [6, 6, 62, 73])  # window 1 holds D from 22 (window 0's part) over the seam: starts at 24
    out = W.stitch_notes([w0, w1], plan)
    assert out.tolist() == [
        [18, 6, 64, 80],
        [20, 12, 60, 81],
        [21, 7, 67, 82],
        [24, 4, 62, 73],
    ]


def test_stitch_keeps_a_monophonic_track_monophonic():
    plan = W.plan_windows(64)
    rng = np.random.default_rng(0)
    wins = []
    for _ in range(plan.n_windows):
        on = np.sort(rng.choice(32, 8, replace=False))
        dur = np.diff(np.append(on, 32))
        wins.append(np.stack([on, dur, rng.integers(60, 72, 8), np.full(8, 80)], axis=1))
    out = W.stitch_notes(wins, plan)
    assert (out[1:, 0] >= out[:-1, 0] + out[:-1, 1]).all()


def test_stitch_trims_the_padding_and_checks_shapes():
    plan = W.plan_windows(40)  # padded to 48
    w = [n(), n([20, 8, 60, 80], [30, 2, 62, 80])]  # window 1 starts at 16: notes at 36 and 46
    out = W.stitch_notes(w, plan)
    assert out.tolist() == [[36, 4, 60, 80]]  # cut at the end; the note after it dropped
    with pytest.raises(ParameterError, match="given 1 windows; the plan has 2"):
        W.stitch_notes(w[:1], plan)
    on, fr, vel = W.notes_to_rolls(w)
    with pytest.raises(ParameterError, match=r"given onset.shape=\(2, 32, 127\)"):
        W.stitch(on[..., :127], fr, vel, plan)


def test_steps_to_ticks():
    assert W.steps_to_ticks(n([1, 2, 60, 80]), 480).tolist() == [[120, 240, 60, 80]]

"""``collage.fuse(..., method="revoice")`` and ``collage fuse --method revoice``: the accompaniment's own
notes re-voiced onto chords chosen for the melody, on whole pieces, with the shipped chord statistics."""

from __future__ import annotations

import json

import numpy as np
import pytest

import collage
from collage import examples
from collage.errors import ModelLoadingError
from collage.fusion.reharmonize import (
    STATS_FILE,
    ChordStats,
    load_chord_stats,
    reach_for,
    snap_rhythm,
    snap_texture,
    texture_reach,
)
from collage.fusion.vertical import METHODS
from collage.io import read_midi
from collage.metrics.notes import note_f1
from collage.piece import Piece, Tempo, Track

from cli_helpers import assert_user_error, run

MEL, ACC = str(examples.path("melody")), str(examples.path("accompaniment"))
ALL = dict(keep_pitch=1.0, keep_rhythm=1.0, keep_chord=1.0, keep_texture=1.0)


def _steps(track, tpq) -> np.ndarray:
    """``(n, 4)`` step notes of a track (16th notes), sorted by onset then pitch."""
    n = track.notes.astype(np.int64).copy()
    n[:, :2] = np.round(n[:, :2] * 4 / tpq).astype(np.int64)
    return n[np.lexsort((n[:, 2], n[:, 0]))]


def _inputs(r, mel: Piece, acc: Piece) -> tuple[np.ndarray, np.ndarray]:
    """The key-aligned inputs as step notes (the examples need no looping: both are 32 beats)."""
    m, a = _steps(mel.tracks[0], mel.tpq), _steps(acc.tracks[0], acc.tpq)
    a[:, 2] += r.key_shift
    return m, a


def _out(r) -> tuple[np.ndarray, np.ndarray]:
    t = {x.name: x for x in r.piece.tracks}
    return _steps(t["MELODY"], r.piece.tpq), _steps(t["ACCOMPANIMENT"], r.piece.tpq)


@pytest.fixture(scope="module")
def examples_pair():
    return collage.load(MEL), collage.load(ACC)


def test_revoice_is_the_default_method():
    import inspect

    from collage.fusion.vertical import DEFAULT_METHOD

    assert "revoice" in METHODS and "collagenet" in METHODS
    assert inspect.signature(collage.fuse).parameters["method"].default == DEFAULT_METHOD == "revoice"


def test_all_controls_at_one_give_the_key_aligned_examples_back(examples_pair):
    mel, acc = examples_pair
    r = collage.fuse(mel, acc, method="revoice", **ALL)
    m_in, a_in = _inputs(r, mel, acc)
    m_out, a_out = _out(r)
    np.testing.assert_array_equal(m_out, m_in)  # onsets, durations, pitches and velocities
    np.testing.assert_array_equal(a_out, a_in)
    beats = lambda n: np.c_[n[:, 0] / 4, n[:, 1] / 4, n[:, 2]]  # noqa: E731
    assert note_f1(beats(a_in), beats(a_out))["f1"] == 1.0
    assert r.method == "revoice" and r.controls == {"pitch": 1.0, "rhythm": 1.0, "chord": 1.0, "texture": 1.0}
    assert r.iterations is None


def _mismatched(beats: int = 16) -> tuple[Piece, Piece]:
    """A melody outlining F major / G7 over an accompaniment that holds a C-major triad every beat."""
    q = 480
    mel_pitches = [65, 69, 72, 69, 67, 71, 74, 77] * (beats // 8)
    mel = [[i * q, q, p, 90] for i, p in enumerate(mel_pitches)]
    acc = []
    for b in range(beats):
        acc += [[b * q, q, 48, 70], [b * q, q // 2, 52, 60], [b * q + q // 2, q // 2, 55, 60]]
    return (Piece([Track(np.array(mel), name="MELODY")], tpq=q, tempos=[Tempo(0, 100.0)]),
            Piece([Track(np.array(acc), name="PIANO")], tpq=q, tempos=[Tempo(0, 100.0)]))


def test_accompaniment_rhythm_and_counts_are_the_inputs_and_keep_chord_is_monotone():
    mel, acc = _mismatched()
    kept, harmony = [], []
    a_in = _steps(acc.tracks[0], acc.tpq)
    for kc in (0.0, 0.25, 0.5, 0.75, 1.0):
        r = collage.fuse(mel, acc, method="revoice", keep_chord=kc, keep_pitch=1.0, keep_rhythm=1.0,
                         key_align=False, judge=True)
        m_out, a_out = _out(r)
        assert len(a_out) == len(a_in) and len(m_out) == len(mel.tracks[0])
        # onsets, durations, velocities: the input's, note for note (only pitches move)
        np.testing.assert_array_equal(np.sort(a_out[:, [0, 1, 3]], axis=0), np.sort(a_in[:, [0, 1, 3]], axis=0))
        kept.append(len({tuple(x) for x in a_out[:, [0, 2]].tolist()} & {tuple(x) for x in a_in[:, [0, 2]].tolist()}))
        harmony.append(r.harmony["output"])
    assert kept == sorted(kept) and kept[0] < kept[-1] == len(a_in)  # more kept as keep_chord rises, all at 1
    assert harmony[0] >= harmony[-1]


def test_keep_pitch_and_keep_rhythm_budgets():
    mel, acc = _mismatched()
    m_in = _steps(mel.tracks[0], mel.tpq)
    for kp in (1.0, 0.75, 0.5, 0.0):
        m_out = _out(collage.fuse(mel, acc, method="revoice", keep_pitch=kp, keep_rhythm=1.0, key_align=False))[0]
        np.testing.assert_array_equal(m_out[:, [0, 1, 3]], m_in[:, [0, 1, 3]])
        assert (m_out[:, 2] != m_in[:, 2]).sum() <= np.floor((1 - kp) * len(m_in))
    # an accompaniment on the off-beats only: melody onsets may snap to them, within the budget
    q = 480
    off = Piece([Track(np.array([[b * q + q // 4, q // 2, 48, 70] for b in range(16)]), name="PIANO")], tpq=q,
                tempos=[Tempo(0, 100.0)])
    moved = []
    for kr in (1.0, 0.75, 0.5, 0.0):
        m_out = _out(collage.fuse(mel, off, method="revoice", keep_pitch=1.0, keep_rhythm=kr, keep_chord=1.0,
                                  key_align=False))[0]
        assert len(m_out) == len(m_in)
        np.testing.assert_array_equal(m_out[:, 2], m_in[:, 2])
        np.testing.assert_array_equal(m_out[:, 0] + m_out[:, 1], m_in[:, 0] + m_in[:, 1])  # each end kept
        n = int((m_out[:, 0] != m_in[:, 0]).sum())
        assert n <= np.floor((1 - kr) * len(m_in))
        assert np.isin(m_out[m_out[:, 0] != m_in[:, 0], 0], 1 + 4 * np.arange(16)).all()  # onto the accompaniment's
        moved.append(n)
    assert moved == sorted(moved) and moved[0] == 0 and moved[-1] > 0


def test_snap_rhythm_keeps_order_and_monophony():
    mel = np.array([[0, 4, 60, 90], [5, 2, 62, 90], [7, 5, 64, 90], [13, 3, 65, 90]])
    acc = np.array([[0, 2, 48, 70], [4, 2, 48, 70], [6, 2, 48, 70], [12, 4, 48, 70]])
    out = snap_rhythm(mel, acc, keep_rhythm=0.0, reach=1)
    assert out[:, 0].tolist() == [0, 4, 6, 12]  # every onset off the accompaniment moved by one step
    assert (out[:-1, 0] + out[:-1, 1] <= out[1:, 0]).all()  # the note before a move earlier is cut
    # each note ends where it did, unless the next one now starts earlier (62 is cut at 64's new onset)
    assert (out[:, 0] + out[:, 1]).tolist() == [4, 6, 12, 16]
    np.testing.assert_array_equal(snap_rhythm(mel, acc, keep_rhythm=1.0), mel)
    # from 0.5 up the melody's rhythm is kept; below, the reach grows
    assert [reach_for(k) for k in (1.0, 0.75, 0.5, 0.25, 0.1, 0.0)] == [0, 0, 0, 1, 2, 4]
    np.testing.assert_array_equal(snap_rhythm(mel, acc, keep_rhythm=0.5), mel)


def test_snap_texture_locks_accompaniment_onsets_onto_the_melody():
    mel = np.array([[0, 4, 72, 90], [5, 3, 74, 90], [8, 8, 76, 90]])
    # a chord at 4 (one step before the melody's free onset 5), one at 8 (shared with the melody), a bass at 12
    acc = np.array([[4, 4, 60, 70], [4, 4, 64, 70], [8, 4, 48, 70], [12, 2, 55, 70], [0, 3, 60, 70]])
    out = snap_texture(acc, mel, keep_texture=0.75)
    assert out[:2, 0].tolist() == [5, 5] and (out[:2, 0] + out[:2, 1]).tolist() == [8, 8]  # the chord moved, ends kept
    np.testing.assert_array_equal(out[2:], acc[2:])  # the shared onset and the far one stay
    np.testing.assert_array_equal(snap_texture(acc, mel, keep_texture=1.0), acc)
    assert len(out) == len(acc) and out[:, 2].tolist() == acc[:, 2].tolist()
    assert [texture_reach(k) for k in (1.0, 0.75, 0.5, 0.25, 0.0)] == [0, 1, 2, 3, 4]
    # the budget: a share (1 - keep_texture, rounded up) of the possible moves, nearest first
    many = np.array([[s - 1, 3, 60, 70] for s in (5, 13, 21, 29)])
    mel4 = np.array([[s, 2, 72, 90] for s in (5, 13, 21, 29)])
    moved = [int((snap_texture(many, mel4, keep_texture=k)[:, 0] != many[:, 0]).sum()) for k in (1.0, 0.75, 0.5, 0.0)]
    assert moved == [0, 1, 2, 4]


def test_shipped_statistics_and_their_card():
    card = json.loads(STATS_FILE.read_text())
    assert card["training_command"] == "collage train chord-stats"
    assert card["data"]["split"].startswith("train") and card["data"]["songs"] > 600
    stats = load_chord_stats()
    assert isinstance(stats, ChordStats)
    # a chord tone says more for its chord than a semitone above the root: the fit is not flat
    assert stats.fit[0, 0] > 0 > stats.fit[0, 1] and stats.fit[1, 3] > 0 > stats.fit[1, 4]


def test_a_bad_statistics_file_is_a_loading_error(tmp_path):
    bad = tmp_path / "s.json"
    bad.write_text("{}")
    with pytest.raises(ModelLoadingError, match="not a chord-statistics card"):
        load_chord_stats(bad)
    with pytest.raises(ModelLoadingError, match="no chord statistics there"):
        load_chord_stats(tmp_path / "missing.json")


def test_the_command_refits_the_shipped_statistics(pop909_root, tmp_path):
    from collage.training.chord_stats import train_chord_stats

    card = train_chord_stats(out=tmp_path / "c.json", root=pop909_root)
    shipped = json.loads(STATS_FILE.read_text())
    assert card["tables"] == shipped["tables"] and card["data"] == shipped["data"]


def test_a_whole_pop909_val_song_pair(pop909_root):
    from collage.datasets.pop909 import song_dir, split_ids

    ids = split_ids("val", four_four=True, root=pop909_root)
    mel_song, acc_song = (collage.load(song_dir(int(i), pop909_root) / f"{int(i):03d}.mid") for i in ids[:2])
    r = collage.fuse(mel_song, acc_song, method="revoice", judge=True)
    m_out, a_out = _out(r)
    assert r.n_steps > 400 and r.harmony["windows"] > 50
    assert r.harmony["output"] > r.harmony["input"]
    # no note lost or added, none outside MIDI's range
    same = collage.fuse(mel_song, acc_song, method="revoice", **ALL)
    assert [len(t) for t in r.piece.tracks] == [len(t) for t in same.piece.tracks]
    assert a_out[:, 2].min() >= 0 and a_out[:, 2].max() <= 127
    # more of the accompaniment kept as keep_chord rises, on a whole song too
    a_in = _out(same)[1]
    have = lambda n: {(int(o), int(p)) for o, _, p, _ in n.tolist()}  # noqa: E731
    kept = [len(have(a_in) & have(_out(collage.fuse(mel_song, acc_song, method="revoice", keep_chord=kc,
                                                                   keep_texture=1.0))[1]))
            for kc in (0.0, 0.5, 1.0)]
    assert kept[0] < kept[1] < kept[2] == len(a_in)


def test_cli_revoice(capsys, tmp_path):
    out = tmp_path / "f.mid"
    rc, stdout, err = run(capsys, "fuse", MEL, ACC, "-o", out, "--method", "revoice", "--keep-chord", "0.2")
    assert rc == 0, err
    assert "fused with revoice (keep pitch 0.5, rhythm 0.5, chord 0.2, texture 0.5)" in stdout
    assert "harmony judge:" in stdout
    assert read_midi(out).track_names == ["MELODY", "ACCOMPANIMENT"]
    rc, stdout, err = run(capsys, "fuse", MEL, ACC, "-o", tmp_path / "g.mid", "--method", "revoice", "--json",
                          "--keep-pitch", "1", "--keep-rhythm", "1", "--keep-chord", "1", "--keep-texture", "1")
    assert rc == 0, err
    summary = json.loads(stdout)
    assert summary["method"] == "revoice" and summary["harmony"]["windows"] == 7
    assert summary["n_notes"] == {"MELODY": len(collage.load(MEL).tracks[0]), "ACCOMPANIMENT": 72}


@pytest.mark.parametrize("args,needles", [
    (["--keep-chord", "1.5"], ["given --keep-chord 1.5; expected a number in [0, 1]"]),
    (["--iterations", "2"], ["given --iterations 2 with --method revoice"]),
    (["--actor", "latent_actor"], ["--actor", "CollageNet's only"]),
])
def test_cli_revoice_bad_options_write_nothing(capsys, tmp_path, args, needles):
    rc, _, err = run(capsys, "fuse", MEL, ACC, "-o", tmp_path / "f.mid", "--method", "revoice", *args)
    assert_user_error(rc, err, *needles)
    assert list(tmp_path.iterdir()) == []


def test_cli_revoice_bad_input_writes_nothing(capsys, tmp_path):
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"not a midi file")
    rc, _, err = run(capsys, "fuse", corrupt, ACC, "-o", tmp_path / "out" / "f.mid", "--method", "revoice")
    assert_user_error(rc, err, "corrupt.mid", "is not a MIDI file")
    assert not (tmp_path / "out").exists()


def test_keep_texture_below_half_snaps_non_chord_tones_only_where_chords_change():
    mel, acc = _mismatched()
    q = 480
    ninth = acc.tracks[0].notes.copy()
    ninth = np.vstack([ninth, [[b * q, q, 62, 60] for b in range(16)]])  # an added 9th (D) over every C chord
    acc9 = Piece([Track(ninth, name="PIANO")], tpq=q, tempos=[Tempo(0, 100.0)])
    kw = dict(keep_pitch=1.0, keep_rhythm=1.0, key_align=False)
    loose = _out(collage.fuse(mel, acc9, method="revoice", keep_chord=0.0, keep_texture=0.0, **kw))[1]
    tight = _out(collage.fuse(mel, acc9, method="revoice", keep_chord=0.0, keep_texture=1.0, **kw))[1]
    assert len(loose) == len(tight) == len(ninth)
    np.testing.assert_array_equal(loose[:, [0, 1, 3]], tight[:, [0, 1, 3]])
    assert (loose[:, 2] != tight[:, 2]).any()  # the 9ths moved to chord tones
    # snapped 9ths land on chord tones already sounding: fewer pitch classes per onset
    pcs = lambda n: {(int(o), int(p) % 12) for o, _, p, _ in n.tolist()}  # noqa: E731
    assert len(pcs(loose)) < len(pcs(tight))
    for kt in (0.0, 1.0):  # with every chord kept, nothing moves whatever keep_texture says
        kept = _out(collage.fuse(mel, acc9, method="revoice", keep_chord=1.0, keep_texture=kt, **kw))[1]
        np.testing.assert_array_equal(kept, _steps(acc9.tracks[0], q))


def test_fuse_windows_revoices_each_window_as_the_benchmark_does():
    from collage.fusion.reharmonize import reharmonize
    from collage.fusion.vertical import fuse_windows

    mel = np.array([[0, 4, 65, 90], [4, 4, 69, 90], [8, 4, 72, 90], [12, 4, 69, 90], [16, 8, 67, 90], [24, 8, 71, 90]])
    acc = np.array([[b * 4, 4, p, 70] for b in range(8) for p in (48, 52, 55)])
    m, a = fuse_windows([mel, mel[:0]], [acc, acc], method="revoice", controls={"chord": 0.0})
    want = reharmonize(mel, acc, load_chord_stats(), keep_chord=0.0, keep_pitch=0.5, keep_rhythm=0.5)
    np.testing.assert_array_equal(m[0], want[0])
    np.testing.assert_array_equal(a[0], want[1])
    assert len(m[1]) == 0 and len(a[1]) == len(acc)

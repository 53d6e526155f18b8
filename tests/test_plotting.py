"""collage.plotting: piano-roll pictures, bar/beat lines, atomic PNG output."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from collage.errors import OutputError, ParameterError
from collage.piece import Piece, Tempo, TimeSignature, Track
from collage.plotting import bar_and_beat_ticks, pitch_name, plot_pianoroll, plot_pianorolls

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_pitch_names():
    assert [pitch_name(p) for p in (21, 60, 61, 69, 108)] == ["A0", "C4", "C#4", "A4", "C8"]


def test_bar_and_beat_ticks_default_is_four_four():
    piece = Piece([Track(np.array([[0, 8 * 480, 60, 80]]))], tpq=480)  # no time signature
    bars, beats = bar_and_beat_ticks(piece)
    assert bars.tolist() == [0, 1920, 3840]
    assert beats.tolist() == [480, 960, 1440, 2400, 2880, 3360]


def test_bar_and_beat_ticks_follow_metre_changes():
    q = 480
    piece = Piece(
        [Track(np.array([[0, 10 * q, 60, 80]]))],
        tpq=q,
        time_signatures=[TimeSignature(0, 4, 4), TimeSignature(4 * q, 3, 4), TimeSignature(7 * q, 6, 8)],
    )
    bars, beats = bar_and_beat_ticks(piece)
    assert bars.tolist() == [0, 4 * q, 7 * q, 10 * q]
    assert [b for b in beats.tolist() if 7 * q < b < 10 * q] == [7 * q + k * q // 2 for k in range(1, 6)]


def test_plot_pianoroll_writes_a_png(tmp_path, two_track_piece):
    out = tmp_path / "roll.png"
    fig = plot_pianoroll(two_track_piece, out, title="two tracks")
    assert isinstance(fig, Figure)
    w, h = _png_size(out)
    assert 800 <= w <= 2400 and 300 <= h <= 1200
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["MELODY (8)", "PIANO (6)"]
    assert ax.get_ylim() == (47.5, 67.5)  # the used pitch range, C3..G4
    assert "C4" in [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["roll.png"]


def test_plot_pianoroll_in_seconds_with_a_tempo_change(two_track_piece):
    piece = two_track_piece
    piece.tempos = [Tempo(0, 120.0), Tempo(4 * 480, 60.0)]
    fig = plot_pianoroll(piece, unit="seconds")
    assert fig.axes[0].get_xlim()[1] == pytest.approx(piece.duration_s * 1.005)
    assert piece.duration_s == pytest.approx(2.0 + 4.0)


def test_plot_into_given_axes_and_odd_tracks():
    fig = Figure()
    ax = fig.add_subplot()
    q = 480
    piece = Piece(
        [
            Track(np.array([[0, q, 36, 100], [q, q, 38, 100]]), name="", is_drum=True),
            Track(np.zeros((0, 4)), name="EMPTY"),
            Track(np.array([[0, 2 * q, 72, 60]]), name="LEAD"),
        ],
        tpq=q,
    )
    assert plot_pianoroll(piece, ax=ax) is fig
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["track 0 (drums) (2)", "EMPTY (0)", "LEAD (1)"]


def test_plot_pianorolls_stacks_with_a_shared_time_axis(tmp_path, two_track_piece):
    short = two_track_piece.select(["MELODY"])
    out = tmp_path / "pair.png"
    fig = plot_pianorolls([short, two_track_piece], out, titles=["melody", "both"])
    assert len(fig.axes) == 2
    assert fig.axes[0].get_xlim() == fig.axes[1].get_xlim()
    colour = [a.get_legend().legend_handles[0].get_facecolor() for a in fig.axes]
    assert colour[0] == colour[1]  # MELODY has one colour in both panels
    assert [a.get_title(loc="left") for a in fig.axes] == ["melody", "both"]
    _png_size(out)


def test_plot_errors_leave_no_file(tmp_path, two_track_piece):
    with pytest.raises(ParameterError, match=r"given output .*roll\.jpg.*expected a file name ending in \.png"):
        plot_pianoroll(two_track_piece, tmp_path / "roll.jpg")
    with pytest.raises(ParameterError, match="given unit='bars'"):
        plot_pianoroll(two_track_piece, tmp_path / "roll.png", unit="bars")
    with pytest.raises(ParameterError, match="given 1 titles for 2 pieces"):
        plot_pianorolls([two_track_piece, two_track_piece], tmp_path / "p.png", titles=["a"])
    with pytest.raises(ParameterError, match="at least one piece"):
        plot_pianorolls([], tmp_path / "p.png")
    with pytest.raises(ParameterError, match="expected a collage Piece"):
        plot_pianoroll(np.zeros((3, 4)))
    blocker = tmp_path / "file"
    blocker.write_text("in the way")
    with pytest.raises(OutputError, match="file/roll.png"):
        plot_pianoroll(two_track_piece, blocker / "roll.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]

"""Piano-roll pictures of pieces (matplotlib, no display needed).

Figures are built with :class:`matplotlib.figure.Figure` directly, never through
``pyplot``, so no GUI backend is touched and nothing global changes; PNG, SVG or
PDF files are written atomically.

>>> plot_pianoroll(piece, "song.png", title="song")
>>> plot_pianorolls([melody, accompaniment], "pair.png", titles=["melody", "accompaniment"])

Each track gets one colour (the same name gets the same colour across the
stacked panels) and a legend entry; time runs in beats (quarter notes) or
seconds, with light beat lines and darker bar lines taken from the piece's
time signatures (4/4 when it has none); the pitch axis spans the used range,
labelled with note names.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from collage.errors import OutputError, ParameterError
from collage.io.atomic import atomic_path
from collage.piece import DURATION, ONSET, PITCH, VELOCITY, Piece
from collage.represent.pitch import pitch_name  # public here too (plotting.pitch_name)

__all__ = ["plot_pianoroll", "plot_pianorolls", "pitch_name", "bar_and_beat_ticks", "IMAGE_SUFFIXES"]

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
UNITS = ("beats", "seconds")
_BLACK = {1, 3, 6, 8, 10}
_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
)  # fmt: skip


def bar_and_beat_ticks(piece: Piece, end_tick: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Tick positions of bar lines and beat lines up to ``end_tick`` (inclusive).

    Beats follow each time signature's denominator (a 6/8 bar has six eighth-note
    beats); with no time signature the piece is taken as 4/4.

    Returns:
        ``(bars, beats)``: int64 tick arrays; ``beats`` excludes the bar lines.
    """
    end = piece.end_tick if end_tick is None else int(end_tick)
    sigs = [ts for ts in piece.time_signatures if ts.numerator > 0 and ts.denominator > 0]
    if not sigs or sigs[0].tick > 0:
        first = (sigs[0].numerator, sigs[0].denominator) if sigs else (4, 4)
        sigs = [(0, *first)] + [tuple(s) for s in sigs]
    bars, beats = [], []
    for i, (tick, num, den) in enumerate(sigs):
        stop = sigs[i + 1][0] if i + 1 < len(sigs) else end + 1
        beat = piece.tpq * 4 / den
        bar = beat * num
        t = float(tick)
        while t < stop and t <= end:
            bars.append(int(round(t)))
            beats.extend(int(round(t + k * beat)) for k in range(1, num) if t + k * beat < min(stop, end + 1))
            t += bar
        if t > end:
            break
    return np.asarray(bars, np.int64), np.asarray(beats, np.int64)


def _check_piece(piece) -> Piece:
    if not isinstance(piece, Piece):
        raise ParameterError(f"given piece of type {type(piece).__name__}; expected a collage Piece")
    return piece


def _check_unit(unit: str) -> str:
    if unit not in UNITS:
        raise ParameterError(f"given unit={unit!r}; expected one of {list(UNITS)}")
    return unit


def _image_format(path: str | os.PathLike) -> str:
    fmt = IMAGE_SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        raise ParameterError(f"given output {str(path)!r}; expected a file name ending in {', '.join(IMAGE_SUFFIXES)}")
    return fmt


def _track_label(track, index: int) -> str:
    name = track.name.strip() or f"track {index}"
    return f"{name} (drums)" if track.is_drum else name


def _colour_map(pieces: Sequence[Piece]) -> dict[str, str]:
    colours: dict[str, str] = {}
    for piece in pieces:
        for i, tr in enumerate(piece.tracks):
            key = _track_label(tr, i).lower()
            if key not in colours:
                colours[key] = _PALETTE[len(colours) % len(_PALETTE)]
    return colours


def _to_x(piece: Piece, ticks, unit: str) -> np.ndarray:
    ticks = np.asarray(ticks, dtype=np.float64)
    return ticks / piece.tpq if unit == "beats" else piece.ticks_to_seconds(ticks)


def _draw(ax, piece: Piece, *, unit: str, title: str | None, colours: dict[str, str], legend: bool, xmax: float | None):
    # deferred: matplotlib (0.5 s to import) loads on first plot
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch
    from matplotlib.ticker import FixedLocator, NullFormatter

    pitched = [t for t in piece.tracks if len(t)]
    all_p = np.concatenate([t.notes[:, PITCH] for t in pitched]) if pitched else np.array([60, 72])
    lo, hi = int(all_p.min()), int(all_p.max())
    if hi - lo < 11:  # show at least an octave so a few notes do not look huge
        pad = (11 - (hi - lo)) // 2
        lo, hi = max(0, lo - pad), min(127, hi + (11 - (hi - lo)) - pad)
    end_x = float(_to_x(piece, piece.end_tick, unit)) if piece.end_tick else 1.0
    right = max(end_x, xmax or 0.0)

    # Black-key rows shaded lightly, like a keyboard on its side.
    for p in range(lo, hi + 1):
        if p % 12 in _BLACK:
            ax.axhspan(p - 0.5, p + 0.5, color="#f0f0f0", zorder=0, lw=0)

    # Beat and bar lines.
    end_tick = int(np.ceil(piece.seconds_to_ticks(right))) if unit == "seconds" else int(np.ceil(right * piece.tpq))
    bars, beats = bar_and_beat_ticks(piece, end_tick)
    # A long piece would drown in lines: then beat lines go, and only every
    # k-th bar line stays dark (k a power of two, at most ~48 dark lines).
    dense = len(bars) + len(beats) > 160
    k = 1 if len(bars) <= 64 else 2 ** int(np.ceil(np.log2(len(bars) / 48)))
    light = bars[np.arange(len(bars)) % k != 0] if k > 1 else bars[:0]
    lines = [(bars[::k], "#888888", 0.9), (light, "#dddddd", 0.6)]
    if not dense:
        lines.append((beats, "#dddddd", 0.6))
    for ticks, colour, lw in lines:
        for x in _to_x(piece, ticks, unit):
            ax.axvline(x, color=colour, lw=lw, zorder=1)

    handles = []
    for i, tr in enumerate(piece.tracks):
        label = _track_label(tr, i)
        colour = colours.get(label.lower(), _PALETTE[i % len(_PALETTE)])
        handles.append(Patch(facecolor=colour, edgecolor="black", lw=0.5, label=f"{label} ({len(tr)})"))
        if not len(tr):
            continue
        n = tr.notes
        x0 = _to_x(piece, n[:, ONSET], unit)
        x1 = _to_x(piece, n[:, ONSET] + n[:, DURATION], unit)
        y = n[:, PITCH].astype(np.float64)
        h = 0.42
        verts = np.stack(
            [np.stack([x0, y - h], 1), np.stack([x0, y + h], 1), np.stack([x1, y + h], 1), np.stack([x1, y - h], 1)], 1
        )  # (N, 4 corners, 2)
        alpha = 0.45 + 0.55 * np.clip(n[:, VELOCITY], 1, 127) / 127.0
        from matplotlib.colors import to_rgba

        face = np.array([to_rgba(colour, a) for a in alpha])
        ax.add_collection(PolyCollection(verts, facecolors=face, edgecolors="#222222", linewidths=0.0 if dense else 0.4,
                                         zorder=3))

    ax.set_xlim(0, right * 1.005)
    ax.set_ylim(lo - 0.5, hi + 0.5)
    span = hi - lo
    if span <= 24:
        ticks = [p for p in range(lo, hi + 1) if p % 12 not in _BLACK]
    elif span <= 48:
        ticks = [p for p in range(lo, hi + 1) if p % 12 in (0, 7)]
    else:
        ticks = [p for p in range(lo, hi + 1) if p % 12 == 0]
    ax.set_yticks(ticks)
    ax.set_yticklabels([pitch_name(p) for p in ticks], fontsize=8)
    ax.set_ylabel("pitch")

    # x ticks: dark bar lines (thinned to at most ~16 labels), numbered in the chosen unit.
    bar_x = _to_x(piece, bars, unit)
    step = k * max(1, int(np.ceil(len(bar_x[::k]) / 16)))
    ax.xaxis.set_major_locator(FixedLocator(bar_x[::step]))
    ax.xaxis.set_minor_locator(FixedLocator(bar_x[::k]))
    ax.xaxis.set_minor_formatter(NullFormatter())
    fmt = (lambda v: f"{v:g}") if unit == "beats" else (lambda v: f"{v:.1f}")
    ax.set_xticklabels([fmt(v) for v in bar_x[::step]], fontsize=8)
    ax.tick_params(axis="both", labelsize=8)
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    if legend and handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False,
                  title="track (notes)", title_fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return k


def _xlabel(unit: str, every: int = 1) -> str:
    what = "beats = quarter notes" if unit == "beats" else "s"
    bars = "dark lines are bar lines" if every == 1 else f"dark lines every {every} bars"
    return f"time ({what}; {bars})"


def _figsize(pieces: Sequence[Piece], unit: str) -> tuple[float, float]:
    beats = max((p.end_tick / p.tpq for p in pieces), default=8.0)
    width = float(np.clip(4.0 + 0.22 * beats, 8.0, 18.0))
    heights = []
    for p in pieces:
        ps = [t.notes[:, PITCH] for t in p.tracks if len(t)]
        span = int(np.ptp(np.concatenate(ps))) if ps else 12
        heights.append(float(np.clip(1.0 + 0.09 * max(span, 11), 2.2, 5.0)))
    return width, sum(heights) + 0.6


def _save(fig, path: str | os.PathLike, dpi: int) -> Path:
    path = Path(path)
    fmt = _image_format(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi)
    except OSError as e:
        raise OutputError(path, f"cannot be written ({e.strerror or e})") from None
    logger.info("wrote %s", path)
    return path


def plot_pianoroll(
    piece: Piece,
    path: str | os.PathLike | None = None,
    *,
    ax=None,
    title: str | None = None,
    unit: str = "beats",
    legend: bool = True,
    dpi: int = 120,
    figsize: tuple[float, float] | None = None,
):
    """Draw ``piece`` as a piano roll; optionally save it.

    >>> collage.plot(collage.load("song.mid"), "song.png", title="song")

    Args:
        piece: the piece (drum tracks are drawn at their key numbers).
        path: write the figure here (``.png``, ``.svg`` or ``.pdf``), atomically;
            None writes nothing. Only used when ``ax`` is None.
        ax: draw into this matplotlib Axes instead of a new figure.
        title: the panel title (None: none).
        unit: the time axis, ``"beats"`` (quarter notes) or ``"seconds"``.
        legend: show the legend of track names (with note counts).
        dpi: resolution of a saved raster image, dots per inch.
        figsize: (width, height) in inches; None sizes it from the piece.
    Returns:
        the :class:`matplotlib.figure.Figure` drawn on.
    Raises:
        ParameterError: a bad argument; OutputError: ``path`` cannot be written (no file is left).
    """
    piece = _check_piece(piece)
    unit = _check_unit(unit)
    if path is not None:
        _image_format(path)  # fail before drawing
    colours = _colour_map([piece])
    if ax is not None:
        every = _draw(ax, piece, unit=unit, title=title, colours=colours, legend=legend, xmax=None)
        ax.set_xlabel(_xlabel(unit, every), fontsize=9)
        if path is not None:
            _save(ax.figure, path, dpi)
        return ax.figure
    # deferred: matplotlib (0.5 s to import) loads on first plot
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize or _figsize([piece], unit), layout="constrained")
    ax = fig.add_subplot()
    every = _draw(ax, piece, unit=unit, title=title, colours=colours, legend=legend, xmax=None)
    ax.set_xlabel(_xlabel(unit, every), fontsize=9)
    if path is not None:
        _save(fig, path, dpi)
    return fig


def plot_pianorolls(
    pieces: Sequence[Piece],
    path: str | os.PathLike | None = None,
    *,
    titles: Sequence[str] | None = None,
    unit: str = "beats",
    dpi: int = 120,
    figsize: tuple[float, float] | None = None,
):
    """Stack several piano rolls one above the other on a shared time axis.

    Meant for showing inputs next to outputs (e.g. a melody, an accompaniment and
    their fusion). A track name gets the same colour in every panel.

    Args:
        pieces: one or more pieces, drawn top to bottom.
        path: write the figure here (``.png``, ``.svg`` or ``.pdf``), atomically; None: don't.
        titles: one title per piece (None: the pieces' source file names, if any).
        unit, dpi, figsize: as for :func:`plot_pianoroll`.
    Returns:
        the :class:`matplotlib.figure.Figure`.
    Raises:
        ParameterError: a bad argument; OutputError: ``path`` cannot be written (no file is left).
    """
    pieces = list(pieces)
    if not pieces:
        raise ParameterError("given pieces=[]; expected at least one piece")
    for p in pieces:
        _check_piece(p)
    unit = _check_unit(unit)
    if titles is None:
        titles = [Path(p.source).name if p.source else None for p in pieces]
    titles = list(titles)
    if len(titles) != len(pieces):
        raise ParameterError(f"given {len(titles)} titles for {len(pieces)} pieces; expected one per piece")
    if path is not None:
        _image_format(path)
    # deferred: matplotlib (0.5 s to import) loads on first plot
    from matplotlib.figure import Figure

    colours = _colour_map(pieces)
    xmax = max(float(_to_x(p, p.end_tick, unit)) for p in pieces)
    w, _ = _figsize(pieces, unit)
    heights = [_figsize([p], unit)[1] - 0.6 for p in pieces]
    fig = Figure(figsize=figsize or (w, sum(heights) + 0.6), layout="constrained")
    axes = fig.subplots(len(pieces), 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    every = [
        _draw(ax, p, unit=unit, title=t, colours=colours, legend=True, xmax=xmax) for ax, p, t in zip(axes, pieces, titles)
    ]
    for ax in axes[:-1]:
        ax.tick_params(axis="x", labelbottom=False)
    axes[-1].set_xlabel(_xlabel(unit, every[-1]), fontsize=9)
    if path is not None:
        _save(fig, path, dpi)
    return fig

"""POP909: songs, annotations, splits and CollageNet segments.

>>> ids = split_ids("train", four_four=True)           # song ids (1..909)
>>> song = load_song(ids[0])                             # Piece + beats, chords, key
>>> segs = pop909_segments("train", grid="beats")        # cached 8-beat windows
>>> segs.melody(0), segs.accomp(0)                       # (n, 4) step notes in [0, 32)
>>> harmonic_pairs(segs, 1000, seed=0)                   # Ωh: (i, i)
>>> disharmonic_pairs(segs, 1000, seed=0)                # Ωdh: (i, j), other song

Where the data is: the ``root`` argument, else ``$COLLAGE_POP909``, else
``../shared/data/pop909`` relative to the current folder or to the
repository. The song-level 80/10/10 split over all 909 ids is committed in
``collage/datasets/splits/pop909.json`` (regenerate with
``scripts/make_splits.py``).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from collage.datasets.cache import (
    cache_dir,
    check_split,
    fingerprint,
    load_arrays,
    load_split_file,
    save_arrays,
)
from collage.errors import DatasetNotFoundError, InvalidInputError, ParameterError
from collage.io import read_midi
from collage.piece import Piece
from collage.progress import progress_bar
from collage.represent.grid import STEPS_PER_BEAT, BeatGrid, TickGrid, quantize
from collage.represent.melody import skyline
from collage.represent.pitch import normalize_key
from collage.represent.segments import crop_all, window_starts

__all__ = [
    "POP909_ENV",
    "GRIDS",
    "SongInfo",
    "Pop909Song",
    "SegmentSet",
    "pop909_root",
    "song_index",
    "four_four_ids",
    "split_ids",
    "song_dir",
    "load_song",
    "read_beats",
    "read_chords",
    "read_key",
    "chord_at",
    "pop909_segments",
    "harmonic_pairs",
    "disharmonic_pairs",
]

log = logging.getLogger(__name__)

POP909_ENV = "COLLAGE_POP909"
GRIDS = ("ticks", "beats")
SEGMENT_BEATS = 8
#: Bump when segment extraction changes: it is part of every cache key.
CODE_VERSION = "pop909-segments-1"
N_SONGS = 909


# -- where the data is -------------------------------------------------------------
def pop909_root(root: str | os.PathLike | None = None) -> Path:
    """The POP909 folder (the one holding ``index.csv`` and ``001/`` ... ``909/``).

    Looks at ``root``, else ``$COLLAGE_POP909``, else ``../shared/data/pop909``
    beside the current folder and beside the repository.

    Raises:
        DatasetNotFoundError: no ``index.csv`` at the place looked at.
    """
    if root is not None:
        cands = [Path(root)]
    elif os.environ.get(POP909_ENV):
        cands = [Path(os.environ[POP909_ENV])]
    else:
        repo = Path(__file__).resolve().parents[3]  # src/collage/datasets/pop909.py -> the repository
        cands = [Path.cwd().parent / "shared" / "data" / "pop909", repo.parent / "shared" / "data" / "pop909"]
    for c in cands:
        c = c.expanduser()
        if (c / "index.csv").is_file():
            return c
    where = ", ".join(str(c) for c in dict.fromkeys(cands))
    raise DatasetNotFoundError(
        f"POP909 not found at {where} (no index.csv); pass root=... or set {POP909_ENV}=/path/to/pop909"
    )


@dataclasses.dataclass(frozen=True)
class SongInfo:
    """One row of POP909's ``index.csv``."""

    song_id: int
    name: str
    artist: str
    beats_per_measure: int
    quavers_per_beat: int

    @property
    def four_four(self) -> bool:
        """Duple metre (2/4 or 4/4): the 857 songs CollageNet calls "4/4"."""
        return self.beats_per_measure == 2 and self.quavers_per_beat == 2


def _index(root: Path) -> dict[int, SongInfo]:
    path = root / "index.csv"
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = None
    return _read_index(path, stamp)


@functools.lru_cache(maxsize=8)
def _read_index(path: Path, stamp) -> dict[int, SongInfo]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return {
            int(r["song_id"]): SongInfo(
                int(r["song_id"]), r["name"], r["artist"],
                int(r["num_beats_per_measure"]), int(r["num_quavers_per_beat"]),
            )
            for r in rows
        }
    except (OSError, KeyError, ValueError) as e:
        raise InvalidInputError(path, f"is not a POP909 index ({type(e).__name__}: {e})") from None


def song_index(root: str | os.PathLike | None = None) -> dict[int, SongInfo]:
    """Song metadata from ``index.csv``: ``{song_id: SongInfo}`` (ids 1..909)."""
    return dict(_index(pop909_root(root)))


def four_four_ids(root: str | os.PathLike | None = None) -> np.ndarray:
    """``(857,)`` int64 ids of the duple-metre songs (``num_beats_per_measure == 2`` and
    ``num_quavers_per_beat == 2``), sorted."""
    return np.array(sorted(i for i, s in _index(pop909_root(root)).items() if s.four_four), dtype=np.int64)


@functools.lru_cache(maxsize=1)
def _split_table() -> dict[str, np.ndarray]:
    data = load_split_file("pop909")
    table = {k: np.array(data[k], dtype=np.int64) for k in ("train", "val", "test")}
    table["all"] = np.sort(np.concatenate(list(table.values())))
    return table


def split_ids(split: str = "all", *, four_four: bool = False, root: str | os.PathLike | None = None) -> np.ndarray:
    """Song ids of a split: ``'train'`` (727), ``'val'`` (91), ``'test'`` (91) or ``'all'`` (909).

    The split is song-level and fixed (committed JSON). With ``four_four``,
    only the duple-metre songs are kept (needs the data, for ``index.csv``).

    Returns:
        sorted int64 ids.
    """
    ids = _split_table()[check_split(split)].copy()
    if four_four:
        ids = ids[np.isin(ids, four_four_ids(root))]
    return ids


def _check_song_id(song_id) -> int:
    if isinstance(song_id, str) and song_id.isdigit():
        song_id = int(song_id)
    if not isinstance(song_id, (int, np.integer)) or not 1 <= int(song_id) <= N_SONGS:
        raise ParameterError(f"given song_id={song_id!r}; expected an integer in 1..{N_SONGS}")
    return int(song_id)


def song_dir(song_id: int, root: str | os.PathLike | None = None) -> Path:
    """The folder ``NNN/`` of one song."""
    return pop909_root(root) / f"{_check_song_id(song_id):03d}"


# -- annotations ---------------------------------------------------------------------
def _read_rows(path: Path, min_cols: int) -> list[list[str]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InvalidInputError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInputError(path, f"cannot be read ({e})") from None
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        cols = line.split(None, min_cols - 1)
        if len(cols) < min_cols:
            raise InvalidInputError(path, f"line {n} has {len(cols)} columns; expected {min_cols}: {line!r}")
        rows.append(cols)
    return rows


def read_beats(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """A ``beat_midi.txt``: ``(times_s (B,) float64, downbeat (B,) bool)``."""
    path = Path(path)
    rows = _read_rows(path, 3)
    try:
        arr = np.array([[float(c) for c in r[:3]] for r in rows], dtype=np.float64).reshape(-1, 3)
    except ValueError as e:
        raise InvalidInputError(path, f"has a non-numeric value ({e})") from None
    return arr[:, 0], arr[:, 2] > 0.5


def _read_spans(path: Path) -> tuple[np.ndarray, list[str]]:
    rows = _read_rows(path, 3)
    try:
        spans = np.array([[float(r[0]), float(r[1])] for r in rows], dtype=np.float64).reshape(-1, 2)
    except ValueError as e:
        raise InvalidInputError(path, f"has a non-numeric time ({e})") from None
    return spans, [r[2].strip() for r in rows]


def read_chords(path: str | os.PathLike) -> tuple[np.ndarray, list[str]]:
    """A ``chord_midi.txt``: ``(spans (C, 2) float64 [start_s, end_s], labels)`` e.g. ``'A:min7'``, ``'N'``."""
    return _read_spans(Path(path))


def read_key(path: str | os.PathLike) -> tuple[np.ndarray, list[str]]:
    """A ``key_audio.txt``: ``(spans (K, 2) float64 [start_s, end_s], keys)``, the keys in collage's
    spelling (:func:`collage.represent.pitch.normalize_key`: the file's ``'Gb:maj'`` reads ``'F#:maj'``)."""
    spans, labels = _read_spans(Path(path))
    try:
        return spans, [normalize_key(k) for k in labels]
    except ParameterError as e:
        raise InvalidInputError(path, f"has a key label that is not a key ({e})") from None


def chord_at(spans: np.ndarray, labels: Sequence[str], times_s) -> list[str]:
    """The chord label sounding at each time (``'N'`` outside every span)."""
    times_s = np.asarray(times_s, dtype=np.float64)
    if len(spans) == 0:
        return ["N"] * len(times_s)
    i = np.searchsorted(spans[:, 0], times_s, side="right") - 1
    ok = (i >= 0) & (times_s < spans[np.clip(i, 0, None), 1])
    return [labels[j] if good else "N" for j, good in zip(i.tolist(), ok.tolist())]


@dataclasses.dataclass
class Pop909Song:
    """One POP909 song with its annotations (times in seconds).

    Attributes:
        info: the ``index.csv`` row.
        piece: tracks MELODY, BRIDGE, PIANO in ticks.
        beat_times: ``(B,)`` annotated beats (``beat_midi.txt``), seconds.
        downbeats: ``(B,)`` bool, True on the first beat of a bar.
        chord_spans: ``(C, 2)`` [start_s, end_s] of ``chord_labels``.
        chord_labels: ``C`` labels such as ``'C:maj'``, ``'A:min7'``, ``'N'``.
        key_spans, keys: ``key_audio.txt`` likewise (e.g. ``'F#:maj'``, spelled as in :mod:`collage.represent.pitch`).
        folder: the song's folder ``NNN/``.
    """

    info: SongInfo
    piece: Piece
    beat_times: np.ndarray
    downbeats: np.ndarray
    chord_spans: np.ndarray
    chord_labels: list[str]
    key_spans: np.ndarray
    keys: list[str]
    folder: Path | None = None

    @property
    def song_id(self) -> int:
        return self.info.song_id

    def grid(self, kind: str = "beats", steps_per_beat: int = STEPS_PER_BEAT) -> TickGrid | BeatGrid:
        """The step grid: ``'beats'`` from ``beat_times`` (step 0 = first beat) or ``'ticks'`` from the file."""
        if kind == "beats":
            try:
                return BeatGrid.from_seconds(self.piece, self.beat_times, steps_per_beat)
            except ParameterError as e:
                where = self.folder / "beat_midi.txt" if self.folder else None
                raise InvalidInputError(where, f"unusable beat annotation ({e})") from None
        if kind == "ticks":
            return TickGrid.of(self.piece, steps_per_beat)
        raise ParameterError(f"given grid={kind!r}; expected one of {', '.join(GRIDS)}")

    def beat_chords(self, n_beats: int, grid: TickGrid | BeatGrid) -> list[str]:
        """The chord label of each of the first ``n_beats`` beats of ``grid`` (label at the beat's middle)."""
        spb = grid.steps_per_beat
        ticks = grid.to_ticks(np.arange(n_beats + 1) * spb + 0.0)
        secs = self.piece.ticks_to_seconds(ticks)
        return chord_at(self.chord_spans, self.chord_labels, 0.5 * (secs[:-1] + secs[1:]))


def load_song(song_id: int, root: str | os.PathLike | None = None) -> Pop909Song:
    """Read one song: MIDI through :func:`collage.io.read_midi`, beats, chords, key.

    Raises:
        ParameterError: ``song_id`` outside 1..909.
        InvalidMidiError, InvalidInputError: a file is missing or malformed (the path is named).
    """
    root = pop909_root(root)
    sid = _check_song_id(song_id)
    d = root / f"{sid:03d}"
    info = _index(root).get(sid) or SongInfo(sid, "", "", 0, 0)
    piece = read_midi(d / f"{sid:03d}.mid")
    beats, down = read_beats(d / "beat_midi.txt")
    cspans, clabels = read_chords(d / "chord_midi.txt")
    kspans, keys = read_key(d / "key_audio.txt")
    return Pop909Song(info, piece, beats, down, cspans, clabels, kspans, keys, folder=d)


# -- segments ------------------------------------------------------------------------
_SEG_KEYS = (
    "mel_notes", "mel_ptr", "acc_notes", "acc_ptr", "song_ids", "starts",
    "songs", "song_mel", "song_mel_ptr", "song_acc", "song_acc_ptr",
    "song_n_steps", "chord_vocab", "beat_chord", "beat_ptr", "meta",
)


class SegmentSet:
    """CollageNet segments of one POP909 split, stored CSR style.

    Segment ``i`` is the window ``[starts[i], starts[i] + length)`` of song
    ``song_ids[i]``; :meth:`melody` and :meth:`accomp` give its notes as
    ``(n, 4)`` int64 [onset, duration, pitch, velocity] in steps relative to
    the window (all within ``[0, length)``, offsets clipped at ``length``).
    The whole songs' step notes (:meth:`song_melody`, :meth:`song_accomp`)
    and one chord label per beat (:meth:`song_chords`, :meth:`chords`) are
    kept for piano-rolls, piano-trees and chord tracks.

    Attributes:
        grid: ``'beats'`` or ``'ticks'``.
        steps_per_beat: steps in a beat; ``length = 8 * steps_per_beat``.
        song_ids: ``(K,)`` int32 song of each segment.
        starts: ``(K,)`` int32 window start step in its song.
        songs: ``(S,)`` int32 the songs held, sorted.
    """

    def __init__(self, arrays: dict[str, np.ndarray]):
        self._a = arrays
        meta = arrays["meta"]
        self.split = str(meta[0])
        self.grid = str(meta[1])
        self.steps_per_beat = int(meta[2])
        self.length = SEGMENT_BEATS * self.steps_per_beat
        self.song_ids = arrays["song_ids"]
        self.starts = arrays["starts"]
        self.songs = arrays["songs"]
        self._song_row = {int(s): r for r, s in enumerate(self.songs.tolist())}
        self._vocab = arrays["chord_vocab"].tolist()

    def __len__(self) -> int:
        return len(self.starts)

    def __repr__(self) -> str:
        return (f"SegmentSet(split={self.split!r}, grid={self.grid!r}, steps_per_beat={self.steps_per_beat}, "
                f"segments={len(self)}, songs={len(self.songs)})")

    def _index(self, i) -> int:
        n = len(self)
        if not isinstance(i, (int, np.integer)) or not -n <= i < n:
            raise ParameterError(f"given segment index {i!r}; expected an integer in [0, {n})")
        return int(i) % n

    def melody(self, i: int) -> np.ndarray:
        """``(n, 4)`` int64 monophonic melody step notes of segment ``i``, window-relative."""
        i = self._index(i)
        p = self._a["mel_ptr"]
        return self._a["mel_notes"][p[i]:p[i + 1]].astype(np.int64)

    def accomp(self, i: int) -> np.ndarray:
        """``(n, 4)`` int64 accompaniment (PIANO) step notes of segment ``i``, window-relative."""
        i = self._index(i)
        p = self._a["acc_ptr"]
        return self._a["acc_notes"][p[i]:p[i + 1]].astype(np.int64)

    def chords(self, i: int) -> list[str]:
        """The 8 per-beat chord labels of segment ``i``."""
        i = self._index(i)
        b0 = int(self.starts[i]) // self.steps_per_beat
        return self.song_chords(int(self.song_ids[i]))[b0:b0 + SEGMENT_BEATS]

    def _row(self, song_id: int) -> int:
        try:
            return self._song_row[int(song_id)]
        except (KeyError, TypeError, ValueError):
            raise ParameterError(f"given song_id={song_id!r}; not in this {self.split} set") from None

    def song_melody(self, song_id: int) -> np.ndarray:
        """``(n, 4)`` int64 the song's skyline melody in steps (step 0 = grid origin)."""
        r, p = self._row(song_id), self._a["song_mel_ptr"]
        return self._a["song_mel"][p[r]:p[r + 1]].astype(np.int64)

    def song_accomp(self, song_id: int) -> np.ndarray:
        """``(n, 4)`` int64 the song's PIANO notes in steps."""
        r, p = self._row(song_id), self._a["song_acc_ptr"]
        return self._a["song_acc"][p[r]:p[r + 1]].astype(np.int64)

    def song_n_steps(self, song_id: int) -> int:
        """The song's length in steps (last offset of MELODY or PIANO)."""
        return int(self._a["song_n_steps"][self._row(song_id)])

    def song_chords(self, song_id: int) -> list[str]:
        """One chord label per beat of the song's grid, ``ceil(n_steps / steps_per_beat)`` of them."""
        r, p = self._row(song_id), self._a["beat_ptr"]
        return [self._vocab[j] for j in self._a["beat_chord"][p[r]:p[r + 1]].tolist()]

    def arrays(self) -> dict[str, np.ndarray]:
        """The underlying arrays (what the cache stores)."""
        return dict(self._a)


def _song_arrays(song: Pop909Song, grid_kind: str, spb: int):
    """Quantised MELODY (skyline) and PIANO, windows, per-beat chords of one song."""
    piece = song.piece
    grid = song.grid(grid_kind, spb)
    src = piece.source
    raw = quantize(piece.track("MELODY").notes, grid)
    mel = skyline(raw, warn=False)  # one summary warning per extraction instead of one per song
    if len(mel) < len(raw):
        log.debug("%s: skyline dropped %d of %d melody notes", src, len(raw) - len(mel), len(raw))
    acc = quantize(piece.track("PIANO").notes, grid)
    ends = [int((t[:, 0] + t[:, 1]).max()) for t in (mel, acc) if len(t)]
    n_steps = max(ends + [0])
    length = SEGMENT_BEATS * spb
    starts = window_starts(n_steps, length=length, stride=spb)
    mw, mp = crop_all(mel, starts, length, sounding_at_start=True)
    aw, ap = crop_all(acc, starts, length, sounding_at_start=True)
    mc, ac = np.diff(mp), np.diff(ap)
    keep = (mc > 0) & (ac > 0)
    mw = mw[np.repeat(keep, mc)]
    aw = aw[np.repeat(keep, ac)]
    n_beats = -(-n_steps // spb)
    chords = song.beat_chords(n_beats, grid)
    return mel, acc, n_steps, starts[keep], mc[keep], ac[keep], mw, aw, chords, len(raw) - len(mel)


def _extract(split: str, grid: str, spb: int, ids: np.ndarray, root: Path, progress: bool) -> dict[str, np.ndarray]:
    parts = {k: [] for k in ("mel", "acc", "mw", "aw", "mc", "ac", "starts", "sid", "nsteps", "chords", "nbeats")}
    bar = None
    dropped = []
    if progress:
        bar = progress_bar()
        bar.start()
        task = bar.add_task(f"POP909 {split} segments ({grid})", total=len(ids))
    try:
        for sid in ids.tolist():
            song = load_song(sid, root)
            mel, acc, n_steps, starts, mc, ac, mw, aw, chords, n_drop = _song_arrays(song, grid, spb)
            if n_drop:
                dropped.append((sid, n_drop))
            parts["mel"].append(mel)
            parts["acc"].append(acc)
            parts["mw"].append(mw)
            parts["aw"].append(aw)
            parts["mc"].append(mc)
            parts["ac"].append(ac)
            parts["starts"].append(starts)
            parts["sid"].append(np.full(len(starts), sid, dtype=np.int32))
            parts["nsteps"].append(n_steps)
            parts["chords"].extend(chords)
            parts["nbeats"].append(len(chords))
            if bar is not None:
                bar.advance(task)
    finally:
        if bar is not None:
            bar.stop()

    if dropped:
        log.warning(
            "POP909 %s (%s grid): MELODY is polyphonic on the grid in %d songs; skyline kept the highest note "
            "at each onset and dropped %d notes (songs %s%s)",
            split, grid, len(dropped), sum(n for _, n in dropped),
            ", ".join(str(s) for s, _ in dropped[:10]), ", ..." if len(dropped) > 10 else "",
        )

    def cat(xs, dtype, width=4):
        return np.concatenate(xs).astype(dtype) if xs else np.zeros((0, width), dtype)

    def ptr(counts):
        out = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=out[1:])
        return out

    vocab, beat_chord = np.unique(np.array(parts["chords"] or ["N"], dtype=str), return_inverse=True)
    if not parts["chords"]:
        beat_chord = beat_chord[:0]
    return {
        "mel_notes": cat(parts["mw"], np.int16),
        "mel_ptr": ptr(np.concatenate(parts["mc"]) if parts["mc"] else []),
        "acc_notes": cat(parts["aw"], np.int16),
        "acc_ptr": ptr(np.concatenate(parts["ac"]) if parts["ac"] else []),
        "song_ids": np.concatenate(parts["sid"]) if parts["sid"] else np.zeros(0, np.int32),
        "starts": (np.concatenate(parts["starts"]) if parts["starts"] else np.zeros(0)).astype(np.int32),
        "songs": ids.astype(np.int32),
        "song_mel": cat(parts["mel"], np.int32),
        "song_mel_ptr": ptr([len(x) for x in parts["mel"]]),
        "song_acc": cat(parts["acc"], np.int32),
        "song_acc_ptr": ptr([len(x) for x in parts["acc"]]),
        "song_n_steps": np.array(parts["nsteps"], dtype=np.int64),
        "chord_vocab": vocab,
        "beat_chord": beat_chord.astype(np.int16),
        "beat_ptr": ptr(parts["nbeats"]),
        "meta": np.array([split, grid, str(spb)]),
    }


def segment_cache_path(split: str, grid: str, steps_per_beat: int, ids: np.ndarray, root: Path) -> Path:
    """Where :func:`pop909_segments` caches a split (the name carries the input hash)."""
    files = []
    for sid in ids.tolist():
        d = root / f"{sid:03d}"
        files += [d / f"{sid:03d}.mid", d / "beat_midi.txt", d / "chord_midi.txt"]
    key = fingerprint(files, CODE_VERSION, split, grid, steps_per_beat, ids.tolist())
    return cache_dir() / "pop909" / f"segments-{split}-{grid}-spb{steps_per_beat}-{key}.npz"


def pop909_segments(
    split: str = "train",
    *,
    grid: str = "beats",
    steps_per_beat: int = STEPS_PER_BEAT,
    four_four: bool = True,
    root: str | os.PathLike | None = None,
    cache: bool = True,
    progress: bool = False,
) -> SegmentSet:
    """The CollageNet segments of a POP909 split.

    Each song's MELODY (made monophonic by :func:`~collage.represent.melody.skyline`)
    and PIANO are quantised to ``grid`` (``'beats'``: each annotated beat of
    ``beat_midi.txt`` split into ``steps_per_beat`` steps, step 0 on the first
    beat; ``'ticks'``: the file's tick grid) and cut into 8-beat windows
    (``8 * steps_per_beat`` steps) every beat. A note sounding at a window's
    start enters at step 0; offsets are clipped at the window's end. Windows
    where either track is silent are dropped.

    Args:
        split: ``'train'``, ``'val'``, ``'test'`` or ``'all'``.
        grid: ``'beats'`` or ``'ticks'``.
        steps_per_beat: steps per quarter-note beat.
        four_four: keep only the 857 duple-metre songs (the CollageNet selection).
        root: the POP909 folder (see :func:`pop909_root`).
        cache: read/write the arrays under ``$COLLAGE_CACHE`` (default ``~/.cache/collage``).
        progress: show a progress bar while extracting.
    """
    check_split(split)
    if grid not in GRIDS:
        raise ParameterError(f"given grid={grid!r}; expected one of {', '.join(GRIDS)}")
    if isinstance(steps_per_beat, bool) or int(steps_per_beat) != steps_per_beat or not 1 <= steps_per_beat <= 64:
        raise ParameterError(f"given steps_per_beat={steps_per_beat!r}; expected an integer in 1..64")
    spb = int(steps_per_beat)
    root = pop909_root(root)
    ids = split_ids(split, four_four=four_four, root=root)
    path = segment_cache_path(split, grid, spb, ids, root) if cache else None
    if path is not None:
        arrays = load_arrays(path, _SEG_KEYS)
        if arrays is not None:
            log.debug("%s: POP909 %s segments from cache", path, split)
            return SegmentSet(arrays)
    arrays = _extract(split, grid, spb, ids, root, progress)
    if path is not None and save_arrays(path, arrays) is not None:
        log.info("%s: cached %d POP909 %s segments (%s grid)", path, len(arrays["starts"]), split, grid)
        prefix = path.name.rsplit("-", 1)[0] + "-"
        for old in path.parent.glob(prefix + "*.npz"):  # entries for older inputs or code
            if old != path:
                log.debug("%s: removing stale cache entry", old)
                old.unlink(missing_ok=True)
    return SegmentSet(arrays)


# -- training pairs ------------------------------------------------------------------
def _check_pairs_args(segset: SegmentSet, n, seed) -> int:
    if not isinstance(segset, SegmentSet):
        raise ParameterError(f"given segset of type {type(segset).__name__}; expected a SegmentSet")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ParameterError(f"given n={n!r}; expected a non-negative integer")
    return int(n)


def harmonic_pairs(segset: SegmentSet, n: int, seed: int) -> np.ndarray:
    """Ωh: ``(n, 2)`` int64 pairs ``(i, i)``, a segment's melody with its own accompaniment.

    The ``n`` segments are drawn without replacement (seeded).

    Raises:
        ParameterError: ``n`` exceeds the number of segments.
    """
    n = _check_pairs_args(segset, n, seed)
    if n > len(segset):
        raise ParameterError(f"given n={n}; the set has only {len(segset)} segments (drawn without replacement)")
    i = np.random.default_rng(seed).choice(len(segset), size=n, replace=False).astype(np.int64)
    return np.stack([i, i], axis=1)


def disharmonic_pairs(segset: SegmentSet, n: int, seed: int) -> np.ndarray:
    """Ωdh: ``(n, 2)`` int64 pairs ``(i, j)``: melody of segment ``i``, accompaniment of ``j``.

    ``i`` and ``j`` are drawn uniformly (with replacement, seeded) and ``j``
    always comes from a *different song* than ``i`` -- not merely a different
    segment, since two windows of one song overlap or share its harmony and
    would often be harmonic after all.

    Raises:
        ParameterError: the set holds fewer than two songs.
    """
    n = _check_pairs_args(segset, n, seed)
    songs = np.asarray(segset.song_ids)
    if n and len(np.unique(songs)) < 2:
        raise ParameterError("disharmonic pairs need segments from at least two songs")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(segset), size=n)
    j = rng.integers(0, len(segset), size=n)
    bad = songs[i] == songs[j]
    while bad.any():  # redraw j where it fell in the same song (rarely more than a few rounds)
        j[bad] = rng.integers(0, len(segset), size=int(bad.sum()))
        bad = songs[i] == songs[j]
    return np.stack([i, j], axis=1).astype(np.int64)

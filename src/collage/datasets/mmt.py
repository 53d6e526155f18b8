"""Training data of the Multitrack Music Transformer: POP909 plus music21's corpus, as MMT events.

Three sources, each split by piece:

- POP909 (``'pop909/001'`` ...): the project's committed song-level split
  (:func:`collage.datasets.pop909.split_ids`). Tracks MELODY, BRIDGE, PIANO
  are the roles melody, counter-melody and piano. The MIDI files' tick grid
  is shifted so that the first annotated downbeat falls on a bar line (the
  files start a fraction of a beat early).
- The Bach chorales (``'bach/bwv269'`` ...; :mod:`collage.datasets.bach`):
  harmonisations of the same tune (same soprano line, different BWV number)
  are kept on one side of the split, grouped by the soprano's first 12
  melodic intervals (transposition does not matter).
- The other multi-part scores of the corpus (``'corpus/beethoven/opus18no1/movement1'``
  ...; :mod:`collage.datasets.corpus`), by file: the movements of one work
  are kept on one side.

The split is committed as ``collage/datasets/splits/mmt.json``
(:func:`make_split_file` regenerates it, seed 0, 80/10/10 by group for the
chorales and the corpus). :func:`mmt_arrays` encodes a split's pieces
(:func:`collage.represent.mmt.encode`, note events only, absolute beats)
and caches them under ``$COLLAGE_CACHE/mmt/``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from collage.datasets import bach, corpus, pop909
from collage.datasets.cache import (
    cache_dir,
    check_split,
    load_arrays,
    load_split_file,
    make_split,
    save_arrays,
)
from collage.errors import CollageError, ParameterError
from collage.piece import Piece
from collage.progress import track
from collage.represent import mmt as rep

__all__ = [
    "SOURCES",
    "chorale_groups",
    "iter_pieces",
    "load_pieces",
    "make_split_file",
    "mmt_arrays",
    "pop909_piece",
    "split_hash",
    "split_ids",
]

log = logging.getLogger(__name__)

SOURCES = ("pop909", "bach", "corpus")
CODE_VERSION = "mmt-data-2"
SPLIT_SEED = 0
SOPRANO_INTERVALS = 12


def pop909_piece(song_id: int, root=None) -> Piece:
    """A POP909 song with its notes moved so that the first annotated downbeat is on a bar line (4/4)."""
    song = pop909.load_song(song_id, root)
    piece = song.piece
    beats = song.beat_times[song.downbeats] if song.downbeats.any() else song.beat_times[:1]
    if len(beats) == 0:
        return piece
    first = int(np.rint(piece.seconds_to_ticks(np.array([beats[0]]))[0]))
    bar = 4 * piece.tpq
    shift = (-first) % bar
    tracks = []
    for t in piece.tracks:
        notes = t.notes.copy()
        notes[:, 0] += shift
        tracks.append(t.replace(notes=notes))
    return Piece(tracks, tpq=piece.tpq, tempos=piece.tempos[:1], time_signatures=[(0, 4, 4)],
                 key_signatures=piece.key_signatures, source=piece.source)


def load_pieces(piece_id: str) -> list[Piece]:
    """The pieces of one id of the split (``'pop909/001'``, ``'bach/bwv269'``, ``'corpus/<work id>'``).

    A corpus file may hold several scores (a list of more than one); pieces
    with fewer than 16 pitched notes are left out.
    """
    source, _, rest = piece_id.partition("/")
    if source == "pop909":
        return [pop909_piece(int(rest))]
    if source == "bach":
        return [bach.load_chorale(rest)]
    if source == "corpus":
        return [p for p in corpus.load_work(rest) if p.pitched().n_notes >= corpus.MIN_NOTES]
    raise ParameterError(f"given piece_id={piece_id!r}; expected a prefix {', '.join(s + '/' for s in SOURCES)}")


def _soprano_key(piece: Piece) -> tuple[int, ...]:
    t = piece.tracks[0]  # Soprano
    p = t.pitches[np.lexsort((-t.pitches, t.onsets))]
    p = p[np.r_[True, np.diff(p) != 0]] if len(p) else p
    return tuple(np.diff(p)[:SOPRANO_INTERVALS].tolist())


def chorale_groups() -> dict[str, str]:
    """Chorale id -> group name: chorales whose sopranos open with the same 12 intervals share a group."""
    keys: dict[tuple, str] = {}
    out = {}
    for cid in bach.bach_ids("all"):
        key = _soprano_key(bach.load_chorale(cid))
        out[cid] = keys.setdefault(key, cid)
    return out


def make_split_file(path: str | Path | None = None, *, seed: int = SPLIT_SEED) -> dict:
    """Compute the split (slow: parses the corpus) and write it as JSON; returns it."""
    from collage.io.atomic import atomic_path

    out: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for s in ("train", "val", "test"):
        out[s] += [f"pop909/{i:03d}" for i in pop909.split_ids(s).tolist()]
    cg = chorale_groups()
    groups: dict[str, list[str]] = {}
    for cid, g in cg.items():
        groups.setdefault(f"bach:{g}", []).append(f"bach/{cid}")
    for wid in corpus.corpus_works():
        groups.setdefault(f"corpus:{corpus.work_group(wid)}", []).append(f"corpus/{wid}")
    for prefix in ("bach:", "corpus:"):
        names = sorted(g for g in groups if g.startswith(prefix))
        parts = make_split(names, seed=seed)
        for s in ("train", "val", "test"):
            for g in parts[s]:
                out[s] += groups[g]
    data = {
        "description": (
            "MMT training split: POP909 as the project's split; Bach chorales grouped by the soprano's "
            f"first {SOPRANO_INTERVALS} intervals and music21 corpus works grouped by work, "
            f"80/10/10 by group with seed {seed} (collage.datasets.mmt.make_split_file)"
        ),
        "seed": seed,
        "n_chorale_groups": len({g for g in cg.values()}),
        **{s: sorted(v) for s, v in out.items()},
    }
    path = Path(path) if path else Path(__file__).parent / "splits" / "mmt.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1) + "\n")
    return data


@functools.lru_cache(maxsize=1)
def _split_table() -> dict[str, list[str]]:
    data = load_split_file("mmt")
    table = {k: list(data[k]) for k in ("train", "val", "test")}
    table["all"] = sorted(table["train"] + table["val"] + table["test"])
    return table


def split_ids(split: str = "all") -> list[str]:
    """Piece ids of a split (``'train'``, ``'val'``, ``'test'``, ``'all'``), sorted."""
    return list(_split_table()[check_split(split)])


def split_hash() -> str:
    """sha256 of the committed split file's ids (for the weights' card)."""
    t = _split_table()
    return hashlib.sha256(json.dumps({k: t[k] for k in ("train", "val", "test")}).encode()).hexdigest()


def iter_pieces(split: str, *, progress: bool = False, cached_only: bool = False) -> Iterator[tuple[str, Piece]]:
    """Yield ``(id, Piece)`` of a split; a piece that cannot be read is logged and skipped.

    A corpus file of several scores yields ``id#k`` for each. With
    ``cached_only``, corpus files not yet parsed into the cache are skipped
    (parsing the whole corpus takes the better part of an hour).
    """
    ids = split_ids(split)
    if cached_only:
        ids = [i for i in ids if not i.startswith("corpus/") or corpus.is_cached(i.partition("/")[2])]
    it = ids
    if progress:
        it = track(ids, f"MMT data ({split})")
    for pid in it:
        try:
            pieces = load_pieces(pid)
        except CollageError as e:
            log.warning("skipped %s: %s", pid, e)
            continue
        for k, p in enumerate(pieces):
            yield (pid if len(pieces) == 1 else f"{pid}#{k}"), p


def mmt_arrays(split: str, *, progress: bool = False, cache: bool = True, cached_only: bool = False) -> dict[str, np.ndarray]:
    """A split's pieces as note events, CSR style (cached).

    Returns:
        ``codes`` ``(N, 6)`` int16: the note events of every piece (absolute
        beats, no header or end event), ``ptr`` ``(P + 1,)`` int64 row
        offsets, ``ids`` ``(P,)`` str.
    """
    ids = split_ids(split)
    if cached_only:
        ids = [i for i in ids if not i.startswith("corpus/") or corpus.is_cached(i.partition("/")[2])]
    key = hashlib.sha1(json.dumps([CODE_VERSION, rep.DURATIONS, rep.INSTRUMENTS, rep.RESOLUTION, ids]).encode())
    path = cache_dir() / "mmt" / f"{split}-{key.hexdigest()[:16]}.npz"
    if cache:
        got = load_arrays(path, ("codes", "ptr", "ids"))
        if got is not None:
            return got
    rows, names = [], []
    for pid, piece in iter_pieces(split, progress=progress, cached_only=cached_only):
        c = rep.encode(piece, end=False)
        c = c[c[:, rep.TYPE] == rep.NOTE]
        if len(c) == 0:
            continue
        rows.append(c.astype(np.int16))
        names.append(pid)
    ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=ptr[1:])
    out = {"codes": np.concatenate(rows) if rows else np.zeros((0, 6), np.int16), "ptr": ptr, "ids": np.array(names)}
    if cache:
        save_arrays(path, out)
    return out

"""The Bach chorales of music21's bundled corpus, as four-track pieces.

The set follows the inclusion rule of Dong et al.'s part-separation code
(``collect_bach.py`` of salu133445/arranger), which gives the paper's 409
files: every MusicXML file (``*.mxl``, ``*.xml``) of music21's ``bach``
corpus folder; of each, the parts named Soprano, Alto, Tenor or Bass
(case-insensitive; two scores with compound names are mapped by hand, as
there) become the four tracks, other instruments are dropped, duplicate notes
(same onset, pitch and duration) within a part are kept once, and a score is
kept when at least two of its four parts have more than ten notes. A part a
score lacks is an empty track. Ids are the file stems (``'bwv269'``). The
song-level 80/10/10 split is committed in ``collage/datasets/splits/bach.json``
(``scripts/make_splits.py`` regenerates it and records the skipped files).
Parsing with music21 is slow, so each converted chorale is cached under
``$COLLAGE_CACHE/bach/``.

>>> for cid, piece in iter_chorales("train"):
...     soprano = piece.track("Soprano")
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Iterator

import numpy as np

from collage.datasets.cache import cache_dir, check_split, fingerprint, load_arrays, load_split_file, save_arrays
from collage.errors import InvalidScoreError, ParameterError
from collage.io.score import piece_from_music21
from collage.piece import KeySignature, Piece, Tempo, TimeSignature, Track
from collage.progress import track as progress_track

__all__ = ["PART_NAMES", "bach_ids", "chorale_path", "load_chorale", "iter_chorales", "parse_chorale"]

log = logging.getLogger(__name__)

PART_NAMES = ("Soprano", "Alto", "Tenor", "Bass")
CODE_VERSION = "bach-2"
TPQ = 480
MIN_NOTES, MIN_PARTS = 10, 2  # kept when >= MIN_PARTS parts have > MIN_NOTES notes
# Two scores name their vocal parts together with the doubling instruments.
SPECIAL_PARTS = {
    "bwv171.6": {"Soprano\rOboe 1,2\rViolin1": "Soprano", "Alto\rViloin 2": "Alto",
                 "Tenor\rViola": "Tenor", "Bass\rContinuo": "Bass"},
    "bwv41.6": {"Soprano Oboe 1 Violin1": "Soprano", "Alto Oboe 2 Viloin 2": "Alto",
                "Tenor Viola": "Tenor", "Bass Continuo": "Bass"},
}


@functools.lru_cache(maxsize=1)
def corpus_files() -> dict[str, Path]:
    """Every MusicXML file of music21's ``bach`` corpus folder, by id (file stem)."""
    # deferred: music21 (0.4 s to import) loads on first use
    from music21 import corpus

    folder = Path(corpus.getComposer("bach")[0]).parent
    files = sorted([*folder.rglob("*.mxl"), *folder.rglob("*.xml")])
    return {f.stem: f for f in files}


@functools.lru_cache(maxsize=1)
def _split_table() -> dict[str, list[str]]:
    data = load_split_file("bach")
    table = {k: list(data[k]) for k in ("train", "val", "test")}
    table["all"] = sorted(table["train"] + table["val"] + table["test"])
    return table


def bach_ids(split: str = "all") -> list[str]:
    """Chorale ids (e.g. ``'bwv269'``) of a split: ``'train'``, ``'val'``, ``'test'`` or ``'all'``, sorted."""
    return list(_split_table()[check_split(split)])


def chorale_path(chorale_id: str) -> Path:
    """The corpus file of a chorale id (``'bwv269'`` or ``'bach/bwv269'``).

    Raises:
        ParameterError: no such chorale in music21's corpus.
    """
    # deferred: music21 (0.4 s to import) loads on first use
    from music21 import corpus
    from music21.exceptions21 import CorpusException

    if not isinstance(chorale_id, str) or not chorale_id.strip():
        raise ParameterError(f"given chorale_id={chorale_id!r}; expected a corpus name such as 'bwv269'")
    name = chorale_id.strip().removeprefix("bach/")
    if name in corpus_files():
        return corpus_files()[name]
    try:
        path = corpus.getWork(f"bach/{name}")
    except CorpusException:
        path = None
    if not path:
        raise ParameterError(f"given chorale_id={chorale_id!r}; music21's corpus has no bach/{name}")
    return Path(path[0] if isinstance(path, list) else path)


def parse_chorale(chorale_id: str) -> Piece:
    """Parse one chorale with music21 (slow, uncached) into a four-track :class:`Piece`.

    The tracks are Soprano, Alto, Tenor, Bass in that order (empty where the
    score lacks the part); see the module docstring for the rule.

    Raises:
        InvalidScoreError: fewer than two of its vocal parts have more than ten notes.
    """
    # deferred: music21 (0.4 s to import) loads on first use
    from music21 import converter


    path = chorale_path(chorale_id)
    try:
        score = converter.parse(str(path))
    except Exception as e:  # music21 raises many unrelated types
        raise InvalidScoreError(path, f"cannot be parsed ({type(e).__name__}: {str(e)[:200]})") from None
    full = piece_from_music21(score, tpq=TPQ, source=str(path))
    rename = {k.lower(): v for k, v in SPECIAL_PARTS.get(path.stem, {n: n for n in PART_NAMES}).items()}
    sources: dict[str, list[Track]] = {n: [] for n in PART_NAMES}
    for track in full.tracks:
        if (part := rename.get(track.name.lower())) is not None:
            sources[part].append(track)
    tracks = []
    for name in PART_NAMES:
        rows = np.concatenate([t.notes for t in sources[name]]) if sources[name] else np.zeros((0, 4), np.int64)
        _, first = np.unique(rows[:, :3], axis=0, return_index=True)  # each (onset, duration, pitch) once
        program = sources[name][0].program if sources[name] else 0
        tracks.append(Track(rows[np.sort(first)], name=name, program=program))
    active = sum(len(t) > MIN_NOTES for t in tracks)
    if active < MIN_PARTS:
        found = [t.name for t in full.tracks]
        raise InvalidScoreError(
            path, f"has {active} vocal parts with more than {MIN_NOTES} notes (parts {found}); expected at least {MIN_PARTS}"
        )
    return Piece(tracks, tpq=full.tpq, tempos=full.tempos, time_signatures=full.time_signatures,
                 key_signatures=full.key_signatures, source=full.source)


def _to_arrays(piece: Piece) -> dict[str, np.ndarray]:
    counts = [len(t) for t in piece.tracks]
    ptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return {
        "notes": np.concatenate([t.notes for t in piece.tracks]) if piece.tracks else np.zeros((0, 4), np.int64),
        "ptr": ptr,
        "names": np.array([t.name for t in piece.tracks], dtype=str),
        "programs": np.array([t.program for t in piece.tracks], dtype=np.int64),
        "tpq": np.array(piece.tpq),
        "tempos": np.array([[t.tick, t.qpm] for t in piece.tempos], dtype=np.float64).reshape(-1, 2),
        "time_signatures": np.array(piece.time_signatures, dtype=np.int64).reshape(-1, 3),
        "key_signatures": np.array(
            [[k.tick, k.sharps, int(k.minor)] for k in piece.key_signatures], dtype=np.int64
        ).reshape(-1, 3),
        "source": np.array(piece.source or ""),
    }


def _from_arrays(a: dict[str, np.ndarray]) -> Piece:
    ptr = a["ptr"]
    tracks = [
        Track(a["notes"][ptr[i]:ptr[i + 1]], name=str(name), program=int(prog))
        for i, (name, prog) in enumerate(zip(a["names"].tolist(), a["programs"].tolist()))
    ]
    return Piece(
        tracks,
        tpq=int(a["tpq"]),
        tempos=[Tempo(int(t), float(q)) for t, q in a["tempos"].tolist()],
        time_signatures=[TimeSignature(*map(int, r)) for r in a["time_signatures"].tolist()],
        key_signatures=[KeySignature(int(t), int(s), bool(m)) for t, s, m in a["key_signatures"].tolist()],
        source=str(a["source"]) or None,
    )


_KEYS = ("notes", "ptr", "names", "programs", "tpq", "tempos", "time_signatures", "key_signatures", "source")


def load_chorale(chorale_id: str, *, cache: bool = True) -> Piece:
    """One chorale as a :class:`Piece` with tracks Soprano, Alto, Tenor, Bass (tpq 480).

    Args:
        chorale_id: a corpus name such as ``'bwv269'`` (see :func:`bach_ids`).
        cache: read/write the converted piece under ``$COLLAGE_CACHE/bach/``.
    Raises:
        ParameterError: unknown id. InvalidScoreError: not a four-part chorale.
    """
    # deferred: music21 (0.4 s to import) loads on first use
    import music21

    path = chorale_path(chorale_id)
    cpath = None
    if cache:
        key = fingerprint([path], CODE_VERSION, music21.__version__, TPQ)
        cpath = cache_dir() / "bach" / f"{path.stem}-{key}.npz"
        arrays = load_arrays(cpath, _KEYS)
        if arrays is not None:
            return _from_arrays(arrays)
    piece = parse_chorale(chorale_id)
    if cpath is not None:
        save_arrays(cpath, _to_arrays(piece))
    return piece


def iter_chorales(split: str = "all", *, cache: bool = True, progress: bool = False) -> Iterator[tuple[str, Piece]]:
    """Yield ``(chorale_id, Piece)`` for every chorale of ``split``, in id order."""
    ids = bach_ids(split)
    if not progress:
        for cid in ids:
            yield cid, load_chorale(cid, cache=cache)
        return

    for cid in progress_track(ids, f"Bach chorales ({split})"):
        yield cid, load_chorale(cid, cache=cache)

"""The multi-part works of music21's bundled corpus (besides the Bach chorales).

String quartets (Beethoven, Haydn, Mozart, Schumann), Monteverdi's madrigals,
Josquin's chansons and the other scores of the corpus folders in
:data:`COMPOSERS`, each parsed with music21 into a :class:`Piece` with one
track per part (the part's name kept, so that
:func:`collage.represent.mmt.instrument_of_track` can tell the instruments
apart). Where a work is stored in several formats (``movement1.krn`` beside
``movement1.mxl``) one is kept (MusicXML first). The folk-tune collections
(one melody line each), Palestrina's 1,318 mass sections and the 102
trecento pieces (37 MB of uncompressed MusicXML) are left out: parsing
them would take well over an hour on one core. The Bach chorales are :mod:`collage.datasets.bach`.

Ids are the path inside the corpus without the suffix
(``'beethoven/opus18no1/movement1'``); a file holding several scores gets
``#k`` appended (``'josquin/laPlusDesPlus#1'``). Parsing is slow, so each
converted piece is cached under ``$COLLAGE_CACHE/corpus/``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from collage.datasets.bach import _from_arrays, _to_arrays
from collage.datasets.cache import cache_dir, fingerprint, load_arrays, save_arrays
from collage.errors import InvalidScoreError, ParameterError
from collage.io.score import piece_from_music21
from collage.piece import Piece
from collage.progress import track

__all__ = ["COMPOSERS", "corpus_root", "corpus_works", "is_cached", "iter_works", "load_work", "work_group"]

log = logging.getLogger(__name__)

#: corpus folders whose scores are taken (multi-part or keyboard works)
COMPOSERS = (
    "beethoven", "haydn", "mozart", "monteverdi", "josquin", "corelli", "handel",
    "schumann_robert", "schumann_clara", "schubert", "beach", "cpebach", "verdi", "luca",
    "ciconia", "lusitano", "weber", "joplin", "liliuokalani", "johnson_j_r",
)
_SUFFIX_RANK = {".mxl": 0, ".xml": 1, ".musicxml": 2, ".krn": 3, ".abc": 4}
CODE_VERSION = "corpus-1"
TPQ = 480
MIN_NOTES = 16


@functools.lru_cache(maxsize=1)
def corpus_root() -> Path:
    """music21's corpus folder."""
    # deferred: music21 (0.4 s to import) loads on first use
    from music21 import corpus

    return Path(corpus.__file__).parent


@functools.lru_cache(maxsize=1)
def corpus_works() -> dict[str, Path]:
    """Every file taken, by id (its corpus path without suffix), one format per work."""
    root = corpus_root()
    best: dict[str, Path] = {}
    for comp in COMPOSERS:
        folder = root / comp
        if not folder.is_dir():
            continue
        for f in sorted(folder.rglob("*")):
            if f.suffix not in _SUFFIX_RANK or "_old" in f.stem:
                continue
            wid = f.relative_to(root).with_suffix("").as_posix()
            if wid not in best or _SUFFIX_RANK[f.suffix] < _SUFFIX_RANK[best[wid].suffix]:
                best[wid] = f
    return dict(sorted(best.items()))


def work_group(work_id: str) -> str:
    """The piece a file belongs to, for splitting: movements of one work share a group.

    ``'beethoven/opus18no1/movement2'`` -> ``'beethoven/opus18no1'``;
    ``'monteverdi/madrigal.3.1'`` -> itself.
    """
    base = work_id.split("#")[0]
    parts = base.split("/")
    if len(parts) >= 3:
        return "/".join(parts[:-1])
    return base


def _parse(path: Path) -> list[Piece]:
    # deferred: music21 (0.4 s to import) loads on first use
    from music21 import converter, stream


    try:
        score = converter.parse(str(path))
    except Exception as e:  # noqa: BLE001 (music21 raises many unrelated types)
        raise InvalidScoreError(path, f"cannot be parsed ({type(e).__name__}: {str(e)[:200]})") from None
    scores = list(score.scores) if isinstance(score, stream.Opus) else [score]
    return [piece_from_music21(s, tpq=TPQ, source=str(path)) for s in scores]


def _cache_stem(work_id: str) -> tuple[Path, str]:
    # deferred: music21 (0.4 s to import) loads on first use
    import music21

    path = corpus_works()[work_id]
    key = fingerprint([path], CODE_VERSION, music21.__version__, TPQ)
    return cache_dir() / "corpus", f"{work_id.replace('/', '__')}-{key}"


def is_cached(work_id: str) -> bool:
    """Whether :func:`load_work` would read ``work_id`` from the cache (no parsing)."""
    if work_id not in corpus_works():
        return False
    cdir, stem = _cache_stem(work_id)
    return (cdir / f"{stem}-n.npz").exists()


def load_work(work_id: str, *, cache: bool = True) -> list[Piece]:
    """The pieces of one corpus file (usually one), cached.

    Raises:
        ParameterError: unknown id. InvalidScoreError: the file cannot be parsed.
    """
    works = corpus_works()
    if work_id not in works:
        raise ParameterError(f"given work_id={work_id!r}; not one of the {len(works)} corpus works taken")
    path = works[work_id]
    cdir, stem = _cache_stem(work_id)
    if cache:
        idx = load_arrays(cdir / f"{stem}-n.npz", ("n",))
        if idx is not None:
            out = []
            for k in range(int(idx["n"])):
                a = load_arrays(cdir / f"{stem}-{k}.npz", ("notes", "ptr"))
                if a is None:
                    break
                out.append(_from_arrays(a))
            else:
                return out
    pieces = _parse(path)
    if cache:
        for k, p in enumerate(pieces):
            save_arrays(cdir / f"{stem}-{k}.npz", _to_arrays(p))
        save_arrays(cdir / f"{stem}-n.npz", {"n": np.array(len(pieces))})
    return pieces


def iter_works(*, cache: bool = True, progress: bool = False) -> Iterator[tuple[str, Piece]]:
    """Yield ``(id, Piece)`` for every corpus piece with at least 16 pitched notes; unparsable files are logged and skipped."""
    ids = list(corpus_works())
    it = ids
    if progress:
        it = track(ids, "music21 corpus")
    for wid in it:
        try:
            pieces = load_work(wid, cache=cache)
        except InvalidScoreError as e:
            log.warning("skipped %s", e)
            continue
        for k, p in enumerate(pieces):
            if p.pitched().n_notes < MIN_NOTES:
                continue
            yield (wid if len(pieces) == 1 else f"{wid}#{k}"), p

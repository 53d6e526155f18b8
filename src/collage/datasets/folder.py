"""Any folder of MIDI, MusicXML and ABC files as a dataset.

>>> for path, piece in iter_folder("my_songs", on_error="skip"):
...     print(path, piece.n_notes)
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterator

from collage.errors import CollageError, InvalidInputError, ParameterError
from collage.io import read
from collage.piece import Piece

__all__ = ["FOLDER_SUFFIXES", "iter_folder"]

log = logging.getLogger(__name__)

FOLDER_SUFFIXES = (".mid", ".midi", ".musicxml", ".xml", ".mxl", ".abc")
_ON_ERROR = ("raise", "skip")


def iter_folder(
    path: str | os.PathLike,
    *,
    recursive: bool = True,
    on_error: str = "raise",
    **read_kwargs,
) -> Iterator[tuple[Path, Piece]]:
    """Yield ``(file, Piece)`` for each .mid/.midi/.musicxml/.xml/.mxl/.abc file, sorted by path.

    Args:
        path: the folder.
        recursive: descend into subfolders (hidden ones, starting with ``.``, are left out).
        on_error: ``'raise'`` the first unreadable file's error, or ``'skip'`` it
            (logged as a warning with the reason).
        read_kwargs: passed to :func:`collage.io.read` (e.g. ``max_duration_s``).
    Raises:
        InvalidInputError: ``path`` is not a folder.
        ParameterError: bad ``on_error``.
    """
    if on_error not in _ON_ERROR:
        raise ParameterError(f"given on_error={on_error!r}; expected 'raise' or 'skip'")
    folder = Path(path)
    if not folder.is_dir():
        raise InvalidInputError(folder, "no such folder" if not folder.exists() else "is not a folder")
    pattern = "**/*" if recursive else "*"
    files = sorted(
        p for p in folder.glob(pattern)
        if p.suffix.lower() in FOLDER_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    return _read_all(folder, files, on_error, read_kwargs)


def _read_all(folder: Path, files: list[Path], on_error: str, read_kwargs: dict) -> Iterator[tuple[Path, Piece]]:
    n_skipped = 0
    for f in files:
        try:
            piece = read(f, **read_kwargs)
        except CollageError as e:
            if on_error == "raise":
                raise
            n_skipped += 1
            log.warning("skipped %s", e)
            continue
        yield f, piece
    if n_skipped:
        log.info("%s: read %d files, skipped %d", folder, len(files) - n_skipped, n_skipped)

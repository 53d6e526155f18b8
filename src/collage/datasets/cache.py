"""On-disk array cache and song-level splits shared by the datasets.

Cached arrays live in ``$COLLAGE_CACHE`` (default ``~/.cache/collage``) as
uncompressed ``.npz`` files (no pickles), written atomically. A file that
cannot be read back is logged and treated as missing, so a corrupt cache is
rebuilt rather than fatal. Cache keys hash the inputs (file sizes and
modification times) and a per-dataset code version, so editing a song or the
extraction code invalidates the entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from importlib import resources
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from collage.errors import ParameterError
from collage.io.atomic import atomic_path

__all__ = [
    "CACHE_ENV",
    "cache_dir",
    "fingerprint",
    "load_arrays",
    "save_arrays",
    "make_split",
    "load_split_file",
    "SPLITS",
]

log = logging.getLogger(__name__)

CACHE_ENV = "COLLAGE_CACHE"
SPLITS = ("train", "val", "test", "all")


def cache_dir() -> Path:
    """The cache folder: ``$COLLAGE_CACHE`` or ``~/.cache/collage`` (not created here)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "collage"


def fingerprint(paths: Iterable[str | os.PathLike], *extra: object) -> str:
    """A short hash of the files' names, sizes and mtimes (ns) plus ``extra`` values.

    A missing file hashes as missing (the loader reports it properly later).
    """
    h = hashlib.sha1()
    for p in paths:
        try:
            st = os.stat(p)
            h.update(f"{os.fspath(p)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{os.fspath(p)}|missing\n".encode())
    for x in extra:
        h.update(repr(x).encode())
    return h.hexdigest()[:16]


def load_arrays(path: Path, keys: Sequence[str] = ()) -> dict[str, np.ndarray] | None:
    """Read a cached ``.npz``; None (logged) if it is absent, unreadable or lacks ``keys``."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as e:
        log.warning("%s: corrupt cache file (%s); rebuilding it", path, e)
        return None
    missing = [k for k in keys if k not in out]
    if missing:
        log.warning("%s: cache file lacks %s; rebuilding it", path, missing)
        return None
    return out


def save_arrays(path: Path, arrays: Mapping[str, np.ndarray]) -> Path | None:
    """Write ``arrays`` to ``path`` atomically; a failure (e.g. read-only cache) is logged, not raised."""
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
    except OSError as e:
        log.warning("%s: cannot write cache file (%s); continuing without cache", path, e)
        return None
    return path


# -- song-level splits ----------------------------------------------------------
def make_split(ids: Sequence[int] | Sequence[str], *, seed: int, fractions=(0.8, 0.1, 0.1)) -> dict[str, list]:
    """A deterministic song-level train/val/test split.

    The sorted ``ids`` are permuted by ``numpy.random.default_rng(seed)``;
    the first ``round(f_train * n)`` go to train, the next ``round(f_val * n)``
    to val, the rest to test. Each list is returned sorted.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ParameterError(f"given fractions={fractions!r}; expected three non-negative numbers summing to 1")
    ids = sorted(ids)
    if len(set(ids)) != len(ids):
        raise ParameterError("given ids contain duplicates; a song-level split needs unique ids")
    order = np.random.default_rng(seed).permutation(len(ids))
    n_train = int(round(fractions[0] * len(ids)))
    n_val = int(round(fractions[1] * len(ids)))
    parts = np.split(order, [n_train, n_train + n_val])
    return {name: sorted(ids[i] for i in part) for name, part in zip(("train", "val", "test"), parts)}


def load_split_file(name: str) -> dict:
    """The committed split ``collage/datasets/splits/<name>.json`` (package data)."""
    text = resources.files("collage.datasets").joinpath("splits", f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise ParameterError(f"given split={split!r}; expected one of {', '.join(SPLITS)}")
    return split

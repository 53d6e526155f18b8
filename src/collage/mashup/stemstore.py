"""Where a MashupDB's stem files live: a local folder or an fsspec URL, with content-derived names.

>>> dest = publish({"vocals": "/tmp/x/vocals.wav"}, "s3://bucket/stems", "pop909-001")
>>> dest["vocals"]   # 's3://bucket/stems/pop909-001/vocals-3f9c0a1b2d4e5f60.wav'

A build job writes a song's stems to a scratch folder first, then publishes each file under
the stem root as ``<root>/<song>/<role>-<sha256 of the samples, 16 hex>.wav``. The name is
derived from the content, so a job run twice (a retried task, a rerun after a crash) writes
the same names with the same samples, and a file already there is left as it is. Each file is
written atomically: to a hidden temporary name beside it, then renamed (local folders), or put
whole then moved (other fsspec file systems). Rows are committed only after the files exist,
by the one process that writes the DB.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import fsspec
import numpy as np
import soundfile as sf

from collage.errors import OutputError

__all__ = ["content_name", "exists", "is_url", "local_copy", "publish"]

_BLOCK = 1 << 18  # frames hashed at a time


def is_url(path: str | os.PathLike) -> bool:
    """True for an fsspec URL (``proto://...``) other than a plain local path."""
    return "://" in str(path)


def content_name(path: str | os.PathLike, role: str) -> str:
    """``<role>-<first 16 hex digits of a SHA-256>.wav``, hashed over the sample rate, the channel
    count and the samples as float32 (not the file's bytes: a float WAV's header carries the time
    it was written)."""
    h = hashlib.sha256()
    with sf.SoundFile(str(path)) as f:
        h.update(f"{f.samplerate}:{f.channels}:".encode())
        for block in f.blocks(blocksize=_BLOCK, dtype="float32", always_2d=True):
            h.update(np.ascontiguousarray(block).tobytes())
    return f"{role}-{h.hexdigest()[:16]}.wav"


def exists(path: str | os.PathLike) -> bool:
    """Whether the stem file ``path`` (a local path or an fsspec URL) exists."""
    if is_url(path):
        fs, p = fsspec.core.url_to_fs(str(path))
        return bool(fs.isfile(p))
    return Path(path).is_file()


@contextmanager
def local_copy(path: str | os.PathLike) -> Iterator[str]:
    """A local file holding ``path``'s bytes: ``path`` itself when local, else a temporary copy
    of the URL (removed on exit)."""
    if not is_url(path):
        yield str(path)
        return
    fs, p = fsspec.core.url_to_fs(str(path))
    with tempfile.TemporaryDirectory(prefix="collage-stem-") as d:
        tmp = str(Path(d) / Path(p).name)
        fs.get_file(p, tmp)
        yield tmp


def _publish_one(src: Path, dest: str) -> None:
    if is_url(dest):
        fs, p = fsspec.core.url_to_fs(dest)
        if fs.isfile(p):
            return
        parent = p.rsplit("/", 1)[0]
        fs.makedirs(parent, exist_ok=True)
        tmp = f"{parent}/.{p.rsplit('/', 1)[1]}.{uuid.uuid4().hex}.tmp"
        fs.put_file(str(src), tmp)
        fs.mv(tmp, p)
        return
    d = Path(dest)
    if d.is_file():
        return
    d.parent.mkdir(parents=True, exist_ok=True)
    tmp = d.with_name(f".{d.name}.{uuid.uuid4().hex}.tmp")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, d)
    finally:
        tmp.unlink(missing_ok=True)


def publish(files: dict[str, str | os.PathLike], root: str | os.PathLike, song: str) -> dict[str, str]:
    """Copy each ``{role: local file}`` to ``<root>/<song>/<role>-<hash>.wav``; returns ``{role: destination}``.

    Raises:
        OutputError: the stem root cannot be written.
    """
    out = {}
    base = str(root).rstrip("/")
    for role, src in files.items():
        dest = f"{base}/{song}/{content_name(src, role)}"
        if not is_url(dest):
            dest = str(Path(base) / song / Path(dest).name)
        try:
            _publish_one(Path(src), dest)
        except OSError as e:
            raise OutputError(dest, f"cannot be written ({e})") from None
        out[role] = dest
    return out

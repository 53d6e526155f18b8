"""Atomic output: write to a temporary file beside the target, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from collage.errors import OutputError

__all__ = ["atomic_path"]


def _umask() -> int:
    """The process umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


def _why(e: OSError) -> str:
    return e.strerror or str(e) or type(e).__name__


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; rename it onto ``path`` on success.

    If the body raises, the temporary file is removed and ``path`` is untouched,
    so a failed run never leaves a half-written output. The suffix is kept so
    that writers which look at the extension still work. The finished file
    gets the usual permissions (0o666 less the umask), not mkstemp's 0o600.

    Raises:
        OutputError: the folder cannot be made, the target is a directory, or
            the temporary file cannot be created or renamed.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(path, "is a directory; expected a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(path, f"cannot create its folder ({_why(e)})") from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    except OSError as e:
        raise OutputError(path, f"cannot be written ({_why(e)})") from None
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        try:
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        except OSError as e:
            raise OutputError(path, f"cannot be written ({_why(e)})") from None
    finally:
        if tmp.exists():
            tmp.unlink()

"""Progress bars, always on stderr.

Every progress bar collage shows is made here, so that stdout carries a
command's result alone (``collage eval mashup --json > out.json`` gives a file
a JSON parser reads). rich's own defaults would draw on stdout.

>>> for x in track(range(3), "counting", show=False):
...     pass
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import Progress, ProgressColumn

__all__ = ["progress_bar", "track"]

T = TypeVar("T")


def progress_bar(*columns: str | ProgressColumn, transient: bool = True, disable: bool = False) -> Progress:
    """A rich :class:`~rich.progress.Progress` drawn on stderr (``columns`` as rich takes them; none: rich's default)."""
    return Progress(*columns, console=Console(stderr=True), transient=transient, disable=disable)


def track(items: Iterable[T], description: str, *, total: int | None = None, show: bool = True,
          transient: bool = True) -> Iterator[T]:
    """Yield ``items`` while a bar on stderr counts them (``show=False``: no bar)."""
    if not show:
        yield from items
        return
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    with progress_bar(transient=transient) as bar:
        task = bar.add_task(description, total=total)
        for x in items:
            yield x
            bar.advance(task)

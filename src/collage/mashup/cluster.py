"""Build jobs on a Dask distributed cluster (``collage mashup build --cluster ADDRESS``).

>>> run_jobs("tcp://scheduler:8786", process_job, [("pop909-001", "/data/001")], opts, take)

Each song is one task (:func:`~collage.mashup.builder.process_job`, idempotent: its stems go
under the stem root with content-derived names). Tasks run wherever the scheduler puts them;
a task whose worker dies is rerun by the scheduler on another worker. The records come back
to this process (the client), which is the only writer of the DB: ``take`` commits each as it
arrives. When the client stops (an error, Ctrl-C, a kill), its tasks are cancelled; the songs
committed so far stay, and a rerun skips them.

Dask rather than Ray: it installs from PyPI as pure Python (no native runtime to match across
machines), ``distributed.LocalCluster`` runs the same code on one machine for tests, and it
reads and writes fsspec URLs, the stem root's format.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import distributed

from collage.errors import CollageError

__all__ = ["ClusterError", "run_jobs"]

#: Times a task that raised (say, a stem root on network storage failing for a moment) is rerun.
#: A task whose worker died is rerun by the scheduler itself, up to dask's
#: ``distributed.scheduler.allowed-failures`` (3); past that the song is skipped as unusable.
RETRIES = 2


class ClusterError(CollageError):
    """The Dask scheduler cannot be reached or used."""


def _connect(address: str, timeout_s: float) -> distributed.Client:
    try:
        return distributed.Client(address, timeout=f"{timeout_s}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise ClusterError(f"cannot reach the Dask scheduler at {address!r} ({type(e).__name__}: {e})") from None


def run_jobs(address: str, fn: Callable, jobs: list[tuple[str, str]], opts: dict, take: Callable[[dict], None], *,
             timeout_s: float = 10.0) -> None:
    """Run ``fn(name, origin, opts)`` for each ``(name, origin)`` of ``jobs`` on the cluster at
    ``address``; call ``take(record)`` here, in the client, as each finishes (any order).

    A task that fails with a worker's death more often than the scheduler allows comes back as
    ``{"name", "error"}``. Remaining tasks are cancelled when ``take`` raises or this returns.

    Raises:
        ClusterError: the scheduler cannot be reached within ``timeout_s``.
    """
    client = _connect(address, timeout_s)
    run = uuid.uuid4().hex[:8]
    futs = {}
    try:
        for name, origin in jobs:
            fut = client.submit(fn, name, origin, opts, key=f"collage-build-{run}-{name}", pure=False, retries=RETRIES)
            futs[fut.key] = (fut, name)
        with client.as_current():
            for fut in distributed.as_completed([f for f, _ in futs.values()]):
                try:
                    rec = fut.result()
                except distributed.KilledWorker as e:
                    rec = {"name": futs[fut.key][1], "error": f"its task killed the workers running it ({e})"}
                take(rec)
    finally:
        try:
            client.cancel([f for f, _ in futs.values()], force=True)
        finally:
            client.close()

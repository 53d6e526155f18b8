"""Model work off the event loop: worker threads, per-client supersession, progress, loaded-model cache.

A request runs its library call in a :class:`Worker`'s thread pool. Each
request names its client (one per page and tab); a newer request from the same
client cancels the older one if it has not started yet; one that is running
stops at its next progress report (the report raises :class:`Superseded`, which
the library lets through), and one that has already run is answered as
superseded (its result is dropped), so a page that moves a slider quickly gets
the latest answer first.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

__all__ = ["Superseded", "Worker", "ModelCache"]


class Superseded(Exception):
    """A newer request from the same client replaced this one."""


class Worker:
    """Runs blocking library calls in ``threads`` worker threads; one live request per client."""

    def __init__(self, threads: int = 2):
        self.pool = ThreadPoolExecutor(max_workers=max(1, int(threads)), thread_name_prefix="collage-studio")
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._latest: dict[str, int] = {}
        self._pending: dict[str, Future] = {}
        self._progress: dict[str, dict] = {}

    def progress(self, client: str) -> dict:
        """What the client's request is doing: ``{"stage", "detail", "elapsed_s"}`` (since the stage began),
        with ``"done"`` and ``"total"`` when the stage is counted; ``{"stage": "idle"}`` when none runs."""
        with self._lock:
            p = self._progress.get(client)
        if p is None:
            return {"stage": "idle"}
        out = {"stage": p["stage"], "detail": p["detail"], "elapsed_s": round(time.monotonic() - p["t0"], 3)}
        if p["total"] is not None:
            out |= {"done": p["done"], "total": p["total"]}
        return out

    def _set(self, client: str, seq: int, stage: str, detail: str, done: int | None, total: int | None) -> None:
        with self._lock:
            if self._latest.get(client) != seq:
                raise Superseded  # a newer request from this client: stop here
            old = self._progress.get(client)
            t0 = old["t0"] if old is not None and old["stage"] == stage else time.monotonic()
            self._progress[client] = {"stage": stage, "detail": detail, "t0": t0, "done": done, "total": total}

    async def run(self, client: str | None, fn: Callable[[Callable[..., None]], Any]) -> Any:
        """``fn(report)`` in a worker thread; ``report(stage, detail="", done=None, total=None)`` updates
        :meth:`progress` (``done`` of ``total``: how far a counted stage is), and raises
        :class:`Superseded` once a newer request from ``client`` has come, which stops ``fn`` there.

        Raises:
            Superseded: a newer request from ``client`` came first.
        """
        seq = next(self._seq)
        client = client or f"anonymous-{seq}"
        with self._lock:
            self._latest[client] = seq
            old = self._pending.pop(client, None)
        if old is not None:
            old.cancel()  # not started yet: never runs

        def task():
            self._set(client, seq, "queued", "", None, None)  # raises Superseded when a newer one came first
            return fn(lambda stage, detail="", done=None, total=None: self._set(client, seq, stage, detail, done, total))

        fut = self.pool.submit(task)
        with self._lock:
            self._pending[client] = fut
        current = False
        try:
            result = await asyncio.wrap_future(fut)
        except asyncio.CancelledError:
            if fut.cancelled():
                raise Superseded from None
            raise
        finally:
            with self._lock:
                if self._pending.get(client) is fut:
                    del self._pending[client]
                current = self._latest.get(client) == seq
                if current:
                    self._progress.pop(client, None)
                    if client.startswith("anonymous-"):
                        del self._latest[client]
        if not current:
            raise Superseded
        return result

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class ModelCache:
    """Loaded models, each loaded once per server (loading takes longer than a short fusion)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._models: dict[Any, Any] = {}

    def get(self, key, load: Callable[[], Any]):
        with self._lock:  # one load at a time; later callers wait for it and share the result
            if key not in self._models:
                self._models[key] = load()
            return self._models[key]

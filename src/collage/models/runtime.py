"""Thread setup for PyTorch and the numeric libraries: the one place collage sets thread counts.

Entry points (the CLI's commands, the training and evaluation runs) call :func:`set_threads` once
before the models run; a pool worker calls :func:`limit_worker_threads` when it starts.

On a 2-core machine shared with other jobs, two-thread PyTorch slows down 20-46x when another
process holds a core, so one thread is the default; ``$COLLAGE_THREADS`` asks for more.
"""

from __future__ import annotations

import os

from collage.errors import ParameterError

__all__ = ["THREADS_ENV", "threads", "set_threads", "limit_worker_threads"]

THREADS_ENV = "COLLAGE_THREADS"
_WORKER_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def threads(n: int | None = None) -> int:
    """``n``, else ``$COLLAGE_THREADS``, else 1 (at least 1)."""
    value = n if n is not None else os.environ.get(THREADS_ENV, 1)
    try:
        return max(int(value), 1)
    except ValueError:
        raise ParameterError(f"given {THREADS_ENV}={value!r}; expected a whole number of threads") from None


def set_threads(n: int | None = None) -> int:
    """Set PyTorch's intra-op threads to :func:`threads` ``(n)`` and return the number."""
    import torch  # deferred: callers that never run a model (a pool worker, `--help`) need not load torch

    k = threads(n)
    torch.set_num_threads(k)
    return k


def limit_worker_threads() -> None:
    """One thread for every numeric library in this process (a pool worker, so workers do not
    oversubscribe the cores): the OpenMP/BLAS variables, threadpoolctl when installed."""
    for var in _WORKER_ENV:
        os.environ[var] = "1"
    # deferred: optional dependency, probed when called
    try:
        from threadpoolctl import threadpool_limits  # optional dependency
    except ImportError:
        return
    threadpool_limits(1)

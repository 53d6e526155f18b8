"""Helpers shared by the benchmark scripts: timing and a description of the machine."""

from __future__ import annotations

import gc
import importlib.metadata as md
import os
import platform
import time
from pathlib import Path


def best_time(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def version(pkg: str) -> str:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return "absent"


def machine() -> str:
    """One line: CPUs, CPU model, OS, Python."""
    return f"{os.cpu_count()} CPUs (nproc), {cpu_model()}, {platform.system()} {platform.release()}, Python {platform.python_version()}"

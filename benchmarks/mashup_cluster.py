"""MashupDB build through a Dask cluster against the local path: songs/min/core, and memory as the DB grows.

    OMP_NUM_THREADS=1 python benchmarks/mashup_cluster.py [--songs 8] [--split train]

The same first ``--songs`` duple-metre POP909 songs of a split (30 s clips at 22050 Hz) are built
twice into fresh DBs: in one child process (``jobs=1``, one core), and through
``collage.mashup.build(..., cluster=ADDRESS)`` on a ``distributed.LocalCluster`` of one worker
process with one thread (one core: the scheduler, the nanny and this client are mostly idle).
Both warm up first (librosa's kernels compiled, untimed); the builds run in alternating halves
(local, cluster, then each resumes with the rest), so that a change in the machine's load hits
both; after each half the resident memory of the client (this process) and the worker is read,
to show whether either grows with the DB. Writes docs/results/mashup_cluster.md and .json.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import distributed  # noqa: E402
import psutil  # noqa: E402
from common import loadavg, machine  # noqa: E402

from collage.datasets.pop909 import pop909_root, split_ids  # noqa: E402
from collage.mashup import build as build_db  # noqa: E402
from collage.mashup.builder import _warm_up  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"


def _rss_mb(pid: int | None = None) -> float:
    return round(psutil.Process(pid or os.getpid()).memory_info().rss / 2**20, 1)


def _worker_mem() -> dict:
    return {"rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--songs", type=int, default=8)
    ap.add_argument("--split", default="train")
    args = ap.parse_args()
    root = pop909_root()
    ids = split_ids(args.split, four_four=True)[: args.songs].tolist()
    load_before = loadavg()
    with tempfile.TemporaryDirectory(prefix="collage-cluster-bench-") as tmp:
        src = Path(tmp) / "songs"
        src.mkdir()
        for sid in ids:
            (src / f"{sid:03d}").symlink_to(root / f"{sid:03d}")
        rounds = []
        local_s = cluster_s = 0.0
        added = {"local": 0, "cluster": 0}
        with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                      env={"OMP_NUM_THREADS": "1"}) as cluster, \
                distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
            client.run(_warm_up, "midi", "classical")  # the worker compiles librosa's kernels once, untimed
            _warm_up("midi", "classical")  # and so does the local path's process, forked from this one
            local = cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
            client_base = _rss_mb()
            # the two paths in alternating halves, so that a change in the machine's load hits both
            for limit in (args.songs // 2, args.songs):
                t = time.perf_counter()
                added["local"] += local.submit(build_db, Path(tmp) / "local.db", src, source="midi", jobs=1, limit=limit,
                                               progress=False).result()["added"]
                local_s += time.perf_counter() - t
                t = time.perf_counter()
                added["cluster"] += build_db(Path(tmp) / "cluster.db", src, source="midi", limit=limit, progress=False,
                                             cluster=cluster.scheduler_address)["added"]
                cluster_s += time.perf_counter() - t
                w = list(client.run(_worker_mem).values())[0]
                rounds.append({"songs_in_db": limit, "client_rss_mb": _rss_mb(), "worker_rss_mb": w["rss_mb"],
                               "worker_peak_mb": w["peak_mb"]})
            local.shutdown()
        loc = {"added": added["local"]}
        added = added["cluster"]
    local_rate = loc["added"] / local_s * 60
    cluster_rate = added / cluster_s * 60
    out = {
        "songs": args.songs, "split": args.split, "local": {"added": loc["added"], "wall_s": round(local_s, 1),
                                                            "songs_per_min_per_core": round(local_rate, 2)},
        "cluster": {"added": added, "wall_s": round(cluster_s, 1), "songs_per_min_per_core": round(cluster_rate, 2),
                    "workers": 1, "threads_per_worker": 1},
        "overhead_ratio": round(local_rate / cluster_rate, 3), "client_rss_before_mb": client_base, "rounds": rounds,
        "machine": machine(), "loadavg_before": load_before, "loadavg_after": loadavg(),
        "dask": distributed.__version__,
        "command": "OMP_NUM_THREADS=1 python benchmarks/mashup_cluster.py " + " ".join(sys.argv[1:]),
    }
    (OUT / "mashup_cluster.json").write_text(json.dumps(out, indent=1) + "\n")
    rows = "\n".join(f"| {r['songs_in_db']} | {r['client_rss_mb']} | {r['worker_rss_mb']} | {r['worker_peak_mb']} |"
                     for r in rounds)
    md = "\n".join([
        "# MashupDB build through a Dask cluster",
        "",
        f"The first {args.songs} duple-metre POP909 {args.split} songs (30 s clips at 22050 Hz, rendered, analysed, "
        "segmented, committed), built once in one process (`jobs=1`, a child of the benchmark) and once through `--cluster` on a "
        f"`distributed.LocalCluster` of one worker process with one thread (dask.distributed {distributed.__version__}). "
        "Both use one core for the songs and are warmed up first; they run in alternating halves so that a change in "
        "the load hits both. The cluster adds task shipping, the scheduler and the copy of each "
        "song's stems from the worker's scratch folder to the stem root.",
        "",
        "| path | songs | wall (s) | songs/min/core |",
        "|---|---|---|---|",
        f"| local, one process | {loc['added']} | {out['local']['wall_s']} | {out['local']['songs_per_min_per_core']} |",
        f"| Dask cluster, 1 worker x 1 thread | {added} | {out['cluster']['wall_s']} | "
        f"{out['cluster']['songs_per_min_per_core']} |",
        "",
        f"Engine overhead: local / cluster throughput = **{out['overhead_ratio']}** (1.0 = none).",
        "",
        "Memory as the DB grows (the cluster build in two halves; resident set after each; the client holds "
        f"only the record in flight, {client_base} MB before the first half):",
        "",
        "| songs in DB | client RSS (MB) | worker RSS (MB) | worker peak RSS (MB) |",
        "|---|---|---|---|",
        rows,
        "",
        f"Machine: {out['machine']}. Load average before {load_before}, after {out['loadavg_after']} (2 cores shared "
        "with other jobs: a load above 1 means the figures are lower bounds, for both paths alike).",
        "",
        f"Command: `{out['command']}`",
        "",
    ])
    (OUT / "mashup_cluster.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()

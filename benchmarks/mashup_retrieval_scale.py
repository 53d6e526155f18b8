"""First-stage retrieval cost against MashupDB size: time per query, time to load the index, memory.

    OMP_NUM_THREADS=1 python benchmarks/mashup_retrieval_scale.py [--sizes 1000 5000 10000 100000 1000000]

For each size N (stem segments, harmonic plus percussion), a MashupDB is written with N/6 songs
of 3 harmonic and 3 percussion segments each (random keys, tempi 70-140 BPM, 30 s of audio;
the stem rows all point at one short WAV, and the vectors are random unit vectors: the first
stage's cost depends on how many vectors there are, not on their values). Measured on one
thread: ``StemIndex.load`` (SQLite to arrays), and ``StemIndex.shortlist(n=30)`` for 50 random
vocal queries (the filters on key, tempo and length, one dot product per allowed segment, the
partial sorts), with the memory of the arrays held and the peak of a query's temporaries
(tracemalloc). Sizes above ``--db-max`` are timed on an index built in memory (no SQLite).
Writes docs/results/mashup_retrieval_scale.md and .json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
from common import loadavg, machine  # noqa: E402

from collage.mashup.db import MashupDB  # noqa: E402
from collage.mashup.embed import DIM, EMBED_VERSION  # noqa: E402
from collage.mashup.index import StemIndex  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"
KEYS = [f"{t}:{m}" for t in ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B") for m in ("maj", "min")]
PER_SONG = 3  # segments per role per song


def _unit(rng, n):
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _songs(rng, n_segments):
    n_songs = max(1, n_segments // (2 * PER_SONG))
    return n_songs, [KEYS[k] for k in rng.integers(0, 24, n_songs)], rng.uniform(70, 140, n_songs)


def write_db(path: Path, n_segments: int, rng) -> None:
    wav = path.with_suffix(".wav")
    sf.write(wav, np.zeros(22050, np.float32), 22050)
    n_songs, keys, tempi = _songs(rng, n_segments)
    starts = np.array([0.0, 4.8, 9.6])
    with MashupDB(path, create=True) as db:
        for i in range(n_songs):
            stems = {r: {"path": str(wav), "sr": 22050, "n_samples": 30 * 22050} for r in ("vocals", "harmonic", "percussion")}
            emb = [{"role": r, "bars": 8, "start_s": s, "end_s": s + 19.2, "vec": v}
                   for r in ("harmonic", "percussion") for s, v in zip(starts, _unit(rng, PER_SONG))]
            db.add_song({"name": f"song{i:06d}", "source": "stems", "stems": stems,
                         "analysis": {"song": {"key": keys[i], "tempo": float(tempi[i]), "beats": [0.0, 0.6],
                                               "downbeats": [0.0]}},
                         "segments": [{"bars": 8, "start_s": s, "end_s": s + 19.2} for s in starts],
                         "embeddings": emb, "embed_version": EMBED_VERSION})


def memory_index(n_segments: int, rng) -> StemIndex:
    n_songs, keys, tempi = _songs(rng, n_segments)
    n = n_songs * PER_SONG
    segs = {r: {"song": np.repeat(np.arange(n_songs, dtype=np.int32), PER_SONG),
                "start_s": np.tile([0.0, 4.8, 9.6], n_songs), "end_s": np.tile([19.2, 24.0, 28.8], n_songs),
                "bars": np.full(n, 8, np.int16), "vec": _unit(rng, n)} for r in ("harmonic", "percussion")}
    return StemIndex([f"song{i:06d}" for i in range(n_songs)], keys, tempi, np.full(n_songs, 30.0), segs)


def time_queries(index: StemIndex, rng, n_queries: int = 50) -> dict:
    qs = [(_unit(rng, 1)[0], KEYS[int(rng.integers(24))], float(rng.uniform(75, 130))) for _ in range(n_queries)]
    index.shortlist(*qs[0], n=30, seconds=25.0)  # warm
    times = []
    for v, k, t in qs:
        t0 = time.perf_counter()
        index.shortlist(v, k, t, n=30, seconds=25.0)
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    index.shortlist(*qs[0], n=30, seconds=25.0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"query_ms_median": round(1000 * float(np.median(times)), 3),
            "query_ms_p95": round(1000 * float(np.percentile(times, 95)), 3),
            "query_peak_temp_mb": round(peak / 2**20, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000, 100000, 1000000])
    ap.add_argument("--db-max", type=int, default=10000, help="Largest size also written to SQLite and loaded.")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    load_before = loadavg()
    for n in args.sizes:
        row = {"segments": n}
        if n <= args.db_max:
            with tempfile.TemporaryDirectory(prefix="collage-scale-") as tmp:
                db = Path(tmp) / "scale.db"
                write_db(db, n, rng)
                row["db_mb"] = round(db.stat().st_size / 2**20, 2)
                t0 = time.perf_counter()
                index = StemIndex.load(db)
                row["load_s"] = round(time.perf_counter() - t0, 3)
        else:
            index = memory_index(n, rng)
        row["segments"] = len(index)
        row["index_mb"] = round(index.nbytes / 2**20, 2)
        row |= time_queries(index, rng)
        rows.append(row)
        print(row, flush=True)
    out = {"rows": rows, "machine": machine(), "loadavg_before": load_before, "loadavg_after": loadavg(),
           "command": "OMP_NUM_THREADS=1 python benchmarks/mashup_retrieval_scale.py " + " ".join(sys.argv[1:])}
    (OUT / "mashup_retrieval_scale.json").write_text(json.dumps(out, indent=1) + "\n")
    table = "\n".join(
        f"| {r['segments']:,} | {r['query_ms_median']} | {r['query_ms_p95']} | {r['index_mb']} | {r['query_peak_temp_mb']} | "
        f"{r.get('load_s', '—')} | {r.get('db_mb', '—')} |" for r in rows)
    md = "\n".join([
        "# First-stage retrieval against MashupDB size",
        "",
        "`collage mashup retrieve` first scores every stem segment the vocal's key and tempo allow by its stored "
        "vector, brute force in numpy, and passes the best 30 pairs to the scorer. The time below is that first "
        "stage for one vocal on one thread, after the vocal's own analysis; the second stage (rendering and scoring "
        "the shortlist) costs the same at any DB size: PreMixNet scores about 10 pairs per second on one core "
        "(`mashup_scoring.json`, in [mashup.md](mashup.md)).",
        "",
        "Synthetic DBs: N/6 songs of 3 harmonic and 3 percussion segments, random keys and tempi, random vectors "
        "(the cost depends on the number of vectors, not their values). Up to "
        f"{args.db_max:,} segments the DB is written to SQLite and the index loaded from it (`load`, paid once per "
        "`retrieve` call); larger indexes are built in memory.",
        "",
        "| stem segments | query median (ms) | query p95 (ms) | index in memory (MB) | query temporaries, peak (MB) | load from SQLite (s) | DB file (MB) |",
        "|---|---|---|---|---|---|---|",
        table,
        "",
        "The query grows linearly with the number of segments (one dot product of 12 or 16 numbers per allowed "
        "segment, plus the filters); an approximate-nearest-neighbour index is not needed at these sizes. The "
        "first-stage score is not a plain inner product of fixed vectors (the harmonic term is taken after a "
        "pitch shift that depends on the pair's keys, and both terms subtract the stretch), so an ANN index "
        "would need one entry per allowed shift; brute force stays exact. Loading the index from SQLite, paid once "
        "per `collage mashup retrieve` call, grows linearly too: at a million segments keep one "
        "`collage.mashup.index.StemIndex` in a long-lived process and query it (the Python API) instead of one "
        "command per vocal.",
        "",
        f"Machine: {out['machine']}. Load average before {load_before}, after {out['loadavg_after']} (2 cores shared "
        "with other jobs: the times are upper bounds).",
        "",
        f"Command: `{out['command']}`",
        "",
    ])
    (OUT / "mashup_retrieval_scale.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()

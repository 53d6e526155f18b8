"""Mashup speed: Rubber Band stretching, scoring throughput (learned vs AutoMashUpper), retrieval latency, memory.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/mashup_scoring.py [--db songs.db] [--candidates 20]
        [--out docs/results/mashup_scoring.json]

Audio comes from the rendered POP909 clips under ``runs/mashup/stems`` (``collage train
mashability`` makes them). Scoring throughput counts everything after a candidate's audio
exists: mel features + network for the learned models, beat-synchronous features + the
three terms for AutoMashUpper. Retrieval latency: one vocal against every clip of the DB
(``--db``, a MashupDB) or, without one, against the rendered test clips: analysis of the
vocal, candidate selection, shifting/stretching (fast mode), scoring and sorting.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import loadavg, machine, version  # noqa: E402


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_stretch(y: np.ndarray, sr: int) -> dict:
    from collage.audio.stretch import stretch

    stretch(y[: sr * 2], sr, ratio=1.1, semitones=2)  # warm up
    out = {}
    for hq in (True, False):
        t = time.perf_counter()
        stretch(y, sr, ratio=1.1, semitones=2, high_quality=hq)
        dt = time.perf_counter() - t
        out["high_quality" if hq else "fast"] = round(len(y) / sr / dt, 2)
    return out


def bench_scoring(audios: list[dict], grids: list[tuple], sr: int) -> dict:
    from collage.mashup.score import automashupper_score, learned_scores, load_scorer, mashup_features

    out = {}
    for name in ("premixnet", "postmixnet"):
        model = load_scorer(name)
        learned_scores([mashup_features(audios[0], sr)], model)  # warm up
        t = time.perf_counter()
        learned_scores([mashup_features(a, sr) for a in audios], model)
        out[name] = round(len(audios) / (time.perf_counter() - t), 2)
    automashupper_score(audios[0], sr, beats=grids[0][0], downbeats=grids[0][1])
    t = time.perf_counter()
    for a, (b, d) in zip(audios, grids):
        automashupper_score(a, sr, beats=b, downbeats=d)
    out["automashupper"] = round(len(audios) / (time.perf_counter() - t), 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="runs/mashup", help="rendered stems (runs/mashup/stems/<split>)")
    ap.add_argument("--db", default=None, help="a MashupDB for the retrieval latency")
    ap.add_argument("--vocal", default=None, help="the query vocal for --db (default: a rendered test vocal)")
    ap.add_argument("--candidates", type=int, default=20, help="candidates scored per scorer")
    ap.add_argument("--seconds", type=float, default=25.0, help="mashup length")
    ap.add_argument("--out", default="docs/results/mashup_scoring.json")
    args = ap.parse_args()

    from collage.mashup.rendered import load_rendered_clips
    from collage.mashup.generate import matched_candidates, render_candidate, vocal_starts
    from collage.training.loop import set_threads

    set_threads(1)
    clips = load_rendered_clips("test", root=args.root)
    if len(clips) < 3:
        sys.exit(f"no rendered clips under {args.root}/stems/test; run collage train mashability first")
    sr = clips[0].sr
    res = {"machine": machine(), "load_average_start": loadavg(), "torch": version("torch"),
           "pedalboard": version("pedalboard"), "threads": 1}
    res["stretch_x_realtime"] = bench_stretch(clips[0].stem("harmonic"), sr)

    rng = np.random.default_rng(0)
    audios, grids = [], []
    by = {c.id: c for c in clips}
    for c in clips:
        if len(audios) >= args.candidates:
            break
        s = float(vocal_starts(c, args.seconds)[0])
        for cand in matched_candidates(c, clips, n=2, seconds=args.seconds, vocal_start_s=s, rng=rng):
            audios.append(render_candidate(cand, by, high_quality=False))
            m = (c.beats >= s) & (c.beats < s + args.seconds)
            md = (c.downbeats >= s) & (c.downbeats < s + args.seconds)
            grids.append((c.beats[m] - s, c.downbeats[md] - s))
    audios, grids = audios[: args.candidates], grids[: args.candidates]
    res["candidates"] = len(audios)
    res["mashup_seconds"] = args.seconds
    res["scoring_candidates_per_s"] = bench_scoring(audios, grids, sr)

    # retrieval: one vocal from outside the pool against every clip
    from click.testing import CliRunner

    from collage.cli import app

    if args.db:
        from collage.mashup.dbclips import clips_from_db

        vocal = args.vocal or str(Path(args.root) / "stems" / "test" / clips[0].id / "vocals.wav")
        runner = CliRunner()
        t = time.perf_counter()
        r = runner.invoke(app, ["mashup", "retrieve", args.db, "--vocal", vocal, "--top", "5", "--json"])
        res["retrieval"] = {"db": args.db, "db_songs": len(clips_from_db(args.db)), "vocal": vocal,
                            "candidates": 30, "seconds": round(time.perf_counter() - t, 2), "exit_code": r.exit_code}
    else:
        from collage.io.audio import load_audio
        from collage.mashup.dbclips import vocal_clip
        from collage.mashup.retrieval import rank_candidates, scorer_model

        path = str(Path(args.root) / "stems" / "test" / clips[0].id / "vocals.wav")
        load_audio(path, sr=sr)
        t = time.perf_counter()
        seed = vocal_clip(path, sr=sr)
        seed.id = "query"
        pool = [c for c in clips if c.id != clips[0].id]
        rows = rank_candidates(seed, pool, scorer="premixnet", model=scorer_model("premixnet"), n_candidates=30,
                     seconds=min(args.seconds, seed.duration), rng=np.random.default_rng(0))
        res["retrieval"] = {"pool_clips": len(pool), "candidates_scored": len(rows),
                            "seconds": round(time.perf_counter() - t, 2), "scorer": "premixnet"}
    res["peak_memory_mb"] = round(_peak_mb(), 1)
    res["load_average_end"] = loadavg()
    text = json.dumps(res, indent=2)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()

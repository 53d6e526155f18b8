"""Recall of two-stage retrieval against an exhaustive ranking by the same scorer, on a small DB of test songs.

    OMP_NUM_THREADS=1 python benchmarks/mashup_two_stage_recall.py [--songs 16] [--windows 2] [--seconds 15] [--db PATH]

A MashupDB is built from the first ``--songs`` duple-metre POP909 *test* songs (30 s clips,
rendered with the held-out soundfont; or ``--db`` reuses one). Each song's vocal stem is a
query, at its first ``--windows`` vocal windows of ``--seconds``; its key, tempo and downbeats
come from the vocal alone, as for an outside vocal. For each query, *every* allowed pair of a
harmonic and a percussion stem segment of the other songs (key within ±3 semitones, tempo
ratio in [0.8, 1.2], enough audio, the two stems from different songs) is rendered and scored
by PreMixNet: the exhaustive ranking. Two-stage top 10: the 10 best by PreMixNet among the
first stage's best N pairs (N = 10, 20, 30, 50); recall@10 = its overlap with the exhaustive
top 10 (divided by min(10, pairs)). Baseline: N pairs drawn at random (the old ``--candidates N``),
averaged over 50 draws. Writes docs/results/mashup_two_stage_recall.md and .json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import db_vocals, loadavg, machine  # noqa: E402

from collage.errors import CollageError  # noqa: E402
from collage.datasets.pop909 import pop909_root, split_ids  # noqa: E402
from collage.mashup import build as build_db  # noqa: E402
from collage.mashup.dbclips import clips_from_db, vocal_clip  # noqa: E402
from collage.mashup.embed import vocal_embedding  # noqa: E402
from collage.mashup.generate import Candidate, vocal_starts  # noqa: E402
from collage.mashup.index import StemIndex  # noqa: E402
from collage.mashup.retrieval import score_candidates, scorer_model  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"
SHORTLISTS = (10, 20, 30, 50)


def all_pairs(index: StemIndex, vec, key, tempo, seconds, exclude) -> list[dict]:
    """Every allowed pair, with its first-stage score (the shortlist of size 'everything')."""
    sc = index.scores(vec, key, tempo, seconds=seconds, exclude=exclude)
    n = len(sc["harmonic"][0]) * len(sc["percussion"][0])
    return index.shortlist(vec, key, tempo, n=max(n, 1), seconds=seconds, exclude=exclude) if n else []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--songs", type=int, default=16)
    ap.add_argument("--windows", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--from-json", action="store_true", help="Only re-render the report from the JSON record.")
    ap.add_argument("--db", default=None, help="Build the MashupDB here (kept; a rerun adds only the songs it lacks).")
    args = ap.parse_args()
    if args.from_json:
        write_report(json.loads((OUT / "mashup_two_stage_recall.json").read_text()))
        return
    tmp = tempfile.TemporaryDirectory(prefix="collage-recall-")
    db = Path(args.db) if args.db else Path(tmp.name) / "test.db"
    root = pop909_root()
    src = Path(tmp.name) / "songs"
    src.mkdir()
    for sid in split_ids("test", four_four=True)[: args.songs].tolist():
        (src / f"{sid:03d}").symlink_to(root / f"{sid:03d}")
    t = time.perf_counter()
    build_db(db, src, source="midi", progress=False)  # resumable: a kept DB only gets the songs it lacks
    build_s = time.perf_counter() - t
    index = StemIndex.load(db)
    pool = clips_from_db(db)
    model = scorer_model("premixnet")
    vocals = db_vocals(db)
    rng = np.random.default_rng(0)
    queries, t_score, n_scored = [], 0.0, 0
    unusable = []
    for name, path in vocals:
        try:
            seed = vocal_clip(path, sr=pool[0].sr)
        except CollageError as e:  # a vocal whose beats cannot be found alone: not a query
            unusable.append((name, str(e).rsplit(": ", 1)[-1]))
            continue
        secs = min(args.seconds, seed.duration)
        for start in vocal_starts(seed, secs)[: args.windows]:
            vec = vocal_embedding(seed.stem("vocals"), seed.sr, seed.downbeats, float(start), secs)
            pairs = all_pairs(index, vec, seed.key, seed.tempo, secs, name)
            if len(pairs) < 2:
                continue
            cands = [Candidate("matched", seed.id, p["harmonic"], p["percussion"], secs, float(start),
                               p["harmonic_start_s"], p["percussion_start_s"], harmonic_semitones=p["harmonic_semitones"],
                               harmonic_ratio=p["harmonic_ratio"], percussion_ratio=p["percussion_ratio"]) for p in pairs]
            t = time.perf_counter()
            rows = score_candidates(seed, cands, pool, scorer="premixnet", model=model, seconds=secs,
                                    vocal_start_s=float(start))
            t_score += time.perf_counter() - t
            n_scored += len(rows)
            score = {id(c): s for s, c, _ in rows}
            s2 = np.array([score[id(c)] for c in cands])  # PreMixNet, in first-stage order
            k = min(10, len(cands))
            truth = set(np.argsort(-s2, kind="stable")[:k].tolist())
            q = {"song": name, "start_s": round(float(start), 3), "pairs": len(cands), "two_stage": {}, "random": {}}
            for n in SHORTLISTS:
                top = sorted(range(min(n, len(cands))), key=lambda i: -s2[i])[:k]  # first stage's best n, reranked
                q["two_stage"][n] = len(truth & set(top)) / k
                rec = []
                for _ in range(50):
                    draw = rng.permutation(len(cands))[:n]
                    rec.append(len(truth & set(sorted(draw, key=lambda i: -s2[i])[:k])) / k)
                q["random"][n] = float(np.mean(rec))
            queries.append(q)
            print(name, q["pairs"], q["two_stage"], {n: round(v, 3) for n, v in q["random"].items()}, flush=True)
    tmp.cleanup()
    summ = {n: {"two_stage": round(float(np.mean([q["two_stage"][n] for q in queries])), 3),
                "random": round(float(np.mean([q["random"][n] for q in queries])), 3)} for n in SHORTLISTS}
    pairs = [q["pairs"] for q in queries]
    out = {"songs": len(vocals), "queries": len(queries), "vocals_unusable": unusable, "seconds": args.seconds, "windows": args.windows,
           "segments": len(index), "pairs_per_query": {"median": float(np.median(pairs)), "min": min(pairs), "max": max(pairs)},
           "recall_at_10": summ, "premixnet_pairs_per_s": round(n_scored / t_score, 2), "build_s": build_s,
           "per_query": queries, "machine": machine(), "loadavg_after": loadavg(),
           "command": "OMP_NUM_THREADS=1 python benchmarks/mashup_two_stage_recall.py " + " ".join(sys.argv[1:])}
    (OUT / "mashup_two_stage_recall.json").write_text(json.dumps(out, indent=1) + "\n")
    write_report(out)


def _summary(queries, min_pairs: int = 0) -> dict:
    qs = [q for q in queries if q["pairs"] >= min_pairs]
    return {n: {"two_stage": round(float(np.mean([q["two_stage"][str(n)] for q in qs])), 3),
                "random": round(float(np.mean([q["random"][str(n)] for q in qs])), 3), "queries": len(qs)}
            for n in SHORTLISTS}


def write_report(out: dict) -> None:
    """docs/results/mashup_two_stage_recall.md from the JSON record (``--from-json`` re-renders it)."""
    queries = json.loads(json.dumps(out["per_query"]))  # keys as strings, as read back
    summ = _summary(queries)
    many = _summary(queries, 50)
    pairs = [q["pairs"] for q in queries]
    vocals, unusable, index_len = out["songs"], out["vocals_unusable"], out["segments"]
    args = argparse.Namespace(windows=out["windows"], seconds=out["seconds"])
    table = "\n".join(f"| {n} | **{summ[n]['two_stage']}** | {summ[n]['random']} |" for n in SHORTLISTS)
    md = "\n".join([
        "# Two-stage retrieval: recall@10 against an exhaustive ranking",
        "",
        f"A MashupDB of {vocals} duple-metre POP909 test songs (30 s clips, the held-out soundfont; "
        f"{index_len} harmonic plus percussion stem segments). Queries: each song's vocal at up to {args.windows} "
        f"windows of {args.seconds:g} s ({len(queries)} queries), analysed from the vocal alone, its own song left out "
        f"({len(unusable)} vocal(s) had no beat found alone, and windows with fewer than 2 allowed pairs are not "
        "queries). "
        "For each, every allowed pair of a harmonic and a percussion segment "
        f"(median {out['pairs_per_query']['median']:g}, {min(pairs)}-{max(pairs)} pairs) was rendered and scored by "
        "PreMixNet: the exhaustive ranking. Two-stage: PreMixNet's top 10 among the first stage's best N pairs. "
        "Random: PreMixNet's top 10 among N pairs drawn at random (the old `--candidates N`; mean of 50 draws).",
        "",
        "| N (shortlist or draw) | recall@10, two-stage | recall@10, random draw |",
        "|---|---|---|",
        table,
        "",
        f"Only the {many[10]['queries']} queries with at least 50 pairs:",
        "",
        "| N | recall@10, two-stage | recall@10, random draw |",
        "|---|---|---|",
        "\n".join(f"| {n} | **{many[n]['two_stage']}** | {many[n]['random']} |" for n in SHORTLISTS),
        "",
        "The first stage as it stands (untrained: chroma after the shift, bar onset pattern, stretch) is barely "
        "better than a random draw of the same size: it does not yet predict PreMixNet's choice. "
        "With this few pairs per query, a large N covers most of them and both columns approach 1; the "
        "comparison that matters is at equal N. This DB is far smaller than the 1,000-segment sub-database "
        "with 200+ queries that the target asks for: an exhaustive PreMixNet ranking there is tens of thousands "
        f"of pairs per query, at {out['premixnet_pairs_per_s']} pairs per second on this machine.",
        "",
        f"Machine: {out['machine']}; load average after {out['loadavg_after']} (2 shared cores).",
        "",
        f"Command: `{out['command']}`",
        "",
    ])
    (OUT / "mashup_two_stage_recall.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()

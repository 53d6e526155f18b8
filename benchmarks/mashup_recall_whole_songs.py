"""Recall@10 of two-stage retrieval against an exhaustive ranking by the fast second stage, on whole test songs.

    OMP_NUM_THREADS=1 python benchmarks/mashup_recall_whole_songs.py --db runs/retrieval/test_whole.db [--queries 200]

The MashupDB holds duple-metre POP909 *test* songs built whole (``collage mashup build --seconds
600``: 8- and 16-bar stem segments every 4 and 8 bars). Each song's vocal is analysed alone
(key, tempo, downbeats, as an outside vocal) and queried at several windows of ``--seconds``
spread over the song (its own song left out), ``--queries`` in all. For each query, *every*
allowed pair of a harmonic and a percussion segment (key within ±3 semitones, tempo ratio in
[0.8, 1.2], enough audio; the vocal's tempo read three ways, as ``retrieve`` reads it: as found, at half and
double speed, a pair's two segments stretched by one reading) is scored by the fast second stage
(:mod:`collage.mashup.fastscore`, PreMixNet): the exhaustive ranking. Two-stage: the best 10 by
the same scorer among the first stage's shortlist of N pairs (``StemIndex.pairs``: every pair of
each side's best ceil(sqrt(N)) segments), for two first stages side by side: ``harmony`` (what
``retrieve`` runs: :func:`~collage.mashup.retrieval.harmony_first_stage` on the harmonic side) and
``vectors`` (the stored vectors alone: segment priors + the learned score); random: among N pairs
drawn at random (mean of 20 draws). Also: the share of the true top 10's score the two-stage top 10
captures, and the first stage's time per query.
Writes docs/results/NAME.md and .json (``--name``; default mashup_recall_whole_songs). Validation runs
take a DB of val songs and their own ``--name``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from common import analysed_vocal, db_vocals, loadavg, machine, parse_expand  # noqa: E402

from collage.errors import CollageError  # noqa: E402
from collage.mashup.dbclips import clips_from_db  # noqa: E402
from collage.mashup.embed import vocal_embedding  # noqa: E402
from collage.mashup.fastscore import FastScorer, ensure_features  # noqa: E402
from collage.mashup.generate import Candidate, vocal_starts  # noqa: E402
from collage.mashup.index import StemIndex  # noqa: E402
from collage.mashup.retrieval import (EXPAND, HARMONY_TOP, SHARES_ASPECT, SHARES_HARMONY_TOP,  # noqa: E402
                                      expanded_ranking, harmony_first_stage, scorer_model, shares_first_stage,
                                      shares_rounds)
from collage.mashup import shares  # noqa: E402
from collage.mashup.shares import ensure_shares  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"
#: the first stages compared, best first
STAGES = ("shares", "harmony", "vectors")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="runs/retrieval/test_whole.db")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--per-song", type=int, default=None,
                    help="Windows tried per vocal (default: queries / songs; windows without two allowed pairs are skipped).")
    ap.add_argument("--analysis-cache", default=None,
                    help="A JSON file keeping each vocal's analysis (key, tempo, beats, downbeats) between runs.")
    ap.add_argument("--seconds", type=float, default=25.0)
    ap.add_argument("--shortlists", default="30,100,400,900,1600,2500",
                    help="Shortlist sizes (pairs) to measure, comma-separated.")
    ap.add_argument("--harmony-top", type=int, default=HARMONY_TOP,
                    help="Harmonic segments the harmony first stage scores frame by frame (retrieve's default).")
    ap.add_argument("--shares-rounds", default=None,
                    help="Segments per side each round of the shares first stage scores, comma-separated (default: "
                         "retrieve's for the largest shortlist).")
    ap.add_argument("--aspect", type=float, default=SHARES_ASPECT,
                    help="The grid after the shares first stage: percussion segments per harmonic one (retrieve's "
                         "default); the other first stages' grids are square, as retrieve's without the shares.")
    ap.add_argument("--references", type=int, default=None,
                    help="Partner songs per segment in the shares rounds (default: retrieve's).")
    ap.add_argument("--expand", default=",".join(map(str, EXPAND)),
                    help="After the grid: anchors, new segments a side, passes of retrieve's expansion "
                         "(expanded_ranking; retrieve's default; 0,0: none; passes 1 when left out).")
    ap.add_argument("--share-ratios", default=None, help="Layout variant: stretches at which shares are stored, "
                    "comma-separated, for the role --share-ratios-role.")
    ap.add_argument("--share-ratios-role", default="harmonic", choices=("harmonic", "percussion"))
    ap.add_argument("--share-phases", default=None,
                    help="Layout variant: offsets stored per stretch and share frame, harmonic,percussion (e.g. 8,8).")
    ap.add_argument("--jitter-ms", default="4",
                    help="The scorer's own precision, comma-separated (ms; empty: not measured): the exhaustive ranking is "
                         "also made with every accompaniment stem placed this much earlier and later, and a two-stage pick "
                         "counts as found within the jitter when one of those rankings has it in its top 10.")
    ap.add_argument("--name", default="mashup_recall_whole_songs",
                    help="Output name under docs/results (NAME.md, NAME.json); e.g. a validation run's own.")
    ap.add_argument("--from-json", action="store_true", help="Only re-render the report from the JSON record.")
    args = ap.parse_args()
    if args.from_json:
        write_report(json.loads((OUT / f"{args.name}.json").read_text()), args.name)
        return
    if args.share_ratios:  # a layout variant: stored under its own tag beside the default one
        shares.SHARE_RATIOS = {**shares.SHARE_RATIOS, args.share_ratios_role: tuple(float(x) for x in args.share_ratios.split(","))}
    if args.share_phases:
        shares.SHARE_PHASES = dict(zip(("harmonic", "percussion"), (int(x) for x in args.share_phases.split(","))))
    refs = {} if args.references is None else {"references": args.references}
    args.expand = parse_expand(args.expand)
    args.expand = args.expand if args.expand[1] > 0 else None
    t = time.perf_counter()
    index = StemIndex.load(args.db)  # computes the segment vectors and priors a DB lacks
    index_s = time.perf_counter() - t
    pool = clips_from_db(args.db)
    t = time.perf_counter()
    feats = ensure_features(args.db, pool)
    feat_s = time.perf_counter() - t
    for c in pool:  # the audio is not needed any more
        c.stems = {}
    scorer = FastScorer(scorer_model("premixnet"))
    t = time.perf_counter()
    stored = ensure_shares(args.db, index.names, scorer, lambda names: feats)  # at build time in a real DB
    shares_s = time.perf_counter() - t
    vocals = db_vocals(args.db)
    seeds, unusable = [], []
    for name, path in vocals:
        try:
            seeds.append((name, analysed_vocal(path, args.analysis_cache)))
        except CollageError as e:
            unusable.append((name, str(e).rsplit(": ", 1)[-1]))
    per_song = args.per_song or -(-args.queries // max(len(seeds), 1))
    shortlists = [int(x) for x in args.shortlists.split(",")]
    rounds = (tuple(int(x) for x in args.shares_rounds.split(",")) if args.shares_rounds
              else shares_rounds(max(shortlists)))
    rng = np.random.default_rng(0)
    queries = []
    pkey = lambda p: (p["harmonic"], p["harmonic_start_s"], p["percussion"], p["percussion_start_s"])  # noqa: E731
    jitter = [float(x) / 1000 for x in args.jitter_ms.split(",") if x.strip()]
    shifts = [d for j in jitter for d in (-j, j)]
    for name, seed in seeds:
        cache = {}  # the windows of one vocal share each placed segment's SourceNet share
        shifted_cache = {d: {} for d in shifts}
        secs = min(args.seconds, seed.duration)
        tempi = (seed.tempo, seed.tempo / 2, seed.tempo * 2)  # as retrieve reads it
        starts = vocal_starts(seed, secs)
        starts = starts[np.unique(np.linspace(0, len(starts) - 1, min(per_song, len(starts))).round().astype(int))]
        for start in starts:
            if len(queries) >= args.queries:
                break
            start = float(start)
            t0 = time.perf_counter()
            vec = vocal_embedding(seed.stem("vocals"), seed.sr, seed.downbeats, start, secs)
            found = {"vectors": index.candidates(vec, seed.key, tempi, seconds=secs, exclude=name)}
            t_vectors = time.perf_counter() - t0
            k_all = max(len(found["vectors"][role]["idx"]) for role in ("harmonic", "percussion"))
            pairs = index.pairs(found["vectors"], k_all ** 2)  # every pair
            if len(pairs) < 2:  # every pair takes both stems from one song
                continue
            cands = [Candidate("matched", seed.id, p["harmonic"], p["percussion"], secs, start, p["harmonic_start_s"],
                               p["percussion_start_s"], harmonic_semitones=p["harmonic_semitones"],
                               harmonic_ratio=p["harmonic_ratio"], percussion_ratio=p["percussion_ratio"]) for p in pairs]
            q = scorer.vocal(seed, vocal_start_s=start, seconds=secs)
            t1 = time.perf_counter()
            found["harmony"] = harmony_first_stage(index, found["vectors"], scorer, q, vec, lambda names: feats, cache=cache,
                                                   top=args.harmony_top)
            t_harmony = time.perf_counter() - t1
            t1s = time.perf_counter()
            coarse = (found["harmony"] if args.harmony_top == SHARES_HARMONY_TOP else  # as retrieve runs it
                      harmony_first_stage(index, found["vectors"], scorer, q, vec, lambda names: feats, cache=cache,
                                          top=SHARES_HARMONY_TOP))
            found["shares"] = shares_first_stage(index, coarse, scorer, q, lambda names: stored,
                                                 lambda names: feats,
                                                 rounds=rounds, **refs)
            t_shares = time.perf_counter() - t1s
            t2 = time.perf_counter()
            s2 = scorer.score(q, cands, feats, cache=cache)  # every pair: the exhaustive ranking
            t_all = time.perf_counter() - t2
            k = min(10, len(cands))
            order = np.argsort(-s2, kind="stable")
            truth, best = set(order[:k].tolist()), float(s2[order[:k]].mean())
            row = {"song": name, "start_s": round(start, 3), "pairs": len(cands),
                   "first_stage_ms": {"vectors": round(1000 * t_vectors, 2), "harmony": round(1000 * (t_vectors + t_harmony), 1),
                                      "shares": round(1000 * (t_vectors + t_shares), 1)},
                   "harmonic_segments": len(found["vectors"]["harmonic"]["idx"]), "exhaustive_s": round(t_all, 2)}
            pos = {pkey(p): i for i, p in enumerate(pairs)}
            # the scorer's own precision: the exhaustive top 10 with the stems placed a few ms off (offset_s > 0: later)
            tolerant = set(truth)
            for d in shifts:
                sd = scorer.score(q, [dataclasses.replace(c, harmonic_offset_s=d, percussion_offset_s=d) for c in cands],
                                  feats, cache=shifted_cache[d])
                top_d = set(np.argsort(-sd, kind="stable")[:k].tolist())
                row.setdefault("self_recall", {})[f"{1000 * d:+g}"] = len(truth & top_d) / k
                tolerant |= top_d
            row["tolerant_set"] = len(tolerant)
            for fs_name, f in found.items():
                row[fs_name], row[f"{fs_name}_captured"], row[f"{fs_name}_segments"] = {}, {}, {}
                for n in shortlists:
                    grid = index.pair_positions(f, n, aspect=args.aspect if fs_name == "shares" else 1.0)
                    sl = index.pair_dicts(f, grid)
                    if fs_name == "shares" and args.expand:  # as retrieve: more pairs around the grid's best
                        ranked, _ = expanded_ranking(index, f, scorer, grid,
                                                     lambda ps: s2[[pos[pkey(p)] for p in index.pair_dicts(f, ps)]],
                                                     anchors=args.expand[0], new=args.expand[1], passes=args.expand[2],
                                                     fresh=args.expand[3],
                                                     exact=lambda role, segs: scorer.segment_shares(q, role, segs, feats, cache))
                        sl = index.pair_dicts(f, ranked)
                    top = sorted((pos[pkey(p)] for p in sl), key=lambda i: -s2[i])[:k]
                    row[fs_name][n] = len(truth & set(top)) / k
                    if shifts:
                        row.setdefault(f"{fs_name}_jitter", {})[n] = len(tolerant & set(top)) / k
                    row[f"{fs_name}_captured"][n] = round(_mean(s2, top) / max(best, 1e-9), 4)
                    row[f"{fs_name}_segments"][n] = len({(p["harmonic"], p["harmonic_start_s"]) for p in sl}) + \
                        len({(p["percussion"], p["percussion_start_s"]) for p in sl})
            row["random"], row["random_captured"], row["random_grid"], row["random_grid_jitter"] = {}, {}, {}, {}
            for n in shortlists:  # n pairs at random; and the grid of as many segments as the first stage's, at random
                draws = [sorted(rng.permutation(len(cands))[:n], key=lambda i: -s2[i])[:k] for _ in range(20)]
                row["random"][n] = float(np.mean([len(truth & set(d)) / k for d in draws]))
                row["random_captured"][n] = round(float(np.mean([_mean(s2, d) for d in draws])) / max(best, 1e-9), 4)
                grids, grids_j = [], []
                for _ in range(20):
                    shuffled = {role: {**f, "score": rng.random(len(f["idx"])).astype(np.float32)}
                                for role, f in found["vectors"].items()}
                    top = sorted((pos[pkey(p)] for p in index.pairs(shuffled, n)), key=lambda i: -s2[i])[:k]
                    grids.append(len(truth & set(top)) / k)
                    grids_j.append(len(tolerant & set(top)) / k)
                row["random_grid"][n] = float(np.mean(grids))
                if shifts:
                    row["random_grid_jitter"][n] = float(np.mean(grids_j))
            queries.append(row)
            print(len(queries), {key: row[key] for key in ("song", "pairs", "shares", "harmony", "vectors", "random_grid")},
                  flush=True)
    pairs = [q["pairs"] for q in queries]
    mean = lambda key, n: round(float(np.mean([q[key][n] for q in queries])), 3)  # noqa: E731
    out = {"db": Path(args.db).name, "songs": len(vocals), "vocals_unusable": unusable, "segments": len(index),
           "song_s_max": round(float(index.durations.max()), 1), "queries": len(queries), "vocals_queried": len({q["song"] for q in queries}), "seconds": args.seconds,
           "features_s": round(feat_s, 1), "index_s": round(index_s, 1), "shortlists": shortlists,
           "pairs_per_query": {"median": float(np.median(pairs)), "min": min(pairs), "max": max(pairs)},
           "recall_at_10": {n: {**{k: mean(k, n) for k in (*STAGES, "random", "random_grid")},
                                **{f"captured_{k}": mean(f"{k}_captured", n) for k in (*STAGES, "random")},
                                "segments_median": float(np.median([q[f"{STAGES[0]}_segments"][n] for q in queries]))}
                            for n in shortlists},
           **({"jitter_ms": [1000 * j for j in jitter],
               "recall_within_jitter": {n: {k: mean(f"{k}_jitter", n) for k in (*STAGES, "random_grid")} for n in shortlists},
               "self_recall": {d: round(float(np.mean([q["self_recall"][d] for q in queries])), 3)
                               for d in queries[0]["self_recall"]},
               "tolerant_set_median": float(np.median([q["tolerant_set"] for q in queries]))} if shifts else {}),
           "shares_s_per_song": round(shares_s / max(len(index.names), 1), 2),
           "shares_config": {"rounds": list(rounds), "aspect": args.aspect, "references": args.references or "default",
                             "expand": list(args.expand or (0, 0)),
                             "ratios": shares.SHARE_RATIOS, "phases": shares.SHARE_PHASES},
           "first_stage_ms_median": {k: round(float(np.median([q["first_stage_ms"][k] for q in queries])), 1)
                                     for k in STAGES},
           "harmonic_segments_median": float(np.median([q["harmonic_segments"] for q in queries])),
           "exhaustive_s_median": round(float(np.median([q["exhaustive_s"] for q in queries])), 2),
           "per_query": queries, "machine": machine(), "loadavg_after": loadavg(),
           "command": "OMP_NUM_THREADS=1 python benchmarks/mashup_recall_whole_songs.py " + " ".join(sys.argv[1:])}
    (OUT / f"{args.name}.json").write_text(json.dumps(out, indent=1) + "\n")
    write_report(json.loads(json.dumps(out)), args.name)


def _mean(s: np.ndarray, idx) -> float:
    """The mean of ``s[idx]`` (0 for no index: an empty shortlist finds nothing)."""
    return float(s[list(idx)].mean()) if len(idx) else 0.0


def _jitter_section(out: dict, stages: list) -> list[str]:
    """The report's part on the scorer's own precision (``--jitter-ms``)."""
    r, j = out["recall_within_jitter"], out["jitter_ms"]
    sr = ", ".join(f"{d} ms: {v}" for d, v in out["self_recall"].items())
    ms = " / ".join(f"{x:g}" for x in j)
    return [
        f"**The scorer's own precision.** The exhaustive ranking was made again with every accompaniment stem placed "
        f"{ms} ms earlier and later (inaudible, and far below the 32 ms frame of the beat tracking that lines the vocal and the stems up). "
        f"The exhaustive top 10 keeps this share of itself: {sr}. So a strict recall@10 asks the first stage to reproduce "
        "differences the scorer itself does not hold to. Within the jitter: a two-stage pick counts as found when one of "
        f"those exhaustive rankings has it in its top 10 (median {out['tolerant_set_median']:g} such pairs a query, out of "
        f"{out['pairs_per_query']['median']:g}); the random grid is the same grid of segments drawn at random.",
        "",
        "| N | " + " | ".join(f"within ±{ms} ms, {k}" for k in stages) + " | within, random grid |",
        "|" + "---|" * (len(stages) + 2),
        *("| " + " | ".join([str(n), *(f"**{r[str(n)][k]}**" if k == stages[0] else str(r[str(n)][k]) for k in stages),
                             str(r[str(n)]["random_grid"])]) + " |" for n in out["shortlists"]),
        "",
    ]


def write_report(out: dict, name: str) -> None:
    r = out["recall_at_10"]
    stages = [k for k in STAGES if k in r[str(out["shortlists"][0])]]
    table = "\n".join("| " + " | ".join([str(n), *(f"**{r[str(n)][k]}**" if k == stages[0] else str(r[str(n)][k]) for k in stages),
                                          str(r[str(n)]["random_grid"]), str(r[str(n)]["random"]),
                                          " / ".join(str(r[str(n)][f"captured_{k}"]) for k in (*stages, "random")),
                                          f"{r[str(n)]['segments_median']:g}"]) + " |" for n in out["shortlists"])
    ms = out["first_stage_ms_median"]
    md = "\n".join([
        "# Two-stage retrieval on whole songs: recall@10 against an exhaustive ranking",
        "",
        f"A MashupDB of {out['songs']} duple-metre POP909 songs (`{out['db']}`, up to {out.get('song_s_max', '?')} s of "
        f"audio per song; **{out['segments']} harmonic plus percussion stem segments**). {out['queries']} queries: {out['vocals_queried']} songs' vocals, each analysed "
        f"alone (key, tempo, downbeats, as an outside vocal; {len(out['vocals_unusable'])} had no beat found alone), at "
        f"windows of {out['seconds']:g} s spread over the song, its own song left out. For each, every pair `retrieve` "
        "could return (harmonic within ±3 semitones, tempo ratio in [0.8, 1.2] at one of the three readings of the "
        "vocal's tempo `retrieve` makes, as found, half and double, enough audio; median "
        f"{out['pairs_per_query']['median']:g}, {out['pairs_per_query']['min']}-{out['pairs_per_query']['max']} pairs) "
        "was scored by the fast second stage (PreMixNet on stored features): the exhaustive ranking, whose top 10 are "
        "the truth. Two-stage: the top 10 by the same scorer among the first stage's shortlist of N pairs (every pair of "
        "each side's best ceil(sqrt(N)) segments, `retrieve`'s grid). First stages: "
        + ("**shares** (what `retrieve` runs: `shares_first_stage`, both sides scored by PreMixNet on SourceNet shares "
           "stored at build time, each segment paired with the other side's best few, after the harmony stage), "
           if "shares" in stages else "")
        + "harmony (the harmonic side scored by the second stage's own harmony branch against a reference accompaniment "
        "sound, `harmony_first_stage`, percussion by its vectors) and vectors alone (segment priors + the learned score, "
        "weights `mashup_first_stage`). Baselines, mean of 20 draws: a random grid (the same grid of segments drawn at "
        "random: the same cost to the second stage) and N random pairs (up to 2N segments: far more costly). Captured: the "
        "exhaustive score of the two-stage top 10 over that of the true top 10 (1 = as good as exhaustive search), "
        + " / ".join([*stages, "random pairs"]) + ".",
        "",
        "| N (shortlist or draw) | " + " | ".join(f"recall@10, {k}" for k in stages)
        + " | recall@10, random grid | recall@10, random pairs | score captured (" + " / ".join([*stages, "random"])
        + ") | stem segments the second stage scores, " + stages[0] + " grid (median) |",
        "|" + "---|" * (len(stages) + 5),
        table,
        "",
        *(_jitter_section(out, stages) if "recall_within_jitter" in out else []),
        "Per query (median, one thread): first stage " + ", ".join(f"up to {k} {ms[k]} ms" for k in reversed(stages))
        + f" ({out['harmonic_segments_median']:g} harmonic segments allowed; the vocal's own features, which the second "
        f"stage needs anyway, not included); the exhaustive ranking {out['exhaustive_s_median']} s (the windows of one "
        f"vocal share each segment's SourceNet). Features stored beforehand (reading them: {out['features_s']} s); loading "
        f"the index: {out.get('index_s', '?')} s"
        + (f"; the stored shares, read or computed where missing (a build's work): {out['shares_s_per_song']} s per song." if "shares_s_per_song" in out else ".")
        + (" Shares rounds {rounds} segments a side, partners {references} (songs, then segments), the grid after them "
           "{aspect} percussion segments per harmonic one; shares stored at stretches {ratios} and {phases} "
           "offsets per share frame of 256 ms.".format(**out["shares_config"]) if "shares_config" in out else "")
        + (" After the grid (shares only, as `retrieve`): the best {0} segments of each side among its best pairs "
           "anchor {1} new segments a side, scored by their stored shares against the anchors' own and paired with the grid and with "
           "each other, {2} pass(es), each around the ranking grown by the one before{3} (`expanded_ranking`; their pairs "
           "are counted in the shortlist's segments, not in N).".format(
               *(list(out["shares_config"]["expand"]) + [1])[:3],
               " and after the first only around the anchors new to its top" if (out["shares_config"]["expand"] + [0, 0])[3]
               else "")
           if out.get("shares_config", {}).get("expand", [0, 0])[1] else ""),
        "",
        f"Machine: {out['machine']}; load average after {out['loadavg_after']} (2 shared cores).",
        "",
        f"Command: `{out['command']}`",
        "",
    ])
    (OUT / f"{name}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()

"""Where the second stage of `collage mashup retrieve` spends its time, per shortlisted candidate.

    OMP_NUM_THREADS=1 python benchmarks/mashup_second_stage_profile.py --db runs/recall/test24.db [--queries 4]

For each of the first ``--queries`` vocals of the DB (its own stems, first vocal window of
``--seconds``), the first stage's ``--shortlist`` pairs are scored the way
:func:`collage.mashup.retrieval.score_candidates` does, each step timed on its own: loading the
shortlisted songs' stems (once per song), placing the vocal, shifting and stretching the
harmonic stem and stretching the percussion stem (Rubber Band, fast mode), loudness
normalisation and the mix, AutoMashUpper's terms (the score breakdown), PreMixNet's features
(mel and chroma), and the network. Writes docs/results/mashup_second_stage_profile.md and .json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import db_vocals, loadavg, machine  # noqa: E402

from collage.audio.mix import mix_stems, normalize_loudness  # noqa: E402
from collage.mashup.dbclips import clips_from_db, vocal_clip  # noqa: E402
from collage.mashup.embed import vocal_embedding  # noqa: E402
from collage.mashup.generate import place_stem, vocal_starts  # noqa: E402
from collage.mashup.index import StemIndex  # noqa: E402
from collage.mashup.retrieval import scorer_model  # noqa: E402
from collage.mashup.score import FEATURE_SR, automashupper_score, learned_scores, mashup_features  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--queries", type=int, default=4)
    ap.add_argument("--shortlist", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=25.0)
    args = ap.parse_args()
    la_before = loadavg()
    index = StemIndex.load(args.db)
    model = scorer_model("premixnet")
    vocals = db_vocals(args.db)
    t = defaultdict(float)
    n_cand, n_songs_loaded, done = 0, 0, 0
    for name, path in vocals:
        if done >= args.queries:
            break
        try:
            seed = vocal_clip(path, sr=FEATURE_SR)
        except Exception:  # noqa: BLE001 - a vocal without beats alone is not a query
            continue
        secs = min(args.seconds, seed.duration)
        start = float(vocal_starts(seed, secs)[0])
        vec = vocal_embedding(seed.stem("vocals"), seed.sr, seed.downbeats, start, secs)
        picks = index.shortlist(vec, seed.key, seed.tempo, n=args.shortlist, seconds=secs, exclude=name)
        if not picks:
            continue
        done += 1
        c0 = time.perf_counter()
        pool = {c.id: c for c in clips_from_db(args.db, names={p["harmonic"] for p in picks} | {p["percussion"] for p in picks})}
        for c in pool.values():
            c.stem("harmonic"), c.stem("percussion")
            n_songs_loaded += 1
        t["load stems (once per song)"] += time.perf_counter() - c0
        beats = seed.beats[(seed.beats >= start) & (seed.beats < start + secs)] - start
        downs = seed.downbeats[(seed.downbeats >= start) & (seed.downbeats < start + secs)] - start
        feats = []
        for p in picks:
            n_cand += 1
            c0 = time.perf_counter()
            v = place_stem(seed.stem("vocals"), seed.sr, start_s=start, seconds=secs)
            c1 = time.perf_counter()
            h = place_stem(pool[p["harmonic"]].stem("harmonic"), seed.sr, start_s=p["harmonic_start_s"], seconds=secs,
                           ratio=p["harmonic_ratio"], semitones=p["harmonic_semitones"], high_quality=False)
            c2 = time.perf_counter()
            q = place_stem(pool[p["percussion"]].stem("percussion"), seed.sr, start_s=p["percussion_start_s"], seconds=secs,
                           ratio=p["percussion_ratio"], high_quality=False)
            c3 = time.perf_counter()
            audio = {r: normalize_loudness(y, seed.sr, target_lufs=-14.0) for r, y in (("vocals", v), ("harmonic", h), ("percussion", q))}
            audio["mix"] = mix_stems([audio[r] for r in ("vocals", "harmonic", "percussion")], seed.sr, stem_lufs=None, mix_lufs=-14.0)
            c4 = time.perf_counter()
            automashupper_score(audio, seed.sr, beats=beats, downbeats=downs)
            c5 = time.perf_counter()
            feats.append(mashup_features(audio, seed.sr))
            c6 = time.perf_counter()
            t["place vocal"] += c1 - c0
            t["shift + stretch harmonic (Rubber Band)"] += c2 - c1
            t["stretch percussion (Rubber Band)"] += c3 - c2
            t["loudness normalisation + mix"] += c4 - c3
            t["AutoMashUpper terms"] += c5 - c4
            t["PreMixNet features (mel x4, chroma x2)"] += c6 - c5
        c0 = time.perf_counter()
        learned_scores(feats, model)
        t["PreMixNet network"] += time.perf_counter() - c0
    total = sum(t.values())
    rows = [{"step": k, "ms_per_candidate": round(1000 * v / n_cand, 1), "share": round(v / total, 3)} for k, v in
            sorted(t.items(), key=lambda kv: -kv[1])]
    out = {"queries": done, "candidates": n_cand, "seconds": args.seconds, "total_s": round(total, 2),
           "ms_per_candidate": round(1000 * total / n_cand, 1), "steps": rows, "machine": machine(),
           "loadavg_before": la_before, "loadavg_after": loadavg(),
           "command": "OMP_NUM_THREADS=1 python benchmarks/mashup_second_stage_profile.py " + " ".join(sys.argv[1:])}
    (OUT / "mashup_second_stage_profile.json").write_text(json.dumps(out, indent=1) + "\n")
    table = "\n".join(f"| {r['step']} | {r['ms_per_candidate']} | {100 * r['share']:.1f} % |" for r in rows)
    md = "\n".join([
        "# Where the second stage of retrieval spends its time",
        "",
        f"{n_cand} shortlisted candidates ({done} vocals of the DB `{Path(args.db).name}`, {args.seconds:g} s mashups, "
        f"the first stage's best {args.shortlist} each), scored step by step as `retrieve` does (Rubber Band fast mode, "
        "one thread). Total {:.1f} ms per candidate.".format(1000 * total / n_cand),
        "",
        "| step | ms per candidate | share |",
        "|---|---|---|",
        table,
        "",
        f"Machine: {out['machine']}; load average before {la_before}, after {out['loadavg_after']} (2 shared cores).",
        "",
        f"Command: `{out['command']}`",
        "",
    ])
    (OUT / "mashup_second_stage_profile.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()

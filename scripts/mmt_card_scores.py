"""Write the measured scores into the shipped MMT weights' card (``src/collage/weights/mmt.json``).

Reads what ``collage eval generate`` wrote (``docs/results/generate.json``),
what ``benchmarks/generate_speed.py`` wrote (``docs/results/generate_speed.json``)
and the chosen sampling (``docs/results/generate_sampling.json``), checks that
all three measured the weights the card describes (sha256), and fills the
card's ``scores`` (:func:`collage.pretrained.update_card`); ``--note`` sets its ``note``. The card's other fields
(training command, data, curve) come from ``collage train mmt --export-only``.

Usage::

    python scripts/mmt_card_scores.py [--note "..."]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from collage.pretrained import load_card, update_card

RESULTS = Path(__file__).resolve().parent.parent / "docs/results"


def _r(x: float, n: int = 3) -> float:
    return round(float(x), n)


def scores(ev: dict, speed: dict) -> dict:
    obj = ev["objective"]
    cont = ev["continuation"]
    return {
        "sampling": {"temperature": ev["settings"]["temperature"], "top_k": ev["settings"]["top_k"],
                     "chosen_on": "validation split (docs/results/generate_sampling.md)"},
        "test_perplexity": {f: _r(v["perplexity"]) for f, v in ev["perplexity"].items() if isinstance(v, dict)},
        "test_sum_ce_nats": _r(ev["perplexity"]["sum_ce"], 4),
        "objective_64_beats": {side: {m: {"mean": _r(v["mean"]), "se": _r(v["se"])} for m, v in obj[side].items()}
                               for side in ("ground_truth", "samples")},
        "closer_than_paper": obj["closer_than_paper"],
        "copying": {"longest_run_bars_median": ev["copying"]["longest_run_bars"]["median"],
                    "longest_run_bars_max": ev["copying"]["longest_run_bars"]["max"],
                    "failures_over_8_bars": ev["copying"]["failures"], "n": ev["copying"]["longest_run_bars"]["n"]},
        "continuation": {k: cont[k] for k in ("pitch_class_distance", "repeats_prompt") if k in cont},
        "speed_notes_per_s_one_thread_kv_cache": _r(speed["median_notes_per_s"], 1),
        "peak_rss_mib": round(speed["peak_rss_mib"]),
        "reports": ["docs/results/generate.md", "docs/results/generate_speed.md",
                    "docs/results/generate_sampling.md"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--note", help="the card's note (size, budget, why)")
    a = ap.parse_args()
    card = load_card("mmt")
    ev = json.loads((RESULTS / "generate.json").read_text())
    speed = json.loads((RESULTS / "generate_speed.json").read_text())
    sampling = json.loads((RESULTS / "generate_sampling.json").read_text())
    for name, sha in (("generate.json", ev["model"]["sha256"]), ("generate_sampling.json", sampling["model"]["sha256"]),
                      ("generate_speed.json", speed.get("sha256", card["sha256"]))):
        if sha != card["sha256"]:
            print(f"{RESULTS / name}: measured weights {sha}, the card describes {card['sha256']}", file=sys.stderr)
            return 2
    fields = {"scores": scores(ev, speed)} | ({"note": a.note} if a.note else {})
    print(f"wrote the scores into {update_card('mmt', **fields)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

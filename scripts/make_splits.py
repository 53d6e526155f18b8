#!/usr/bin/env python
"""Regenerate the committed song-level splits in src/collage/datasets/splits/.

    python scripts/make_splits.py [pop909] [bach] [--out src/collage/datasets/splits]

* ``pop909.json``: all 909 POP909 song ids (1..909, whether or not the data
  is present: the ids are fixed by the dataset), permuted with
  ``numpy.random.default_rng(909)``; 80/10/10 -> 727/91/91 songs.
* ``bach.json``: every MusicXML file of music21's ``bach`` corpus folder
  kept by the rule of :mod:`collage.datasets.bach` (the authors' rule: 409
  files in the paper), permuted with ``default_rng(371)``; the skipped ones
  are listed with the reason. Parses every file with music21 (a few minutes).

Running it again with the same numpy and music21 versions reproduces the files
byte for byte; tests check the committed files against this procedure.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from collage.datasets.cache import make_split
from collage.io.atomic import atomic_path

OUT = Path(__file__).resolve().parents[1] / "src" / "collage" / "datasets" / "splits"
POP909_SEED, BACH_SEED = 909, 371
FRACTIONS = (0.8, 0.1, 0.1)


def pop909_split() -> dict:
    split = make_split(list(range(1, 910)), seed=POP909_SEED, fractions=FRACTIONS)
    return {
        "dataset": "pop909",
        "unit": "song id (folder NNN/ of POP909)",
        "method": "sorted ids permuted by numpy.random.default_rng(seed).permutation; first 80% train, next 10% val, rest test",
        "seed": POP909_SEED,
        "fractions": list(FRACTIONS),
        **split,
    }


def bach_split() -> dict:
    import music21

    from collage.datasets.bach import corpus_files, load_chorale
    from collage.errors import InvalidScoreError

    names = sorted(corpus_files())
    kept, skipped = [], {}
    for i, name in enumerate(names):
        try:
            load_chorale(name)  # parses (and caches) with the dataset's own rule
        except InvalidScoreError as e:  # record and go on
            skipped[name] = e.problem
            continue
        kept.append(name)
        if (i + 1) % 50 == 0:
            logging.info("bach: %d/%d parsed, %d kept", i + 1, len(names), len(kept))
    split = make_split(kept, seed=BACH_SEED, fractions=FRACTIONS)
    return {
        "dataset": "bach",
        "unit": "chorale (file stem of music21's corpus bach/<id>.mxl or .xml)",
        "source": f"music21 {music21.__version__} corpus folder bach/, every *.mxl and *.xml file",
        "method": (
            "the inclusion rule of the authors' collect_bach.py (parts named Soprano/Alto/Tenor/Bass, "
            "at least two with more than ten notes); sorted ids permuted by "
            "numpy.random.default_rng(seed).permutation; 80/10/10"
        ),
        "seed": BACH_SEED,
        "fractions": list(FRACTIONS),
        "n_candidates": len(names),
        "n_kept": len(kept),
        "skipped": skipped,
        **split,
    }


def write(data: dict, path: Path) -> None:
    with atomic_path(path) as tmp:
        lines = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in data.items()]
        tmp.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    sizes = {k: len(data[k]) for k in ("train", "val", "test")}
    print(f"wrote {path} {sizes}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("which", nargs="*", default=["pop909", "bach"], choices=["pop909", "bach"])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if "pop909" in args.which:
        write(pop909_split(), args.out / "pop909.json")
    if "bach" in args.which:
        write(bach_split(), args.out / "bach.json")


if __name__ == "__main__":
    main()

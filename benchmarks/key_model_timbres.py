"""Does fitting the key model on more timbres help? (session 18; docs/results/mashup.md)

    OMP_NUM_THREADS=2 python benchmarks/key_model_timbres.py --out docs/results/key_model_timbres.json

K0 is the shipped learned per-octave profile (``pop909-octaves``, fitted on the train clips rendered
with the training soundfonts); K1 has the same form and L2 weight (linear, 1e-3) fitted on those
clips and on the same clips rendered with the ``opl3`` soundfont. Both are scored (MIREX weighted,
:func:`collage.training.key_model._score`) on the val clips rendered with the unseen ``gmbank``
soundfont (77 songs) and with the training soundfonts (40 songs), for each input (vocals +
harmonic, vocals, harmonic). Renders and caches what is missing under ``--data-root``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from collage.audio.analyze import _octave_model
from collage.training.key_model import INPUTS, _score, clip_octaves, fit_key_model
from collage.mashup.rendered import render_timbre


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default="runs/mashup")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    tr, ktr, _ = clip_octaves("train", 694, root=a.data_root)
    tro, ktro, _ = clip_octaves("train", 694, root=render_timbre("train", 694, "opl3", root=a.data_root))
    vg, kvg, _ = clip_octaves("val", 77, root=render_timbre("val", 77, "gmbank", root=a.data_root))
    vt, kvt, _ = clip_octaves("val", 40, root=a.data_root)
    if not (ktr == ktro).all():
        raise SystemExit("the opl3 renders do not share the clips of the training-font renders")
    k1 = fit_key_model(np.concatenate([tr[i] for i in INPUTS] + [tro[i] for i in INPUTS]),
                       np.concatenate([ktr] * (2 * len(INPUTS))), hidden=0, weight_decay=1e-3)
    rows = {}
    for name, model in (("K0 shipped", _octave_model("pop909-octaves")), ("K1 training fonts + opl3", k1)):
        rows[name] = {s: {i: round(_score(k, o[i], model), 4) for i in INPUTS}
                      for s, (o, k) in (("val_gmbank_77", (vg, kvg)), ("val_train_fonts_40", (vt, kvt)))}
        print(name, rows[name], flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps({"command": " ".join(["python", *sys.argv]), "train_clips": int(len(ktr)),
                                           "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

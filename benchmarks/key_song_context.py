"""Is a clip's key better told in its song? Val selection of the key's context (session 19; docs/results/mashup.md).

    OMP_NUM_THREADS=1 python benchmarks/key_song_context.py [--data-root runs/mashup]

The key of each val clip (the 30 s mashup clips, rendered by ``collage train mashability``'s data
step) is found by the shipped key model (``pop909-octaves``) from ``(1 - w) * clip + w * song``,
each the octave chroma (:func:`collage.audio.analyze.octave_chroma`) of vocals + harmonic scaled to
sum 1, where ``song`` is the whole song rendered with the same soundfont and programs
(:func:`collage.mashup.stems.render_pop909_song`). Two val sets: the 77 4/4 val songs rendered with
the unseen ``gmbank`` soundfont and the 40 val songs rendered with the training soundfonts. MIREX
weighted score against the key sounding longest in the clip. ``w = 0`` is the clip alone.
Writes docs/results/key_song_context.json and .md. Whole-song octave chroma is cached in
``--data-root`` (``key_song_octaves_*.npz``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import loadavg, machine  # noqa: E402

from collage.audio.analyze import _octave_model, octave_chroma, tonal_part  # noqa: E402
from collage.mashup.stems import EXTRA_SOUNDFONTS, pick_soundfont, render_pop909_song  # noqa: E402
from collage.training.key_model import _score, clip_octaves  # noqa: E402
from collage.mashup.rendered import render_timbre  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
SR = 22050  # the songs are rendered at the MashupDB build's default rate (the clips are at 16 kHz)


def song_octaves(songs, timbre: str | None, cache: Path) -> np.ndarray:
    """``(N, 7, 12)`` whole-song octave chroma of vocals + harmonic (``timbre`` None: each song's own soundfont)."""
    if cache.is_file():
        with np.load(cache) as z:
            if z["songs"].tolist() == [int(s) for s in songs]:
                return z["octaves"]
    out = []
    for k, sid in enumerate(songs):
        sf2 = pick_soundfont(int(sid)) if timbre is None else EXTRA_SOUNDFONTS[timbre]
        out.append(octave_chroma(tonal_part(**render_pop909_song(int(sid), soundfont=sf2, sr=SR)), SR))
        print(f"  {cache.name}: {k + 1}/{len(songs)}", flush=True)
    out = np.asarray(out)
    np.savez(cache, songs=np.asarray(songs), octaves=out)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default="runs/mashup")
    a = ap.parse_args(argv)
    t0 = time.time()
    root = Path(a.data_root)
    model = _octave_model("pop909-octaves")
    sets = {"val_gmbank_77": (77, "gmbank", render_timbre("val", 77, "gmbank", root=root)),
            "val_train_fonts_40": (40, None, root)}
    rows, n = {}, {}
    for name, (n_songs, timbre, set_root) in sets.items():
        clip, keys, songs = clip_octaves("val", n_songs, root=set_root)
        clip = clip["tonal"]
        song = song_octaves(songs, timbre, root / f"key_song_octaves_val_{n_songs}_{timbre or 'own'}.npz")
        unit = lambda x: x / x.sum(axis=(-2, -1), keepdims=True)  # noqa: E731
        rows[name] = {str(w): round(_score(keys, (1 - w) * unit(clip) + w * unit(song), model), 4) for w in WEIGHTS}
        n[name] = int(len(keys))
        print(name, rows[name], flush=True)
    mean = {str(w): round(float(np.mean([r[str(w)] for r in rows.values()])), 4) for w in WEIGHTS}
    res = {"rows": rows, "mean": mean, "n": n, "machine": machine(), "loadavg_after": loadavg(),
           "seconds": round(time.time() - t0, 1), "command": " ".join(["OMP_NUM_THREADS=1 python benchmarks/key_song_context.py",
                                                      *(sys.argv[1:] if argv is None else argv)])}
    (OUT / "key_song_context.json").write_text(json.dumps(res, indent=1) + "\n")
    lines = ["# The key of a clip heard in its song (val selection, session 19)", "",
             "Shipped key model (`pop909-octaves`); the clip's key from `(1 - w) * clip + w * song` octave chroma "
             "(vocals + harmonic, each scaled to sum 1; the song rendered whole with the clip's soundfont and programs). "
             "MIREX weighted score against the key sounding longest in the clip (`key_audio.txt`).", "",
             "| w (weight of the song) | " + " | ".join(f"{k} (n={n[k]})" for k in rows) + " | mean |",
             "|---|" + "---|" * (len(rows) + 1)]
    lines += [f"| {w} | " + " | ".join(f"{rows[k][str(w)]:.3f}" for k in rows) + f" | {mean[str(w)]:.3f} |" for w in WEIGHTS]
    lines += ["", f"Machine: {res['machine']}; wall time {res['seconds']:.0f} s. Command: `{res['command']}`", ""]
    (OUT / "key_song_context.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

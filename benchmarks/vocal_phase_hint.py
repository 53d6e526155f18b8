"""How often is `collage mashup score`'s downbeat-phase hint right? (session 19; docs/results/mashup.md)

    OMP_NUM_THREADS=1 python benchmarks/vocal_phase_hint.py [--data-root runs/mashup]

On the 77 val originals rendered with the unseen gmbank soundfont (a vocal with its own harmonic
and percussion stems, so the true phase is 0), the hint as ``score_combination`` computes it: the
vocal's downbeats from its own beats (:func:`collage.audio.analyze.estimate_downbeats`), the
percussion's from its beats, the offset in bars of the vocal's tempo
(:func:`collage.mashup.combination.downbeat_phase`). The vocal's tempo and beats by two rules: the
backbeat test (``track_beats`` as for a mix) and the tempo prior alone (``backbeat_min=inf``).
Reports the share within ±0.1 bar and the vocal's tempo octave errors. Writes
docs/results/vocal_phase_hint.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from collage.audio.analyze import estimate_downbeats, track_beats
from collage.mashup.rendered import load_rendered_clips, split_songs, timbre_root
from collage.mashup.combination import downbeat_phase

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"
RULES = {"backbeat": {}, "prior": {"backbeat_min": float("inf")}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default="runs/mashup")
    a = ap.parse_args(argv)
    clips = load_rendered_clips("val", root=timbre_root(a.data_root, "gmbank"), songs=split_songs("val", 77))
    rows = {r: {"phase_within_0.1_bar": 0, "tempo_octave_errors": 0} for r in RULES}
    for c in clips:
        v, sr = sf.read(c.stems["vocals"], dtype="float32")
        p, _ = sf.read(c.stems["percussion"], dtype="float32")
        _, beats_p = track_beats(None, sr, percussion=p)
        down_p = estimate_downbeats(beats_p, sr, percussion=p)
        for name, kw in RULES.items():
            tempo_v, beats_v = track_beats(v, sr, **kw)
            down_v = estimate_downbeats(beats_v, sr, harmonic=v)
            phase = downbeat_phase(down_v if len(down_v) else beats_v, tempo_v, down_p if len(down_p) else beats_p)
            rows[name]["phase_within_0.1_bar"] += abs(phase) <= 0.1
            rows[name]["tempo_octave_errors"] += abs(np.log2(tempo_v / c.tempo)) > 0.5
    for r in rows.values():
        r["phase_within_0.1_bar"] = round(r["phase_within_0.1_bar"] / len(clips), 4)
        r["tempo_octave_errors"] = int(r["tempo_octave_errors"])
    res = {"n_clips": len(clips), "rows": rows,
           "command": " ".join(["OMP_NUM_THREADS=1 python benchmarks/vocal_phase_hint.py", *(sys.argv[1:] if argv is None else argv)])}
    (OUT / "vocal_phase_hint.json").write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Which VAE's round trip costs the harmony that latent fusion methods can reach.

    OMP_NUM_THREADS=1 python benchmarks/fusion_roundtrip.py [--pairs 1000] [--melody-vae NAME|PT --out FILE]

On harmonic (Ωh) POP909 test pairs (beats grid, the draws of ``collage eval fusion``), the
shipped harmony judge's rate for: the original pair; both tracks through their VAEs (encode
to the posterior mean, decode); only the melody through the melody VAE; only the
accompaniment through the accompaniment VAE. Also the melody VAE's pitch accuracy at note
onsets on 1024 val segments, teacher-forced and free-running (decoding from the mean;
:func:`collage.training.melody_vae.evaluate_melody_vae`).
``--melody-vae`` measures a candidate melody VAE (e.g. a run's weights) in place of the shipped
one. Writes docs/results/fusion_roundtrip.json (or ``--out``) and prints it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"


def main() -> None:
    from collage.datasets.pop909 import harmonic_pairs, pop909_segments
    from collage.evaluation.fusion import load_fusion_models
    from collage.fusion.gradient import decode_latents, encode_pairs
    from collage.training.data import SegmentTensors
    from collage.training.latents import segment_chords
    from collage.training.melody_vae import evaluate_melody_vae

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--melody-vae", default=None, help="melody-VAE weights to measure (default: the shipped ones)")
    ap.add_argument("--out", type=Path, default=OUT / "fusion_roundtrip.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    m = load_fusion_models()
    if args.melody_vae is not None:
        from collage.pretrained import load_pretrained

        m["mel_vae"] = load_pretrained(args.melody_vae)
    segs = pop909_segments("test", grid="beats")
    ph = harmonic_pairs(segs, args.pairs, 0)
    mel = [segs.melody(int(i)) for i in ph[:, 0]]
    acc = [segs.accomp(int(j)) for j in ph[:, 1]]
    za, zb = encode_pairs(m["mel_vae"], m["acc_vae"], mel, acc, chords=segment_chords(segs, ph[:, 1]))
    d_mel, d_acc = decode_latents(m["mel_vae"], m["acc_vae"], za, zb)

    def rate(a, b):
        return round(float((m["judge"].score(a, b) > 0.5).mean()), 4)

    res = {"pairs": len(mel), "melody_vae": args.melody_vae or "melody_vae (shipped)",
           "harmony_rate": {"original": rate(mel, acc), "both_round_trip": rate(d_mel, d_acc),
                            "melody_round_trip_only": rate(d_mel, acc), "accomp_round_trip_only": rate(mel, d_acc)}}
    ev = evaluate_melody_vae(m["mel_vae"], SegmentTensors(pop909_segments("val", grid="beats")), n=1024)
    res["melody_vae_onset_pitch_acc"] = {"teacher_forced": round(ev["onset_pitch_acc_tf"], 4),
                                         "free_running": round(ev["onset_pitch_acc_free"], 4)}
    res["machine"] = machine()
    res["command"] = "OMP_NUM_THREADS=1 python benchmarks/fusion_roundtrip.py " + " ".join(sys.argv[1:])
    args.out.write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

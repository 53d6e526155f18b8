"""Val checks for a melody VAE candidate that shares the shipped encoder (``--freeze-encoder``).

    OMP_NUM_THREADS=1 python benchmarks/melody_decoder_choice.py --candidate runs/s20/weights_mvae_dec/melody_vae.pt

For the shipped ``melody_vae`` and the candidate, on the val split only:

1. free-running pitch at note onsets and token accuracy (``evaluate_melody_vae``, 2000 val segments,
   seed 0: the card's ``val_eval``);
2. CollageNet's harmony rate: the default actor at its iterations, controls 0.5, on the 500 val Ωdh
   latent pairs of ``actor_val_metrics`` (the draw that chose the actors and their iterations);
   the latents are the same for both, since the encoder is;
3. the harmony rate of 1000 val Ωh pairs with both tracks through their VAEs.

The rule (``docs/results/melody_vae.md``, session 20): the candidate replaces the shipped decoder if
1 rises by >= 0.01 and neither 2 nor 3 falls. Writes ``docs/results/melody_decoder_choice.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results" / "melody_decoder_choice.json"


def main() -> None:
    from collage.datasets.pop909 import harmonic_pairs, pop909_segments
    from collage.fusion.gradient import decode_latents, encode_pairs
    from collage.pretrained import load_pretrained
    from collage.training.critic_actor import actor_val_metrics, as_pairing
    from collage.training.data import SegmentTensors
    from collage.training.latents import cached_latents, segment_chords
    from collage.training.melody_vae import evaluate_melody_vae

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidate", required=True, help="the candidate melody VAE (.pt)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    torch.set_num_threads(1)

    shipped, cand = load_pretrained("melody_vae"), load_pretrained(args.candidate)
    enc = ("encoder.", "to_mu.", "to_logvar.")
    s_sd, c_sd = shipped.state_dict(), cand.state_dict()
    if not all(torch.equal(s_sd[k], c_sd[k]) for k in s_sd if k.startswith(enc)):
        raise SystemExit(f"{args.candidate}: its encoder differs from the shipped one; this check needs a shared encoder")
    acc_vae, judge = load_pretrained("accomp_vae"), load_pretrained("harmony_judge")
    actor, critic = load_pretrained("latent_actor"), load_pretrained("latent_critic")

    segs = pop909_segments("val", grid="beats")
    data = SegmentTensors(segs)
    val_lat = as_pairing(cached_latents(shipped, acc_vae, "val", max_segments=1000, seed=0))
    pairs = harmonic_pairs(segs, 1000, 0)
    mels = [segs.melody(int(i)) for i in pairs[:, 0]]
    accs = [segs.accomp(int(j)) for j in pairs[:, 1]]
    za, zb = encode_pairs(shipped, acc_vae, mels, accs, chords=segment_chords(segs, pairs[:, 1]))

    rows = {}
    for name, vae in (("shipped", shipped), ("candidate", cand)):
        ev = evaluate_melody_vae(vae, data, n=2000, seed=0)
        fus = actor_val_metrics(actor, critic, val_lat, mel_vae=vae, acc_vae=acc_vae, judge=judge)
        om, oa = decode_latents(vae, acc_vae, za, zb)
        rows[name] = {
            "onset_pitch_acc_free": ev["onset_pitch_acc_free"], "acc_free": ev["acc_free"], "acc_tf": ev["acc_tf"],
            "rhythm_acc_free": ev["rhythm_acc_free"],
            "collagenet_val_harmony": fus["val_harmony"],
            "omega_h_roundtrip_harmony": float((judge.score(om, oa) > 0.5).mean()),
        }
        print(name, json.dumps(rows[name]), flush=True)
    s, c = rows["shipped"], rows["candidate"]
    checks = {
        "onset_pitch_gain_ge_0.01": c["onset_pitch_acc_free"] - s["onset_pitch_acc_free"] >= 0.01,
        "collagenet_harmony_not_lower": c["collagenet_val_harmony"] >= s["collagenet_val_harmony"],
        "omega_h_roundtrip_not_lower": c["omega_h_roundtrip_harmony"] >= s["omega_h_roundtrip_harmony"],
    }
    result = {"candidate": args.candidate, "rows": rows, "checks": checks, "ship": all(checks.values()),
              "iterations": int(actor.config.iterations), "machine": machine(),
              "command": "OMP_NUM_THREADS=1 python benchmarks/melody_decoder_choice.py --candidate " + args.candidate}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"checks": checks, "ship": result["ship"]}, indent=2))


if __name__ == "__main__":
    main()

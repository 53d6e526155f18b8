"""Val checks for a VAE candidate that shares the shipped encoder (trained with ``--freeze-encoder``).

    OMP_NUM_THREADS=1 python benchmarks/decoder_choice.py --part melody --candidate runs/s20/weights_mvae_dec/melody_vae.pt
    OMP_NUM_THREADS=1 python benchmarks/decoder_choice.py --part accomp --candidate runs/s20/weights_avae_dec/accomp_vae.pt

For the shipped VAE of that part and the candidate, on the val split only:

1. the VAE's own reconstruction score: for the melody, free-running pitch at note onsets
   (``evaluate_melody_vae``, 2000 val segments, seed 0: the card's ``val_eval``); for the
   accompaniment, free-running note F1 (``evaluate_accomp_vae`` on ``fixed_subset(2000, seed=1)``:
   the card's scores);
2. CollageNet's harmony rate: the default actor at its iterations, controls 0.5, on the 500 val Ωdh
   latent pairs of ``actor_val_metrics`` (the draw that chose the actors and their iterations);
   the latents are the same for both, since the encoder is;
3. the harmony rate of 1000 val Ωh pairs with both tracks through their VAEs.

The rules (``docs/results/melody_vae.md`` and ``accomp_vae.md``, session 20): the candidate replaces
the shipped VAE if 1 rises by >= 0.01 and neither 2 nor 3 falls. Writes
``docs/results/{melody,accomp}_decoder_choice.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"
SHIPPED = {"melody": "melody_vae", "accomp": "accomp_vae"}
SCORE = {"melody": "onset_pitch_acc_free", "accomp": "note_f1"}


def own_scores(part: str, vae, data) -> dict:
    """The VAE's reconstruction scores on the card's val segments."""
    if part == "melody":
        from collage.training.melody_vae import evaluate_melody_vae

        ev = evaluate_melody_vae(vae, data, n=2000, seed=0)
        return {k: ev[k] for k in ("onset_pitch_acc_free", "acc_free", "acc_tf", "rhythm_acc_free")}
    from collage.training.accomp_vae import evaluate_accomp_vae

    idx = data.fixed_subset(2000, seed=1)
    ev = evaluate_accomp_vae(vae, torch.from_numpy(data.chords(idx)), torch.from_numpy(data.prmat(idx)))
    return {k: ev[k] for k in ("note_f1", "note_precision", "note_recall", "onset_f1", "pitch_acc_given_onset")}


def main() -> None:
    from collage.datasets.pop909 import harmonic_pairs, pop909_segments
    from collage.fusion.gradient import decode_latents, encode_pairs
    from collage.pretrained import find_weights, load_pretrained
    from collage.training.critic_actor import actor_val_metrics, as_pairing
    from collage.training.data import SegmentTensors
    from collage.training.latents import cached_latents, segment_chords

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=sorted(SHIPPED), required=True)
    ap.add_argument("--candidate", required=True, help="the candidate VAE (.pt)")
    ap.add_argument("--out", default=None, help="default: docs/results/<part>_decoder_choice.json")
    args = ap.parse_args()
    torch.set_num_threads(1)

    shipped, cand = load_pretrained(SHIPPED[args.part]), load_pretrained(args.candidate)
    if args.part == "melody":
        from collage.training.melody_vae import ENCODER_MODULES
    else:
        from collage.training.accomp_vae import ENCODER_MODULES
    enc = tuple(m + "." for m in ENCODER_MODULES)
    s_sd, c_sd = shipped.state_dict(), cand.state_dict()
    if not all(torch.equal(s_sd[k], c_sd[k]) for k in s_sd if k.startswith(enc)):
        raise SystemExit(f"{args.candidate}: its encoder differs from the shipped one; this check needs a shared encoder")
    mel_vae = shipped if args.part == "melody" else load_pretrained("melody_vae")
    acc_vae = shipped if args.part == "accomp" else load_pretrained("accomp_vae")
    judge = load_pretrained("harmony_judge")
    actor, critic = load_pretrained("latent_actor"), load_pretrained(find_weights("latent_critic"))

    segs = pop909_segments("val", grid="beats")
    data = SegmentTensors(segs)
    val_lat = as_pairing(cached_latents(mel_vae, acc_vae, "val", max_segments=1000, seed=0))
    pairs = harmonic_pairs(segs, 1000, 0)
    mels = [segs.melody(int(i)) for i in pairs[:, 0]]
    accs = [segs.accomp(int(j)) for j in pairs[:, 1]]
    za, zb = encode_pairs(mel_vae, acc_vae, mels, accs, chords=segment_chords(segs, pairs[:, 1]))

    rows = {}
    for name, vae in (("shipped", shipped), ("candidate", cand)):
        m, a = (vae, acc_vae) if args.part == "melody" else (mel_vae, vae)
        fus = actor_val_metrics(actor, critic, val_lat, mel_vae=m, acc_vae=a, judge=judge)
        om, oa = decode_latents(m, a, za, zb)
        rows[name] = {**own_scores(args.part, vae, data), "collagenet_val_harmony": fus["val_harmony"],
                      "omega_h_roundtrip_harmony": float((judge.score(om, oa) > 0.5).mean())}
        print(name, json.dumps(rows[name]), flush=True)
    s, c = rows["shipped"], rows["candidate"]
    key = SCORE[args.part]
    checks = {
        f"{key}_gain_ge_0.01": c[key] - s[key] >= 0.01,
        "collagenet_harmony_not_lower": c["collagenet_val_harmony"] >= s["collagenet_val_harmony"],
        "omega_h_roundtrip_not_lower": c["omega_h_roundtrip_harmony"] >= s["omega_h_roundtrip_harmony"],
    }
    result = {"part": args.part, "candidate": args.candidate, "rows": rows, "checks": checks,
              "ship": all(checks.values()), "iterations": int(actor.config.iterations), "machine": machine(),
              "command": f"OMP_NUM_THREADS=1 python benchmarks/decoder_choice.py --part {args.part} "
                         f"--candidate {args.candidate}"}
    out = Path(args.out or RESULTS / f"{args.part}_decoder_choice.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"checks": checks, "ship": result["ship"]}, indent=2))


if __name__ == "__main__":
    main()

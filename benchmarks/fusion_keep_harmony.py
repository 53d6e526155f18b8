"""CollageNet's harmony rate against one keep level for all four controls, on val pairs.

    OMP_NUM_THREADS=1 python benchmarks/fusion_keep_harmony.py

For 500 val Ωdh pairs (clashing) and 500 val Ωh pairs (already fitting), seed 1, posterior means:
the shipped default actor with every control at c, applied once and at its default iterations;
each output decoded by the shipped VAEs and rated by the harmony judge. c = 1 is the VAE round
trip. Shows what a musician trades when raising the controls, and what fusion does to a pair
that already fits. Writes ``docs/results/fusion_keep_harmony.{json,md}`` (about 3 min on one thread).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"
LEVELS = (0.0, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


def main() -> None:
    from collage.datasets.pop909 import disharmonic_pairs, harmonic_pairs, pop909_segments
    from collage.fusion.gradient import decode_latents, encode_pairs
    from collage.pretrained import load_pretrained
    from collage.training.latents import segment_chords

    torch.set_num_threads(1)
    mel_vae, acc_vae = load_pretrained("melody_vae"), load_pretrained("accomp_vae")
    judge, actor = load_pretrained("harmony_judge"), load_pretrained("latent_actor")
    k_default = int(actor.config.iterations)
    segs = pop909_segments("val", grid="beats")
    rates: dict[str, dict[str, dict[str, float]]] = {}
    for kind, draw in (("omega_dh", disharmonic_pairs), ("omega_h", harmonic_pairs)):
        pairs = draw(segs, 500, 1)
        mels = [segs.melody(int(i)) for i in pairs[:, 0]]
        accs = [segs.accomp(int(j)) for j in pairs[:, 1]]
        za, zb = encode_pairs(mel_vae, acc_vae, mels, accs, chords=segment_chords(segs, pairs[:, 1]))
        rates[kind] = {"originals": {"all": float((judge.score(mels, accs) > 0.5).mean())}}
        for c in LEVELS:
            row = {}
            for k in sorted({1, k_default}):
                with torch.no_grad():
                    ha, hb = actor.transform(za, zb, torch.full((len(za), 4), c), iterations=k)
                m, a = decode_latents(mel_vae, acc_vae, ha, hb)
                row[f"K={k}"] = float((judge.score(m, a) > 0.5).mean())
            rates[kind][f"{c:g}"] = row
            print(kind, c, row, flush=True)
    lines = ["# CollageNet's harmony against the keep level", "",
             f"`OMP_NUM_THREADS=1 python benchmarks/fusion_keep_harmony.py` on {machine()}. 500 val pairs of each "
             f"kind (seed 1); all four controls at c; the default actor (`latent_actor`) applied once (K = 1) and at "
             f"its default K = {k_default}; harmony judge on the decoded notes. c = 1 is the VAE round trip.", "",
             "| keep c | Ωdh, K = 1 | Ωdh, K = " + str(k_default) + " | Ωh, K = 1 | Ωh, K = " + str(k_default) + " |",
             "|---:|---:|---:|---:|---:|"]
    ks = [f"K={k}" for k in (1, k_default)]
    for c in LEVELS:
        d, h = rates["omega_dh"][f"{c:g}"], rates["omega_h"][f"{c:g}"]
        lines.append(f"| {c:g} | " + " | ".join(f"{r[k]:.1%}" for r in (d, h) for k in ks) + " |")
    lines.append(f"| originals | {rates['omega_dh']['originals']['all']:.1%} | | "
                 f"{rates['omega_h']['originals']['all']:.1%} | |")
    (RESULTS / "fusion_keep_harmony.json").write_text(json.dumps(
        {"pairs": 500, "seed": 1, "split": "val", "default_iterations": k_default, "rates": rates,
         "machine": machine(), "command": "OMP_NUM_THREADS=1 python benchmarks/fusion_keep_harmony.py"}, indent=1) + "\n")
    text = "\n".join(lines) + "\n"
    (RESULTS / "fusion_keep_harmony.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

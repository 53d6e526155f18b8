"""The fast second stage's convolutions in the channels-last memory layout against the default one, on one core.

    OMP_NUM_THREADS=1 python benchmarks/mashup_channels_last.py

:class:`collage.mashup.fastscore.FastScorer` runs PreMixNet's SourceNets and its head's frame-wise
part as chains of fused convolutions (:func:`collage.mashup.fastscore._fused`), with channels-last
weights and inputs. Side by side in one process (alternating, each the fastest of ``--repeats``): one
scorer as shipped and one whose chains' convolutions are put back in the default layout, on the two
calls retrieval spends its time in: a role's SourceNet share of 32 windows (``_share``: the second
stage per segment, the shares stored at build time) and the head on 4,800 pairs of shares
(``pair_logits``: a shares round of 300 segments x 8 partners x 2 sides; the second stage per pair; the default
layout's pairs gathered as before the change, each pair's three shares indexed and summed channels first, the
shipped one's from the vocal-plus-harmonic sums and the percussion shares, channels last, by ``index_select``).
Also the largest difference of their outputs. Writes docs/results/mashup_channels_last.md and .json.
"""

from __future__ import annotations

import argparse
import copy
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import best_time, loadavg, machine, write_results  # noqa: E402

from collage.mashup import fastscore  # noqa: E402
from collage.mashup.retrieval import scorer_model  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"


def _combine_channels_first(self, sides, hi, pi, batch):
    """``FastScorer._combine`` as it was before the channels-last layout: each pair's three shares gathered by
    indexing, channels first (``sides``: the shares as given, :func:`_sides_as_given`)."""
    v, H, P, HH = sides
    out = []
    with torch.no_grad():
        for s in range(0, len(hi), batch):
            a, b = hi[s: s + batch], pi[s: s + batch]
            x = v[None] + H[a] + P[b]
            B, W = x.shape[:2]
            h = self._pooled(x.reshape(B * W, *x.shape[2:]))
            if HH is not None:
                h = torch.cat([h, HH[a].reshape(B * W, -1)], dim=1)
            out.append(torch.softmax(self.model.head(h), dim=1)[:, 0].reshape(B, W).mean(1).numpy())
    return np.concatenate(out).astype(np.float32)


def _sides_as_given(self, v, H, P, HH=None):
    """``FastScorer.pair_sides`` before the channels-last layout: the shares as they are, laid out per call."""
    return torch.as_tensor(v), torch.as_tensor(H), torch.as_tensor(P), HH


def default_layout(scorer: fastscore.FastScorer) -> fastscore.FastScorer:
    """A copy of ``scorer`` whose chains run in the default (channels-first) layout, its pairs gathered as before."""
    other = copy.copy(scorer)
    other._combine = types.MethodType(_combine_channels_first, other)
    other.pair_sides = types.MethodType(_sides_as_given, other)

    def plain(chain):
        return fastscore._Chain([copy.deepcopy(m).to(memory_format=torch.contiguous_format)
                                 if isinstance(m, torch.nn.Conv2d) else m for m in chain.steps])

    other._sources = [plain(c) for c in scorer._sources]
    other._rest = plain(scorer._rest)
    other._w = [w.contiguous() for w in scorer._w]
    return other


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(1)
    shipped = fastscore.FastScorer(scorer_model("premixnet"))
    scorers = {"channels-last (shipped)": shipped, "default layout": default_layout(shipped)}
    rng = np.random.default_rng(0)
    mel = rng.standard_normal((32, shipped.cfg.n_mels, 256)).astype(np.float32)  # 32 windows of 256 frames
    W, c, T, n = 3, shipped.cfg.c1d, 32, 300
    v, H, P = torch.randn(W, c, T, 1), torch.randn(n, W, c, T, 1), torch.randn(n, W, c, T, 1)
    HH = torch.randn(n, W, 2 * shipped.cfg.harmony)
    a, b = rng.integers(0, n, 4800), rng.integers(0, n, 4800)
    calls = {"SourceNet share, 32 windows (percussion)": lambda s: s._share(2, mel),
             "head, 4,800 pairs": lambda s: s.pair_logits(s.pair_sides(v, H, P, HH), a, b)}
    rows = []
    for what, call in calls.items():
        outs = {k: np.asarray(call(s)) for k, s in scorers.items()}
        ms = {k: [] for k in scorers}
        for _ in range(args.repeats):  # alternating, so both see the same machine
            for k, s in scorers.items():
                ms[k].append(1000 * best_time(lambda s=s: call(s), 1))
        a_, b_ = outs.values()
        rows.append({"call": what, "ms": {k: round(min(v), 2) for k, v in ms.items()},
                     "max_difference": float(np.abs(a_ - b_).max())})
    out = {"rows": rows, "repeats": args.repeats, "machine": machine(), "loadavg_after": loadavg(),
           "command": "OMP_NUM_THREADS=1 python benchmarks/mashup_channels_last.py " + " ".join(sys.argv[1:])}
    lines = ["# The fast second stage's convolutions: channels-last against the default layout", "",
             "PreMixNet's SourceNets and its head's frame-wise convolution, as `FastScorer` runs them (fused "
             "convolutions, one thread), side by side in one process, each the fastest of "
             f"{args.repeats} alternating runs. The maps have 1-32 channels; oneDNN's convolutions are faster "
             "with the channels last. For the head, the default layout's pairs are gathered as before "
             "(each pair's vocal, harmonic and percussion shares indexed and summed, channels first), the "
             "shipped one's from the vocal-plus-harmonic sums and the percussion shares kept channels last, by "
             "`index_select`.", "",
             "| call | default layout (ms) | channels-last (ms) | speed-up | largest output difference |",
             "|---|---|---|---|---|"]
    for r in rows:
        d, cl = r["ms"]["default layout"], r["ms"]["channels-last (shipped)"]
        lines.append(f"| {r['call']} | {d} | {cl} | {d / cl:.2f}x | {r['max_difference']:.1e} |")
    lines += ["", "The SourceNet share is the second stage's cost per stem segment and the stored shares' at build "
              "time; the head is the shares rounds' cost per pair and the second stage's."]
    write_results(OUT, "mashup_channels_last", out, lines)


if __name__ == "__main__":
    main()

"""The fast second stage's convolutions in the layouts it runs them in, against the ones it ran before, on one core.

    OMP_NUM_THREADS=1 python benchmarks/mashup_channels_last.py

:class:`collage.mashup.fastscore.FastScorer` runs PreMixNet's SourceNets as chains of fused convolutions
(:func:`collage.mashup.fastscore._fused`) with channels-last weights and inputs, and the head's frame-wise part
(one frame wide) as a fused 1-D convolution on maps ``(N, c1d, T'')`` (:class:`collage.mashup.fastscore._FrameHead`).
Side by side in one process (alternating, each the fastest of ``--repeats``), on the two calls retrieval spends its
time in: a role's SourceNet share of 32 windows (``_share``: the second stage per segment, the shares stored at build
time), shipped against its chains put back in the default layout; and the head on 4,800 pairs of shares
(``pair_logits``: a shares round of 300 segments x 8 partners x 2 sides; the second stage per pair), shipped against
the two ways it ran before: the 2-D chain in the channels-last layout (the pairs' shares kept channels last,
gathered by ``index_select``), and the 2-D chain in the default layout (each pair's three shares indexed and summed,
channels first). Also the largest difference of their outputs from the shipped ones. Writes
docs/results/mashup_channels_last.md and .json.
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


def _pooled_2d(self, x):
    """``FastScorer._pooled`` as a 2-D chain: ``(N, c1d, T'', 1)`` in the chain's layout → ``(N, c1d)``."""
    h = self._rest(x).squeeze(3)
    return h.mean(dim=2) + h.amax(dim=2)


def _combine_channels_last(self, sides, hi, pi, batch):
    """``FastScorer._combine`` with the 2-D chain in the channels-last layout (``sides``: :func:`_sides_channels_last`)."""
    vH, P, HH = sides
    out = []
    with torch.no_grad():
        for s in range(0, len(hi), batch):
            a, b = hi[s: s + batch], pi[s: s + batch]
            x = vH.index_select(0, a).add_(P.index_select(0, b))  # (B, W, T'', 1, c1d)
            B, W = x.shape[:2]
            h = self._pooled(x.reshape(B * W, *x.shape[2:]).permute(0, 3, 1, 2))
            if HH is not None:
                h = torch.cat([h, HH[a].reshape(B * W, -1)], dim=1)
            out.append(torch.softmax(self.model.head(h), dim=1)[:, 0].reshape(B, W).mean(1).numpy())
    return np.concatenate(out).astype(np.float32)


def _sides_channels_last(self, v, H, P, HH=None):
    """The shares laid out channels last, once: the vocal's added to each harmonic segment's, and the percussion's."""
    vH = (torch.as_tensor(v)[None] + torch.as_tensor(H)).permute(0, 1, 3, 4, 2).contiguous()
    return vH, torch.as_tensor(P).permute(0, 1, 3, 4, 2).contiguous(), HH


def _combine_channels_first(self, sides, hi, pi, batch):
    """``FastScorer._combine`` with the 2-D chain in the default layout: each pair's three shares gathered by indexing,
    channels first (``sides``: :func:`_sides_as_given`)."""
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
    """The shares as they are, laid out per call."""
    return torch.as_tensor(v), torch.as_tensor(H), torch.as_tensor(P), HH


def _plain(chain):
    """A :class:`~collage.mashup.fastscore._Chain` with its convolutions in the default layout."""
    return fastscore._Chain([copy.deepcopy(m).to(memory_format=torch.contiguous_format)
                             if isinstance(m, torch.nn.Conv2d) else m for m in chain.steps])


def variant(scorer: fastscore.FastScorer, sources: str = "channels-last", head: str = "1-D") -> fastscore.FastScorer:
    """A copy of ``scorer`` with its SourceNet chains in the layout ``sources`` ("channels-last" or "default") and its
    head run as ``head``: "1-D" (shipped), "2-D channels-last" or "2-D default"."""
    other = copy.copy(scorer)
    if sources == "default":
        other._sources = [_plain(c) for c in scorer._sources]
        other._w = [w.contiguous() for w in scorer._w]
    if head != "1-D":
        rest = fastscore._fused(scorer.model.block1d[2:])
        other._rest = rest if head == "2-D channels-last" else _plain(rest)
        other._pooled = types.MethodType(_pooled_2d, other)
        channels_last = head == "2-D channels-last"
        other._combine = types.MethodType(_combine_channels_last if channels_last else _combine_channels_first, other)
        other.pair_sides = types.MethodType(_sides_channels_last if channels_last else _sides_as_given, other)
    return other


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(1)
    shipped = fastscore.FastScorer(scorer_model("premixnet"))
    rng = np.random.default_rng(0)
    mel = rng.standard_normal((32, shipped.cfg.n_mels, 256)).astype(np.float32)  # 32 windows of 256 frames
    W, c, T, n = 3, shipped.cfg.c1d, 32, 300
    v, H, P = torch.randn(W, c, T, 1), torch.randn(n, W, c, T, 1), torch.randn(n, W, c, T, 1)
    HH = torch.randn(n, W, 2 * shipped.cfg.harmony)
    a, b = rng.integers(0, n, 4800), rng.integers(0, n, 4800)
    calls = {"SourceNet share, 32 windows (percussion)": (lambda s: s._share(2, mel),
                                                          {"shipped (channels-last)": shipped,
                                                           "default layout": variant(shipped, sources="default")}),
             "head, 4,800 pairs": (lambda s: s.pair_logits(s.pair_sides(v, H, P, HH), a, b),
                                   {"shipped (1-D)": shipped,
                                    "2-D, channels-last": variant(shipped, head="2-D channels-last"),
                                    "2-D, default layout": variant(shipped, head="2-D default")})}
    rows = []
    for what, (call, scorers) in calls.items():
        outs = {k: np.asarray(call(s)) for k, s in scorers.items()}
        ms = {k: [] for k in scorers}
        for _ in range(args.repeats):  # alternating, so all see the same machine
            for k, s in scorers.items():
                ms[k].append(1000 * best_time(lambda s=s: call(s), 1))
        ref = next(iter(outs.values()))
        rows.append({"call": what, "ms": {k: round(min(x), 2) for k, x in ms.items()},
                     "max_difference": {k: float(np.abs(o - ref).max()) for k, o in outs.items()}})
    out = {"rows": rows, "repeats": args.repeats, "machine": machine(), "loadavg_after": loadavg(),
           "command": "OMP_NUM_THREADS=1 python benchmarks/mashup_channels_last.py " + " ".join(sys.argv[1:])}
    lines = ["# The fast second stage's convolutions: the layouts it runs them in against the ones before", "",
             "PreMixNet's SourceNets and its head's frame-wise convolution, as `FastScorer` runs them (fused "
             "convolutions, one thread), side by side in one process, each the fastest of "
             f"{args.repeats} alternating runs. The SourceNets' maps have 1-16 channels; oneDNN's 2-D convolutions "
             "are faster with the channels last. The head's maps are one frame wide (32 channels x 32 frames per "
             "window): run as a 1-D convolution on contiguous `(N, 32, 32)` maps it is faster than as a 2-D one in "
             "either layout. Before: the 2-D chain channels last (the vocal-plus-harmonic sums and the percussion "
             "shares kept channels last, gathered by `index_select`), and before that channels first (each pair's "
             "vocal, harmonic and percussion shares indexed and summed).", "",
             "| call | way | time (ms) | shipped's speed-up over it | largest output difference from shipped |",
             "|---|---|---|---|---|"]
    for r in rows:
        base = next(iter(r["ms"].values()))
        for k, t in r["ms"].items():
            lines.append(f"| {r['call']} | {k} | {t} | {t / base:.2f}x | {r['max_difference'][k]:.1e} |")
    lines += ["", "The SourceNet share is the second stage's cost per stem segment and the stored shares' at build "
              "time; the head is the shares rounds' cost per pair and the second stage's."]
    write_results(OUT, "mashup_channels_last", out, lines)


if __name__ == "__main__":
    main()

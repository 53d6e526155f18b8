"""The generation evaluation (thesis chapter 3, Table 3.3 and more) on the MMT test split.

:func:`evaluate_generate` measures a trained :class:`collage.models.mmt.MMT`:

- ``objective``: pitch class entropy, scale consistency and groove
  consistency (MusPy's definitions, :mod:`collage.metrics.piece`) of
  ``n_samples`` unconditioned samples of ``beats`` beats against the first
  ``beats`` beats of every test piece, mean and standard error (the paper's
  Table 3.3 protocol; the paper's figures are in :data:`PAPER`). Both sides
  go through the same representation (1/12-beat grid, the duration
  codebook, 4/4 at 480 ticks per quarter), so that only the music differs.
- ``copying``: for each sample, the longest run of consecutive notes it
  shares verbatim with any training piece. A note is compared by its onset
  step from the previous note, its interval from the previous note, its
  duration and its instrument, so a copy moved in time or transposed still
  counts; a run spanning more than 8 bars (32 beats) is a failure.
- ``continuation``: for up to ``n_continuations`` test pieces with at least
  ``prompt_beats + continue_beats`` beats, the first ``prompt_beats`` beats
  are the prompt and ``continue_beats`` beats are generated; the three
  statistics of the continuations against the true continuations; the
  pitch-class distance (total variation between pitch-class histograms, 0..1)
  of each continuation to its true continuation, against that of the true
  continuation of another (random) test piece; and the share of
  continuations that merely repeat the prompt (:func:`repeats_prompt`),
  with the same share for the true continuations.
- ``perplexity``: the teacher-forced per-field perplexity ``exp(CE)`` on the
  first window of every test piece (untransposed).

The speed of generation is measured by ``benchmarks/generate_speed.py`` in
a process of its own (peak memory).
"""

from __future__ import annotations

import logging
import math
import time
import warnings

import numpy as np
import torch

from collage.datasets.mmt import mmt_arrays
from collage.generation.defaults import DEFAULT_TEMPERATURE, DEFAULT_TOP_K, format_temperature
from collage.generation.sampling import sample_codes
from collage.metrics import piece as pm
from collage.models.mmt import eval_loss
from collage.progress import track
from collage.represent import mmt as rep

__all__ = [
    "METRICS",
    "PAPER",
    "CopyIndex",
    "evaluate_generate",
    "excerpt",
    "mean_se",
    "note_tokens",
    "piece_stats",
    "pitch_class_distance",
    "repeat_share",
    "repeats_prompt",
    "to_markdown",
]

log = logging.getLogger(__name__)

METRICS = ("pitch_class_entropy", "scale_consistency", "groove_consistency")
#: the thesis's Table 3.3 (orchestral data, 64-beat samples): mean, standard error; consistencies in %
PAPER = {
    "ground_truth": {"pitch_class_entropy": (2.974, 0.018), "scale_consistency": (92.26, 1.25),
                     "groove_consistency": (93.05, 1.00)},
    "mmt": {"pitch_class_entropy": (2.802, 0.025), "scale_consistency": (94.74, 0.42),
            "groove_consistency": (92.09, 0.49)},
}
FAIL_BARS = 8
REPEAT_SHARE = 0.8
MAX_RUN = 2047  # longest run looked for, in notes


def piece_stats(piece) -> dict[str, float]:
    """The three statistics of a piece (consistencies in %); nan where a piece has no notes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "pitch_class_entropy": float(pm.pitch_class_entropy(piece)),
            "scale_consistency": 100.0 * float(pm.scale_consistency(piece)),
            "groove_consistency": 100.0 * float(pm.groove_consistency(piece)),
        }


def mean_se(values) -> tuple[float, float, int]:
    """(mean, standard error, n) over the finite values."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return float("nan"), float("nan"), 0
    se = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")
    return float(v.mean()), se, len(v)


def _table(pieces) -> dict[str, dict]:
    stats = [piece_stats(p) for p in pieces]
    out = {}
    for m in METRICS:
        mean, se, n = mean_se([s[m] for s in stats])
        out[m] = {"mean": mean, "se": se, "n": n}
    return out


def excerpt(notes: np.ndarray, start_beat: int, n_beats: int) -> np.ndarray:
    """The note events of ``notes`` starting in ``[start_beat, start_beat + n_beats)``, moved to beat 0."""
    a = np.asarray(notes, dtype=np.int64)
    b = a[:, rep.BEAT] - 1
    sel = a[(b >= start_beat) & (b < start_beat + n_beats)].copy()
    sel[:, rep.BEAT] -= start_beat
    return sel


def _piece(notes: np.ndarray):
    """Notes as a Piece at 12 ticks per quarter, as MusPy measured the paper's samples: the measure-level
    statistics (groove consistency) compare onset patterns on that grid (48 positions to a 4/4 bar)."""
    return rep.decode(notes, tpq=rep.RESOLUTION)


def note_tokens(notes: np.ndarray) -> np.ndarray:
    """One int64 per note: onset steps from the previous note (clipped to 0..383), interval from it, duration, instrument."""
    a = np.asarray(notes, dtype=np.int64).reshape(-1, 6)
    on = (a[:, rep.BEAT] - 1) * rep.RESOLUTION + a[:, rep.POSITION] - 1
    d_on = np.clip(np.diff(on, prepend=on[:1]), 0, 383)
    d_pitch = np.diff(a[:, rep.PITCH], prepend=a[:1, rep.PITCH]) + 128  # 0..256
    return ((d_on * 257 + d_pitch) * 64 + a[:, rep.DURATION]) * 64 + a[:, rep.INSTRUMENT]


_P = np.uint64(1_000_003)


class CopyIndex:
    """Hashes of the training pieces' note-token runs, to find the longest run a sample shares with any of them.

    The first token of each piece (its onset and interval are undefined) is
    left out of the runs, as in the samples.
    """

    def __init__(self, pieces: list[np.ndarray]):
        self.tokens = [note_tokens(p)[1:] for p in pieces if len(p) > 1]
        self._prefix = [self._prefix_hash(t) for t in self.tokens]
        self._sets: dict[int, np.ndarray] = {}

    @staticmethod
    def _prefix_hash(tokens: np.ndarray) -> np.ndarray:
        t = tokens.astype(np.uint64) + np.uint64(1)
        n = len(t)
        prefix = np.zeros(n + 1, dtype=np.uint64)
        # prefix[i + 1] = prefix[i] * P + t[i] (mod 2**64): no numpy ufunc accumulates this, so a plain loop
        with np.errstate(over="ignore"):
            acc = np.uint64(0)
            for i in range(n):
                acc = acc * _P + t[i]
                prefix[i + 1] = acc
        return prefix

    @staticmethod
    def _hashes(prefix: np.ndarray, length: int) -> np.ndarray:
        n = len(prefix) - 1
        if n < length:
            return np.zeros(0, dtype=np.uint64)
        with np.errstate(over="ignore"):
            p_len = np.uint64(1)
            for _ in range(length):
                p_len = p_len * _P
            return prefix[length:] - prefix[: n + 1 - length] * p_len

    def _set(self, length: int) -> np.ndarray:
        if length not in self._sets:
            hs = [self._hashes(p, length) for p in self._prefix]
            self._sets[length] = np.unique(np.concatenate(hs)) if hs else np.zeros(0, np.uint64)
        return self._sets[length]

    def longest_run(self, notes: np.ndarray) -> tuple[int, float]:
        """(notes in the longest run shared with a training piece, its span in beats from first to last onset)."""
        tok = note_tokens(notes)[1:]
        if len(tok) == 0:
            return 0, 0.0
        prefix = self._prefix_hash(tok)
        on_all = (notes[:, rep.BEAT] - 1) * rep.RESOLUTION + notes[:, rep.POSITION] - 1

        def found(length):
            if length == 0:
                return np.zeros(len(tok) + 1, bool)
            h = self._hashes(prefix, length)
            s = self._set(length)
            i = np.searchsorted(s, h)
            return (i < len(s)) & (s[np.minimum(i, len(s) - 1)] == h)

        # binary search over a fixed range, so that samples probe the same few lengths (their hash sets are cached)
        lo, hi = 0, MAX_RUN  # invariant: a run of lo is shared; of hi + 1 not
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if mid <= len(tok) and found(mid).any():
                lo = mid
            else:
                hi = mid - 1
        if lo == 0:
            return 0, 0.0
        start = int(np.flatnonzero(found(lo))[0])
        # the run covers notes start .. start + lo - 1 of tok, i.e. onsets on[start - 1 .. start + lo - 1]
        # tok[k] describes note k + 1 relative to note k: the run joins notes start .. start + lo
        span = (int(on_all[start + lo]) - int(on_all[start])) / rep.RESOLUTION
        return int(lo) + 1, float(span)


def repeat_share(cont: np.ndarray, prompt: np.ndarray) -> float:
    """The share of the continuation's notes that repeat prompt notes (see :func:`repeats_prompt`); nan if empty."""
    if len(cont) == 0:
        return float("nan")
    plen = int(prompt[:, rep.BEAT].max()) if len(prompt) else 0
    bar = 4 * rep.RESOLUTION
    span = int(math.ceil(max(plen, 4) * rep.RESOLUTION / bar) * bar)

    def keys(a):
        on = (a[:, rep.BEAT] - 1) * rep.RESOLUTION + a[:, rep.POSITION] - 1
        return list(zip((on % span).tolist(), a[:, rep.PITCH].tolist(), a[:, rep.INSTRUMENT].tolist()))

    p_keys = set(keys(prompt))
    c_keys = keys(cont)
    return sum(k in p_keys for k in c_keys) / len(c_keys)


def repeats_prompt(cont: np.ndarray, prompt: np.ndarray, *, share: float = REPEAT_SHARE) -> bool:
    """Whether at least ``share`` of the continuation's notes repeat prompt notes.

    A continuation note repeats the prompt when the prompt has a note of the
    same pitch and instrument at the same onset modulo the prompt's length
    (rounded up to whole 4-beat bars): the continuation is a loop of the prompt.
    """
    if len(cont) == 0:
        return False
    return repeat_share(cont, prompt) >= share


def pitch_class_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation distance (0..1) between the pitch-class histograms (note counts) of two note-event arrays."""
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    ha = np.bincount((a[:, rep.PITCH] - 1) % 12, minlength=12).astype(float)
    hb = np.bincount((b[:, rep.PITCH] - 1) % 12, minlength=12).astype(float)
    return float(0.5 * np.abs(ha / ha.sum() - hb / hb.sum()).sum())


def _perplexity(model, windows) -> dict:
    r = eval_loss(model, windows)
    return {f: {"ce": r[f], "perplexity": float(math.exp(r[f]))} for f in rep.FIELDS} | {
        "sum_ce": r["loss"], "events": r["events"]}


def evaluate_generate(
    model,
    *,
    n_samples: int = 100,
    beats: int = 64,
    n_continuations: int = 100,
    prompt_beats: int = 16,
    continue_beats: int = 32,
    seed: int = 0,
    temperature=DEFAULT_TEMPERATURE,
    top_k: float = DEFAULT_TOP_K,
    progress: bool = False,
    parts: tuple[str, ...] = ("perplexity", "objective", "copying", "continuation"),
    train_arrays=None,
    test_arrays=None,
) -> dict:
    """Every measurement of the module docstring; returns a JSON-ready dict (with the samples' codes under ``_samples``)."""
    torch.set_num_threads(1)
    model.eval()
    test = test_arrays if test_arrays is not None else mmt_arrays("test")
    t_codes, t_ptr = test["codes"].astype(np.int64), test["ptr"]
    test_notes = [t_codes[t_ptr[i]:t_ptr[i + 1]] for i in range(len(t_ptr) - 1)]
    out: dict = {"settings": {"n_samples": n_samples, "beats": beats, "n_continuations": n_continuations,
                              "prompt_beats": prompt_beats, "continue_beats": continue_beats, "seed": seed,
                              "temperature": temperature, "top_k": top_k, "test_pieces": len(test_notes)}}
    timings = {}

    def bar(it, what):
        if not progress:
            return it

        return track(list(it), what)

    if "perplexity" in parts:
        t = time.time()
        c = model.config
        wins = [rep.window(n, start_beat=0, max_len=c.max_seq_len, max_beat=c.max_beat) for n in test_notes]
        out["perplexity"] = _perplexity(model, wins)
        timings["perplexity"] = time.time() - t

    samples = []
    if "objective" in parts or "copying" in parts:
        t = time.time()
        start = np.array([[rep.SOS, 0, 0, 0, 0, 0]], dtype=np.int64)
        for i in bar(range(n_samples), "unconditioned samples"):
            codes = sample_codes(model, start, end_beat=beats, max_notes=32 * beats, temperature=temperature,
                                 top_k=top_k, seed=seed + i)
            samples.append(codes[codes[:, rep.TYPE] == rep.NOTE])
        timings["samples"] = time.time() - t
        gt = [excerpt(n, 0, beats) for n in test_notes]
        gt = [g for g in gt if len(g)]
        out["objective"] = {
            "ground_truth": _table([_piece(g) for g in gt]),
            "samples": _table([_piece(s) for s in samples]),
            "paper": PAPER,
        }
        obj = out["objective"]
        obj["closer_than_paper"] = {
            m: abs(obj["samples"][m]["mean"] - obj["ground_truth"][m]["mean"])
            < abs(PAPER["mmt"][m][0] - PAPER["ground_truth"][m][0]) for m in METRICS
        }
        out["sample_sizes"] = {"notes_mean": float(np.mean([len(s) for s in samples])) if samples else 0.0,
                               "instruments": _instrument_counts(samples)}

    if "copying" in parts:
        t = time.time()
        train = train_arrays if train_arrays is not None else mmt_arrays("train")
        c_, p_ = train["codes"].astype(np.int64), train["ptr"]
        index = CopyIndex([c_[p_[i]:p_[i + 1]] for i in range(len(p_) - 1)])
        runs = [index.longest_run(s) for s in bar(samples, "copy check")]
        lengths = np.array([r[0] for r in runs], dtype=float)
        spans = np.array([r[1] for r in runs], dtype=float)
        out["copying"] = {
            "longest_run_notes": _dist(lengths),
            "longest_run_bars": _dist(spans / 4.0),
            "failures": int((spans / 4.0 > FAIL_BARS).sum()),
            "n": len(runs),
            "fail_bars": FAIL_BARS,
        }
        # the same check on held-out test excerpts: how much real unseen music shares with the training set
        ref = [excerpt(n, 0, beats) for n in test_notes[:n_samples]]
        ref_runs = [index.longest_run(r) for r in ref if len(r) > 1]
        out["copying"]["test_excerpts_reference"] = {
            "longest_run_notes": _dist(np.array([r[0] for r in ref_runs], float)),
            "longest_run_bars": _dist(np.array([r[1] for r in ref_runs], float) / 4.0),
            "over_fail_bars": int(sum(r[1] / 4.0 > FAIL_BARS for r in ref_runs)),
            "n": len(ref_runs),
        }
        timings["copying"] = time.time() - t

    if "continuation" in parts:
        t = time.time()
        need = prompt_beats + continue_beats
        cands = [i for i, n in enumerate(test_notes) if len(n) and int(n[:, rep.BEAT].max()) >= need
                 and len(excerpt(n, 0, prompt_beats)) > 0]
        rng = np.random.default_rng(seed)
        chosen = sorted(rng.choice(cands, size=min(n_continuations, len(cands)), replace=False).tolist())
        gen, true, other, rep_gen, rep_true, d_gen, d_rand = [], [], [], [], [], [], []
        share_gen, share_true = [], []
        for k, i in enumerate(bar(chosen, "continuations")):
            notes = test_notes[i]
            prompt = excerpt(notes, 0, prompt_beats)
            truth = excerpt(notes, prompt_beats, continue_beats)
            j = int(rng.choice([c for c in cands if c != i]))
            rand = excerpt(test_notes[j], prompt_beats, continue_beats)
            ins = sorted(set(prompt[:, rep.INSTRUMENT].tolist()))
            head = np.array([[rep.SOS, 0, 0, 0, 0, 0]] + [[rep.INSTRUMENT_EVENT, 0, 0, 0, 0, c] for c in ins]
                            + [[rep.SON, 0, 0, 0, 0, 0]], dtype=np.int64)
            codes = sample_codes(model, np.concatenate([head, prompt]), end_beat=need, max_notes=32 * continue_beats,
                                 temperature=temperature, top_k=top_k, seed=seed + 10_000 + k)
            new = codes[len(head) + len(prompt):]
            new = new[new[:, rep.TYPE] == rep.NOTE].copy()
            new[:, rep.BEAT] -= prompt_beats
            gen.append(new)
            true.append(truth)
            other.append(rand)
            rep_gen.append(repeats_prompt(new, prompt))
            rep_true.append(repeats_prompt(truth, prompt))
            share_gen.append(repeat_share(new, prompt))
            share_true.append(repeat_share(truth, prompt))
            d_gen.append(pitch_class_distance(new, truth))
            d_rand.append(pitch_class_distance(rand, truth))
        out["continuation"] = {
            "n": len(chosen),
            "true": _table([_piece(x) for x in true if len(x)]),
            "generated": _table([_piece(x) for x in gen if len(x)]),
            "empty_generated": int(sum(len(x) == 0 for x in gen)),
            "pitch_class_distance": {"generated_vs_true": _ms(d_gen), "random_test_piece_vs_true": _ms(d_rand)},
            "repeats_prompt": {"generated": float(np.mean(rep_gen)) if rep_gen else float("nan"),
                               "true_continuations": float(np.mean(rep_true)) if rep_true else float("nan"),
                               "share_threshold": REPEAT_SHARE,
                               "mean_share_of_notes_generated": _ms(share_gen),
                               "mean_share_of_notes_true": _ms(share_true)},
        }
        timings["continuation"] = time.time() - t
    out["seconds"] = timings
    out["_samples"] = samples
    return out


def _instrument_counts(samples) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in samples:
        for c in sorted(set(s[:, rep.INSTRUMENT].tolist())):
            counts[rep.INSTRUMENTS[c - 1]] = counts.get(rep.INSTRUMENTS[c - 1], 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _ms(values) -> dict:
    m, se, n = mean_se(values)
    return {"mean": m, "se": se, "n": n}


def _dist(v: np.ndarray) -> dict:
    if len(v) == 0:
        return {"n": 0}
    q = np.percentile(v, [0, 25, 50, 75, 90, 100])
    return {"mean": float(v.mean()), "min": float(q[0]), "p25": float(q[1]), "median": float(q[2]),
            "p75": float(q[3]), "p90": float(q[4]), "max": float(q[5]), "n": len(v)}


def _fmt(d: dict, pct: bool = False) -> str:
    if d.get("n", 0) == 0 or d["mean"] != d["mean"]:
        return "n/a"
    return f"{d['mean']:.3f} ± {d['se']:.3f}" if not pct else f"{d['mean']:.2f} ± {d['se']:.2f}"


def to_markdown(r: dict) -> str:
    """The report's tables."""
    lines = []
    s = r["settings"]
    if "perplexity" in r:
        p = r["perplexity"]
        lines += ["## Test perplexity per field", "",
                  (f"First window (up to the model's window, from beat 0, untransposed) of each of the "
                  f"{s['test_pieces']} test pieces; {p['events']} predicted events."), "",
                  "| field | cross entropy (nats) | perplexity |", "|---|---|---|"]
        lines += [f"| {f} | {p[f]['ce']:.3f} | {p[f]['perplexity']:.2f} |" for f in rep.FIELDS]
        lines += [f"| sum | {p['sum_ce']:.3f} | |", ""]
    if "objective" in r:
        o = r["objective"]
        lines += ["## Objective statistics of unconditioned samples (the paper's Table 3.3)", "",
                  (f"{s['n_samples']} unconditioned samples of {s['beats']} beats (seeds {s['seed']}..{s['seed'] + s['n_samples'] - 1}, "
                  f"temperature {format_temperature(s['temperature'])}, top-k {s['top_k']}) against the first {s['beats']} beats of the "
                  f"test pieces; mean ± standard error. Closer to the ground truth is better."), "",
                  "| | pitch class entropy | scale consistency (%) | groove consistency (%) |", "|---|---|---|---|"]
        gt, sm = o["ground_truth"], o["samples"]
        lines.append(f"| ground truth (our test split, n={gt['pitch_class_entropy']['n']}) | "
                     + " | ".join(_fmt(gt[m], m != 'pitch_class_entropy') for m in METRICS) + " |")
        lines.append(f"| MMT (ours, n={sm['pitch_class_entropy']['n']}) | "
                     + " | ".join(_fmt(sm[m], m != 'pitch_class_entropy') for m in METRICS) + " |")
        for name, key in (("ground truth (paper)", "ground_truth"), ("MMT (paper)", "mmt")):
            lines.append(f"| {name} | " + " | ".join(f"{PAPER[key][m][0]} ± {PAPER[key][m][1]}" for m in METRICS) + " |")
        gap_ours = [abs(sm[m]["mean"] - gt[m]["mean"]) for m in METRICS]
        gap_paper = [abs(PAPER["mmt"][m][0] - PAPER["ground_truth"][m][0]) for m in METRICS]
        lines += ["", "| gap to its ground truth | " + " | ".join(METRICS) + " |", "|---|---|---|---|",
                  "| ours | " + " | ".join(f"{g:.3f}" for g in gap_ours) + " |",
                  "| paper | " + " | ".join(f"{g:.3f}" for g in gap_paper) + " |",
                  "| ours closer | " + " | ".join("yes" if o["closer_than_paper"][m] else "no" for m in METRICS) + " |", ""]
        if "sample_sizes" in r:
            ss = r["sample_sizes"]
            lines += [f"Mean notes per sample: {ss['notes_mean']:.1f}. Instruments chosen (samples using each): "
                      + ", ".join(f"{k} {v}" for k, v in ss["instruments"].items()) + ".", ""]
    if "copying" in r:
        c = r["copying"]
        ln, lb = c["longest_run_notes"], c["longest_run_bars"]
        ref = c["test_excerpts_reference"]
        lines += ["## Not copied: longest run shared verbatim with a training piece", "",
                  ("A note is compared by its onset step from the previous note, its interval from the previous note, "
                  "its duration and instrument (a transposed or shifted copy counts). Failure: a run spanning more "
                  f"than {c['fail_bars']} bars."), "",
                  "| | n | mean | median | p90 | max | failures (> 8 bars) |", "|---|---|---|---|---|---|---|",
                  f"| samples, notes | {ln['n']} | {ln['mean']:.1f} | {ln['median']:.0f} | {ln['p90']:.0f} | {ln['max']:.0f} | |",
                  (f"| samples, bars | {lb['n']} | {lb['mean']:.2f} | {lb['median']:.2f} | {lb['p90']:.2f} | {lb['max']:.2f} | "
                  f"{c['failures']} of {c['n']} |")]
        if ref.get("longest_run_notes", {}).get("n"):
            rn, rb = ref["longest_run_notes"], ref["longest_run_bars"]
            lines += [f"| test excerpts (unseen music), notes | {rn['n']} | {rn['mean']:.1f} | {rn['median']:.0f} | {rn['p90']:.0f} | {rn['max']:.0f} | |",
                      (f"| test excerpts, bars | {rb['n']} | {rb['mean']:.2f} | {rb['median']:.2f} | {rb['p90']:.2f} | {rb['max']:.2f} | "
                      f"{ref['over_fail_bars']} of {ref['n']} |")]
        lines.append("")
    if "continuation" in r:
        c = r["continuation"]
        lines += ["## Continuation", "",
                  (f"{c['n']} test pieces with at least {s['prompt_beats'] + s['continue_beats']} beats: the first "
                  f"{s['prompt_beats']} beats as the prompt, {s['continue_beats']} beats generated "
                  f"({c['empty_generated']} continuations empty)."), "",
                  "| | pitch class entropy | scale consistency (%) | groove consistency (%) |", "|---|---|---|---|",
                  "| true continuations | " + " | ".join(_fmt(c['true'][m], m != 'pitch_class_entropy') for m in METRICS) + " |",
                  "| generated | " + " | ".join(_fmt(c['generated'][m], m != 'pitch_class_entropy') for m in METRICS) + " |", ""]
        d = c["pitch_class_distance"]
        rp = c["repeats_prompt"]
        lines += ["| pitch-class distance to the true continuation (0..1, lower is closer) | mean ± se |", "|---|---|",
                  f"| generated continuation | {_fmt(d['generated_vs_true'])} |",
                  f"| the same beats of a random other test piece | {_fmt(d['random_test_piece_vs_true'])} |", "",
                  (f"Continuations that merely repeat the prompt (at least {rp['share_threshold']:.0%} of their notes "
                  f"are prompt notes at the same place in the prompt's loop): generated {rp['generated']:.1%}, "
                  f"true continuations {rp['true_continuations']:.1%}. Mean share of continuation notes that "
                  f"repeat the prompt so: generated {_fmt(rp['mean_share_of_notes_generated'])}, true "
                  f"{_fmt(rp['mean_share_of_notes_true'])}."), ""]
    lines += ["## Speed", "", ("Measured separately (its own process, for the peak memory): "
              "[generate_speed.md](generate_speed.md), `python benchmarks/generate_speed.py`."), ""]
    return "\n".join(lines)


#: instrument sets of the instrument-informed listening samples (cycled)
LISTEN_SETS = (
    ("melody", "piano"),
    ("violin", "viola", "cello"),
    ("soprano", "alto", "tenor", "bass"),
    ("melody", "counter-melody", "piano"),
    ("violin", "cello", "piano"),
)


def write_listening(model, out_dir, *, n: int = 10, beats: int = 64, prompt_beats: int = 16,
                    continue_beats: int = 32, seed: int = 0, test_arrays=None) -> list[str]:
    """``n`` samples per mode as MIDI + PNG under ``out_dir/{unconditioned,instruments,continuation}/``.

    Continuations are of ``n`` test pieces with enough beats, spread evenly
    over the sorted ids; their picture stacks the true piece over the continuation.
    Returns the files written.
    """
    from pathlib import Path

    from collage.datasets.mmt import mmt_arrays
    from collage.generation.pipeline import generate
    from collage.io import write_midi
    from collage.plotting import plot_pianoroll, plot_pianorolls

    out = Path(out_dir)
    written: list[str] = []
    for sub in ("unconditioned", "instruments", "continuation"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        p = generate(beats=beats, seed=seed + i, model=model)
        stem = out / "unconditioned" / f"sample{i:02d}"
        write_midi(p, stem.with_suffix(".mid"))
        plot_pianoroll(p, stem.with_suffix(".png"), title=f"unconditioned, seed {seed + i}")
        written += [str(stem.with_suffix(".mid")), str(stem.with_suffix(".png"))]
    for i in range(n):
        names = LISTEN_SETS[i % len(LISTEN_SETS)]
        p = generate(instruments=list(names), beats=beats, seed=seed + i, model=model)
        stem = out / "instruments" / f"{'-'.join(names)}-{i:02d}"
        write_midi(p, stem.with_suffix(".mid"))
        plot_pianoroll(p, stem.with_suffix(".png"), title=f"{', '.join(names)}, seed {seed + i}")
        written += [str(stem.with_suffix(".mid")), str(stem.with_suffix(".png"))]
    test = test_arrays if test_arrays is not None else mmt_arrays("test")
    codes, ptr, ids = test["codes"].astype(np.int64), test["ptr"], [str(x) for x in test["ids"].tolist()]
    ok = [k for k in range(len(ids)) if ptr[k + 1] > ptr[k]
          and int(codes[ptr[k]:ptr[k + 1], rep.BEAT].max()) >= prompt_beats + continue_beats]
    picks = sorted({ok[int(i)] for i in np.linspace(0, len(ok) - 1, min(n, len(ok)))}) if ok else []
    done = 0
    for k in picks:  # spread over the sorted ids, so every source (bach/, corpus/, pop909/) is heard
        notes = codes[ptr[k]:ptr[k + 1]]
        prompt = rep.decode(excerpt(notes, 0, prompt_beats))
        truth = rep.decode(excerpt(notes, 0, prompt_beats + continue_beats))
        p = generate(prompt=prompt, beats=continue_beats, seed=seed + done, model=model)
        name = ids[k].replace("/", "_").replace("#", "_").replace(".", "-")  # no dots: a stem, not a suffix
        stem = out / "continuation" / f"{name}"
        write_midi(p, stem.with_suffix(".mid"))
        plot_pianorolls([truth, p], stem.with_suffix(".png"),
                        titles=[f"{ids[k]}: the real first {prompt_beats + continue_beats} beats",
                                f"prompt {prompt_beats} beats + {continue_beats} generated"])
        written += [str(stem.with_suffix(".mid")), str(stem.with_suffix(".png"))]
        done += 1
    return written

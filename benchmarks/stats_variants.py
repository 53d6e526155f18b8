"""Investigate the POP909 harmony statistics against the CollageNet paper's (Table 2, 3).

Checks that :func:`collage.datasets.pop909.pop909_segments` matches an
independent, loop-based extraction of the paper's segments, then varies one
choice at a time (accompaniment tracks, the sounding-at-start rule, the KL
epsilon, counting notes vs durations in the PCH, binary vs counted onset
histograms, the split and the grid) and prints the mean statistics of 5000 Ωh
and 5000 Ωdh pairs for each. Results are recorded in docs/results/stats.md.

Run:  OMP_NUM_THREADS=1 python benchmarks/stats_variants.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from collage.datasets.pop909 import (
    disharmonic_pairs,
    harmonic_pairs,
    load_song,
    pop909_segments,
    split_ids,
)
from collage.metrics import harmony as H

PAPER = {"omega_h": (0.96, 0.578, 2.171, 0.471, 0.643), "omega_dh": (5.02, 0.292, 4.522, 0.299, 0.457)}
COLS = ("pch_kld", "pch_oa", "oh_kld", "oh_oa", "re_onset")
SINGLE = ("mel_pc", "mel_pi", "mel_ioi", "acc_pc", "acc_ioi")
PAPER_SINGLE = (10.7, 0.024, 3.1, 31.6, 2.02)


# -- an independent extraction (loops, no collage.represent) ------------------------
def q_ticks(notes, tpq):
    on = np.round(notes[:, 0] * 4 / tpq).astype(np.int64)
    off = np.round((notes[:, 0] + notes[:, 1]) * 4 / tpq).astype(np.int64)
    return np.stack([on, np.maximum(off - on, 1), notes[:, 2], notes[:, 3]], 1)


def q_beats(notes, song):
    g = song.grid("beats")
    on = np.round(g.to_steps(notes[:, 0])).astype(np.int64)
    off = np.round(g.to_steps(notes[:, 0] + notes[:, 1])).astype(np.int64)
    return np.stack([on, np.maximum(off - on, 1), notes[:, 2], notes[:, 3]], 1)


def naive_skyline(n):
    rows = {}
    for on, d, p, v in n.tolist():
        if on not in rows or p > rows[on][2]:
            rows[on] = [on, d, p, v]
    out = np.array([rows[k] for k in sorted(rows)], dtype=np.int64).reshape(-1, 4)
    for k in range(len(out) - 1):
        out[k, 1] = max(min(out[k, 1], out[k + 1, 0] - out[k, 0]), 1)
    return out


def naive_crop(n, s, sounding=True, L=32):
    on, off = n[:, 0], n[:, 0] + n[:, 1]
    keep = (on < s + L) & ((off > s) if sounding else (on >= s))
    m = n[keep].copy()
    ro = np.maximum(m[:, 0] - s, 0)
    rf = np.minimum(m[:, 0] + m[:, 1] - s, L)
    m[:, 0], m[:, 1] = ro, rf - ro
    return m[np.lexsort((m[:, 2], m[:, 0]))]


def naive_segments(ids, grid="ticks", acc_tracks=("PIANO",), sounding=True, skyline=True):
    mels, accs, songs = [], [], []
    for sid in ids:
        song = load_song(int(sid))
        p = song.piece
        q = (lambda n: q_ticks(n, p.tpq)) if grid == "ticks" else (lambda n: q_beats(n, song))
        mel = q(p.track("MELODY").notes)
        mel = naive_skyline(mel) if skyline else mel[np.lexsort((mel[:, 2], mel[:, 0]))]
        acc = q(np.concatenate([p.track(t).notes for t in acc_tracks]))
        n_steps = max(int((mel[:, 0] + mel[:, 1]).max()), int((acc[:, 0] + acc[:, 1]).max()))
        for s in range(0, n_steps - 32 + 1, 4):
            m, a = naive_crop(mel, s, sounding), naive_crop(acc, s, sounding)
            if len(m) and len(a):
                mels.append(m), accs.append(a), songs.append(sid)
    return mels, accs, np.array(songs)


class Segs:
    """The minimal SegmentSet interface the pair samplers need."""

    def __init__(self, mels, accs, songs):
        self.m, self.a, self.song_ids = mels, accs, songs

    def __len__(self):
        return len(self.m)


def pairs(n_segs, songs, n=5000, seed=0):
    rng = np.random.default_rng(seed)
    i = rng.choice(n_segs, size=min(n, n_segs), replace=False)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n_segs, size=n)
    b = rng.integers(0, n_segs, size=n)
    bad = songs[a] == songs[b]
    while bad.any():
        b[bad] = rng.integers(0, n_segs, size=int(bad.sum()))
        bad = songs[a] == songs[b]
    return (i, i), (a, b)


def row(mels, accs, songs, *, seed=0, eps=1e-5, pch_weight="notes", oh="binary"):
    out = {}
    for name, (i, j) in zip(("omega_h", "omega_dh"), pairs(len(mels), songs, seed=seed)):
        M = [mels[k] for k in i]
        A = [accs[k] for k in j]
        r = H.evaluate_batch(M, A, eps=eps)
        if pch_weight == "durations" or oh == "counts":
            pm, pa, om, oa = [], [], [], []
            for m, a in zip(M, A):
                w = (lambda x: x[:, 1]) if pch_weight == "durations" else (lambda x: np.ones(len(x)))
                pm.append(np.bincount(m[:, 2] % 12, weights=w(m), minlength=12))
                pa.append(np.bincount(a[:, 2] % 12, weights=w(a), minlength=12))
                f = (lambda x: np.bincount(x[:, 0], minlength=32)) if oh == "counts" else (
                    lambda x: (np.bincount(x[:, 0], minlength=32) > 0).astype(float))
                om.append(f(m)), oa.append(f(a))
            pm, pa, om, oa = map(np.array, (pm, pa, om, oa))
            r["pch_kld"], r["pch_oa"] = H.kl_divergence(pm, pa, eps=eps), H.overlapping_area(pm, pa)
            r["oh_kld"], r["oh_oa"] = H.kl_divergence(om, oa, eps=eps), H.overlapping_area(om, oa)
        out[name] = [float(np.nanmean(r[c])) for c in COLS] + [float(np.nanmean(r["re_3state"]))]
        if name == "omega_h":
            out["single"] = [float(np.nanmean(r[c])) for c in SINGLE]
    return out


def show(label, res, n):
    cells = []
    for name in ("omega_h", "omega_dh"):
        for c, v, p in zip(COLS, res[name], PAPER[name]):
            cells.append(f"{v:.3f} ({(v - p) / p:+.0%})")
        cells.append(f"{res[name][-1]:.3f}")
    cells += [f"{v:.3f} ({(v - p) / p:+.0%})" for v, p in zip(res["single"], PAPER_SINGLE)]
    print(f"| {label} | {n} | " + " | ".join(cells) + " |", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="skip the full-dataset split study")
    args = ap.parse_args()
    test = split_ids("test", four_four=True)
    print(f"test split: {len(test)} duple-metre songs")
    hdr = ["pch_kld", "pch_oa", "oh_kld", "oh_oa", "re_onset", "re_3state"]
    print("| variant | segments | " + " | ".join(f"Ωh {h}" for h in hdr) + " | "
          + " | ".join(f"Ωdh {h}" for h in hdr) + " | " + " | ".join(SINGLE) + " |")

    # 1. SegmentSet == independent extraction, both grids
    for grid in ("ticks", "beats"):
        t = time.time()
        segs = pop909_segments("test", grid=grid)
        mels, accs, songs = naive_segments(test, grid)
        assert len(segs) == len(mels), (grid, len(segs), len(mels))
        assert np.array_equal(segs.song_ids, songs)
        for k in range(len(segs)):
            assert np.array_equal(segs.melody(k), mels[k]), (grid, k)
            assert np.array_equal(segs.accomp(k), accs[k]), (grid, k)
        # and the library's pair samplers match the ones here
        hp, dp = harmonic_pairs(segs, 5000, 0), disharmonic_pairs(segs, 5000, 0)
        (i, _), (a, b) = pairs(len(segs), segs.song_ids)
        assert np.array_equal(hp[:, 0], i) and np.array_equal(dp[:, 0], a) and np.array_equal(dp[:, 1], b)
        show(f"{grid} grid (SegmentSet == loop extraction: verified)", row(mels, accs, songs), len(mels))
        if grid == "ticks":
            base = (mels, accs, songs)
        print(f"<!-- {grid}: {time.time() - t:.1f} s -->", flush=True)

    mels, accs, songs = base
    for seed in (1, 2, 3):
        show(f"ticks, pair seed {seed}", row(mels, accs, songs, seed=seed), len(mels))
    for eps in (1e-3, 1e-4, 1e-6, 1e-8):
        show(f"ticks, eps={eps:g}", row(mels, accs, songs, eps=eps), len(mels))
    show("ticks, KL(accomp || melody): tracks swapped", row(accs, mels, songs), len(mels))
    show("ticks, PCH weighted by duration", row(mels, accs, songs, pch_weight="durations"), len(mels))
    show("ticks, OH counts notes per step", row(mels, accs, songs, oh="counts"), len(mels))
    m2, a2, s2 = naive_segments(test, "ticks", sounding=False)
    show("ticks, notes sounding at start left out", row(m2, a2, s2), len(m2))
    m2, a2, s2 = naive_segments(test, "ticks", skyline=False)
    show("ticks, melody not made monophonic", row(m2, a2, s2), len(m2))
    m2, a2, s2 = naive_segments(test, "ticks", acc_tracks=("BRIDGE", "PIANO"))
    show("ticks, accompaniment BRIDGE+PIANO", row(m2, a2, s2), len(m2))
    for split in ("val", "train"):
        s = pop909_segments(split, grid="ticks")
        M = [s.melody(k) for k in range(len(s))]
        A = [s.accomp(k) for k in range(len(s))]
        show(f"ticks, {split} split", row(M, A, np.asarray(s.song_ids)), len(s))
    for grid in ("ticks", "beats"):
        s = pop909_segments("all", grid=grid)
        M = [s.melody(k) for k in range(len(s))]
        A = [s.accomp(k) for k in range(len(s))]
        show(f"{grid}, all 857 songs", row(M, A, np.asarray(s.song_ids)), len(s))
    phase_study()
    if args.quick:
        return
    # the spread over random song-level 10% test sets (the paper's split is unknown)
    s = pop909_segments("all", grid="ticks")
    spread("PIANO", [s.melody(k) for k in range(len(s))], [s.accomp(k) for k in range(len(s))],
           np.asarray(s.song_ids))
    spread("BRIDGE+PIANO", *naive_segments(split_ids("all", four_four=True), "ticks", acc_tracks=("BRIDGE", "PIANO")))


def phase_study():
    """Ωdh rhythm on the tick grid vs the difference of the two songs' beat phases."""
    s = pop909_segments("test", grid="ticks")
    phase = {}
    for sid in s.songs.tolist():
        song = load_song(sid)
        st = song.piece.seconds_to_ticks(song.beat_times) * 4 / song.piece.tpq  # beats in tick-grid steps
        ang = np.angle(np.mean(np.exp(2j * np.pi * (st % 4) / 4))) % (2 * np.pi)
        phase[sid] = ang * 4 / (2 * np.pi)
    ph = np.array(list(phase.values()))
    print("beat phase of the test songs in tick-grid steps (mod 4), quantiles 0/10/25/50/75/90/100 %:",
          np.round(np.quantile(ph, [0, 0.1, 0.25, 0.5, 0.75, 0.9, 1]), 2))
    pr = disharmonic_pairs(s, 5000, 0)
    r = H.evaluate_batch([s.melody(int(i)) for i in pr[:, 0]], [s.accomp(int(j)) for j in pr[:, 1]])
    d = np.array([abs(phase[a] - phase[b]) for a, b in zip(s.song_ids[pr[:, 0]].tolist(), s.song_ids[pr[:, 1]].tolist())])
    d = np.minimum(d, 4 - d)
    for lo, hi in ((0, 0.5), (0.5, 1.5), (1.5, 2.01)):
        m = (d >= lo) & (d < hi)
        print(f"Ωdh pairs with beat-phase difference in [{lo}, {hi}) steps: n={m.sum()} "
              + " ".join(f"{k} {r[k][m].mean():.3f}" for k in ("oh_kld", "oh_oa", "re_onset", "re_3state")))


def spread(label, M, A, sid, n_sets=20):
    ids = np.unique(sid)
    res = []
    for seed in range(n_sets):
        pick = np.random.default_rng(100 + seed).choice(ids, size=int(round(0.1 * len(ids))), replace=False)
        sel = np.flatnonzero(np.isin(sid, pick))
        res.append(row([M[k] for k in sel], [A[k] for k in sel], sid[sel]))
    for name in ("omega_h", "omega_dh"):
        arr = np.array([r[name] for r in res])
        print(f"{label}, random 10% song sets ({name}, {n_sets} draws): " + ", ".join(
            f"{c} {m:.3f}±{sd:.3f} [{lo:.3f}, {hi:.3f}]" for c, m, sd, lo, hi in zip(
                COLS + ("re_3state",), arr.mean(0), arr.std(0), arr.min(0), arr.max(0))), flush=True)
    arr = np.array([r["single"] for r in res])
    print(f"{label}, random 10% song sets (single-track, Ωh): " + ", ".join(
        f"{c} {m:.3f}±{sd:.3f} [{lo:.3f}, {hi:.3f}]" for c, m, sd, lo, hi in zip(
            SINGLE, arr.mean(0), arr.std(0), arr.min(0), arr.max(0))), flush=True)

if __name__ == "__main__":
    main()

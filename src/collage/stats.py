"""Dataset-level harmony statistics of POP909, beside the CollageNet paper's.

:func:`pop909_stats` reproduces the musical statistics of the CollageNet paper
(Table 2: harmony of melody/accompaniment pairs; Table 3: single-track
statistics of the test set) on POP909 segments:

- **Ωh** (``omega_h``): ``n_pairs`` harmonic pairs, the melody and the
  accompaniment of the same 8-beat segment
  (:func:`collage.datasets.pop909.harmonic_pairs`, drawn without replacement);
- **Ωdh** (``omega_dh``): ``n_pairs`` disharmonic pairs, the melody of segment
  ``i`` with the accompaniment of a segment ``j`` from a *different song*
  (:func:`collage.datasets.pop909.disharmonic_pairs`).

Every statistic of :mod:`collage.metrics.harmony` is computed on each pair and
averaged over the pairs (``nan`` values -- PI and IOI of segments with fewer
than two notes or onsets -- are left out of the mean).

Segments are those of :func:`collage.datasets.pop909.pop909_segments`: the
duple-metre ("4/4") songs of the split, MELODY made monophonic (skyline),
PIANO as the accompaniment, 8-beat windows every beat, notes sounding at a
window's start entered at step 0, offsets clipped, windows where either track
is silent dropped.

The paper's RE is a single number; its text describes the 3-state reading but
its values are reproduced by the onset reading, so ``paper`` carries it under
both ``re_3state`` and ``re_onset`` (see docs/results/stats.md). Table 3 gives
the single-track statistics of the test set once; Ωh and Ωdh are drawn from the
same tracks, so the same paper values stand in both rows (the paper gives no
accompaniment PI).
"""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np

from collage.datasets.pop909 import GRIDS, disharmonic_pairs, harmonic_pairs, pop909_segments
from collage.errors import ParameterError
from collage.metrics.harmony import KEYS, evaluate_batch
from collage.represent.checks import check_int

__all__ = ["PAPER", "ROWS", "pop909_stats", "relative_differences"]

log = logging.getLogger(__name__)

ROWS = ("omega_h", "omega_dh")
"""The two pair sets, in report order."""

_TABLE3 = {"mel_pc": 10.7, "mel_pi": 0.024, "mel_ioi": 3.1, "acc_pc": 31.6, "acc_ioi": 2.02}
PAPER: dict[str, dict[str, float | None]] = {
    "omega_h": {
        "pch_kld": 0.96,
        "pch_oa": 0.578,
        "oh_kld": 2.171,
        "oh_oa": 0.471,
        "re_3state": 0.643,
        "re_onset": 0.643,
        **_TABLE3,
    },
    "omega_dh": {
        "pch_kld": 5.02,
        "pch_oa": 0.292,
        "oh_kld": 4.522,
        "oh_oa": 0.299,
        "re_3state": 0.457,
        "re_onset": 0.457,
        **_TABLE3,
    },
}
"""CollageNet paper values (Table 2 and Table 3, test set) in the layout of
:func:`pop909_stats`' rows."""

_SPLITS = ("train", "val", "test", "all")


def pop909_stats(
    *,
    split: str = "test",
    grid: str = "ticks",
    n_pairs: int = 5000,
    seed: int = 0,
    root: str | os.PathLike | None = None,
    progress: bool = False,
) -> dict:
    """Mean harmony and single-track statistics of Ωh and Ωdh pairs of a POP909 split.

    Args:
        split: ``'train'``, ``'val'``, ``'test'`` (the paper's) or ``'all'``.
        grid: ``'ticks'`` (16th steps from the MIDI tick grid,
            ``round(tick / ticks_per_beat * 4)``: the grid the paper used) or
            ``'beats'`` (each annotated beat of ``beat_midi.txt`` in 4 steps).
        n_pairs: pairs per set. Capped (with a warning) at the number of
            segments of the split, since Ωh pairs are drawn without replacement;
            the number actually used is returned as ``n_pairs``.
        seed: seeds both pair draws.
        root: the POP909 folder (default: see :func:`collage.datasets.pop909.pop909_root`).
        progress: show a progress bar while segments are extracted (first run only;
            they are cached afterwards).
    Returns:
        a JSON-able dict ``{"grid", "n_pairs", "split", "seed", "rows", "paper"}``:
        ``rows["omega_h"]`` and ``rows["omega_dh"]`` map each of
        :data:`collage.metrics.harmony.KEYS` (``pch_kld``, ``pch_oa``,
        ``oh_kld``, ``oh_oa``, ``re_3state``, ``re_onset``, ``mel_pc``,
        ``mel_pi``, ``mel_ioi``, ``acc_pc``, ``acc_ioi``) to its mean over the
        pairs (float; None if every value was nan); ``paper`` is :data:`PAPER`.
    Raises:
        ParameterError: a bad argument (quoted).
        DatasetNotFoundError: POP909 is not found.
    """
    if split not in _SPLITS:
        raise ParameterError(f"given split={split!r}; expected one of {', '.join(_SPLITS)}")
    if grid not in GRIDS:
        raise ParameterError(f"given grid={grid!r}; expected one of {', '.join(GRIDS)}")
    n_pairs = check_int(n_pairs, "n_pairs", minimum=1)
    seed = check_int(seed, "seed", minimum=0)

    segs = pop909_segments(split, grid=grid, root=root, progress=progress)
    if len(segs) < n_pairs:
        warnings.warn(
            f"the POP909 {split} split has only {len(segs)} segments on the {grid} grid; "
            f"using n_pairs={len(segs)} instead of {n_pairs}",
            UserWarning,
            stacklevel=2,
        )
        n_pairs = len(segs)
    pairs = {
        "omega_h": harmonic_pairs(segs, n_pairs, seed),
        "omega_dh": disharmonic_pairs(segs, n_pairs, seed),
    }
    rows = {}
    for name in ROWS:
        ij = pairs[name]
        mels = [segs.melody(int(i)) for i in ij[:, 0]]
        accs = [segs.accomp(int(j)) for j in ij[:, 1]]
        values = evaluate_batch(mels, accs, n_steps=segs.length)
        rows[name] = {k: _mean(values[k]) for k in KEYS}
        log.info("%s: %d pairs from %d segments of %s (%s grid)", name, len(ij), len(segs), split, grid)
    return {
        "grid": grid,
        "n_pairs": int(n_pairs),
        "split": split,
        "seed": seed,
        "rows": rows,
        "paper": {r: dict(PAPER[r]) for r in ROWS},
    }


def _mean(x: np.ndarray) -> float | None:
    x = x[~np.isnan(x)]
    return float(np.mean(x)) if len(x) else None


def relative_differences(result: dict) -> dict[str, dict[str, float | None]]:
    """``(ours - paper) / paper`` for every statistic of :func:`pop909_stats`' result.

    Returns:
        ``{row: {key: relative difference or None}}`` (None where the paper
        gives no value or ours is missing).
    """
    out = {}
    for r in ROWS:
        out[r] = {}
        for k in KEYS:
            ours, paper = result["rows"][r].get(k), result["paper"][r].get(k)
            out[r][k] = None if ours is None or not paper else (ours - paper) / paper
    return out

"""Data for the mashability models: POP909 clips rendered to stems, mashups under the three
conditions, and their mel spectrograms cached once (npz) so that training never re-renders.

Pipeline (each step resumable; outputs under ``root``, default ``runs/mashup``):

1. :func:`render_split`: ``root/stems/<split>/<id>/{vocals,harmonic,percussion,mix}.wav``
   + ``stems.json`` through :func:`collage.mashup.stems.render_pop909_stems`
   (train/val: FluidR3 or TimGM6mb; test: the held-out MuseScore_General).
2. :func:`load_clips`: :class:`~collage.mashup.generate.Clip` objects with the POP909
   ground-truth key, tempo, beats and downbeats of each rendered clip (training uses the
   annotations, not estimates).
3. :func:`build_examples`: for each vocal seed, mashups (original / unmatched / matched)
   rendered and turned into log-mel spectrograms ``(4, n_mels, T)`` (vocals, harmonic,
   percussion, mix) in float16, cached in one npz per split.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from collage.errors import CollageError
from collage.mashup.evaluate import load_rendered_clips as load_clips
from collage.mashup.generate import (
    Clip,
    matched_candidates,
    original_candidate,
    render_candidate,
    unmatched_candidate,
    vocal_starts,
)

__all__ = ["split_songs", "render_split", "load_clips", "build_examples", "examples_path", "mashup_record", "DATA_ROOT",
           "FEATURE_SR"]

log = logging.getLogger(__name__)

DATA_ROOT = Path("runs/mashup")
FEATURE_SR = 16000


def split_songs(split: str, n_songs: int, seed: int = 0) -> list[int]:
    """The first ``n_songs`` 4/4 songs of a POP909 split in a fixed shuffle (so 200 songs are the first 200 of 400)."""
    from collage.datasets.pop909 import split_ids

    return [int(i) for i in np.random.default_rng(seed).permutation(split_ids(split, four_four=True))[:n_songs]]


def render_split(split: str, n_songs: int, *, root=DATA_ROOT, sr: int = FEATURE_SR, seconds: float = 30.0, seed: int = 0) -> list[Path]:
    """Render the songs of :func:`split_songs` to stems; skips done ones."""
    from collage.mashup.stems import pick_soundfont, render_pop909_stems

    ids = split_songs(split, n_songs, seed)
    out = []
    for i, sid in enumerate(ids):
        d = Path(root) / "stems" / split / f"{int(sid):03d}"
        if not (d / "stems.json").exists():
            try:
                meta = render_pop909_stems(int(sid), d, soundfont=pick_soundfont(int(sid)), sr=sr, seconds=seconds, seed=seed)
            except Exception as e:  # a song that cannot be rendered is skipped and logged
                log.warning("song %s skipped: %s", sid, e)
                continue
            log.info("%s %d/%d: song %s %s %.1f BPM", split, i + 1, len(ids), sid, meta["key"], meta["tempo"])
        out.append(d)
    return out


def mashup_record(seed: Clip, cand, clips: dict, *, high_quality: bool = False) -> tuple[np.ndarray, dict]:
    """Render one candidate → ``(4, 64, T)`` float16 log-mel and its recipe (fast Rubber Band by default)."""
    from collage.mashup.score import mel_features

    audio = render_candidate(cand, clips, high_quality=high_quality)
    return mel_features(audio, seed.sr).astype(np.float16), cand.to_dict()


def examples_path(split: str, n_songs: int, windows_per_seed: int, n_matched: int = 1, seconds: float = 8.192,
                  *, root=DATA_ROOT) -> Path:
    """Where :func:`build_examples` caches the features of the first ``n_songs`` songs of a split."""
    return Path(root) / f"{split}_examples_{n_songs}songs_{windows_per_seed}x{n_matched}_{seconds:g}s.npz"


def build_examples(
    split: str,
    n_songs: int,
    *,
    root=DATA_ROOT,
    seconds: float = 8.192,
    windows_per_seed: int = 3,
    n_matched: int = 1,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Render mashups for every vocal seed of the first ``n_songs`` songs of a split (:func:`split_songs`,
    as rendered by :func:`render_split`) and cache their features at :func:`examples_path`.

    Per seed window: one original (label 1), one unmatched (label 0, mode drawn at random)
    and ``n_matched`` matched (label -1: unlabeled). The npz holds ``x (N, 4, 64, T)``
    float16, ``label (N,)`` int8, ``seed_index (N,)`` (one id per vocal window),
    ``recipes`` (JSON) and ``data_hash``. Reused when it exists.
    """
    out = examples_path(split, n_songs, windows_per_seed, n_matched, seconds, root=root)
    if out.exists():
        return out
    from collage.io.atomic import atomic_path

    clips = load_clips(split, root=root, songs=split_songs(split, n_songs, seed))
    if len(clips) < 3:
        raise FileNotFoundError(f"only {len(clips)} rendered clips under {Path(root) / 'stems' / split}; run render_split first")
    by_id = {c.id: c for c in clips}
    rng = np.random.default_rng([seed, len(split)])
    xs, labels, seeds, recipes = [], [], [], []
    seed_no = 0
    if progress:
        from rich.progress import track

        it = track(clips, description=f"mashups ({split})")
    else:
        it = clips
    for c in it:
        starts = vocal_starts(c, seconds)
        for s in rng.permutation(starts)[:windows_per_seed]:
            s = float(s)
            try:
                cands = [(original_candidate(c, seconds=seconds, vocal_start_s=s), 1)]
                u = unmatched_candidate(c, clips, seconds=seconds, vocal_start_s=s, rng=rng)
                if u is not None:
                    cands.append((u, 0))
                cands += [(m, -1) for m in matched_candidates(c, clips, n=n_matched, seconds=seconds, vocal_start_s=s,
                                                              rng=rng)]
                made = [(*mashup_record(c, cand, by_id), lab) for cand, lab in cands]
            except CollageError as e:  # an unusable stem: skip the window, say so
                log.warning("%s: song %s, vocal window at %.1f s skipped: %s", split, c.id, s, e)
                continue
            for x, rec, lab in made:
                xs.append(x)
                labels.append(lab)
                seeds.append(seed_no)
                recipes.append(rec)
            seed_no += 1
        if seed_no % 20 == 0:
            log.info("%s: %d vocal windows, %d examples", split, seed_no, len(xs))
        for k in list(c.stems):  # free the audio of this seed (other clips reload on demand)
            if not isinstance(c.stems[k], (str, Path)):
                c.stems[k] = str(Path(root) / "stems" / split / c.id / f"{k}.wav")
    T = min(x.shape[-1] for x in xs)
    x = np.stack([x[..., :T] for x in xs])
    ids = sorted(c.id for c in clips)
    data_hash = hashlib.sha256(json.dumps([split, ids, seconds, windows_per_seed, n_matched, seed]).encode()).hexdigest()[:16]
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(
                f,
                x=x,
                label=np.asarray(labels, np.int8),
                seed_index=np.asarray(seeds, np.int32),
                recipes=np.asarray(json.dumps(recipes)),
                songs=np.asarray(ids),
                data_hash=np.asarray(data_hash),
            )
    log.info("%s: %d examples (%d seeds) -> %s", split, len(x), seed_no, out)
    return out

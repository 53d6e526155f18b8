"""Data for the mashability models: POP909 clips rendered to stems, mashups under the three
conditions, and their mel spectrograms cached once (npz) so that training never re-renders.

Pipeline (each step resumable; outputs under ``root``, default ``runs/mashup``):

1. :func:`collage.mashup.rendered.render_split`: ``root/stems/<split>/<id>/{vocals,harmonic,percussion,mix}.wav``
   + ``stems.json`` through :func:`collage.mashup.stems.render_pop909_stems`
   (train/val: FluidR3 or TimGM6mb; test: the held-out MuseScore_General).
2. :func:`collage.mashup.rendered.load_rendered_clips`: :class:`~collage.mashup.generate.Clip` objects
   with the POP909 ground-truth key, tempo, beats and downbeats of each rendered clip (training uses the
   annotations, not estimates).
3. :func:`build_examples`: for each vocal seed, mashups (original / unmatched / matched)
   rendered and turned into log-mel + chroma features ``(4, n_mels + 12, T)`` (vocals, harmonic,
   percussion, mix) in float16, cached in one npz per split.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from collage.errors import CollageError
from collage.io.atomic import atomic_path
from collage.mashup.generate import (
    ROLES,
    Clip,
    matched_candidates,
    original_candidate,
    render_candidate,
    unmatched_candidate,
    vocal_starts,
)
from collage.mashup.rendered import DATA_ROOT, load_rendered_clips, split_songs, timbre_root
from collage.mashup.score import mashup_features
from collage.progress import track

__all__ = ["build_examples", "examples_path", "mashup_record"]

log = logging.getLogger(__name__)


def _timbre_mixed(cand, base: dict, renders: list[tuple[Path, set]], split: str, rng: np.random.Generator) -> dict:
    """Clips for ``cand`` whose stems each come from a random render (soundfont) of their song.

    ``base``: ``{clip_id: Clip}`` of the default render, whose analysis every render shares;
    ``renders``: ``(root, clip ids rendered there)`` for every render, the default one included.
    Each role of each clip is drawn independently, so even an original mixes soundfonts across
    its stems and a shared timbre cannot mark it.
    """
    out = {}
    for cid in {cand.vocal, cand.harmonic, cand.percussion}:
        roots = [r for r, ids in renders if cid in ids]
        b = base[cid]
        stems = {role: str(Path(roots[int(rng.integers(len(roots)))]) / "stems" / split / cid / f"{role}.wav")
                 for role in ROLES}
        out[cid] = Clip(id=cid, sr=b.sr, key=b.key, tempo=b.tempo, beats=b.beats, downbeats=b.downbeats, stems=stems)
    return out


def mashup_record(seed: Clip, cand, clips: dict, *, high_quality: bool = False) -> tuple[np.ndarray, dict]:
    """Render one candidate → ``(4, 76, T)`` float16 log-mel + chroma and its recipe (fast Rubber Band by default)."""
    audio = render_candidate(cand, clips, high_quality=high_quality)
    return mashup_features(audio, seed.sr).astype(np.float16), cand.to_dict()


def examples_path(split: str, n_songs: int, windows_per_seed: int, n_matched: int = 1, seconds: float = 8.192,
                  *, root=DATA_ROOT, timbres: tuple = ()) -> Path:
    """Where :func:`build_examples` caches the features of the first ``n_songs`` songs of a split."""
    mix = "".join(f"+{t}" for t in timbres)
    return Path(root) / f"{split}_examples_{n_songs}songs_{windows_per_seed}x{n_matched}_{seconds:g}s{mix}.npz"


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
    timbres: tuple = (),
) -> Path:
    """Render mashups for every vocal seed of the first ``n_songs`` songs of a split (:func:`split_songs`,
    as rendered by :func:`~collage.mashup.rendered.render_split`) and cache their features at :func:`examples_path`.

    Per seed window: one original (label 1), one unmatched (label 0, mode drawn at random)
    and ``n_matched`` matched (label -1: unlabeled). The npz holds ``x (N, 4, 76, T)`` (:func:`~collage.mashup.score.mashup_features`)
    float16, ``label (N,)`` int8, ``seed_index (N,)`` (one id per vocal window),
    ``recipes`` (JSON) and ``data_hash``. Reused when it exists.

    ``timbres``: extra soundfonts (keys of :data:`~collage.mashup.stems.EXTRA_SOUNDFONTS`, rendered
    under :func:`~collage.mashup.rendered.timbre_root` by :func:`~collage.mashup.rendered.render_timbre`); each stem of each mashup is then taken
    from a random one of the renders of its song (:func:`_timbre_mixed`); each recipe records the
    stem paths it used.
    """
    timbres = tuple(timbres)
    out = examples_path(split, n_songs, windows_per_seed, n_matched, seconds, root=root, timbres=timbres)
    if out.exists():
        return out
    clips = load_rendered_clips(split, root=root, songs=split_songs(split, n_songs, seed))
    if len(clips) < 3:
        raise FileNotFoundError(f"only {len(clips)} rendered clips under {Path(root) / 'stems' / split}; run render_split first")
    by_id = {c.id: c for c in clips}
    renders = [(Path(root), set(by_id))]
    for t in timbres:
        troot = timbre_root(root, t)
        ids = {c.id for c in load_rendered_clips(split, root=troot, songs=split_songs(split, n_songs, seed))}
        if not ids:
            raise FileNotFoundError(f"no {t!r} renders of {split!r} under {troot}; run render_timbre first")
        renders.append((troot, ids & set(by_id)))
    rng = np.random.default_rng([seed, len(split)])
    trng = np.random.default_rng([seed, len(split), 1])  # timbre draws, apart from the mashup draws
    xs, labels, seeds, recipes = [], [], [], []
    seed_no = 0
    if progress:
        it = track(clips, f"mashups ({split})")
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
                made = []
                for cand, lab in cands:
                    if not timbres:
                        made.append((*mashup_record(c, cand, by_id), lab))
                        continue
                    pool = _timbre_mixed(cand, by_id, renders, split, trng)
                    used = {r: pool[cid].stems[r] for r, cid in zip(ROLES, (cand.vocal, cand.harmonic, cand.percussion))}
                    x, rec = mashup_record(c, cand, pool)
                    made.append((x, rec | {"stems": used}, lab))
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
    key = [split, ids, seconds, windows_per_seed, n_matched, seed] + ([list(timbres)] if timbres else [])
    data_hash = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]
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

"""POP909 songs rendered to stems: which songs, where their renders live, and loading them as clips.

The data behind the mashability models and the mashup evaluation protocol (under ``root``,
default ``runs/mashup``):

- :func:`split_songs`: the first ``n`` 4/4 songs of a POP909 split in a fixed shuffle;
- :func:`render_split`: ``root/stems/<split>/<id>/{vocals,harmonic,percussion,mix}.wav`` + ``stems.json``
  through :func:`collage.mashup.stems.render_pop909_stems` (train/val: FluidR3 or TimGM6mb; test: the
  held-out MuseScore_General); :func:`render_timbre` the same with one extra soundfont under
  :func:`timbre_root`;
- :func:`load_rendered_clips`: :class:`~collage.mashup.generate.Clip` objects with the POP909
  ground-truth key, tempo, beats and downbeats of each rendered clip.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from collage.datasets.pop909 import split_ids
from collage.errors import ParameterError
from collage.mashup.generate import ROLES, Clip
from collage.mashup.score import FEATURE_SR
from collage.mashup.stems import EXTRA_SOUNDFONTS, pick_soundfont, render_pop909_stems

__all__ = ["DATA_ROOT", "split_songs", "render_split", "timbre_root", "timbre_soundfont", "render_timbre",
           "load_rendered_clips"]

log = logging.getLogger(__name__)

DATA_ROOT = Path("runs/mashup")


def split_songs(split: str, n_songs: int, seed: int = 0) -> list[int]:
    """The first ``n_songs`` 4/4 songs of a POP909 split in a fixed shuffle (so 200 songs are the first 200 of 400)."""
    return [int(i) for i in np.random.default_rng(seed).permutation(split_ids(split, four_four=True))[:n_songs]]


def render_split(split: str, n_songs: int, *, root=DATA_ROOT, sr: int = FEATURE_SR, seconds: float = 30.0, seed: int = 0,
                 soundfont: str | None = None) -> list[Path]:
    """Render the songs of :func:`split_songs` to stems; skips done ones.

    ``soundfont``: one soundfont for every song (default: :func:`~collage.mashup.stems.pick_soundfont`
    per song). Clip, programs and drums do not depend on it, so renders of one song with
    different soundfonts line up sample for sample.
    """
    ids = split_songs(split, n_songs, seed)
    out = []
    for i, sid in enumerate(ids):
        d = Path(root) / "stems" / split / f"{int(sid):03d}"
        if not (d / "stems.json").exists():
            try:
                font = soundfont or pick_soundfont(int(sid))
                meta = render_pop909_stems(int(sid), d, soundfont=font, sr=sr, seconds=seconds, seed=seed)
            except Exception as e:  # a song that cannot be rendered is skipped and logged
                log.warning("song %s skipped: %s", sid, e)
                continue
            log.info("%s %d/%d: song %s %s %.1f BPM", split, i + 1, len(ids), sid, meta["key"], meta["tempo"])
        out.append(d)
    return out


def timbre_root(root, timbre: str) -> Path:
    """Where the renders of one extra soundfont (a key of
    :data:`~collage.mashup.stems.EXTRA_SOUNDFONTS`) live: ``root/timbres/<timbre>`` (same layout as ``root``)."""
    if timbre not in EXTRA_SOUNDFONTS:
        raise ParameterError(f"given timbre={timbre!r}; expected one of {sorted(EXTRA_SOUNDFONTS)}")
    return Path(root) / "timbres" / timbre


def timbre_soundfont(timbre: str) -> str:
    """The installed soundfont file of one extra timbre; ParameterError when unknown or not installed."""
    timbre_root(".", timbre)  # validates the name
    font = EXTRA_SOUNDFONTS[timbre]
    if not Path(font).exists():
        raise ParameterError(f"soundfont {font} ({timbre}) is not installed; run 'make train-deps' "
                             "(Debian opl3-soundfont, csound-soundfont)")
    return font


def render_timbre(split: str, n_songs: int, timbre: str, *, root=DATA_ROOT, seconds: float = 30.0) -> Path:
    """Render the songs of a split with one extra soundfont under :func:`timbre_root`; returns that root."""
    render_split(split, n_songs, root=timbre_root(root, timbre), seconds=seconds, soundfont=timbre_soundfont(timbre))
    return timbre_root(root, timbre)


def load_rendered_clips(split: str, *, root=DATA_ROOT, songs=None) -> list[Clip]:
    """The clips rendered by :func:`render_split` (``root/stems/<split>/*/stems.json``)
    with the POP909 ground-truth key, tempo, beats and downbeats; clips with a silent stem are left out.
    ``songs``: POP909 ids to keep (default: every clip rendered under ``root``)."""
    wanted = None if songs is None else {f"{int(i):03d}" for i in songs}
    clips = []
    for meta_path in sorted((Path(root) / "stems" / split).glob("*/stems.json")):
        meta = json.loads(meta_path.read_text())
        if meta.get("silent") or not meta.get("key") or len(meta.get("downbeats", [])) < 2:
            continue
        if wanted is not None and f"{meta['song_id']:03d}" not in wanted:
            continue
        clips.append(
            Clip(
                id=f"{meta['song_id']:03d}",
                sr=int(meta["sr"]),
                key=meta["key"],
                tempo=float(meta["tempo"]),
                beats=np.asarray(meta["beats"], dtype=np.float64),
                downbeats=np.asarray(meta["downbeats"], dtype=np.float64),
                stems={r: meta["paths"][r] for r in ROLES},
            )
        )
    return clips

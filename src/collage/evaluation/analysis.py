"""Validate the mashup analysis and separation on rendered POP909 test songs, against the annotations.

>>> res = analysis_scores(n_songs=30)     # renders (or reuses) 30 test clips of 30 s
>>> res["beat_f"], res["key_score"], res["separation_sdr"]     # key_score: the key heard in the whole song
(0.99, 0.85, {'classical': 1.2, 'demucs': 'not available: ...'})

Each song of the POP909 test split (duple metre, in id order) is rendered with the held-out
soundfont (MuseScore_General, :func:`~collage.mashup.stems.pick_soundfont`) as a 30 s clip
from the downbeat nearest 25% of the song (:func:`~collage.mashup.stems.render_pop909_stems`;
cached under ``$COLLAGE_CACHE/mashup_validate``). Then:

- beats and key from the stems (:func:`~collage.audio.analyze.analyze` with the
  percussion, harmonic and vocal stems), and from the mix alone: beat F-measure
  (:func:`mir_eval.beat.f_measure`, +-70 ms), downbeat F-measure likewise, and the MIREX
  weighted key score (:func:`mir_eval.key.weighted_score`) against ``beat_midi.txt`` and
  ``key_audio.txt`` (the key sounding longest in the clip);
- the key twice: as the MashupDB finds it, from the whole song
  (:func:`~collage.mashup.stems.render_pop909_song` with the same soundfont and programs, passed
  to ``analyze`` as ``context``; the whole song's stems, or its mix), and from the clip alone;
- on the first ``separation_songs`` clips, each available separation backend applied to
  the mix, scored by SDR (:func:`mir_eval.separation.bss_eval_sources`, the first 10 s,
  mean over the three stems), against the rendered stems.

Note that the percussion stem is generated on the annotated beat grid: beat tracking from
the stems is an easy case by construction; the mix-only figures are the harder test.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from pathlib import Path

import librosa
import mir_eval
import numpy as np
import soundfile as sf

from collage.audio.analyze import AnalysisError, analyze, estimate_key, key_name, key_score, tonal_part
from collage.audio.separate import available_backends, separate
from collage.datasets.cache import cache_dir
from collage.datasets.pop909 import split_ids
from collage.mashup.stems import DEFAULT_CLIP_S, ROLES, pick_soundfont, render_pop909_song, render_pop909_stems
from collage.progress import progress_bar

__all__ = ["analysis_scores", "validation_clips"]

log = logging.getLogger(__name__)

SDR_SECONDS = 10.0


def _cache_root() -> Path:
    return cache_dir() / "mashup_validate"


def validation_clips(n_songs: int, *, seconds: float = DEFAULT_CLIP_S, sr: int = 22050,
                     cache: str | os.PathLike | None = None, root=None, progress: bool = False,
                     split: str = "test", soundfont: str | None = None) -> list[dict]:
    """Render (or reuse) the stems of the first ``n_songs`` duple-metre POP909 songs of ``split``
    with ``soundfont`` (default: each song's own, :func:`~collage.mashup.stems.pick_soundfont`);
    returns their metadata dicts (see :func:`~collage.mashup.stems.render_pop909_stems`)."""
    base = Path(cache) if cache is not None else _cache_root()
    ids = split_ids(split, four_four=True, root=root)[:n_songs].tolist()
    tag = "" if soundfont is None else "-" + Path(soundfont).name.split(".")[0]
    metas = []
    for sid in _progress(ids, f"rendering {split} clips", progress):
        d = base / f"{sid:03d}-{int(seconds)}s-{sr}{tag}"
        js = d / "stems.json"
        if js.is_file():
            meta = json.loads(js.read_text())
            if all(Path(p).is_file() for p in meta["paths"].values()):
                metas.append(meta)
                continue
        metas.append(render_pop909_stems(sid, d, soundfont=soundfont or pick_soundfont(sid), seconds=seconds, sr=sr,
                                         root=root))
    return metas


def _progress(items, what: str, show: bool):
    if not show:
        yield from items
        return
    with progress_bar() as bar:
        task = bar.add_task(what, total=len(items))
        for x in items:
            yield x
            bar.advance(task)


def _read(meta: dict) -> dict[str, np.ndarray]:
    return {r: sf.read(meta["paths"][r], dtype="float32")[0] for r in ROLES + ("mix",)}


def _beat_f(ref, est) -> float:
    ref, est = np.asarray(ref, dtype=np.float64), np.asarray(est, dtype=np.float64)
    if len(ref) == 0:
        return float("nan")
    return float(mir_eval.beat.f_measure(ref, est))  # no trimming: the clip starts on a downbeat


def _sdr(ref: dict, est: dict, sr: int) -> list[float]:
    n = int(SDR_SECONDS * sr)
    R = np.stack([ref[r][:n] for r in ROLES]).astype(np.float64)
    E = np.stack([est[r][:n] for r in ROLES]).astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # bss_eval_sources is deprecated, not gone
        sdr, _, _, _ = mir_eval.separation.bss_eval_sources(R, E, compute_permutation=False)
    return [float(x) for x in sdr]


def analysis_scores(
    n_songs: int = 30,
    *,
    seconds: float = DEFAULT_CLIP_S,
    separation_songs: int = 5,
    baseline: bool = False,
    cache: str | os.PathLike | None = None,
    root=None,
    progress: bool = False,
) -> dict:
    """Beat F-measure, weighted key score and separation SDR on rendered POP909 test clips.

    Args:
        n_songs: test songs (duple metre, id order).
        seconds: clip length.
        separation_songs: how many of them to separate with each available backend.
        baseline: also run librosa's default beat tracker on the mix (``beat_f_librosa_mix``).
        cache: where rendered clips are kept (default ``$COLLAGE_CACHE/mashup_validate``).
    Returns:
        ``{"beat_f", "key_score", "separation_sdr": {backend: mean dB or "not available: ..."},
        "downbeat_f", "key_score_clip", "beat_f_mix", "downbeat_f_mix", "key_score_mix",
        "key_score_mix_clip", "tempo_octave_errors", "separation_sdr_per_stem", "n_songs",
        "seconds", "soundfont", "per_song", "wall_s"}``; the first three from the stems
        (percussion, harmonic, vocals), the ``_mix`` ones from the mix alone; ``key_score`` and
        ``key_score_mix`` with the key taken from the whole song (what the MashupDB stores),
        the ``_clip`` ones from the clip alone.
    """
    t0 = time.perf_counter()
    metas = validation_clips(n_songs, seconds=seconds, cache=cache, root=root, progress=progress)
    rows = []
    for meta in _progress(metas, "analysing test clips", progress):
        audio, sr = _read(meta), int(meta["sr"])
        row = {"song_id": meta["song_id"], "key": meta["key"], "tempo": meta["tempo"], "groove": meta["drums"]["groove"]}
        song = render_pop909_song(meta["song_id"], soundfont=meta["soundfont"], roles=ROLES, sr=sr, root=root)
        song_mix = sum(song.values())
        for tag, kw, ctx in (("stems", {r: audio[r] for r in ROLES} | {"mix": audio["mix"]}, song),
                             ("mix", {"mix": audio["mix"]}, {"mix": song_mix})):
            try:
                a = analyze(sr=sr, **kw)  # the clip alone; with ``context=ctx`` only its key would differ:
                song_key = key_name(*estimate_key(tonal_part(**ctx), sr)[:2])  # the key analyze takes from a context
                row[tag] = {"beat_f": _beat_f(meta["beats"], a.beats), "downbeat_f": _beat_f(meta["downbeats"], a.downbeats),
                            "key": song_key, "key_score": key_score(meta["key"], song_key),
                            "key_clip": a.key, "key_score_clip": key_score(meta["key"], a.key), "tempo": round(a.tempo, 2)}
            except AnalysisError as e:  # counts as a miss
                log.warning("song %d (%s): %s", meta["song_id"], tag, e)
                row[tag] = {"beat_f": 0.0, "downbeat_f": 0.0, "key": None, "key_score": 0.0, "key_clip": None,
                            "key_score_clip": 0.0, "tempo": None, "error": str(e)}
        if baseline:
            _, lb = librosa.beat.beat_track(y=audio["mix"], sr=sr, units="time")
            row["librosa_mix_beat_f"] = _beat_f(meta["beats"], lb)
        rows.append(row)

    backends = available_backends()
    sdr: dict = {}
    per_stem: dict = {}
    for name, why in backends.items():
        if why is not None or separation_songs < 1:
            sdr[name] = why or "not run (separation_songs=0)"
            continue
        vals = []
        for meta in metas[:separation_songs]:
            audio, sr = _read(meta), int(meta["sr"])
            vals.append(_sdr(audio, separate(audio["mix"], sr, backend=name), sr))
        arr = np.array(vals)  # (songs, 3)
        sdr[name] = round(float(arr.mean()), 3)
        per_stem[name] = {r: round(float(v), 3) for r, v in zip(ROLES, arr.mean(axis=0))}

    def mean(tag, k):
        return round(float(np.mean([r[tag][k] for r in rows])), 4)

    def octave_errors(tag):
        return sum(1 for r in rows if r[tag]["tempo"] and abs(np.log2(r[tag]["tempo"] / r["tempo"])) > 0.5)

    out = {
        "beat_f": mean("stems", "beat_f"),
        "key_score": mean("stems", "key_score"),
        "separation_sdr": sdr,
        "downbeat_f": mean("stems", "downbeat_f"),
        "key_score_clip": mean("stems", "key_score_clip"),
        "beat_f_mix": mean("mix", "beat_f"),
        "downbeat_f_mix": mean("mix", "downbeat_f"),
        "key_score_mix": mean("mix", "key_score"),
        "key_score_mix_clip": mean("mix", "key_score_clip"),
        "tempo_octave_errors": {"stems": octave_errors("stems"), "mix": octave_errors("mix")},
        "separation_sdr_per_stem": per_stem,
        "separation_songs": min(separation_songs, len(metas)),
        "n_songs": len(rows),
        "seconds": seconds,
        "soundfont": sorted({Path(m["soundfont"]).name for m in metas}),
        "per_song": rows,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    if baseline:
        out["beat_f_librosa_mix"] = round(float(np.mean([r["librosa_mix_beat_f"] for r in rows])), 4)
    return out

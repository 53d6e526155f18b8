"""Building a MashupDB from MIDI songs, stems or full mixes (``collage mashup build DB --from DIR``).

>>> res = build("songs.db", "../shared/data/pop909", source="midi", limit=20, jobs=2)
>>> res["added"], res["skipped"]

Sources (``source=``):

- ``midi``: ``DIR`` is POP909's root (``index.csv`` + ``001/`` ...) or a folder of POP909-style
  song folders (``NNN/NNN.mid``, ``beat_midi.txt``, ``chord_midi.txt``, ``key_audio.txt``); each
  song's clip is rendered to stems (:func:`~collage.mashup.stems.render_pop909_stems`), the
  annotations kept as ground truth in ``songs.info``;
- ``stems``: stems the user has, by the naming convention or manifest of
  :mod:`collage.mashup.sources`;
- ``mix``: full mixes (audio files not named as stems), split by
  :func:`~collage.audio.separate.separate` (``--backend``).

Stems are written as float32 WAVs to a scratch folder, then published under the
stem root (``DB.stems/`` or a folder or fsspec URL given) as ``<name>/<role>-<hash>.wav``,
atomically, with names derived from the samples (:mod:`collage.mashup.stemstore`). The clip
is analysed (:func:`~collage.audio.analyze.analyze`) and cut into 8- and 16-bar segments on
the downbeats, and each harmonic and percussion segment gets its vector
(:mod:`collage.mashup.embed`). The key is always the whole song's, heard in its vocals and harmonic part (for the
``midi`` source the song is rendered whole for it, in memory; the other sources are analysed
whole, then cut); beats are the clip's. Each stem is also analysed alone (key from the same
stem over the whole song, tempo and beats from its own onsets; no key for percussion) and
stored under its role; each song is committed in one transaction after its files exist. Songs already
in the DB are skipped, so an interrupted build continues where it stopped.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import librosa
import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

from collage.audio.analyze import analyze, analyze_stem
from collage.audio.separate import available_backends, separate
from collage.errors import CollageError, InvalidInputError, ParameterError
from collage.io.audio import is_silent, load_audio, write_wav
from collage.mashup.db import MashupDB
from collage.mashup.embed import EMBED_VERSION, segment_embeddings
from collage.mashup.stemstore import is_url, publish
from collage.mashup.sources import find_mixes, find_stem_sets, load_stem_set
from collage.mashup.stems import TRAIN_SOUNDFONTS, pick_soundfont, render_pop909_song, render_pop909_stems
from collage.models.runtime import limit_worker_threads
from collage.progress import progress_bar

__all__ = ["BuildOptions", "plan_jobs", "process_job", "build", "segments_from_downbeats", "BuildError", "SOURCES"]

log = logging.getLogger(__name__)

SOURCES = ("midi", "stems", "mix")
SEGMENT_BARS = (8, 16)


class BuildError(CollageError):
    """The build cannot go on (nothing to add, or --on-error stop hit an error)."""


class BuildOptions(dict):
    """Options shared by every job: source, stems_dir, sr, seconds, seed, soundfont, backend, pop909_root."""


# -- segments ---------------------------------------------------------------------------
def segments_from_downbeats(downbeats, duration_s: float, *, bars=SEGMENT_BARS) -> list[dict]:
    """Whole-bar spans starting on downbeats: for each length in ``bars``, windows every
    half-length (8-bar windows every 4 bars). A span ends on the downbeat ``bars`` later, or
    where the median bar length puts it if that falls past the last downbeat but inside the clip."""
    db = np.asarray(downbeats, dtype=np.float64)
    if len(db) < 2:
        return []
    bar_s = float(np.median(np.diff(db)))
    out = []
    for n in bars:
        for i in range(0, len(db), max(1, n // 2)):
            end = float(db[i + n]) if i + n < len(db) else float(db[-1] + (i + n - len(db) + 1) * bar_s)
            if end <= duration_s + 0.05 * bar_s:
                out.append({"bars": n, "start_s": round(float(db[i]), 4), "end_s": round(min(end, duration_s), 4),
                            "first_downbeat": i})
    return out


# -- planning ---------------------------------------------------------------------------
def plan_jobs(src: Path, source: str) -> list[tuple[str, str]]:
    """``[(name, origin)]`` of every song found under ``src`` for ``source``, sorted by name.

    Raises:
        InvalidInputError: ``src`` is missing, not a folder, or holds nothing of that source.
    """
    if not src.is_dir():
        raise InvalidInputError(src, "no such folder" if not src.exists() else "is not a folder")
    if source == "midi":
        jobs = []
        for d in sorted(p for p in src.iterdir() if p.is_dir()):
            if (d / "beat_midi.txt").is_file() and any(d.glob("*.mid")):
                jobs.append((f"pop909-{d.name}" if d.name.isdigit() else d.name, str(d)))
        if not jobs:
            raise InvalidInputError(src, "holds no POP909-style song folders (NNN/NNN.mid with beat_midi.txt)")
        return jobs
    if source == "stems":
        sets = find_stem_sets(src)
        if not sets:
            raise InvalidInputError(src, "holds no stems named <name>.<role>.<ext> or <name>/<role>.<ext> and no manifest")
        return [(s.name, str(src)) for s in sets]
    mixes = find_mixes(src)
    if not mixes:
        raise InvalidInputError(src, "holds no audio files (.wav, .flac, .ogg, .mp3, .aiff)")
    return [(p.stem, str(p)) for p in mixes]


# -- one song (runs in a worker) ------------------------------------------------------------
def _write_stems(out_dir: Path, stems: dict[str, np.ndarray], sr: int) -> dict[str, dict]:
    n = min(len(y) for y in stems.values())
    stems = {r: np.asarray(y[:n], dtype=np.float32) for r, y in stems.items()}
    stems["mix"] = stems["vocals"] + stems["harmonic"] + stems["percussion"]
    peak = float(np.abs(stems["mix"]).max())
    if peak > 0.99:  # scale all together so that mix stays the exact sum
        stems = {r: y * np.float32(0.99 / peak) for r, y in stems.items()}
    rec = {}
    for role, y in stems.items():
        path = write_wav(out_dir / f"{role}.wav", y, sr)
        rec[role] = {"path": str(path), "sr": sr, "n_samples": len(y)}
    return rec


def _cut_clip(stems: dict[str, np.ndarray], sr: int, analysis, seconds: float | None):
    """Cut the stems to ``seconds`` from the downbeat nearest 25% in; shift the analysis."""
    n = min(len(y) for y in stems.values())
    if seconds is None or n / sr <= seconds + 1e-6:
        return stems, 0.0, analysis
    db = np.asarray(analysis.downbeats if len(analysis.downbeats) else analysis.beats)
    fits = db[db + seconds <= n / sr]
    start = float(fits[np.argmin(np.abs(fits - 0.25 * n / sr))]) if len(fits) else 0.0
    a, b = int(round(start * sr)), int(round((start + seconds) * sr))
    cut = {r: y[a:b] for r, y in stems.items()}
    keep = lambda t: np.asarray(t)[(np.asarray(t) >= start - 1e-6) & (np.asarray(t) < start + seconds)] - start  # noqa: E731
    analysis.beats, analysis.downbeats = keep(analysis.beats), keep(analysis.downbeats)
    return cut, start, analysis


def _stem_analyses(clip: dict[str, np.ndarray], song: dict[str, np.ndarray], sr: int) -> dict[str, dict]:
    """``{role: analysis}`` of each stem of the clip heard alone (:func:`~collage.audio.analyze.analyze_stem`;
    the key from the same stem over the whole ``song``); silent stems are left out."""
    return {r: analyze_stem(clip[r], sr, r, context=song.get(r)) for r in ("vocals", "harmonic", "percussion")
            if r in clip and not is_silent(clip[r])}


def process_job(name: str, origin: str, opts: BuildOptions) -> dict:
    """Make one song's stems and analysis; returns the record for :meth:`MashupDB.add_song`,
    or ``{"name", "error"}`` when the song cannot be used (a user error).

    Idempotent: the stems are made in a scratch folder, then published under the stem root
    ``opts["stems_dir"]`` (a folder or an fsspec URL) with content-derived names
    (:func:`~collage.mashup.stemstore.publish`), each atomically; a job run twice writes the
    same files. Nothing is written to the DB here: the one writer commits the record."""
    try:
        with tempfile.TemporaryDirectory(prefix="collage-build-") as scratch:
            rec = _make_song(name, origin, opts, Path(scratch))
            paths = publish({r: s["path"] for r, s in rec["stems"].items()}, opts["stems_dir"], name)
        for r, p in paths.items():
            rec["stems"][r]["path"] = p
        return rec
    except CollageError as e:
        return {"name": name, "error": str(e)}


def _make_song(name: str, origin: str, opts: BuildOptions, out_dir: Path) -> dict:
    """One song's record, its stems written to the scratch folder ``out_dir``."""
    sr = int(opts["sr"])
    if opts["source"] == "midi":
        d = Path(origin)
        sf2 = opts.get("soundfont") or (pick_soundfont(int(d.name)) if d.name.isdigit() else None)
        if sf2 is None:
            sf2 = TRAIN_SOUNDFONTS[0]
        meta = render_pop909_stems(d, out_dir, soundfont=sf2, seconds=opts["seconds"], sr=sr, seed=opts["seed"])
        audio = {r: load_audio(meta["paths"][r], sr=sr, min_seconds=0.0) for r in ("vocals", "harmonic", "percussion")}
        start, end = meta["start_s"], meta["end_s"]
        song = render_pop909_song(d, soundfont=sf2, sr=sr, seed=opts["seed"])  # the key is the song's
        a = analyze(sr=sr, **audio, context=song)
        progs = meta["programs"]
        stems_rec = {r: {"path": meta["paths"][r], "sr": sr, "n_samples": meta["n_samples"], "soundfont": sf2,
                         "program": {"vocals": progs["vocals"], "harmonic": progs["piano"]}.get(r)}
                     for r in ("vocals", "harmonic", "percussion", "mix")}
        info = {"soundfont": sf2, "programs": progs, "drums": meta["drums"], "silent": meta["silent"],
                "truth": {k: meta[k] for k in ("key", "tempo", "beats", "downbeats")}}
        duration = meta["n_samples"] / sr
    else:
        if opts["source"] == "stems":
            match = [s for s in find_stem_sets(origin) if s.name == name]
            if not match:
                raise InvalidInputError(origin, f"song {name!r} is no longer there")
            audio = load_stem_set(match[0], sr=sr)
        else:
            audio = separate(load_audio(origin, sr=sr), sr, backend=opts["backend"])
        a = analyze(sr=sr, **audio)
        song = audio
        audio, start, a = _cut_clip(audio, sr, a, opts["seconds"])
        stems_rec = _write_stems(out_dir, audio, sr)
        duration = stems_rec["mix"]["n_samples"] / sr
        end = start + duration
        info = {"backend": opts["backend"]} if opts["source"] == "mix" else {}
    if len(a.beats) < 4:
        raise InvalidInputError(origin, f"only {len(a.beats)} beats found in the clip; cannot segment it")
    segments = segments_from_downbeats(a.downbeats, duration)
    song_analysis = a.to_dict()  # rounded as stored: the vectors from what a reindex reads back
    stored = {r: load_audio(stems_rec[r]["path"], sr=sr, min_seconds=0.0)  # the vectors of what is stored (scaled)
              for r in ("harmonic", "percussion") if r in stems_rec}
    return {
        "name": name, "source": opts["source"], "origin": origin, "start_s": start, "end_s": end, "info": info,
        "stems": stems_rec, "analysis": {"song": song_analysis} | _stem_analyses(audio, song, sr),
        "segments": segments, "embed_version": EMBED_VERSION,
        "embeddings": segment_embeddings(stored.get("harmonic"), stored.get("percussion"), sr,
                                         song_analysis["downbeats"], segments),
    }


# -- the pool ------------------------------------------------------------------------------
def _init_worker() -> None:
    """Each worker single-threaded (BLAS / OpenMP / torch)."""
    limit_worker_threads()


def _cluster_job(name: str, origin: str, opts: BuildOptions) -> dict:
    """:func:`process_job` on a cluster worker, single-threaded like a pool worker."""
    limit_worker_threads()
    return process_job(name, origin, opts)


def _warm_up(source: str, backend: str) -> None:
    """Compile librosa's numba kernels once in the parent, so forked workers inherit them
    instead of compiling (and writing numba's cache) concurrently, which can corrupt it."""
    sr = 22050
    t = np.arange(int(6 * sr)) / sr
    click = (np.sin(2 * np.pi * 60 * t) * np.exp(-((t % 0.5) * 30))).astype(np.float32)
    tone = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    analyze(sr=sr, vocals=tone, harmonic=tone, percussion=click)
    if source != "midi":
        librosa.effects.hpss(click + tone)
        if source == "mix":
            separate(click + tone, sr, backend=backend)


def build(db_path: str | os.PathLike, src: str | os.PathLike, *, source: str = "midi", jobs: int = 1,
          on_error: str = "skip", limit: int | None = None, seconds: float | None = 30.0, sr: int = 22050,
          seed: int = 0, soundfont: str | None = None, backend: str = "classical", progress: bool = True,
          cluster: str | None = None, stem_root: str | os.PathLike | None = None) -> dict:
    """Build or continue the MashupDB ``db_path`` from the songs in the folder ``src``.

    Resumable: songs already in the DB are skipped, so an interrupted build
    continues where it stopped. Stems go to ``<db_path>.stems/`` (or ``stem_root``) as
    ``<song>/<role>-<content hash>.wav``. Each song is one job; the jobs run in this
    process (``jobs=1``), a local process pool, or on a Dask cluster (``cluster``); this
    process alone writes the DB, one transaction per song.

    >>> collage.mashup.build("songs.db", "../shared/data/pop909", limit=20, jobs=2)["added"]

    Args:
        db_path: the MashupDB file (created if missing).
        src: a folder of songs (``source='midi'``: POP909-style song folders),
            stems (``'stems'``) or full mixes (``'mix'``); see the module docstring.
        source: one of :data:`SOURCES`.
        jobs: worker processes, 1..64 (1 with ``cluster``: the cluster's workers run the jobs).
        on_error: ``'skip'`` (list unusable songs in the result) or ``'stop'`` (raise at the first).
        limit: at most this many songs of ``src`` (the first by name); None: all.
        seconds: clip length per song, 5..600 s (None: whole songs).
        sr: stem sample rate, Hz.
        seed: varies programs and drums (``'midi'``).
        soundfont: one soundfont for every song (``'midi'``); None: the train/test convention per song.
        backend: the separation backend of ``'mix'`` (``'classical'`` or ``'demucs'``).
        progress: a progress bar on stderr.
        cluster: the address of a Dask scheduler (``tcp://host:8786``); None: run locally.
        stem_root: where the stems go, a folder or an fsspec URL every worker can write and every
            reader can read (``s3://bucket/stems``); None: ``<db_path>.stems``.
    Returns:
        ``{"added", "already", "skipped": [(name, why)], "wall_s", "db"}``.

    Raises:
        ParameterError: a bad option.
        InvalidInputError: ``src`` holds nothing usable, or ``db_path`` is not a MashupDB.
        BuildError: ``on_error='stop'`` met a song that cannot be used, or no song could be added.
        ClusterError: the Dask scheduler at ``cluster`` cannot be reached.
    """
    if source not in SOURCES:
        raise ParameterError(f"given source={source!r}; expected one of {', '.join(SOURCES)}")
    if on_error not in ("skip", "stop"):
        raise ParameterError(f"given on_error={on_error!r}; expected skip or stop")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= 64:
        raise ParameterError(f"given jobs={jobs!r}; expected 1..64")
    if cluster is not None and jobs != 1:
        raise ParameterError(f"given jobs={jobs} with a cluster; the cluster's workers run the jobs (leave jobs at 1)")
    if limit is not None and limit < 1:
        raise ParameterError(f"given limit={limit!r}; expected a positive number of songs")
    if seconds is not None and not 5.0 <= seconds <= 600.0:
        raise ParameterError(f"given seconds={seconds!r}; expected 5..600")
    if source == "mix":
        why = available_backends().get(backend, "unknown backend")
        if why is not None:
            raise ParameterError(f"given backend={backend!r}: {why}")
    src = Path(src)
    planned = plan_jobs(src, source)
    if limit is not None:
        planned = planned[:limit]
    db_path = Path(db_path)
    if stem_root is None:
        stem_root = db_path.with_name(db_path.name + ".stems")
    stems_dir = str(stem_root) if is_url(stem_root) else str(Path(stem_root).resolve())  # workers' cwd may differ
    t0 = time.perf_counter()
    with MashupDB(db_path, create=True) as db:
        done = db.names()
        todo = [(n, o) for n, o in planned if n not in done]
        opts = BuildOptions(source=source, stems_dir=stems_dir, sr=sr, seconds=seconds, seed=seed,
                            soundfont=soundfont, backend=backend)
        added, skipped = 0, []
        if todo:
            _warm_up(source, backend)
        bar = None
        if progress and todo:
            bar = progress_bar(TextColumn("[bold]build[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                               TimeRemainingColumn())
            task = bar.add_task(source, total=len(todo))
            bar.start()

        def take(rec: dict) -> None:
            nonlocal added
            if "error" in rec:
                if on_error == "stop":
                    raise BuildError(f"{rec['name']}: {rec['error']} (stopped; {added} songs added this run; rerun to continue)")
                skipped.append((rec["name"], rec["error"]))
            else:
                db.add_song(rec)
                added += 1
            if bar is not None:
                bar.update(task, advance=1, description=f"{source}: {rec['name']}")

        try:
            if cluster is not None and todo:
                # deferred: dask.distributed is heavy and only cluster builds need it
                from collage.mashup.cluster import run_jobs

                run_jobs(cluster, _cluster_job, todo, opts, take)
            elif jobs == 1:
                _init_worker()
                for name, origin in todo:
                    take(process_job(name, origin, opts))
            else:
                ctx = multiprocessing.get_context("fork")
                with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker) as pool:
                    futs = [pool.submit(process_job, n, o, opts) for n, o in todo]
                    try:
                        for fut in cf.as_completed(futs):
                            take(fut.result())
                    except BaseException:
                        pool.shutdown(wait=True, cancel_futures=True)
                        raise
        finally:
            if bar is not None:
                bar.stop()
    res = {"added": added, "already": len(planned) - len(todo), "skipped": skipped,
           "wall_s": round(time.perf_counter() - t0, 2), "db": str(db_path)}
    if todo and added == 0 and res["already"] == 0:
        raise BuildError(f"no song could be added to {db_path} ({len(skipped)} skipped; first: {skipped[0][0]}: {skipped[0][1]})")
    return res

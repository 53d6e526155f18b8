"""Helpers shared by the benchmark scripts: timing and a description of the machine."""

from __future__ import annotations

import gc
import importlib.metadata as md
import os
import platform
import time
from pathlib import Path


def best_time(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def version(pkg: str) -> str:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return "absent"


def machine() -> str:
    """One line: CPUs, CPU model, OS, Python."""
    return f"{os.cpu_count()} CPUs (nproc), {cpu_model()}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


# -- one-window fusion benchmarks (fusion_keep, fusion_ood, fusion_val_variants) ----------------------------
SEGMENT_TPQ = 480


def segment_piece(step_notes, name: str, steps_per_beat: int = 4, qpm: float = 100.0):
    """(n, 4) step notes [onset, duration, pitch, velocity] of one segment as a one-track piece."""
    from collage.piece import Piece, Tempo, Track

    ticks = step_notes.copy()
    ticks[:, :2] *= SEGMENT_TPQ // steps_per_beat
    return Piece(tracks=[Track(ticks, name=name)], tpq=SEGMENT_TPQ, tempos=[Tempo(0, qpm)])


def window_steps(track, tpq: int, n_steps: int = 32):
    """A track's notes as 16th-note step notes inside one window of ``n_steps`` (later onsets dropped,
    offsets cut at its end)."""
    import numpy as np

    n = track.notes.astype(np.float64)
    out = np.stack([np.round(n[:, 0] * 4 / tpq), np.maximum(np.round(n[:, 1] * 4 / tpq), 1), n[:, 2], n[:, 3]],
                   axis=1).astype(np.int64)
    out = out[out[:, 0] < n_steps]
    out[:, 1] = np.minimum(out[:, 0] + out[:, 1], n_steps) - out[:, 0]
    return out


def analysed_vocal(path, cache: str | None):
    """:func:`collage.mashup.dbclips.vocal_clip` of ``path`` (a ``Clip``), its analysis kept in the JSON file
    ``cache`` (when given) between runs of a mashup benchmark."""
    import json

    import numpy as np

    from collage.io.audio import load_audio
    from collage.mashup.dbclips import vocal_clip
    from collage.mashup.generate import Clip
    from collage.mashup.score import FEATURE_SR

    if cache is None:
        return vocal_clip(path)
    store = json.loads(Path(cache).read_text()) if Path(cache).is_file() else {}
    if str(path) not in store:
        c = vocal_clip(path)
        store[str(path)] = {"key": c.key, "tempo": c.tempo, "beats": c.beats.tolist(), "downbeats": c.downbeats.tolist()}
        tmp = Path(f"{cache}.tmp")
        tmp.write_text(json.dumps(store))
        tmp.replace(cache)  # whole or not at all: a run stopped mid-write keeps the analyses before
        return c
    a = store[str(path)]
    y = load_audio(path, sr=FEATURE_SR)
    return Clip(Path(path).stem, FEATURE_SR, a["key"], a["tempo"], np.asarray(a["beats"]), np.asarray(a["downbeats"]),
                {"vocals": y})


def db_vocals(db) -> list[tuple[str, str]]:
    """``[(song name, vocal stem path)]`` of a MashupDB's songs, in the DB's order."""
    from collage.mashup.db import MashupDB

    with MashupDB(db) as m:
        return [(s["name"], m.stems(s["id"])["vocals"]["path"]) for s in m.songs()]


def db_features(db) -> dict:
    """Each song's stored fast-scorer features of a MashupDB (:func:`collage.mashup.fastscore.ensure_features`:
    computed and stored where missing), memory-mapped; the stems' audio, read to compute them, is let go."""
    from collage.mashup.dbclips import clips_from_db
    from collage.mashup.fastscore import ensure_features

    return ensure_features(db, clips_from_db(db))


def random_segments(index, role: str, n: int, rng) -> list[tuple[str, float, float, int]]:
    """``n`` random stem segments of ``role`` in a StemIndex, each with a random stretch in [0.8, 1.2] and (harmonic)
    pitch shift: ``[(song, start_s, ratio, semitones)]``."""
    from collage.mashup.fastscore import SHIFTS

    seg, out = index.segments[role], []
    for i in rng.permutation(len(seg["song"]))[:n]:
        out.append((index.names[seg["song"][i]], float(seg["start_s"][i]), float(rng.uniform(0.8, 1.2)),
                    int(rng.choice(SHIFTS)) if role == "harmonic" else 0))
    return out


def segment_share(scorer, feats, role: str, segment: tuple, seconds: float, offset_s: float = 0.0):
    """The fast second stage's SourceNet share of each window of a ``random_segments`` segment placed in a ``seconds``
    mashup (``offset_s`` later): ``(W, c1d, T'', 1)`` numpy."""
    from collage.mashup.fastscore import placed_features
    from collage.mashup.score import windows

    song, start, ratio, semis = segment
    m = placed_features(feats[song], role, start_s=start, seconds=seconds, ratio=ratio, semitones=semis,
                        offset_s=offset_s)[0]
    return scorer._share(1 if role == "harmonic" else 2, windows(m)).numpy()


def write_results(out_dir: Path, name: str, out: dict, lines: list[str]) -> str:
    """``out`` as ``out_dir/NAME.json`` and the report ``lines`` (followed by the machine and the command, from ``out``'s
    ``machine``, ``loadavg_after`` and ``command``) as ``out_dir/NAME.md``; prints and returns the report."""
    import json

    (out_dir / f"{name}.json").write_text(json.dumps(out, indent=1) + "\n")
    md = "\n".join([*lines, "", f"Machine: {out['machine']}; load average after {out['loadavg_after']}.", "",
                    f"Command: `{out['command']}`", ""])
    (out_dir / f"{name}.md").write_text(md)
    print(md)
    return md


def parse_expand(text: str) -> tuple[int, int, int, bool]:
    """A benchmark's ``--expand A,N[,P[,F]]`` → ``(anchors, new, passes, fresh)`` (passes 1 when left out; ``F``:
    ``f`` or ``True`` for passes after the first around the anchors new to the top only), as
    :data:`collage.mashup.retrieval.EXPAND`."""
    parts = text.split(",")
    fresh = len(parts) > 3 and parts[3].strip().lower() in ("f", "fresh", "true", "1")
    return (*(*(int(x) for x in parts[:3]), 1)[:3], fresh)

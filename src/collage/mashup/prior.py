"""Segment priors: how well a stem segment mashes up on average, by the second stage itself, once per DB.

>>> priors = ensure_priors("songs.db", index)        # {role: (N,) float32}, aligned with index.segments[role]

Much of what the fast second stage (PreMixNet) thinks of a pair depends on the accompaniment
alone: how the harmonic or the percussion segment sounds and moves, whatever the vocal. A
segment's *prior* is the second stage's mean logit for it with :data:`N_REFS` reference vocal
windows and :data:`N_REFS` reference partner segments (the other role), all drawn once from the
DB's other songs (seeded; kept in ``<db>.features/prior_refs.json`` so that songs added later
are scored against the same references), each stretched to the reference vocal's tempo (the
octave nearest to it, within [0.8, 1.2]) and not pitch-shifted. It is computed by the second stage
on the DB's own audio, so it holds for timbres no model was trained on; the first stage adds it
to the learned, vocal-dependent score (:mod:`collage.mashup.index`).

Stored per song beside its features (``<db>.features/<song>/prior-<refs hash>.npz``), computed
for the songs that lack them; the features themselves are computed first where missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from collage.errors import OutputError
from collage.mashup.dbclips import clips_from_db
from collage.mashup.fastscore import FastScorer, _song_dir, ensure_features, features_dir
from collage.mashup.generate import Candidate, vocal_starts
from collage.mashup.score import load_scorer
from collage.progress import track

__all__ = ["N_REFS", "REF_SECONDS", "PRIOR_VERSION", "ensure_priors"]

#: reference vocal windows, and reference partner segments of each role
N_REFS = 16
#: seconds of each reference mashup
REF_SECONDS = 15.0
#: bumped when the priors change; stored in the references file
PRIOR_VERSION = 1


def _ratio(vocal_tempo: float, tempo: float) -> float:
    """The stretch that brings ``tempo`` to the octave of ``vocal_tempo`` nearest to it, within [0.8, 1.2]."""
    r = min((vocal_tempo * m / tempo for m in (1.0, 0.5, 2.0)), key=lambda x: abs(np.log(x)))
    return float(np.clip(r, 0.8, 1.2))


def _references(db_path, index, clips: dict) -> dict:
    """The DB's reference vocal windows and partner segments: read from ``prior_refs.json`` or drawn (seed 0)."""
    path = features_dir(db_path) / "prior_refs.json"
    if path.is_file():
        refs = json.loads(path.read_text())
        used = {s for s, _ in refs["vocals"]} | {s for r in ("harmonic", "percussion") for s, _ in refs[r]}
        if refs.get("version") == PRIOR_VERSION and used <= set(index.names) and used <= set(clips):
            return refs
    rng = np.random.default_rng(0)
    names = sorted(n for n in index.names if n in clips)
    vocals = []
    for _ in range(N_REFS):
        c = clips[names[int(rng.integers(len(names)))]]
        starts = vocal_starts(c, min(REF_SECONDS, c.duration))
        vocals.append([c.id, float(starts[int(rng.integers(len(starts)))])])
    refs = {"version": PRIOR_VERSION, "seconds": REF_SECONDS, "vocals": vocals}
    for role in ("harmonic", "percussion"):
        g, out = index.segments[role], []
        for i in rng.permutation(len(g["song"])):
            s = int(g["song"][i])
            if index.names[s] in clips and g["start_s"][i] + REF_SECONDS * 1.2 <= index.durations[s] + 1e-6:
                out.append([index.names[s], float(g["start_s"][i])])
            if len(out) == 2 * N_REFS:  # twice as many: those of a segment's own song or the vocal's are skipped
                break
        refs[role] = out
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(refs, indent=1) + "\n")
        os.replace(tmp, path)
    except OSError as e:
        raise OutputError(path, f"cannot store the prior references ({e.strerror or e})") from None
    return refs


def ensure_priors(db_path: str | os.PathLike, index, *, scorer: FastScorer | None = None,
                  progress: bool = False) -> dict[str, np.ndarray]:
    """Each segment's prior, ``{role: (N,) float32}`` aligned with ``index.segments[role]`` (a
    :class:`~collage.mashup.index.StemIndex` of the DB), computing and storing those missing.

    Raises:
        InvalidInputError / InvalidAudioError: the DB or a stem cannot be read.
        OutputError: the features folder cannot be written.
    """
    clips = {c.id: c for c in clips_from_db(db_path)}
    refs = _references(db_path, index, clips)
    tag = hashlib.sha256(json.dumps(refs, sort_keys=True).encode()).hexdigest()[:12]
    out = {r: np.zeros(len(index.segments[r]["song"]), np.float32) for r in ("harmonic", "percussion")}
    rows = {r: [np.flatnonzero(index.segments[r]["song"] == s) for s in range(len(index.names))] for r in out}
    todo = []
    for s, name in enumerate(index.names):
        f = _song_dir(db_path, name) / f"prior-{tag}.npz"
        got = _read(f, {r: len(rows[r][s]) for r in out})
        if got is None:
            todo.append(s)
        else:
            for r in out:
                out[r][rows[r][s]] = got[r]
    if not todo:
        return out
    ref_songs = {n for n, _ in refs["vocals"]} | {n for r in out for n, _ in refs[r]}
    need = [clips[n] for n in sorted(ref_songs | {index.names[s] for s in todo}) if n in clips]
    feats = ensure_features(db_path, need)
    if scorer is None:
        scorer = FastScorer(load_scorer("premixnet"))
    queries = []
    for name, start in refs["vocals"]:
        c = clips[name]
        queries.append((c, start, scorer.vocal(c, vocal_start_s=start, seconds=REF_SECONDS)))
    for c in clips.values():
        c.stems = {}  # the audio can go
    tempo = dict(zip(index.names, index.tempi))
    cache: dict = {}
    for s in track(todo, "scoring stem segments against references", show=progress):
        name = index.names[s]
        vals = {}
        for role in out:
            g, other = index.segments[role], "percussion" if role == "harmonic" else "harmonic"
            v = np.zeros(len(rows[role][s]), np.float32)
            for k, i in enumerate(rows[role][s]):
                start, logits = float(g["start_s"][i]), []
                for c, vstart, q in queries:
                    if c.id == name:
                        continue
                    r = _ratio(c.tempo, tempo[name])
                    cands = []
                    for pn, ps in [x for x in refs[other] if x[0] not in (name, c.id)][:N_REFS]:
                        pr = _ratio(c.tempo, tempo[pn])
                        h, p = ((name, start, r), (pn, ps, pr)) if role == "harmonic" else ((pn, ps, pr), (name, start, r))
                        cands.append(Candidate("matched", c.id, h[0], p[0], REF_SECONDS, vstart, h[1], p[1],
                                               harmonic_ratio=h[2], percussion_ratio=p[2]))
                    if cands:
                        pr_ = np.clip(scorer.score(q, cands, feats, cache=cache), 1e-4, 1 - 1e-4)
                        logits.append(float(np.mean(np.log(pr_ / (1 - pr_)))))
                v[k] = np.mean(logits) if logits else 0.0
            vals[role] = v
            out[role][rows[role][s]] = v
        _write(_song_dir(db_path, name) / f"prior-{tag}.npz", vals)
    return out


def _read(f: Path, sizes: dict[str, int]) -> dict[str, np.ndarray] | None:
    if not f.is_file():
        return None
    with np.load(f) as z:
        got = {r: np.asarray(z[r], np.float32) for r in sizes if r in z.files}
    return got if all(r in got and len(got[r]) == n for r, n in sizes.items()) else None


def _write(f: Path, vals: dict[str, np.ndarray]) -> None:
    try:
        f.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f.name, suffix=".npz", dir=f.parent)
        os.close(fd)
        np.savez(tmp, **vals)
        os.replace(tmp, f)
    except OSError as e:
        raise OutputError(f, f"cannot store the segment priors ({e.strerror or e})") from None

"""The first stage of retrieval: every stem segment of a MashupDB, searched by embedding.

>>> index = StemIndex.load("songs.db")            # computes vectors missing from older DBs
>>> pairs = index.shortlist(vec, "C:maj", (100.0, 50.0, 200.0), n=2500, seconds=25.0)

The vectors are :mod:`collage.mashup.embed`'s, stored per stem segment at build time (a DB
built before them gets them on first use, or by :func:`ensure_embeddings`). A search is
brute force in numpy: the rule-based filters of the second stage (key within ±3 semitones,
tempo ratio in [0.8, 1.2], enough audio after the segment's start for the stretched
window), then the learned first stage (:class:`~collage.mashup.firststage.FirstStage`: a
small MLP per role on the vocal's vector, the segment's after its pitch shift, and the
stretch; one number per segment) and a partial sort (:func:`~collage.mashup.embed.shortlist_pairs`).
"""

from __future__ import annotations

import os
import time

import numpy as np

from collage.errors import InvalidInputError
from collage.io.audio import load_audio
from collage.mashup.db import MashupDB
from collage.mashup.embed import DIM, EMBED_VERSION, segment_embeddings, shortlist_pairs
from collage.mashup.firststage import FirstStage, segment_scores
from collage.mashup.generate import MAX_KEY_DISTANCE, TEMPO_RANGE, key_distance
from collage.mashup.prior import ensure_priors
from collage.mashup.stemstore import local_copy
from collage.progress import track

__all__ = ["PRIOR_TOP", "StemIndex", "ensure_embeddings"]

#: allowed segments of a role (per reading of the vocal's tempo) that go on to the learned score, the best by prior:
#: a bound only a large library reaches (about 50,000 stem segments and up)
PRIOR_TOP = 5000


def ensure_embeddings(db_path: str | os.PathLike, *, reindex: bool = False, progress: bool = False) -> int:
    """Compute and store the stem-segment vectors of every song that lacks them (every song with
    ``reindex``), one transaction per song; returns how many songs were (re)indexed.

    Raises:
        InvalidInputError: the DB cannot be read, or a stem file is missing.
        OutputError: the DB cannot be written.
    """
    with MashupDB(db_path) as db:
        ids = [s["id"] for s in db.songs()] if reindex else db.songs_without_embeddings(EMBED_VERSION)
        for sid in track(ids, "indexing stem segments", show=progress and bool(ids)):
            stems, an, segs = db.stems(sid), db.analysis(sid), db.segments(sid)
            audio = {}
            for role in ("harmonic", "percussion"):
                if role in stems:
                    with local_copy(stems[role]["path"]) as p:
                        audio[role] = load_audio(p, sr=int(stems[role]["sr"]), min_seconds=0.0)
            sr = int(next(iter(stems.values()))["sr"]) if stems else 22050
            rows = segment_embeddings(audio.get("harmonic"), audio.get("percussion"), sr, an.get("downbeats", []), segs)
            db.set_embeddings(sid, rows, EMBED_VERSION)
    return len(ids)


class StemIndex:
    """Every harmonic and percussion stem segment of a MashupDB with its vector, in memory as arrays.

    Attributes: ``names`` (song names), ``keys`` / ``tempi`` / ``durations`` (per song: key label,
    BPM, seconds of audio stored); ``segments[role]``: ``{"song" (int32 index into names),
    "start_s", "end_s" (float64), "bars" (int16), "vec" ((N x DIM) float32)}`` for ``role`` in
    harmonic, percussion; ``load_s``. ``first_stage``: the scorer of segments (default: the shipped
    :class:`~collage.mashup.firststage.FirstStage`, loaded on first use).
    """

    def __init__(self, names: list[str], keys: list[str], tempi, durations, segments: dict[str, dict],
                 first_stage: FirstStage | None = None):
        self.names, self.keys = list(names), list(keys)
        self.tempi = np.asarray(tempi, np.float64)
        self.durations = np.asarray(durations, np.float64)
        # the relative major's pitch class of each song's key: the pitch shift is then arithmetic
        self._key_pc = np.array([key_distance(k, "C:maj") % 12 for k in self.keys], np.int64)
        self.segments = segments
        self.load_s = 0.0
        self._first_stage = first_stage

    @property
    def first_stage(self) -> FirstStage:
        if self._first_stage is None:
            self._first_stage = FirstStage.load()
        return self._first_stage

    @classmethod
    def load(cls, db_path: str | os.PathLike, *, reindex: bool = False, progress: bool = False,
             priors: bool = True) -> "StemIndex":
        """Read a MashupDB's vectors (computing missing ones first) and, with ``priors``, each segment's prior
        (:func:`~collage.mashup.prior.ensure_priors`: computed and stored where missing, with the songs'
        features; without them the first stage is the learned score alone).

        Raises:
            InvalidInputError: the DB cannot be read or has no song with an analysis.
        """
        t0 = time.perf_counter()
        ensure_embeddings(db_path, reindex=reindex, progress=progress)
        names, keys, tempi, durs, pos = [], [], [], [], {}
        with MashupDB(db_path) as db:
            for s in db.songs():
                an, st = db.analysis(s["id"]), db.stems(s["id"])
                if not an or not an.get("key") or not an.get("tempo") or not st:
                    continue
                pos[s["id"]] = len(names)
                names.append(s["name"])
                keys.append(an["key"])
                tempi.append(float(an["tempo"]))
                durs.append(min(m["duration_s"] for m in st.values()))
            segs = {}
            for role in ("harmonic", "percussion"):
                meta, mat = db.embeddings(role, EMBED_VERSION)
                keep = [i for i, m in enumerate(meta) if m["song_id"] in pos]
                segs[role] = {"song": np.array([pos[meta[i]["song_id"]] for i in keep], np.int32),
                              "start_s": np.array([meta[i]["start_s"] for i in keep], np.float64),
                              "end_s": np.array([meta[i]["end_s"] for i in keep], np.float64),
                              "bars": np.array([meta[i]["bars"] for i in keep], np.int16),
                              "vec": mat[keep] if keep else np.zeros((0, DIM), np.float32)}
        if not names:
            raise InvalidInputError(db_path, "the MashupDB holds no song with an analysis (is it empty?)")
        index = cls(names, keys, tempi, durs, segs)
        if priors:
            for role, v in ensure_priors(db_path, index, progress=progress).items():
                index.segments[role]["prior"] = v
        index.load_s = time.perf_counter() - t0
        return index

    def __len__(self) -> int:
        return sum(len(g["song"]) for g in self.segments.values())

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays held per segment (vectors and their song, start, end, bars)."""
        return int(sum(a.nbytes for g in self.segments.values() for a in g.values()))

    def _allowed(self, role: str, key: str, tempo: float, seconds: float, exclude: int | None):
        g = self.segments[role]
        song = g["song"]
        ratio = tempo / self.tempi[song]
        ok = (ratio >= TEMPO_RANGE[0]) & (ratio <= TEMPO_RANGE[1]) & (g["start_s"] + seconds * ratio <= self.durations[song] + 1e-6)
        if exclude is not None:
            ok &= song != exclude
        shifts = np.zeros(len(song), np.int64)
        if role == "harmonic":
            shifts = (key_distance(key, "C:maj") % 12 - self._key_pc[song] + 6) % 12 - 6
            ok &= np.abs(shifts) <= MAX_KEY_DISTANCE
        idx = np.flatnonzero(ok)
        return idx, ratio[idx], shifts[idx]

    def scores(self, vec: np.ndarray, key: str, tempo: float, *, seconds: float, exclude: str | None = None) -> dict:
        """First-stage scores of every allowed segment: ``{role: (indices, scores, ratios, shifts)}``; a
        pair's score is the sum of its two segments'. A segment's score is its prior and the learned score, each
        standardised over the allowed segments, the learned one weighted by
        :data:`~collage.mashup.firststage.STUDENT_WEIGHT` (the learned score alone when there are no priors). Of more
        than :data:`PRIOR_TOP` allowed segments of a role, only the best by prior are scored and returned: past the
        rule filters, the cost of a query then stops growing with the library."""
        ex = self.names.index(exclude) if exclude is not None and exclude in self.names else None
        out = {}
        for role in ("harmonic", "percussion"):
            g = self.segments[role]
            idx, ratio, shifts = self._allowed(role, key, tempo, seconds, ex)
            if "prior" in g and len(idx) > PRIOR_TOP:  # a large library: only the best by prior go on
                keep = np.sort(np.argpartition(-g["prior"][idx], PRIOR_TOP - 1)[:PRIOR_TOP])
                idx, ratio, shifts = idx[keep], ratio[keep], shifts[keep]
            s = self.first_stage.scores(role, vec, g["vec"][idx], shifts, ratio)
            if "prior" in g:
                s = segment_scores(g["prior"][idx], s)
            out[role] = (idx, s.astype(np.float32), ratio, shifts)
        return out

    def candidates(self, vec: np.ndarray, key: str, tempo, *, seconds: float, exclude: str | None = None) -> dict:
        """Every segment the vocal's key and tempo allow, scored by the first stage, for :meth:`pairs`:
        ``{role: {"idx" (into segments[role]), "score", "ratio", "shift", "reading" (index into the readings)}}``.

        ``tempo``: the vocal's tempo (BPM), or several readings of it (e.g. ``(t, t / 2, t * 2)``); a segment's score
        is standardised over the segments its reading allows (a segment is allowed by one reading at most, the
        ratios of two readings being 2x apart). Segments that make the same mashup (8 and 16 bars from the same
        downbeat of a song) count once: the best scoring stands for them. ``exclude``: a song left out (the
        vocal's own)."""
        tempi = [float(tempo)] if np.ndim(tempo) == 0 else list(dict.fromkeys(float(t) for t in tempo))
        parts = {"harmonic": [], "percussion": []}
        for r, t in enumerate(tempi):
            sc = self.scores(vec, key, t, seconds=seconds, exclude=exclude)
            for role in parts:
                idx, score, ratio, shift = _best_per_start(self.segments[role], *sc[role])
                parts[role].append((idx, score, ratio, shift, np.full(len(idx), r)))
        return {role: dict(zip(("idx", "score", "ratio", "shift", "reading"), (np.concatenate(a) for a in zip(*got))))
                for role, got in parts.items()}

    def pairs(self, cands: dict, n: int, *, aspect: float = 1.0) -> list[dict]:
        """The best (harmonic segment, percussion segment) pairs of :meth:`candidates`, up to ``n``, best first:
        ``[{"harmonic", "harmonic_start_s", "harmonic_semitones", "harmonic_ratio", "percussion",
        "percussion_start_s", "percussion_ratio", "first_stage"}]``: those of
        :func:`~collage.mashup.embed.shortlist_pairs`, every pair of the best ``ceil(sqrt(n))`` segments of each
        side (``aspect`` percussion segments per harmonic one: :func:`~collage.mashup.embed.grid_shape`), both
        segments of one reading of the tempo, never both stems from one song."""
        return self.pair_dicts(cands, self.pair_positions(cands, n, aspect=aspect))

    def pair_positions(self, cands: dict, n: int, *, aspect: float = 1.0) -> list[tuple[int, int]]:
        """:meth:`pairs` as positions ``(i, j)`` into ``cands["harmonic"]`` and ``cands["percussion"]``."""
        H, P = self.segments["harmonic"], self.segments["percussion"]
        h, p = cands["harmonic"], cands["percussion"]
        return shortlist_pairs(h["score"], p["score"], n, h_group=H["song"][h["idx"]], p_group=P["song"][p["idx"]],
                               h_block=h["reading"], p_block=p["reading"], aspect=aspect)

    def pair_dicts(self, cands: dict, pairs) -> list[dict]:
        """The pairs ``[(i, j)]`` of positions into ``cands``' two sides as :meth:`pairs` gives them."""
        H, P = self.segments["harmonic"], self.segments["percussion"]
        h, p = cands["harmonic"], cands["percussion"]
        return [{"harmonic": self.names[H["song"][h["idx"][i]]], "harmonic_start_s": float(H["start_s"][h["idx"][i]]),
                 "harmonic_semitones": int(h["shift"][i]), "harmonic_ratio": float(h["ratio"][i]),
                 "percussion": self.names[P["song"][p["idx"][j]]], "percussion_start_s": float(P["start_s"][p["idx"][j]]),
                 "percussion_ratio": float(p["ratio"][j]), "first_stage": float(h["score"][i] + p["score"][j])}
                for i, j in pairs]

    def shortlist(self, vec: np.ndarray, key: str, tempo, *, n: int, seconds: float,
                  exclude: str | None = None) -> list[dict]:
        """:meth:`pairs` of :meth:`candidates`: the best pairs, up to ``n``, for a vocal with vector ``vec``, key
        and tempo (or readings of it)."""
        return self.pairs(self.candidates(vec, key, tempo, seconds=seconds, exclude=exclude), n)


def _best_per_start(g: dict, idx: np.ndarray, scores: np.ndarray, ratios: np.ndarray, shifts: np.ndarray):
    """The allowed segments ``idx`` (with their scores, ratios, shifts) keeping, of those of one song that
    start together (8 and 16 bars: the same mashup, rendered from the start), the best scoring."""
    if len(idx) == 0:
        return idx, scores, ratios, shifts
    order = np.lexsort((-scores, g["start_s"][idx], g["song"][idx]))  # by song, start, best score first
    song, start = g["song"][idx][order], g["start_s"][idx][order]
    first = np.ones(len(order), bool)
    first[1:] = (song[1:] != song[:-1]) | (start[1:] != start[:-1])
    keep = np.sort(order[first])
    return idx[keep], scores[keep], ratios[keep], shifts[keep]


"""The first stage of retrieval: every stem segment of a MashupDB, searched by embedding.

>>> index = StemIndex.load("songs.db")            # computes vectors missing from older DBs
>>> pairs = index.shortlist(vec, "C:maj", 100.0, n=30, seconds=25.0)

The vectors are :mod:`collage.mashup.embed`'s, stored per stem segment at build time (a DB
built before them gets them on first use, or by :func:`ensure_embeddings`). A search is
brute force in numpy: the rule-based filters of the second stage (key within ±3 semitones,
tempo ratio in [0.8, 1.2], enough audio after the segment's start for the stretched
window), then one dot product per segment and a partial sort (:func:`~collage.mashup.embed.shortlist_pairs`).
"""

from __future__ import annotations

import os
import time

import numpy as np

from collage.errors import InvalidInputError
from collage.io.audio import load_audio
from collage.mashup.db import MashupDB
from collage.mashup.embed import EMBED_VERSION, harmonic_scores, percussion_scores, segment_embeddings, shortlist_pairs
from collage.mashup.generate import MAX_KEY_DISTANCE, TEMPO_RANGE, key_distance
from collage.mashup.stemstore import local_copy
from collage.progress import track

__all__ = ["StemIndex", "ensure_embeddings"]


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
    """Every harmonic and percussion stem segment of a MashupDB with its vector, in memory.

    Attributes: ``harmonic`` / ``percussion``: ``(meta, matrix)`` with ``meta`` a list of
    ``{"song", "start_s", "end_s", "bars"}`` and ``matrix`` (N x DIM) float32; ``songs``:
    ``{name: {"key", "tempo", "duration_s"}}``; ``load_s``.
    """

    def __init__(self, songs: dict, harmonic: tuple[list, np.ndarray], percussion: tuple[list, np.ndarray]):
        self.songs, self.harmonic, self.percussion = songs, harmonic, percussion
        self.load_s = 0.0
        # per-segment arrays for the filters, one row per segment
        self._cols = {}
        for role, (meta, _) in (("harmonic", harmonic), ("percussion", percussion)):
            s = [self.songs[m["song"]] for m in meta]
            self._cols[role] = {
                "song": np.array([m["song"] for m in meta], dtype=object),
                "start": np.array([m["start_s"] for m in meta], np.float64),
                "dur": np.array([x["duration_s"] for x in s], np.float64),
                "tempo": np.array([x["tempo"] for x in s], np.float64),
                "key": [x["key"] for x in s],
            }

    @classmethod
    def load(cls, db_path: str | os.PathLike, *, reindex: bool = False, progress: bool = False) -> "StemIndex":
        """Read a MashupDB's vectors (computing missing ones first).

        Raises:
            InvalidInputError: the DB cannot be read or has no song with an analysis.
        """
        t0 = time.perf_counter()
        ensure_embeddings(db_path, reindex=reindex, progress=progress)
        with MashupDB(db_path) as db:
            songs, by_id = {}, {}
            for s in db.songs():
                an, st = db.analysis(s["id"]), db.stems(s["id"])
                if not an or not an.get("key") or not an.get("tempo") or not st:
                    continue
                dur = min(m["duration_s"] for m in st.values())
                songs[s["name"]] = {"key": an["key"], "tempo": float(an["tempo"]), "duration_s": float(dur)}
                by_id[s["id"]] = s["name"]
            parts = []
            for role in ("harmonic", "percussion"):
                meta, mat = db.embeddings(role, EMBED_VERSION)
                keep = [i for i, m in enumerate(meta) if m["song_id"] in by_id]
                meta = [{"song": by_id[meta[i]["song_id"]], "start_s": meta[i]["start_s"], "end_s": meta[i]["end_s"],
                         "bars": meta[i]["bars"]} for i in keep]
                parts.append((meta, mat[keep] if len(keep) else np.zeros((0, 0), np.float32)))
        if not songs:
            raise InvalidInputError(db_path, "the MashupDB holds no song with an analysis (is it empty?)")
        index = cls(songs, *parts)
        index.load_s = time.perf_counter() - t0
        return index

    def __len__(self) -> int:
        return len(self.harmonic[0]) + len(self.percussion[0])

    @property
    def nbytes(self) -> int:
        """Bytes of the vectors held."""
        return int(self.harmonic[1].nbytes + self.percussion[1].nbytes)

    def _allowed(self, role: str, key: str, tempo: float, seconds: float, exclude: str | None):
        c = self._cols[role]
        ratio = tempo / c["tempo"] if len(c["tempo"]) else np.zeros(0)
        ok = (ratio >= TEMPO_RANGE[0]) & (ratio <= TEMPO_RANGE[1]) & (c["start"] + seconds * ratio <= c["dur"] + 1e-6)
        if exclude is not None:
            ok &= c["song"] != exclude
        shifts = np.zeros(len(ratio), np.int64)
        if role == "harmonic":
            dist = {k: key_distance(key, k) for k in set(c["key"])}
            shifts = np.array([dist[k] for k in c["key"]], np.int64)
            ok &= np.abs(shifts) <= MAX_KEY_DISTANCE
        return np.flatnonzero(ok), ratio, shifts

    def scores(self, vec: np.ndarray, key: str, tempo: float, *, seconds: float, exclude: str | None = None) -> dict:
        """First-stage scores of every allowed segment: ``{role: (indices, scores, ratios, shifts)}``."""
        out = {}
        for role, (_, mat) in (("harmonic", self.harmonic), ("percussion", self.percussion)):
            idx, ratio, shifts = self._allowed(role, key, tempo, seconds, exclude)
            if not len(idx):
                out[role] = (idx, np.zeros(0, np.float32), ratio[idx], shifts[idx])
                continue
            sim = harmonic_scores(vec, mat[idx], shifts[idx]) if role == "harmonic" else percussion_scores(vec, mat[idx])
            out[role] = (idx, sim - np.abs(np.log(ratio[idx])).astype(np.float32), ratio[idx], shifts[idx])
        return out

    def shortlist(self, vec: np.ndarray, key: str, tempo: float, *, n: int, seconds: float,
                  exclude: str | None = None) -> list[dict]:
        """The ``n`` best (harmonic segment, percussion segment) pairs for a vocal with vector ``vec``,
        key and tempo, best first: ``[{"harmonic", "harmonic_start_s", "harmonic_semitones", "harmonic_ratio",
        "percussion", "percussion_start_s", "percussion_ratio", "first_stage"}]``. ``exclude``: a song
        whose stems are left out (the vocal's own); a pair never takes both stems from one song."""
        sc = self.scores(vec, key, tempo, seconds=seconds, exclude=exclude)
        hi, hs, hr, hsh = sc["harmonic"]
        pi, ps, pr, _ = sc["percussion"]
        hm, pm = self.harmonic[0], self.percussion[0]
        pairs = shortlist_pairs(hs, ps, n, exclude=lambda i, j: hm[hi[i]]["song"] == pm[pi[j]]["song"])
        return [{"harmonic": hm[hi[i]]["song"], "harmonic_start_s": float(hm[hi[i]]["start_s"]),
                 "harmonic_semitones": int(hsh[i]), "harmonic_ratio": float(hr[i]),
                 "percussion": pm[pi[j]]["song"], "percussion_start_s": float(pm[pi[j]]["start_s"]),
                 "percussion_ratio": float(pr[j]), "first_stage": float(hs[i] + ps[j])} for i, j in pairs]

"""The MashupDB: songs, their stems, analysis and segments in one SQLite file.

Built by ``collage mashup build DB --from DIR`` (:func:`collage.mashup.builder.build`); read with::

    with MashupDB("songs.db") as db:                  # or db = MashupDB(...); ...; db.close()
        for song in db.songs():                       # [{"id", "name", "source", "origin", "start_s", "end_s", "info"}]
            stems = db.stems(song["id"])              # {"vocals": {"path", "sr", "n_samples", "duration_s",
                                                      #             "soundfont", "program"}, "harmonic": ..., ...}
            a = db.analysis(song["id"])               # {"key", "tonic", "mode", "key_strength", "tempo",
                                                      #  "beats": [s, ...], "downbeats": [s, ...]} or {}
            segs = db.segments(song["id"])            # [{"bars", "start_s", "end_s", "first_downbeat"}]

Tables (times in seconds from the start of the stored stems):

- ``songs``: ``id``, ``name`` (UNIQUE; e.g. ``pop909-012``), ``source`` (``midi``/``stems``/``mix``),
  ``origin`` (the input file or folder), ``start_s``/``end_s`` (the clip in the original, when
  known), ``info`` (JSON: soundfont, programs, groove, annotated truth for rendered songs).
- ``stems``: ``song_id``, ``role`` (vocals/harmonic/percussion/mix), ``path`` (relative to the
  DB's folder when inside it, returned absolute; or an fsspec URL, kept as it is), ``sr``, ``n_samples``, ``duration_s``,
  ``soundfont``, ``program``; UNIQUE (song_id, role).
- ``analysis``: ``song_id``, ``role`` (``song`` for the whole clip, or a stem role), key,
  tonic, mode, key_strength, tempo (BPM), beats and downbeats (JSON arrays); UNIQUE (song_id, role).
- ``segments``: ``song_id``, ``bars`` (8 or 16), ``start_s``, ``end_s``, ``first_downbeat``
  (index into the downbeats); spans of whole bars starting on a downbeat; UNIQUE (song_id, bars, start_s).

- ``embeddings`` (added after schema 1; an older file gets it on first use): ``song_id``,
  ``role`` (harmonic/percussion), ``bars``, ``start_s``, ``end_s`` (the segment), ``version``,
  ``vec`` (float32 little-endian bytes; :mod:`collage.mashup.embed`); UNIQUE (song_id, role, bars, start_s).

A song is added with all its rows in one transaction (:meth:`MashupDB.add_song`), so an
interrupted build leaves either the whole song or nothing of it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import numpy as np

from collage.errors import InvalidInputError, OutputError, ParameterError
from collage.mashup.stemstore import exists as stem_exists, is_url
from collage.represent.pitch import normalize_key

__all__ = ["MashupDB", "SCHEMA_VERSION", "STEM_ROLES"]

SCHEMA_VERSION = 1
STEM_ROLES = ("vocals", "harmonic", "percussion", "mix")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS songs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL CHECK (source IN ('midi', 'stems', 'mix')),
    origin TEXT,
    start_s REAL,
    end_s REAL,
    info TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS stems (
    id INTEGER PRIMARY KEY,
    song_id INTEGER NOT NULL REFERENCES songs(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('vocals', 'harmonic', 'percussion', 'mix')),
    path TEXT NOT NULL,
    sr INTEGER NOT NULL CHECK (sr > 0),
    n_samples INTEGER NOT NULL CHECK (n_samples > 0),
    duration_s REAL NOT NULL,
    soundfont TEXT,
    program INTEGER,
    UNIQUE (song_id, role)
);
CREATE TABLE IF NOT EXISTS analysis (
    id INTEGER PRIMARY KEY,
    song_id INTEGER NOT NULL REFERENCES songs(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    key TEXT, tonic INTEGER, mode TEXT, key_strength REAL,
    tempo REAL,
    beats TEXT NOT NULL DEFAULT '[]',
    downbeats TEXT NOT NULL DEFAULT '[]',
    UNIQUE (song_id, role)
);
CREATE TABLE IF NOT EXISTS segments (
    id INTEGER PRIMARY KEY,
    song_id INTEGER NOT NULL REFERENCES songs(id) ON DELETE CASCADE,
    bars INTEGER NOT NULL,
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    first_downbeat INTEGER,
    UNIQUE (song_id, bars, start_s)
);
"""

# Added after schema 1 without changing it: older files get it on first use.
_EMBED_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    id INTEGER PRIMARY KEY,
    song_id INTEGER NOT NULL REFERENCES songs(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('harmonic', 'percussion')),
    bars INTEGER NOT NULL,
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    version INTEGER NOT NULL,
    vec BLOB NOT NULL,
    UNIQUE (song_id, role, bars, start_s)
);
"""


class MashupDB:
    """A MashupDB file (see the module docstring).

    Args:
        path: the SQLite file.
        create: make the file (and its tables) when missing; otherwise a missing file is an error.
    Raises:
        InvalidInputError: the file is missing (without ``create``), is not SQLite, or is not a
            MashupDB (no ``songs`` table / another schema version).
        OutputError: it cannot be created.
    """

    def __init__(self, path: str | os.PathLike, *, create: bool = False):
        self.path = Path(path)
        if self.path.is_dir():
            raise InvalidInputError(self.path, "is a directory; expected a MashupDB file")
        exists = self.path.is_file()
        if not exists and not create:
            raise InvalidInputError(self.path, "no such MashupDB file")
        if exists and self.path.stat().st_size > 0:
            with open(self.path, "rb") as f:
                if f.read(16) != b"SQLite format 3\x00":
                    raise InvalidInputError(self.path, "is not a MashupDB (not an SQLite file)")
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._con = sqlite3.connect(str(self.path), timeout=30.0)
        except (sqlite3.Error, OSError) as e:
            raise (OutputError(self.path, f"cannot be created ({e})") if not exists
                   else InvalidInputError(self.path, f"cannot be opened ({e})")) from None
        self._con.row_factory = sqlite3.Row
        try:
            self._con.execute("PRAGMA foreign_keys = ON")
            if create:
                with self._con:
                    self._con.executescript(_SCHEMA + _EMBED_SCHEMA)
                    self._con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            self._check_schema()
        except sqlite3.DatabaseError as e:
            self._con.close()
            raise InvalidInputError(self.path, f"is not a MashupDB ({e})") from None

    def _check_schema(self) -> None:
        tables = {r[0] for r in self._con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        need = {"meta", "songs", "stems", "analysis", "segments"}
        if not need <= tables:
            self._con.close()
            raise InvalidInputError(self.path, f"is not a MashupDB (missing tables {', '.join(sorted(need - tables))})")
        row = self._con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or int(row[0]) != SCHEMA_VERSION:
            self._con.close()
            raise InvalidInputError(self.path, f"has MashupDB schema {row[0] if row else 'unknown'}; expected {SCHEMA_VERSION}")

    # -- context and lifetime ----------------------------------------------------------
    def __enter__(self) -> "MashupDB":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    def __len__(self) -> int:
        return int(self._con.execute("SELECT COUNT(*) FROM songs").fetchone()[0])

    # -- paths -------------------------------------------------------------------------
    def _store_path(self, p: str | os.PathLike) -> str:
        if is_url(p):
            return str(p)
        p = Path(p).resolve()
        try:
            return str(p.relative_to(self.path.resolve().parent))
        except ValueError:
            return str(p)

    def _load_path(self, s: str) -> str:
        if is_url(s):
            return s
        p = Path(s)
        return str(p if p.is_absolute() else self.path.resolve().parent / p)

    # -- reading -------------------------------------------------------------------------
    def names(self) -> set[str]:
        """The names of the songs stored."""
        return {r[0] for r in self._con.execute("SELECT name FROM songs")}

    def songs(self) -> list[dict]:
        """Every song: ``{"id", "name", "source", "origin", "start_s", "end_s", "info"}``, by id."""
        rows = self._con.execute("SELECT id, name, source, origin, start_s, end_s, info FROM songs ORDER BY id")
        return [dict(r) | {"info": self._normal_info(json.loads(r["info"] or "{}"))} for r in rows]

    def stems(self, song_id: int) -> dict[str, dict]:
        """``{role: {"path" (absolute), "sr", "n_samples", "duration_s", "soundfont", "program"}}``."""
        rows = self._con.execute(
            "SELECT role, path, sr, n_samples, duration_s, soundfont, program FROM stems WHERE song_id = ? ORDER BY id",
            (int(song_id),))
        return {r["role"]: {k: r[k] for k in r.keys() if k != "role"} | {"path": self._load_path(r["path"])} for r in rows}

    def analysis(self, song_id: int, role: str = "song") -> dict:
        """``{"key", "tonic", "mode", "key_strength", "tempo", "beats", "downbeats"}`` of the
        song (or of one stem, ``role``); ``{}`` when none is stored."""
        r = self._con.execute(
            "SELECT key, tonic, mode, key_strength, tempo, beats, downbeats FROM analysis WHERE song_id = ? AND role = ?",
            (int(song_id), role)).fetchone()
        if r is None:
            return {}
        return dict(r) | {"key": self._normal_key(r["key"]), "beats": json.loads(r["beats"]),
                          "downbeats": json.loads(r["downbeats"])}

    def _normal_key(self, key: str | None) -> str | None:
        """A stored key label in collage's one spelling (files written before it may say ``'Gb:maj'``)."""
        if key is None:
            return None
        try:
            return normalize_key(key)
        except ParameterError:
            raise InvalidInputError(self.path, f"stores key {key!r}, which is not a key") from None

    def _normal_info(self, info: dict) -> dict:
        truth = info.get("truth")
        if isinstance(truth, dict) and isinstance(truth.get("key"), str):
            info["truth"] = truth | {"key": self._normal_key(truth["key"])}
        return info

    def segments(self, song_id: int) -> list[dict]:
        """``[{"bars", "start_s", "end_s", "first_downbeat"}]`` by bars, then start."""
        rows = self._con.execute(
            "SELECT bars, start_s, end_s, first_downbeat FROM segments WHERE song_id = ? ORDER BY bars, start_s",
            (int(song_id),))
        return [dict(r) for r in rows]

    # -- embeddings (collage.mashup.embed) ------------------------------------------------
    def has_embedding_table(self) -> bool:
        return self._con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'embeddings'").fetchone() is not None

    def songs_without_embeddings(self, version: int) -> list[int]:
        """Ids of the songs with segments but no stem-segment vector of ``version`` (all of them in a
        file from before embeddings; an empty list when every song has them)."""
        if not self.has_embedding_table():
            rows = self._con.execute("SELECT id FROM songs WHERE id IN (SELECT song_id FROM segments) ORDER BY id")
            return [int(r[0]) for r in rows]
        rows = self._con.execute("SELECT id FROM songs WHERE id IN (SELECT song_id FROM segments) AND id NOT IN "
                                 "(SELECT song_id FROM embeddings WHERE version = ?) ORDER BY id", (int(version),))
        return [int(r[0]) for r in rows]

    def set_embeddings(self, song_id: int, rows: list[dict], version: int) -> None:
        """Replace one song's stem-segment vectors (``[{"role", "bars", "start_s", "end_s", "vec"}]``), in one transaction."""
        try:
            self._ensure_embedding_table()
            with self._con:
                self._con.execute("DELETE FROM embeddings WHERE song_id = ?", (int(song_id),))
                self._insert_embeddings(int(song_id), rows, version)
        except sqlite3.OperationalError as e:
            raise OutputError(self.path, f"cannot store embeddings ({e})") from None

    def _ensure_embedding_table(self) -> None:
        if not self.has_embedding_table():
            self._con.executescript(_EMBED_SCHEMA)

    def _insert_embeddings(self, sid: int, rows: list[dict], version: int) -> None:
        for e in rows:
            self._con.execute(
                "INSERT INTO embeddings (song_id, role, bars, start_s, end_s, version, vec) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (sid, e["role"], int(e["bars"]), float(e["start_s"]), float(e["end_s"]), int(version),
                 np.asarray(e["vec"], dtype="<f4").tobytes()))

    def embeddings(self, role: str, version: int) -> tuple[list[dict], np.ndarray]:
        """Every stored ``role`` segment vector of ``version``: ``([{"song_id", "bars", "start_s", "end_s"}], (N x D) float32)``."""
        if not self.has_embedding_table():
            return [], np.zeros((0, 0), np.float32)
        rows = self._con.execute("SELECT song_id, bars, start_s, end_s, vec FROM embeddings WHERE role = ? AND version = ? "
                                 "ORDER BY song_id, bars, start_s", (role, int(version))).fetchall()
        meta = [{"song_id": r[0], "bars": r[1], "start_s": r[2], "end_s": r[3]} for r in rows]
        mat = np.frombuffer(b"".join(r[4] for r in rows), dtype="<f4").reshape(len(rows), -1) if rows else \
            np.zeros((0, 0), np.float32)
        return meta, mat

    # -- writing -------------------------------------------------------------------------
    def add_song(self, record: dict) -> int:
        """Add one song with its stems, analysis and segments in one transaction; returns its id.

        ``record``: ``{"name", "source", "origin", "start_s", "end_s", "info": {...},
        "stems": {role: {"path", "sr", "n_samples", "soundfont", "program"}},
        "analysis": {role: {"key", "tonic", "mode", "key_strength", "tempo", "beats", "downbeats"}},
        "segments": [{"bars", "start_s", "end_s", "first_downbeat"}]}``, optionally
        ``"embeddings": [{"role", "bars", "start_s", "end_s", "vec"}]`` with ``"embed_version"``.
        The stem files must already exist (written atomically before the call).

        Raises:
            InvalidInputError: a song of that name is stored already, or a stem file is missing.
        """
        for role, s in record["stems"].items():
            if not stem_exists(s["path"]):
                raise InvalidInputError(s["path"], f"stem {role!r} of {record['name']!r} is missing")
        try:
            if record.get("embeddings"):
                self._ensure_embedding_table()
            with self._con:  # one transaction: all rows of the song or none
                cur = self._con.execute(
                    "INSERT INTO songs (name, source, origin, start_s, end_s, info) VALUES (?, ?, ?, ?, ?, ?)",
                    (record["name"], record["source"], record.get("origin"), record.get("start_s"),
                     record.get("end_s"), json.dumps(record.get("info", {}))))
                sid = int(cur.lastrowid)
                for role, s in record["stems"].items():
                    self._con.execute(
                        "INSERT INTO stems (song_id, role, path, sr, n_samples, duration_s, soundfont, program) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (sid, role, self._store_path(s["path"]), int(s["sr"]), int(s["n_samples"]),
                         float(s["n_samples"]) / float(s["sr"]), s.get("soundfont"), s.get("program")))
                for role, a in record.get("analysis", {}).items():
                    self._con.execute(
                        "INSERT INTO analysis (song_id, role, key, tonic, mode, key_strength, tempo, beats, downbeats) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (sid, role, a.get("key"), a.get("tonic"), a.get("mode"), a.get("key_strength"), a.get("tempo"),
                         json.dumps(list(a.get("beats", []))), json.dumps(list(a.get("downbeats", [])))))
                for g in record.get("segments", []):
                    self._con.execute(
                        "INSERT INTO segments (song_id, bars, start_s, end_s, first_downbeat) VALUES (?, ?, ?, ?, ?)",
                        (sid, int(g["bars"]), float(g["start_s"]), float(g["end_s"]), g.get("first_downbeat")))
                if record.get("embeddings"):
                    self._insert_embeddings(sid, record["embeddings"], record["embed_version"])
        except sqlite3.IntegrityError as e:
            if "songs.name" in str(e):  # stored by an earlier build, or by another build writing at the same time
                raise InvalidInputError(self.path, f"song {record['name']!r} is stored already (is another build "
                                                   "writing to this database?)") from None
            raise InvalidInputError(self.path, f"cannot add {record['name']!r} ({e})") from None
        return sid

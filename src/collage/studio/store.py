"""The studio's files: uploads, results, vocals and mashup searches, in one per-server temporary folder.

Every file the studio writes lies under :attr:`Store.root` (a fresh
``tempfile.mkdtemp`` folder, removed by :meth:`Store.close`) under a name the
server makes (``<random hex><suffix>``); the name a browser sends is kept only
as a display name for messages and never reaches a path.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from collage.errors import ParameterError
from collage.io import MIDI_SUFFIXES, SCORE_SUFFIXES
from collage.io.audio import AUDIO_SUFFIXES
from collage.piece import Piece, TimeSignature

__all__ = ["Store", "Upload", "Result", "Vocal", "Search", "UPLOAD_SUFFIXES", "AUDIO_UPLOAD_SUFFIXES",
           "display_name", "piece_json"]

UPLOAD_SUFFIXES = tuple(sorted(MIDI_SUFFIXES | SCORE_SUFFIXES))
AUDIO_UPLOAD_SUFFIXES = tuple(sorted(AUDIO_SUFFIXES))  # vocals for the mashup tab
MAX_KEPT = 200  # results and uploads kept per server (the oldest are forgotten first)


def display_name(raw: str | None) -> str:
    """A browser-sent file name made safe to show: its last path part, printable, at most 80 characters."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    if len(name) > 80:
        name = name[:38] + "..." + name[-39:]
    return name or "the upload"


def suffix_of(name: str) -> str:
    """The lower-case suffix of a display name ('' when none)."""
    return Path(name).suffix.lower() if "." in name else ""


@dataclass
class Upload:
    """A file the studio holds: an upload or a bundled example."""

    id: str
    name: str  # display name only
    path: Path
    piece: Piece


@dataclass
class Result:
    """A piece the studio made (fused, joined or arranged)."""

    id: str
    kind: str  # "fused", "joined", "arranged"
    piece: Piece
    files: dict = field(default_factory=dict)  # suffix -> written path
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Vocal:
    """A vocal the mashup tab searches with: an upload, or the vocal stem of a song of the MashupDB."""

    id: str
    name: str  # display name only
    path: Path | None  # its audio in the studio's folder (a DB vocal: copied there on first use)
    song: str | None = None  # the DB song it is the vocal of (that song's stems are left out of a search)
    source: str | None = None  # a DB vocal's stem file or URL, copied from
    key: str | None = None  # a DB vocal's stored key and tempo (BPM), for display
    tempo: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Search:
    """One mashup search: what :func:`collage.mashup.retrieve` returned, and the results rendered so far."""

    id: str
    vocal: Vocal
    found: dict
    scorer: str
    renders: dict = field(default_factory=dict)  # rank -> {role: written path}
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def files(self) -> dict:
        return {f"{rank}-{role}": p for rank, paths in self.renders.items() for role, p in paths.items()}


class Store:
    """Uploads and results of one server, in memory and under one temporary folder."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="collage-studio-", dir=root))
        (self.root / "uploads").mkdir()
        (self.root / "results").mkdir()
        self.uploads: OrderedDict[str, Upload] = OrderedDict()
        self.results: OrderedDict[str, Result] = OrderedDict()
        self.vocals: OrderedDict[str, Vocal] = OrderedDict()
        self.searches: OrderedDict[str, Search] = OrderedDict()
        self._lock = threading.Lock()

    # uploads ---------------------------------------------------------------------------------------------
    def new_upload_path(self, suffix: str) -> tuple[str, Path]:
        """A fresh id and the path to write its bytes to (``suffix`` must be an accepted one)."""
        if suffix not in UPLOAD_SUFFIXES + AUDIO_UPLOAD_SUFFIXES:
            raise ParameterError(f"given suffix {suffix!r}; expected one of "
                                 f"{', '.join(UPLOAD_SUFFIXES + AUDIO_UPLOAD_SUFFIXES)}")
        uid = uuid.uuid4().hex
        return uid, self.root / "uploads" / f"{uid}{suffix}"

    def add_upload(self, upload: Upload) -> Upload:
        with self._lock:
            self.uploads[upload.id] = upload
            self._forget(self.uploads, delete=True)
        return upload

    def upload(self, uid) -> Upload:
        with self._lock:
            up = self.uploads.get(str(uid))
        if up is None:
            raise ParameterError(f"no file {str(uid)[:40]!r} on this server; upload it again")
        return up

    # results ---------------------------------------------------------------------------------------------
    def add_result(self, kind: str, piece: Piece) -> Result:
        res = Result(uuid.uuid4().hex, kind, piece)
        with self._lock:
            self.results[res.id] = res
            self._forget(self.results, delete=True)
        return res

    def result(self, rid) -> Result | None:
        with self._lock:
            return self.results.get(str(rid))

    def result_path(self, res: Result, suffix: str) -> Path:
        return self.root / "results" / f"{res.id}{suffix}"

    # vocals and mashup searches --------------------------------------------------------------------------
    def add_vocal(self, vocal: Vocal) -> Vocal:
        with self._lock:
            self.vocals[vocal.id] = vocal
            self._forget(self.vocals, delete=True)
        return vocal

    def vocal(self, vid) -> Vocal | None:
        with self._lock:
            return self.vocals.get(str(vid))

    def vocal_copy_path(self, vocal: Vocal) -> Path:
        """Where a DB vocal's stem is copied to (its suffix kept, if an audio one)."""
        suffix = suffix_of(str(vocal.source or ""))
        return self.root / "uploads" / f"{uuid.uuid4().hex}{suffix if suffix in AUDIO_UPLOAD_SUFFIXES else '.wav'}"

    def add_search(self, vocal: Vocal, found: dict, scorer: str) -> Search:
        search = Search(uuid.uuid4().hex, vocal, found, scorer)
        with self._lock:
            self.searches[search.id] = search
            self._forget(self.searches, delete=True)
        return search

    def search(self, sid) -> Search | None:
        with self._lock:
            return self.searches.get(str(sid))

    def search_path(self, search: Search, rank: int, role: str) -> Path:
        return self.root / "results" / f"{search.id}-{int(rank)}-{role}.wav"

    def _forget(self, table: OrderedDict, *, delete: bool) -> None:
        while len(table) > MAX_KEPT:
            _, old = table.popitem(last=False)
            if isinstance(old, (Upload, Vocal)):
                paths = [old.path] if old.path is not None else []
            else:
                paths = list(old.files.values())
            for p in paths:
                if delete and Path(p).is_relative_to(self.root):
                    Path(p).unlink(missing_ok=True)

    def scrub(self, message: str) -> str:
        """``message`` with every stored path replaced by its display name (server paths never reach a page)."""
        with self._lock:
            uploads = list(self.uploads.values()) + [v for v in self.vocals.values() if v.path is not None]
        for up in uploads:
            message = message.replace(str(up.path), up.name)
        return message.replace(str(self.root), "<studio>")

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _bars(piece: Piece, n_beats: float) -> list[float]:
    """Bar-line positions in beats (quarter notes) up to ``n_beats``, from the piece's metre map."""
    sigs = sorted(piece.time_signatures, key=lambda s: s.tick)
    if not sigs or sigs[0].tick > 0:
        sigs = [TimeSignature(0, 4, 4), *sigs]
    bars, beat = [], 0.0
    for i, sig in enumerate(sigs):
        start = sig.tick / piece.tpq
        end = sigs[i + 1].tick / piece.tpq if i + 1 < len(sigs) else n_beats
        length = sig.numerator * 4.0 / sig.denominator
        beat = max(beat, start)
        while beat < end - 1e-9 and len(bars) < 10000:
            bars.append(round(beat, 6))
            beat += length
    return bars


def piece_json(piece: Piece) -> dict:
    """A piece as JSON for drawing and playing: per track its notes ``[beat, beats, pitch, velocity, s, s]``.

    Beats are quarter notes from the start (for the piano roll); the two last
    columns are the onset and duration in seconds by the piece's tempo map (for playback);
    ``beat_s`` gives the time of every beat (to draw the playhead), ``bars`` the bar lines in beats.
    """
    tracks, end_tick = [], 0
    for t in piece.tracks:
        n = t.notes
        if len(n):
            on = n[:, 0]
            off = n[:, 0] + n[:, 1]
            end_tick = max(end_tick, int(off.max()))
            t_on = piece.ticks_to_seconds(on)
            t_off = piece.ticks_to_seconds(off)
            rows = np.column_stack([on / piece.tpq, n[:, 1] / piece.tpq, n[:, 2], n[:, 3], t_on, t_off - t_on])
            notes = [[round(float(a), 4), round(float(b), 4), int(c), int(d), round(float(e), 4), round(float(f), 4)]
                     for a, b, c, d, e, f in rows]
        else:
            notes = []
        tracks.append({"name": t.name, "program": int(t.program), "is_drum": bool(t.is_drum), "notes": notes})
    n_beats = end_tick / piece.tpq
    qpm = piece.tempos[0].qpm if piece.tempos else 120.0
    beat_s = piece.ticks_to_seconds(np.arange(int(np.ceil(n_beats)) + 2) * piece.tpq)
    return {"tracks": tracks, "n_beats": round(n_beats, 4), "duration_s": round(float(piece.duration_s), 4),
            "qpm": round(float(qpm), 3), "bars": _bars(piece, n_beats),
            "beat_s": [round(float(x), 4) for x in beat_s]}

"""Clips for generation and retrieval: from a MashupDB (its stored analysis) or from a user's vocal file.

>>> pool = clips_from_db("songs.db")             # one Clip per song (stems load on first use)
>>> seed = vocal_clip("acapella.wav", sr=pool[0].sr)   # analysed here: key, tempo, beats, downbeats
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from collage.audio.analyze import AnalysisError, analyze
from collage.errors import InvalidInputError
from collage.io.audio import load_audio
from collage.mashup.db import MashupDB
from collage.mashup.generate import ROLES, Clip
from collage.mashup.score import FEATURE_SR
from collage.mashup.stemstore import local_copy

__all__ = ["clips_from_db", "vocal_clip"]


def _loader(path, sr: int) -> np.ndarray:
    with local_copy(path) as p:  # stems under an fsspec URL are fetched first
        return load_audio(p, sr=sr, min_seconds=0.0)


def vocal_clip(path: str | os.PathLike, *, sr: int = FEATURE_SR) -> Clip:
    """A vocal file as a seed :class:`Clip`: read (any rate, mono/stereo), checked and analysed.

    Raises:
        InvalidAudioError: unreadable, non-audio, NaN/inf, silent or shorter than 5 s.
        AnalysisError: no beat or no pitch content (the file is named).
    """
    y = load_audio(path, sr=sr)
    try:
        a = analyze(sr=sr, vocals=y)
    except AnalysisError as e:
        raise AnalysisError(f"{path}: {e}") from None
    downs = a.downbeats if len(a.downbeats) else a.beats[:1]
    return Clip(Path(path).stem, sr, a.key, float(a.tempo), np.asarray(a.beats), np.asarray(downs), {"vocals": y}, _loader)


def clips_from_db(db_path: str | os.PathLike, *, sr: int = FEATURE_SR, names=None) -> list[Clip]:
    """One :class:`Clip` per song of a MashupDB that has all three stems and an analysis
    (only the songs named in ``names``, when given).

    Raises:
        InvalidInputError: the DB is missing, unreadable or holds no usable song.
    """
    if not Path(db_path).is_file():
        raise InvalidInputError(db_path, "no such MashupDB file")

    clips = []
    with MashupDB(db_path) as db:
        for song in db.songs():
            if names is not None and song["name"] not in names:
                continue
            stems = db.stems(song["id"])
            paths = {r: stems[r]["path"] for r in ROLES if r in stems}
            an = db.analysis(song["id"])
            if len(paths) < 3 or not an or not an.get("key") or len(an.get("beats") or []) < 2:
                continue
            beats = np.asarray(an["beats"], dtype=np.float64)
            downs = np.asarray(an.get("downbeats") or beats[:1], dtype=np.float64)
            clips.append(Clip(str(song["name"]), sr, an["key"], float(an["tempo"]), beats, downs, paths, _loader))
    if not clips:
        raise InvalidInputError(db_path, "the MashupDB holds no song with three stems and an analysis (is it empty?)")
    return clips

"""Stems a user already has: the naming convention, the manifest, and loading them as the three roles.

Naming convention (any audio format libsndfile reads: .wav, .flac, .ogg, .mp3, .aiff), either
as files ``<name>.<role>.<ext>`` in one folder or as a folder per song ``<name>/<role>.<ext>``:

============  =================================================================
role          accepted file roles (case-insensitive)
============  =================================================================
vocals        ``vocals``, ``vocal``, ``voice``, ``acapella``, ``acappella``, ``a_cappella``
harmonic      ``harmonic``; else ``bass`` + ``other`` (Demucs / MUSDB naming), summed
percussion    ``percussion``, ``drums``
instrumental  ``instrumental``, ``accompaniment``, ``karaoke``, ``backing``: harmonic +
              percussion mixed; split into the two by harmonic-percussive separation
              when ``harmonic`` / ``percussion`` are not given themselves
============  =================================================================

A song needs vocals and either harmonic + percussion or an instrumental. Any other file
is ignored. Instead of names, a manifest may list the files: ``manifest.csv`` with the
header ``name,role,path`` (one row per file; ``role`` as above; ``path`` relative to the
manifest's folder or absolute) or ``manifest.json`` ``{"<name>": {"<role>": "<path>", ...}}``.
When a manifest exists, only it is read.

>>> sets = find_stem_sets("my_stems/")           # [StemSet(name='song1', files={...}), ...]
>>> stems = load_stem_set(sets[0], sr=22050)     # {"vocals": (n,), "harmonic": (n,), "percussion": (n,)}
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from pathlib import Path

import librosa
import numpy as np

from collage.errors import InvalidAudioError, InvalidInputError
from collage.io.audio import AUDIO_SUFFIXES, load_audio

__all__ = ["ROLE_ALIASES", "MANIFESTS", "StemSet", "find_stem_sets", "load_stem_set", "find_mixes"]

ROLE_ALIASES = {
    "vocals": "vocals", "vocal": "vocals", "voice": "vocals", "acapella": "vocals", "acappella": "vocals",
    "a_cappella": "vocals",
    "harmonic": "harmonic", "percussion": "percussion", "drums": "percussion",
    "bass": "bass", "other": "other",
    "instrumental": "instrumental", "accompaniment": "instrumental", "karaoke": "instrumental",
    "backing": "instrumental",
}
MANIFESTS = ("manifest.csv", "manifest.json")
MAX_LENGTH_MISMATCH_S = 1.0  # stems of one song may differ in length by this much (the excess is cut)


@dataclasses.dataclass
class StemSet:
    """One song's stem files: ``files`` maps a canonical role (see :data:`ROLE_ALIASES`) to a path."""

    name: str
    files: dict[str, Path]

    @property
    def complete(self) -> bool:
        f = self.files
        has_h = "harmonic" in f or ("bass" in f and "other" in f) or "instrumental" in f
        has_p = "percussion" in f or "instrumental" in f
        return "vocals" in f and has_h and has_p

    def missing(self) -> str:
        f = self.files
        need = []
        if "vocals" not in f:
            need.append("vocals")
        if not ("harmonic" in f or ("bass" in f and "other" in f) or "instrumental" in f):
            need.append("harmonic (or instrumental)")
        if not ("percussion" in f or "instrumental" in f):
            need.append("percussion (or instrumental)")
        return ", ".join(need)


def _role_of(stem: str) -> str | None:
    return ROLE_ALIASES.get(stem.strip().lower().replace("-", "_").replace(" ", "_"))


def _from_manifest(path: Path) -> list[StemSet]:
    base = path.parent
    sets: dict[str, dict[str, Path]] = {}

    def add(name, role, file, where):
        canon = _role_of(str(role))
        if canon is None:
            raise InvalidInputError(path, f"{where}: unknown role {role!r}; expected one of {', '.join(sorted(ROLE_ALIASES))}")
        p = Path(str(file)).expanduser()
        sets.setdefault(str(name), {})[canon] = p if p.is_absolute() else base / p

    try:
        if path.suffix == ".csv":
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                if reader.fieldnames is None or not {"name", "role", "path"} <= set(reader.fieldnames):
                    raise InvalidInputError(path, f"has columns {reader.fieldnames}; expected name,role,path")
                for i, row in enumerate(reader, 2):
                    add(row["name"], row["role"], row["path"], f"line {i}")
        else:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
                raise InvalidInputError(path, 'expected {"<name>": {"<role>": "<path>", ...}, ...}')
            for name, files in data.items():
                for role, file in files.items():
                    add(name, role, file, f"song {name!r}")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as e:
        raise InvalidInputError(path, f"cannot be read ({e})") from None
    return [StemSet(n, f) for n, f in sorted(sets.items())]


def find_stem_sets(folder: str | os.PathLike) -> list[StemSet]:
    """Every song's stems under ``folder`` (manifest, ``<name>.<role>.<ext>`` files, or
    ``<name>/<role>.<ext>`` folders), sorted by name. Incomplete sets are returned too
    (see :attr:`StemSet.complete`); files that match no role are ignored.

    Raises:
        InvalidInputError: ``folder`` is missing or not a folder, or a manifest is malformed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInputError(folder, "no such folder" if not folder.exists() else "is not a folder")
    for m in MANIFESTS:
        if (folder / m).is_file():
            return _from_manifest(folder / m)
    sets: dict[str, dict[str, Path]] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES and "." in p.stem:
            name, role = p.stem.rsplit(".", 1)
            canon = _role_of(role)
            if canon and name:
                sets.setdefault(name, {})[canon] = p
        elif p.is_dir():
            for q in sorted(p.iterdir()):
                canon = _role_of(q.stem) if q.is_file() and q.suffix.lower() in AUDIO_SUFFIXES else None
                if canon:
                    sets.setdefault(p.name, {})[canon] = q
    return [StemSet(n, f) for n, f in sorted(sets.items())]


def find_mixes(folder: str | os.PathLike) -> list[Path]:
    """The audio files directly in ``folder`` that are not named as stems (full mixes), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInputError(folder, "no such folder" if not folder.exists() else "is not a folder")
    out = []
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES:
            role = _role_of(p.stem.rsplit(".", 1)[1]) if "." in p.stem else None
            if role is None:
                out.append(p)
    return out


def load_stem_set(stems: StemSet, *, sr: int = 22050, min_seconds: float = 5.0) -> dict[str, np.ndarray]:
    """The three roles of one song as ``(n,)`` float32 at ``sr`` (all cut to the shortest).

    An instrumental fills in harmonic and/or percussion by harmonic-percussive separation;
    ``bass`` + ``other`` are summed into harmonic.

    Raises:
        InvalidInputError: the set lacks a role (the message says which).
        InvalidAudioError: a file is unreadable, silent, too short, has NaN/inf samples, or
            the stems' lengths differ by more than :data:`MAX_LENGTH_MISMATCH_S`.
    """
    if not stems.complete:
        first = next(iter(stems.files.values()), stems.name)
        raise InvalidInputError(first, f"song {stems.name!r} lacks {stems.missing()}")
    f = stems.files
    audio = {role: load_audio(path, sr=sr, min_seconds=min_seconds) for role, path in f.items()
             if role in ("vocals", "harmonic", "percussion", "bass", "other", "instrumental")}
    lens = {role: len(y) for role, y in audio.items()}
    if (max(lens.values()) - min(lens.values())) / sr > MAX_LENGTH_MISMATCH_S:
        longest = max(lens, key=lens.get)
        detail = ", ".join(f"{r} {n / sr:.1f} s" for r, n in lens.items())
        raise InvalidAudioError(f[longest], f"stems of {stems.name!r} differ in length ({detail})")
    n = min(lens.values())
    audio = {r: y[:n] for r, y in audio.items()}
    out = {"vocals": audio["vocals"]}
    if "harmonic" in audio:
        out["harmonic"] = audio["harmonic"]
    elif "bass" in audio and "other" in audio:
        out["harmonic"] = audio["bass"] + audio["other"]
    if "percussion" in audio:
        out["percussion"] = audio["percussion"]
    if len(out) < 3:
        _, p = librosa.effects.hpss(audio["instrumental"], margin=1.0)
        out.setdefault("harmonic", (audio["instrumental"] - p).astype(np.float32))
        out.setdefault("percussion", p.astype(np.float32))
    return {r: np.ascontiguousarray(out[r], dtype=np.float32) for r in ("vocals", "harmonic", "percussion")}

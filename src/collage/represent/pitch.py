"""Pitch and key names: the one spelling used everywhere in collage.

Pitch classes are spelled ``C C# D Eb E F F# G Ab A Bb B`` (:data:`PITCH_NAMES`): the spelling of
POP909's chord annotations and the usual one of MIR chord and key labels. One rule, without
exceptions: a chord root, a key's tonic and a note name all come from this table, so that one pitch
class always reads the same (``'F#:maj'``, ``'F#:min'``, ``'F#4'``). Every reader accepts any spelling
(``'Gb'``, ``'F#'``, ``'f♯'``, ``'E#'``) and :func:`normalize_key` maps a key label to this one.

>>> key_name(6, "major"), pitch_name(61), parse_key("Gb major"), normalize_key("Db:min")
('F#:maj', 'C#4', (6, 'major'), 'C#:min')
"""

from __future__ import annotations

import re

from collage.errors import ParameterError

__all__ = [
    "PITCH_NAMES",
    "MODES",
    "pitch_class",
    "pitch_name",
    "key_name",
    "parse_key",
    "normalize_key",
    "key_signature_name",
]

PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
"""The name of each pitch class 0..11 (0 = C)."""
MODES = ("major", "minor")
_NATURAL = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_NAME_RE = re.compile(r"^([A-Ga-g])([#b♯♭]*)$")
_KEY_RE = re.compile(r"^\s*([A-Ga-g][#b♯♭]*)\s*[: ]?\s*(maj|major|min|minor|m)?\s*$", re.IGNORECASE)


def pitch_class(name: str) -> int:
    """``'Db'`` / ``'C#'`` / ``'c♯'`` -> 1: the pitch class of a note name in any spelling.

    Raises:
        ParameterError: not a letter A-G followed by sharps or flats (the message quotes it).
    """
    m = _NAME_RE.match(str(name).strip())
    if m is None:
        raise ParameterError(f"given pitch name {name!r}; expected a letter A-G with optional # or b, e.g. 'F#'")
    letter, acc = m.groups()
    return (_NATURAL[letter.upper()] + acc.count("#") + acc.count("♯") - acc.count("b") - acc.count("♭")) % 12


def pitch_name(pitch: int) -> str:
    """Scientific pitch name of a MIDI number: 60 -> ``'C4'``, 61 -> ``'C#4'``, 70 -> ``'Bb4'``."""
    pitch = int(pitch)
    return f"{PITCH_NAMES[pitch % 12]}{pitch // 12 - 1}"


def key_name(tonic: int, mode: str) -> str:
    """``(6, 'major') -> 'F#:maj'``, ``(8, 'minor') -> 'Ab:min'`` (tonic from :data:`PITCH_NAMES`)."""
    if mode not in MODES:
        raise ParameterError(f"given mode={mode!r}; expected 'major' or 'minor'")
    return f"{PITCH_NAMES[int(tonic) % 12]}:{'maj' if mode == 'major' else 'min'}"


def parse_key(key: str | tuple[int, str]) -> tuple[int, str]:
    """A key in any spelling -> ``(tonic pitch class, 'major' | 'minor')``.

    Accepts ``'Gb:maj'``, ``'F#:maj'``, ``'f# minor'``, ``'Am'``, ``'C'`` (major) and
    ``(6, 'major')``.

    Raises:
        ParameterError: anything else (the message quotes it).
    """
    if isinstance(key, tuple) and len(key) == 2:
        pc, mode = key
        if mode not in MODES or isinstance(pc, bool) or int(pc) != pc or not 0 <= int(pc) < 12:
            raise ParameterError(f"given key={key!r}; expected (pitch class 0..11, 'major'|'minor')")
        return int(pc), mode
    m = _KEY_RE.match(str(key))
    if m is None:
        raise ParameterError(f"given key {key!r}; expected a key such as 'C:maj', 'A:min' or 'F# minor'")
    root, mode = m.groups()
    minor = mode is not None and (mode.lower() in ("min", "minor") or mode == "m")
    return pitch_class(root), "minor" if minor else "major"


def normalize_key(key: str | tuple[int, str]) -> str:
    """A key in any spelling, in this module's: ``'Gb:maj' -> 'F#:maj'``, ``'g# minor' -> 'Ab:min'``."""
    return key_name(*parse_key(key))


def key_signature_name(sharps: int, minor: bool) -> str:
    """The key of a key signature (``sharps`` < 0: flats): ``(-3, False) -> 'Eb major'``, ``(3, True) -> 'F# minor'``.

    Raises:
        ParameterError: ``sharps`` outside -7..7.
    """
    if isinstance(sharps, bool) or int(sharps) != sharps or not -7 <= sharps <= 7:
        raise ParameterError(f"given sharps={sharps!r}; expected -7..7")
    tonic = (7 * int(sharps) + (9 if minor else 0)) % 12
    return f"{PITCH_NAMES[tonic]} {'minor' if minor else 'major'}"

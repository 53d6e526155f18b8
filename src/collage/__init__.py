"""collage: fuse material from different songs into new, harmonic music.

The public API, one verb per capability (each a function of the library, with
keyword-only options; ``help(collage.fuse)`` shows its arguments and units)::

    import collage

    result = collage.fuse("melody.mid", "accompaniment.mid", keep_rhythm=0.9)
    collage.save(result.piece, "fused.mid")           # MIDI
    collage.render(result.piece, "fused.wav")         # audio (FluidSynth), also returns (y, sr)
    collage.plot(result.piece, "fused.png")           # a piano roll

    joined = collage.join("left.mid", "right.mid", style=0.5)
    satb, labels = collage.arrange("chorale.mid", ensemble="satb")
    piece = collage.load("song.musicxml")             # MIDI, MusicXML or ABC
    more = collage.generate(prompt="song.mid", prompt_beats=16, beats=32)   # the Multitrack Music Transformer

    collage.mashup.build("songs.db", "pop909/", limit=20)          # a MashupDB of audio stems
    collage.mashup.retrieve("songs.db", "vocal.wav", top=5)        # accompaniments for a vocal

The names load lazily (scientific-python SPEC 1): ``import collage`` stays
light and imports neither torch nor matplotlib; the first use of a name imports
its module. The layers under it (``collage.io``, ``collage.represent``,
``collage.models``, ``collage.fusion``, ...) are documented in docs/DESIGN.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from collage.errors import CollageError
from collage.piece import Piece, Track

__version__ = "0.1.0"

# public name -> (module, attribute); resolved on first use
_API = {
    "load": ("collage.io", "read"),
    "save": ("collage.io", "save"),
    "fuse": ("collage.fusion.vertical", "fuse"),
    "join": ("collage.fusion.horizontal", "join"),
    "arrange": ("collage.arrangement.pipeline", "arrange"),
    "render": ("collage.audio.render", "render"),
    "plot": ("collage.plotting", "plot_pianoroll"),
    "mashup": ("collage.mashup", None),  # the subpackage: collage.mashup.build, collage.mashup.retrieve
    "generate": ("collage.generation", "generate"),
}

__all__ = ["CollageError", "Piece", "Track", "__version__", *_API]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names resolve in __getattr__
    from collage import mashup as mashup
    from collage.arrangement.pipeline import arrange as arrange
    from collage.audio.render import render as render
    from collage.fusion.horizontal import join as join
    from collage.fusion.vertical import fuse as fuse
    from collage.generation import generate as generate
    from collage.io import read as load  # noqa: F401  (a public name; at run time __getattr__ resolves it)
    from collage.io import save as save
    from collage.plotting import plot_pianoroll as plot  # noqa: F401  (likewise)


def __getattr__(name: str):
    try:
        module, attr = _API[name]
    except KeyError:
        raise AttributeError(f"module 'collage' has no attribute {name!r}") from None
    value = importlib.import_module(module)
    if attr is not None:
        value = getattr(value, attr)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))

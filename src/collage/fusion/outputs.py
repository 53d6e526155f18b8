"""Writing a fusion's outputs all or nothing: the MIDI file, and optionally audio and a piano-roll picture.

>>> from collage.fusion.vertical import fuse
>>> result = fuse("melody.mid", "accompaniment.mid")
>>> write_outputs(result.piece, "fused.mid", wav="fused.wav", plot="fused.png",
...               plot_pieces=[result.melody_input, result.accomp_input, result.piece])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from collage import plotting
from collage.audio.render import render
from collage.errors import CollageError
from collage.io import save
from collage.piece import Piece

__all__ = ["write_outputs"]


def write_outputs(
    piece: Piece,
    output: str | os.PathLike,
    *,
    wav: str | os.PathLike | None = None,
    plot: str | os.PathLike | None = None,
    plot_pieces: Sequence[Piece] | None = None,
    plot_titles: Sequence[str] | None = None,
    soundfont: str | os.PathLike | None = None,
) -> list[Path]:
    """Write ``piece`` to ``output`` (MIDI), then to ``wav`` (audio) and ``plot`` (piano rolls) when given.

    Args:
        piece: what to write.
        output: the MIDI file (.mid or .midi).
        wav: also render ``piece`` here with FluidSynth (.wav or .flac); None: no audio.
        plot: also draw ``plot_pieces`` (default: ``[piece]``) as stacked piano rolls
            here (.png, .svg or .pdf), titled ``plot_titles``; None: no picture.
        soundfont: the soundfont for ``wav`` (None: the default one).
    Returns:
        the paths written, in the order above.
    Raises:
        CollageError: an output cannot be written; the outputs written before it
            are removed again, so a failed call leaves nothing behind.
    """
    written: list[Path] = []
    try:
        written.append(Path(save(piece, output)))
        if wav is not None:
            render(piece, wav, soundfont=soundfont)
            written.append(Path(wav))
        if plot is not None:
            plotting.plot_pianorolls(list(plot_pieces) if plot_pieces is not None else [piece], plot,
                                     titles=None if plot_titles is None else list(plot_titles))
            written.append(Path(plot))
    except CollageError:
        for p in written:
            p.unlink(missing_ok=True)
        raise
    return written

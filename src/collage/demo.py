"""The demo: collage's main job (``collage fuse``) run on the bundled examples.

The bundled melody ("Ode to Joy", D major) and the unrelated accompaniment
(I-vi-IV-V in C major) are fused with :func:`collage.fusion.vertical.fuse`
at the default controls (all 0.5) with fusion's default method
(:data:`collage.fusion.vertical.DEFAULT_METHOD`, chord-explicit re-voicing, which needs
only the shipped ``chord_stats.json``). Outputs:

* ``pair.mid``: the fused piece, tracks MELODY and ACCOMPANIMENT;
* ``pair.wav``: that piece rendered with FluidSynth;
* ``pair.png``: the two inputs and the fused piece as stacked piano rolls.

(:func:`pair_piece` puts the unfused inputs on one time line, for comparison.)

:func:`run_demo` is the library entry point behind ``collage demo``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import numpy as np

from collage import examples
from collage.audio.render import check_renderer, render_to_file
from collage.errors import OutputError
from collage.fusion.vertical import DEFAULT_METHOD, fuse
from collage.io import read_midi, write_midi
from collage.piece import DURATION, ONSET, Piece, Track
from collage.plotting import plot_pianorolls

__all__ = ["run_demo", "DemoResult", "pair_piece", "demo_method", "COLLAGENET_WEIGHTS"]

logger = logging.getLogger(__name__)

COLLAGENET_WEIGHTS = ("melody_vae", "accomp_vae", "latent_actor")
"""The weights ``--method collagenet`` loads (shipped in the package)."""


@dataclasses.dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` wrote and from what.

    Attributes:
        outputs: output name -> path (``"midi"``, ``"audio"``, ``"plot"``), in writing order.
        inputs: input name -> bundled example path (``"melody"``, ``"accompaniment"``).
        duration_s: length of the written piece, seconds.
        sr: sample rate of the audio, Hz (None if no audio was rendered).
        method: the fusion method used (fusion's default).
        note: what that method is.
        key_shift: semitones the accompaniment was transposed.
    """

    outputs: dict[str, Path]
    inputs: dict[str, Path]
    duration_s: float
    sr: int | None
    method: str = DEFAULT_METHOD
    note: str = ""
    key_shift: int = 0


def demo_method() -> tuple[str, str]:
    """``(method, what it is)``: fusion's default method, which the demo runs."""
    return DEFAULT_METHOD, ("chord-explicit re-voicing (fusion's default, chosen on validation: "
                            "docs/results/fusion_default_rule.md)")


def _retick(track: Track, src_tpq: int, dst_tpq: int) -> Track:
    if src_tpq == dst_tpq or not len(track):
        return track
    notes = track.notes.copy()
    notes[:, ONSET] = np.round(notes[:, ONSET] * dst_tpq / src_tpq)
    notes[:, DURATION] = np.maximum(1, np.round(notes[:, DURATION] * dst_tpq / src_tpq))
    return track.replace(notes=notes)


def pair_piece(melody: Piece, accompaniment: Piece) -> Piece:
    """One piece holding ``melody`` (track MELODY) over ``accompaniment`` (track ACCOMPANIMENT).

    Each input's tracks are merged into one track (keeping its first program);
    the time line, tempo and metre are the melody's, at the melody's ``tpq``.
    """
    mel = melody.require_pitched().merged(name="MELODY")
    acc = _retick(accompaniment.require_pitched().merged(name="ACCOMPANIMENT"), accompaniment.tpq, melody.tpq)
    return Piece(
        [mel, acc],
        tpq=melody.tpq,
        tempos=list(melody.tempos),
        time_signatures=list(melody.time_signatures),
        key_signatures=[],  # the two inputs are in different keys
    )


def run_demo(
    out_dir: str | os.PathLike = "out",
    *,
    render_audio: bool = True,
    sr: int = 44100,
    soundfont: str | os.PathLike | None = None,
) -> DemoResult:
    """Fuse the bundled examples and write the outputs to ``out_dir``.

    Args:
        out_dir: output folder (created if needed).
        render_audio: also render ``pair.wav`` (needs FluidSynth and a soundfont,
            checked before anything is written).
        sr: audio sample rate, Hz.
        soundfont: soundfont for rendering (None: see :func:`collage.audio.render.find_soundfont`).
    Returns:
        a :class:`DemoResult` naming every file written and the method used.
    Raises:
        CollageError: e.g. :class:`~collage.audio.render.RenderError` when FluidSynth
            is missing, or OutputError when ``out_dir`` cannot be written; each
            output file is written atomically.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(out, "is a file; expected an output folder")
    if render_audio:
        check_renderer(soundfont)  # fail before writing anything
    inputs = {"melody": examples.path("melody"), "accompaniment": examples.path("accompaniment")}
    melody = read_midi(inputs["melody"])
    accompaniment = read_midi(inputs["accompaniment"])
    method, note = demo_method()
    result = fuse(melody, accompaniment, method=method)
    logger.info("demo: %s", note)
    fused = result.piece

    outputs: dict[str, Path] = {}
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(out, f"cannot create the output folder ({e.strerror or e})") from None
    outputs["midi"] = write_midi(fused, out / "pair.mid")
    logger.info("wrote %s", outputs["midi"])
    if render_audio:
        outputs["audio"] = render_to_file(fused, out / "pair.wav", sr=sr, soundfont=soundfont)
    plot_pianorolls(
        [melody, accompaniment, fused],
        out / "pair.png",
        titles=[
            "input A: melody.mid (Ode to Joy, D major)",
            "input B: accompaniment.mid (I-vi-IV-V, C major)",
            f"fused ({method}; accompaniment transposed {result.key_shift:+d} semitones)",
        ],
    )
    outputs["plot"] = out / "pair.png"
    return DemoResult(outputs=outputs, inputs=inputs, duration_s=fused.duration_s, sr=sr if render_audio else None,
                      method=method, note=note, key_shift=result.key_shift)

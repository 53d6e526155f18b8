"""Kept aspects are copied from the input, not reconstructed.

A keep control of 1 means "leave this alone": the fused piece takes that aspect
from the input's own notes instead of decoding it from the latent, which would
lose notes on the way (the VAEs' round trip is not exact). Vertical fusion
(:func:`collage.fusion.vertical.fuse`) applies :func:`keep_aspects` to the
stitched output of the models:

====================  ===========================================================
controls at 1         the output track
====================  ===========================================================
pitch and rhythm      the input melody, note for note
rhythm                the input melody's notes (onsets, durations, velocities), each
                      with the pitch the fused melody sounds at that onset
pitch                 the fused melody's notes, each with the pitch the input
                      melody sounds at that onset
chord and texture     the input accompaniment, note for note
====================  ===========================================================

Notes are step-note arrays ``(n, 4)``: onset (steps), duration (steps), pitch,
velocity (see :mod:`collage.represent.grid`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["pitches_at", "keep_aspects"]


def pitches_at(source: np.ndarray, onsets: np.ndarray) -> np.ndarray:
    """The pitch ``source`` sounds at each step of ``onsets`` (its highest note there), else the pitch
    of its note whose onset is nearest in time (earlier on ties).

    Args:
        source: ``(m, 4)`` step notes, ``m >= 1``.
        onsets: ``(n,)`` steps.
    Returns:
        ``(n,)`` int64 MIDI pitches.
    """
    on, end, pitch = source[:, 0], source[:, 0] + source[:, 1], source[:, 2]
    t = np.asarray(onsets, dtype=np.int64)[:, None]  # (n, 1)
    sounding = (on[None, :] <= t) & (t < end[None, :])  # (n, m)
    top = np.where(sounding, pitch[None, :], -1).max(axis=1)  # (n,), -1 where nothing sounds
    order = np.argsort(on, kind="stable")
    idx = np.clip(np.searchsorted(on[order], t[:, 0]), 1, len(order)) - 1  # last onset <= t (or the first)
    nxt = np.minimum(idx + 1, len(order) - 1)
    after_closer = np.abs(on[order][nxt] - t[:, 0]) < np.abs(on[order][idx] - t[:, 0])
    nearest = pitch[order][np.where(after_closer, nxt, idx)]
    return np.where(top >= 0, top, nearest).astype(np.int64)


def keep_aspects(controls: dict, melody_in: np.ndarray, melody_out: np.ndarray, accomp_in: np.ndarray,
                 accomp_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fused tracks with every aspect whose control is 1 taken from the input (see the module table).

    Args:
        controls: keep values ``{"pitch", "rhythm", "chord", "texture"}`` in [0, 1].
        melody_in, accomp_in: the inputs as fused (monophonic melody; accompaniment key-aligned and
            fitted to the output's length), ``(n, 4)`` step notes each.
        melody_out, accomp_out: what the models made of them, ``(n, 4)`` step notes each.
    Returns:
        ``(melody, accompaniment)`` step notes.
    """
    pitch, rhythm = controls["pitch"] >= 1.0, controls["rhythm"] >= 1.0
    if pitch and rhythm or (rhythm and not len(melody_out)):
        melody = melody_in.copy()
    elif rhythm:
        melody = melody_in.copy()
        melody[:, 2] = pitches_at(melody_out, melody[:, 0])
    elif pitch and len(melody_out) and len(melody_in):
        melody = melody_out.copy()
        melody[:, 2] = pitches_at(melody_in, melody[:, 0])
    else:
        melody = melody_out
    accomp = accomp_in.copy() if controls["chord"] >= 1.0 and controls["texture"] >= 1.0 else accomp_out
    return melody, accomp

#!/usr/bin/env python
"""Regenerate the bundled example MIDI files in src/collage/examples/.

    python scripts/make_examples.py [--out src/collage/examples]

Both pieces are 8 bars of 4/4 at 100 qpm, tpq 480 (19.2 s), so that they can
be fused vertically:

* ``melody.mid``: the first eight bars of the "Ode to Joy" theme (Beethoven,
  Symphony No. 9, 1824; public domain) in D major, monophonic, one track named
  MELODY, GM program 73 (flute).
* ``accompaniment.mid``: an original broken-chord piano accompaniment over
  I-vi-IV-V twice in C major (a different key from the melody on purpose),
  bass notes plus an Alberti-style eighth-note figure, one track named PIANO,
  GM program 0 (acoustic grand piano).

The files are written with collage's own :class:`~collage.piece.Piece` and
:func:`~collage.io.write_midi`, so running this script again reproduces them
byte for byte.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from collage.io import write_midi
from collage.piece import KeySignature, Piece, Tempo, TimeSignature, Track

TPQ = 480
QPM = 100.0
BAR = 4 * TPQ
N_BARS = 8
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "collage" / "examples"

# Ode to Joy, bars 1-8, D major, as (MIDI pitch, length in quarter notes).
D5, E5, Fs5, G5, A5 = 74, 76, 78, 79, 81
ODE_TO_JOY = [
    (Fs5, 1), (Fs5, 1), (G5, 1), (A5, 1),
    (A5, 1), (G5, 1), (Fs5, 1), (E5, 1),
    (D5, 1), (D5, 1), (E5, 1), (Fs5, 1),
    (Fs5, 1.5), (E5, 0.5), (E5, 2),
    (Fs5, 1), (Fs5, 1), (G5, 1), (A5, 1),
    (A5, 1), (G5, 1), (Fs5, 1), (E5, 1),
    (D5, 1), (D5, 1), (E5, 1), (Fs5, 1),
    (E5, 1.5), (D5, 0.5), (D5, 2),
]  # fmt: skip

# I-vi-IV-V in C major: (bass note, four chord tones low to high for the figure).
CHORDS = {
    "C": (48, (55, 60, 64, 67)),  # C3 | G3 C4 E4 G4
    "Am": (45, (57, 60, 64, 69)),  # A2 | A3 C4 E4 A4
    "F": (41, (57, 60, 65, 69)),  # F2 | A3 C4 F4 A4
    "G": (43, (55, 59, 62, 67)),  # G2 | G3 B3 D4 G4
}
PROGRESSION = ["C", "Am", "F", "G"] * 2
FIGURE = [0, 2, 1, 2, 3, 2, 1, 2]  # chord-tone index per eighth note


def melody_piece() -> Piece:
    notes, t = [], 0
    for i, (pitch, quarters) in enumerate(ODE_TO_JOY):
        dur = int(round(quarters * TPQ))
        accent = 96 if t % BAR == 0 else 84 if t % (BAR // 2) == 0 else 78
        last = i == len(ODE_TO_JOY) - 1
        notes.append([t, dur if last else dur - TPQ // 16, pitch, accent])  # slightly detached
        t += dur
    assert t == N_BARS * BAR, t
    return Piece(
        [Track(np.array(notes), name="MELODY", program=73)],
        tpq=TPQ,
        tempos=[Tempo(0, QPM)],
        time_signatures=[TimeSignature(0, 4, 4)],
        key_signatures=[KeySignature(0, 2, False)],  # D major
    )


def accompaniment_piece() -> Piece:
    notes, eighth = [], TPQ // 2
    for bar, name in enumerate(PROGRESSION):
        start = bar * BAR
        bass, tones = CHORDS[name]
        notes.append([start, BAR, bass, 72])
        for k, idx in enumerate(FIGURE):
            vel = 64 if k % 4 == 0 else 54
            notes.append([start + k * eighth, eighth, tones[idx], vel])
    return Piece(
        [Track(np.array(notes), name="PIANO", program=0)],
        tpq=TPQ,
        tempos=[Tempo(0, QPM)],
        time_signatures=[TimeSignature(0, 4, 4)],
        key_signatures=[KeySignature(0, 0, False)],  # C major
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1].strip())
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    args = ap.parse_args()
    for name, piece in (("melody.mid", melody_piece()), ("accompaniment.mid", accompaniment_piece())):
        path = write_midi(piece, args.out / name)
        print(f"wrote {path} ({piece.n_notes} notes, {piece.duration_s:.1f} s)")


if __name__ == "__main__":
    main()

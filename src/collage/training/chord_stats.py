"""Fit the chord statistics of ``collage fuse --method revoice`` (:mod:`collage.fusion.reharmonize`).

>>> card = train_chord_stats(out="src/collage/fusion/chord_stats.json")   # collage train chord-stats

:func:`collage.fusion.reharmonize.fit_chord_stats` on every song of POP909's **training** split
(duple metre, the CollageNet selection): each song's skyline melody on its annotated beat grid
(4 steps a beat) and its annotated chord per beat. The card stores the two tables (5 x 12 melody
fit, 5 x 12 x 5 chord change) beside what fitted them; the validation and test splits are not read.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from collage.datasets.pop909 import pop909_segments
from collage.fusion.reharmonize import QUALITIES, fit_chord_stats
from collage.io.atomic import atomic_path

__all__ = ["train_chord_stats", "COMMAND"]

COMMAND = "collage train chord-stats"


def train_chord_stats(*, out: str | os.PathLike, root: str | os.PathLike | None = None, beats_per_span: int = 2,
                      smoothing: float = 1.0) -> dict:
    """Fit on POP909's training songs and write the card to ``out`` (atomically); returns the card.

    Args:
        out: the JSON file.
        root: the POP909 folder (None: :func:`collage.datasets.pop909.pop909_root`).
        beats_per_span, smoothing: :func:`~collage.fusion.reharmonize.fit_chord_stats`'s.
    """
    segs = pop909_segments("train", grid="beats", root=root)
    songs = [int(s) for s in segs.songs]
    stats = fit_chord_stats([(segs.song_melody(s), segs.song_chords(s)) for s in songs],
                            steps_per_beat=segs.steps_per_beat, beats_per_span=beats_per_span, smoothing=smoothing)
    tables = stats.to_json()
    card = {
        "description": "chord statistics of collage fuse --method revoice (collage.fusion.reharmonize.ChordStats): "
                       "fit[q][i] = log P(melody pitch class i semitones above the root | chord quality q) - log(1/12), "
                       "per sounding 16th step; trans[q][r][q2] = log P(next chord r semitones above, quality q2 | "
                       "quality q), between the chords at the starts of consecutive spans of beats_per_span beats",
        "training_command": COMMAND,
        "data": {
            "dataset": "POP909",
            "split": "train (collage.datasets.splits pop909.json; duple-metre songs only)",
            "songs": len(songs),
            "song_ids_sha256": hashlib.sha256(",".join(map(str, sorted(songs))).encode()).hexdigest(),
            "melody": "the MELODY track's skyline on the annotated beat grid, 4 steps a beat",
            "chords": "the annotated chord per beat (chord_midi.txt), reduced to " + "/".join(QUALITIES)
                      + "; other chords (dim, aug, sus) and N are not counted",
        },
        "fit": {"steps_per_beat": segs.steps_per_beat, "beats_per_span": beats_per_span, "smoothing": smoothing},
        "tables": tables,
    }
    with atomic_path(Path(out)) as tmp:
        Path(tmp).write_text(json.dumps(card, indent=1) + "\n")
    return card

"""Datasets: POP909 (songs, annotations, splits, CollageNet segments), the Bach
chorales of music21's corpus, and any folder of MIDI / MusicXML / ABC files.

Splits are song-level, deterministic and committed under
``collage/datasets/splits/``; extracted arrays are cached under
``$COLLAGE_CACHE`` (default ``~/.cache/collage``).
"""

from collage.datasets.bach import bach_ids, iter_chorales, load_chorale
from collage.datasets.cache import cache_dir
from collage.datasets.folder import FOLDER_SUFFIXES, iter_folder
from collage.datasets.pop909 import (
    GRIDS,
    Pop909Song,
    SegmentSet,
    SongInfo,
    disharmonic_pairs,
    four_four_ids,
    harmonic_pairs,
    load_song,
    pop909_root,
    pop909_segments,
    song_index,
    split_ids,
)

__all__ = [
    "GRIDS",
    "Pop909Song",
    "SegmentSet",
    "SongInfo",
    "bach_ids",
    "cache_dir",
    "disharmonic_pairs",
    "four_four_ids",
    "harmonic_pairs",
    "iter_chorales",
    "iter_folder",
    "load_chorale",
    "load_song",
    "pop909_root",
    "pop909_segments",
    "song_index",
    "split_ids",
    "FOLDER_SUFFIXES",
]

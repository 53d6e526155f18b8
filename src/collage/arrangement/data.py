"""Part separation data: notes sorted by onset then pitch, their part labels, and model features.

A piece becomes one sequence of notes on a grid of :data:`STEPS_PER_BEAT`
steps per quarter note (24, the paper's: 32nd notes and triplets), each note
``[onset, duration, pitch]`` in steps, sorted by onset, then pitch, then
duration (then label), with its part label (the index of its track in the ensemble).

Per-note features (:func:`note_features`), as in Dong et al. (ISMIR 2021) §4.4:

- ``pitch`` (MIDI number), ``position`` (step within the beat, 0..23),
  ``beat`` (onset in beats, clipped to ``max_beat - 1``), ``duration``
  (steps, clipped to :data:`MAX_DURATION` = 192, eight quarter notes);
- ``entry`` ``(N, P)``: the entry hints, a unit step per part that turns on
  at the part's first onset (all zero for a part that does not play);
- ``pitch_hint`` ``(P,)``: each part's mean pitch, rounded (0 for an absent part).

Training sets (:func:`load_arrays_for`) are cached as arrays under
``$COLLAGE_CACHE/arrange/`` and carry a content hash for the model cards.

>>> seq = sequence_from_piece(load_chorale("bwv269"), "satb")
>>> feats = note_features(seq.notes, entry=seq.entry_steps(), n_parts=4)
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging

import numpy as np

from collage.arrangement.ensembles import DATASET_ENSEMBLE, Ensemble, get_ensemble
from collage.datasets.bach import bach_ids, iter_chorales
from collage.datasets.cache import cache_dir, check_split, load_arrays, save_arrays
from collage.datasets.pop909 import load_song, split_ids
from collage.datasets.pop909 import pop909_root as _root
from collage.errors import ParameterError
from collage.piece import Piece

__all__ = [
    "STEPS_PER_BEAT",
    "MAX_DURATION",
    "MAX_BEAT",
    "NoteSequence",
    "to_steps",
    "sequence_from_piece",
    "merge_pitched_notes",
    "entry_from_labels",
    "pitch_hints_from_labels",
    "note_features",
    "DatasetArrays",
    "load_arrays_for",
    "dataset_pieces",
]

log = logging.getLogger(__name__)

STEPS_PER_BEAT = 24
MAX_DURATION = 192
MAX_BEAT = 4096
CODE_VERSION = "arrange-data-2"


@dataclasses.dataclass
class NoteSequence:
    """A piece's notes as one sequence.

    Attributes:
        notes: ``(N, 3)`` int64 ``[onset, duration, pitch]`` in steps (24 per quarter),
            sorted by onset, pitch, duration (then label).
        labels: ``(N,)`` int64 part labels, or None when unknown.
        order: ``(N,)`` int64: ``notes[i]`` is row ``order[i]`` of the merged tick notes
            it came from (so predictions map back to the input).
        ticks: ``(N, 4)`` the merged input notes in ticks, in their original row order.
        tpq: ticks per quarter note of ``ticks``.
        n_parts: the number of parts of the ensemble.
    """

    notes: np.ndarray
    labels: np.ndarray | None
    order: np.ndarray
    ticks: np.ndarray
    tpq: int
    n_parts: int

    def __len__(self) -> int:
        return len(self.notes)

    def entry_steps(self) -> list[int | None]:
        """Each part's first onset in steps (None if absent), from ``labels``."""
        if self.labels is None:
            raise ParameterError("this sequence has no labels; give entry hints explicitly")
        return entry_from_labels(self.notes, self.labels, self.n_parts)


def to_steps(ticks: np.ndarray, tpq: int) -> np.ndarray:
    """``(N, 4)`` tick notes -> ``(N, 3)`` ``[onset, duration, pitch]`` in steps (not re-sorted)."""
    ticks = np.asarray(ticks, dtype=np.int64).reshape(-1, 4)
    scale = STEPS_PER_BEAT / float(tpq)
    on = np.rint(ticks[:, 0] * scale).astype(np.int64)
    off = np.rint((ticks[:, 0] + ticks[:, 1]) * scale).astype(np.int64)
    dur = np.maximum(off - on, 1)  # a note shorter than one step still lasts one step
    return np.stack([on, dur, ticks[:, 2]], axis=1)


def _sorted_sequence(ticks: np.ndarray, labels: np.ndarray | None, tpq: int, n_parts: int) -> NoteSequence:
    steps = to_steps(ticks, tpq)
    keys = (steps[:, 1], steps[:, 2], steps[:, 0])  # by onset, pitch, duration (then label)
    if labels is not None:
        keys = (labels,) + keys
    order = np.lexsort(keys).astype(np.int64)
    return NoteSequence(
        notes=np.ascontiguousarray(steps[order]),
        labels=None if labels is None else np.ascontiguousarray(np.asarray(labels, np.int64)[order]),
        order=order,
        ticks=np.asarray(ticks, np.int64),
        tpq=int(tpq),
        n_parts=n_parts,
    )


def sequence_from_piece(piece: Piece, ensemble: str | Ensemble, *, strict: bool = True) -> NoteSequence:
    """The labelled note sequence of a multitrack piece whose tracks are named as ``ensemble``'s parts.

    Tracks are matched to parts by name (case-insensitive); drum tracks are
    skipped. With ``strict``, a track that is not a part raises; otherwise it is skipped.
    """
    ens = get_ensemble(ensemble)
    ticks, labels = [], []
    for t in piece.tracks:
        if t.is_drum or not len(t):
            continue
        try:
            k = ens.part_index(t.name)
        except ParameterError:
            if strict:
                raise ParameterError(
                    f"track {t.name!r} of {piece.source or 'the piece'} is not a part of {ens.name!r} "
                    f"({', '.join(ens.parts)})"
                ) from None
            continue
        ticks.append(t.notes)
        labels.append(np.full(len(t), k, np.int64))
    if not ticks:
        return _sorted_sequence(np.zeros((0, 4), np.int64), np.zeros(0, np.int64), piece.tpq, ens.n_parts)
    return _sorted_sequence(np.concatenate(ticks), np.concatenate(labels), piece.tpq, ens.n_parts)


def merge_pitched_notes(piece: Piece, n_parts: int) -> NoteSequence:
    """All pitched notes of ``piece`` in one unlabelled sequence (the input of :func:`collage.arrangement.arrange`).

    Drum tracks are dropped with a warning. Exact duplicates (same onset, pitch
    and duration, e.g. two tracks doubling a line) are kept once, with a warning:
    one key cannot be struck twice at once.
    """
    drums = [t for t in piece.tracks if t.is_drum and len(t)]
    if drums:
        log.warning("%s: dropped %d drum note(s) of %d drum track(s); only pitched notes are arranged",
                    piece.source or "the piece", sum(len(t) for t in drums), len(drums))
    pitched = [t.notes for t in piece.tracks if not t.is_drum and len(t)]
    ticks = np.concatenate(pitched) if pitched else np.zeros((0, 4), np.int64)
    if len(ticks):
        _, first = np.unique(ticks[:, :3], axis=0, return_index=True)
        if len(first) < len(ticks):
            log.warning("%s: merged %d duplicate note(s) (same onset, duration and pitch)",
                        piece.source or "the piece", len(ticks) - len(first))
            ticks = ticks[np.sort(first)]
    return _sorted_sequence(ticks, None, piece.tpq, n_parts)


def entry_from_labels(notes: np.ndarray, labels: np.ndarray, n_parts: int) -> list[int | None]:
    """Each part's first onset (in the units of ``notes[:, 0]``), None for a part with no notes."""
    out: list[int | None] = []
    for k in range(n_parts):
        idx = np.flatnonzero(labels == k)
        out.append(int(notes[idx[0], 0]) if len(idx) else None)
    return out


def pitch_hints_from_labels(notes: np.ndarray, labels: np.ndarray, n_parts: int) -> np.ndarray:
    """``(P,)`` int64: each part's mean pitch, rounded; 0 for a part with no notes."""
    out = np.zeros(n_parts, np.int64)
    for k in range(n_parts):
        sel = labels == k
        if sel.any():
            out[k] = int(round(float(notes[sel, 2].mean())))
    return out


def note_features(
    notes: np.ndarray,
    *,
    n_parts: int,
    entry: list[int | None] | None = None,
    pitch_hints: np.ndarray | None = None,
    max_beat: int = MAX_BEAT,
) -> dict[str, np.ndarray]:
    """The model inputs of one sequence (numpy; batch with :func:`collage.arrangement.models.batch_features`).

    Args:
        notes: ``(N, 3)`` ``[onset, duration, pitch]`` in steps, sorted.
        n_parts: number of parts ``P``.
        entry: each part's entry time in steps (None: the part does not play);
            None gives all-zero entry hints.
        pitch_hints: ``(P,)`` mean pitch per part (0: absent); None gives zeros.
    Returns:
        ``pitch``, ``position``, ``beat``, ``duration`` ``(N,)`` int64,
        ``entry`` ``(N, P)`` float32, ``pitch_hint`` ``(P,)`` int64.
    """
    notes = np.asarray(notes, np.int64).reshape(-1, 3)
    onset = notes[:, 0]
    ent = np.zeros((len(notes), n_parts), np.float32)
    if entry is not None:
        if len(entry) != n_parts:
            raise ParameterError(f"given {len(entry)} entry hints; expected one per part ({n_parts})")
        for k, t in enumerate(entry):
            if t is not None:
                ent[:, k] = onset >= t
    ph = np.zeros(n_parts, np.int64) if pitch_hints is None else np.asarray(pitch_hints, np.int64).reshape(n_parts)
    return {
        "pitch": np.clip(notes[:, 2], 0, 127),
        "position": onset % STEPS_PER_BEAT,
        "beat": np.clip(onset // STEPS_PER_BEAT, 0, max_beat - 1),
        "duration": np.clip(notes[:, 1], 0, MAX_DURATION),
        "entry": ent,
        "pitch_hint": np.clip(ph, 0, 127),
    }


# -- datasets -----------------------------------------------------------------------
@dataclasses.dataclass
class DatasetArrays:
    """All sequences of one split, CSR style: piece ``i`` is rows ``ptr[i]:ptr[i + 1]``."""

    dataset: str
    split: str
    ids: list[str]
    notes: np.ndarray  # (total, 3) steps
    labels: np.ndarray  # (total,)
    ptr: np.ndarray  # (n + 1,)
    n_parts: int

    def __len__(self) -> int:
        return len(self.ids)

    def piece(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.ptr[i], self.ptr[i + 1]
        return self.notes[a:b], self.labels[a:b]

    @property
    def sha256(self) -> str:
        """Hash of the arrays (notes, labels, piece boundaries): identifies the data in model cards."""
        h = hashlib.sha256()
        for a in (self.notes, self.labels, self.ptr):
            h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
        return h.hexdigest()

    @property
    def n_notes(self) -> int:
        return int(self.ptr[-1])


def dataset_pieces(dataset: str, split: str, *, pop909_root=None, progress: bool = False):
    """Yield ``(id, Piece)`` of a dataset split: ``'bach'`` (music21 chorales) or ``'pop909'``."""
    if dataset == "bach":
        yield from iter_chorales(split, progress=progress)
    elif dataset == "pop909":
        for sid in split_ids(split, root=pop909_root):
            yield f"{int(sid):03d}", load_song(int(sid), root=pop909_root).piece
    else:
        raise ParameterError(f"given dataset {dataset!r}; expected 'bach' or 'pop909'")


def load_arrays_for(dataset: str, split: str, *, pop909_root=None, cache: bool = True,
                    progress: bool = False) -> DatasetArrays:
    """The labelled sequences of a split (``dataset`` ``'bach'`` or ``'pop909'``), cached.

    Pieces with notes in fewer than two parts are dropped (the task is trivial
    there), as in the paper.
    """
    if dataset not in DATASET_ENSEMBLE:
        raise ParameterError(f"given dataset {dataset!r}; expected 'bach' or 'pop909'")
    split = check_split(split)
    ens = get_ensemble(DATASET_ENSEMBLE[dataset])
    if dataset == "bach":
        key_ids = bach_ids(split)
    else:
        _root(pop909_root)  # fail early, with the DatasetNotFoundError, if the data is absent
        key_ids = [f"{int(i):03d}" for i in split_ids(split)]
    key = hashlib.sha1(f"{CODE_VERSION}|{dataset}|{split}|{','.join(key_ids)}".encode()).hexdigest()[:12]
    path = cache_dir() / "arrange" / f"{dataset}-{split}-{key}.npz"
    if cache:
        arrays = load_arrays(path, ("ids", "notes", "labels", "ptr"))
        if arrays is not None:
            return DatasetArrays(dataset, split, [str(i) for i in arrays["ids"].tolist()], arrays["notes"],
                                 arrays["labels"], arrays["ptr"], ens.n_parts)
    ids, notes, labels, counts = [], [], [], []
    for pid, piece in dataset_pieces(dataset, split, pop909_root=pop909_root, progress=progress):
        seq = sequence_from_piece(piece, ens, strict=False)
        if len(np.unique(seq.labels)) < 2:
            log.info("%s %s: fewer than two parts play; skipped", dataset, pid)
            continue
        ids.append(pid)
        notes.append(seq.notes)
        labels.append(seq.labels)
        counts.append(len(seq))
    ptr = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=ptr[1:])
    out = DatasetArrays(dataset, split, ids, np.concatenate(notes), np.concatenate(labels), ptr, ens.n_parts)
    if cache:
        save_arrays(path, {"ids": np.array(ids, dtype=str), "notes": out.notes, "labels": out.labels, "ptr": ptr})
    return out

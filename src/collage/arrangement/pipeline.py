"""Arranging a piece for an ensemble: merge its notes, separate them into parts, write the parts.

>>> arranged, labels = arrange(read("solo.mid"), ensemble="satb", model="bilstm")
>>> arrange_file("solo.mid", "satb.mid", ensemble="satb", entry_hints="Soprano=0,Alto=0,Bass=4")

Input handling (documented, not errors):

- all pitched notes of all tracks are merged; drum tracks are dropped with a warning;
- exact duplicates (same onset, duration and pitch, e.g. doubled tracks)
  are kept once, with a warning; notes that only share onset and pitch are
  kept and separated like any others;
- the zone baseline ignores entry hints (with a warning).

Errors (one line each, :class:`~collage.errors.CollageError`): an unknown
ensemble or method, entry hints naming a part the ensemble lacks or with a
bad time, a piece with no pitched notes or with fewer notes than the parts
that are to play, missing or corrupt weights.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from pathlib import Path

import numpy as np

from collage.arrangement.baselines import closest_pitch, entry_note_indices, load_zones, zone_predict
from collage.arrangement.data import STEPS_PER_BEAT, merge_pitched_notes
from collage.arrangement.ensembles import Ensemble, get_ensemble
from collage.arrangement.neural import predict_parts
from collage.audio.render import AUDIO_SUFFIXES, check_renderer, render_to_file
from collage.errors import InvalidInputError, ModelLoadingError, ParameterError
from collage.io import as_piece, read, write_midi
from collage.piece import Piece, Track
from collage.plotting import _image_format, plot_pianoroll
from collage.pretrained import load_pretrained

__all__ = ["METHODS", "ArrangeResult", "arrange", "arrange_file", "parse_entry_hints", "load_arrange_model",
           "DEFAULT_METHOD"]

log = logging.getLogger(__name__)

METHODS = ("zone", "closest", "closest-mono", "lstm", "bilstm", "transformer-enc", "transformer-dec")
NEURAL = ("lstm", "bilstm", "transformer-enc", "transformer-dec")
DEFAULT_METHOD = "bilstm"


@dataclasses.dataclass
class ArrangeResult:
    """What :func:`arrange_file` did: the arranged piece, per-note labels, per-part counts, files written."""

    piece: Piece
    labels: np.ndarray
    ensemble: str
    method: str
    counts: dict[str, int]
    outputs: list[Path]

    @property
    def n_notes(self) -> int:
        return int(len(self.labels))


def parse_entry_hints(hints, ensemble: str | Ensemble) -> list[float | None]:
    """Entry hints in beats per part (None: the part does not play).

    Args:
        hints: ``'Soprano=0,Bass=4.5'`` (part names case-insensitive, times in
            beats from the start), a ``{part: beats}`` dict, or None (every part
            plays from the start).
    Raises:
        ParameterError: a part the ensemble lacks, a part given twice, a time
            that is not a number >= 0, or no part at all.
    """
    ens = get_ensemble(ensemble)
    if hints is None:
        return [0.0] * ens.n_parts
    if isinstance(hints, str):
        items = []
        for chunk in [c for c in re.split(r"[,;]", hints) if c.strip()]:
            if "=" not in chunk:
                raise ParameterError(f"given entry hint {chunk.strip()!r}; expected PART=BEAT, e.g. "
                                     f"'{ens.parts[0]}=0'")
            k, v = chunk.split("=", 1)
            items.append((k.strip(), v.strip()))
    elif isinstance(hints, dict):
        items = list(hints.items())
    else:
        raise ParameterError(f"given entry hints of type {type(hints).__name__}; expected 'PART=BEAT,...' or a dict")
    if not items:
        raise ParameterError(f"given no entry hints; expected PART=BEAT for at least one of {', '.join(ens.parts)}")
    out: list[float | None] = [None] * ens.n_parts
    for name, value in items:
        k = ens.part_index(name)
        if out[k] is not None:
            raise ParameterError(f"given entry hint for {ens.parts[k]!r} twice")
        try:
            beats = float(value)
        except (TypeError, ValueError):
            raise ParameterError(f"given entry hint {name}={value!r}; expected a number of beats >= 0") from None
        if not np.isfinite(beats) or beats < 0:
            raise ParameterError(f"given entry hint {name}={value!r}; expected a number of beats >= 0")
        out[k] = beats
    return out


def _check_method(method: str) -> str:
    m = str(method).strip().lower().replace("_", "-")
    if m not in METHODS:
        raise ParameterError(f"given model {method!r}; expected one of {', '.join(METHODS)}")
    return m


def load_arrange_model(ensemble: str | Ensemble, method: str, *, hints: bool = False, weights=None):
    """The network for ``method`` on ``ensemble``: ``weights`` (a path) or the shipped ``arrange_<dataset>_<model>[_hints]``.

    Raises:
        ModelLoadingError: missing or corrupt weights, or weights for another number of parts.
    """
    ens = get_ensemble(ensemble)
    m = _check_method(method)
    if m not in NEURAL:
        raise ParameterError(f"given model {method!r}; only {', '.join(NEURAL)} have weights")
    name = weights or f"arrange_{ens.dataset}_{m.replace('-', '_')}{'_hints' if hints else ''}"
    model = load_pretrained(name)
    if getattr(model.config, "n_parts", None) != ens.n_parts:
        raise ModelLoadingError(f"{name}: weights for {getattr(model.config, 'n_parts', '?')} parts; "
                                f"ensemble {ens.name!r} has {ens.n_parts}")
    return model


def arrange(
    piece: Piece | str | os.PathLike,
    *,
    ensemble: str | Ensemble = "satb",
    model: str = DEFAULT_METHOD,
    entry_hints=None,
    weights: str | os.PathLike | None = None,
    net=None,
) -> tuple[Piece, np.ndarray]:
    """Give every pitched note of ``piece`` to a part of ``ensemble``.

    >>> arranged, labels = collage.arrange("chorale.mid", ensemble="satb", model="bilstm")
    >>> arranged.track_names
    ['Soprano', 'Alto', 'Tenor', 'Bass']

    Args:
        piece: a piece or a file (MIDI, MusicXML, ABC); its pitched tracks are merged.
        ensemble: ``'satb'`` or ``'pop909'`` (or an :class:`Ensemble`).
        model: ``'zone'``, ``'closest'``, ``'closest-mono'``, ``'lstm'``, ``'bilstm'``,
            ``'transformer-enc'`` or ``'transformer-dec'``.
        entry_hints: see :func:`parse_entry_hints`. With hints, the networks
            trained with entry hints are used and parts not named get no notes;
            without, every part may play from the start.
        weights: a ``.pt`` path to use instead of the shipped weights.
        net: an already loaded network (skips loading; must fit ``model``'s hint use).
    Returns:
        ``(arranged, labels)``: a piece with one track per part (named, with
        the ensemble's GM program; tempo, metre and key maps kept) and the
        part label of every merged input note, in the order of the merged notes.
    """
    ens = get_ensemble(ensemble)
    method = _check_method(model)
    given_hints = entry_hints is not None
    beats = parse_entry_hints(entry_hints, ens)
    piece = as_piece(piece)
    piece.require_pitched()
    seq = merge_pitched_notes(piece, ens.n_parts)
    playing = [k for k, b in enumerate(beats) if b is not None]
    if len(seq) < len(playing):
        raise InvalidInputError(
            piece.source or "the piece",
            f"has {len(seq)} pitched note(s); arranging for {len(playing)} parts of {ens.name!r} needs at least "
            f"one note per part",
        )
    entry = [None if b is None else int(round(b * STEPS_PER_BEAT)) for b in beats]
    if method == "zone":
        if given_hints:
            log.warning("the zone baseline ignores entry hints")
        labels = zone_predict(seq.notes[:, 2], load_zones(ens.name))
    elif method in ("closest", "closest-mono"):
        first = entry_note_indices(seq.notes, entry)
        if all(i is None for i in first):
            raise InvalidInputError(piece.source or "the piece", "has no notes after the entry hints' times")
        labels = closest_pitch(seq.notes, first, mono=method == "closest-mono")
    else:
        if net is None:
            net = load_arrange_model(ens, method, hints=given_hints, weights=weights)
        uses_entry = bool(net.config.entry_hints)
        labels = predict_parts(net, seq.notes, entry=entry if (uses_entry or given_hints) else None,
                               mask_unentered=given_hints)
    labels_in = np.empty(len(seq), np.int64)
    labels_in[seq.order] = labels  # back to the merged notes' row order
    tracks = []
    for k, (name, program) in enumerate(zip(ens.parts, ens.programs)):
        tracks.append(Track(seq.ticks[labels_in == k], name=name, program=program))
    arranged = dataclasses.replace(piece, tracks=tracks)
    return arranged, labels_in


def arrange_file(
    input_path: str | os.PathLike,
    output: str | os.PathLike,
    *,
    ensemble: str = "satb",
    model: str = DEFAULT_METHOD,
    entry_hints=None,
    weights=None,
    wav: str | os.PathLike | None = None,
    plot: str | os.PathLike | None = None,
    soundfont=None,
) -> ArrangeResult:
    """Read ``input_path``, arrange it (:func:`arrange`), write ``output`` (MIDI) and optionally ``wav`` and ``plot``.

    Every argument is checked before anything is read or written; outputs are
    written atomically (a failed run leaves no half-written file).
    """
    ens = get_ensemble(ensemble)
    method = _check_method(model)
    parse_entry_hints(entry_hints, ens)
    out = Path(output)
    if out.suffix.lower() not in (".mid", ".midi"):
        raise ParameterError(f"given output {str(out)!r}; expected a file name ending in .mid or .midi")
    if plot is not None:
        _image_format(plot)
    if wav is not None:
        if Path(wav).suffix.lower() not in AUDIO_SUFFIXES:
            raise ParameterError(f"given --wav {str(wav)!r}; expected a file name ending in {' or '.join(AUDIO_SUFFIXES)}")
        check_renderer(soundfont)
    net = None
    if method in NEURAL:
        net = load_arrange_model(ens, method, hints=entry_hints is not None, weights=weights)
    piece = read(input_path)
    arranged, labels = arrange(piece, ensemble=ens, model=method, entry_hints=entry_hints, net=net)
    outputs = [write_midi(arranged, out)]
    if wav is not None:
        outputs.append(render_to_file(arranged, wav, soundfont=soundfont))
    if plot is not None:
        plot_pianoroll(arranged, plot, title=f"{Path(input_path).name} arranged for {ens.name} ({method})")
        outputs.append(Path(plot))
    counts = {name: int((labels == k).sum()) for k, name in enumerate(ens.parts)}
    return ArrangeResult(arranged, labels, ens.name, method, counts, outputs)

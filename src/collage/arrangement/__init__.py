"""Automatic instrumentation by part separation (Dong et al., ISMIR 2021): ``collage arrange``.

A piece's notes, sorted by onset then pitch, are mapped to the parts of an
ensemble (``satb``: Soprano, Alto, Tenor, Bass; ``pop909``: MELODY, BRIDGE,
PIANO) by a baseline (zone-based, closest-pitch) or a network (online LSTM
and Transformer decoder, offline BiLSTM and Transformer encoder) trained to
recover the parts of Bach chorales and POP909 songs from their mixture.

>>> from collage.arrangement import arrange, arrange_file
>>> arranged, labels = arrange(piece, ensemble="satb", model="bilstm")
>>> arrange_file("solo.mid", "band.mid", ensemble="pop909", model="lstm", wav="band.wav")

Modules: :mod:`~collage.arrangement.ensembles` (parts and programs),
:mod:`~collage.arrangement.data` (sequences, labels, features, datasets),
:mod:`~collage.arrangement.baselines`, :mod:`~collage.arrangement.neural` (running
the networks of :mod:`collage.models.arrange`), :mod:`~collage.arrangement.pipeline`,
:mod:`~collage.arrangement.evaluate`. Training lives in :mod:`collage.training.arrange`.
"""

from collage.arrangement.ensembles import ENSEMBLES, Ensemble, get_ensemble
from collage.arrangement.pipeline import METHODS, ArrangeResult, arrange, arrange_file, load_arrange_model, parse_entry_hints

__all__ = [
    "ENSEMBLES",
    "Ensemble",
    "get_ensemble",
    "METHODS",
    "ArrangeResult",
    "arrange",
    "arrange_file",
    "load_arrange_model",
    "parse_entry_hints",
]

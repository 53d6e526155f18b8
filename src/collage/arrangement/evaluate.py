"""Note-level accuracy of every part separation method on a dataset split (``collage eval arrange``).

Accuracy is the share of all notes of the split (micro average, in percent)
whose predicted part is the true one. Entry hints, where a method takes them,
come from the ground truth (each part's first onset), as in the paper.
Every piece is taken whole (no length limit).

>>> evaluate_arrange("bach")["accuracy"]["bilstm"]
"""

from __future__ import annotations

import json
import logging

import numpy as np

from collage.arrangement.baselines import closest_pitch, fit_zone_model, load_zones, pitch_counts, zone_predict
from collage.arrangement.data import entry_from_labels, load_arrays_for, note_features
from collage.arrangement.ensembles import DATASET_ENSEMBLE
from collage.arrangement.neural import predict_logits
from collage.errors import ModelLoadingError, ParameterError
from collage.io.atomic import atomic_path
from collage.pretrained import load_pretrained, shipped_names, weights_dir

__all__ = ["evaluate_arrange", "record_scores", "PAPER_BACH", "PAPER_POP", "METHODS", "accuracy"]

log = logging.getLogger(__name__)

#: Dong et al. (ISMIR 2021) Table 4.2, Bach chorales column (accuracy %)
PAPER_BACH = {
    "zone": 73.14, "zone_oracle": 78.33, "lstm": 93.02, "transformer_dec": 91.51,
    "bilstm": 97.13, "transformer_enc": 96.81, "closest": 68.87, "closest_mono": 89.76,
    "lstm_hints": 92.70, "transformer_dec_hints": 91.17, "bilstm_hints": 97.39, "transformer_enc_hints": 93.81,
}
#: the same table's pop music column (Lakh MIDI, 5 instrument families: a different dataset from POP909)
PAPER_POP = {
    "zone": 57.07, "lstm": 74.14, "transformer_dec": 62.14, "bilstm": 77.23, "transformer_enc": 66.57,
    "closest": 47.45, "closest_mono": 32.28, "lstm_hints": 74.19, "transformer_dec_hints": 67.19,
    "bilstm_hints": 75.59, "transformer_enc_hints": 67.23,
}
_NETS = ("lstm", "bilstm", "transformer_enc", "transformer_dec")
METHODS = ("zone", "zone_oracle", "closest", "closest_mono") + _NETS + tuple(f"{n}_hints" for n in _NETS)


def accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    """Share of equal entries, in percent (0 for empty input)."""
    pred, labels = np.asarray(pred), np.asarray(labels)
    return 100.0 * float((pred == labels).mean()) if len(labels) else 0.0


def _zones_for(dataset: str, ensemble: str, pop909_root):
    try:
        return load_zones(ensemble)
    except ModelLoadingError:
        log.warning("no shipped zones for %s; fitting them on the train split", ensemble)
        train = load_arrays_for(dataset, "train", pop909_root=pop909_root)
        return fit_zone_model(pitch_counts(train.notes[:, 2], train.labels, train.n_parts))


def evaluate_arrange(
    dataset: str,
    *,
    split: str = "test",
    models: list[str] | None = None,
    max_pieces: int | None = None,
    pop909_root=None,
    loaded: dict | None = None,
) -> dict:
    """Accuracy of each method on ``dataset``'s ``split``.

    Args:
        dataset: ``'bach'`` or ``'pop909'``.
        models: method names (see :data:`METHODS`); None: all whose weights are shipped.
        loaded: ``{method: model}`` to use instead of the shipped weights (e.g. tiny models in tests).
    Returns:
        ``{"dataset", "split", "n_pieces", "n_notes", "accuracy": {method: %}, "missing": [...]}``.
    """
    if dataset not in DATASET_ENSEMBLE:
        raise ParameterError(f"given dataset {dataset!r}; expected 'bach' or 'pop909'")
    names = list(METHODS) if models is None else list(models)
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        raise ParameterError(f"given models {unknown}; expected some of {', '.join(METHODS)}")
    ensemble = DATASET_ENSEMBLE[dataset]
    data = load_arrays_for(dataset, split, pop909_root=pop909_root)
    n = len(data) if max_pieces is None else min(max_pieces, len(data))
    pieces = [data.piece(i) for i in range(n)]
    P = data.n_parts
    all_labels = np.concatenate([lab for _, lab in pieces]) if pieces else np.zeros(0, np.int64)
    acc: dict[str, float] = {}
    missing: list[str] = []

    for name in names:
        if name == "zone":
            zones = _zones_for(dataset, ensemble, pop909_root)
            pred = np.concatenate([zone_predict(notes[:, 2], zones) for notes, _ in pieces])
        elif name == "zone_oracle":
            pred = np.concatenate([zone_predict(notes[:, 2], fit_zone_model(pitch_counts(notes[:, 2], lab, P)))
                                   for notes, lab in pieces])
        elif name in ("closest", "closest_mono"):
            preds = []
            for notes, lab in pieces:
                first = [int(np.flatnonzero(lab == k)[0]) if (lab == k).any() else None for k in range(P)]
                preds.append(closest_pitch(notes, first, mono=name == "closest_mono"))
            pred = np.concatenate(preds)
        else:
            model = (loaded or {}).get(name)
            if model is None:
                wname = f"arrange_{dataset}_{name}"
                if wname not in shipped_names():
                    log.warning("no shipped weights %s; %s left out", wname, name)
                    missing.append(name)
                    continue
                model = load_pretrained(wname)
            hints = name.endswith("_hints")
            feats = [note_features(notes, n_parts=P, entry=entry_from_labels(notes, lab, P) if hints else None)
                     for notes, lab in pieces]
            logits = predict_logits(model, feats)
            pred = np.concatenate([lg.argmax(1) for lg in logits]) if logits else np.zeros(0, np.int64)
        acc[name] = round(accuracy(pred, all_labels), 2)
    return {
        "dataset": dataset,
        "split": split,
        "n_pieces": n,
        "n_notes": int(len(all_labels)),
        "accuracy": acc,
        "missing": missing,
    }


def record_scores(result: dict, *, command: str | None = None) -> list[str]:
    """Write ``result``'s accuracies into the cards of the shipped weights they came from.

    Adds ``scores[<split>_acc]`` (and the evaluation command) to each
    ``arrange_<dataset>_<method>.json``; the weights file and its hash are
    untouched. Returns the names of the cards updated.
    """

    done = []
    for method, acc in result["accuracy"].items():
        name = f"arrange_{result['dataset']}_{method}"
        if name not in shipped_names():
            continue
        path = weights_dir() / f"{name}.json"
        card = json.loads(path.read_text())
        card.setdefault("scores", {})[f"{result['split']}_acc"] = acc
        card["scores"][f"{result['split']}_notes"] = result["n_notes"]
        if command:
            card["scores"]["eval_command"] = command
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(card, indent=2) + "\n")
        done.append(name)
    return done

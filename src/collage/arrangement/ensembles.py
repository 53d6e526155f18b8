"""Target ensembles of part separation: their parts, in order, and a GM program for each.

The part order is the label order of every model and baseline (label ``k`` is
``parts[k]``); parts are listed from the usually highest to the usually lowest
register, which is also how parts entering together are matched to the notes
of a chord (see :func:`collage.arrangement.baselines.entry_note_indices`).
"""

from __future__ import annotations

import dataclasses

from collage.errors import ParameterError

__all__ = ["Ensemble", "ENSEMBLES", "get_ensemble", "DATASET_ENSEMBLE"]


@dataclasses.dataclass(frozen=True)
class Ensemble:
    """An ensemble: ``name``, ``parts`` (track names, label order), ``programs`` (GM, 0-127)."""

    name: str
    parts: tuple[str, ...]
    programs: tuple[int, ...]
    dataset: str

    @property
    def n_parts(self) -> int:
        return len(self.parts)

    def part_index(self, name: str) -> int:
        """The label of a part by name (case-insensitive).

        Raises:
            ParameterError: no such part in this ensemble.
        """
        key = str(name).strip().lower()
        for i, p in enumerate(self.parts):
            if p.lower() == key:
                return i
        raise ParameterError(
            f"given part {name!r}; ensemble {self.name!r} has parts {', '.join(self.parts)}"
        )


ENSEMBLES: dict[str, Ensemble] = {
    # Choir Aahs for the upper voices, Voice Oohs for the lower ones: audibly two colours.
    "satb": Ensemble("satb", ("Soprano", "Alto", "Tenor", "Bass"), (52, 52, 53, 53), "bach"),
    # POP909's three tracks: lead melody (alto sax), secondary melody (strings), piano accompaniment.
    "pop909": Ensemble("pop909", ("MELODY", "BRIDGE", "PIANO"), (65, 48, 0), "pop909"),
}

#: the ensemble whose parts each training dataset holds
DATASET_ENSEMBLE = {"bach": "satb", "pop909": "pop909"}


def get_ensemble(name: str | Ensemble) -> Ensemble:
    """An ensemble by name (``'satb'``, ``'pop909'``; ``'bach'`` is taken as ``'satb'``).

    Raises:
        ParameterError: unknown name (the known ones are listed).
    """
    if isinstance(name, Ensemble):
        return name
    key = str(name).strip().lower()
    key = DATASET_ENSEMBLE.get(key, key)
    if key not in ENSEMBLES:
        raise ParameterError(f"given ensemble {name!r}; expected one of {', '.join(ENSEMBLES)}")
    return ENSEMBLES[key]

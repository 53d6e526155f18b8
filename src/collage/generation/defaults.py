"""The sampler's defaults and its temperature per field (torch-free, so that the CLI's help and the pipeline read them without torch).

A temperature is a number (every field) or a mapping from field names
(:data:`collage.represent.mmt.FIELDS`: type, beat, position, pitch, duration,
instrument) to numbers; the fields a mapping does not name keep their
default (:data:`DEFAULT_TEMPERATURE`). :func:`field_temperatures` turns
either into six numbers, :func:`parse_temperature` reads the CLI's spelling
(``0.8``, ``pitch=0.7,position=1.0`` or ``0.9,pitch=0.7``) and
:func:`format_temperature` writes it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from numbers import Real

from collage.errors import ParameterError
from collage.represent.mmt import FIELDS

__all__ = ["DEFAULT_TEMPERATURE", "DEFAULT_TOP_K", "field_temperatures", "format_temperature", "parse_temperature"]

#: chosen on the validation split for the shipped weights (step 4200) by ``benchmarks/generate_sampling.py``
#: (docs/results/generate_sampling.md): pitch a little hotter than the rest; 1 would be the model's own distribution
DEFAULT_TEMPERATURE: float | Mapping[str, float] = {
    "type": 0.8, "beat": 0.8, "position": 0.8, "pitch": 0.9, "duration": 0.8, "instrument": 0.8,
}
#: the paper's top-k: 10 % of each field's outcomes (also chosen on the validation split)
DEFAULT_TOP_K = 0.1

_EXPECTED = ("a finite number >= 0, or a mapping of field names to such numbers "
             f"(fields: {', '.join(FIELDS)})")


def _number(value, given: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not (math.isfinite(value) and value >= 0):
        raise ParameterError(f"given {given}; expected {_EXPECTED}")
    return float(value)


def _default_fields() -> tuple[float, ...]:
    d = DEFAULT_TEMPERATURE  # a mapping default names every field (a test checks)
    return tuple(float(d[f]) for f in FIELDS) if isinstance(d, Mapping) else (float(d),) * len(FIELDS)


def field_temperatures(temperature=None) -> tuple[float, ...]:
    """The temperature of each field, in :data:`FIELDS` order (6 floats >= 0).

    Args:
        temperature: a number for every field, or a mapping ``{field: number}``
            whose unnamed fields keep :data:`DEFAULT_TEMPERATURE`'s; None: the default.
    Raises:
        ParameterError: a negative, infinite or non-numeric value, or an unknown field.
    """
    if temperature is None:
        temperature = DEFAULT_TEMPERATURE
    if isinstance(temperature, Mapping):
        unknown = [k for k in temperature if k not in FIELDS]
        if unknown:
            raise ParameterError(f"given temperature field {unknown[0]!r}; expected one of {', '.join(FIELDS)}")
        base = _default_fields()
        return tuple(_number(temperature[f], f"temperature {f}={temperature[f]!r}") if f in temperature else base[i]
                     for i, f in enumerate(FIELDS))
    t = _number(temperature, f"temperature={temperature!r}")
    return (t,) * len(FIELDS)


def parse_temperature(spec: str) -> float | dict[str, float]:
    """The CLI's ``--temperature``: ``0.8`` (every field), ``pitch=0.7,position=1.0`` (those fields; the others
    keep the default) or ``0.9,pitch=0.7`` (every field 0.9 but pitch). Raises ParameterError naming the bad part."""
    def bad(why: str) -> ParameterError:
        return ParameterError(f"given --temperature {spec!r}; {why}")

    base = None
    fields: dict[str, float] = {}
    items = [s.strip() for s in str(spec).split(",")]
    for item in items:
        name, eq, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not eq:
            name, value = None, item
        try:
            t = float(value)
        except ValueError:
            raise bad(f"{item!r} is not a number or FIELD=number (fields: {', '.join(FIELDS)})") from None
        if not (math.isfinite(t) and t >= 0):
            raise bad(f"{item!r}: a temperature is a finite number >= 0")
        if name is None:
            if base is not None:
                raise bad("give one number for every field at most, then FIELD=number pairs")
            base = t
        elif name not in FIELDS:
            raise bad(f"unknown field {name!r} (fields: {', '.join(FIELDS)})")
        elif name in fields:
            raise bad(f"field {name!r} given twice")
        else:
            fields[name] = t
    if not fields:
        return base
    if base is not None:
        fields = {f: fields.get(f, base) for f in FIELDS}
    return fields


def format_temperature(temperature=None) -> str:
    """``temperature`` as :func:`parse_temperature` reads it: ``0.8``, or the commonest value and the fields
    that differ from it (``0.8,pitch=0.9``)."""
    ts = field_temperatures(temperature)
    base = Counter(ts).most_common(1)[0][0]
    return ",".join([f"{base:g}"] + [f"{f}={t:g}" for f, t in zip(FIELDS, ts) if t != base])

"""A temperature per field: collage.generation.defaults (parse, fill, format) and its effect in sample_codes."""

from collections.abc import Mapping

import numpy as np
import pytest
import torch

from collage.errors import ParameterError
from collage.generation import defaults
from collage.generation.defaults import field_temperatures, format_temperature, parse_temperature
from collage.generation.sampling import sample_codes
from collage.pretrained import tiny_model
from collage.represent import mmt as rep


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    return tiny_model("mmt")


def test_the_default_names_every_field():
    d = defaults.DEFAULT_TEMPERATURE
    ts = field_temperatures()
    assert len(ts) == len(rep.FIELDS) and all(t >= 0 for t in ts)
    if isinstance(d, Mapping):
        assert list(d) == list(rep.FIELDS)
    assert parse_temperature(format_temperature()) in (d, dict(d) if isinstance(d, Mapping) else d)


def test_a_mapping_keeps_the_default_of_the_fields_it_does_not_name(monkeypatch):
    monkeypatch.setattr(defaults, "DEFAULT_TEMPERATURE", 0.8)
    assert field_temperatures(0.5) == (0.5,) * 6
    assert field_temperatures({"pitch": 0.7, "position": 1}) == (0.8, 0.8, 1.0, 0.7, 0.8, 0.8)
    per_field = dict(zip(rep.FIELDS, (0.8, 0.9, 1.0, 0.6, 1.1, 0.5)))
    monkeypatch.setattr(defaults, "DEFAULT_TEMPERATURE", per_field)
    assert field_temperatures() == (0.8, 0.9, 1.0, 0.6, 1.1, 0.5)
    assert field_temperatures({"pitch": 0.7}) == (0.8, 0.9, 1.0, 0.7, 1.1, 0.5)
    assert format_temperature() == "0.8,beat=0.9,position=1,pitch=0.6,duration=1.1,instrument=0.5"
    assert format_temperature({"pitch": 0.9}) == "0.9,type=0.8,position=1,duration=1.1,instrument=0.5"
    assert format_temperature(0.7) == "0.7"
    assert format_temperature(dict.fromkeys(rep.FIELDS, 0.8) | {"pitch": 0.9}) == "0.8,pitch=0.9"
    assert parse_temperature(format_temperature()) == per_field


@pytest.mark.parametrize("bad,match", [
    (-1.0, r"given temperature=-1\.0; expected a finite number >= 0"),
    (float("inf"), "given temperature=inf"),
    (True, "given temperature=True"),
    ("0.8", "given temperature='0.8'"),
    ({"pich": 0.7}, "given temperature field 'pich'; expected one of type, beat, position, pitch"),
    ({"pitch": -0.1}, r"given temperature pitch=-0\.1"),
])
def test_bad_temperatures(bad, match):
    with pytest.raises(ParameterError, match=match):
        field_temperatures(bad)


@pytest.mark.parametrize("spec,want", [
    ("0.8", 0.8),
    (" 1 ", 1.0),
    ("pitch=0.7,position=1.0", {"pitch": 0.7, "position": 1.0}),
    ("pitch = 0.7 , duration=0", {"pitch": 0.7, "duration": 0.0}),
    ("0.9,pitch=0.7", dict(zip(rep.FIELDS, (0.9, 0.9, 0.9, 0.7, 0.9, 0.9)))),
])
def test_parse_temperature(spec, want):
    assert parse_temperature(spec) == want


@pytest.mark.parametrize("spec,match", [
    ("", "'' is not a number"),
    ("hot", "'hot' is not a number or FIELD=number"),
    ("pitch=x", "'pitch=x' is not a number"),
    ("pich=0.7", "unknown field 'pich'"),
    ("pitch=0.7,pitch=0.8", "field 'pitch' given twice"),
    ("0.8,0.9", "one number for every field at most"),
    ("-1", "a temperature is a finite number >= 0"),
    ("pitch=nan", "a temperature is a finite number >= 0"),
])
def test_parse_temperature_errors(spec, match):
    with pytest.raises(ParameterError, match=f"given --temperature '{spec}'; .*{match}"):
        parse_temperature(spec)


def test_each_field_is_sampled_at_its_own_temperature(model):
    """The first note's fields all come from the header's logits: at temperature 0 they are the same for every
    seed, while a field at temperature 1 (top-k: every code) varies with the seed."""
    cold = dict.fromkeys(rep.FIELDS, 0.0)
    for hot in ("pitch", "duration"):
        firsts = []
        for seed in range(8):
            codes = sample_codes(model, rep.header(["piano"]), end_beat=8, max_notes=1, seed=seed,
                                 temperature=cold | {hot: 1.0}, top_k=1000)
            firsts.append(codes[codes[:, rep.TYPE] == rep.NOTE][0])
        firsts = np.array(firsts)
        col = rep.FIELDS.index(hot)
        others = [f for f in range(6) if f != col]
        assert (firsts[:, others] == firsts[0, others]).all()
        assert len(set(firsts[:, col].tolist())) > 1
    greedy = [sample_codes(model, rep.header(["piano"]), end_beat=16, max_notes=20, seed=s, temperature=cold)
              for s in (0, 1)]
    assert np.array_equal(*greedy) and np.array_equal(greedy[0], sample_codes(
        model, rep.header(["piano"]), end_beat=16, max_notes=20, seed=0, temperature=0))

"""One spelling of pitch and key names, read in any spelling."""

import pytest

from collage.errors import ParameterError
from collage.represent.pitch import (
    PITCH_NAMES,
    key_name,
    key_signature_name,
    normalize_key,
    parse_key,
    pitch_class,
    pitch_name,
)


def test_table_names_every_pitch_class_once():
    assert len(PITCH_NAMES) == 12 and len(set(PITCH_NAMES)) == 12
    assert [pitch_class(n) for n in PITCH_NAMES] == list(range(12))


@pytest.mark.parametrize("name, pc", [("Db", 1), ("C#", 1), ("c♯", 1), ("Gb", 6), ("E#", 5), ("Cb", 11), ("Bbb", 9)])
def test_any_spelling_is_read(name, pc):
    assert pitch_class(name) == pc


def test_names_come_from_the_table():
    assert [pitch_name(p) for p in (21, 60, 61, 63, 70, 108)] == ["A0", "C4", "C#4", "Eb4", "Bb4", "C8"]
    assert key_name(6, "major") == "F#:maj" and key_name(8, "minor") == "Ab:min" and key_name(1, "minor") == "C#:min"
    assert key_signature_name(-3, False) == "Eb major" and key_signature_name(3, True) == "F# minor"
    assert key_signature_name(-6, False) == key_signature_name(6, False) == "F# major"


@pytest.mark.parametrize("label, want", [
    ("Gb:maj", "F#:maj"), ("F#:maj", "F#:maj"), ("Db:min", "C#:min"), ("g# minor", "Ab:min"), ("Am", "A:min"),
    ("C", "C:maj"), ("Eb major", "Eb:maj"), ((6, "major"), "F#:maj"),
])
def test_normalize_key(label, want):
    assert normalize_key(label) == want
    assert normalize_key(want) == want


@pytest.mark.parametrize("bad", ["H:dorian", "C:dorian", "", (12, "major"), (1, "lydian")])
def test_bad_keys_quote_the_value(bad):
    with pytest.raises(ParameterError, match="given key"):
        parse_key(bad)


def test_other_modules_use_this_table():
    from collage.audio import analyze
    from collage.mashup import generate
    from collage.plotting import pitch_name as plot_pitch_name
    from collage.represent import chord

    assert chord.PITCH_NAMES is PITCH_NAMES and analyze.PITCH_NAMES is PITCH_NAMES
    assert analyze.key_name is key_name and analyze.parse_key is parse_key and generate.parse_key is parse_key
    assert plot_pitch_name is pitch_name
    assert chord.vector_to_label(chord.chord_vector("Db:maj")) == "C#:maj"

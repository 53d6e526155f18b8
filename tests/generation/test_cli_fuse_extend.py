"""`collage fuse --extend BEATS`: the fused piece continued by the MMT (tiny random weights here)."""

import json

import pytest
from cli_helpers import assert_user_error, run

from collage import examples, pretrained
from collage.io import read_midi

MEL, ACC = str(examples.path("melody")), str(examples.path("accompaniment"))


@pytest.fixture
def tiny_mmt(monkeypatch):
    real = pretrained.load_pretrained
    model = pretrained.tiny_model("mmt")
    monkeypatch.setattr(pretrained, "load_pretrained", lambda name, **kw: model if name == "mmt" else real(name, **kw))
    return model


def test_fuse_extend_continues_the_fused_piece(capsys, tmp_path, tiny_mmt):
    plain, longer = tmp_path / "plain.mid", tmp_path / "longer.mid"
    rc, _, err = run(capsys, "fuse", MEL, ACC, "-o", plain, "--method", "rule", "--seed", "3")
    assert rc == 0, err
    rc, out, err = run(capsys, "fuse", MEL, ACC, "-o", longer, "--method", "rule", "--seed", "3",
                       "--extend", "200", "--json")
    assert rc == 0, err
    s = json.loads(out)
    assert s["extended"]["beats"] == 200
    a, b = read_midi(plain), read_midi(longer)
    assert b.track_names[:2] == ["MELODY", "ACCOMPANIMENT"]
    assert b.n_notes > a.n_notes
    for ta, tb in zip(a.tracks, b.tracks):  # the fused notes are kept as they were
        assert (tb.notes[: len(ta)] == ta.notes).all()


@pytest.mark.parametrize("value", ["0", "1025"])
def test_fuse_extend_out_of_range(capsys, tmp_path, value):
    rc, _, err = run(capsys, "fuse", MEL, ACC, "-o", tmp_path / "f.mid", "--method", "rule", "--extend", value)
    assert_user_error(rc, err, f"given --extend {value}; expected 1..1024 beats")
    assert list(tmp_path.iterdir()) == []

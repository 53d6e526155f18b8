"""The `render`, `plot`, `info` and `demo` commands, run through collage.cli.main.

Every user error must end in exactly one line on stderr, exit code 2, no
traceback and no output file. Commands that synthesise skip without FluidSynth.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from collage.io import write_midi

from cli_helpers import assert_user_error, needs_fluidsynth, run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def midi(tmp_path, two_track_piece) -> Path:
    return write_midi(two_track_piece, tmp_path / "in" / "song.mid")


@pytest.fixture
def corrupt(tmp_path) -> Path:
    p = tmp_path / "in" / "broken.mid"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x01\x00abc")  # truncated
    return p


@pytest.fixture
def outdir(tmp_path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


# -- help ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "command, example",
    [
        ("render", "collage render song.mid -o song.wav --sr 22050"),
        ("plot", 'collage plot song.mid -o song.png --title "my song"'),
        ("info", "collage info song.mid --json"),
        ("demo", "collage demo -o out"),
    ],
)
def test_help_has_an_example_on_its_own_line(capsys, command, example):
    rc, out, _ = run(capsys, command, "--help")
    assert rc == 0
    assert any(line.strip() == example for line in out.splitlines()), out


# -- info ------------------------------------------------------------------------------------
def test_info_text_and_json(capsys, midi):
    rc, out, err = run(capsys, "info", midi)
    assert rc == 0 and err == ""
    assert "100 qpm at tick 0" in out and "4/4 at tick 0" in out
    assert "MELODY" in out and "C4-G4 (60-67)" in out and "C3-C4 (48-60)" in out
    rc, out, _ = run(capsys, "info", midi, "--json")
    info = json.loads(out)
    assert info["tpq"] == 480 and info["duration_s"] == pytest.approx(4.8)
    assert info["tempos"] == [{"tick": 0, "qpm": 100.0}]
    assert info["time_signatures"] == [{"tick": 0, "numerator": 4, "denominator": 4}]
    assert [(t["name"], t["program"], t["is_drum"], t["n_notes"], t["pitch_range"]) for t in info["tracks"]] == [
        ("MELODY", 0, False, 8, "C4-G4"),
        ("PIANO", 0, False, 6, "C3-C4"),
    ]


@pytest.mark.parametrize("which", ["missing", "corrupt"])
def test_info_bad_input_is_one_line(capsys, tmp_path, corrupt, which):
    path = tmp_path / "nope.mid" if which == "missing" else corrupt
    rc, out, err = run(capsys, "info", path)
    assert_user_error(rc, err, str(path), "no such file" if which == "missing" else "truncated")
    assert out == ""


# -- render ----------------------------------------------------------------------------------
@needs_fluidsynth
def test_render_writes_a_wav(capsys, midi, outdir):
    out = outdir / "song.wav"
    rc, stdout, err = run(capsys, "render", midi, "-o", out, "--sr", "22050")
    assert rc == 0, err
    assert f"wrote {out}" in stdout
    info = sf.info(str(out))
    assert info.samplerate == 22050 and info.channels == 1
    assert info.duration == pytest.approx(4.8 + 1.0, abs=1e-3)


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--sr", "abc"], ["given --sr 'abc'; expected a whole number"]),
        (["--sr", "1000"], ["given sr=1000", "8000..96000"]),
        (["--soundfont", "/nonexistent/x.sf2"], ["/nonexistent/x.sf2: no such soundfont file"]),
    ],
)
def test_render_bad_options_are_one_line_and_write_nothing(capsys, midi, outdir, args, needles):
    rc, out, err = run(capsys, "render", midi, "-o", outdir / "x.wav", *args)
    assert_user_error(rc, err, *needles)
    assert list(outdir.iterdir()) == []


def test_render_corrupt_or_missing_midi(capsys, corrupt, outdir):
    rc, _, err = run(capsys, "render", corrupt, "-o", outdir / "x.wav")
    assert_user_error(rc, err, str(corrupt), "truncated")
    rc, _, err = run(capsys, "render", outdir / "missing.mid", "-o", outdir / "x.wav")
    assert_user_error(rc, err, "missing.mid: no such file")
    assert list(outdir.iterdir()) == []


def test_render_unwritable_output(capsys, midi, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    rc, _, err = run(capsys, "render", midi, "-o", blocker / "x.wav", "--sr", "22050")
    assert_user_error(rc, err, "blocker/x.wav", "is not a folder")  # found before synthesising
    assert blocker.read_text() == "a file where a folder should be"


# -- plot ------------------------------------------------------------------------------------
def test_plot_writes_a_png(capsys, midi, outdir):
    out = outdir / "song.png"
    rc, stdout, err = run(capsys, "plot", midi, "-o", out, "--title", "a song")
    assert rc == 0, err
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert stdout.strip() == f"wrote {out}"
    rc, _, err = run(capsys, "plot", midi, "-o", outdir / "secs.png", "--seconds")
    assert rc == 0, err


def test_plot_errors_are_one_line_and_write_nothing(capsys, midi, corrupt, outdir, tmp_path):
    rc, _, err = run(capsys, "plot", corrupt, "-o", outdir / "x.png")
    assert_user_error(rc, err, str(corrupt))
    rc, _, err = run(capsys, "plot", midi, "-o", outdir / "x.gif")
    assert_user_error(rc, err, "x.gif", ".png")
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    rc, _, err = run(capsys, "plot", midi, "-o", blocker / "x.png")
    assert_user_error(rc, err, "blocker/x.png")
    assert list(outdir.iterdir()) == []


# -- demo ------------------------------------------------------------------------------------
@needs_fluidsynth
def test_demo_writes_pair_midi_wav_png(capsys, tmp_path):
    out = tmp_path / "demo"
    rc, stdout, err = run(capsys, "demo", "-o", out)
    assert rc == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["pair.mid", "pair.png", "pair.wav"]
    for name in ("pair.mid", "pair.wav", "pair.png"):
        assert str(out / name) in stdout
    from collage.io import read_midi

    pair = read_midi(out / "pair.mid")
    assert pair.track_names == ["MELODY", "ACCOMPANIMENT"]
    assert pair.duration_s == pytest.approx(19.2)
    assert sf.info(str(out / "pair.wav")).duration == pytest.approx(20.2, abs=1e-3)
    assert (out / "pair.png").read_bytes()[:8] == PNG_MAGIC


def test_demo_without_audio(capsys, tmp_path):
    out = tmp_path / "demo"
    rc, stdout, err = run(capsys, "demo", "-o", out, "--no-audio")
    assert rc == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["pair.mid", "pair.png"]


def test_demo_errors_write_nothing(capsys, tmp_path, monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    rc, _, err = run(capsys, "demo", "-o", blocker)
    assert_user_error(rc, err, "blocker: is a file")
    monkeypatch.setenv("COLLAGE_SOUNDFONT", str(tmp_path / "gone.sf2"))
    out = tmp_path / "demo"
    rc, _, err = run(capsys, "demo", "-o", out)
    assert_user_error(rc, err, "gone.sf2")
    assert not out.exists()  # the renderer is checked before anything is written


def test_examples_are_bundled_and_the_same_length():
    from collage import examples
    from collage.errors import ParameterError

    mel, acc = examples.load("melody"), examples.load("accompaniment.mid")
    assert mel.track_names == ["MELODY"] and acc.track_names == ["PIANO"]
    assert mel.duration_s == acc.duration_s == pytest.approx(19.2)
    onsets = mel.tracks[0].onsets
    offsets = mel.tracks[0].offsets
    assert (onsets[1:] >= offsets[:-1]).all()  # monophonic
    assert mel.key_signatures[0].sharps != acc.key_signatures[0].sharps  # different keys
    with pytest.raises(ParameterError, match="given example name 'nope'"):
        examples.path("nope")

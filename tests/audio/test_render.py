"""collage.audio.render: FluidSynth rendering, soundfont lookup, atomic output.

Tests that synthesise need the ``fluidsynth`` program and a GM soundfont
(``make system-deps``); they skip with a reason when either is missing. The
failure-path tests fake FluidSynth with a small shell script and run anywhere.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from collage.audio.render import RenderError, find_soundfont, render, render_to_file
from collage.errors import InvalidInputError, ParameterError
from collage.piece import Piece, Tempo, TimeSignature, Track


def _have_renderer() -> str | None:
    if shutil.which("fluidsynth") is None:
        return "fluidsynth is not installed (apt-get install fluidsynth fluid-soundfont-gm)"
    try:
        find_soundfont()
    except (RenderError, InvalidInputError) as e:
        return f"no usable soundfont: {e}"
    return None


_WHY = _have_renderer()
needs_fluidsynth = pytest.mark.skipif(_WHY is not None, reason=_WHY or "")


def a4_piece(seconds_per_beat: float = 0.5, beats: int = 2, program: int = 73) -> Piece:
    """One A4 (440 Hz) of ``beats`` quarter notes on a flute, at 120 qpm."""
    q = 480
    return Piece(
        [Track(np.array([[0, beats * q, 69, 100]]), name="A4", program=program)],
        tpq=q,
        tempos=[Tempo(0, 60.0 / seconds_per_beat)],
        time_signatures=[TimeSignature(0, 4, 4)],
    )


@pytest.fixture
def fake_soundfont(tmp_path) -> Path:
    """A file with a valid SoundFont RIFF header (enough for the header check, not for FluidSynth)."""
    p = tmp_path / "fake.sf2"
    p.write_bytes(b"RIFF\x04\x00\x00\x00sfbk")
    return p


@pytest.fixture
def failing_fluidsynth(tmp_path, monkeypatch) -> Path:
    """Put a fake ``fluidsynth`` first on PATH that writes half a file and exits 1."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "fluidsynth"
    exe.write_text(
        "#!/bin/sh\n"
        'while [ $# -gt 0 ]; do if [ "$1" = -F ]; then shift; printf RIFFjunk > "$1"; fi; shift; done\n'
        'echo "fluidsynth: panic: simulated failure" >&2\n'
        "exit 1\n"
    )
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    return exe


# -- synthesis -------------------------------------------------------------------------------
@needs_fluidsynth
@pytest.mark.parametrize("sr", [22050, 44100])
def test_render_length_rate_and_not_silent(sr):
    piece = a4_piece()
    y, got_sr = render(piece, sr=sr)
    assert got_sr == sr
    assert y.dtype == np.float32 and y.ndim == 1
    assert piece.duration_s == pytest.approx(1.0)
    assert len(y) == round((piece.duration_s + 1.0) * sr)  # piece + 1 s release
    assert np.abs(y).max() <= 1.0
    sounding = y[int(0.1 * sr) : int(0.9 * sr)]
    assert np.sqrt(np.mean(sounding**2)) > 1e-2  # clearly audible while the note plays
    assert np.abs(y[-10:]).max() < 1e-3  # faded out at the very end


@needs_fluidsynth
def test_render_a4_has_its_spectral_peak_at_440_hz():
    sr = 22050
    y, _ = render(a4_piece(), sr=sr)
    seg = y[int(0.1 * sr) : int(0.9 * sr)]
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    freqs = np.fft.rfftfreq(len(seg), 1 / sr)
    assert freqs[np.argmax(spectrum)] == pytest.approx(440.0, abs=4.0)


@needs_fluidsynth
def test_render_release_and_tempo_set_the_length():
    sr = 22050
    piece = a4_piece(seconds_per_beat=0.75, beats=2)  # 80 qpm: 1.5 s
    y, _ = render(piece, sr=sr, release_s=0.25)
    assert len(y) == round(1.75 * sr)


@needs_fluidsynth
def test_render_normalises_only_when_it_would_clip(caplog):
    q = 480
    chord = [[0, 2 * q, p, 127] for p in range(48, 84, 3)]  # 12 loud notes at once
    piece = Piece([Track(np.array(chord), program=0)], tpq=q, tempos=[Tempo(0, 120.0)])
    with caplog.at_level(logging.WARNING, logger="collage.audio.render"):
        y, _ = render(piece, sr=22050, gain=8.0)
    assert np.abs(y).max() == pytest.approx(1.0, abs=1e-6)
    assert "normalised" in caplog.text


@needs_fluidsynth
def test_render_to_file_writes_a_wav(tmp_path):
    out = tmp_path / "sub" / "a4.wav"
    assert render_to_file(a4_piece(), out, sr=22050) == out
    info = sf.info(str(out))
    assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
    assert info.frames == round(2.0 * 22050)
    assert sorted(p.name for p in out.parent.iterdir()) == ["a4.wav"]  # no temp files left


# -- soundfont lookup and failures (no real FluidSynth needed) -----------------------------
def test_missing_soundfont_is_a_clear_error_and_leaves_no_file(tmp_path):
    out = tmp_path / "x.wav"
    with pytest.raises(InvalidInputError, match="no such soundfont file") as info:
        render_to_file(a4_piece(), out, soundfont=tmp_path / "nope.sf2")
    assert info.value.path == str(tmp_path / "nope.sf2")
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_is_not_a_soundfont_is_rejected(tmp_path):
    bogus = tmp_path / "bogus.sf2"
    bogus.write_text("not a soundfont")
    with pytest.raises(InvalidInputError, match="is not a SoundFont"):
        render_to_file(a4_piece(), tmp_path / "x.wav", soundfont=bogus)
    assert not (tmp_path / "x.wav").exists()


def test_soundfont_from_environment(tmp_path, monkeypatch, fake_soundfont):
    monkeypatch.setenv("COLLAGE_SOUNDFONT", str(fake_soundfont))
    assert find_soundfont() == fake_soundfont
    monkeypatch.setenv("COLLAGE_SOUNDFONT", str(tmp_path / "gone.sf2"))
    with pytest.raises(InvalidInputError, match="gone.sf2: no such soundfont"):
        find_soundfont()
    assert find_soundfont(fake_soundfont) == fake_soundfont  # the argument wins


def test_failing_fluidsynth_leaves_no_output(tmp_path, failing_fluidsynth, fake_soundfont):
    out = tmp_path / "out" / "x.wav"
    with pytest.raises(RenderError, match="fluidsynth failed: .*simulated failure"):
        render_to_file(a4_piece(), out, sr=22050, soundfont=fake_soundfont)
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_missing_fluidsynth_says_what_to_install(tmp_path, monkeypatch, fake_soundfont):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no fluidsynth
    with pytest.raises(RenderError, match="apt-get install --no-install-recommends fluidsynth"):
        render(a4_piece(), soundfont=fake_soundfont)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sr": 1000}, r"given sr=1000; expected an integer sample rate in Hz in 8000\.\.96000"),
        ({"sr": 44100.0}, r"given sr=44100\.0"),
        ({"gain": 0}, r"given gain=0"),
        ({"release_s": -1}, r"given release_s=-1"),
    ],
)
def test_bad_arguments_quote_the_value(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        render(a4_piece(), **kwargs)


def test_empty_piece_and_bad_suffix_are_rejected(tmp_path):
    with pytest.raises(ParameterError, match="has no notes"):
        render(Piece([Track(np.zeros((0, 4)))]))
    with pytest.raises(ParameterError, match=r"given output .*x\.mp3.*\.wav or \.flac"):
        render_to_file(a4_piece(), tmp_path / "x.mp3")
    assert list(tmp_path.iterdir()) == []

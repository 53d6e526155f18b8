"""`collage fuse` through collage.cli.main: outputs, options, and one-line errors that write nothing."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from collage import examples
from collage.io import read_midi, write_midi
from collage.piece import Piece, Tempo, TimeSignature, Track

from cli_helpers import assert_user_error, needs_fluidsynth, run

MEL, ACC = str(examples.path("melody")), str(examples.path("accompaniment"))


@pytest.fixture
def tiny_models(monkeypatch):
    """collagenet / gradient runs use tiny random models instead of the shipped weights."""
    from collage.fusion import vertical

    models = vertical.FusionModels.tiny()
    monkeypatch.setattr(vertical.FusionModels, "load", classmethod(lambda cls, **kw: models))
    return models


def test_fuse_rule_writes_midi_and_prints_a_summary(capsys, tmp_path):
    out = tmp_path / "fused.mid"
    rc, stdout, err = run(capsys, "fuse", MEL, ACC, "-o", out, "--method", "rule", "--seed", "3")
    assert rc == 0, err
    assert "fused with rule (seed 3): 32 beats in 7 windows, accompaniment +2 semitones" in stdout
    assert f"wrote {out}" in stdout
    piece = read_midi(out)
    assert piece.track_names == ["MELODY", "ACCOMPANIMENT"]
    assert [t.program for t in piece.tracks] == [73, 0]
    assert piece.duration_s == pytest.approx(19.2)


def test_fuse_then_arrange_writes_one_track_per_part(capsys, tmp_path):
    out = tmp_path / "band.mid"
    rc, stdout, err = run(capsys, "fuse", MEL, ACC, "-o", out, "--method", "rule", "--arrange", "satb",
                          "--arrange-model", "zone", "--json")
    assert rc == 0, err
    summary = json.loads(stdout)
    piece = read_midi(out)
    assert piece.track_names == ["Soprano", "Alto", "Tenor", "Bass"]
    assert summary["arranged"]["notes"] == {t.name: len(t.notes) for t in piece.tracks}
    plain = tmp_path / "plain.mid"
    assert run(capsys, "fuse", MEL, ACC, "-o", plain, "--method", "rule")[0] == 0
    assert sum(len(t.notes) for t in piece.tracks) == sum(len(t.notes) for t in read_midi(plain).tracks)


def test_fuse_collagenet_with_options_and_json(capsys, tmp_path, tiny_models):
    out = tmp_path / "f.mid"
    rc, stdout, err = run(capsys, "fuse", MEL, ACC, "-o", out, "--method", "collagenet", "--keep-pitch", "1",
                          "--keep-rhythm", "0", "--keep-chord", "0.25", "--keep-texture", "0.75", "--hop", "2", "--no-key-align", "--json")
    assert rc == 0, err
    summary = json.loads(stdout)
    assert summary["method"] == "collagenet" and summary["key_shift"] == 0 and summary["hop_beats"] == 2
    assert summary["controls"] == {"pitch": 1.0, "rhythm": 0.0, "chord": 0.25, "texture": 0.75}
    assert summary["n_windows"] == 13 and summary["outputs"] == [str(out)]
    assert summary["iterations"] == tiny_models.actor.config.iterations
    rc, stdout, err = run(capsys, "fuse", MEL, ACC, "-o", out, "--method", "collagenet", "--iterations", "3", "--json")
    assert rc == 0, err
    assert json.loads(stdout)["iterations"] == 3
    assert read_midi(out).track_names == ["MELODY", "ACCOMPANIMENT"]


def test_fuse_any_length_loop_or_trim(capsys, tmp_path):
    short = Piece([Track(np.array([[i * 480, 480, 72 + i % 3, 90] for i in range(8)]), name="MELODY")], tpq=480,
                  tempos=[Tempo(0, 120.0)])
    write_midi(short, tmp_path / "short.mid")
    rc, stdout, err = run(capsys, "fuse", tmp_path / "short.mid", ACC, "-o", tmp_path / "loop.mid", "--method",
                          "rule")
    assert rc == 0, err
    assert "melody looped 4x" in stdout
    assert read_midi(tmp_path / "loop.mid").end_tick == 32 * 480
    rc, stdout, err = run(capsys, "fuse", tmp_path / "short.mid", ACC, "-o", tmp_path / "trim.mid", "--method",
                          "rule", "--trim")
    assert rc == 0, err
    assert "accompaniment trimmed" in stdout
    assert read_midi(tmp_path / "trim.mid").end_tick == 8 * 480


@needs_fluidsynth
def test_fuse_writes_wav_and_plot(capsys, tmp_path):
    out = tmp_path / "f.mid"
    rc, stdout, err = run(capsys, "fuse", MEL, ACC, "-o", out, "--method", "rule", "--wav", tmp_path / "f.wav",
                          "--plot", tmp_path / "f.png")
    assert rc == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.mid", "f.png", "f.wav"]
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args,needles", [
    (["--keep-pitch", "1.5"], ["given --keep-pitch 1.5; expected a number in [0, 1]"]),
    (["--keep-texture", "-0.2"], ["given --keep-texture -0.2"]),
    (["--keep-chord", "nan"], ["given --keep-chord nan"]),
    (["--keep-rhythm", "lots"], ["'lots' is not a valid float"]),
    (["--method", "magic"], ["'magic' is not one of"]),
    (["--hop", "9"], ["--hop"]),
    (["--iterations", "2"], ["given --iterations 2 with --method rule"]),
    (["--iterations", "0"], ["--iterations"]),
])
def test_bad_options_are_one_line_errors(capsys, tmp_path, args, needles):
    rc, _, err = run(capsys, "fuse", MEL, ACC, "-o", tmp_path / "f.mid", "--method", "rule", *args)
    assert_user_error(rc, err, *needles)
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs_and_outputs_write_nothing(capsys, tmp_path):
    outdir = tmp_path / "out"
    out = outdir / "f.mid"
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"not a midi file")
    drums = tmp_path / "drums.mid"
    write_midi(Piece([Track(np.array([[0, 480, 36, 100]]), name="Drums", is_drum=True)]), drums)
    empty_acc = tmp_path / "two.mid"
    write_midi(Piece([Track(np.array([[0, 480, 60, 90]]), name="Lead"), Track(np.array([[0, 480, 48, 90]]),
                                                                             name="Pad")]), empty_acc)
    cases = [
        ((tmp_path / "missing.mid", ACC, "-o", out), ["missing.mid"]),
        ((corrupt, ACC, "-o", out), ["corrupt.mid", "is not a MIDI file"]),
        ((drums, ACC, "-o", out), ["drums.mid: has only drum notes"]),
        ((MEL, drums, "-o", out), ["drums.mid: has only drum notes"]),
        ((empty_acc, ACC, "-o", out), ["has 2 pitched tracks", "--melody-track"]),
        ((empty_acc, ACC, "-o", out, "--melody-track", "vox"), ["no track named 'vox'"]),
        ((MEL, ACC, "-o", outdir / "f.txt"), ["-o/--output", "f.txt", ".mid"]),
        ((MEL, ACC, "-o", out, "--plot", outdir / "f.gif"), ["--plot", "f.gif"]),
        ((MEL, ACC, "-o", out, "--wav", outdir / "f.mp3"), ["--wav", "f.mp3"]),
    ]
    for args, needles in cases:
        rc, _, err = run(capsys, "fuse", *args, "--method", "rule")
        assert_user_error(rc, err, *needles)
    assert not outdir.exists()


def test_missing_weights_are_one_line(capsys, tmp_path, monkeypatch):
    import collage.pretrained as pretrained

    monkeypatch.setattr(pretrained, "weights_dir", lambda: tmp_path / "no-weights")
    rc, _, err = run(capsys, "fuse", MEL, ACC, "-o", tmp_path / "f.mid", "--method", "collagenet")
    assert_user_error(rc, err, "no shipped weights named 'latent_actor'")
    rc, _, err = run(capsys, "fuse", MEL, ACC, "-o", tmp_path / "f.mid", "--method", "collagenet",
                     "--actor", tmp_path / "gone.pt")
    assert_user_error(rc, err, "gone.json")
    rc, _, err = run(capsys, "fuse", MEL, ACC, "-o", tmp_path / "f.mid", "--actor", "x", "--method", "rule")
    assert_user_error(rc, err, "given --actor 'x' with --method rule")
    assert not (tmp_path / "f.mid").exists()


def test_a_failed_later_output_removes_the_earlier_ones(capsys, tmp_path, monkeypatch):
    import collage.plotting
    from collage.errors import OutputError

    def broken(pieces, path, **kw):
        raise OutputError(path, "cannot be written (disk full)")

    monkeypatch.setattr(collage.plotting, "plot_pianorolls", broken)
    rc, _, err = run(capsys, "fuse", MEL, ACC, "-o", tmp_path / "f.mid", "--method", "rule", "--plot",
                     tmp_path / "f.png")
    assert_user_error(rc, err, "f.png: cannot be written (disk full)")
    assert list(tmp_path.iterdir()) == []


def test_odd_metre_and_tempo_warn_but_fuse(capsys, tmp_path, caplog):
    waltz = Piece([Track(np.array([[i * 480, 480, 72 + i % 5, 90] for i in range(24)]), name="MELODY")], tpq=480,
                  tempos=[Tempo(0, 60.0)], time_signatures=[TimeSignature(0, 3, 4)])
    write_midi(waltz, tmp_path / "waltz.mid")
    with caplog.at_level(logging.WARNING):
        rc, stdout, err = run(capsys, "fuse", tmp_path / "waltz.mid", ACC, "-o", tmp_path / "f.mid", "--method",
                              "rule")
    assert rc == 0, err
    assert "melody is in 3/4" in caplog.text and "very different tempi" in caplog.text
    assert read_midi(tmp_path / "f.mid").time_signatures[0][1:] == (3, 4)


def test_help_has_an_example(capsys):
    rc, stdout, _ = run(capsys, "fuse", "--help")
    assert rc == 0
    assert "Example:" in stdout and "collage fuse melody.mid accompaniment.mid -o fused.mid" in stdout


def test_score_formats_are_inputs_too(capsys, tmp_path):
    abc = tmp_path / "tune.abc"
    abc.write_text("X:1\nT:tune\nM:4/4\nL:1/4\nQ:1/4=100\nK:G\nG A B c | d2 B2 | c B A G | A4 |\n")
    rc, stdout, err = run(capsys, "fuse", abc, ACC, "-o", tmp_path / "f.mid", "--method", "rule")
    assert rc == 0, err
    fused = read_midi(tmp_path / "f.mid")
    assert fused.track_names == ["MELODY", "ACCOMPANIMENT"] and "melody looped 2x" in stdout


def test_fuse_reports_the_harmony_judges_rating(capsys, tmp_path):
    import re

    out = tmp_path / "fused.mid"
    rc, stdout, err = run(capsys, "fuse", MEL, ACC, "-o", out, "--method", "rule")
    assert rc == 0, err
    m = re.search(r"harmony judge: (\d+)% of 7 windows rated harmonic \(the inputs after key alignment: (\d+)%\)", stdout)
    assert m, stdout
    rc, stdout, err = run(capsys, "fuse", MEL, ACC, "-o", out, "--method", "rule", "--no-key-align", "--json")
    h = json.loads(stdout)["harmony"]
    assert h["windows"] == 7 and 0 <= h["input"] <= 1 and 0 <= h["output"] <= 1
    assert h["input"] < 0.5  # Ode to Joy in D over a C-major progression, untransposed, clashes
    assert "hint:" not in stdout


class _FixedJudge:
    """A harmony judge whose ratings are known: ``p_in`` for every input window, ``p_out`` for every output one.

    :func:`collage.fusion.vertical.fuse` rates the input windows first, then the output windows.
    """

    def __init__(self, p_in: float, p_out: float):
        self.calls = []
        self.p = [p_in, p_out]

    def score(self, melodies, accompaniments):
        self.calls.append(len(melodies))
        return np.full(len(melodies), self.p[len(self.calls) - 1])


@pytest.mark.parametrize("p_in,p_out,args,hint", [
    (0.9, 0.1, ["--method", "collagenet", "--iterations", "3"], True),   # the inputs fit, the fusion does not
    (0.1, 0.9, ["--method", "collagenet", "--iterations", "3"], False),  # the fusion fits better: nothing to suggest
    (0.9, 0.1, ["--method", "collagenet", "--iterations", "1"], False),  # already one pass
    (0.9, 0.1, ["--method", "rule"], False),   # only CollageNet's own setting is hinted at
])
def test_fuse_hint_follows_the_judge(capsys, tmp_path, monkeypatch, tiny_models, p_in, p_out, args, hint):
    from collage.fusion import vertical

    judge = _FixedJudge(p_in, p_out)
    monkeypatch.setattr(vertical, "_resolve_judge", lambda j: judge if j else None)
    rc, stdout, err = run(capsys, "fuse", MEL, ACC, "-o", tmp_path / "f.mid", *args)
    assert rc == 0, err
    assert judge.calls == [7, 7]  # the 7 windows where both inputs have notes, rated before and after
    share = {0.9: "100%", 0.1: "0%"}  # every window rated above 0.5, or none
    rated = f"harmony judge: {share[p_out]} of 7 windows rated harmonic (the inputs after key alignment: {share[p_in]})"
    assert rated in stdout, stdout
    assert ("hint: the inputs already fit better than the fusion; --iterations 1" in stdout) == hint, stdout


def test_fuse_reports_what_the_library_rates(capsys, tmp_path):
    """The CLI's rating line is the library's own rating of the same fusion (the shipped judge and models)."""
    from collage.fusion.vertical import fuse

    result = fuse(MEL, ACC, judge=True)
    h = result.harmony
    rc, stdout, err = run(capsys, "fuse", MEL, ACC, "-o", tmp_path / "f.mid")
    assert rc == 0, err
    assert (f"harmony judge: {h['output']:.0%} of {h['windows']} windows rated harmonic "
            f"(the inputs after key alignment: {h['input']:.0%})") in stdout
    assert result.method == "revoice"  # the default
    assert "hint:" not in stdout  # only CollageNet's own setting is hinted at

"""``collage generate`` end to end with tiny random weights; bad input is one line, exit 2, nothing written."""

import json

import numpy as np
import pytest
from cli_helpers import assert_user_error, run

from collage.cli import generate as cli_generate
from collage.generation import MAX_BEATS
from collage.io import read, write_midi
from collage.piece import Piece, Track
from collage.pretrained import save_pretrained, tiny_model
from collage.represent.mmt import INSTRUMENTS


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    d = tmp_path_factory.mktemp("w")
    return str(save_pretrained(tiny_model("mmt"), "mmt_tiny", d))


@pytest.fixture
def prompt(tmp_path):
    p = tmp_path / "prompt.mid"
    mel = [[b * 480, 480, 72 + b % 5, 90] for b in range(16)]
    write_midi(Piece([Track(np.array(mel), name="MELODY")]), p)
    return p


def test_max_beats_spelled_once():
    assert cli_generate.MAX_BEATS == MAX_BEATS


def test_list_instruments(capsys):
    rc, out, err = run(capsys, "generate", "--list-instruments")
    assert rc == 0 and out.split() == list(INSTRUMENTS)
    rc, out, _ = run(capsys, "generate", "--list-instruments", "--json")
    assert json.loads(out)["instruments"] == list(INSTRUMENTS)


def test_instrument_informed_json(capsys, tmp_path, weights):
    out_mid = tmp_path / "trio.mid"
    rc, out, err = run(capsys, "generate", "--instruments", "violin,viola,cello", "--beats", "200", "--seed", "2",
                       "--model", weights, "-o", out_mid, "--json")
    assert rc == 0, err
    s = json.loads(out)
    assert s["mode"] == "instrument-informed" and s["outputs"] == [str(out_mid)]
    assert [t["name"] for t in s["tracks"]] == ["violin", "viola", "cello"]
    assert read(out_mid).n_notes == s["n_notes"]


def test_continue_with_plot(capsys, tmp_path, weights, prompt):
    out_mid, png = tmp_path / "more.mid", tmp_path / "more.png"
    rc, out, err = run(capsys, "generate", "--continue", prompt, "--prompt-beats", "8", "--beats", "64",
                       "--model", weights, "-o", out_mid, "--plot", png, "--top-k", "5",
                       "--temperature", "0.9,pitch=0.7")
    assert rc == 0, err
    assert "generated (continuation, seed 0)" in out and out_mid.exists() and png.stat().st_size > 0
    got = read(out_mid)
    assert got.track("MELODY").notes[:8, 2].tolist() == [72 + b % 5 for b in range(8)]


@pytest.mark.parametrize("args,needles", [
    (["--instruments", "violin,kazoo"], ["given instrument 'kazoo'", "supported: melody"]),
    (["--beats", "0"], ["given --beats 0", f"1..{MAX_BEATS}"]),
    (["--beats", str(MAX_BEATS + 1)], [f"given --beats {MAX_BEATS + 1}"]),
    (["--prompt-beats", "4"], ["--prompt-beats without --continue"]),
    (["--top-k", "abc"], ["given --top-k 'abc'"]),
    (["--temperature", "-1"], ["given --temperature '-1'", "finite number >= 0"]),
    (["--temperature", "pitch=hot"], ["given --temperature 'pitch=hot'", "FIELD=number", "fields: type, beat"]),
    (["--temperature", "pich=0.7"], ["unknown field 'pich'"]),
    (["-o", "x.wav"], ["-o/--output"]),
])
def test_bad_options(capsys, tmp_path, weights, args, needles, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, out, err = run(capsys, "generate", "--model", weights, *args)
    assert_user_error(rc, err, *needles)
    assert list(tmp_path.iterdir()) == []


def test_bad_prompts(capsys, tmp_path, weights):
    out_mid = tmp_path / "o.mid"
    corrupt = tmp_path / "bad.mid"
    corrupt.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    rc, _, err = run(capsys, "generate", "--continue", corrupt, "--model", weights, "-o", out_mid)
    assert_user_error(rc, err, "bad.mid")
    empty = tmp_path / "empty.mid"
    write_midi(Piece([Track(np.zeros((0, 4)), name="x")]), empty)
    rc, _, err = run(capsys, "generate", "--continue", empty, "--model", weights, "-o", out_mid)
    assert_user_error(rc, err, "empty.mid")
    missing = tmp_path / "nope.mid"
    rc, _, err = run(capsys, "generate", "--continue", missing, "--model", weights, "-o", out_mid)
    assert_user_error(rc, err, "nope.mid")
    assert not out_mid.exists()

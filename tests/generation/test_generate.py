"""collage.generate (collage.generation.generate) with a tiny random-weight model: the three modes, constraints, sliding window, bad input."""

import numpy as np
import pytest
import torch

from collage.errors import InvalidMidiError, ParameterError
from collage.generation import MAX_BEATS, generate, list_instruments
from collage.generation.sampling import sample_codes, top_k_for
from collage.io import write_midi
from collage.piece import Piece, Tempo, Track
from collage.pretrained import tiny_model
from collage.represent import mmt as rep


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    return tiny_model("mmt")


def _prompt(beats=8, tpq=480):
    mel = [[b * tpq, tpq, 72 + (b % 5), 90] for b in range(beats)]
    acc = [[b * tpq, 2 * tpq, 48 + (b % 3), 70] for b in range(0, beats, 2)]
    return Piece([Track(np.array(mel), name="MELODY"), Track(np.array(acc), name="ACCOMPANIMENT")], tpq=tpq,
                 tempos=[Tempo(0, 100.0)])


def _check_sorted(codes):
    rep.validate_codes(codes)
    notes = codes[codes[:, rep.TYPE] == rep.NOTE]
    key = notes[:, rep.BEAT] * 100 + notes[:, rep.POSITION]
    assert (np.diff(key) >= 0).all()  # beat, then position within the beat, never go back


def test_list_instruments():
    names = list_instruments()
    assert names[:3] == ["melody", "counter-melody", "piano"]
    assert {"soprano", "alto", "tenor", "bass", "violin", "viola", "cello"} <= set(names)


@pytest.mark.parametrize("top_k,size,k", [(0.1, 129, 13), (0.1, 5, 1), (5, 129, 5), (500, 13, 13)])
def test_top_k_for(top_k, size, k):
    assert top_k_for(top_k, size) == k


def test_unconditioned_is_sorted_and_seeded(model):
    start = np.array([[rep.SOS, 0, 0, 0, 0, 0]])
    a = sample_codes(model, start, end_beat=100, max_notes=300, seed=3)
    b = sample_codes(model, start, end_beat=100, max_notes=300, seed=3)
    c = sample_codes(model, start, end_beat=100, max_notes=300, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    _check_sorted(a)
    types = a[:, rep.TYPE]
    assert types[0] == rep.SOS and (types == rep.SON).sum() == 1
    head = a[types == rep.INSTRUMENT_EVENT, rep.INSTRUMENT]
    assert len(head) >= 1 and (np.diff(head) > 0).all()
    notes = a[types == rep.NOTE]
    assert set(notes[:, rep.INSTRUMENT]) <= set(head)  # notes only for declared instruments
    assert (notes[:, 1:] > 0).all() and (notes[:, rep.BEAT] - 1 < 100).all()


def test_sliding_window_beyond_the_model_window(model):
    # the tiny model sees 64 events and 64 beats; ask for more of both
    codes = sample_codes(model, rep.header(["piano", "violin"]), end_beat=5000, max_notes=150, seed=0)
    _check_sorted(codes)
    notes = codes[codes[:, rep.TYPE] == rep.NOTE]
    assert len(notes) == 150 > model.config.max_seq_len
    assert notes[:, rep.BEAT].max() - 1 > model.config.max_beat


def test_instrument_informed(model):
    piece = generate(instruments="violin,viola,cello", beats=200, seed=1, model=model)
    assert [t.name for t in piece.tracks] == ["violin", "viola", "cello"]
    assert piece.n_notes > 0 and piece.end_tick / piece.tpq <= 200 + 384 / 12
    assert max(int(t.onsets.max(initial=0)) for t in piece.tracks) < 200 * piece.tpq
    assert [t.program for t in piece.tracks] == [40, 41, 42]


def test_continuation_keeps_the_prompt(model):
    prompt = _prompt(beats=16)
    out = generate(prompt=prompt, prompt_beats=8, beats=100, seed=0, model=model, instruments=["cello"])
    assert [t.name for t in out.tracks][:2] == ["MELODY", "ACCOMPANIMENT"]
    assert out.tempos[0].qpm == 100.0
    for orig, new in zip(prompt.tracks, out.tracks):
        kept = orig.notes[orig.onsets < 8 * prompt.tpq]
        before = new.notes[new.onsets < 8 * prompt.tpq]
        assert np.array_equal(before, kept)  # the prompt's first 8 beats, unchanged; nothing new before beat 8
    assert out.n_notes > sum(int((t.onsets < 8 * prompt.tpq).sum()) for t in prompt.tracks)
    assert max(int(t.onsets.max()) for t in out.tracks if len(t)) < (8 + 100) * prompt.tpq


def test_continuation_from_a_file(model, tmp_path):
    path = tmp_path / "p.mid"
    write_midi(_prompt(), path)
    out = generate(prompt=str(path), beats=32, seed=0, model=model)
    assert out.n_notes >= _prompt().n_notes


@pytest.mark.parametrize("kwargs,match", [
    ({"instruments": "violin,kazoo"}, "given instrument 'kazoo'; supported: melody"),
    ({"beats": 0}, r"given beats=0; expected a whole number of beats in 1\.\.1024"),
    ({"beats": MAX_BEATS + 1}, "given beats=1025"),
    ({"beats": 2.5}, "given beats=2.5"),
    ({"prompt_beats": 4}, "without a prompt"),
    ({"temperature": -1.0}, "given temperature=-1.0"),
    ({"top_k": 0}, "given top_k=0"),
    ({"prompt": 3}, "expected a Piece or a file path"),
])
def test_bad_arguments(model, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        generate(model=model, **kwargs)


def test_bad_prompts(model, tmp_path):
    corrupt = tmp_path / "bad.mid"
    corrupt.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    with pytest.raises(InvalidMidiError, match="bad.mid"):
        generate(prompt=str(corrupt), model=model)
    empty = Piece([Track(np.zeros((0, 4)), name="x")])
    with pytest.raises(InvalidMidiError, match="no pitched notes"):
        generate(prompt=empty, model=model)
    late = Piece([Track(np.array([[20 * 480, 480, 60, 80]]), name="piano")])
    with pytest.raises(InvalidMidiError, match="no notes in its first 4 beats"):
        generate(prompt=late, prompt_beats=4, model=model)


def test_silences_are_limited_to_max_gap_beats(model):
    codes = sample_codes(model, rep.header(["piano"]), end_beat=300, max_notes=300, seed=5, max_gap_beats=3)
    beats = codes[codes[:, rep.TYPE] == rep.NOTE][:, rep.BEAT]
    assert len(beats) > 20 and np.diff(beats).max() <= 3 and beats[0] - 1 <= 3
    free = sample_codes(model, rep.header(["piano"]), end_beat=300, max_notes=300, seed=5, max_gap_beats=None)
    fb = free[free[:, rep.TYPE] == rep.NOTE][:, rep.BEAT]
    assert len(fb) < len(beats)  # without the limit a random model jumps ahead and reaches the end sooner

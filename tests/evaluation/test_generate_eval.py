"""The generation evaluation's pieces: copy detection, prompt repeats, pitch-class distance, a tiny end to end run."""

import numpy as np
import pytest

from collage.evaluation import generate as ev
from collage.pretrained import tiny_model
from collage.represent import mmt as rep


def _notes(rows):
    """rows: (onset in positions, pitch, duration index 0-based, instrument index 0-based)."""
    rows = sorted(rows)
    return np.array([[rep.NOTE, o // rep.RESOLUTION + 1, o % rep.RESOLUTION + 1, p + 1, d + 1, i + 1]
                     for o, p, d, i in rows], dtype=np.int64).reshape(-1, 6)


def _random_piece(rng, n, start=0):
    on = start + np.cumsum(rng.integers(1, 13, size=n))
    return _notes(list(zip(on.tolist(), rng.integers(40, 90, size=n).tolist(), rng.integers(0, 10, size=n).tolist(),
                           rng.integers(0, 3, size=n).tolist())))


def test_copy_index_finds_a_transposed_shifted_copy():
    rng = np.random.default_rng(0)
    train = [_random_piece(rng, 200) for _ in range(5)]
    index = ev.CopyIndex(train)
    # a sample whose notes 10..49 are notes 100..139 of training piece 3, moved 7 beats later and up 2 semitones
    copied = train[3][100:140].copy()
    copied[:, rep.BEAT] += 7
    copied[:, rep.PITCH] += 2
    head = _random_piece(np.random.default_rng(1), 10)
    shift = int(copied[0, rep.BEAT]) + 2 - int(head[-1, rep.BEAT])
    head[:, rep.BEAT] += shift - 4
    sample = np.concatenate([head, copied])
    n, span_beats = index.longest_run(sample)
    assert n >= 40  # the 40 copied notes (the interval into the copy may match by chance: 41)
    true_span = ((copied[-1, rep.BEAT] - copied[0, rep.BEAT]) * 12 + copied[-1, rep.POSITION] - copied[0, rep.POSITION]) / 12
    assert span_beats >= true_span - 1e-9
    fresh = _random_piece(np.random.default_rng(2), 100)
    assert index.longest_run(fresh)[0] < 6


def test_repeats_prompt_and_distance():
    prompt = _notes([(o * 12, 60 + o % 4, 9, 2) for o in range(16)])
    loop = prompt.copy()
    loop[:, rep.BEAT] += 16  # the same 16 beats again
    assert ev.repeats_prompt(loop, prompt)
    other = _notes([(o * 12, 70 + o % 5, 9, 2) for o in range(16)])
    assert not ev.repeats_prompt(other, prompt)
    assert ev.pitch_class_distance(prompt, loop) == 0.0
    assert 0.0 < ev.pitch_class_distance(prompt, other) <= 1.0
    assert np.isnan(ev.pitch_class_distance(prompt, prompt[:0]))


def test_mean_se():
    m, se, n = ev.mean_se([1.0, 2.0, 3.0, float("nan")])
    assert (m, n) == (2.0, 3) and se == pytest.approx(1 / np.sqrt(3))


def test_evaluate_generate_tiny_end_to_end():
    rng = np.random.default_rng(0)
    pieces = [_random_piece(rng, 300) for _ in range(4)]
    arrays = {"codes": np.concatenate(pieces), "ptr": np.cumsum([0] + [len(p) for p in pieces]),
              "ids": np.array([f"p{i}" for i in range(4)])}
    r = ev.evaluate_generate(tiny_model("mmt"), n_samples=3, beats=32, n_continuations=2, prompt_beats=8,
                             continue_beats=16, train_arrays=arrays, test_arrays=arrays)
    assert set(r["perplexity"]) >= set(rep.FIELDS)
    assert r["objective"]["samples"]["pitch_class_entropy"]["n"] <= 3
    assert r["copying"]["n"] == 3
    assert r["continuation"]["n"] == 2
    md = ev.to_markdown(r)
    assert "Table 3.3" in md and "Not copied" in md and "Continuation" in md


def test_eval_generate_command_writes_reports(capsys, tmp_path, monkeypatch):
    import json

    from cli_helpers import run

    import collage.datasets.mmt as data
    from collage.pretrained import save_pretrained

    rng = np.random.default_rng(0)
    pieces = [_random_piece(rng, 300) for _ in range(3)]
    arrays = {"codes": np.concatenate(pieces), "ptr": np.cumsum([0] + [len(p) for p in pieces]),
              "ids": np.array([f"pop909/{i:03d}" for i in range(3)])}
    monkeypatch.setattr(ev, "mmt_arrays", lambda split, **kw: arrays)
    monkeypatch.setattr(data, "mmt_arrays", lambda split, **kw: arrays)
    weights = save_pretrained(tiny_model("mmt"), "mmt_tiny", tmp_path)
    out, listen = tmp_path / "results", tmp_path / "listen"
    rc, stdout, err = run(capsys, "eval", "generate", "--model", weights, "--samples", "2", "--beats", "16",
                          "--continuations", "1", "--out-dir", out, "--listen-dir", listen, "--json")
    assert rc == 0, err
    res = json.loads(stdout)
    assert res["model"]["n_parameters"] == sum(p.numel() for p in tiny_model("mmt").parameters())
    assert (out / "generate.md").read_text().startswith("# Generation with the Multitrack Music Transformer")
    assert json.loads((out / "generate.json").read_text())["settings"]["n_samples"] == 2
    assert len(list((listen / "unconditioned").glob("*.mid"))) == 10
    assert len(list((listen / "instruments").glob("*.png"))) == 10
    assert len(list((listen / "continuation").glob("*.mid"))) == 3  # only 3 test pieces here

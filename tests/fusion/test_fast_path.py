"""The fast fusion path gives the notes the torch path gives.

``collage fuse`` runs the NumPy models (collage.models.inference), remembers the encodings of the inputs
it last fused, decodes only what is read (not a track whose controls are all 1, not a silent window, not
the steps past what stitching reads), and imports no torch. Each of these must leave the output as it was.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from collage import examples
from collage.fusion import vertical
from collage.fusion.vertical import FusionModels, fuse, fuse_windows
from collage.models.inference import load_inference
from collage.pretrained import load_pretrained

torch.set_num_threads(1)

SETTINGS = [
    {},
    {"keep_pitch": 0.0, "keep_rhythm": 0.0, "keep_chord": 0.0, "keep_texture": 0.0},
    {"keep_pitch": 0.2, "keep_rhythm": 0.9, "keep_chord": 0.7, "keep_texture": 0.3},
    {"keep_rhythm": 1.0},
    {"keep_pitch": 1.0},
    {"keep_pitch": 1.0, "keep_rhythm": 1.0},
    {"keep_chord": 1.0, "keep_texture": 1.0},
    {"keep_pitch": 1.0, "keep_rhythm": 1.0, "keep_chord": 1.0, "keep_texture": 1.0},
]


@pytest.fixture(scope="module")
def engines():
    return {"torch": (FusionModels.load(engine="torch"), load_pretrained("harmony_judge")),
            "numpy": (FusionModels.load(), load_inference("harmony_judge"))}


@pytest.fixture(scope="module")
def example_pair():
    return examples.load("melody"), examples.load("accompaniment")


def _notes(result):
    return [t.notes.tolist() for t in result.piece.tracks]


@pytest.mark.parametrize("controls", SETTINGS)
def test_numpy_and_torch_fuse_the_bundled_examples_to_the_same_notes(engines, example_pair, controls):
    mel, acc = example_pair
    a = fuse(mel, acc, method="collagenet", models=engines["torch"][0], judge=engines["torch"][1], **controls)
    b = fuse(mel, acc, method="collagenet", models=engines["numpy"][0], judge=engines["numpy"][1], **controls)
    assert _notes(a) == _notes(b)
    assert a.harmony == b.harmony  # the rating and every window's probability (4 decimals)


@pytest.mark.pop909
def test_numpy_and_torch_fuse_pop909_val_pairs_to_the_same_notes(engines, pop909_root):
    from collage.datasets.pop909 import disharmonic_pairs, pop909_segments
    from collage.training.latents import segment_chords

    segs = pop909_segments("val", grid="beats", root=pop909_root)
    pairs = disharmonic_pairs(segs, 200, 3)
    mels = [segs.melody(int(i)) for i in pairs[:, 0]]
    accs = [segs.accomp(int(j)) for j in pairs[:, 1]]
    chords = segment_chords(segs, pairs[:, 1])
    for ctl in ({"pitch": 0.5, "rhythm": 0.5, "chord": 0.5, "texture": 0.5},
                {"pitch": 0.0, "rhythm": 0.2, "chord": 0.8, "texture": 0.3}):
        a = fuse_windows(mels, accs, controls=ctl, models=engines["torch"][0], chords=chords)
        b = fuse_windows(mels, accs, controls=ctl, models=engines["numpy"][0], chords=chords)
        for x, y in zip(a[0] + a[1], b[0] + b[1]):
            assert np.array_equal(x, y)


class Counting:
    """Wraps a NumPy model and counts calls of its methods."""

    def __init__(self, model):
        self.model, self.calls = model, {}
        self.engine, self.aspects, self.z_dim, self.config = model.engine, model.aspects, model.z_dim, model.config

    def __getattr__(self, name):
        method = getattr(self.model, name)

        def counted(*args, **kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            return method(*args, **kwargs)

        return counted


def test_refusing_the_same_inputs_reuses_their_encodings(engines, example_pair):
    mel, acc = example_pair
    base = engines["numpy"][0]
    mv, av = Counting(base.melody_vae), Counting(base.accomp_vae)
    models = FusionModels(mv, av, actor=base.actor)
    first = fuse(mel, acc, method="collagenet", models=models, keep_pitch=0.3)
    again = fuse(mel, acc, method="collagenet", models=models, keep_pitch=0.8)
    assert mv.calls == {"encode_mean": 1, "decode_tokens": 2} and av.calls == {"encode_mean": 1, "decode": 2}
    fresh = fuse(mel, acc, method="collagenet", models=FusionModels(base.melody_vae, base.accomp_vae, base.actor), keep_pitch=0.8)
    assert _notes(again) == _notes(fresh) and _notes(first) != _notes(again)
    # other inputs (here: the accompaniment a tone lower) are encoded; the cache stays small
    for k in range(1, 2 * vertical.ENCODINGS_KEPT):
        fuse(mel, acc.transpose(-k), method="collagenet", models=models, key_align=False)
    assert mv.calls["encode_mean"] == 1 and av.calls["encode_mean"] == 1 + 2 * vertical.ENCODINGS_KEPT - 1
    assert len(models._encodings) <= 2 * vertical.ENCODINGS_KEPT
    # torch models are not cached (a training loop may change them in place)
    tm = engines["torch"][0]
    fuse(mel, acc, method="collagenet", models=tm)
    assert not tm._encodings


def test_the_key_and_chords_of_unchanged_inputs_are_not_estimated_again(engines, example_pair, monkeypatch):
    mel, acc = example_pair
    calls = {"chords": 0, "key": 0}

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(vertical, "estimate_chords", counted("chords", vertical.estimate_chords))
    monkeypatch.setattr(vertical, "_best_shift", counted("key", vertical._best_shift))
    vertical._REMEMBERED.clear()
    a = fuse(mel, acc, method="collagenet", models=engines["numpy"][0], keep_chord=0.2)
    a.key_scores.clear()  # the caller's copy: the remembered scores are not touched
    b = fuse(mel, acc, method="collagenet", models=engines["numpy"][0], keep_chord=0.9)
    assert calls == {"chords": 1, "key": 1} and b.key_scores and b.key_shift == a.key_shift
    fuse(mel, acc.transpose(1), method="collagenet", models=engines["numpy"][0])  # other notes; aligned, the same as before
    assert calls == {"chords": 1, "key": 2}
    fuse(mel, acc.transpose(1), method="collagenet", models=engines["numpy"][0], key_align=False)  # other notes to fuse
    assert calls == {"chords": 2, "key": 2}


def test_a_track_kept_whole_is_not_decoded(engines, example_pair):
    mel, acc = example_pair
    base = engines["numpy"][0]
    for controls, melody_decoded, accomp_decoded in (
        ({"keep_pitch": 1.0, "keep_rhythm": 1.0}, False, True),
        ({"keep_chord": 1.0, "keep_texture": 1.0}, True, False),
        ({"keep_pitch": 1.0, "keep_rhythm": 1.0, "keep_chord": 1.0, "keep_texture": 1.0}, False, False),
        ({"keep_rhythm": 1.0, "keep_texture": 1.0}, True, True),
    ):
        mv, av = Counting(base.melody_vae), Counting(base.accomp_vae)
        res = fuse(mel, acc, method="collagenet", models=FusionModels(mv, av, actor=base.actor), **controls)
        assert ("decode_tokens" in mv.calls) == melody_decoded and ("decode" in av.calls) == accomp_decoded
        if not (melody_decoded or accomp_decoded):
            assert not mv.calls and not av.calls  # nothing to decode: no model runs
        assert _notes(res) == _notes(fuse(mel, acc, method="collagenet", models=engines["torch"][0], **controls))


@pytest.mark.parametrize("hop_beats", [1, 2, 3, 4, 6, 8])
def test_decoding_only_the_steps_stitching_reads_changes_nothing(engines, example_pair, monkeypatch, hop_beats):
    mel, acc = example_pair
    models = engines["numpy"][0]
    short = fuse(mel, acc, method="collagenet", models=models, hop_beats=hop_beats, keep_pitch=0.1, keep_texture=0.2)
    plan = vertical.W.plan_windows(short.n_steps, hop=hop_beats * 4)
    assert vertical._steps_read(plan).max() <= 32 and (vertical._steps_read(plan) < 32).any() == (hop_beats < 8)
    monkeypatch.setattr(vertical, "_steps_read", lambda plan: np.full(plan.n_windows, plan.length))
    full = fuse(mel, acc, method="collagenet", models=FusionModels(models.melody_vae, models.accomp_vae, models.actor),
                hop_beats=hop_beats, keep_pitch=0.1, keep_texture=0.2)
    assert _notes(short) == _notes(full)


def test_collage_fuse_imports_no_torch(tmp_path):
    code = ("import sys\nfrom collage.cli import main\n"
            f"code = main(['fuse', {str(examples.path('melody'))!r}, {str(examples.path('accompaniment'))!r}, "
            f"'-o', {str(tmp_path / 'out.mid')!r}, '--json'])\n"
            "print(code, 'torch' in sys.modules, file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().splitlines()[-1] == "0 False"
    assert (tmp_path / "out.mid").is_file() and '"harmony"' in out.stdout


def test_the_gradient_baseline_gives_the_same_notes_with_numpy_vaes(engines, example_pair):
    mel, acc = example_pair
    torch_models, numpy_models = engines["torch"][0], engines["numpy"][0]
    critic = load_pretrained("latent_critic_pretrained")
    a = fuse(mel, acc, method="gradient", models=FusionModels(torch_models.melody_vae, torch_models.accomp_vae,
                                                              critic=critic))
    b = fuse(mel, acc, method="gradient", models=FusionModels(numpy_models.melody_vae, numpy_models.accomp_vae,
                                                              critic=critic))
    assert _notes(a) == _notes(b)


def test_decoded_windows_become_notes_as_the_one_window_functions_make_them(engines):
    from collage.fusion.windows import trim_notes
    from collage.represent.accompaniment import durmat_to_notes
    from collage.represent.melody import tokens_to_notes

    rng = np.random.default_rng(0)
    tokens = rng.choice([60, 64, 67, 128, 128, 128, 129, 129], size=(40, 32))  # onsets, holds, rests
    tokens[:, 0] = rng.choice([128, 129, 62], size=40)  # a hold with nothing to hold ignored
    models = engines["numpy"][0]
    z = rng.standard_normal((6, models.accomp_vae.z_dim)).astype(np.float32)
    tokens = np.concatenate([tokens, models.melody_vae.decode_tokens(z)])
    prmat = np.concatenate([models.accomp_vae.decode(z), rng.integers(0, 40, (3, 32, 128)) * (rng.random((3, 32, 128)) < 0.05)])
    for got, want in zip(vertical._token_notes(tokens), [tokens_to_notes(t) for t in tokens]):
        assert got.tolist() == want.tolist()
    for got, m in zip(vertical._durmat_notes(prmat), prmat):
        assert got.tolist() == trim_notes(durmat_to_notes(m), 32).tolist()

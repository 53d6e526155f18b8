"""The `collage fuse` pipeline end to end: identity models, tiny models, the rule method, bad input."""

import logging

import numpy as np
import pytest
import torch

from collage import examples
from collage.errors import InvalidMidiError, ModelLoadingError, ParameterError
from collage.fusion.vertical import FusionModels, fuse
from collage.piece import Piece, Tempo, TimeSignature, Track
from collage.represent.grid import TickGrid, quantize

torch.set_num_threads(1)


class IdentityMelodyVAE(torch.nn.Module):
    """Latent = the flattened one-hot: decoding gives back exactly what was encoded."""

    z_dim = 32 * 130
    aspects = {"pitch": slice(0, 2080), "rhythm": slice(2080, 4160)}
    calls = 0

    def encode(self, x):  # (B, 32, 130)
        type(self).calls += 1
        return x.flatten(1), torch.ones(x.shape[0], self.z_dim)

    def decode_tokens(self, z):
        return z.view(-1, 32, 130).argmax(-1)  # (B, 32)


class IdentityAccompVAE(torch.nn.Module):
    z_dim = 32 * 128
    aspects = {"chord": slice(0, 2048), "texture": slice(2048, 4096)}

    def encode(self, chord, prmat):  # (B, 8, 36), (B, 32, 128)
        assert chord.shape[1:] == (8, 36)
        return prmat.flatten(1), torch.ones(prmat.shape[0], self.z_dim)

    def decode(self, z):
        return z.view(-1, 32, 128).round().long()  # (B, 32, 128)


def identity_models():
    return FusionModels(IdentityMelodyVAE(), IdentityAccompVAE(), actor=lambda a, b, c: (a, b))


def piece(rows, *, name, tpq=480, qpm=100.0, ts=(4, 4), program=0, tempos=None):
    return Piece([Track(np.array(rows), name=name, program=program)], tpq=tpq,
                 tempos=tempos or [Tempo(0, qpm)], time_signatures=[TimeSignature(0, *ts)])


def melody_rows(n_bars, tpq=480, start_bar=0):
    rng = np.random.default_rng(n_bars)
    rows, t, end = [], start_bar * 4 * tpq, (start_bar + n_bars) * 4 * tpq
    while t < end:
        dur = min(int(rng.choice([1, 2, 3, 4, 6])) * tpq // 2, end - t)
        rows.append([t, dur, int(rng.integers(64, 80)), 90])
        t += dur + int(rng.choice([0, 0, tpq // 2]))
    return rows


def accomp_rows(n_bars, tpq=480):
    rows = []
    for bar in range(n_bars):
        root = [48, 45, 41, 43][bar % 4]
        rows.append([bar * 4 * tpq, 4 * tpq, root - 12, 70])
        for beat in range(4):
            for iv in (0, 4, 7):
                rows.append([bar * 4 * tpq + beat * tpq, tpq // 2, root + iv + 12, 60])
    return rows


def steps(track, tpq):
    return quantize(track.notes, TickGrid(tpq))


def test_identity_models_give_back_the_inputs_at_any_length():
    mel = piece(melody_rows(10), name="MELODY", tpq=480, program=73)  # 10 bars
    acc = piece(accomp_rows(3, tpq=96), name="PIANO", tpq=96, qpm=90)  # 3 bars, other tpq and tempo: looped
    IdentityMelodyVAE.calls = 0
    res = fuse(mel, acc, method="collagenet", models=identity_models(), key_align=False)
    assert IdentityMelodyVAE.calls == 1  # all windows in one batch
    assert res.n_steps == 160 and res.n_windows == 9 and res.fit["looped"] == "accompaniment"
    out = res.piece
    assert out.track_names == ["MELODY", "ACCOMPANIMENT"] and out.tpq == 480
    assert out.tempos == [Tempo(0, 100.0)] and [t.program for t in out.tracks] == [73, 0]
    assert steps(out.tracks[0], 480).tolist() == steps(mel.tracks[0], 480).tolist()
    want_acc = steps(acc.tracks[0], 96)
    want_acc = np.concatenate([want_acc + [48 * k, 0, 0, 0] for k in range(4)])
    want_acc = want_acc[want_acc[:, 0] < 160]
    want_acc[:, 1] = np.minimum(want_acc[:, 0] + want_acc[:, 1], 160) - want_acc[:, 0]
    want_acc = want_acc[np.lexsort((want_acc[:, 2], want_acc[:, 0]))]
    assert steps(out.tracks[1], 480).tolist() == want_acc.tolist()


@pytest.mark.parametrize("hop", [1, 3, 8])
def test_identity_models_with_other_hops_and_trim(hop):
    mel = piece(melody_rows(6), name="MELODY")
    acc = piece(accomp_rows(9), name="PIANO")
    res = fuse(mel, acc, method="collagenet", models=identity_models(), key_align=False, fit="trim", hop_beats=hop)
    assert res.fit["trimmed"] == "accompaniment" and res.n_steps == 96 and res.hop_steps == 4 * hop
    assert steps(res.piece.tracks[0], 480).tolist() == steps(mel.tracks[0], 480).tolist()
    assert len(res.piece.tracks[1]) == sum(1 for r in accomp_rows(6))


def test_rule_method_on_the_bundled_examples():
    res = fuse(examples.path("melody"), examples.path("accompaniment"), method="rule", seed=0)
    assert res.key_shift == 2 and res.n_windows == 7 and res.n_steps == 128
    assert res.controls == {"pitch": None, "rhythm": None, "chord": None, "texture": None}
    acc_in = examples.load("accompaniment").tracks[0]
    fused_acc = res.piece.tracks[1]
    assert sorted(fused_acc.pitches.tolist()) == sorted((acc_in.pitches + 2).tolist())  # passed through, +2
    mel = res.piece.tracks[0]
    assert 25 <= len(mel) <= 30 and (mel.onsets[1:] >= mel.offsets[:-1]).all()
    assert res.piece.duration_s == pytest.approx(19.2)
    again = fuse(examples.path("melody"), examples.path("accompaniment"), method="rule", seed=0)
    assert (again.piece.tracks[0].notes == mel.notes).all()


@pytest.mark.parametrize("method", ["collagenet", "gradient"])
def test_tiny_models_run_the_whole_pipeline(method):
    models = FusionModels.tiny()
    res = fuse(examples.path("melody"), examples.path("accompaniment"), method=method, models=models,
               keep_pitch=1.0, keep_texture=0.0, gradient_options={"steps": 2})
    assert res.piece.track_names == ["MELODY", "ACCOMPANIMENT"]
    mel = res.piece.tracks[0]
    assert (mel.onsets[1:] >= mel.offsets[:-1]).all()  # still monophonic after stitching
    assert res.piece.end_tick <= 32 * 480
    if method == "collagenet":
        assert res.controls == {"pitch": 1.0, "rhythm": 0.5, "chord": 0.5, "texture": 0.0}


def test_the_actor_is_applied_iterations_times_defaulting_to_its_config():
    calls = []

    class CountingActor:
        config = type("C", (), {"iterations": 3})()

        def __call__(self, a, b, c):
            calls.append(c.shape)
            return a, b

    models = FusionModels(IdentityMelodyVAE(), IdentityAccompVAE(), actor=CountingActor())
    mel, acc = piece(melody_rows(4), name="MELODY"), piece(accomp_rows(4), name="PIANO")
    res = fuse(mel, acc, method="collagenet", models=models, key_align=False)
    assert res.iterations == 3 and len(calls) == 3  # one batched call per application
    calls.clear()
    res = fuse(mel, acc, method="collagenet", models=models, key_align=False, iterations=1)
    assert res.iterations == 1 and len(calls) == 1
    assert fuse(mel, acc, method="rule").iterations is None
    assert fuse(mel, acc, method="collagenet", models=identity_models(), key_align=False).iterations == 1  # no config: one pass
    tiny = FusionModels.tiny()
    one = fuse(mel, acc, method="collagenet", models=tiny, key_align=False, iterations=1, keep_pitch=0.0, keep_rhythm=0.0)
    four = fuse(mel, acc, method="collagenet", models=tiny, key_align=False, iterations=4, keep_pitch=0.0, keep_rhythm=0.0)
    assert one.piece.tracks[0].notes.tolist() != four.piece.tracks[0].notes.tolist()
    with pytest.raises(ParameterError, match="given iterations=0"):
        fuse(mel, acc, method="collagenet", models=tiny, iterations=0)


def test_silent_melody_windows_stay_silent():
    rows = melody_rows(2) + melody_rows(2, start_bar=6)  # bars 3-6 silent
    mel = piece(rows, name="MELODY")
    acc = piece(accomp_rows(8), name="PIANO")
    res = fuse(mel, acc, method="collagenet", models=FusionModels.tiny(), key_align=False)
    assert res.silent_windows == {"melody": 3, "accompaniment": 0}  # windows at steps 32, 48, 64
    mel = steps(res.piece.tracks[0], 480)
    on, off = mel[:, 0], mel[:, 0] + mel[:, 1]
    assert not ((off > 40) & (on < 88)).any()  # nothing sounds in the steps those windows own


@pytest.mark.parametrize("name,value", [("keep_pitch", 1.5), ("keep_chord", -0.1), ("keep_texture", float("nan")),
                                        ("keep_rhythm", "lots")])
def test_controls_outside_0_1_are_refused(name, value):
    with pytest.raises(ParameterError, match=f"given {name}="):
        fuse(examples.path("melody"), examples.path("accompaniment"), method="rule", **{name: value})


def test_bad_arguments_and_inputs(tmp_path):
    mel, acc = examples.path("melody"), examples.path("accompaniment")
    with pytest.raises(ParameterError, match="given method='magic'"):
        fuse(mel, acc, method="magic")
    with pytest.raises(ParameterError, match="given hop_beats=9"):
        fuse(mel, acc, method="rule", hop_beats=9)
    with pytest.raises(ParameterError, match="given fit='stretch'"):
        fuse(mel, acc, method="rule", fit="stretch")
    with pytest.raises(ParameterError, match="given seed=-1"):
        fuse(mel, acc, method="rule", seed=-1)
    drums = Piece([Track(np.array([[0, 480, 36, 100]]), name="Drums", is_drum=True)], source="drums.mid")
    with pytest.raises(InvalidMidiError, match="drums.mid: has only drum notes"):
        fuse(drums, acc, method="rule")
    empty = Piece([Track(np.zeros((0, 4)), name="PIANO")], source="empty.mid")
    with pytest.raises(InvalidMidiError, match="empty.mid: has no notes"):
        fuse(mel, empty, method="rule")


def test_missing_weights_are_a_model_loading_error(tmp_path, monkeypatch):
    import collage.pretrained as pretrained

    monkeypatch.setattr(pretrained, "weights_dir", lambda: tmp_path)
    with pytest.raises(ModelLoadingError, match="no shipped weights named 'latent_actor'"):
        fuse(examples.path("melody"), examples.path("accompaniment"), method="collagenet")
    # the default method needs no weights (only the chord statistics beside the code)
    assert fuse(examples.path("melody"), examples.path("accompaniment")).method == "revoice"


def test_metre_tempo_and_polyphony_warnings(caplog):
    mel = piece(melody_rows(4) + [[0, 480, 60, 80]], name="MELODY", ts=(3, 4))  # a chord at the start
    acc = piece(accomp_rows(4), name="PIANO", qpm=200)
    with caplog.at_level(logging.WARNING):
        res = fuse(mel, acc, method="rule")
    text = caplog.text
    assert "melody is in 3/4" in text
    assert "very different tempi: melody 100 qpm, accompaniment 200 qpm" in text
    assert "melody is polyphonic: kept the highest note" in text
    assert res.piece.tempos == [Tempo(0, 100.0)]
    assert res.piece.time_signatures == [TimeSignature(0, 3, 4)]


def test_a_looped_melody_repeats_its_tempo_map():
    mel = piece(melody_rows(2), name="MELODY", tempos=[Tempo(0, 100.0), Tempo(1920, 80.0)])
    acc = piece(accomp_rows(4), name="PIANO")
    res = fuse(mel, acc, method="collagenet", models=identity_models(), key_align=False)
    assert res.fit["looped"] == "melody"
    assert res.piece.tempos == [Tempo(0, 100.0), Tempo(1920, 80.0), Tempo(3840, 100.0), Tempo(5760, 80.0)]


@pytest.mark.parametrize("method", ["collagenet", "gradient"])
def test_windows_go_through_the_models_in_batches_with_the_same_result(method):
    from collage.fusion.vertical import fuse_windows

    rng = np.random.default_rng(0)
    mel_w = [np.array([[s, 2, int(p), 90] for s, p in zip(range(0, 32, 4), rng.integers(60, 72, 8))]) for _ in range(7)]
    acc_w = [np.array([[s, 4, int(p), 64] for s in range(0, 32, 8) for p in rng.integers(48, 60, 3)]) for _ in range(7)]
    models = FusionModels.tiny()
    opts = {"steps": 2}
    whole = fuse_windows(mel_w, acc_w, method=method, models=models, gradient_options=opts)
    calls = []
    encode = models.melody_vae.encode
    models.melody_vae.encode = lambda x: (calls.append(len(x)), encode(x))[1]
    parts = fuse_windows(mel_w, acc_w, method=method, models=models, gradient_options=opts, batch_size=3)
    assert calls == [3, 3, 1]
    for a, b in zip(whole[0] + whole[1], parts[0] + parts[1]):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ParameterError, match="given batch_size=0"):
        fuse_windows(mel_w, acc_w, method=method, models=models, batch_size=0)


def test_a_judge_rates_the_windows_before_and_after():
    class StubJudge:
        """Harmonic when the melody window has an even number of notes (the identity models keep the rating)."""

        def __init__(self):
            self.calls = []

        def score(self, mels, accs):
            self.calls.append(len(mels))
            return np.array([1.0 if len(m) % 2 == 0 else 0.0 for m in mels])

    rows = melody_rows(2) + melody_rows(2, start_bar=6)  # bars 3-6 silent: 3 windows without melody
    mel, acc = piece(rows, name="MELODY"), piece(accomp_rows(8), name="PIANO")
    judge = StubJudge()
    res = fuse(mel, acc, method="collagenet", models=identity_models(), key_align=False, judge=judge)
    n = res.n_windows - res.silent_windows["melody"]
    assert judge.calls == [n, n]  # only windows where both inputs have notes
    assert res.harmony["windows"] == n and res.harmony["input"] == res.harmony["output"]  # identity: same notes
    assert 0.0 <= res.harmony["input"] <= 1.0
    assert fuse(mel, acc, method="collagenet", models=identity_models(), key_align=False).harmony is None
    with pytest.raises(ParameterError, match="given judge of type str"):
        fuse(mel, acc, method="collagenet", models=identity_models(), key_align=False, judge="yes")

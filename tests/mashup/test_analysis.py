"""Analysis (beats, downbeats, key), separation and checked audio loading on synthetic stems."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from collage.audio.analyze import (
    AnalysisError, analyze, analyze_stem, estimate_key, parse_key, to_mir_eval_key, tonal_part, track_beats,
)
from collage.audio.separate import SeparationUnavailable, available_backends, separate
from collage.errors import InvalidAudioError, ParameterError
from collage.io.audio import is_silent, load_audio

from .synth import BPM, SR, stems, true_beats


@pytest.fixture(scope="module")
def song():
    return stems(10.0)


def test_beats_tempo_and_downbeats_from_stems(song):
    import mir_eval

    a = analyze(sr=SR, **song)
    ref = true_beats(10.0)
    assert abs(a.tempo - BPM) < 3
    assert mir_eval.beat.f_measure(ref, a.beats) > 0.9
    assert a.key == "C:maj" and a.mode == "major" and a.tonic == 0
    assert np.allclose(a.downbeats[:2], ref[[0, 4]], atol=0.07)  # the kick + chord change phase


def test_key_from_the_context_beats_from_the_clip(song):
    """With a context (the clip's song), the key is the context's and the beats stay the clip's."""
    t = np.arange(len(song["harmonic"])) / SR
    g_major = sum(0.1 * np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * t) for p in (55, 59, 62, 67)).astype(np.float32)
    alone = analyze(sr=SR, **song)
    in_song = analyze(sr=SR, **song, context={"vocals": g_major, "harmonic": g_major})
    assert alone.key == "C:maj" and in_song.key == "G:maj"
    assert np.array_equal(alone.beats, in_song.beats) and np.array_equal(alone.downbeats, in_song.downbeats)
    assert analyze(sr=SR, **song, context={"mix": g_major}).key == "G:maj"  # a mix context: its HPSS harmonic part
    with pytest.raises(ParameterError, match="context"):
        analyze(sr=SR, **song, context={"drums": g_major})
    with pytest.raises(ParameterError, match="context"):
        analyze(sr=SR, **song, context={})


def test_each_stem_alone(song):
    p = analyze_stem(song["percussion"], SR, "percussion")
    assert p["key"] is None and p["tonic"] is None and abs(p["tempo"] - BPM) < 3 and len(p["beats"]) >= 12
    v = analyze_stem(song["vocals"], SR, "vocals")  # a note on every beat
    assert v["key"] == "C:maj" and abs(v["tempo"] - BPM) < 3 and set(v["downbeats"]) <= set(v["beats"])
    h = analyze_stem(song["harmonic"], SR, "harmonic")  # one chord a bar: too few onsets for a tempo
    assert h["key"] == "C:maj" and h["tempo"] is None and h["beats"] == []
    t = np.arange(len(song["harmonic"])) / SR
    pad = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    flat = analyze_stem(pad, SR, "vocals")  # a held tone: a key but no pulse; nothing raised
    assert flat["key"] is not None and flat["tempo"] is None and flat["beats"] == []
    g = analyze_stem(song["harmonic"], SR, "harmonic", context=(pad + 0 * t).astype(np.float32))
    assert g["key"] != h["key"] or g["key_strength"] != h["key_strength"]  # the key comes from the context
    with pytest.raises(ParameterError, match="role"):
        analyze_stem(pad, SR, "drums")


def test_tonal_part_is_the_pitched_stems(song):
    v, h, p = song["vocals"], song["harmonic"], song["percussion"]
    assert np.allclose(tonal_part(vocals=v, harmonic=h, percussion=p), v + h)
    assert np.allclose(tonal_part(mix=v + h + p, percussion=p), v + h, atol=1e-6)
    assert tonal_part(mix=v + h + p).shape == v.shape  # HPSS
    with pytest.raises(ParameterError):
        tonal_part()


def test_mix_alone_finds_the_tempo(song):
    tempo, beats = track_beats(song["vocals"] + song["harmonic"] + song["percussion"], SR)
    assert abs(tempo - BPM) < 3 and len(beats) >= 12


def test_key_transposes(song):
    y = song
    t = np.arange(len(y["harmonic"])) / SR
    assert estimate_key(y["harmonic"] + y["vocals"], SR)[:2] == (0, "major")
    shifted = np.zeros_like(t)  # the same chords a fifth up by resynthesis: G major
    for p in (55, 59, 62, 67):
        shifted += 0.1 * np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * t)
    assert estimate_key(shifted.astype(np.float32), SR)[:2] == (7, "major")


def test_sustained_tone_has_no_tempo():
    t = np.arange(8 * SR) / SR
    pad = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    with pytest.raises(AnalysisError, match="no beat"):
        track_beats(None, SR, percussion=pad)


def test_key_labels():
    assert parse_key("Gb:maj") == (6, "major") and parse_key("c# minor") == (1, "minor")
    assert to_mir_eval_key("Gb:maj") == "F# major"
    with pytest.raises(ParameterError, match="expected"):
        parse_key("H:dorian")


def test_classical_separation_partitions_the_mix(song):
    song = {r: y[: 6 * SR] for r, y in song.items()}
    mix = song["vocals"] + song["harmonic"] + song["percussion"]
    est = separate(mix, SR)
    assert set(est) == {"vocals", "harmonic", "percussion"} and all(len(v) == len(mix) for v in est.values())
    np.testing.assert_allclose(est["vocals"] + est["harmonic"] + est["percussion"], mix, atol=1e-3)
    # the percussion estimate is closer to the true drums than to the chords
    c = lambda a, b: float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))  # noqa: E731
    assert c(est["percussion"], song["percussion"]) > c(est["percussion"], song["harmonic"])


def test_demucs_never_downloads():
    why = available_backends()["demucs"]
    if why is None:
        pytest.skip("demucs and its weights are installed here")
    assert why.startswith("not available")
    with pytest.raises(SeparationUnavailable, match="not available"):
        separate(np.zeros(SR * 6, np.float32), SR, backend="demucs")


# -- loading ---------------------------------------------------------------------------------
def test_load_any_rate_and_channels(tmp_path, song):
    y = song["harmonic"]
    stereo = np.stack([y, y], axis=1)
    sf.write(tmp_path / "s.flac", stereo, SR)
    sf.write(tmp_path / "m.wav", y[::2], SR // 2)
    a = load_audio(tmp_path / "s.flac", sr=16000)
    b = load_audio(tmp_path / "m.wav", sr=SR)
    assert a.dtype == np.float32 and a.ndim == 1 and abs(len(a) - 16000 * len(y) / SR) <= 2
    assert abs(len(b) - len(y)) <= 2


@pytest.mark.parametrize("case, match", [
    ("text", "cannot be read as audio"), ("nan", "non-finite"), ("silent", "silent"), ("short", "long; expected at least 5"),
    ("missing", "no such file"),
])
def test_load_rejects_bad_audio(tmp_path, case, match):
    p = tmp_path / f"{case}.wav"
    if case == "text":
        p.write_text("not audio")
    elif case == "nan":
        y = np.full(6 * SR, 0.1, np.float32)
        y[100] = np.nan
        sf.write(p, y, SR, subtype="FLOAT")
    elif case == "silent":
        sf.write(p, np.zeros(6 * SR, np.float32), SR)
    elif case == "short":
        sf.write(p, 0.1 * np.ones(2 * SR, np.float32), SR)
    with pytest.raises(InvalidAudioError, match=match) as e:
        load_audio(p)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_is_silent_matches_what_the_loader_refuses(tmp_path):
    tiny = np.full(6 * SR, 1e-8, np.float32)  # -160 dBFS: rendering noise, not content (as in a rendered POP909 stem)
    assert is_silent(np.zeros(10)) and is_silent(tiny) and is_silent(np.zeros(0))
    assert not is_silent(0.01 * np.ones(10))
    sf.write(tmp_path / "tiny.wav", tiny, SR, subtype="FLOAT")
    with pytest.raises(InvalidAudioError, match="silent"):
        load_audio(tmp_path / "tiny.wav")


def _ballad(seconds: float = 16.0, bpm: float = 68.0, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    """A ballad groove (kick on beat 1 and the "and" of 3, a quiet side stick on 2 and 4, no hats):
    the kicks alternate 2.5 and 1.5 beats apart, a non-metrical period. Returns (audio, beats)."""
    from .synth import _burst

    rng = np.random.default_rng(1)
    beat = 60.0 / bpm
    y = np.zeros(int(seconds * sr))
    beats = np.arange(0.1, seconds - beat, beat)
    for k, b in enumerate(beats):
        hits = [("kick", 0.0)] if k % 4 == 0 else []
        hits += [("kick", 0.5)] if k % 4 == 2 else []
        hits += [("stick", 0.0)] if k % 2 == 1 else []
        for kind, off in hits:
            i = int((b + off * beat) * sr)
            m = min(int(0.25 * sr), len(y) - i)
            burst = _burst(m, sr, "kick" if kind == "kick" else "snare", rng)[:m]
            y[i:i + m] += burst * (1.0 if kind == "kick" else 0.15)
    return y.astype(np.float32), beats


def test_metrical_tempo_is_not_the_syncopation_period():
    import mir_eval

    y, ref = _ballad()
    tempo, beats = track_beats(None, SR, percussion=y)
    assert abs(np.log2(tempo / 68.0)) < 0.05 or abs(np.log2(tempo / 136.0)) < 0.05  # the beat or its double
    if abs(np.log2(tempo / 68.0)) < 0.05:
        assert mir_eval.beat.f_measure(ref, beats) > 0.8


def test_key_from_chroma_and_fold():
    from collage.audio.analyze import KEY_PROFILES, fold_chroma, key_from_chroma

    for name in KEY_PROFILES:
        for tonic in (0, 5, 9):
            for k, mode in enumerate(("major", "minor")):
                chroma = np.roll(np.asarray(KEY_PROFILES[name][k]), tonic)
                assert key_from_chroma(chroma, name)[:2] == (tonic, mode)
    octaves = np.zeros((7, 12))
    octaves[1, 0] = 100.0  # a loud bass C
    octaves[4, [4, 7]] = 1.0  # a quiet E and G
    flat, squashed = fold_chroma(octaves, 1.0), fold_chroma(octaves, 1 / 3)
    assert np.isclose(flat.sum(), 1) and np.isclose(squashed.sum(), 1)
    assert squashed[4] > flat[4]  # compression lifts the quiet register
    with pytest.raises(ParameterError, match="compression"):
        fold_chroma(octaves, 0)
    with pytest.raises(AnalysisError, match="no pitched"):
        key_from_chroma(np.ones(12))
    with pytest.raises(ParameterError, match="profile"):
        key_from_chroma(flat, "nope")


def _synthetic_key_clips(rng, n: int, bass: float = 0.0):
    """``(octaves (n, 7, 12) list, keys)``: the 12-bin profile in the middle octaves at a random tonic,
    major and minor alternating, plus ``bass`` on the tonic an octave above C1."""
    from collage.audio.analyze import KEY_PROFILES, key_name

    octs, keys = [], []
    for k in range(n):
        tonic, mode = int(rng.integers(12)), ("major", "minor")[k % 2]
        o = rng.uniform(0.0, 0.05, (7, 12))
        o[3:6] += np.roll(np.asarray(KEY_PROFILES["pop909"][k % 2]), tonic)
        o[1, tonic] += bass
        octs.append(o)
        keys.append(key_name(tonic, mode))
    return octs, keys


def test_learned_octave_profile_is_transposition_equivariant_and_fits():
    from collage.audio.analyze import OCTAVE_PROFILES, key_from_octaves, key_name
    from collage.training.key_model import fit_key_model

    rng = np.random.default_rng(0)
    octaves = rng.uniform(0.1, 1.0, (7, 12))
    octaves[1, 9] = 30.0  # a loud bass A
    base = key_from_octaves(octaves)  # the shipped 'pop909-octaves'
    assert "pop909-octaves" in OCTAVE_PROFILES and 0 < base[2] <= 1
    for shift in (3, 7):
        t, m, p = key_from_octaves(np.roll(octaves, shift, axis=1))
        assert (t, m) == ((base[0] + shift) % 12, base[1]) and np.isclose(p, base[2])
    assert key_from_octaves(octaves, "pop909")[:2] == key_from_octaves(octaves, "pop909")[:2]  # 12-bin path
    with pytest.raises(AnalysisError, match="no pitched"):
        key_from_octaves(np.zeros((7, 12)))
    with pytest.raises(ParameterError, match="profile"):
        key_from_octaves(octaves, "nope")
    # fit on clips drawn from the 12-bin profile in the middle octaves, with a tonic bass
    octs, keys = _synthetic_key_clips(rng, 120, bass=0.5)
    model = fit_key_model(np.asarray(octs), keys, epochs=200)
    assert model["W"].shape == (2, 7, 12) and model["b"].shape == (2,)
    found = [key_name(*key_from_octaves(o, model=model)[:2]) for o in octs]
    assert np.mean([f == k for f, k in zip(found, keys)]) > 0.95
    net = fit_key_model(np.asarray(octs), keys, hidden=8, epochs=300)
    assert net["W1"].shape == (8, 7, 12) and net["W2"].shape == (2, 8)
    found = [key_name(*key_from_octaves(o, model=net)[:2]) for o in octs]
    assert np.mean([f == k for f, k in zip(found, keys)]) > 0.9
    base = key_from_octaves(octs[0], model=net)
    t, m, p = key_from_octaves(np.roll(octs[0], 5, axis=1), model=net)  # shared over the tonics too
    assert (t, m) == ((base[0] + 5) % 12, base[1]) and np.isclose(p, base[2])
    with pytest.raises(ParameterError, match="hidden"):
        fit_key_model(np.asarray(octs), keys, hidden=-1)


def test_choose_form_prefers_linear_on_a_near_tie():
    from collage.training.key_model import choose_form

    cv = {"tonal": {"profile": 0.8, (0, 1e-3): 0.850, (0, 1e-2): 0.855, (16, 1e-2): 0.860},
          "vocals": {"profile": 0.7, (0, 1e-3): 0.800, (0, 1e-2): 0.805, (16, 1e-2): 0.810}}
    hidden, wd, means = choose_form(cv)
    assert (hidden, wd) == (0, 1e-2) and means == {"linear": 0.83, "mlp16": 0.835}
    cv["tonal"][(16, 1e-2)] = 0.880
    assert choose_form(cv)[:2] == (16, 1e-2)


def test_train_key_model_writes_a_card_that_analysis_reads(tmp_path, monkeypatch):
    import json

    import collage.audio.analyze as an
    import collage.training.key_model as km
    from collage.audio.analyze import key_name

    octs, keys = _synthetic_key_clips(np.random.default_rng(1), 60)
    octs, songs = np.asarray(octs), np.arange(60)
    monkeypatch.setattr(km, "clip_octaves", lambda *a, **k: ({i: octs for i in km.INPUTS}, np.asarray(keys), np.asarray(songs)))
    card = km.train_key_model(out=tmp_path / "key.json", hiddens=(0, 4), weight_decays=(1e-3,), command="test")
    assert set(card["scores"]["best_mean_over_inputs"]) == {"linear", "mlp4"}
    assert card["fit"]["form"] in ("linear", "mlp4") and card["training_command"] == "test"
    monkeypatch.setitem(an.OCTAVE_PROFILES, "test-octaves", "key.json")
    monkeypatch.setattr(an, "__file__", str(tmp_path / "analyze.py"))
    monkeypatch.setattr(an, "_OCTAVE_MODELS", {})
    found = [key_name(*an.key_from_octaves(o, "test-octaves")[:2]) for o in octs]
    assert np.mean([f == k for f, k in zip(found, keys)]) > 0.9
    assert json.loads((tmp_path / "key.json").read_text())["model"]

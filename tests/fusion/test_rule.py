"""The rule-based baseline: pitch snapping, onset moving, seeded skips; its numbers on POP909."""

import warnings

import numpy as np
import pytest

from collage.errors import ParameterError
from collage.fusion.rule import rule_fuse_batch, rule_fuse_segment


def n(*rows):
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


def fuse(mel, acc, p_skip=0.0, seed=0):
    return rule_fuse_segment(mel, acc, rng=np.random.default_rng(seed), p_skip=p_skip)


ACC_CEF = n([0, 8, 48, 70], [0, 8, 52, 70], [8, 8, 53, 70])  # pitch classes {C, E, F}, onsets {0, 8}


def test_paper_example_c_sharp_goes_to_c():
    out = fuse(n([0, 4, 61, 90]), ACC_CEF)  # C#4 over {C, E, F}
    assert out.tolist() == [[0, 4, 60, 90]]


def test_pitch_rules_threshold_and_ties_downward():
    acc = n([0, 8, 50, 70], [8, 8, 52, 70])  # {D, E}; onsets 0, 8
    assert fuse(n([0, 4, 63, 90]), acc)[0, 2] == 62  # D#: D and E both one semitone away -> down
    assert fuse(n([0, 4, 64, 90]), acc)[0, 2] == 64  # already on a class: unchanged
    assert fuse(n([0, 4, 67, 90]), acc)[0, 2] == 67  # G: 3 semitones from E: unchanged
    assert fuse(n([0, 4, 61, 90]), acc)[0, 2] == 62  # C# -> D (up is the only candidate)
    assert fuse(n([0, 4, 59, 90]), n([0, 4, 48, 70]))[0, 2] == 60  # B -> C across the octave


def test_onset_rules_keep_the_duration():
    acc = n([0, 4, 48, 70], [8, 4, 48, 70], [13, 2, 48, 70])  # onsets 0, 8, 13
    assert fuse(n([2, 3, 48, 90]), acc).tolist() == [[0, 3, 48, 90]]  # two steps away -> moved
    assert fuse(n([5, 2, 48, 90]), acc).tolist() == [[5, 2, 48, 90]]  # three steps away -> kept
    assert fuse(n([10, 3, 48, 90]), acc).tolist() == [[8, 3, 48, 90]]  # 8 and 13: the nearer
    acc2 = n([0, 4, 48, 70], [4, 4, 48, 70])
    assert fuse(n([2, 1, 48, 90]), acc2).tolist() == [[0, 1, 48, 90]]  # 0 and 4 equally near: the earlier
    assert fuse(n([30, 2, 48, 90]), n([31, 1, 48, 70])).tolist() == [[31, 1, 48, 90]]  # clipped at the end


def test_output_stays_monophonic():
    acc = n([4, 4, 48, 70])
    out = fuse(n([2, 2, 60, 90], [4, 4, 62, 90]), acc)  # the first note moves onto the second's onset
    assert out[:, 0].tolist() == [4] and out[0, 2] == 60  # the moved note wins
    out = fuse(n([0, 8, 60, 90], [6, 2, 62, 90]), n([0, 1, 48, 70], [4, 1, 48, 70]))
    offsets = out[:, 0] + out[:, 1]
    assert (offsets[:-1] <= out[1:, 0]).all()


def test_skips_are_seeded_and_drawn_with_p_skip():
    rng_mel = np.random.default_rng(3)
    mel = n(*[[4 * i + 1, 2, 61, 90] for i in range(8)])  # every note: C# one step after an onset
    acc = n(*[[4 * i, 4, 48, 70] for i in range(8)])
    assert (fuse(mel, acc, p_skip=1.0) == mel).all()  # every change skipped
    full = fuse(mel, acc, p_skip=0.0)
    assert (full[:, 2] == 60).all() and (full[:, 0] % 4 == 0).all()
    a, b = fuse(mel, acc, 0.2, seed=5), fuse(mel, acc, 0.2, seed=5)
    assert (a == b).all()
    outs = rule_fuse_batch([mel] * 200, [acc] * 200, seed=rng_mel.integers(100))
    kept_pitch = np.mean([np.mean(o[:, 2] == 61) for o in outs])
    assert 0.14 < kept_pitch < 0.26  # about p_skip of the pitch changes are skipped


def test_empty_inputs_and_bad_arguments():
    assert fuse(n(), ACC_CEF).shape == (0, 4)
    mel = n([1, 2, 61, 90])
    assert fuse(mel, n()).tolist() == mel.tolist()
    with pytest.raises(ParameterError, match="given p_skip=1.5"):
        fuse(mel, ACC_CEF, p_skip=1.5)
    with pytest.raises(ParameterError, match="expected a numpy.random.Generator"):
        rule_fuse_segment(mel, ACC_CEF, rng=0)
    with pytest.raises(ParameterError, match="expected equal"):
        rule_fuse_batch([mel], [])


def test_reproduces_the_paper_row_on_pop909(pop909_root):
    """Table 2, rule-based row, on 5000 test Ωdh pairs (ticks grid, as the foundation's statistics)."""
    from collage.datasets.pop909 import disharmonic_pairs, pop909_segments
    from collage.metrics.harmony import evaluate_batch

    segs = pop909_segments("test", grid="ticks", root=pop909_root)
    ij = disharmonic_pairs(segs, 5000, 0)
    mels = [segs.melody(int(i)) for i in ij[:, 0]]
    accs = [segs.accomp(int(j)) for j in ij[:, 1]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = evaluate_batch(rule_fuse_batch(mels, accs, seed=0), accs)
    mean = {k: float(np.nanmean(x)) for k, x in v.items()}
    paper = {"pch_kld": 1.91, "pch_oa": 0.459, "oh_kld": 1.831, "oh_oa": 0.464, "re_onset": 0.662}
    for k, want in paper.items():
        assert mean[k] == pytest.approx(want, rel=0.1), (k, mean[k], want)

"""``fuse(..., on_progress=...)``: the caller hears of each batch of windows and of the judge's rating."""

import numpy as np
import pytest

from collage.errors import ParameterError
from collage.fusion.vertical import fuse

from .test_vertical import accomp_rows, identity_models, melody_rows, piece


class StubJudge:
    def score(self, mels, accs):
        return np.full(len(mels), 0.75)


def test_on_progress_hears_each_batch_and_the_rating():
    mel, acc = piece(melody_rows(12), name="MELODY"), piece(accomp_rows(12), name="PIANO")
    heard = []
    res = fuse(mel, acc, method="collagenet", models=identity_models(), key_align=False, judge=StubJudge(), batch_size=4,
               on_progress=lambda stage, done, total: heard.append((stage, done, total)))
    k = res.n_windows
    assert k == 11  # 48 beats: a window every 4 beats, the last starting 8 beats before the end
    n = res.harmony["windows"]
    assert heard == [("fusing", d, k) for d in (0, 4, 8, 11)] + [("rating", 0, n), ("rating", n, n)]
    again = fuse(mel, acc, method="collagenet", models=identity_models(), key_align=False)  # the batch size changes nothing
    for a, b in zip(res.piece.tracks, again.piece.tracks):
        np.testing.assert_array_equal(a.notes, b.notes)


def test_on_progress_with_the_rule_and_what_it_raises():
    mel, acc = piece(melody_rows(4), name="MELODY"), piece(accomp_rows(4), name="PIANO")
    heard = []
    res = fuse(mel, acc, method="rule", judge=StubJudge(), on_progress=lambda *a: heard.append(a))
    n = res.harmony["windows"]
    assert n > 0 and heard[-2:] == [("rating", 0, n), ("rating", n, n)]

    def stop(stage, done, total):
        if done:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):  # what the callback raises stops the fusion
        fuse(mel, acc, method="collagenet", models=identity_models(), key_align=False, on_progress=stop)
    with pytest.raises(ParameterError, match="given on_progress of type int"):
        fuse(mel, acc, method="collagenet", models=identity_models(), on_progress=3)
    with pytest.raises(ParameterError, match="given batch_size=0"):
        fuse(mel, acc, method="collagenet", models=identity_models(), batch_size=0)

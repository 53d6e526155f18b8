"""`collage eval fusion` with tiny models on a few POP909 test pairs: schema and definitions."""

import json

import numpy as np
import pytest

from collage.evaluation.fusion import ROW_KEYS, aspect_similarity


def test_aspect_similarities():
    m = np.array([[0, 4, 60, 90], [8, 4, 64, 90]])
    assert aspect_similarity("pitch", m, m) == 1.0
    assert aspect_similarity("rhythm", m, m) == 1.0
    assert aspect_similarity("rhythm", m, m + [[1, 0, 0, 0]]) == 0.0
    assert aspect_similarity("texture", m, m) == pytest.approx(1.0)
    a = np.array([[0, 16, 48, 64], [0, 16, 52, 64], [0, 16, 55, 64], [16, 16, 53, 64], [16, 16, 57, 64], [16, 16, 60, 64]])
    assert aspect_similarity("chord", a, a) == 1.0
    assert aspect_similarity("chord", a, a + [[0, 0, 1, 0]]) < 0.5
    with pytest.raises(Exception, match="aspect='x'"):
        aspect_similarity("x", m, m)


def test_eval_fusion_json_schema(pop909_root, monkeypatch):
    from collage.cli import main

    monkeypatch.setenv("COLLAGE_POP909", str(pop909_root))
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = main(["eval", "fusion", "--json", "--tiny", "--pairs", "12", "--control-pairs", "4",
                   "--gradient-steps", "2", "--gradient-sweep", "0,2"])
    assert rc == 0
    res = json.loads(buf.getvalue())
    assert {"omega_h", "omega_dh", "rule", "gradient", "collagenet"} <= set(res["rows"])
    assert any(k.startswith("collagenet_lam") for k in res["rows"])
    for name, row in res["rows"].items():
        assert set(ROW_KEYS) <= set(row), name
        assert row["harmony_rate"] is None or 0 <= row["harmony_rate"] <= 1
    assert res["rows"]["omega_h"]["rho_mel"] is None and res["rows"]["rule"]["rho_acc"] == 0.0
    assert res["rows"]["omega_h"]["mel_pc"] == 0.0
    for aspect in ("pitch", "rhythm", "chord", "texture"):
        assert {"spearman_latent", "spearman_similarity"} <= set(res["controls"][aspect])
    assert set(res["gradient_steps"]["steps"]) == {"0", "2"}
    assert res["meta"]["iterations"] == {"collagenet": 2, "collagenet_lam0.1": 1}
    single = res["diagnostics"]["collagenet_single_pass"]  # the default actor after one pass, for comparison
    assert single["pairs"] == 12 and 0 <= single["harmony_rate"] <= 1
    assert "collagenet_lam0.1_single_pass" not in res["diagnostics"]


def test_eval_fusion_bad_option():
    from collage.cli import main

    assert main(["eval", "fusion", "--tiny", "--gradient-sweep", "a,b"]) == 2


def test_train_actor_iterations_tiny_smoke(pop909_root, monkeypatch, tmp_path, capsys):
    """`collage train actor-iterations --tiny`: one line per count, the choice, the JSON; no card is written."""
    from collage.cli import main

    monkeypatch.setenv("COLLAGE_POP909", str(pop909_root))
    monkeypatch.setenv("COLLAGE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "sweep.json"
    rc = main(["train", "actor-iterations", "--tiny", "--max-iterations", "3", "--segments", "800", "--out-json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert text.count("iteration(s): harmony") == 3 and "(not written: --tiny)" in text
    res = json.loads(out.read_text())
    assert set(res["iterations"]) == {"1", "2", "3"} and 1 <= res["chosen"] <= 3

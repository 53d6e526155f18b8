"""Tests of collage.stats (POP909 harmony statistics) and the `collage stats` command."""

from __future__ import annotations

import json
import math

import pytest

from collage.cli import main
from collage.errors import ParameterError
from collage.metrics.harmony import KEYS
from collage.stats import PAPER, ROWS, pop909_stats, relative_differences

TOP = {"grid", "n_pairs", "split", "seed", "rows", "paper"}


def check_schema(res: dict, *, grid: str, n: int) -> None:
    assert set(res) == TOP
    assert res["grid"] == grid and res["n_pairs"] == n and res["split"] == "test" and res["seed"] == 0
    for part in ("rows", "paper"):
        assert set(res[part]) == set(ROWS)
        for r in ROWS:
            assert list(res[part][r]) == list(KEYS)
    for r in ROWS:
        for k in KEYS:
            v = res["rows"][r][k]
            assert isinstance(v, float) and math.isfinite(v), (r, k, v)
    assert res["paper"] == PAPER


def check_separated(res: dict) -> None:
    h, dh = res["rows"]["omega_h"], res["rows"]["omega_dh"]
    assert h["pch_kld"] < dh["pch_kld"] and h["oh_kld"] < dh["oh_kld"]
    assert h["pch_oa"] > dh["pch_oa"] and h["oh_oa"] > dh["oh_oa"]
    assert h["re_3state"] > dh["re_3state"] and h["re_onset"] > dh["re_onset"]


@pytest.mark.pop909
@pytest.mark.parametrize("grid", ["ticks", "beats"])
def test_pop909_stats_schema_and_separation(pop909_root, grid):
    res = pop909_stats(split="test", grid=grid, n_pairs=200, seed=0, root=pop909_root)
    check_schema(res, grid=grid, n=200)
    check_separated(res)
    json.dumps(res)  # JSON-able
    rel = relative_differences(res)
    assert set(rel) == set(ROWS) and all(set(rel[r]) == set(KEYS) for r in ROWS)
    # the melody PC of Table 3 (10.7) is matched loosely even on 200 pairs
    assert abs(rel["omega_h"]["mel_pc"]) < 0.2


@pytest.mark.pop909
def test_pop909_stats_is_deterministic(pop909_root):
    a = pop909_stats(n_pairs=50, seed=3, root=pop909_root)
    b = pop909_stats(n_pairs=50, seed=3, root=pop909_root)
    assert a == b


@pytest.mark.pop909
def test_pop909_stats_caps_n_pairs(pop909_root):
    with pytest.warns(UserWarning, match=r"has only \d+ segments .* instead of 10000000"):
        res = pop909_stats(n_pairs=10_000_000, root=pop909_root)
    assert 1000 < res["n_pairs"] < 10_000_000


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"split": "dev"}, r"split='dev'"),
        ({"grid": "bars"}, r"grid='bars'"),
        ({"n_pairs": 0}, r"n_pairs=0"),
        ({"n_pairs": 2.5}, r"n_pairs=2\.5"),
        ({"seed": -1}, r"seed=-1"),
    ],
)
def test_pop909_stats_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        pop909_stats(**kwargs)


@pytest.mark.pop909
def test_cli_stats_json(pop909_root, capsys):
    rc = main(["stats", "--split", "test", "--grid", "ticks", "--pairs", "200", "--pop909", str(pop909_root), "--json"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    check_schema(res, grid="ticks", n=200)
    check_separated(res)


@pytest.mark.pop909
def test_cli_stats_table(pop909_root, capsys):
    rc = main(["stats", "--pairs", "100", "--pop909", str(pop909_root)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "pch_kld" in out and "paper" in out and "%" in out


def test_cli_stats_missing_data_is_one_line(tmp_path, capsys):
    rc = main(["stats", "--pop909", str(tmp_path / "nowhere"), "--json"])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("collage: error:") and "POP909 not found" in err and "\n" not in err


def test_cli_stats_help(capsys):
    assert main(["stats", "--help"]) == 0
    out = capsys.readouterr().out
    assert "Example:" in out and "collage stats --split test --grid ticks --json" in out

"""`collage mashup build --cluster`: the per-song jobs on a Dask distributed cluster (two local worker processes)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from collage.cli import main
from collage.errors import ParameterError
from collage.mashup.builder import build
from collage.mashup.db import MashupDB
from collage.mashup.embed import EMBED_VERSION
from collage.mashup.stemstore import content_name

from .synth import SR, stems

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  env={"OMP_NUM_THREADS": "1"}) as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as cl:
        yield cl


def _song_dir(tmp_path, n: int) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    for i in range(n):
        for role, y in stems(6.0, seed=i).items():
            sf.write(d / f"song{i:02d}.{role}.wav", y, SR)
    return d


def _rows(db_path: Path, root: Path) -> dict:
    """Everything stored per song name, with stem paths relative to the stem root."""
    out = {}
    with MashupDB(db_path) as db:
        for s in db.songs():
            st = db.stems(s["id"])
            out[s["name"]] = {
                "song": {k: s[k] for k in ("source", "origin", "start_s", "end_s", "info")},
                "stems": {r: {k: v for k, v in m.items() if k != "path"} | {"rel": str(Path(m["path"]).relative_to(root))}
                          for r, m in st.items()},
                "analysis": {r: db.analysis(s["id"], r) for r in ("song", "vocals", "harmonic", "percussion")},
                "segments": db.segments(s["id"]),
            }
        for role in ("harmonic", "percussion"):  # the stem-segment vectors, by song name
            meta, mat = db.embeddings(role, EMBED_VERSION)
            names = {s["id"]: s["name"] for s in db.songs()}
            for m, v in zip(meta, mat):
                out[names[m["song_id"]]].setdefault("vectors", {})[(role, m["bars"], m["start_s"])] = v.tobytes()
    return out


def _count(db_path: Path) -> int:
    """Songs committed so far (0 while the file or its tables are not there yet)."""
    if not db_path.exists():
        return 0
    try:
        con = sqlite3.connect(db_path, timeout=30)
        try:
            return con.execute("SELECT COUNT(*) FROM songs").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def _check_integrity(db_path: Path, names: set[str]) -> None:
    con = sqlite3.connect(db_path)
    got = [r[0] for r in con.execute("SELECT name FROM songs")]
    assert sorted(got) == sorted(names)  # every song exactly once
    assert con.execute("SELECT COUNT(*) FROM stems").fetchone()[0] == 4 * len(names)
    assert con.execute("SELECT COUNT(*) FROM stems WHERE song_id NOT IN (SELECT id FROM songs)").fetchone()[0] == 0
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    with MashupDB(db_path) as db:
        for s in db.songs():
            for role, m in db.stems(s["id"]).items():
                p = Path(m["path"])
                assert p.name == content_name(p, role)  # the samples are what the name says: not torn
                assert len(sf.read(p)[0]) == m["n_samples"]
            assert db.analysis(s["id"])["beats"]


@pytest.mark.pop909
def test_cluster_build_equals_local_build(pop909_root, tmp_path, cluster):
    kw = dict(source="midi", limit=3, seconds=24.0, progress=False)  # long enough for 8-bar segments
    a = build(tmp_path / "local.db", pop909_root, **kw)
    b = build(tmp_path / "cluster.db", pop909_root, cluster=cluster.scheduler_address, **kw)
    assert a["added"] == b["added"] == 3 and not a["skipped"] and not b["skipped"]
    ra = _rows(tmp_path / "local.db", tmp_path / "local.db.stems")
    rb = _rows(tmp_path / "cluster.db", tmp_path / "cluster.db.stems")
    assert set(ra) == {"pop909-001", "pop909-002", "pop909-003"} and any(r.get("vectors") for r in ra.values())
    assert ra == rb  # same rows, same analysis, and (by the content-derived names) the same stem samples
    _check_integrity(tmp_path / "cluster.db", set(ra))


def test_stems_source_through_the_cluster_and_an_fsspec_root(tmp_path, cluster):
    d = _song_dir(tmp_path, 2)
    root = f"file://{tmp_path / 'remote'}"
    res = build(tmp_path / "u.db", d, source="stems", cluster=cluster.scheduler_address, stem_root=root, progress=False)
    assert res["added"] == 2
    with MashupDB(tmp_path / "u.db") as db:
        paths = [m["path"] for s in db.songs() for m in db.stems(s["id"]).values()]
    assert all(p.startswith("file://") for p in paths)
    from collage.mashup.dbclips import clips_from_db

    clip = clips_from_db(tmp_path / "u.db")[0]
    assert len(clip.stem("harmonic")) > 5 * clip.sr  # stems read back through fsspec


def test_a_worker_killed_mid_build(tmp_path, cluster, client):
    d = _song_dir(tmp_path, 8)
    db_path = tmp_path / "k.db"
    out = {}
    t = threading.Thread(target=lambda: out.update(build(db_path, d, source="stems", cluster=cluster.scheduler_address,
                                                         progress=False)))
    t.start()
    killed = None
    deadline = time.monotonic() + 300
    while killed is None and time.monotonic() < deadline and t.is_alive():
        busy = [w for w, keys in client.processing().items() if any("collage-build" in str(k) for k in keys)]
        if busy and _count(db_path) >= 1:
            pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            killed = pid
        time.sleep(0.2)
    t.join(600)
    assert killed is not None, "the build ended before a worker could be killed"
    assert out["added"] == 8 and not out["skipped"]
    _check_integrity(db_path, {f"song{i:02d}" for i in range(8)})
    client.wait_for_workers(2, timeout=120)  # the nanny restarted it


def test_killed_client_rerun_redoes_no_committed_song(tmp_path, cluster):
    d = _song_dir(tmp_path, 8)
    db_path = tmp_path / "c.db"
    cmd = [sys.executable, "-c", "import sys; from collage.cli import main; sys.exit(main(sys.argv[1:]))",
           "mashup", "build", str(db_path), "--from", str(d), "--source", "stems", "--cluster",
           cluster.scheduler_address, "--no-progress"]
    proc = subprocess.Popen(cmd, env=os.environ | {"OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and _count(db_path) < 2:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with MashupDB(db_path) as db:
        before = {s["name"]: (s["id"], {r: (m["path"], Path(m["path"]).stat().st_mtime_ns)
                                          for r, m in db.stems(s["id"]).items()}) for s in db.songs()}
    assert 2 <= len(before) < 8, f"{len(before)} songs committed when the client was killed"
    res = build(db_path, d, source="stems", cluster=cluster.scheduler_address, progress=False)
    assert res["already"] == len(before) and res["added"] == 8 - len(before)
    with MashupDB(db_path) as db:
        after = {s["name"]: (s["id"], {r: (m["path"], Path(m["path"]).stat().st_mtime_ns)
                                         for r, m in db.stems(s["id"]).items()}) for s in db.songs()}
    assert {k: after[k] for k in before} == before  # committed songs untouched: same rows, same files
    _check_integrity(db_path, {f"song{i:02d}" for i in range(8)})


def test_bad_cluster_options(tmp_path, capsys):
    d = _song_dir(tmp_path, 1)
    with pytest.raises(ParameterError, match="jobs"):
        build(tmp_path / "x.db", d, source="stems", cluster="tcp://127.0.0.1:9", jobs=2)
    code = main(["mashup", "build", str(tmp_path / "y.db"), "--from", str(d), "--source", "stems",
                 "--cluster", "tcp://127.0.0.1:9", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "127.0.0.1:9" in err[0] and "Traceback" not in err[0]
    with MashupDB(tmp_path / "y.db") as db:
        assert len(db) == 0  # nothing half-written


def test_content_names_are_stable(tmp_path):
    y = np.zeros(100, np.float32)
    sf.write(tmp_path / "a.wav", y, SR)
    sf.write(tmp_path / "b.wav", y, SR)
    assert content_name(tmp_path / "a.wav", "vocals") == content_name(tmp_path / "b.wav", "vocals")
    sf.write(tmp_path / "b.wav", y + 0.5, SR)
    assert content_name(tmp_path / "a.wav", "vocals") != content_name(tmp_path / "b.wav", "vocals")

"""The studio's HTTP API in-process (Starlette's test client): results equal the CLI's, bad uploads are refused."""

from __future__ import annotations

import asyncio
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from collage import examples
from collage.io import read

from cli_helpers import needs_fluidsynth, run

pytest.importorskip("starlette")
pytest.importorskip("httpx")  # starlette's test client

from collage.studio import MAX_UPLOAD_BYTES, create_app  # noqa: E402
from collage.studio.work import Superseded, Worker  # noqa: E402

MEL, ACC = str(examples.path("melody")), str(examples.path("accompaniment"))


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's notice about its httpx test client
        from starlette.testclient import TestClient
    root = tmp_path_factory.mktemp("studio-tmp")
    with TestClient(create_app(tmp_root=root)) as c:
        c.root = root
        yield c


def _notes(path) -> dict[str, np.ndarray]:
    piece = read(path)
    return {t.name: t.notes for t in piece.tracks}


def _assert_same_notes(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_examples_are_listed(client):
    got = client.get("/api/examples").json()
    assert [f["name"] for f in got] == ["melody.mid", "accompaniment.mid"]
    assert got[0]["tracks"][0]["name"] == "MELODY"


def test_fuse_returns_notes_ratings_and_the_cli_s_midi(client, capsys, tmp_path):
    body = {"melody": "example-melody", "accompaniment": "example-accompaniment", "keep_pitch": 0.8,
            "keep_rhythm": 0.3, "keep_chord": 0.6, "keep_texture": 0.9, "method": "collagenet"}
    r = client.post("/api/fuse", json=body)
    assert r.status_code == 200, r.text
    j = r.json()
    assert set(j["inputs"]) == {"melody", "accompaniment"}
    assert [t["name"] for t in j["result"]["tracks"]] == ["MELODY", "ACCOMPANIMENT"]
    assert j["result"]["bars"] == [0.0, 4.0, 8.0, 12.0, 16.0, 20.0, 24.0, 28.0]
    h = j["summary"]["harmony"]
    assert len(h["per_window"]) == h["windows"] == 7
    assert all(0 <= w["input"] <= 1 and 0 <= w["output"] <= 1 for w in h["per_window"])
    # the accompaniment input is the key-aligned one
    acc_in = np.array(sorted(n[2] for n in j["inputs"]["accompaniment"]["tracks"][0]["notes"]))
    orig = np.sort(read(ACC).tracks[0].notes[:, 2])
    shift = j["summary"]["key_shift"]
    assert shift != 0 and len(acc_in) == len(orig) and set(acc_in - orig) == {shift}

    midi = client.get(j["downloads"]["midi"])
    assert midi.status_code == 200 and midi.content[:4] == b"MThd"
    got = tmp_path / "studio.mid"
    got.write_bytes(midi.content)
    out = tmp_path / "cli.mid"
    rc, _, err = run(capsys, "fuse", MEL, ACC, "-o", out, "--keep-pitch", 0.8, "--keep-rhythm", 0.3,
                     "--keep-chord", 0.6, "--keep-texture", 0.9, "--method", "collagenet")
    assert rc == 0, err
    _assert_same_notes(_notes(got), _notes(out))


@pytest.mark.parametrize("method", ["rule", "gradient", "revoice"])
def test_fuse_methods(client, method):
    r = client.post("/api/fuse", json={"method": method})
    assert r.status_code == 200, r.text
    assert r.json()["summary"]["method"] == method


def test_fuse_without_a_method_uses_fusion_s_default(client):
    from collage.fusion.vertical import DEFAULT_METHOD

    assert client.post("/api/fuse", json={}).json()["summary"]["method"] == DEFAULT_METHOD
    assert client.get("/api/info").json()["fuse_default_method"] == DEFAULT_METHOD


def test_join_and_arrange_equal_the_cli(client, capsys, tmp_path):
    r = client.post("/api/join", json={"left": "example-melody", "right": "example-melody",
                                       "style": [0.2, 0.8, 0.5, 0.5], "actor": "join_actor_lam3"})
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["seam"]["end_beat"] - j["seam"]["start_beat"] == 16
    (tmp_path / "j.mid").write_bytes(client.get(j["downloads"]["midi"]).content)
    rc, _, err = run(capsys, "join", MEL, MEL, "-o", tmp_path / "cj.mid", "--style", 0.2, "--style", 0.8,
                     "--style", 0.5, "--style", 0.5, "--lam", 3)
    assert rc == 0, err
    _assert_same_notes(_notes(tmp_path / "j.mid"), _notes(tmp_path / "cj.mid"))

    r = client.post("/api/arrange", json={"piece": "example-accompaniment", "ensemble": "satb", "model": "zone"})
    assert r.status_code == 200, r.text
    j = r.json()
    assert [t["name"] for t in j["result"]["tracks"]] == ["Soprano", "Alto", "Tenor", "Bass"]
    (tmp_path / "a.mid").write_bytes(client.get(j["downloads"]["midi"]).content)
    rc, _, err = run(capsys, "arrange", ACC, "-o", tmp_path / "ca.mid", "--ensemble", "satb", "--model", "zone")
    assert rc == 0, err
    _assert_same_notes(_notes(tmp_path / "a.mid"), _notes(tmp_path / "ca.mid"))


def test_an_uploaded_file_fuses_like_the_file(client, capsys, tmp_path):
    up = client.post("/api/upload", content=open(MEL, "rb").read(), headers={"X-Filename": "../../tune.mid"})
    assert up.status_code == 200, up.text
    assert up.json()["name"] == "tune.mid"
    fid = up.json()["id"]
    assert client.get(f"/api/files/{fid}").json()["piece"]["tracks"][0]["name"] == "MELODY"
    r = client.post("/api/fuse", json={"melody": fid, "accompaniment": "example-accompaniment", "method": "rule"})
    assert r.status_code == 200, r.text
    # names from uploads never reach a path: only server-made names under the server's folder
    files = [p for p in client.root.rglob("*") if p.is_file()]
    assert files and all(p.stem.isalnum() and len(p.stem) == 32 for p in files), files


def test_one_multitrack_upload_gives_both_inputs(client, capsys, tmp_path):
    import dataclasses

    from collage.io import save

    mel, acc = read(MEL), read(ACC)
    strings = dataclasses.replace(acc.tracks[0], name="STRINGS", program=48)
    band = dataclasses.replace(mel, tracks=[mel.tracks[0], acc.tracks[0], strings])
    path = save(band, tmp_path / "band.mid")
    up = client.post("/api/upload", content=path.read_bytes(), headers={"X-Filename": "band.mid"}).json()
    assert [t["name"] for t in up["tracks"]] == ["MELODY", "PIANO", "STRINGS"]
    r = client.post("/api/fuse", json={"melody": up["id"], "accompaniment": up["id"], "melody_track": "MELODY",
                                       "accomp_tracks": ["STRINGS"], "keep_chord": 0.9})
    assert r.status_code == 200, r.text
    (tmp_path / "studio.mid").write_bytes(client.get(r.json()["downloads"]["midi"]).content)
    rc, _, err = run(capsys, "fuse", path, path, "-o", tmp_path / "cli.mid", "--melody-track", "MELODY",
                     "--accomp-track", "STRINGS", "--keep-chord", 0.9)
    assert rc == 0, err
    _assert_same_notes(_notes(tmp_path / "studio.mid"), _notes(tmp_path / "cli.mid"))
    bad = client.post("/api/fuse", json={"melody": up["id"], "accompaniment": up["id"], "melody_track": "VOICE"})
    assert bad.status_code == 400 and "VOICE" in bad.json()["error"] and str(client.root) not in bad.json()["error"]


def test_musicxml_and_abc_uploads(client, tmp_path):
    import music21

    xml = music21.converter.parse("tinyNotation: 4/4 c4 d e f g a b c' c'1").write("musicxml", fp=tmp_path / "s.musicxml")
    abc = "X:1\nT:Tune\nM:4/4\nL:1/4\nK:G\nGABc|dedB|G2B2|d4|\n"
    ids = []
    for name, data in (("scale.musicxml", Path(xml).read_bytes()), ("tune.abc", abc.encode())):
        r = client.post("/api/upload", content=data, headers={"X-Filename": name})
        assert r.status_code == 200, r.text
        assert r.json()["tracks"][0]["n_notes"] > 0
        ids.append(r.json()["id"])
    r = client.post("/api/fuse", json={"melody": ids[1], "accompaniment": ids[0], "method": "rule"})
    assert r.status_code == 200, r.text
    assert r.json()["summary"]["n_notes"]["MELODY"] > 0


@needs_fluidsynth
def test_wav_download(client):
    import io

    import soundfile as sf

    j = client.post("/api/fuse", json={"method": "rule"}).json()
    r = client.get(j["downloads"]["wav"])
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    y, sr = sf.read(io.BytesIO(r.content))
    assert len(y) / sr == pytest.approx(j["summary"]["duration_s"] + 1.0, abs=0.05)  # + the render's release
    assert np.abs(y).max() > 0.05


BAD = [
    ("corrupt.mid", b"this is not a MIDI file", 400, "corrupt.mid: "),
    ("empty.mid", b"", 400, "empty.mid: the file is empty"),
    ("big.mid", b"MThd" + b"\0" * MAX_UPLOAD_BYTES, 413, "big.mid: too large"),
    ("notes.txt", b"hello", 415, "notes.txt: unsupported format .txt"),
    ("score.musicxml", b"<score-partwise><part", 400, "score.musicxml: "),
    ("tune.abc", b"garbage that is no tune", 400, "tune.abc: "),
]


def _drums_only() -> bytes:
    import tempfile

    from collage.io import save
    from collage.piece import Piece, Track

    notes = np.array([[0, 240, 36, 100], [480, 240, 38, 100]], dtype=np.int64)
    with tempfile.TemporaryDirectory() as d:
        return save(Piece([Track(notes, "DRUMS", is_drum=True)]), Path(d) / "drums.mid").read_bytes()


BAD.append(("drums.mid", _drums_only(), 400, "drums.mid: "))


@pytest.mark.parametrize("name,data,status,needle", BAD, ids=[b[0] for b in BAD])
def test_bad_uploads_are_refused_in_one_line(client, name, data, status, needle):
    before = sorted(p.name for p in client.root.rglob("*"))
    r = client.post("/api/upload", content=data, headers={"X-Filename": name})
    assert r.status_code == status, r.text
    msg = r.json()["error"]
    assert msg.startswith(needle) and "\n" not in msg and str(client.root) not in msg, msg
    assert sorted(p.name for p in client.root.rglob("*")) == before  # nothing left behind
    assert client.get("/api/examples").status_code == 200  # still serving


def test_bad_requests_are_4xx(client):
    assert client.post("/api/fuse", json={"keep_pitch": 2}).status_code == 400
    assert client.post("/api/fuse", json={"method": "magic"}).status_code == 400
    assert client.post("/api/fuse", json={"melody": "nope"}).json()["error"].startswith("no file 'nope'")
    assert client.post("/api/fuse", content=b"{", headers={"content-type": "application/json"}).status_code == 400
    assert client.post("/api/join", json={"actor": "join_actor_lam99"}).status_code == 400
    assert client.get("/api/results/0123.mid").status_code == 404
    assert client.get("/api/progress?client=x").json() == {"stage": "idle"}


def test_other_sites_cannot_start_work(client, tmp_path):
    # a cross-site form or fetch without a preflight can only send text/plain, form or multipart bodies
    r = client.post("/api/fuse", content=b'{"method": "rule"}', headers={"content-type": "text/plain"})
    assert r.status_code == 415 and "JSON" in r.json()["error"]
    r = client.post("/api/upload", content=open(MEL, "rb").read(), headers={"content-type": "text/plain"})
    assert r.status_code == 415  # no X-Filename: no accepted suffix
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    app = create_app(tmp_root=tmp_path, allowed_hosts=["127.0.0.1", "localhost"])
    with TestClient(app, base_url="http://rebound.example") as other, \
            TestClient(app, base_url="http://127.0.0.1:8000") as local:
        assert other.get("/api/examples").status_code == 400  # a DNS name pointed at this machine
        assert local.get("/api/examples").status_code == 200


@needs_fluidsynth
@pytest.mark.parametrize("name,layout", [("73", "melodic"), ("drums", "drums")])
def test_sample_banks_sound_in_every_slot(client, name, layout):
    import io

    import soundfile as sf

    lay = client.get("/api/info").json()["samples"][layout]
    r = client.get(f"/api/samples/{name}.wav")
    assert r.status_code == 200, r.text
    y, sr = sf.read(io.BytesIO(r.content))
    assert len(y) / sr == pytest.approx(lay["count"] * lay["slot_s"], abs=0.01)
    slots = y[: int(lay["count"] * lay["slot_s"] * sr)].reshape(lay["count"], -1)
    peak = np.abs(slots).max(axis=1)
    assert (peak > 0.01).mean() > 0.9, peak  # (a few GM drum keys are very soft or silent in some soundfonts)
    assert client.get("/api/samples/128.wav").status_code == 404


def test_a_newer_request_from_the_same_client_supersedes_the_older():
    async def scenario():
        worker = Worker(threads=1)
        gate = threading.Event()
        blocker = asyncio.ensure_future(worker.run("other", lambda report: gate.wait(5)))
        await asyncio.sleep(0.05)
        first = asyncio.ensure_future(worker.run("page", lambda report: "first"))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(worker.run("page", lambda report: "second"))
        await asyncio.sleep(0.05)
        gate.set()
        results = await asyncio.gather(blocker, first, second, return_exceptions=True)
        worker.close()
        return results

    blocker, first, second = asyncio.run(scenario())
    assert blocker is True and isinstance(first, Superseded) and second == "second"


def test_fuse_reports_its_progress_in_windows(client, monkeypatch):
    """What the library's fuse(on_progress=...) says reaches /api/progress: counted stages, in windows."""
    worker = client.app.state.studio.worker
    heard = []
    set_progress = worker._set
    monkeypatch.setattr(worker, "_set", lambda *a: (heard.append(a[2:]), set_progress(*a))[1])
    r = client.post("/api/fuse", json={"client": "progress-test"})
    assert r.status_code == 200, r.text
    counted = [h for h in heard if h[3] is not None]
    n = r.json()["summary"]["harmony"]["windows"]
    assert [h for h in counted if h[0] == "fusing"] == [("fusing", "windows", 0, 7), ("fusing", "windows", 7, 7)]
    assert [h for h in counted if h[0] == "rating"] == [("rating", "windows", 0, n), ("rating", "windows", n, n)]
    assert client.get("/api/progress?client=progress-test").json() == {"stage": "idle"}  # done: nothing running

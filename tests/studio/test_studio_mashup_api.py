"""The studio's mashup routes in-process (Starlette's test client) over a MashupDB of synthetic songs:
a search calls ``collage.mashup.retrieve``, a rendered result equals ``render_retrieved``'s, bad vocals
are refused in one line, and without a DB the routes say how to get one."""

from __future__ import annotations

import asyncio
import io
import threading
import warnings

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("starlette")
pytest.importorskip("httpx")  # starlette's test client

from collage.errors import InvalidInputError  # noqa: E402
from collage.mashup import render_retrieved, retrieve  # noqa: E402
from collage.studio import MAX_AUDIO_UPLOAD_BYTES, NO_DB, create_app  # noqa: E402
from collage.studio.work import Superseded, Worker  # noqa: E402

from mashup import synth  # noqa: E402
from mashup.synth import SR  # noqa: E402

SETTINGS = {"top": 3, "seconds": 10, "scorer": "automashupper"}  # the rule-based scorer: no model to load


def _client(app):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's notice about its httpx test client
        from starlette.testclient import TestClient
    return TestClient(app)


@pytest.fixture(scope="module")
def song_db(tmp_path_factory):
    """Four synthetic 22 s songs (100 BPM, C major) built as stems, and an outside vocal."""
    return synth.song_db(tmp_path_factory.mktemp("studio-mashup-db"), 4)


@pytest.fixture(scope="module")
def client(song_db, tmp_path_factory):
    root = tmp_path_factory.mktemp("studio-mashup-tmp")
    with _client(create_app(tmp_root=root, db=song_db / "s.db")) as c:
        c.root = root
        yield c


def test_the_db_s_vocals_are_listed(client):
    got = client.get("/api/mashup/vocals").json()
    assert got["db"] == "s.db" and [v["name"] for v in got["songs"]] == ["song0", "song1", "song2", "song3"]
    assert all(v["song"] == v["name"] and v["key"] and v["tempo"] > 0 for v in got["songs"])
    info = client.get("/api/info").json()["mashup"]
    assert info["db"] == "s.db" and info["max_upload_bytes"] == MAX_AUDIO_UPLOAD_BYTES and ".wav" in info["upload_suffixes"]


def test_a_picked_vocal_leaves_its_song_out_and_renders_as_the_library_does(client, song_db):
    vid = client.get("/api/mashup/vocals").json()["songs"][0]["id"]
    r = client.post("/api/mashup", json={"vocal": vid, **SETTINGS})
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["vocal"]["song"] == "song0" and j["results"] and j["scorer"] == "automashupper"
    assert all("song0" not in (x["harmonic"], x["percussion"]) for x in j["results"])
    assert str(client.root) not in r.text and "vocal" not in {k for k in j if k != "vocal"}  # no server path sent
    lib = retrieve(song_db / "s.db", song_db / "s.db.stems" / "song0" / _vocal_file(song_db, "song0"),
                   exclude="song0", **SETTINGS)
    assert [{k: v for k, v in x.items() if k != "download"} for x in j["results"]] == lib["results"]

    rend = client.post("/api/mashup/render", json={"search": j["id"], "rank": 1})
    assert rend.status_code == 200, rend.text
    audio, sr = render_retrieved(song_db / "s.db", lib, rank=1)
    for role in ("vocals", "harmonic", "percussion"):
        y, got_sr = sf.read(io.BytesIO(client.get(rend.json()["stems"][role]).content), dtype="float32")
        assert got_sr == sr
        np.testing.assert_array_equal(y, audio[role], err_msg=role)
    mix = client.get(j["results"][0]["download"])
    assert mix.status_code == 200 and 'filename="mashup-1.wav"' in mix.headers["content-disposition"]
    np.testing.assert_array_equal(sf.read(io.BytesIO(mix.content), dtype="float32")[0], audio["mix"])
    # rank 2 is rendered on its download alone, without a render request first
    if len(j["results"]) > 1:
        two = client.get(j["results"][1]["download"])
        assert two.status_code == 200
        np.testing.assert_array_equal(sf.read(io.BytesIO(two.content), dtype="float32")[0],
                                      render_retrieved(song_db / "s.db", lib, rank=2)[0]["mix"])


def _vocal_file(song_db, song: str) -> str:
    return next(p.name for p in (song_db / "s.db.stems" / song).iterdir() if p.name.startswith("vocals-"))


def test_an_uploaded_vocal_is_searched_under_a_server_made_name(client, song_db):
    up = client.post("/api/mashup/upload", content=(song_db / "vocal.wav").read_bytes(),
                     headers={"X-Filename": "../../my%20take.wav"})
    assert up.status_code == 200, up.text
    v = up.json()
    assert v["name"] == "my take.wav" and v["song"] is None
    assert v["id"] in [u["id"] for u in client.get("/api/mashup/vocals").json()["uploads"]]
    r = client.post("/api/mashup", json={"vocal": v["id"], **SETTINGS})
    assert r.status_code == 200, r.text
    lib = retrieve(song_db / "s.db", song_db / "vocal.wav", **SETTINGS)
    assert [x["harmonic"] for x in r.json()["results"]] == [x["harmonic"] for x in lib["results"]]
    files = [p for p in (client.root).rglob("*") if p.is_file()]
    assert all(p.stem.split("-")[0].isalnum() and len(p.stem.split("-")[0]) == 32 for p in files), files


def _wav(y, sr=SR) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.asarray(y, np.float32), sr, format="WAV", subtype="FLOAT")
    return buf.getvalue()


BAD = [
    ("corrupt.wav", b"RIFF\x10\x00\x00\x00WAVEfmt this is no audio", 400, "corrupt.wav: cannot be read as audio"),
    ("empty.wav", b"", 400, "empty.wav: the file is empty"),
    ("big.wav", b"\0" * (MAX_AUDIO_UPLOAD_BYTES + 1), 413, "big.wav: too large"),
    ("lyrics.txt", b"la la la", 415, "lyrics.txt: unsupported format .txt"),
    ("tune.mid", b"MThd\x00\x00\x00\x06", 415, "tune.mid: unsupported format .mid"),
    ("midi-named.wav", b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0", 400, "midi-named.wav: cannot be read as audio"),
    ("short.wav", _wav(0.1 * np.sin(np.arange(SR) / 5.0)), 400, "short.wav: is 1.00 s long; expected at least 5 s"),
    ("silence.flac", None, 400, "silence.flac: is silent"),
    ("nan.wav", _wav(np.full(6 * SR, np.nan)), 400, "nan.wav: has "),
]


def _silent_flac() -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.zeros(6 * SR, np.float32), SR, format="FLAC")
    return buf.getvalue()


BAD[7] = ("silence.flac", _silent_flac(), 400, "silence.flac: is silent")


@pytest.mark.parametrize("name,data,status,needle", BAD, ids=[b[0] for b in BAD])
def test_bad_vocals_are_refused_in_one_line(client, name, data, status, needle):
    before = sorted(p.name for p in client.root.rglob("*"))
    r = client.post("/api/mashup/upload", content=data, headers={"X-Filename": name})
    assert r.status_code == status, r.text
    msg = r.json()["error"]
    assert msg.startswith(needle) and "\n" not in msg and str(client.root) not in msg, msg
    assert sorted(p.name for p in client.root.rglob("*")) == before  # nothing left behind
    assert client.get("/api/mashup/vocals").status_code == 200  # still serving


def test_bad_mashup_requests_are_4xx(client):
    vid = client.get("/api/mashup/vocals").json()["songs"][0]["id"]
    assert client.post("/api/mashup", json={"vocal": "nope"}).json()["error"].startswith("no vocal 'nope'")
    assert client.post("/api/mashup", json={"vocal": vid, "top": 4}).status_code == 400
    assert client.post("/api/mashup", json={"vocal": vid, "seconds": 7}).status_code == 400
    assert client.post("/api/mashup", json={"vocal": vid, "scorer": "ears"}).status_code == 400
    assert client.post("/api/mashup/render", json={"search": "0123", "rank": 1}).status_code == 404
    assert client.get("/api/mashups/0123-1-mix.wav").status_code == 404
    j = client.post("/api/mashup", json={"vocal": vid, **SETTINGS}).json()
    assert client.post("/api/mashup/render", json={"search": j["id"], "rank": 99}).status_code == 400
    assert client.post("/api/mashup/render", json={"search": j["id"], "rank": True}).status_code == 400
    assert client.get(f"/api/mashups/{j['id']}-1-drums.wav").status_code == 404


def test_without_a_db_the_tab_says_how_to_get_one(tmp_path, song_db):
    with _client(create_app(tmp_root=tmp_path)) as c:
        info = c.get("/api/info").json()["mashup"]
        assert info["db"] is None and info["no_db"] == NO_DB and "collage studio --db" in NO_DB
        assert c.get("/api/mashup/vocals").json() == {"db": None, "songs": [], "uploads": []}
        for r in (c.post("/api/mashup", json={"vocal": "x"}),
                  c.post("/api/mashup/upload", content=(song_db / "vocal.wav").read_bytes(),
                         headers={"X-Filename": "v.wav"})):
            assert r.status_code == 409 and r.json()["error"] == NO_DB
    with pytest.raises(InvalidInputError, match="no such MashupDB file"):
        create_app(tmp_root=tmp_path, db=tmp_path / "none.db")
    assert list(tmp_path.iterdir()) == []  # refused before the server made its folder


def test_progress_carries_counts_and_a_newer_request_stops_a_running_one():
    async def scenario():
        worker = Worker(threads=2)
        started, seen = threading.Event(), []

        def long_task(report):  # like retrieve: it reports after each candidate
            for k in range(200):
                report("scoring", "candidates", k, 200)
                started.set()
                seen.append(k)
                threading.Event().wait(0.01)
            return "finished"

        first = asyncio.ensure_future(worker.run("page", long_task))
        while not started.is_set():
            await asyncio.sleep(0.01)
        p = worker.progress("page")
        assert p["stage"] == "scoring" and p["total"] == 200 and 0 <= p["done"] < 200
        second = asyncio.ensure_future(worker.run("page", lambda report: "second"))
        results = await asyncio.gather(first, second, return_exceptions=True)
        worker.close()
        return results, len(seen)

    (first, second), n = asyncio.run(scenario())
    assert isinstance(first, Superseded) and second == "second" and n < 100  # it stopped at its next report

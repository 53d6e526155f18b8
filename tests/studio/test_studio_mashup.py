"""The studio's mashup tab in a real headless Chromium against a real ``collage studio --db`` server.

A tiny MashupDB is built from three POP909 songs (18 s clips, about 120 BPM, all in C major, so that
their stems match one another). The page finds accompaniments for a vocal picked from the DB and for an
uploaded one, shows each score broken down, plays a mashup (the AudioContext runs, its clock and the
playhead advance, stems mute and solo) and downloads it: the download equals what
``collage.mashup.render_retrieved`` gives for the same result. Bad vocal uploads show one line in the
page and the server keeps serving; axe-core finds no serious or critical violation; every control is
reached from the keyboard; the tab fits 1280x800 and a 390 px window.
"""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
import soundfile as sf

from studio_browser import axe_violations, launch, open_page, screenshot, start_studio, sync_api, unreached_by_tab

api = sync_api()
SONGS = ("203", "211", "278")  # POP909: C major, 117-129 BPM; 8 bars fit in 18 s
SECONDS = 10  # mashup length the tests ask for (the shortest the page offers)


@pytest.fixture(scope="module")
def pop909_db(tmp_path_factory, pop909_root):
    """A MashupDB of three POP909 songs, rendered to 18 s clips of stems (two build jobs)."""
    from collage.mashup import build
    from collage.mashup.db import MashupDB

    tmp = tmp_path_factory.mktemp("pop909-db")
    src = tmp / "songs"
    src.mkdir()
    for sid in SONGS:
        (src / sid).symlink_to(pop909_root / sid)
    res = build(tmp / "pop.db", src, source="midi", jobs=2, seconds=18.0, progress=False)
    assert res["added"] == len(SONGS), res
    with MashupDB(tmp / "pop.db") as m:
        vocals = {s["name"]: m.stems(s["id"])["vocals"]["path"] for s in m.songs()}
    return {"db": tmp / "pop.db", "vocals": vocals}


@pytest.fixture(scope="module")
def server(tmp_path_factory, pop909_db):
    with start_studio(tmp_path_factory.mktemp("studio-db-tmp"), "--db", str(pop909_db["db"])) as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    with launch(api) as b:
        yield b


@pytest.fixture
def page(browser, server):
    with open_page(browser, server["url"]) as pg:
        pg.click("#tab-mashup")
        yield pg


def ready(pg) -> str:
    return pg.get_attribute("#panel-mashup .mashbench", "data-ready") or ""


def wait_new_search(pg, before: str) -> dict:
    pg.wait_for_function("(b) => { const w = document.querySelector('#panel-mashup .mashbench');"
                         " return w.dataset.ready && w.dataset.ready !== b; }", arg=before)
    assert pg.text_content("#panel-mashup .error") == "", pg.text_content("#panel-mashup .error")
    return pg.evaluate("window.studio.results.mashup")


def set_option(pg, selector: str, value: str) -> dict:
    before = ready(pg)
    pg.select_option(selector, value)
    return wait_new_search(pg, before)


def test_pick_upload_play_and_download(page, pop909_db, tmp_path):
    from collage.mashup import render_retrieved, retrieve

    pg = page
    picked = wait_new_search(pg, "")  # the tab opens on the DB's first vocal
    assert picked["vocal"]["song"] == pg.eval_on_selector("#mashup-vocal", "s => s.selectedOptions[0].textContent"
                                                          ).split(" ")[0]
    assert pg.locator("#mashup-vocal option").count() == len(SONGS)
    picked = set_option(pg, "#mashup-seconds", str(SECONDS))
    own = picked["vocal"]["song"]
    assert picked["results"] and all(own not in (r["harmonic"], r["percussion"]) for r in picked["results"])
    rows = pg.locator("#panel-mashup .results tr[data-rank]")
    assert rows.count() == len(picked["results"])
    first = picked["results"][0]
    cells = rows.first.locator("td").all_text_contents()  # Listen, harmonic, percussion, key, tempo, phase, ...
    assert cells[1].startswith(first["harmonic"]) and cells[2].startswith(first["percussion"])
    assert cells[3] == f"{first['harmonic_semitones']:+d} st".replace("+0", "0")
    assert cells[4] == f"×{first['harmonic_ratio']:.2f} / ×{first['percussion_ratio']:.2f}"
    assert cells[-1] == f"{first['score']:.3f}" and cells[6] == f"{first['terms']['harmonic']:.2f}"

    # upload a vocal (a DB song's vocal stem, as a user's file): the search runs on it
    mine = tmp_path / "my vocal.wav"
    shutil.copy(pop909_db["vocals"]["pop909-211"], mine)
    before = ready(pg)
    pg.set_input_files("#mashup-vocal-upload", str(mine))
    found = wait_new_search(pg, before)
    assert found["vocal"]["name"] == "my vocal.wav" and found["vocal"]["song"] is None and found["results"]
    assert all(set(r["terms"]) >= {"harmonic", "rhythmic", "spectral"} for r in found["results"])  # explained
    assert pg.eval_on_selector("#mashup-vocal", "s => s.selectedOptions[0].textContent") == "my vocal.wav"
    # the library, called with the same vocal and settings, finds the same accompaniments
    lib = retrieve(pop909_db["db"], mine, top=5, scorer="premixnet", seconds=SECONDS, explain=True)
    assert len(found["results"]) == len(lib["results"])
    for page_row, lib_row in zip(found["results"], lib["results"]):  # scores: PyTorch's sums may differ in the last bits
        assert page_row["score"] == pytest.approx(lib_row["score"], abs=1e-3)
        assert {k: v for k, v in page_row.items() if k not in ("download", "score")} == \
            {k: v for k, v in lib_row.items() if k != "score"}

    # play mashup 1: the AudioContext runs, its clock and the playhead advance
    bench = "#panel-mashup .mashbench"
    before_wave = pg.eval_on_selector(f"{bench} .wave canvas", "c => c.toDataURL()")
    pg.click(f"{bench} .results tr[data-rank='1'] .play-row")
    pg.wait_for_function("() => window.studio.audio && window.studio.audio.state === 'running'"
                         " && window.studio.benches.mashup.playing")
    t0 = pg.evaluate("window.studio.audio.currentTime")
    head0 = float(pg.get_attribute(bench, "data-playhead") or 0)
    pg.wait_for_timeout(800)
    assert pg.evaluate("window.studio.audio.state") == "running"
    assert pg.evaluate("window.studio.audio.currentTime") > t0 + 0.4
    assert float(pg.get_attribute(bench, "data-playhead")) > head0 + 0.4
    assert pg.get_attribute(f"{bench} .results tr[data-rank='1'] .play-row", "aria-pressed") == "true"
    assert pg.eval_on_selector(f"{bench} .wave canvas", "c => c.toDataURL()") != before_wave  # the stems drawn
    # mute and solo a stem
    audible = "['vocals', 'harmonic', 'percussion'].map(r => window.studio.benches.mashup.audible(r))"
    pg.click(f"{bench} .tracks button[aria-label='Mute vocals']")
    assert pg.evaluate(audible) == [False, True, True]
    pg.click(f"{bench} .tracks button[aria-label='Solo percussion']")
    assert pg.evaluate(audible) == [False, False, True]
    pg.click(f"{bench} .tracks button[aria-label='Solo percussion']")
    pg.click(f"{bench} .tracks button[aria-label='Mute vocals']")
    assert pg.evaluate(audible) == [True, True, True]
    screenshot(pg, "mashup")
    pg.click(f"{bench} .play")  # pause
    assert pg.get_attribute(f"{bench} .play", "aria-pressed") == "false"

    # download it: the WAV equals the library's render of the same result
    with pg.expect_download() as dl:
        pg.click(f"{bench} .download-wav")
    dl.value.save_as(tmp_path / "mashup.wav")
    got, sr = sf.read(tmp_path / "mashup.wav", dtype="float32")
    audio, lib_sr = render_retrieved(pop909_db["db"], lib, rank=1)
    assert sr == lib_sr and dl.value.suggested_filename == "mashup-1.wav"
    np.testing.assert_array_equal(got, audio["mix"])
    # the row's own link gives the same file
    href = pg.get_attribute(f"{bench} .results tr[data-rank='1'] .download-row", "href")
    same = pg.evaluate("(u) => fetch(u).then(r => r.arrayBuffer()).then(b => Array.from(new Uint8Array(b)))", href)
    np.testing.assert_array_equal(sf.read(io.BytesIO(bytes(same)), dtype="float32")[0], audio["mix"])


def test_bad_vocal_uploads_show_one_line_and_the_server_keeps_serving(page, server, tmp_path):
    pg = page
    wait_new_search(pg, "")
    huge = tmp_path / "long.wav"
    with open(huge, "wb") as f:  # over the 50 MB limit (sparse: nothing is really written)
        f.truncate(50 * 1024 * 1024 + 1)
    silent = io.BytesIO()
    sf.write(silent, np.zeros(8 * 16000, np.float32), 16000, format="WAV")
    bad = [
        ({"name": "corrupt.wav", "buffer": b"RIFF\x10\x00\x00\x00WAVEfmt junk that is no audio"}, "corrupt.wav: "),
        ({"name": "empty.wav", "buffer": b""}, "empty.wav: the file is empty"),
        (str(huge), "long.wav: too large"),
        ({"name": "lyrics.txt", "buffer": b"la la la"}, "lyrics.txt: unsupported format .txt"),
        ({"name": "tune.mid", "buffer": b"MThd\x00\x00\x00\x06"}, "tune.mid: unsupported format .mid"),
        ({"name": "silence.wav", "buffer": silent.getvalue()}, "silence.wav: is silent"),
    ]
    options = pg.locator("#mashup-vocal option").count()
    chosen = pg.input_value("#mashup-vocal")
    before_files = sorted(p.name for p in server["tmp"].rglob("*"))
    for f, needle in bad:
        files = f if isinstance(f, str) else [{**f, "mimeType": "application/octet-stream"}]
        pg.set_input_files("#mashup-vocal-upload", files=files)
        pg.wait_for_function("(n) => document.querySelector('#panel-mashup .error').textContent.startsWith(n)",
                             arg=needle)
        msg = pg.text_content("#panel-mashup .error")
        assert "\n" not in msg and len(msg) < 300 and str(server["tmp"]) not in msg, msg
        assert pg.locator("#mashup-vocal option").count() == options and pg.input_value("#mashup-vocal") == chosen
    assert sorted(p.name for p in server["tmp"].rglob("*")) == before_files  # nothing written, nothing left
    assert pg.evaluate("fetch('/api/mashup/vocals').then(r => r.status)") == 200
    assert server["proc"].poll() is None


def test_mashup_tab_is_accessible_and_fits_a_narrow_window(page):
    pg = page
    wait_new_search(pg, "")
    pg.click("#panel-mashup .results tr[data-rank='1'] .play-row")
    pg.wait_for_selector("#panel-mashup .mashbench[data-loaded]")
    pg.click("#panel-mashup .play")  # pause
    assert axe_violations(pg) == []
    assert unreached_by_tab(pg, "mashup") == []
    # the result rows' buttons are reached and pressed from the keyboard
    pg.focus("#panel-mashup .results tr[data-rank='1'] .play-row")
    pg.keyboard.press("Enter")
    pg.wait_for_function("() => window.studio.benches.mashup.playing")
    pg.keyboard.press("Enter")
    pg.wait_for_function("() => !window.studio.benches.mashup.playing")
    pg.set_viewport_size({"width": 390, "height": 844})
    pg.wait_for_timeout(200)
    assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    for sel in ("#mashup-vocal", "#mashup-vocal-upload", "#panel-mashup .play", "#panel-mashup .wave canvas",
                "#panel-mashup .results"):
        box = pg.locator(sel).bounding_box()
        assert box and box["width"] > 0 and box["x"] >= 0 and box["x"] + box["width"] <= 391, (sel, box)
    assert axe_violations(pg) == []

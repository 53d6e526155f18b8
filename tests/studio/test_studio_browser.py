"""The studio in a real headless Chromium (Debian's, driven by Playwright) against a real uvicorn server.

For each tab: load the page, upload files, move a control, see the piano roll change, play (the
AudioContext runs and its clock advances), mute, solo, A/B, download MIDI and compare its notes with
what the CLI writes for the same inputs and controls; bad uploads show one line in the page; axe-core
finds no serious or critical violation; the page fits 1280x800 and a narrow window. Screenshots of each
tab go to docs/images/studio-*.png. Without a MashupDB the mashup tab says how to get one (the tab
itself: test_studio_mashup.py).

Nothing is downloaded at run time: the browser is /usr/bin/chromium (apt packages chromium and
chromium-driver, installed by `make`), never a Playwright browser build.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from collage import examples
from collage.io import read

from cli_helpers import run
from studio_browser import axe_violations, launch, open_page, screenshot, start_studio, sync_api, unreached_by_tab

api = sync_api()
MEL, ACC = str(examples.path("melody")), str(examples.path("accompaniment"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``collage studio`` on 127.0.0.1 and a free port; its temporary folder under a test-owned TMPDIR."""
    with start_studio(tmp_path_factory.mktemp("studio-server-tmp")) as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    with launch(api) as b:
        yield b


@pytest.fixture
def page(browser, server):
    with open_page(browser, server["url"]) as pg:
        yield pg


# helpers --------------------------------------------------------------------------------------------------
def ready(pg, tool: str) -> str:
    return pg.get_attribute(f"#panel-{tool} .workbench", "data-ready") or ""


def wait_new_result(pg, tool: str, before: str) -> None:
    pg.wait_for_function(
        "([tool, before]) => { const w = document.querySelector(`#panel-${tool} .workbench`);"
        " return w.dataset.ready && w.dataset.ready !== before; }", arg=[tool, before])
    assert pg.text_content(f"#panel-{tool} .error") == "", pg.text_content(f"#panel-{tool} .error")


def roll(pg, tool: str, which: str = "b") -> str:
    return pg.eval_on_selector(f"#panel-{tool} .roll-{which} canvas", "c => c.toDataURL()")


def press_slider(pg, tool: str, selector: str, key: str) -> None:
    """Move a slider from the keyboard (focus, then a key): the change re-runs the tool."""
    before = ready(pg, tool)
    pg.focus(selector)
    pg.keyboard.press(key)
    wait_new_result(pg, tool, before)


def check_playback(pg, tool: str) -> None:
    """Play: the AudioContext runs, its clock and the playhead advance; then pause."""
    bench = f"#panel-{tool} .workbench"
    pg.click(f"{bench} .play")
    pg.wait_for_function("() => window.studio.audio && window.studio.audio.state === 'running'")
    t0 = pg.evaluate("window.studio.audio.currentTime")
    head0 = float(pg.get_attribute(bench, "data-playhead") or 0)
    pg.wait_for_timeout(700)
    assert pg.evaluate("window.studio.audio.state") == "running"
    assert pg.evaluate("window.studio.audio.currentTime") > t0 + 0.3
    assert float(pg.get_attribute(bench, "data-playhead")) > head0 + 0.3
    assert pg.get_attribute(f"{bench} .play", "aria-pressed") == "true"


def check_mute_solo_ab(pg, tool: str) -> None:
    bench = f"#panel-{tool} .workbench"
    mute = pg.locator(f"{bench} .tracks button.mute").first
    before = roll(pg, tool)
    mute.click()
    assert mute.get_attribute("aria-pressed") == "true"
    assert roll(pg, tool) != before  # the muted track's notes are drawn dimmed
    audible = (f"(() => {{ const b = window.studio.benches['{tool}'];"
               f" return b.views.B.tracks.map((t, i) => b.audible('B', i)); }})()")
    assert pg.evaluate(audible)[0] is False
    mute.click()
    solo = pg.locator(f"{bench} .tracks button.solo").last
    solo.click()
    assert solo.get_attribute("aria-pressed") == "true"
    got = pg.evaluate(audible)
    assert got == [False] * (len(got) - 1) + [True]
    solo.click()
    assert all(pg.evaluate(audible))
    pg.click(f"{bench} .ab-a")
    assert pg.get_attribute(f"{bench} .ab-a", "aria-pressed") == "true"
    assert "audible" in pg.get_attribute(f"{bench} .roll-a", "class")
    assert pg.evaluate(f"window.studio.benches['{tool}'].source") == "A"
    pg.click(f"{bench} .ab-b")
    assert pg.evaluate(f"window.studio.benches['{tool}'].source") == "B"
    pg.click(f"{bench} .play")  # pause
    assert pg.get_attribute(f"{bench} .play", "aria-pressed") == "false"


def download_midi(pg, tool: str, path: Path) -> dict:
    with pg.expect_download() as dl:
        pg.click(f"#panel-{tool} .download-midi")
    dl.value.save_as(path)
    return notes_of(path)


def notes_of(path) -> dict:
    return {t.name: t.notes for t in read(path).tracks}


def assert_same(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


# tests ----------------------------------------------------------------------------------------------------
def test_fuse_tab(page, tmp_path, capsys):
    pg = page
    before_roll = roll(pg, "fuse")
    press_slider(pg, "fuse", "#fuse-keep-pitch", "End")  # keep pitch -> 1.0
    assert pg.input_value("#fuse-keep-pitch") == "1"
    press_slider(pg, "fuse", "#fuse-keep-rhythm", "Home")  # keep rhythm -> 0.0
    assert roll(pg, "fuse") != before_roll
    assert pg.locator("#panel-fuse .judge td").count() >= 3 * 7
    check_playback(pg, "fuse")
    check_mute_solo_ab(pg, "fuse")
    # loop bars 2..3: the playhead stays inside them
    pg.check("#panel-fuse .loop")
    pg.fill("#panel-fuse .loop-from", "2")
    pg.fill("#panel-fuse .loop-to", "3")
    pg.press("#panel-fuse .loop-to", "Tab")
    pg.click("#panel-fuse .play")
    pg.wait_for_timeout(600)
    head = float(pg.get_attribute("#panel-fuse .workbench", "data-playhead"))
    assert 2.4 - 0.05 <= head <= 7.2 + 0.05, head  # bars 2-3 at 100 qpm in 4/4: 2.4 s .. 7.2 s
    pg.click("#panel-fuse .play")
    pg.uncheck("#panel-fuse .loop")
    screenshot(pg, "fuse")

    got = download_midi(pg, "fuse", tmp_path / "studio.mid")
    rc, _, err = run(capsys, "fuse", MEL, ACC, "-o", tmp_path / "cli.mid", "--keep-pitch", 1, "--keep-rhythm", 0)
    assert rc == 0, err
    assert_same(got, notes_of(tmp_path / "cli.mid"))
    assert pg.get_attribute("#panel-fuse .download-wav", "href").endswith(".wav")


def test_fuse_tab_uploads_and_methods(page, tmp_path, capsys):
    pg = page
    tune = tmp_path / "my tune.mid"
    shutil.copy(ACC, tune)  # the accompaniment as the melody: its top line
    before = ready(pg, "fuse")
    pg.set_input_files("#fuse-melody-upload", str(tune))
    wait_new_result(pg, "fuse", before)
    assert pg.eval_on_selector("#fuse-melody", "s => s.selectedOptions[0].textContent") == "my tune.mid"
    before = ready(pg, "fuse")
    pg.select_option("#fuse-method", "rule")
    wait_new_result(pg, "fuse", before)
    assert "fused with rule" in pg.text_content("#panel-fuse .status")
    got = download_midi(pg, "fuse", tmp_path / "studio.mid")
    rc, _, err = run(capsys, "fuse", tune, ACC, "-o", tmp_path / "cli.mid", "--method", "rule")
    assert rc == 0, err
    assert_same(got, notes_of(tmp_path / "cli.mid"))


def test_a_held_slider_is_fused_before_its_release(page):
    pg = page
    box = pg.locator("#fuse-keep-chord").bounding_box()
    y = box["y"] + box["height"] / 2
    before = ready(pg, "fuse")
    pg.mouse.move(box["x"] + box["width"] * 0.5, y)
    pg.mouse.down()
    pg.mouse.move(box["x"] + box["width"] * 0.85, y, steps=5)
    pg.wait_for_timeout(1500)  # resting on the value: the page asks for it before the release
    pg.mouse.up()
    wait_new_result(pg, "fuse", before)
    value = float(pg.input_value("#fuse-keep-chord"))
    assert value > 0.6
    last = pg.evaluate("window.studio.timings[window.studio.timings.length - 1]")
    assert last["head_start"] is True, last
    assert pg.evaluate("window.studio.results.fuse.summary.controls.chord") == value


def test_fuse_tab_multitrack_accompaniment(page, tmp_path, capsys):
    import dataclasses

    from collage.io import save

    pg = page
    acc = read(ACC)
    strings = dataclasses.replace(acc.tracks[0], name="STRINGS", program=48,
                                  notes=acc.tracks[0].notes[::2].copy())
    band = save(dataclasses.replace(acc, tracks=[acc.tracks[0], strings]), tmp_path / "band.mid")
    before = ready(pg, "fuse")
    pg.set_input_files("#fuse-accompaniment-upload", str(band))
    wait_new_result(pg, "fuse", before)
    assert pg.locator("#fuse-accompaniment-track input[type=checkbox]").count() == 2
    before = ready(pg, "fuse")
    pg.get_by_label("STRINGS").check()
    wait_new_result(pg, "fuse", before)
    got = download_midi(pg, "fuse", tmp_path / "studio.mid")
    rc, _, err = run(capsys, "fuse", MEL, band, "-o", tmp_path / "cli.mid", "--accomp-track", "STRINGS")
    assert rc == 0, err
    assert_same(got, notes_of(tmp_path / "cli.mid"))


BAD = [
    ("corrupt.mid", b"not a MIDI file at all", "corrupt.mid: "),
    ("empty.mid", b"", "empty.mid: the file is empty"),
    ("huge.mid", b"MThd" + b"\0" * (5 * 1024 * 1024), "huge.mid: too large"),
    ("notes.txt", b"hello", "notes.txt: unsupported format .txt"),
]


def test_bad_uploads_show_one_line_and_the_server_keeps_serving(page, server):
    pg = page
    before_files = sorted(p.name for p in server["tmp"].rglob("*"))
    for name, data, needle in BAD:
        pg.set_input_files("#fuse-melody-upload", files=[{"name": name, "mimeType": "application/octet-stream",
                                                          "buffer": data}])
        pg.wait_for_function("(n) => document.querySelector('#panel-fuse .error').textContent.startsWith(n)",
                             arg=needle)
        msg = pg.text_content("#panel-fuse .error")
        assert "\n" not in msg and len(msg) < 300, msg
        assert pg.eval_on_selector("#fuse-melody", "s => s.value") == "example-melody"
    assert sorted(p.name for p in server["tmp"].rglob("*")) == before_files  # nothing written, nothing left
    assert pg.evaluate("fetch('/api/examples').then(r => r.status)") == 200
    screenshot(pg, "error")


def test_join_tab(page, tmp_path, capsys):
    pg = page
    pg.click("#tab-join")
    pg.wait_for_selector("#panel-join .workbench[data-ready]")
    before_roll = roll(pg, "join")
    press_slider(pg, "join", "#join-left-pitch", "End")
    press_slider(pg, "join", "#join-right-rhythm", "Home")
    before = ready(pg, "join")
    pg.select_option("#join-actor", "join_actor_lam0.1")  # the lowest distance weight moves the phrases most
    wait_new_result(pg, "join", before)
    assert roll(pg, "join") != before_roll
    assert "seam" in pg.text_content("#panel-join .status")
    check_playback(pg, "join")
    check_mute_solo_ab(pg, "join")
    screenshot(pg, "join")
    got = download_midi(pg, "join", tmp_path / "studio.mid")
    rc, _, err = run(capsys, "join", MEL, MEL, "-o", tmp_path / "cli.mid", "--style", 1, "--style", 0.5,
                     "--style", 0.5, "--style", 0, "--lam", 0.1)
    assert rc == 0, err
    assert_same(got, notes_of(tmp_path / "cli.mid"))


def test_arrange_tab(page, tmp_path, capsys):
    pg = page
    pg.click("#tab-arrange")
    pg.wait_for_selector("#panel-arrange .workbench[data-ready]")
    before_roll = roll(pg, "arrange")
    before = ready(pg, "arrange")
    pg.select_option("#arrange-model", "zone")
    wait_new_result(pg, "arrange", before)
    assert roll(pg, "arrange") != before_roll
    before = ready(pg, "arrange")
    pg.set_input_files("#arrange-piece-upload", MEL)
    wait_new_result(pg, "arrange", before)
    before = ready(pg, "arrange")
    pg.select_option("#arrange-piece", "example-accompaniment")
    wait_new_result(pg, "arrange", before)
    assert pg.locator("#panel-arrange .tracks li").count() == 4  # soprano, alto, tenor, bass
    check_playback(pg, "arrange")
    check_mute_solo_ab(pg, "arrange")
    screenshot(pg, "arrange")
    got = download_midi(pg, "arrange", tmp_path / "studio.mid")
    rc, _, err = run(capsys, "arrange", ACC, "-o", tmp_path / "cli.mid", "--ensemble", "satb", "--model", "zone")
    assert rc == 0, err
    assert_same(got, notes_of(tmp_path / "cli.mid"))


def test_accessible_and_keyboard_reachable(page):
    pg = page
    for tool in ("fuse", "join", "arrange"):
        pg.click(f"#tab-{tool}")
        pg.wait_for_selector(f"#panel-{tool} .workbench[data-ready]")
        assert axe_violations(pg) == [], tool
        assert unreached_by_tab(pg, tool) == [], tool  # every visible control of the tab is reached with Tab
    # the tabs themselves: arrow keys move between them
    pg.focus("#tab-mashup")
    pg.keyboard.press("ArrowRight")
    assert pg.get_attribute("#tab-fuse", "aria-selected") == "true"


def test_mashup_tab_without_a_db_says_how_to_get_one(page):
    pg = page
    pg.click("#tab-mashup")
    line = pg.text_content("#panel-mashup .no-db")
    assert pg.is_visible("#panel-mashup .no-db") and "collage studio --db" in line and "\n" not in line, line
    assert pg.evaluate("fetch('/api/info').then(r => r.json()).then(j => j.mashup.no_db)") == line
    assert not pg.is_visible("#mashup-vocal") and pg.text_content("#panel-mashup .error") == ""
    assert axe_violations(pg) == []


def test_narrow_window(page):
    pg = page
    pg.set_viewport_size({"width": 390, "height": 844})
    pg.wait_for_timeout(200)
    assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    for sel in ("#fuse-keep-pitch", "#panel-fuse .play", "#panel-fuse .roll-b canvas", "#panel-fuse .download-midi"):
        box = pg.locator(sel).bounding_box()
        assert box and box["width"] > 0 and box["x"] >= 0 and box["x"] + box["width"] <= 391, (sel, box)
    assert axe_violations(pg) == []
    screenshot(pg, "narrow")

"""What the studio's browser tests share: Debian's Chromium driven by Playwright, a real ``collage studio``
server, axe-core, screenshots.

Importable from any test module (``pythonpath = ["tests"]`` in pyproject.toml)::

    from studio_browser import CHROMIUM, axe_violations, launch, open_page, screenshot, start_studio

Nothing is downloaded at run time: the browser is /usr/bin/chromium (apt packages chromium and
chromium-driver, installed by `make`), never a Playwright browser build.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--autoplay-policy=no-user-gesture-required",
         "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
#: where the screenshots go: a temporary folder, or the documentation's when asked for
#: (``COLLAGE_STUDIO_SCREENSHOTS=docs/images python -m pytest tests/studio``), so that a test run
#: does not rewrite committed files
IMAGES = Path(os.environ.get("COLLAGE_STUDIO_SCREENSHOTS") or Path(os.environ.get("TMPDIR", "/tmp")) /
              "collage-studio-screenshots")
TIMEOUT_MS = 120_000


def sync_api():
    """Playwright's sync API; skips the module's tests without Chromium or Playwright."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium chromium-driver; `make test` does)",
                    allow_module_level=True)
    return pytest.importorskip("playwright.sync_api")


@contextmanager
def start_studio(tmp: Path, *args: str):
    """``collage studio --no-browser ARGS`` on 127.0.0.1 and a free port, its temporary folder under ``tmp``:
    ``{"url", "tmp", "proc"}``; stopped with Ctrl+C (SIGINT) at the end."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-m", "collage.cli", "studio", "--no-browser", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    if not line.startswith("collage studio at "):
        proc.kill()
        pytest.fail(f"the studio did not start: {line}{proc.stderr.read()}")
    try:
        yield {"url": line.split()[3], "tmp": tmp, "proc": proc}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


@contextmanager
def launch(api):
    with api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield b
        finally:
            b.close()


@contextmanager
def open_page(browser, url: str, ready: str = "#panel-fuse .workbench[data-ready]"):
    """A 1280x800 page of the studio at ``url``, loaded until ``ready`` shows; fails on any script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(url)
    pg.wait_for_selector(ready)
    try:
        yield pg
    finally:
        context.close()
    assert not errors, errors


def axe_violations(pg) -> list:
    """axe-core's (vendored) violations of serious or critical impact on the page as it is."""
    if not pg.evaluate("typeof window.axe !== 'undefined'"):
        pg.add_script_tag(url="/static/vendor/axe.min.js")
    found = pg.evaluate("async () => (await axe.run(document)).violations"
                        ".map(v => ({id: v.id, impact: v.impact, n: v.nodes.length, help: v.help}))")
    return [v for v in found if v["impact"] in ("serious", "critical")]


def unreached_by_tab(pg, tool: str) -> list[str]:
    """The visible, enabled controls of ``tool``'s panel that pressing Tab from its tab never focuses."""
    controls = pg.evaluate(f"""() => Array.from(document.querySelectorAll(
        '#panel-{tool} input, #panel-{tool} select, #panel-{tool} button, #panel-{tool} a[href]'))
        .filter(e => e.offsetParent !== null && e.getAttribute('aria-disabled') !== 'true')
        .map((e, i) => {{ e.dataset.kb = String(i); return String(i); }})""")
    pg.focus(f"#tab-{tool}")
    seen = set()
    for _ in range(len(controls) + 40):
        pg.keyboard.press("Tab")
        kb = pg.evaluate("document.activeElement && document.activeElement.dataset.kb")
        if kb is not None:
            seen.add(kb)
    return sorted(set(controls) - seen)


def screenshot(pg, name: str) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(IMAGES / f"studio-{name}.png"), full_page=True)

"""Load and latency of ``collage studio`` on this machine, against 127.0.0.1 only.

1. 50 concurrent fuse requests (bundled 8-bar examples, 50 clients, different controls): every one
   answers 200, the server is still up afterwards; p50/p95/max latency.
2. A long song (POP909 001's melody, 3:14, over 002's piano) being fused while short requests keep
   coming: the short ones' latencies during the long fusion, and the progress stages it reported.
3. In Chromium (Playwright over /usr/bin/chromium; skipped without it): slider released -> the new
   result drawn and its audio playable (sample banks decoded), for the 8-bar demo and the 3-minute song.

Usage::

    python benchmarks/studio_load.py                       # writes docs/results/studio.md
    python benchmarks/studio_load.py --requests 50 --repeats 10 --out docs/results/studio.md

Every request loop is bounded in count and time; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import loadavg, machine, version  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
POP909 = ROOT.parent / "shared" / "data" / "pop909"
LONG_MELODY, LONG_ACCOMP = "001", "002"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]


def start_server() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "collage.cli", "studio", "--no-browser"],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    line = proc.stdout.readline()
    if not line.startswith("collage studio at http://127.0.0.1:"):
        proc.kill()
        raise SystemExit(f"the studio did not start: {line!r}")
    return proc, line.split()[3].rstrip("/")


def post(url: str, body: dict | bytes, headers: dict | None = None, timeout: float = 600) -> tuple[int, dict, float]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    h = {"Content-Type": "application/json", **(headers or {})}
    req = urllib.request.Request(url, data=data, headers=h, method="POST")
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            out = json.load(r)
            status = r.status
    except urllib.error.HTTPError as e:
        out, status = json.load(e), e.code
    return status, out, time.perf_counter() - t


def get(url: str, timeout: float = 60) -> tuple[int, float]:
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=timeout) as r:
        r.read()
        return r.status, time.perf_counter() - t


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def upload(base: str, path: Path) -> str:
    status, out, _ = post(f"{base}/api/upload", path.read_bytes(), {"X-Filename": path.name,
                                                                    "Content-Type": "application/octet-stream"})
    if status != 200:
        raise SystemExit(f"upload of {path} failed: {out}")
    return out["id"]


def concurrent_fuses(base: str, n: int) -> dict:
    post(f"{base}/api/fuse", {"client": "warm-up"})  # loads the models once

    def one(i: int):
        return post(f"{base}/api/fuse", {"client": f"load-{i}", "keep_pitch": (i % 21) / 20,
                                         "keep_texture": ((i * 7) % 21) / 20}, timeout=300)

    t = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(one, range(n)))
    wall = time.perf_counter() - t
    lat = [r[2] for r in results]
    ok = sum(r[0] == 200 for r in results)
    alive = get(f"{base}/api/examples")[0] == 200
    return {"n": n, "ok": ok, "alive": alive, "wall_s": wall, "p50_s": pct(lat, 0.5), "p95_s": pct(lat, 0.95),
            "max_s": max(lat)}


def during_long_fusion(base: str, mel_id: str, acc_id: str) -> dict:
    long_result = {}
    stages: list[str] = []

    def long_fuse():
        long_result["status"], out, long_result["s"] = post(
            f"{base}/api/fuse", {"client": "long", "melody": mel_id, "accompaniment": acc_id})
        long_result["beats"] = out.get("summary", {}).get("n_beats")

    th = threading.Thread(target=long_fuse)
    t0 = time.perf_counter()
    th.start()
    short_fuse, short_get = [], []
    deadline = time.perf_counter() + 600
    while th.is_alive() and time.perf_counter() < deadline:
        with urllib.request.urlopen(f"{base}/api/progress?client=long", timeout=30) as r:
            p = json.load(r)
        label = p["stage"] + (f" {p['done']} of {p['total']}" if "total" in p else "")  # counted stages
        if p["stage"] != "idle" and (not stages or stages[-1] != label):
            stages.append(label)
        short_get.append(get(f"{base}/api/examples")[1])
        status, _, s = post(f"{base}/api/fuse", {"client": "short", "keep_pitch": 0.3})
        if th.is_alive():
            short_fuse.append((status, s))
    th.join()
    return {"long_s": long_result.get("s"), "long_status": long_result.get("status"),
            "long_beats": long_result.get("beats"), "wall_s": time.perf_counter() - t0, "stages": stages,
            "short_fuse": [s for _, s in short_fuse], "short_fuse_ok": sum(st == 200 for st, _ in short_fuse),
            "short_get": short_get}


def browser_latency(base: str, repeats: int, long_files: tuple[Path, Path] | None) -> dict | str:
    if not os.path.exists(CHROMIUM):
        return f"skipped: {CHROMIUM} is not installed"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "skipped: playwright is not installed"
    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(600_000)
        page.goto(base + "/")
        page.wait_for_selector("#panel-fuse .workbench[data-ready]")

        def last_timing(before: int) -> dict:
            page.wait_for_function("(n) => window.studio.timings.length > n", arg=before)
            return page.evaluate("window.studio.timings[window.studio.timings.length - 1]")

        def key_steps(selector: str, key: str, n: int) -> list[dict]:
            """Keyboard steps: the change comes with the key, so the request starts at the change."""
            times = []
            for _ in range(n):
                before = page.evaluate("window.studio.timings.length")
                page.focus(selector)
                page.keyboard.press(key)
                times.append(last_timing(before))
            return times

        def drags(selector: str, n: int, hold_ms: int) -> list[dict]:
            """Mouse drags to a new value, resting ``hold_ms`` on it before the release."""
            times = []
            box = page.locator(selector).bounding_box()
            y = box["y"] + box["height"] / 2
            for i in range(n):
                before = page.evaluate("window.studio.timings.length")
                page.mouse.move(box["x"] + box["width"] * (0.5 if i % 2 else 0.45), y)
                page.mouse.down()
                page.mouse.move(box["x"] + box["width"] * (0.05 + 0.09 * i), y, steps=4)
                page.wait_for_timeout(hold_ms)
                page.mouse.up()
                times.append(last_timing(before))
            return times

        key_steps("#fuse-keep-texture", "ArrowRight", 2)  # warm: models and sample banks loaded
        out["demo_keys"] = key_steps("#fuse-keep-pitch", "ArrowRight", min(repeats, 10))  # 0.55 .. 1.0: new values
        out["demo_drags"] = drags("#fuse-keep-rhythm", min(repeats, 10), hold_ms=300)
        if long_files is not None:
            for sel, path in (("#fuse-melody-upload", long_files[0]), ("#fuse-accompaniment-upload", long_files[1])):
                before = page.evaluate("window.studio.timings.length")
                page.set_input_files(sel, str(path))
                last_timing(before)
            out["long_keys"] = key_steps("#fuse-keep-pitch", "ArrowLeft", max(3, repeats // 3))
        browser.close()
    return out


def stats(xs: list[float]) -> str:
    if not xs:
        return "none"
    return (f"median {statistics.median(xs) * 1000:.0f} ms, p95 {pct(xs, 0.95) * 1000:.0f} ms, "
            f"max {max(xs) * 1000:.0f} ms (n={len(xs)})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=10, help="slider moves timed in the browser (8-bar demo)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "studio.md")
    args = ap.parse_args(argv)
    if not 1 <= args.requests <= 200:
        raise SystemExit("--requests: 1..200")

    long_files = None
    if (POP909 / LONG_MELODY / f"{LONG_MELODY}.mid").exists():
        long_files = (POP909 / LONG_MELODY / f"{LONG_MELODY}.mid", POP909 / LONG_ACCOMP / f"{LONG_ACCOMP}.mid")
    proc, base = start_server()
    try:
        load = concurrent_fuses(base, args.requests)
        print(f"concurrent: {load}", flush=True)
        long = None
        if long_files is not None:
            long = during_long_fusion(base, upload(base, long_files[0]), upload(base, long_files[1]))
            print(f"long: { {k: v for k, v in long.items() if k not in ('short_get', 'short_fuse')} }", flush=True)
        lat = browser_latency(base, args.repeats, long_files)
        print(f"browser: {lat}", flush=True)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)

    lines = [
        "# collage studio: load and latency",
        "",
        "`python benchmarks/studio_load.py` starts `collage studio` on 127.0.0.1 and measures it; every",
        "request goes to this machine only. Fusion runs in the server's two worker threads (one CPU thread",
        "each), off the event loop; the page polls a long request's progress (counted stages: windows fused, rated).",
        "",
        f"Machine: {machine()}; load average at the end {loadavg()} (the machine is shared: a model trains",
        f"in the background). starlette {version('starlette')}, uvicorn {version('uvicorn')}, "
        f"Chromium `{CHROMIUM}`.",
        "",
        f"## {load['n']} concurrent fuse requests (8-bar examples, {load['n']} clients, varied controls)",
        "",
        "| answered 200 | server up after | wall | p50 | p95 | max |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| {load['ok']} of {load['n']} | {'yes' if load['alive'] else 'NO'} | {load['wall_s']:.2f} s | "
        f"{load['p50_s']:.2f} s | {load['p95_s']:.2f} s | {load['max_s']:.2f} s |",
        "",
        "The requests queue for the two worker threads, so the latency grows with the queue: p95 is",
        "about the time to fuse all of them two at a time.",
        "",
    ]
    if long is not None:
        lines += [
            f"## Requests during a long fusion (POP909 {LONG_MELODY} melody over {LONG_ACCOMP} piano, "
            f"{long['long_beats']} beats)",
            "",
            f"- the long fusion: HTTP {long['long_status']} after {long['long_s']:.2f} s; progress stages "
            f"reported: {', '.join(long['stages']) or 'none seen'}",
            f"- `GET /api/examples` during it: {stats(long['short_get'])}",
            f"- 8-bar fuse requests during it ({long['short_fuse_ok']} answered 200): {stats(long['short_fuse'])}",
            "",
        ]
    lines += ["## Slider released -> new audio playable, measured in Chromium", ""]
    if isinstance(lat, str):
        lines += [f"{lat}.", ""]
    else:
        def row(name: str, xs: list[dict]) -> str:
            ms = [x["ms"] / 1000 for x in xs]
            fetch = statistics.median(x["fetch_ms"] for x in xs)
            head = sum(bool(x["head_start"]) for x in xs)
            return f"| {name} | {stats(ms)} | {fetch:.0f} ms | {head} of {len(xs)} |"

        lines += [
            "From the release (the slider's `change` event) to the new result drawn with every instrument's",
            "samples decoded, as the page records it (`window.studio.timings`), after a warm-up. A keyboard",
            "step changes the value and releases at once, so its request starts at the release. A mouse",
            "drag that rests on its value (here 300 ms) before the release lets the page ask for that value",
            "while the button is still down (after 120 ms of rest); the release then uses that answer.",
            "Every value asked for is new to the server (no answer is reused across moves).",
            "",
            "| what | release -> new audio playable | server's answer after the release (median) | asked for before the release |",
            "| --- | --- | --- | --- |",
            row("8-bar demo, keyboard steps", lat["demo_keys"]),
            row("8-bar demo, mouse drags resting 300 ms", lat["demo_drags"]),
        ]
        if "long_keys" in lat:
            lines.append(row(f"3-minute song (POP909 {LONG_MELODY} melody over {LONG_ACCOMP} piano), keyboard steps",
                             lat["long_keys"]))
        med_keys = statistics.median(x["ms"] for x in lat["demo_keys"])
        med_drag = statistics.median(x["ms"] for x in lat["demo_drags"])
        lines += ["", f"Target for the 8-bar demo, <= 300 ms: median {med_keys:.0f} ms for keyboard steps "
                      f"({'met' if med_keys <= 300 else 'NOT met'}), {med_drag:.0f} ms for mouse drags "
                      f"({'met' if med_drag <= 300 else 'NOT met'}). The server's share is the fusion itself "
                      "(`collage.fuse` with the harmony judge); the page's own work (drawing, scheduling) "
                      "is a few milliseconds.", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The studio's HTTP API and page (Starlette), over the public API.

Routes (JSON unless said otherwise; an error is ``{"error": "<one line>"}`` with a 4xx status):

- ``GET /``: the page; ``GET /static/...``: its scripts, styles and vendored libraries.
- ``GET /api/info``: limits, methods, shipped join actors, arrangement ensembles and models.
- ``GET /api/examples``: the bundled examples (ids usable like uploads).
- ``POST /api/upload`` (body: the file's bytes; header ``X-Filename``: its name, for the
  suffix and messages only): a MIDI, MusicXML or ABC file of at most :data:`MAX_UPLOAD_BYTES`.
- ``GET /api/files/{id}``: an upload's notes.
- ``POST /api/fuse``, ``/api/join``, ``/api/arrange``: run the library call; the inputs' and
  the result's notes, the summary, and download links.
- ``GET /api/progress?client=C``: what client C's running request is doing.
- ``GET /api/results/{id}.mid`` / ``.wav``: a result as MIDI or audio.
- ``GET /api/samples/{program}.wav``: an instrument's sample bank for the page's player.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial
from pathlib import Path
from urllib.parse import unquote

import anyio
import numpy as np
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from collage import examples
from collage.arrangement import ENSEMBLES
from collage.arrangement.pipeline import DEFAULT_METHOD, METHODS as ARRANGE_METHODS, NEURAL, arrange, load_arrange_model
from collage.audio.render import check_renderer, render
from collage.errors import CollageError, InvalidInputError, ParameterError
from collage.fusion.horizontal import STYLE_NAMES, JoinModels, actor_for_lam, join
from collage.fusion.vertical import METHODS as FUSE_METHODS, FusionModels, fuse
from collage.io import read, save
from collage.piece import Piece, Tempo, Track
from collage.pretrained import load_card, load_pretrained, shipped_names
from collage.studio.store import UPLOAD_SUFFIXES, Store, Upload, display_name, piece_json, suffix_of
from collage.studio.work import ModelCache, Superseded, Worker

__all__ = ["create_app", "serve", "MAX_UPLOAD_BYTES"]

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # 5 MiB: a long multitrack MIDI file is well under 1 MiB
STATIC = Path(__file__).parent / "static"
CONTROLS = ("pitch", "rhythm", "chord", "texture")
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
# The page plays notes from a per-instrument sample bank rendered once with the GM soundfont (collage.render):
# one note every `step` semitones from `low`, each in its own `slot_s`-second slot of one WAV; the browser
# pitches the nearest sample by at most 2 semitones. A re-fusion then needs no new rendering. Drums: every
# GM percussion key (35-81) once, never re-pitched.
SAMPLE_SR = 22050
SAMPLE_LAYOUTS = {
    "melodic": {"low": 22, "step": 4, "count": 23, "hold_s": 1.4, "slot_s": 2.0},  # pitches 22, 26, ..., 110
    "drums": {"low": 35, "step": 1, "count": 47, "hold_s": 0.5, "slot_s": 1.0},
}


class StudioError(Exception):
    """A request the studio refuses: ``status`` and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:400]


def join_actors() -> list[dict]:
    """The shipped join actors: ``[{"name", "lam"}]``, by distance weight (the default actor first)."""
    out = []
    for name in shipped_names():
        if name == "join_actor" or name.startswith("join_actor_lam"):
            out.append({"name": name, "lam": load_card(name).get("lam")})
    return sorted(out, key=lambda a: (a["name"] != "join_actor", a["lam"] if a["lam"] is not None else 0.0))


class Studio:
    """The state of one server: its files, worker threads and loaded models."""

    def __init__(self, *, threads: int = 2, tmp_root: str | Path | None = None):
        self.store = Store(tmp_root)
        self.worker = Worker(threads)
        self.models = ModelCache()
        for name in examples.NAMES:
            path = examples.path(name)
            self.store.add_upload(Upload(f"example-{Path(name).stem}", name, path, read(path)))
        self.worker.pool.submit(self._preload)  # the page's first fusion then needs no loading

    def _preload(self) -> None:
        try:
            self.fusion_models("collagenet")
            self.judge()
        except CollageError as err:  # reported again, to the page, by the first request that needs them
            log.warning("could not load the fusion models: %s", err)

    def close(self) -> None:
        self.worker.close()
        self.store.close()

    # models (each loaded once) ------------------------------------------------------------------------
    def fusion_models(self, method: str):
        if method == "rule":
            return None
        if method == "gradient":
            return self.models.get("fuse-gradient", partial(FusionModels.load, actor=None,
                                                              critic="latent_critic_pretrained"))
        return self.models.get("fuse-collagenet", FusionModels.load)

    def judge(self):
        return self.models.get("judge", partial(load_pretrained, "harmony_judge"))

    def join_models(self, actor: str | None):
        lam = None
        if actor is not None:
            known = {a["name"]: a["lam"] for a in join_actors()}
            if actor not in known:
                raise ParameterError(f"given join actor {actor!r}; expected one of {', '.join(known)}")
            lam = known[actor]
        name = actor_for_lam(lam)
        return self.models.get(("join", name), partial(JoinModels.load, actor=name))

    def arrange_net(self, ensemble: str, model: str):
        if model not in NEURAL:
            return None
        return self.models.get(("arrange", ensemble, model), partial(load_arrange_model, ensemble, model))


# request helpers ----------------------------------------------------------------------------------------
async def _json_body(request: Request) -> dict:
    # only JSON: a page from another site cannot send it without the browser asking first (CORS), which
    # this server never allows, so other sites cannot start work here
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise StudioError(415, "expected a JSON body (Content-Type: application/json)")
    try:
        body = await request.json()
    except ValueError:
        raise StudioError(400, "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise StudioError(400, "the request body is not a JSON object")
    return body


def _number(body: dict, key: str, default: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StudioError(400, f"given {key}={value!r}; expected a number in [0, 1]")
    return float(value)


def _choice(body: dict, key: str, choices, default: str) -> str:
    value = body.get(key, default)
    if value not in choices:
        raise StudioError(400, f"given {key}={value!r}; expected one of {', '.join(choices)}")
    return value


def _tracks(value, key: str) -> list[str] | None:
    if value in (None, "", []):
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise StudioError(400, f"given {key}={value!r}; expected a track name or a list of them")
    return values


def _result_json(studio: Studio, kind: str, piece, inputs: dict, summary: dict, extra: dict | None = None) -> dict:
    res = studio.store.add_result(kind, piece)
    return {"id": res.id, "kind": kind, "summary": summary, "result": piece_json(piece),
            "inputs": {k: piece_json(v) for k, v in inputs.items()},
            "downloads": {"midi": f"/api/results/{res.id}.mid", "wav": f"/api/results/{res.id}.wav"},
            **(extra or {})}


# routes ---------------------------------------------------------------------------------------------------
async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html")


async def info(request: Request) -> Response:
    try:
        check_renderer()
        audio = True
    except CollageError:
        audio = False
    return JSONResponse({
        "max_upload_bytes": MAX_UPLOAD_BYTES, "upload_suffixes": list(UPLOAD_SUFFIXES),
        "fuse_methods": list(FUSE_METHODS), "controls": list(CONTROLS), "style_names": list(STYLE_NAMES),
        "join_actors": join_actors(), "ensembles": list(ENSEMBLES), "arrange_models": list(ARRANGE_METHODS),
        "arrange_default": DEFAULT_METHOD, "wav": audio,
        "samples": {**SAMPLE_LAYOUTS, "sr": SAMPLE_SR},
    })


def sample_bank(program: int, is_drum: bool) -> Piece:
    """The notes of one instrument's sample bank (see :data:`SAMPLE_LAYOUTS`): one note per slot."""
    lay = SAMPLE_LAYOUTS["drums" if is_drum else "melodic"]
    tpq, qpm, n = 480, 60.0, lay["count"]  # one beat per second: ticks = seconds * tpq
    pitches = lay["low"] + lay["step"] * np.arange(n)
    onsets = (np.arange(n) * lay["slot_s"] * tpq).astype(np.int64)
    notes = np.column_stack([onsets, np.full(n, int(lay["hold_s"] * tpq)), pitches, np.full(n, 100)]).astype(np.int64)
    return Piece([Track(notes, "SAMPLES", program=program, is_drum=is_drum)], tpq=tpq, tempos=[Tempo(0, qpm)])


async def samples(request: Request) -> Response:
    """``/api/samples/{program}.wav`` (``drums.wav`` for percussion): an instrument's sample bank, made once."""
    studio: Studio = request.app.state.studio
    name = request.path_params["name"]
    is_drum = name == "drums"
    if not is_drum and not (name.isdigit() and 0 <= int(name) <= 127):
        raise StudioError(404, f"no instrument {name[:20]!r}; expected a GM program 0..127 or drums")
    program = 0 if is_drum else int(name)

    def make() -> Path:
        path = studio.store.root / "results" / f"samples-{name}.wav"
        if not path.exists():
            lay = SAMPLE_LAYOUTS["drums" if is_drum else "melodic"]
            render(sample_bank(program, is_drum), path=path, sr=SAMPLE_SR, release_s=lay["slot_s"] - lay["hold_s"])
        return path

    path = await anyio.to_thread.run_sync(partial(studio.models.get, ("samples", name), make))
    return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": "max-age=3600"})


def _file_json(up: Upload) -> dict:
    return {"id": up.id, "name": up.name,
            "tracks": [{"name": t.name, "n_notes": len(t.notes), "is_drum": bool(t.is_drum)} for t in up.piece.tracks]}


async def list_examples(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    return JSONResponse([_file_json(studio.store.upload(f"example-{Path(n).stem}")) for n in examples.NAMES])


async def upload(request: Request) -> Response:
    """Save the body under a server-made name in the temporary folder, then read it; refuse bad files."""
    studio: Studio = request.app.state.studio
    name = display_name(unquote(request.headers.get("x-filename") or ""))  # the page sends it URI-encoded
    suffix = suffix_of(name)
    if suffix not in UPLOAD_SUFFIXES:
        raise StudioError(415, f"{name}: unsupported format {suffix or '(no suffix)'}; expected MIDI (.mid, .midi), "
                               "MusicXML (.musicxml, .mxl, .xml) or ABC (.abc)")
    cap_mb = MAX_UPLOAD_BYTES / 2**20
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        raise StudioError(413, f"{name}: too large ({int(declared) / 2**20:.1f} MB); the limit is {cap_mb:g} MB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_UPLOAD_BYTES:
            raise StudioError(413, f"{name}: too large (over {cap_mb:g} MB); the limit is {cap_mb:g} MB")
        chunks.append(chunk)
    if size == 0:
        raise StudioError(400, f"{name}: the file is empty")
    uid, path = studio.store.new_upload_path(suffix)
    path.write_bytes(b"".join(chunks))
    try:
        piece = await anyio.to_thread.run_sync(read, path)
        piece.require_pitched()
    except CollageError as err:
        path.unlink(missing_ok=True)
        problem = err.problem if isinstance(err, InvalidInputError) else str(err)
        raise StudioError(400, f"{name}: {studio.store.scrub(problem)}") from None
    except Exception as err:  # a reader's own failure on a malformed file is still the file's problem
        path.unlink(missing_ok=True)
        log.info("upload %s unreadable: %r", name, err)
        raise StudioError(400, f"{name}: unreadable {suffix} file ({type(err).__name__})") from None
    up = studio.store.add_upload(Upload(uid, name, path, piece))
    return JSONResponse(_file_json(up))


async def file_notes(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    up = studio.store.upload(request.path_params["fid"])
    return JSONResponse({**_file_json(up), "piece": piece_json(up.piece)})


async def progress(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    return JSONResponse(studio.worker.progress(str(request.query_params.get("client", ""))[:100]))


async def fuse_route(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    body = await _json_body(request)
    mel = studio.store.upload(body.get("melody", "example-melody"))
    acc = studio.store.upload(body.get("accompaniment", "example-accompaniment"))
    keep = {f"keep_{c}": _number(body, f"keep_{c}", 0.5) for c in CONTROLS}
    method = _choice(body, "method", FUSE_METHODS, "collagenet")
    melody_track = body.get("melody_track") or None
    if melody_track is not None and not isinstance(melody_track, str):
        raise StudioError(400, f"given melody_track={melody_track!r}; expected a track name")
    accomp_tracks = _tracks(body.get("accomp_tracks"), "accomp_tracks")
    n_beats = max(mel.piece.end_tick / mel.piece.tpq, acc.piece.end_tick / acc.piece.tpq)

    def work(report):
        report("loading models", method)
        models = studio.fusion_models(method)
        judge = studio.judge()
        report("fusing", f"{n_beats:.0f} beats in 8-beat windows")
        result = fuse(mel.piece, acc.piece, **keep, method=method, melody_track=melody_track,
                      accomp_tracks=accomp_tracks, models=models, judge=judge)
        report("preparing notes", "")
        return _result_json(studio, "fused", result.piece,
                            {"melody": result.melody_input,  # the accompaniment as fused: key-aligned
                             "accompaniment": result.accomp_input.transpose(result.key_shift)},
                            result.summary())

    return JSONResponse(await studio.worker.run(body.get("client"), work))


async def join_route(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    body = await _json_body(request)
    left = studio.store.upload(body.get("left", "example-melody"))
    right = studio.store.upload(body.get("right", "example-melody"))
    style = body.get("style")
    if style is not None and (not isinstance(style, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in style)):
        raise StudioError(400, f"given style={style!r}; expected a list of numbers in [0, 1]")
    actor = body.get("actor") or None

    def work(report):
        report("loading models", actor or "join_actor")
        models = studio.join_models(actor)
        report("joining", "")
        result = join(left.piece, right.piece, style=style, models=models)
        seam = {"start_beat": result.joint_start / 4, "end_beat": result.joint_start / 4 + 16}
        return _result_json(studio, "joined", result.piece, {"left": result.left_input, "right": result.right_input},
                            result.summary(), {"seam": seam})

    return JSONResponse(await studio.worker.run(body.get("client"), work))


async def arrange_route(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    body = await _json_body(request)
    src = studio.store.upload(body.get("piece", "example-accompaniment"))
    ensemble = _choice(body, "ensemble", list(ENSEMBLES), "satb")
    model = _choice(body, "model", ARRANGE_METHODS, DEFAULT_METHOD)

    def work(report):
        report("loading models", model)
        net = studio.arrange_net(ensemble, model)
        report("arranging", "")
        arranged, _ = arrange(src.piece, ensemble=ensemble, model=model, net=net)
        summary = {"ensemble": ensemble, "model": model, "notes": {t.name: len(t.notes) for t in arranged.tracks}}
        return _result_json(studio, "arranged", arranged, {"input": src.piece}, summary)

    return JSONResponse(await studio.worker.run(body.get("client"), work))


async def download(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    rid, suffix = request.path_params["rid"], "." + request.path_params["ext"]
    res = studio.store.result(rid)
    if res is None or suffix not in (".mid", ".wav"):
        raise StudioError(404, f"no result {rid[:40]!r}{suffix[:8]} on this server; make it again")

    def write() -> Path:
        with res.lock:
            if suffix not in res.files:
                path = studio.store.result_path(res, suffix)
                if suffix == ".mid":
                    save(res.piece, path)
                else:
                    render(res.piece, path=path)
                res.files[suffix] = path
            return res.files[suffix]

    path = await anyio.to_thread.run_sync(write)
    media = "audio/midi" if suffix == ".mid" else "audio/wav"
    return FileResponse(path, media_type=media, filename=f"{res.kind}{suffix}")


# errors ---------------------------------------------------------------------------------------------------
async def _studio_error(request: Request, exc: StudioError) -> Response:
    return JSONResponse({"error": _one_line(exc)}, status_code=exc.status)


async def _collage_error(request: Request, exc: CollageError) -> Response:
    studio: Studio = request.app.state.studio
    return JSONResponse({"error": _one_line(studio.store.scrub(str(exc)))}, status_code=400)


async def _superseded(request: Request, exc: Superseded) -> Response:
    return JSONResponse({"error": "superseded by a newer request", "superseded": True}, status_code=409)


def create_app(*, threads: int = 2, tmp_root: str | Path | None = None,
               allowed_hosts: list[str] | None = None) -> Starlette:
    """The studio's ASGI application.

    Args:
        allowed_hosts: the host names requests may address (the Host header), e.g. the loopback
            names when the server listens on this machine only, so that a web page cannot reach it
            through a DNS name of its own; None allows any.
        threads: worker threads for model work (fusion, join, arrangement, rendering).
        tmp_root: where to make the server's temporary folder (None: the system's).
    """
    studio = Studio(threads=threads, tmp_root=tmp_root)
    routes = [
        Route("/", index),
        Route("/api/info", info),
        Route("/api/examples", list_examples),
        Route("/api/upload", upload, methods=["POST"]),
        Route("/api/files/{fid}", file_notes),
        Route("/api/progress", progress),
        Route("/api/fuse", fuse_route, methods=["POST"]),
        Route("/api/join", join_route, methods=["POST"]),
        Route("/api/arrange", arrange_route, methods=["POST"]),
        Route("/api/results/{rid}.{ext}", download),
        Route("/api/samples/{name}.wav", samples),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            studio.close()  # the temporary folder goes with the server

    app = Starlette(routes=routes, exception_handlers={StudioError: _studio_error, CollageError: _collage_error,
                                                       Superseded: _superseded}, lifespan=lifespan,
                    middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)] if allowed_hosts else None)
    app.state.studio = studio
    return app


def serve(host: str = "127.0.0.1", port: int = 0, *, ready=None,
          log_level: str = "warning") -> None:
    """Run the studio with uvicorn until interrupted; ``ready(url)`` is called once it listens."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise ParameterError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound}/"
    loopback = host in LOOPBACK
    server = uvicorn.Server(uvicorn.Config(create_app(allowed_hosts=list(LOOPBACK) if loopback else None),
                                           log_level=log_level))
    if ready is not None:
        original = server.startup

        async def startup(sockets=None):
            await original(sockets=sockets)
            ready(url)

        server.startup = startup
    asyncio.run(server.serve(sockets=[sock]))

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
- ``GET /api/mashup/vocals``: the MashupDB's songs whose vocal can be picked, and the uploaded vocals.
- ``POST /api/mashup/upload`` (as ``/api/upload``): a vocal, an audio file of at most :data:`MAX_AUDIO_UPLOAD_BYTES`.
- ``POST /api/mashup``: :func:`collage.mashup.retrieve` for a vocal: the best accompaniments, each
  score broken down. ``POST /api/mashup/render``: one of them rendered
  (:func:`collage.mashup.render_retrieved`); ``GET /api/mashups/{search}-{rank}-{role}.wav``: its
  stems and mix (``role``: vocals, harmonic, percussion or mix).
- ``GET /api/progress?client=C``: what client C's running request is doing (with ``done`` of ``total``
  when the library reports counts).
- ``GET /api/results/{id}.mid`` / ``.wav``: a result as MIDI or audio.
- ``GET /api/samples/{program}.wav``: an instrument's sample bank for the page's player.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
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
from collage.fusion.vertical import DEFAULT_METHOD as FUSE_DEFAULT, MODEL_FREE, METHODS as FUSE_METHODS, FusionModels, fuse
from collage.io import read, save
from collage.io.audio import load_audio, write_wav
from collage.mashup import render_retrieved, retrieve
from collage.mashup.combination import SCORERS
from collage.mashup.db import MashupDB
from collage.mashup.generate import ROLES
from collage.mashup.score import FEATURE_SR
from collage.mashup.stemstore import local_copy
from collage.models.inference import load_inference
from collage.piece import Piece, Tempo, Track
from collage.pretrained import load_card, shipped_names
from collage.studio.store import (
    AUDIO_UPLOAD_SUFFIXES,
    UPLOAD_SUFFIXES,
    Search,
    Store,
    Upload,
    Vocal,
    display_name,
    piece_json,
    suffix_of,
)
from collage.studio.work import ModelCache, Superseded, Worker

__all__ = ["create_app", "serve", "MAX_UPLOAD_BYTES", "MAX_AUDIO_UPLOAD_BYTES", "NO_DB"]

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # 5 MiB: a long multitrack MIDI file is well under 1 MiB
MAX_AUDIO_UPLOAD_BYTES = 50 * 1024 * 1024  # 50 MiB: a 4-minute stereo 16-bit WAV at 44.1 kHz is 42 MB
MAX_VOCAL_SECONDS = 600.0  # a vocal longer than 10 minutes is refused from its header, before decoding
FUSE_BATCH = 64  # windows fused at a time: a 3-minute song (about 70 windows) reports its progress twice
MASHUP_TOPS = (3, 5, 10)  # how many accompaniments the page may ask for
MASHUP_SECONDS = (10.0, 15.0, 25.0, 40.0)  # mashup lengths the page offers (at most the vocal's length)
NO_DB = ("No MashupDB is open: start the studio with one, collage studio --db songs.db "
         "(make one with collage mashup build songs.db --from SONGS/).")
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

    def __init__(self, *, threads: int = 2, tmp_root: str | Path | None = None, db: str | Path | None = None):
        self.db = Path(db) if db is not None else None
        self.db_vocals = db_vocals(self.db) if self.db is not None else {}  # checks the DB before anything starts
        self.store = Store(tmp_root)
        self.worker = Worker(threads)
        self.models = ModelCache()
        for name in examples.NAMES:
            path = examples.path(name)
            self.store.add_upload(Upload(f"example-{Path(name).stem}", name, path, read(path)))
        self.worker.pool.submit(self._preload)  # the page's first fusion then needs no loading

    def _preload(self) -> None:
        try:
            self.fusion_models(FUSE_DEFAULT)
            self.judge()
        except CollageError as err:  # reported again, to the page, by the first request that needs them
            log.warning("could not load the fusion models: %s", err)

    def close(self) -> None:
        self.worker.close()
        self.store.close()

    # models (each loaded once) ------------------------------------------------------------------------
    def fusion_models(self, method: str):
        if method in MODEL_FREE:
            return None
        if method == "gradient":
            return self.models.get("fuse-gradient", partial(FusionModels.load, actor=None,
                                                              critic="latent_critic_pretrained"))
        return self.models.get("fuse-collagenet", FusionModels.load)

    def judge(self):
        return self.models.get("judge", partial(load_inference, "harmony_judge"))

    def join_models(self, actor: str | None):
        lam = None
        if actor is not None:
            known = {a["name"]: a["lam"] for a in join_actors()}
            if actor not in known:
                raise ParameterError(f"given join actor {actor!r}; expected one of {', '.join(known)}")
            lam = known[actor]
        name = actor_for_lam(lam)
        return self.models.get(("join", name), partial(JoinModels.load, actor=name))

    def vocal(self, vid) -> Vocal:
        vocal = self.db_vocals.get(str(vid)) or self.store.vocal(vid)
        if vocal is None:
            raise ParameterError(f"no vocal {str(vid)[:40]!r} on this server; upload it again")
        return vocal

    def vocal_path(self, vocal: Vocal) -> Path:
        """The vocal's audio in the studio's folder (a DB vocal's stem is copied there once)."""
        with vocal.lock:
            if vocal.path is None:
                dest = self.store.vocal_copy_path(vocal)
                with local_copy(vocal.source) as src:  # a stem under an fsspec URL is fetched first
                    shutil.copyfile(src, dest)
                vocal.path = dest
            return vocal.path

    def arrange_net(self, ensemble: str, model: str):
        if model not in NEURAL:
            return None
        return self.models.get(("arrange", ensemble, model), partial(load_arrange_model, ensemble, model))


def db_vocals(db: Path) -> dict[str, Vocal]:
    """The songs of the MashupDB ``db`` with a vocal stem and an analysis, as pickable vocals (by id).

    Raises:
        InvalidInputError: ``db`` is missing or not a MashupDB.
    """
    out = {}
    with MashupDB(db) as m:
        for song in m.songs():
            stems, an = m.stems(song["id"]), m.analysis(song["id"])
            if "vocals" in stems and an.get("key") and an.get("tempo"):
                vid = f"db-{song['id']}"
                out[vid] = Vocal(vid, str(song["name"]), None, song=str(song["name"]), source=stems["vocals"]["path"],
                                 key=an["key"], tempo=round(float(an["tempo"]), 1))
    return out


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


def _choice(body: dict, key: str, choices, default):
    value = body.get(key, default)
    if isinstance(value, bool) or value not in choices:
        raise StudioError(400, f"given {key}={value!r}; expected one of {', '.join(map(str, choices))}")
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
    studio: Studio = request.app.state.studio
    try:
        check_renderer()
        audio = True
    except CollageError:
        audio = False
    return JSONResponse({
        "max_upload_bytes": MAX_UPLOAD_BYTES, "upload_suffixes": list(UPLOAD_SUFFIXES),
        "fuse_methods": list(FUSE_METHODS), "fuse_default_method": FUSE_DEFAULT, "controls": list(CONTROLS), "style_names": list(STYLE_NAMES),
        "join_actors": join_actors(), "ensembles": list(ENSEMBLES), "arrange_models": list(ARRANGE_METHODS),
        "arrange_default": DEFAULT_METHOD, "wav": audio,
        "samples": {**SAMPLE_LAYOUTS, "sr": SAMPLE_SR},
        "mashup": {"db": studio.db.name if studio.db is not None else None, "no_db": NO_DB,
                   "scorers": list(SCORERS), "tops": list(MASHUP_TOPS), "seconds": list(MASHUP_SECONDS),
                   "max_upload_bytes": MAX_AUDIO_UPLOAD_BYTES, "upload_suffixes": list(AUDIO_UPLOAD_SUFFIXES)},
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


async def _body(request: Request, name: str, cap: int) -> bytes:
    """The request body of an upload named ``name``; refused when empty or over ``cap`` bytes (before
    it is all read when the size is declared)."""
    cap_mb = cap / 2**20
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise StudioError(413, f"{name}: too large ({int(declared) / 2**20:.1f} MB); the limit is {cap_mb:g} MB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise StudioError(413, f"{name}: too large (over {cap_mb:g} MB); the limit is {cap_mb:g} MB")
        chunks.append(chunk)
    if size == 0:
        raise StudioError(400, f"{name}: the file is empty")
    return b"".join(chunks)


async def upload(request: Request) -> Response:
    """Save the body under a server-made name in the temporary folder, then read it; refuse bad files."""
    studio: Studio = request.app.state.studio
    name = display_name(unquote(request.headers.get("x-filename") or ""))  # the page sends it URI-encoded
    suffix = suffix_of(name)
    if suffix not in UPLOAD_SUFFIXES:
        raise StudioError(415, f"{name}: unsupported format {suffix or '(no suffix)'}; expected MIDI (.mid, .midi), "
                               "MusicXML (.musicxml, .mxl, .xml) or ABC (.abc)")
    data = await _body(request, name, MAX_UPLOAD_BYTES)
    uid, path = studio.store.new_upload_path(suffix)
    path.write_bytes(data)
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
    method = _choice(body, "method", FUSE_METHODS, FUSE_DEFAULT)
    melody_track = body.get("melody_track") or None
    if melody_track is not None and not isinstance(melody_track, str):
        raise StudioError(400, f"given melody_track={melody_track!r}; expected a track name")
    accomp_tracks = _tracks(body.get("accomp_tracks"), "accomp_tracks")
    n_beats = max(mel.piece.end_tick / mel.piece.tpq, acc.piece.end_tick / acc.piece.tpq)

    def work(report):
        report("loading models", method)
        models = studio.fusion_models(method)
        judge = studio.judge()
        report("reading", f"{n_beats:.0f} beats")
        result = fuse(mel.piece, acc.piece, **keep, method=method, melody_track=melody_track,
                      accomp_tracks=accomp_tracks, models=models, judge=judge, batch_size=FUSE_BATCH,
                      on_progress=lambda stage, done, total: report(stage, "windows", done, total))
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


# the mashup tab ------------------------------------------------------------------------------------------
def _need_db(studio: Studio) -> Path:
    if studio.db is None:
        raise StudioError(409, NO_DB)
    return studio.db


def _vocal_json(v: Vocal) -> dict:
    return {"id": v.id, "name": v.name, "song": v.song, "key": v.key, "tempo": v.tempo}


async def mashup_vocals(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    return JSONResponse({"db": studio.db.name if studio.db is not None else None,
                         "songs": [_vocal_json(v) for v in studio.db_vocals.values()],
                         "uploads": [_vocal_json(v) for v in list(studio.store.vocals.values())]})


async def mashup_upload(request: Request) -> Response:
    """A vocal: an audio file, kept under a server-made name and read once to check it."""
    studio: Studio = request.app.state.studio
    _need_db(studio)
    name = display_name(unquote(request.headers.get("x-filename") or ""))
    suffix = suffix_of(name)
    if suffix not in AUDIO_UPLOAD_SUFFIXES:
        raise StudioError(415, f"{name}: unsupported format {suffix or '(no suffix)'}; expected audio "
                               f"({', '.join(AUDIO_UPLOAD_SUFFIXES)})")
    data = await _body(request, name, MAX_AUDIO_UPLOAD_BYTES)
    uid, path = studio.store.new_upload_path(suffix)
    path.write_bytes(data)
    try:  # what retrieve will refuse (not audio, too short or long, silent, NaN), refused now
        await anyio.to_thread.run_sync(partial(load_audio, path, sr=FEATURE_SR, max_seconds=MAX_VOCAL_SECONDS))
    except InvalidInputError as err:
        path.unlink(missing_ok=True)
        raise StudioError(400, f"{name}: {studio.store.scrub(err.problem)}") from None
    except Exception as err:  # a decoder's own failure on a malformed file is still the file's problem
        path.unlink(missing_ok=True)
        log.info("vocal %s unreadable: %r", name, err)
        raise StudioError(400, f"{name}: unreadable {suffix} file ({type(err).__name__})") from None
    vocal = studio.store.add_vocal(Vocal(uid, name, path))
    return JSONResponse(_vocal_json(vocal))


def _search_json(search: Search) -> dict:
    """A search for the page: :func:`retrieve`'s answer less the server's path of the vocal, with links."""
    found = search.found
    results = [{**r, "download": f"/api/mashups/{search.id}-{r['rank']}-mix.wav"} for r in found["results"]]
    return {"id": search.id, "vocal": _vocal_json(search.vocal), "scorer": search.scorer, "results": results,
            **{k: found[k] for k in ("key", "tempo", "mode", "vocal_start_s", "seconds", "searched", "scored", "timing")}}


async def mashup_search(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    db = _need_db(studio)
    body = await _json_body(request)
    vocal = studio.vocal(body.get("vocal", ""))
    scorer = _choice(body, "scorer", SCORERS, "premixnet")
    top = _choice(body, "top", MASHUP_TOPS, 5)
    seconds = _choice(body, "seconds", MASHUP_SECONDS, 25.0)

    def work(report):
        report("reading the vocal", "")
        path = studio.vocal_path(vocal)
        found = retrieve(db, path, top=top, scorer=scorer, seconds=seconds, exclude=vocal.song, explain=True,
                         on_progress=lambda stage, done, total: (report(stage, "candidates", done, total)
                                                                 if stage == "scoring" else report(stage)))
        return _search_json(studio.store.add_search(vocal, found, scorer))

    return JSONResponse(await studio.worker.run(body.get("client"), work))


def _rendered(studio: Studio, search: Search, rank: int) -> dict[str, Path]:
    """The stems and mix of one result of ``search`` as WAV files, rendered once (the library's
    :func:`render_retrieved`, written with :func:`write_wav`)."""
    with search.lock:
        if rank not in search.renders:
            audio, sr = render_retrieved(studio.db, search.found, rank=rank)
            search.renders[rank] = {role: write_wav(studio.store.search_path(search, rank, role), audio[role], sr)
                                    for role in (*ROLES, "mix")}
        return search.renders[rank]


def _search_and_rank(studio: Studio, sid, rank) -> tuple[Search, int]:
    search = studio.store.search(sid)
    if search is None:
        raise StudioError(404, f"no search {str(sid)[:40]!r} on this server; search again")
    n = len(search.found["results"])
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= n:
        raise StudioError(400, f"given rank={rank!r}; expected 1..{n}")
    return search, rank


async def mashup_render(request: Request) -> Response:
    studio: Studio = request.app.state.studio
    _need_db(studio)
    body = await _json_body(request)
    search, rank = _search_and_rank(studio, body.get("search"), body.get("rank"))

    def work(report):
        report("rendering", f"mashup {rank}")
        _rendered(studio, search, rank)
        return {"search": search.id, "rank": rank, "seconds": search.found["seconds"],
                "stems": {role: f"/api/mashups/{search.id}-{rank}-{role}.wav" for role in ROLES},
                "mix": f"/api/mashups/{search.id}-{rank}-mix.wav"}

    return JSONResponse(await studio.worker.run(body.get("client"), work))


async def mashup_file(request: Request) -> Response:
    """A rendered result's stem or mix (rendered now if it was not yet: a download before playing)."""
    studio: Studio = request.app.state.studio
    _need_db(studio)
    role = request.path_params["role"]
    rank = request.path_params["rank"]
    if role not in (*ROLES, "mix") or not rank.isdigit():
        raise StudioError(404, f"no mashup file {request.url.path.rsplit('/', 1)[-1][:60]!r}")
    search, rank = _search_and_rank(studio, request.path_params["sid"], int(rank))
    paths = await anyio.to_thread.run_sync(partial(_rendered, studio, search, rank))
    name = f"mashup-{rank}.wav" if role == "mix" else f"mashup-{rank}-{role}.wav"
    return FileResponse(paths[role], media_type="audio/wav", filename=name)


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
               allowed_hosts: list[str] | None = None, db: str | Path | None = None) -> Starlette:
    """The studio's ASGI application.

    Args:
        db: a MashupDB for the mashup tab (``collage mashup build``); None: the tab says how to get one.
        allowed_hosts: the host names requests may address (the Host header), e.g. the loopback
            names when the server listens on this machine only, so that a web page cannot reach it
            through a DNS name of its own; None allows any.
        threads: worker threads for model work (fusion, join, arrangement, rendering).
        tmp_root: where to make the server's temporary folder (None: the system's).
    Raises:
        InvalidInputError: ``db`` is missing or not a MashupDB.
    """
    studio = Studio(threads=threads, tmp_root=tmp_root, db=db)
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
        Route("/api/mashup/vocals", mashup_vocals),
        Route("/api/mashup/upload", mashup_upload, methods=["POST"]),
        Route("/api/mashup", mashup_search, methods=["POST"]),
        Route("/api/mashup/render", mashup_render, methods=["POST"]),
        Route("/api/mashups/{sid}-{rank}-{role}.wav", mashup_file),
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


def serve(host: str = "127.0.0.1", port: int = 0, *, ready=None, log_level: str = "warning",
          db: str | Path | None = None) -> None:
    """Run the studio with uvicorn until interrupted; ``ready(url)`` is called once it listens.

    Raises:
        ParameterError: the address cannot be listened on.
        InvalidInputError: ``db`` is missing or not a MashupDB.
    """
    import socket

    import uvicorn

    app = create_app(allowed_hosts=list(LOOPBACK) if host in LOOPBACK else None, db=db)  # a bad DB fails first
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        app.state.studio.close()
        raise ParameterError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound}/"
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level))
    if ready is not None:
        original = server.startup

        async def startup(sockets=None):
            await original(sockets=sockets)
            ready(url)

        server.startup = startup
    asyncio.run(server.serve(sockets=[sock]))

"""collage studio: a local web page to fuse, join, arrange and mash up by ear.

:func:`create_app` builds the ASGI application (Starlette) over the public
API (:func:`collage.fuse`, :func:`collage.join`, :func:`collage.arrange`,
:func:`collage.load`, :func:`collage.save`, :func:`collage.render`, and with a
MashupDB :func:`collage.mashup.retrieve` and :func:`collage.mashup.render_retrieved`);
it duplicates none of the library's logic. :func:`serve` runs it with uvicorn
(what ``collage studio`` calls). The page and its scripts are static files of
this package (``static/``); nothing is fetched from the network.

Uploads are kept in a per-server temporary folder under names the server
makes; names from uploads never reach a path. Model work runs in worker
threads, off the event loop, and a newer request from the same client
supersedes an older one.
"""

from __future__ import annotations

from collage.studio.app import MAX_AUDIO_UPLOAD_BYTES, MAX_UPLOAD_BYTES, NO_DB, create_app, serve

__all__ = ["create_app", "serve", "MAX_UPLOAD_BYTES", "MAX_AUDIO_UPLOAD_BYTES", "NO_DB"]

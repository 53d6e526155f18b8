"""``collage studio``: the local web studio (:mod:`collage.studio`), served with uvicorn."""

from __future__ import annotations

import webbrowser

import click

from collage.cli.common import CONTEXT

__all__ = ["studio_command"]


@click.command("studio", context_settings=CONTEXT, short_help="Fuse, join, arrange and mash up by ear in a local web page.")
@click.option("--host", default="127.0.0.1", show_default=True, metavar="ADDR",
              help="Address to listen on (the default is this machine only).")
@click.option("--port", type=click.IntRange(0, 65535), default=0, metavar="N",
              help="Port to listen on (default: a free one).")
@click.option("--no-browser", is_flag=True, help="Do not open the page in a web browser.")
@click.option("--db", type=click.Path(dir_okay=True), default=None, metavar="DB",
              help="A MashupDB (collage mashup build) for the mashup tab: accompaniments for a vocal.")
def studio_command(host: str, port: int, no_browser: bool, db: str | None) -> None:
    """Start the studio: a local web page to fuse, join, arrange and mash up, and listen at once.

    The page works offline: its scripts and styles are served by collage, and
    it plays notes from samples rendered once with the GM soundfont (FluidSynth),
    as are the WAV downloads. Uploads (MIDI, MusicXML or ABC, at most 5 MB) stay
    in a temporary folder that is removed when the server stops. Stop it with
    Ctrl+C. With --db, the mashup tab finds accompaniments in that MashupDB for
    a vocal (one of the DB's or an uploaded audio file, at most 50 MB), plays
    them and downloads them.

    \b
    Example:
      collage studio
      collage studio --port 8765 --no-browser
      collage studio --db songs.db
    """
    # deferred: the server stack (starlette, uvicorn) and the models load only when the studio starts,
    # so that `collage --help` stays fast
    from collage.studio import serve

    def ready(url: str) -> None:
        click.echo(f"collage studio at {url}  (Ctrl+C to stop)")
        if not no_browser:
            webbrowser.open(url)

    try:
        serve(host, port, ready=ready, db=db)
    except KeyboardInterrupt:  # pragma: no cover - interactive stop
        pass

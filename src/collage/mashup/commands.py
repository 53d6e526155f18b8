"""The ``collage mashup`` command group; its commands are defined next to the code they drive
and attach themselves to :data:`mashup_group` (see :func:`register`)."""

from __future__ import annotations

import click

CONTEXT = {"help_option_names": ["-h", "--help"]}


@click.group("mashup", context_settings=CONTEXT)
def mashup_group() -> None:
    """Audio mashups: build a MashupDB of stems, generate, score and retrieve mashups."""


from collage.mashup import use_cli  # noqa: E402,F401  (score, retrieve, generate attach themselves)
from collage.mashup import build_cli  # noqa: E402,F401  (build attaches itself)

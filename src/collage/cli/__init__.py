"""The ``collage`` command: a thin layer over the library (click).

One module per command family; each command parses its options, calls one
library function and reports the result:

- :mod:`collage.cli.fuse`: ``collage fuse`` (:func:`collage.fusion.vertical.fuse`)
- :mod:`collage.cli.join`: ``collage join`` (:func:`collage.fusion.horizontal.join`)
- :mod:`collage.cli.arrange`: ``collage arrange`` (:func:`collage.arrangement.arrange_file`)
- :mod:`collage.cli.toolkit`: ``collage info | render | plot | stats``
- :mod:`collage.cli.demo`: ``collage demo`` (:func:`collage.demo.run_demo`)
- :mod:`collage.cli.mashup`: ``collage mashup build | score | retrieve | generate``
- :mod:`collage.cli.generate`: ``collage generate`` (:func:`collage.generation.generate`)
- :mod:`collage.cli.studio`: ``collage studio`` (:func:`collage.studio.serve`)
- :mod:`collage.cli.train`: every ``collage train ...`` (the only module that imports :mod:`collage.training`)
- :mod:`collage.cli.evaluate`: every ``collage eval ...`` (the only module that imports :mod:`collage.evaluation`)

:mod:`collage.cli.common` holds what they share: the options, output (results
on stdout, progress and messages on stderr) and error handling (a user error
is one line on stderr and exit code 2).
"""

from __future__ import annotations

import logging
import sys

import click

from collage.cli import arrange, demo, evaluate, fuse, generate, join, mashup, studio, toolkit, train
from collage.cli.common import CONTEXT, run_app

__all__ = ["app", "main"]


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="collage")
@click.option("-v", "--verbose", is_flag=True, help="Log progress details to stderr.")
def app(verbose: bool) -> None:
    """Fuse material from different songs into new, harmonic music.

    \b
    Example:
      collage demo -o out
      collage fuse melody.mid accompaniment.mid -o fused.mid
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="collage: %(levelname)s: %(message)s")
    logging.captureWarnings(True)


for _command in (fuse.fuse_command, join.join_command, arrange.arrange_command, toolkit.info_command,
                 toolkit.render_command, toolkit.plot_command, toolkit.stats_command, demo.demo_command,
                 mashup.mashup_group, train.train_group, evaluate.eval_group, generate.generate_command,
                 studio.studio_command):
    app.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI; a user error is one line on stderr and exit code 2."""
    return run_app(app, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

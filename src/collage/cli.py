"""The `collage` command: a thin front end over the library.

Every command's help says what it does and gives an example. Errors a user
can cause (:class:`collage.errors.CollageError`) end in one line on stderr and
exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import click
import typer

from collage.errors import CollageError

app = typer.Typer(
    name="collage",
    help="Fuse material from different songs into new, harmonic music.\n\n"
    "Example: collage stats --split test --json",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details to stderr."),
):
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    logging.captureWarnings(True)


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point: run the CLI and map user errors to one line and exit code 2."""
    try:
        app(args=argv, prog_name="collage", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return 2
    except click.exceptions.Abort:
        print("collage: interrupted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("collage: interrupted", file=sys.stderr)
        return 130
    except CollageError as e:
        print(f"collage: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

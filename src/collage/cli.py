"""The `collage` command: a thin front end over the library (click + rich).

Every command's help says what it does and gives an example. Errors a user
can cause (:class:`collage.errors.CollageError`) end in one line on stderr and
exit code 2; anything else is a bug and keeps its traceback.

Commands live in this module as plain click functions; each imports the
library pieces it needs inside its body so that ``collage --help`` is fast.
"""

from __future__ import annotations

import logging
import sys
from typing import Optional

import click

from collage.errors import CollageError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="collage")
@click.option("-v", "--verbose", is_flag=True, help="Log progress details to stderr.")
def app(verbose: bool) -> None:
    """Fuse material from different songs into new, harmonic music.

    \b
    Example:
      collage stats --split test --grid ticks --json
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="collage: %(levelname)s: %(message)s")
    logging.captureWarnings(True)


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point: run the CLI and map user errors to one line and exit code 2."""
    try:
        app.main(args=argv, prog_name="collage", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return 2
    except (click.exceptions.Abort, KeyboardInterrupt):
        print("collage: interrupted", file=sys.stderr)
        return 130
    except CollageError as e:
        print(f"collage: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""What every ``collage`` command shares: its options (each spelled once), its output and its errors.

Output: a command's result goes to stdout; with ``--json`` stdout holds the JSON
alone. Progress bars (:mod:`collage.progress`), log messages, warnings and
deprecation notes go to stderr.

Errors: :func:`run_app` turns every :class:`~collage.errors.CollageError` (and
every click usage error) into one line ``collage: error: ...`` on stderr and
exit code 2; anything else is a bug and keeps its traceback.

Options: each shared option has one factory here, so one spelling, one
default and one help text. An option renamed keeps its old spelling for one
release as a hidden alias that prints a one-line deprecation note
(:func:`renamed`).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from collage.errors import CollageError, ParameterError

__all__ = [
    "ARRANGE_MODELS",
    "FUSE_METHODS",
    "FUSE_DEFAULT_METHOD",
    "CONTEXT",
    "IMAGE_SUFFIXES",
    "MIDI_SUFFIXES",
    "batch_size_option",
    "check_suffix",
    "data_root_option",
    "emit_json",
    "json_flag",
    "lr_option",
    "markdown_option",
    "max_minutes_option",
    "minutes_to_seconds",
    "note",
    "out_json_option",
    "output_option",
    "parse_float",
    "parse_int",
    "parse_int_list",
    "plot_option",
    "pop909_option",
    "renamed",
    "run_app",
    "run_dir_option",
    "seed_option",
    "steps_option",
    "tiny_option",
    "wav_option",
    "weights_out_option",
    "write_text",
]

#: click settings of every command: -h and --help, lines up to 100 characters.
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

MIDI_SUFFIXES = (".mid", ".midi")
#: The part separation methods (``collage arrange --model``, ``collage fuse --arrange-model``): the same as
#: :data:`collage.arrangement.pipeline.METHODS` (a test checks), spelled here so that ``--help`` need not import it.
ARRANGE_MODELS = ("zone", "closest", "closest-mono", "lstm", "bilstm", "transformer-enc", "transformer-dec")
IMAGE_SUFFIXES = (".png", ".svg", ".pdf")
FUSE_METHODS = ("collagenet", "rule", "gradient", "revoice")
"""``collage.fusion.vertical.METHODS``, without importing it (a test checks they agree)."""
FUSE_DEFAULT_METHOD = "revoice"
"""``collage.fusion.vertical.DEFAULT_METHOD``, likewise."""


# -- running and reporting -------------------------------------------------------------------
def run_app(group: click.Group, argv: list[str] | None = None, prog_name: str = "collage") -> int:
    """Run ``group`` on ``argv``; return the exit code (user errors: one line on stderr, 2)."""
    try:
        group.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.UsageError as e:
        cmd = e.ctx.command_path if e.ctx is not None else prog_name
        print(f"{prog_name}: error: {e.format_message()} (see '{cmd} --help')", file=sys.stderr)
        return 2
    except click.ClickException as e:
        print(f"{prog_name}: error: {e.format_message()}", file=sys.stderr)
        return 2
    except (click.exceptions.Abort, KeyboardInterrupt):
        print(f"{prog_name}: interrupted", file=sys.stderr)
        return 130
    except CollageError as e:
        print(f"{prog_name}: error: {e}", file=sys.stderr)
        return 2
    return 0


def emit_json(obj: Any, *, indent: int = 2) -> None:
    """Print ``obj`` as JSON on stdout (the only thing a ``--json`` run prints there)."""
    click.echo(json.dumps(obj, indent=indent))


def note(message: str) -> None:
    """A message for the user that is not the command's result: stderr."""
    click.echo(message, err=True)


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a side output such as ``--out-json`` or ``--markdown``)."""
    from collage.io.atomic import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(text)


# -- parsing ------------------------------------------------------------------------------------
def check_suffix(option: str, path: str | Path, suffixes: tuple[str, ...]) -> None:
    """Refuse an output name whose suffix is not one of ``suffixes`` (before any work is done)."""
    if Path(path).suffix.lower() not in suffixes:
        raise ParameterError(f"given {option} {str(path)!r}; expected a file name ending in {' or '.join(suffixes)}")


def parse_int(option: str, value: str, lo: int | None = None) -> int:
    """An integer option parsed here (not by click) so that a bad value is one error line naming it."""
    expected = "a whole number" if lo is None else f"an integer >= {lo}"
    try:
        v = int(str(value).strip(), 10)
    except (TypeError, ValueError):
        raise ParameterError(f"given {option} {value!r}; expected {expected}") from None
    if lo is not None and v < lo:
        raise ParameterError(f"given {option} {value!r}; expected {expected}")
    return v


def parse_float(option: str, value: str) -> float:
    """A number option parsed here so that a bad value is one error line naming it."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"given {option} {value!r}; expected a number") from None


def parse_int_list(option: str, value: str, example: str = "0,50,100") -> list[int]:
    """``'1,2,3'`` -> ``[1, 2, 3]``; a bad list is one error line naming the option."""
    try:
        return [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise ParameterError(f"given {option} {value!r}; expected integers like {example}") from None


# -- renamed options ------------------------------------------------------------------------------
def renamed(old: str, new: str, dest: str, *, type: Any = None, convert: Callable | None = None,
            is_flag: bool = False) -> Callable:
    """Keep ``old`` working as a hidden alias of ``new`` for one release.

    A command given ``old`` gets its value (through ``convert``, e.g. seconds to
    minutes) as the parameter ``dest`` and a one-line deprecation note on stderr.
    Put it below the option it aliases.
    """
    hidden = "deprecated_" + old.lstrip("-").replace("-", "_")

    def decorate(f: Callable) -> Callable:
        @functools.wraps(f)
        def command(*args, **kwargs):
            value = kwargs.pop(hidden)
            if value is not None and value is not False:
                note(f"collage: warning: {old} is deprecated and will be removed; use {new}")
                kwargs[dest] = convert(value) if convert is not None else value
            return f(*args, **kwargs)

        kw = {"is_flag": True, "default": False} if is_flag else {"type": type, "default": None}
        return click.option(old, hidden, hidden=True, **kw)(command)

    return decorate


# -- the shared options ------------------------------------------------------------------------
def json_flag(help: str = "Print the result as JSON (stdout holds the JSON alone).") -> Callable:
    """``--json``: print the result as JSON on stdout."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def output_option(metavar: str, help: str, *, required: bool = False) -> Callable:
    """``-o/--output FILE``: the command's main output file."""
    return click.option("-o", "--output", required=required, default=None, metavar=metavar, help=help)


def seed_option(help: str = "Seed.", default: int = 0) -> Callable:
    """``--seed N`` (an integer >= 0)."""
    return click.option("--seed", type=click.IntRange(min=0), default=default, show_default=True, help=help)


def run_dir_option(default: str | None = None, what: str = "runs/<name>") -> Callable:
    """``--run-dir DIR``: the training run's folder; an existing run is resumed."""
    help = "Run folder (checkpoint, log.jsonl, best.pt); an existing run is resumed"
    if default is None:
        help += f" (default: {what})."
        return click.option("--run-dir", default=None, metavar="DIR", help=help)
    return click.option("--run-dir", default=default, show_default=True, metavar="DIR", help=help + ".")


def steps_option(default: int | None, help: str = "Optimizer steps.") -> Callable:
    """``--steps N``: optimizer steps in all."""
    return click.option("--steps", type=click.IntRange(min=1), default=default, show_default=default is not None,
                        help=help)


def batch_size_option(default: int, help: str, *, min: int = 1) -> Callable:
    """``--batch-size N`` (old spelling ``--batch`` kept for one release)."""
    new = click.option("--batch-size", "batch_size", type=click.IntRange(min=min), default=default,
                       show_default=True, help=help)
    old = renamed("--batch", "--batch-size", "batch_size", type=click.IntRange(min=min))

    def decorate(f):
        return new(old(f))

    return decorate


def lr_option(default: float, help: str = "Adam learning rate.") -> Callable:
    """``--lr X``: the learning rate (> 0)."""
    return click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=default, show_default=True,
                        help=help)


def minutes_to_seconds(minutes: float | None) -> float | None:
    """``--max-minutes`` as the seconds the training library takes (None stays None)."""
    return None if minutes is None else 60.0 * minutes


def max_minutes_option(help: str = "Stop after this many minutes; run the same command again to resume.") -> Callable:
    """``--max-minutes M`` (old spelling ``--max-seconds S`` kept for one release, read as S / 60 minutes)."""
    new = click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=None, metavar="M",
                       help=help)
    old = renamed("--max-seconds", "--max-minutes", "max_minutes", type=click.FloatRange(min=1),
                  convert=lambda s: s / 60.0)

    def decorate(f):
        return new(old(f))

    return decorate


WEIGHTS_OUT_HELP = ("Folder for the weights and their card (default: the package's weights folder for weights "
                    "the package ships, else weights-training/).")


def weights_out_option() -> Callable:
    """``--out DIR``: where a training command writes its weights and card."""
    return click.option("--out", "out_dir", default=None, metavar="DIR", help=WEIGHTS_OUT_HELP)


def tiny_option(help: str = "Tiny models on a few songs (a smoke test).") -> Callable:
    """``--tiny``: a smoke test of the whole path."""
    return click.option("--tiny", is_flag=True, help=help)


def pop909_option() -> Callable:
    """``--pop909 DIR``: the POP909 dataset folder."""
    return click.option("--pop909", "pop909", type=click.Path(file_okay=False, path_type=str), default=None,
                        metavar="DIR", help="The POP909 folder (default: $COLLAGE_POP909 or ../shared/data/pop909).")


def data_root_option(help: str = "Rendered stems and cached features.") -> Callable:
    """``--data-root DIR``: the mashup experiments' rendered stems and feature cache."""
    return click.option("--data-root", default="runs/mashup", show_default=True, metavar="DIR", help=help)


def wav_option() -> Callable:
    """``--wav OUT.wav``: also render the result to audio."""
    return click.option("--wav", default=None, metavar="OUT.wav",
                        help="Also render the result to audio with FluidSynth (.wav or .flac).")


def plot_option(help: str = "Also draw inputs and output as stacked piano rolls (.png, .svg or .pdf).") -> Callable:
    """``--plot OUT.png``: also draw the result."""
    return click.option("--plot", "plot_path", default=None, metavar="OUT.png", help=help)


def out_json_option() -> Callable:
    """``--out-json PATH``: also write the JSON result to a file."""
    return click.option("--out-json", "out_json", default=None, metavar="PATH", help="Also write the result as JSON to PATH.")


def markdown_option() -> Callable:
    """``--markdown PATH``: also write the result as Markdown tables."""
    return click.option("--markdown", "md_path", default=None, metavar="PATH",
                        help="Also write the result as Markdown tables to PATH.")

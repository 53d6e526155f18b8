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


@app.command("stats", context_settings=CONTEXT)
@click.option("--split", type=click.Choice(["train", "val", "test", "all"]), default="test", show_default=True,
              help="POP909 song-level split (duple-metre songs only).")
@click.option("--grid", type=click.Choice(["ticks", "beats"]), default="ticks", show_default=True,
              help="ticks: 16th steps from the MIDI tick grid (the paper's); beats: from beat_midi.txt.")
@click.option("--pairs", "n_pairs", type=click.IntRange(min=1), default=5000, show_default=True,
              help="Pairs per set (capped at the number of segments).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the pair draws.")
@click.option("--pop909", "pop909", type=click.Path(file_okay=False, path_type=str), default=None,
              help="The POP909 folder (default: $COLLAGE_POP909 or ../shared/data/pop909).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of a table.")
def stats_command(split: str, grid: str, n_pairs: int, seed: int, pop909: Optional[str], as_json: bool) -> None:
    """Harmony statistics of POP909 pairs beside the CollageNet paper's.

    Draws PAIRS harmonic pairs (Ωh: melody and accompaniment of one 8-beat
    segment) and PAIRS disharmonic pairs (Ωdh: melody and accompaniment from
    different songs) from the split, and reports the mean pitch-class and
    onset histogram KLD / OA, the rhythm agreement RE (3-state and onset
    readings) and the single-track PC / PI / IOI, next to the paper's
    Tables 2 and 3 with the relative difference.

    \b
    Example:
      collage stats --split test --grid ticks --json > stats_ticks.json
      collage stats --grid beats --pairs 2000 --seed 1
    """
    import json

    from collage.stats import pop909_stats, relative_differences

    result = pop909_stats(split=split, grid=grid, n_pairs=n_pairs, seed=seed, root=pop909,
                          progress=not as_json and sys.stderr.isatty())
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return

    from rich.console import Console
    from rich.table import Table

    rel = relative_differences(result)
    table = Table(title=f"POP909 {result['split']} set, {result['grid']} grid, "
                        f"{result['n_pairs']} pairs per set, seed {result['seed']}")
    table.add_column("statistic")
    for row in ("Ωh", "Ωdh"):
        table.add_column(f"{row} ours", justify="right")
        table.add_column(f"{row} paper", justify="right")
        table.add_column("Δ rel", justify="right")

    def fmt(x, spec="{:.3f}"):
        return "–" if x is None else spec.format(x)

    for key in result["rows"]["omega_h"]:
        cells = [key]
        for row in ("omega_h", "omega_dh"):
            cells += [fmt(result["rows"][row][key]), fmt(result["paper"][row].get(key)),
                      fmt(rel[row][key], "{:+.1%}")]
        table.add_row(*cells)
    Console().print(table)


# -- render / plot / info / demo -------------------------------------------------------------
def _parse_int_option(name: str, value: str) -> int:
    """An integer option parsed here (not by click) so a bad value is one error line."""
    from collage.errors import ParameterError

    try:
        return int(str(value).strip())
    except ValueError:
        raise ParameterError(f"given {name} {value!r}; expected a whole number") from None


def _default_output(input_path: str, suffix: str) -> str:
    from pathlib import Path

    return Path(input_path).with_suffix(suffix).name


_MAJOR_KEYS = ("Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#")
_MINOR_KEYS = ("Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#", "G#", "D#", "A#")


def _key_name(sharps: int, minor: bool) -> str:
    if not -7 <= sharps <= 7:
        return f"{sharps:+d} sharps"
    return f"{(_MINOR_KEYS if minor else _MAJOR_KEYS)[sharps + 7]} {'minor' if minor else 'major'}"


def _info_dict(piece, path: str) -> dict:
    """The summary that ``collage info`` prints (plain JSON types)."""
    from collage.plot import pitch_name

    tracks = []
    for i, t in enumerate(piece.tracks):
        lo = int(t.pitches.min()) if len(t) else None
        hi = int(t.pitches.max()) if len(t) else None
        tracks.append({
            "index": i, "name": t.name, "program": int(t.program), "is_drum": bool(t.is_drum),
            "n_notes": len(t), "pitch_min": lo, "pitch_max": hi,
            "pitch_range": None if lo is None else f"{pitch_name(lo)}-{pitch_name(hi)}",
        })
    return {
        "path": str(path),
        "tpq": int(piece.tpq),
        "duration_s": round(piece.duration_s, 6),
        "end_tick": int(piece.end_tick),
        "n_notes": int(piece.n_notes),
        "tempos": [{"tick": t.tick, "qpm": round(t.qpm, 6)} for t in piece.tempos],
        "time_signatures": [{"tick": s.tick, "numerator": s.numerator, "denominator": s.denominator}
                            for s in piece.time_signatures],
        "key_signatures": [{"tick": k.tick, "sharps": k.sharps, "minor": k.minor, "name": _key_name(k.sharps, k.minor)}
                           for k in piece.key_signatures],
        "tracks": tracks,
    }


@app.command("render", context_settings=CONTEXT)
@click.argument("input_path", metavar="IN")
@click.option("-o", "--output", default=None, metavar="OUT.wav",
              help="Output audio, .wav or .flac (default: IN's name with .wav, in the current folder).")
@click.option("--sr", default="44100", show_default=True, metavar="HZ", help="Sample rate in Hz (8000..96000).")
@click.option("--soundfont", default=None, metavar="SF2",
              help="Soundfont file (default: $COLLAGE_SOUNDFONT, else the system's FluidR3_GM.sf2).")
def render_command(input_path: str, output: Optional[str], sr: str, soundfont: Optional[str]) -> None:
    """Render a MIDI, MusicXML or ABC file to audio with FluidSynth.

    Writes 16-bit mono audio: the whole piece plus one second of release. The
    level is left as synthesised unless it would clip (then it is normalised).
    Needs the fluidsynth program and a General MIDI soundfont
    (apt-get install --no-install-recommends fluidsynth fluid-soundfont-gm).

    \b
    Example:
      collage render song.mid -o song.wav --sr 22050
    """
    import soundfile as sf

    from collage.audio.render import render_to_file
    from collage.io import read

    rate = _parse_int_option("--sr", sr)
    out = output or _default_output(input_path, ".wav")
    piece = read(input_path)
    path = render_to_file(piece, out, sr=rate, soundfont=soundfont)
    info = sf.info(str(path))
    click.echo(f"wrote {path} ({info.duration:.1f} s, {info.samplerate} Hz, mono)")


@app.command("plot", context_settings=CONTEXT)
@click.argument("input_path", metavar="IN")
@click.option("-o", "--output", default=None, metavar="OUT.png",
              help="Output picture, .png, .svg or .pdf (default: IN's name with .png, in the current folder).")
@click.option("--title", default=None, help="Title above the piano roll (default: IN's file name).")
@click.option("--seconds", is_flag=True, help="Time axis in seconds instead of beats.")
def plot_command(input_path: str, output: Optional[str], title: Optional[str], seconds: bool) -> None:
    """Draw a MIDI, MusicXML or ABC file as a piano roll.

    One colour per track (legend with track names), beat lines light and bar
    lines dark from the file's time signatures, pitch axis with note names.

    \b
    Example:
      collage plot song.mid -o song.png --title "my song"
    """
    from pathlib import Path

    from collage.io import read
    from collage.plot import plot_pianoroll

    out = output or _default_output(input_path, ".png")
    piece = read(input_path)
    plot_pianoroll(piece, out, title=Path(input_path).name if title is None else title,
                   unit="seconds" if seconds else "beats")
    click.echo(f"wrote {out}")


@app.command("info", context_settings=CONTEXT)
@click.argument("input_path", metavar="IN")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def info_command(input_path: str, as_json: bool) -> None:
    """Summarise a MIDI, MusicXML or ABC file.

    Tracks (name, program, drum, number of notes, pitch range), ticks per
    quarter note, tempos, time and key signatures, and the duration.

    \b
    Example:
      collage info song.mid
      collage info song.mid --json
    """
    import json

    from collage.io import read

    piece = read(input_path, allow_empty=True)
    info = _info_dict(piece, input_path)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    tempos = ", ".join(f"{t['qpm']:g} qpm at tick {t['tick']}" for t in info["tempos"]) or "none (120 qpm)"
    sigs = ", ".join(f"{s['numerator']}/{s['denominator']} at tick {s['tick']}" for s in info["time_signatures"])
    sigs = sigs or "none (4/4)"
    keys = ", ".join(f"{k['name']} at tick {k['tick']}" for k in info["key_signatures"]) or "none"
    lines = [
        f"{info['path']}",
        f"  duration         {info['duration_s']:.2f} s ({info['end_tick'] / info['tpq']:g} beats),"
        f" {info['n_notes']} notes",
        f"  ticks/quarter    {info['tpq']}",
        f"  tempo            {tempos}",
        f"  time signature   {sigs}",
        f"  key signature    {keys}",
        f"  tracks           {len(info['tracks'])}",
    ]
    rows = [("#", "name", "program", "drum", "notes", "pitch range")]
    for t in info["tracks"]:
        rng = "-" if t["pitch_min"] is None else f"{t['pitch_range']} ({t['pitch_min']}-{t['pitch_max']})"
        rows.append((str(t["index"]), t["name"] or "-", str(t["program"]), "yes" if t["is_drum"] else "no",
                     str(t["n_notes"]), rng))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        lines.append("    " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    click.echo("\n".join(lines))


@app.command("demo", context_settings=CONTEXT,
             short_help="Run the main job on the bundled example melody and accompaniment.")
@click.option("-o", "--out-dir", default="out", show_default=True, metavar="OUTDIR", help="Output folder.")
@click.option("--no-audio", is_flag=True, help="Skip rendering pair.wav (no FluidSynth needed).")
def demo_command(out_dir: str, no_audio: bool) -> None:
    """Run collage's main job on the bundled example melody and accompaniment.

    Reads the bundled "Ode to Joy" melody (D major) and a piano accompaniment
    (I-vi-IV-V, C major) and writes to OUTDIR: pair.mid (the two as tracks
    MELODY and ACCOMPANIMENT), pair.wav (rendered with FluidSynth) and pair.png
    (the two inputs as stacked piano rolls). Fusing them is a later step.

    \b
    Example:
      collage demo -o out
    """
    from collage.demo import run_demo

    result = run_demo(out_dir, render_audio=not no_audio)
    what = {
        "midi": "melody and accompaniment as tracks MELODY and ACCOMPANIMENT",
        "audio": f"the pair rendered with FluidSynth ({result.sr} Hz mono)",
        "plot": "the two inputs as stacked piano rolls",
    }
    click.echo(f"collage demo: bundled melody + accompaniment, {result.duration_s:.1f} s each (not fused yet)")
    for name, path in result.inputs.items():
        click.echo(f"  read   {name:<14} {path}")
    for key, path in result.outputs.items():
        click.echo(f"  wrote  {str(path):<14} {what.get(key, '')}")


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point: run the CLI and map user errors to one line and exit code 2."""
    try:
        app.main(args=argv, prog_name="collage", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.UsageError as e:
        cmd = e.ctx.command_path if e.ctx is not None else "collage"
        print(f"collage: error: {e.format_message()} (see '{cmd} --help')", file=sys.stderr)
        return 2
    except click.ClickException as e:
        print(f"collage: error: {e.format_message()}", file=sys.stderr)
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

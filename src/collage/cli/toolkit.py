"""The toolkit commands: ``collage info | render | plot | stats``.

Each reads its input with :func:`collage.io.read` (``collage.load``) and calls one
library function: :func:`collage.audio.render.render` (``collage.render``),
:func:`collage.plotting.plot_pianoroll` (``collage.plot``) or :func:`collage.stats.pop909_stats`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from collage.cli.common import (
    CONTEXT,
    emit_json,
    json_flag,
    output_option,
    parse_int,
    pop909_option,
    seed_option,
)

__all__ = ["info_command", "plot_command", "render_command", "stats_command"]

# Library imports sit inside the commands: they pull matplotlib, music21 and rich, and `collage --help` must stay fast.


def _default_output(input_path: str, suffix: str) -> str:
    """IN's file name with ``suffix``, in the current folder."""
    return Path(input_path).with_suffix(suffix).name


def _key_name(sharps: int, minor: bool) -> str:
    """The key a key signature names: -3, False -> 'Eb major' (one spelling: collage.represent.pitch)."""
    from collage.represent.pitch import key_signature_name

    if not -7 <= sharps <= 7:
        return f"{sharps:+d} sharps"
    return key_signature_name(sharps, minor)


def _info_dict(piece, path: str) -> dict:
    """The summary that ``collage info`` prints (plain JSON types)."""
    from collage.plotting import pitch_name

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


@click.command("info", context_settings=CONTEXT)
@click.argument("input_path", metavar="IN")
@json_flag("Print the summary as JSON (stdout holds the JSON alone).")
def info_command(input_path: str, as_json: bool) -> None:
    """Summarise a MIDI, MusicXML or ABC file.

    Tracks (name, program, drum, number of notes, pitch range), ticks per
    quarter note, tempos, time and key signatures, and the duration.

    \b
    Example:
      collage info song.mid
      collage info song.mid --json
    """
    from collage.io import read

    piece = read(input_path, allow_empty=True)
    info = _info_dict(piece, input_path)
    if as_json:
        emit_json(info)
        return
    tempos = ", ".join(f"{t['qpm']:g} qpm at tick {t['tick']}" for t in info["tempos"]) or "none (120 qpm)"
    sigs = ", ".join(f"{s['numerator']}/{s['denominator']} at tick {s['tick']}" for s in info["time_signatures"])
    sigs = sigs or "none (4/4)"
    keys = ", ".join(f"{k['name']} at tick {k['tick']}" for k in info["key_signatures"]) or "none"
    lines = [
        f"{info['path']}",
        (f"  duration         {info['duration_s']:.2f} s ({info['end_tick'] / info['tpq']:g} beats),"
         f" {info['n_notes']} notes"),
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


@click.command("render", context_settings=CONTEXT)
@click.argument("input_path", metavar="IN")
@output_option("OUT.wav", "Output audio, .wav or .flac (default: IN's name with .wav, in the current folder).")
@click.option("--sr", default="44100", show_default=True, metavar="HZ", help="Sample rate in Hz (8000..96000).")
@click.option("--soundfont", default=None, metavar="SF2",
              help="Soundfont file (default: $COLLAGE_SOUNDFONT, else the system's FluidR3_GM.sf2).")
def render_command(input_path: str, output: str | None, sr: str, soundfont: str | None) -> None:
    """Render a MIDI, MusicXML or ABC file to audio with FluidSynth.

    Writes 16-bit mono audio: the whole piece plus one second of release. The
    level is left as synthesised unless it would clip (then it is normalised).
    Needs the fluidsynth program and a General MIDI soundfont
    (apt-get install --no-install-recommends fluidsynth fluid-soundfont-gm).

    \b
    Example:
      collage render song.mid -o song.wav --sr 22050
    """
    from collage.audio.render import render
    from collage.io import read

    rate = parse_int("--sr", sr)
    out = output or _default_output(input_path, ".wav")
    piece = read(input_path)
    y, rate = render(piece, out, sr=rate, soundfont=soundfont)
    click.echo(f"wrote {out} ({len(y) / rate:.1f} s, {rate} Hz, mono)")


@click.command("plot", context_settings=CONTEXT)
@click.argument("input_path", metavar="IN")
@output_option("OUT.png", "Output picture, .png, .svg or .pdf (default: IN's name with .png, in the current folder).")
@click.option("--title", default=None, help="Title above the piano roll (default: IN's file name).")
@click.option("--seconds", is_flag=True, help="Time axis in seconds instead of beats.")
def plot_command(input_path: str, output: str | None, title: str | None, seconds: bool) -> None:
    """Draw a MIDI, MusicXML or ABC file as a piano roll.

    One colour per track (legend with track names), beat lines light and bar
    lines dark from the file's time signatures, pitch axis with note names.

    \b
    Example:
      collage plot song.mid -o song.png --title "my song"
    """
    from collage.io import read
    from collage.plotting import plot_pianoroll

    out = output or _default_output(input_path, ".png")
    piece = read(input_path)
    plot_pianoroll(piece, out, title=Path(input_path).name if title is None else title,
                   unit="seconds" if seconds else "beats")
    click.echo(f"wrote {out}")


@click.command("stats", context_settings=CONTEXT)
@click.option("--split", type=click.Choice(["train", "val", "test", "all"]), default="test", show_default=True,
              help="POP909 song-level split (duple-metre songs only).")
@click.option("--grid", type=click.Choice(["ticks", "beats"]), default="ticks", show_default=True,
              help="ticks: 16th steps from the MIDI tick grid (the paper's); beats: from beat_midi.txt.")
@click.option("--pairs", "n_pairs", type=click.IntRange(min=1), default=5000, show_default=True,
              help="Pairs per set (capped at the number of segments).")
@seed_option("Seed of the pair draws.")
@pop909_option()
@json_flag()
def stats_command(split: str, grid: str, n_pairs: int, seed: int, pop909: str | None, as_json: bool) -> None:
    """Harmony statistics of POP909 pairs beside the CollageNet paper's.

    Draws PAIRS human pairs (the melody and accompaniment of one 8-beat
    segment of a song) and PAIRS mismatched pairs (melody and accompaniment
    from different songs) from the split, and reports the mean pitch-class and
    onset histogram divergence (KLD) and overlap (OA), the rhythm agreement RE
    (3-state and onset readings) and the single-track pitch count PC, pitch
    interval PI and inter-onset interval IOI, next to the paper's Tables 2 and
    3 with the relative difference. In the table, Ωh stands for the human
    pairs and Ωdh for the mismatched ones, as in the paper.

    \b
    Example:
      collage stats --split test --grid ticks --json > stats_ticks.json
      collage stats --grid beats --pairs 2000 --seed 1
    """
    from collage.stats import pop909_stats, relative_differences

    result = pop909_stats(split=split, grid=grid, n_pairs=n_pairs, seed=seed, root=pop909,
                          progress=not as_json and sys.stderr.isatty())
    if as_json:
        emit_json(result)
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

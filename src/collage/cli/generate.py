"""``collage generate``: new music, or more of a given piece, from the Multitrack Music Transformer.

The command parses its options and calls :func:`collage.generation.generate`
and :func:`collage.fusion.outputs.write_outputs`.
"""

from __future__ import annotations

from pathlib import Path

import click

from collage.cli.common import (
    CONTEXT,
    IMAGE_SUFFIXES,
    MIDI_SUFFIXES,
    check_suffix,
    emit_json,
    json_flag,
    output_option,
    plot_option,
    seed_option,
    wav_option,
)
from collage.errors import ParameterError
from collage.generation.defaults import DEFAULT_TEMPERATURE, DEFAULT_TOP_K, format_temperature, parse_temperature
from collage.represent.mmt import FIELDS

__all__ = ["generate_command", "summary"]

# Library imports sit inside the command: they pull torch and matplotlib, and `collage --help` must stay fast.

#: the same as collage.generation.MAX_BEATS (a test checks), spelled here so that --help need not import it
MAX_BEATS = 1024


def _parse_top_k(value: str) -> float:
    try:
        k = float(value)
    except ValueError:
        raise ParameterError(f"given --top-k {value!r}; expected a share in (0, 1) or a count >= 1") from None
    if not k > 0 or k != k or k == float("inf") or (k > 1 and k != int(k)):
        raise ParameterError(f"given --top-k {value!r}; expected a share in (0, 1) or a whole count >= 1")
    return int(k) if k >= 1 else k


def summary(piece, *, mode: str, beats: int, seed: int, outputs=()) -> dict:
    """The ``--json`` summary of a generated piece (plain JSON types)."""
    tracks = [{"name": t.name, "program": int(t.program), "n_notes": len(t)} for t in piece.tracks]
    return {
        "mode": mode,
        "beats_asked": beats,
        "beats": round(piece.end_tick / piece.tpq, 3),
        "n_notes": piece.n_notes,
        "tracks": tracks,
        "seed": seed,
        "outputs": [str(p) for p in outputs],
    }


@click.command("generate", context_settings=CONTEXT,
               short_help="Generate new music, or continue a piece, with the Multitrack Music Transformer.")
@output_option("OUT.mid", "The generated MIDI file (default: generated.mid).")
@click.option("--list-instruments", is_flag=True, help="Print the instrument names the model knows and exit.")
@click.option("--instruments", default=None, metavar="A,B,...",
              help="Generate for these instruments (see --list-instruments); with --continue, parts to add.")
@click.option("--continue", "prompt", default=None, metavar="FILE",
              help="Continue this MIDI, MusicXML or ABC file (its tracks map to instruments by name and program).")
@click.option("--prompt-beats", default=None, type=int, metavar="N",
              help="With --continue: keep only the first N quarter-note beats of FILE (default: all of it).")
@click.option("--beats", default=64, show_default=True, type=int, metavar="N",
              help=f"Quarter-note beats to generate (after the prompt when continuing), 1..{MAX_BEATS}.")
@seed_option("Seed of the sampler (same seed and model: same music).")
@click.option("--temperature", default=None, metavar="T",
              help="Sampling temperature (lower: safer; 0: always the likeliest): one number for every field, or "
                   "per field, e.g. pitch=0.7,position=1.0 (the others keep the default) or 0.9,pitch=0.7 "
                   f"(fields: {', '.join(FIELDS)}). "
                   f"[default: {format_temperature()}]")
@click.option("--top-k", "top_k", default=str(DEFAULT_TOP_K), show_default=True, metavar="K",
              help="Sample each field from its K likeliest codes: a share below 1 (the paper's 0.1) or a count.")
@click.option("--model", "model_path", default=None, metavar="PATH",
              help="MMT weights (.pt with its .json card; default: the shipped mmt).")
@wav_option()
@plot_option("Also draw the result (and the prompt) as piano rolls (.png, .svg or .pdf).")
@json_flag("Print a summary as JSON (stdout holds the JSON alone).")
def generate_command(output, list_instruments, instruments, prompt, prompt_beats, beats, seed, temperature, top_k,
                     model_path, wav, plot_path, as_json) -> None:
    """Generate new music with the Multitrack Music Transformer, or continue a piece.

    Three modes: with no --instruments and no --continue the model chooses
    the instruments and writes the music (unconditioned); with --instruments
    it writes for those instruments; with --continue FILE it continues the
    file's first --prompt-beats beats (all of it by default) for --beats more
    beats, keeping the file's own notes unchanged, and --instruments adds
    parts the file lacks. The model was trained on POP909 (roles melody,
    counter-melody, piano) and music21's corpus (voices, string quartets,
    ...).

    \b
    Example:
      collage generate --list-instruments
      collage generate -o new.mid --beats 64 --seed 1 --wav new.wav --plot new.png
      collage generate --instruments violin,viola,cello -o trio.mid
      collage generate --continue song.mid --prompt-beats 16 --beats 32 -o longer.mid
    """
    if list_instruments:
        from collage.represent.mmt import INSTRUMENTS

        if as_json:
            emit_json({"instruments": list(INSTRUMENTS)})
        else:
            click.echo("\n".join(INSTRUMENTS))
        return
    output = output or "generated.mid"
    check_suffix("-o/--output", output, MIDI_SUFFIXES)
    if not 1 <= beats <= MAX_BEATS:
        raise ParameterError(f"given --beats {beats}; expected 1..{MAX_BEATS}")
    if prompt_beats is not None:
        if prompt is None:
            raise ParameterError("given --prompt-beats without --continue FILE")
        if not 1 <= prompt_beats <= MAX_BEATS:
            raise ParameterError(f"given --prompt-beats {prompt_beats}; expected 1..{MAX_BEATS}")
    temperature = parse_temperature(temperature) if temperature is not None else DEFAULT_TEMPERATURE
    k = _parse_top_k(top_k)
    if wav is not None:
        from collage.audio.render import AUDIO_SUFFIXES, check_renderer

        check_suffix("--wav", wav, tuple(AUDIO_SUFFIXES))
        check_renderer()  # fail before any work or output
    if plot_path is not None:
        check_suffix("--plot", plot_path, IMAGE_SUFFIXES)

    from collage.represent.mmt import check_instruments

    names = check_instruments(instruments) if instruments is not None else None  # before loading anything
    from collage.fusion.outputs import write_outputs
    from collage.generation import generate
    from collage.io import read
    from collage.pretrained import load_pretrained

    prompt_piece = read(prompt) if prompt is not None else None
    model = load_pretrained(model_path or "mmt")
    piece = generate(instruments=names, prompt=prompt_piece, prompt_beats=prompt_beats, beats=beats, seed=seed,
                     temperature=temperature, top_k=k, model=model)
    mode = "continuation" if prompt is not None else ("instrument-informed" if names else "unconditioned")
    pieces, titles = [piece], [f"generated ({mode}, seed {seed})"]
    if prompt_piece is not None:
        pieces, titles = [prompt_piece, piece], [f"prompt: {Path(prompt).name}", titles[0]]
    written = write_outputs(piece, output, wav=wav, plot=plot_path, plot_pieces=pieces, plot_titles=titles)
    if as_json:
        emit_json(summary(piece, mode=mode, beats=beats, seed=seed, outputs=written))
        return
    parts = ", ".join(f"{t.name} {len(t)}" for t in piece.tracks)
    click.echo(f"generated ({mode}, seed {seed}): {piece.end_tick / piece.tpq:g} beats, {piece.n_notes} notes ({parts})")
    for p in written:
        click.echo(f"wrote {p}")

"""``collage arrange``: every note of a piece given to a part of an ensemble.

The command parses its options and calls :func:`collage.arrangement.pipeline.arrange_file`.
"""

from __future__ import annotations

from pathlib import Path

import click

from collage.cli.common import (
    ARRANGE_MODELS,
    CONTEXT,
    output_option,
    plot_option,
    wav_option,
)

__all__ = ["arrange_command"]

# Library imports sit inside the command: they pull torch and matplotlib, and `collage --help` must stay fast.


@click.command("arrange", context_settings=CONTEXT)
@click.argument("input_path", metavar="IN")
@output_option("OUT.mid", "Output multitrack MIDI (default: IN's name with .arranged.mid, in the current folder).")
@click.option("--ensemble", default="satb", show_default=True, metavar="satb|pop909",
              help="Target ensemble: satb (Soprano, Alto, Tenor, Bass) or pop909 (MELODY, BRIDGE, PIANO).")
@click.option("--model", "model", type=click.Choice(ARRANGE_MODELS), default=None,
              help="Part separation method (default: bilstm; zone, closest and closest-mono are the baselines).")
@click.option("--weights", default=None, metavar="PT",
              help="Use these weights (a .pt with its .json card) instead of the shipped ones.")
@click.option("--entry-hints", default=None, metavar="PART=BEAT,...",
              help="Which parts play and from when, in beats from the start, e.g. 'Soprano=0,Bass=4'. "
                   "Parts not named stay silent.")
@wav_option()
@plot_option("Also draw the arrangement as a piano roll (.png, .svg or .pdf).")
def arrange_command(input_path, output, ensemble, model, weights, entry_hints, wav, plot_path) -> None:
    """Arrange a piece for an ensemble: give every note to a part (voice or instrument).

    Reads any file collage reads (MIDI, MusicXML, ABC), merges all pitched
    notes (drums are dropped, with a warning) and assigns each note to a part
    of the ensemble by part separation (Dong et al., ISMIR 2021). Writes a
    multitrack MIDI with one named track and a fitting General MIDI program
    per part. Online models (lstm, transformer-dec, closest, zone) decide each
    note from past notes only, as a live keyboard would; offline ones (bilstm,
    transformer-enc) see the whole piece. With --entry-hints the models trained
    with entry hints are used and parts not named get no notes.

    \b
    Example:
      collage arrange chorale.mid -o satb.mid --ensemble satb --model bilstm --wav satb.wav
      collage arrange song.mid -o band.mid --ensemble pop909 --entry-hints 'PIANO=0,MELODY=8,BRIDGE=8'
    """
    from collage.arrangement.pipeline import arrange_file

    out = output or Path(input_path).with_suffix(".arranged.mid").name
    result = arrange_file(input_path, out, ensemble=ensemble, model=model or "bilstm", weights=weights,
                          entry_hints=entry_hints, wav=wav, plot=plot_path)
    counts = ", ".join(f"{name} {n}" for name, n in result.counts.items())
    click.echo(f"arranged {result.n_notes} notes for {result.ensemble} with {result.method}: {counts}")
    for path in result.outputs:
        click.echo(f"  wrote  {path}")

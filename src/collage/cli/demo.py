"""``collage demo``: the main job run on the bundled example melody and accompaniment.

The command calls :func:`collage.demo.run_demo` and reports what it wrote.
"""

from __future__ import annotations

import click

from collage.cli.common import CONTEXT

__all__ = ["demo_command"]

# Library imports sit inside the command: they pull torch and matplotlib, and `collage --help` must stay fast.


@click.command("demo", context_settings=CONTEXT,
               short_help="Run the main job on the bundled example melody and accompaniment.")
@click.option("-o", "--out-dir", default="out", show_default=True, metavar="OUTDIR", help="Output folder.")
@click.option("--no-audio", is_flag=True, help="Skip rendering pair.wav (no FluidSynth needed).")
def demo_command(out_dir: str, no_audio: bool) -> None:
    """Run collage's main job on the bundled example melody and accompaniment.

    Fuses the bundled "Ode to Joy" melody (D major) and an unrelated piano
    accompaniment (I-vi-IV-V, C major) with collage fuse at the default
    controls, and writes to OUTDIR: pair.mid (the fused tracks MELODY and
    ACCOMPANIMENT), pair.wav (rendered with FluidSynth) and pair.png (the two
    inputs and the result as stacked piano rolls). The method is CollageNet
    when its trained weights are shipped, else the rule-based baseline (the
    output says which).

    \b
    Example:
      collage demo -o out
    """
    from collage.demo import run_demo

    result = run_demo(out_dir, render_audio=not no_audio)
    what = {
        "midi": "the fused piece, tracks MELODY and ACCOMPANIMENT",
        "audio": f"the fused piece rendered with FluidSynth ({result.sr} Hz mono)",
        "plot": "the two inputs and the fused piece as stacked piano rolls",
    }
    click.echo(f"collage demo: bundled melody + accompaniment fused by the {result.note} "
               f"(accompaniment {result.key_shift:+d} semitones), {result.duration_s:.1f} s")
    for name, path in result.inputs.items():
        click.echo(f"  read   {name:<14} {path}")
    for key, path in result.outputs.items():
        click.echo(f"  wrote  {path!s:<14} {what.get(key, '')}")

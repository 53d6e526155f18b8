"""``collage join``: two phrases joined so that the second follows the first.

The command parses its options and calls :func:`collage.fusion.horizontal.join`
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
    parse_float,
    parse_int,
    plot_option,
    seed_option,
    wav_option,
)
from collage.errors import ParameterError

__all__ = ["join_command"]

# Library imports sit inside the command: they pull torch and matplotlib, and `collage --help` must stay fast.


@click.command("join", context_settings=CONTEXT,
               short_help="Join two phrases so that the second follows the first.")
@click.argument("left_path", metavar="LEFT")
@click.argument("right_path", metavar="RIGHT")
@output_option("OUT.mid", "The joined MIDI file (one track MELODY).", required=True)
@click.option("--style", "style", multiple=True, metavar="S",
              help="Style value in [0, 1]; give once (all four) or four times: left pitch, left rhythm, right pitch, "
                   "right rhythm (default 0.5 each).")
@click.option("--iterations", default="1", show_default=True, metavar="K",
              help="Apply the transformation K times (each on the previous output).")
@click.option("--lam", default=None, metavar="W",
              help="Use the shipped join actor trained at distance weight W (the higher, the less it moves the "
                   "phrases; default: join_actor).")
@click.option("--method", type=click.Choice(["ours", "lp"]), default="ours", show_default=True,
              help="ours (the join actor) or lp (latent random search: random proposals scored by the join critic).")
@click.option("--lp-steps", default=None, metavar="N", help="Steps of the latent random search (--method lp; default 400).")
@click.option("--lp-budget", default=None, metavar="D",
              help="Largest latent distance the random search may move the two phrases (--method lp; default 4).")
@seed_option("Seed of the latent random search's proposals.")
@click.option("--left-track", default=None, metavar="NAME", help="The melody track of LEFT (default: MELODY or the only one).")
@click.option("--right-track", default=None, metavar="NAME", help="The melody track of RIGHT.")
@wav_option()
@plot_option()
@json_flag("Print a summary as JSON (stdout holds the JSON alone).")
def join_command(left_path, right_path, output, style, iterations, lam, method, lp_steps, lp_budget, seed,
                 left_track, right_track, wav, plot_path, as_json) -> None:
    """Join LEFT and RIGHT: transform the last 8 beats of LEFT and the first 8 of RIGHT so that RIGHT follows.

    Inputs are MIDI, MusicXML or ABC files of any length; each one's melody
    track is used (MELODY, or the only pitched track, or --left-track /
    --right-track). The rest of LEFT before the joint and of RIGHT after it is
    kept. The output is one melody track, LEFT's tempo and metre.

    \b
    Example:
      collage join a.mid b.mid -o joined.mid --style 0.2 --style 0.8 --style 0.5 --style 0.5 --iterations 2
      collage join a.mid b.mid -o searched.mid --method lp --lp-steps 800
    """
    from collage.fusion.horizontal import (
        LP_BUDGET,
        LP_STEPS,
        JoinModels,
        actor_for_lam,
        check_style,
        join,
    )
    from collage.fusion.outputs import write_outputs

    style_values = None
    if style:
        style_values = check_style([parse_float("--style", v) for v in style])
    k = parse_int("--iterations", iterations, 1)
    steps = LP_STEPS if lp_steps is None else parse_int("--lp-steps", lp_steps, 0)
    budget = LP_BUDGET if lp_budget is None else parse_float("--lp-budget", lp_budget)
    if not budget >= 0:
        raise ParameterError(f"given --lp-budget {lp_budget!r}; expected a number >= 0")
    lam_value = None if lam is None else parse_float("--lam", lam)
    if lam_value is not None and method != "ours":
        raise ParameterError(f"given --lam {lam} with --method {method}; --lam picks the join actor (method ours)")
    check_suffix("-o/--output", output, MIDI_SUFFIXES)
    if wav is not None:
        from collage.audio.render import AUDIO_SUFFIXES, check_renderer

        check_suffix("--wav", wav, tuple(AUDIO_SUFFIXES))
        check_renderer()
    if plot_path is not None:
        check_suffix("--plot", plot_path, IMAGE_SUFFIXES)
    models = JoinModels.load(actor=actor_for_lam(lam_value) if method == "ours" else None,
                             critic="join_critic" if method == "lp" else None)
    result = join(left_path, right_path, style=style_values, iterations=k, method=method, seed=seed, models=models,
                  left_track=left_track, right_track=right_track, lp_budget=budget, lp_steps=steps)
    written = write_outputs(
        result.piece, output, wav=wav, plot=plot_path,
        plot_pieces=[result.left_input, result.right_input, result.piece],
        plot_titles=[f"left: {Path(left_path).name}", f"right: {Path(right_path).name}",
                     f"joined ({result.method}; joint at beat {result.joint_start / 4:g})"])
    if as_json:
        emit_json({**result.summary(), "outputs": [str(p) for p in written]})
        return
    how = (f"style {', '.join(f'{v:g}' for v in result.style.values())}, {result.iterations} iteration(s), "
           f"distance weight {result.lam:g}" if result.method == "ours" and result.lam is not None else
           f"{result.iterations} search steps")
    click.echo(f"joined with {result.method} ({how}): z-distance {result.z_distance:.3f}, "
               f"joint at beat {result.joint_start / 4:g}, {result.n_steps / 4:g} beats")
    for p in written:
        click.echo(f"wrote {p}")

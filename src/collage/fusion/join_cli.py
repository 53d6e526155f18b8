"""The command line of phrase joining: ``collage join``, ``collage train join-*``, ``collage eval join``.

Registered in :mod:`collage.cli`; the heavy imports happen inside the commands.
"""

from __future__ import annotations

import click

__all__ = ["join_command", "train_join_critic_command", "train_join_actor_command", "train_join_judge_command",
           "eval_join_command"]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _parse_int(name: str, value: str, lo: int) -> int:
    from collage.errors import ParameterError

    try:
        v = int(value, 10)
    except (TypeError, ValueError):
        raise ParameterError(f"given {name} {value!r}; expected an integer >= {lo}") from None
    if v < lo:
        raise ParameterError(f"given {name} {value!r}; expected an integer >= {lo}")
    return v


def _parse_float(name: str, value: str) -> float:
    from collage.errors import ParameterError

    try:
        return float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"given {name} {value!r}; expected a number") from None


@click.command("join", context_settings=CONTEXT,
               short_help="Join two phrases so that the second follows the first (Connective Fusion).")
@click.argument("left_path", metavar="LEFT")
@click.argument("right_path", metavar="RIGHT")
@click.option("-o", "--output", required=True, metavar="OUT.mid", help="The joined MIDI file (one track MELODY).")
@click.option("--style", "style", multiple=True, metavar="S",
              help="Style value in [0, 1]; give once (all four) or four times: left pitch, left rhythm, right pitch, "
                   "right rhythm (default 0.5 each).")
@click.option("--iterations", default="1", show_default=True, metavar="K",
              help="Apply the transformation K times (each on the previous output).")
@click.option("--lam", default=None, metavar="λ",
              help="Use the shipped join actor trained at this distance weight (default: join_actor).")
@click.option("--method", type=click.Choice(["ours", "lp"]), default="ours", show_default=True,
              help="ours (the join actor) or lp (latent random search against the join critic).")
@click.option("--lp-steps", default=None, metavar="N", help="LP: random-search steps (default 400).")
@click.option("--lp-budget", default=None, metavar="D", help="LP: z-distance budget rho_L + rho_R (default 4).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of LP's proposals.")
@click.option("--left-track", default=None, metavar="NAME", help="The melody track of LEFT (default: MELODY or the only one).")
@click.option("--right-track", default=None, metavar="NAME", help="The melody track of RIGHT.")
@click.option("--wav", default=None, metavar="OUT.wav", help="Also render the result (.wav or .flac).")
@click.option("--plot", default=None, metavar="OUT.png", help="Also draw inputs and output as piano rolls.")
@click.option("--json", "as_json", is_flag=True, help="Print a summary as JSON.")
def join_command(left_path, right_path, output, style, iterations, lam, method, lp_steps, lp_budget, seed,
                 left_track, right_track, wav, plot, as_json) -> None:
    """Join LEFT and RIGHT: transform the last 8 beats of LEFT and the first 8 of RIGHT so that RIGHT follows.

    Inputs are MIDI, MusicXML or ABC files of any length; each one's melody
    track is used (MELODY, or the only pitched track, or --left-track /
    --right-track). The rest of LEFT before the joint and of RIGHT after it is
    kept. The output is one melody track, LEFT's tempo and metre.

    \b
    Example:
      collage join a.mid b.mid -o joined.mid --style 0.2 --style 0.8 --style 0.5 --style 0.5 --iterations 2
      collage join a.mid b.mid -o lp.mid --method lp --lp-steps 800
    """
    import json
    from pathlib import Path

    from collage.errors import CollageError, ParameterError
    from collage.fusion.horizontal import LP_BUDGET, LP_STEPS, JoinModels, actor_for_lam, check_style, join
    from collage.io import write_midi

    style_values = None
    if style:
        style_values = check_style([_parse_float("--style", v) for v in style])
    k = _parse_int("--iterations", iterations, 1)
    steps = LP_STEPS if lp_steps is None else _parse_int("--lp-steps", lp_steps, 0)
    budget = LP_BUDGET if lp_budget is None else _parse_float("--lp-budget", lp_budget)
    if not budget >= 0:
        raise ParameterError(f"given --lp-budget {lp_budget!r}; expected a number >= 0")
    lam_value = None if lam is None else _parse_float("--lam", lam)
    if lam_value is not None and method != "ours":
        raise ParameterError(f"given --lam {lam} with --method {method}; λ picks the join actor (method ours)")
    from collage.cli import _check_suffix  # the front end's one check (imported here: cli imports this module)

    _check_suffix("-o/--output", output, (".mid", ".midi"))
    if wav is not None:
        from collage.audio.render import AUDIO_SUFFIXES, check_renderer

        _check_suffix("--wav", wav, tuple(AUDIO_SUFFIXES))
        check_renderer()
    if plot is not None:
        _check_suffix("--plot", plot, (".png", ".svg", ".pdf"))
    models = JoinModels.load(actor=actor_for_lam(lam_value) if method == "ours" else None,
                             critic="join_critic" if method == "lp" else None)
    result = join(left_path, right_path, style=style_values, iterations=k, method=method, seed=seed, models=models,
                  left_track=left_track, right_track=right_track, lp_budget=budget, lp_steps=steps)
    written = []
    try:
        written.append(write_midi(result.piece, output))
        if wav is not None:
            from collage.audio.render import render_to_file

            written.append(render_to_file(result.piece, wav))
        if plot is not None:
            from collage.plotting import plot_pianorolls

            plot_pianorolls([result.left_input, result.right_input, result.piece], plot,
                            titles=[f"left: {Path(left_path).name}", f"right: {Path(right_path).name}",
                                    f"joined ({result.method}; joint at beat {result.joint_start / 4:g})"])
            written.append(plot)
    except CollageError:
        for p in written:
            Path(p).unlink(missing_ok=True)
        raise
    summary = {"method": result.method, "style": result.style, "iterations": result.iterations, "lam": result.lam,
               "seed": result.seed, "z_distance": round(result.z_distance, 6), "joint_beat": result.joint_start / 4,
               "n_beats": result.n_steps / 4, "left_qpm": round(result.left_qpm, 3),
               "right_qpm": round(result.right_qpm, 3), "n_notes": len(result.piece.tracks[0]),
               "outputs": [str(p) for p in written]}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    how = (f"style {', '.join(f'{v:g}' for v in result.style.values())}, {result.iterations} iteration(s), "
           f"λ {result.lam:g}" if result.method == "ours" and result.lam is not None else
           f"{result.iterations} search steps")
    click.echo(f"joined with {result.method} ({how}): z-distance {result.z_distance:.3f}, "
               f"joint at beat {result.joint_start / 4:g}, {result.n_steps / 4:g} beats")
    for p in written:
        click.echo(f"wrote {p}")


def _train_options(f):
    for opt in reversed([
        click.option("--run-dir", default=None, help="Run folder (default: runs/<name>); resumed if present."),
        click.option("--steps", type=click.IntRange(min=1), default=None, help="Training steps."),
        click.option("--batch-size", type=click.IntRange(min=2), default=256, show_default=True, help="Batch size."),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-4, show_default=True,
                     help="Adam learning rate (betas 0, 0.9)."),
        click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed."),
        click.option("--out", "out_dir", default=None, help="Where to write the weights (default: the package)."),
        click.option("--max-seconds", type=click.FloatRange(min=1), default=None,
                     help="Stop after this long (run again to resume)."),
        click.option("--tiny", is_flag=True, help="Tiny random VAE and models on a few songs (a smoke test)."),
    ]):
        f = opt(f)
    return f


@click.command("join-critic", context_settings=CONTEXT)
@_train_options
@click.option("--name", default="join_critic", show_default=True, help="Name of the weights.")
def train_join_critic_command(run_dir, steps, batch_size, lr, seed, out_dir, max_seconds, tiny, name) -> None:
    """Pre-train the join critic alone: consecutive POP909 segments vs unpaired ones and prior samples.

    It is the reality score the LP baseline searches against. Melody latents
    of non-overlapping 8-beat train segments x 3 transpositions are encoded
    once and cached.

    \b
    Example:
      collage train join-critic --steps 2000
    """
    from collage.training.join import run_train_join_critic

    pt = run_train_join_critic(run_dir=run_dir or f"runs/{name}", steps=steps or 2000, batch_size=batch_size, lr=lr,
                               seed=seed, out_dir=out_dir, name=name, tiny=tiny, max_seconds=max_seconds)
    click.echo(f"wrote {pt}")


@click.command("join-actor", context_settings=CONTEXT)
@_train_options
@click.option("--lam", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Weight λ of the distance term rho(z_L', z_L) + rho(z_R', z_R).")
@click.option("--name", default=None, help="Name of the weights (default: join_actor; join_actor_lam<λ> with --no-default).")
@click.option("--no-default", is_flag=True, help="Not the shipped default: name it join_actor_lam<λ>.")
@click.option("--diversity", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Weight of the mode-seeking term that makes the style change the output.")
@click.option("--diversity-cap", type=click.FloatRange(min=0, min_open=True), default=0.5, show_default=True,
              help="Cap of that term's ratio (output change per unit of style change).")
@click.option("--init-from", default=None, metavar="NAME|PT",
              help="Warm-start the actor from these join-actor weights (the critic from join_critic).")
@click.option("--judge", default=None, metavar="NAME|PT",
              help="Keep the step with the best reality-classifier score on decoded val joins (e.g. join_judge).")
def train_join_actor_command(run_dir, steps, batch_size, lr, seed, out_dir, max_seconds, tiny, lam, name,
                             no_default, diversity, diversity_cap, init_from, judge) -> None:
    """Train the join actor G(z_L, z_R, s) with its critic at distance weight λ (Connective Fusion).

    \b
    Example:
      collage train join-actor --lam 1
      collage train join-actor --lam 0.3 --no-default
      collage train join-actor --lam 0.1 --no-default --init-from join_actor_lam0.1 --diversity 0.1 --judge join_judge
    """
    from collage.training.join import join_actor_name, run_train_join_actor

    name = name or join_actor_name(lam, not no_default)
    pt = run_train_join_actor(run_dir=run_dir or f"runs/{name}", lam=lam, steps=steps or 3000, batch_size=batch_size,
                              lr=lr, seed=seed, out_dir=out_dir, name=name, tiny=tiny, max_seconds=max_seconds,
                              diversity=diversity, diversity_cap=diversity_cap, init_from=init_from, judge=judge)
    click.echo(f"wrote {pt}")


@click.command("join-judge", context_settings=CONTEXT)
@_train_options
@click.option("--name", default="join_judge", show_default=True, help="Name of the weights.")
def train_join_judge_command(run_dir, steps, batch_size, lr, seed, out_dir, max_seconds, tiny, name) -> None:
    """Train the reality classifier of the evaluation (notes of consecutive vs different-song segments).

    \b
    Example:
      collage train join-judge --steps 3000 --lr 1e-3 --batch-size 128
    """
    from collage.training.join import run_train_join_judge

    pt = run_train_join_judge(run_dir=run_dir or f"runs/{name}", steps=steps or 3000, batch_size=batch_size, lr=lr,
                              seed=seed, out_dir=out_dir, name=name, tiny=tiny, max_seconds=max_seconds)
    click.echo(f"wrote {pt}")


@click.command("join", context_settings=CONTEXT, short_help="Evaluate phrase joining (ours vs LP).")
@click.option("--pairs", "n_pairs", type=click.IntRange(min=2), default=500, show_default=True,
              help="Test pairs from different songs, and prior pairs, each.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the draws.")
@click.option("--out-dir", default=None, metavar="DIR",
              help="Also write DIR/join.md, DIR/join.json and DIR/join.png (e.g. docs/results).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (an object with 'points').")
@click.option("--tiny", is_flag=True, help="Tiny random models on a few test songs (a smoke test).")
def eval_join_command(n_pairs, seed, out_dir, as_json, tiny) -> None:
    """Evaluate phrase joining: coherency and transition statistics vs z-distance, ours vs LP.

    \b
    Example:
      collage eval join --json --out-dir docs/results
    """
    import json
    import os
    import sys
    from pathlib import Path

    from collage.evaluation.join import evaluate_join, plot_join, to_markdown
    from collage.io.atomic import atomic_path

    res = evaluate_join(n_pairs=n_pairs, seed=seed, tiny=tiny)
    if out_dir:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        plot_join(res, out / "join.png")
        with atomic_path(out / "join.json") as tmp:
            tmp.write_text(json.dumps(res, indent=1))
        cmd = " ".join(["collage"] + sys.argv[1:]) if sys.argv and "collage" in sys.argv[0] else None
        with atomic_path(out / "join.md") as tmp:
            tmp.write_text(to_markdown(res, figure="join.png", command=cmd,
                                       machine=f"{os.cpu_count()}-core shared CPU machine, "
                                               f"{res['config']['threads']} PyTorch thread(s)"))
    if as_json:
        click.echo(json.dumps(res, indent=1))
        return
    for p in res["points"]:
        click.echo(f"{p['inputs']:6} {p['method']:4} lam={p['lam']} k/steps={p['iterations']:5} budget={p['budget']} "
                   f"z={p['z_distance']:.3f} coherency={p['coherency']:.3f} seconds={p['seconds']:.4f}")
    for name, g in res["goal"].items():
        click.echo(f"{name}: LP points beaten {g['lp_points_beaten']}/{g['lp_points']}, compute ratio "
                   f"{g['compute_ratio']}, goal {'holds' if g['holds'] else 'missed'}")

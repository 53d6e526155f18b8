"""Every ``collage train ...`` command: training is resumable (run the same command again to go on).

This is one of the two CLI modules that import :mod:`collage.training` (the
other, :mod:`collage.cli.evaluate`, imports :mod:`collage.evaluation`).
"""

from __future__ import annotations

import shlex
import sys

import click

from collage.cli.common import (
    CONTEXT,
    batch_size_option,
    data_root_option,
    lr_option,
    max_minutes_option,
    minutes_to_seconds,
    out_json_option,
    pop909_option,
    renamed,
    run_dir_option,
    seed_option,
    steps_option,
    tiny_option,
    weights_out_option,
    write_text,
)
from collage.errors import ParameterError

__all__ = ["train_group"]

# Training imports sit inside the commands: they pull torch, and `collage --help` must stay fast.


@click.group("train", context_settings=CONTEXT)
def train_group() -> None:
    """Train a model (resumable: run the same command again to go on).

    \b
    Example:
      collage train judge --run-dir runs/judge --steps 4000
    """


def _resume_note(step: int, steps: int) -> str:
    return f"stopped at step {step} of {steps}; run the same command again to resume"


# -- the harmony judge and the two VAEs ---------------------------------------------------------
@train_group.command("judge", context_settings=CONTEXT)
@run_dir_option("runs/judge")
@steps_option(4000)
@batch_size_option(256, "Pairs per step (half human, half mismatched).", min=2)
@lr_option(2e-3, "Adam learning rate (cosine decay).")
@seed_option()
@max_minutes_option()
@weights_out_option()
@tiny_option("Tiny model on a few songs (a smoke test).")
def train_judge_command(run_dir, steps, batch_size, lr, seed, max_minutes, out_dir, tiny) -> None:
    """Train the harmony judge (the evaluation model) on POP909 human vs mismatched pairs.

    A human pair is the melody and accompaniment of one 8-beat segment of a
    song; a mismatched pair takes them from different songs. Trains on the
    train split (beats grid, 12 transpositions), keeps the best step on the
    validation split and writes the weights and a card with the test accuracy
    on 5000 + 5000 test pairs.

    \b
    Example:
      collage train judge --run-dir runs/judge --steps 4000
    """
    from collage.pretrained import load_card
    from collage.training.judge import ship_judge, train_judge

    model, res, card = train_judge(run_dir=run_dir, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                                   max_seconds=minutes_to_seconds(max_minutes), tiny=tiny,
                                   max_songs=20 if tiny else None, val_pairs=200 if tiny else 2000)
    if res.step < steps:
        click.echo(_resume_note(res.step, steps))
        return
    pt = ship_judge(model, card, out_dir=out_dir, test_pairs=200 if tiny else 5000)
    test = load_card(pt)["scores"]["test"]
    click.echo(f"harmony judge: test accuracy {test['accuracy']:.3f} (human pairs {test['acc_harmonic']:.3f}, "
               f"mismatched pairs {test['acc_disharmonic']:.3f}); wrote {pt}")


_FREEZE_ENCODER = click.option(
    "--freeze-encoder", is_flag=True,
    help="With --init-from: train the decoders only, so the latent space (and every model trained in it) stays valid.")


@train_group.command("accomp-vae", context_settings=CONTEXT)
@steps_option(8000, "Optimizer steps in all.")
@batch_size_option(64, "Segments per step.")
@run_dir_option("runs/accomp_vae")
@weights_out_option()
@max_minutes_option("Stop after this many minutes (checkpointed; the best weights so far are still written).")
@lr_option(1e-3, "Adam learning rate (decays exponentially to 1e-4).")
@click.option("--beta", type=click.FloatRange(min=0), default=0.1, show_default=True, help="KL weight after warm-up.")
@seed_option()
@tiny_option("Tiny model, small validation (a smoke test of the whole path).")
@click.option("--init-from", default=None, metavar="NAME|PT",
              help="Warm-start from accompaniment-VAE weights (e.g. accomp_vae); the KL weight starts at --beta.")
@_FREEZE_ENCODER
@click.option("--name", default="accomp_vae", show_default=True, help="Name of the written weights.")
def train_accomp_vae_command(steps, batch_size, run_dir, out_dir, max_minutes, lr, beta, seed, tiny, init_from,
                             freeze_encoder, name) -> None:
    """Train the accompaniment VAE (PolyDis style: chord + texture latents) on POP909.

    Train split on the beats grid with 12 transpositions; the step with the
    best free-running note F1 on a fixed validation subset is kept, scored
    (note and onset F1, pitch/duration/chord accuracy, KL, a chord-latent swap
    test, timing) and written with a card.

    \b
    Example:
      collage train accomp-vae --steps 8000 --batch-size 64 --max-minutes 85
    """
    from collage.models.accomp_vae import AccompVAEConfig
    from collage.pretrained import default_save_dir
    from collage.training.accomp_vae import train_accomp_vae

    command = (f"collage train accomp-vae --steps {steps} --batch-size {batch_size} --run-dir {shlex.quote(run_dir)}"
               + (f" --out {shlex.quote(out_dir)}" if out_dir else "") + f" --lr {lr} --beta {beta} --seed {seed}"
               + (f" --max-minutes {max_minutes}" if max_minutes else "") + (" --tiny" if tiny else "")
               + (f" --init-from {shlex.quote(init_from)}" if init_from else "")
               + (" --freeze-encoder" if freeze_encoder else "") + (f" --name {name}" if name != "accomp_vae" else ""))
    res = train_accomp_vae(run_dir=run_dir, out_dir=str(out_dir or default_save_dir(name)), name=name, steps=steps,
                           batch_size=batch_size, lr=lr, lr_final=min(lr, 1e-4) if init_from else 1e-4, beta=beta,
                           seed=seed, max_minutes=max_minutes, command=command,
                           config=AccompVAEConfig.tiny() if tiny and not init_from else None,
                           val_size=16 if tiny else 512, eval_size=32 if tiny else 2000,
                           val_every=min(500, steps), kl_warmup=0 if init_from else min(2000, steps),
                           init_from=init_from, freeze_encoder=freeze_encoder)
    s, tr = res["scores"], res["train"]
    if not tr["finished"]:
        click.echo(_resume_note(tr["step"], steps))
    click.echo(f"accomp VAE (best step {tr['best_step']}): note F1 {s['note_f1']:.3f}, onset F1 {s['onset_f1']:.3f}, "
               f"pitch|onset {s['pitch_acc_given_onset']:.3f}, dur {s['dur_acc']:.3f}, "
               f"chord root {s['chord_root_acc']:.3f}, KL {s['kl']:.1f}; wrote {res['weights']}")


@train_group.command("melody-vae", context_settings=CONTEXT)
@steps_option(6000)
@batch_size_option(64, "Melodies per step.")
@run_dir_option("runs/melody_vae")
@weights_out_option()
@max_minutes_option("Stop after this many minutes and write the best weights so far (run again to resume).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True, max=1), default=1e-3, show_default=True,
              help="Adam learning rate (decays x0.9996 per step to 1e-5).")
@seed_option()
@click.option("--lr-decay", type=click.FloatRange(min=0, min_open=True, max=1), default=0.9996, show_default=True,
              help="Learning-rate factor per step (floored at 1e-5).")
@click.option("--beta", "beta_max", type=click.FloatRange(min=0, max=10), default=0.1, show_default=True,
              help="KL weight (per latent dimension, mean).")
@click.option("--beta-warmup", type=click.FloatRange(min=0, max=1), default=0.4, show_default=True,
              help="Fraction of --steps over which the KL weight ramps up from 0.")
@click.option("--tf-min", type=click.FloatRange(min=0, max=1), default=0.5, show_default=True,
              help="Final probability of a teacher-forced batch.")
@click.option("--tf-warmup", type=click.FloatRange(min=0, max=1), default=0.7, show_default=True,
              help="Fraction of --steps over which teacher forcing falls from 1 to --tf-min.")
@click.option("--token-dropout", type=click.FloatRange(min=0, max=0.99), default=0.0, show_default=True,
              help="Share of previous-token inputs blanked in teacher-forced batches (word dropout).")
@click.option("--init-from", default=None, metavar="NAME|PT",
              help="Warm-start from melody-VAE weights (e.g. melody_vae); pair with --beta-warmup 0 --tf-warmup 0.")
@_FREEZE_ENCODER
@click.option("--name", default="melody_vae", show_default=True, help="Name of the written weights.")
@tiny_option("Tiny model on 5 songs per split (a smoke test).")
def train_melody_vae_command(steps, batch_size, run_dir, out_dir, max_minutes, lr, seed, lr_decay, beta_max,
                             beta_warmup, tf_min, tf_warmup, token_dropout, init_from, freeze_encoder, name,
                             tiny) -> None:
    """Train the melody VAE (EC2-VAE style, latent = pitch + rhythm) on POP909.

    Trains on the train split (beats grid, 32-step windows, 12 transpositions),
    keeps the step with the best validation loss, evaluates it on the
    validation split (reconstruction, rhythm/pitch swap, speed) and writes the
    weights with a card. When --max-minutes ends the run early, the best
    weights so far are written and marked under-trained; the same command resumes.

    \b
    Example:
      collage train melody-vae --steps 6000 --batch-size 64 --max-minutes 35
      collage train melody-vae --init-from melody_vae --steps 4000 --batch-size 128 --lr 5e-4 \\
          --lr-decay 0.9995 --beta-warmup 0 --tf-warmup 0 --name melody_vae_ft --out runs/weights
    """
    from collage.pretrained import load_card
    from collage.training.melody_vae import ship_melody_vae, train_melody_vae

    model, res, card = train_melody_vae(
        run_dir=run_dir, steps=steps, batch_size=batch_size, lr=lr, seed=seed, lr_decay=lr_decay,
        beta_max=beta_max, beta_warmup=beta_warmup, tf_min=tf_min, tf_warmup=tf_warmup,
        token_dropout=token_dropout, init_from=init_from, freeze_encoder=freeze_encoder,
        max_seconds=minutes_to_seconds(max_minutes), tiny=tiny,
        max_songs=5 if tiny else None, val_size=256 if tiny else 2048, val_every=min(250, steps),
    )
    if res.best_step is None:
        click.echo(f"stopped at step {res.step} before the first validation; run the same command again to resume")
        return
    pt = ship_melody_vae(model, card, out_dir=out_dir, name=name, eval_n=256 if tiny else 2000)
    ev = load_card(pt)["scores"]["val_eval"]
    note = f" (stopped at step {res.step} of {steps}: under-trained, run again to resume)" if res.step < steps else ""
    click.echo(f"melody VAE: val token acc {ev['acc_tf']:.3f} teacher-forced, {ev['acc_free']:.3f} free-running; "
               f"rhythm {ev['rhythm_acc_free']:.3f}; best step {res.best_step}{note}; wrote {pt}")


# -- CollageNet: the latent critic and actor --------------------------------------------------------
def _critic_options(f):
    for opt in reversed([
        run_dir_option(None),
        steps_option(3000, "Training steps."),
        batch_size_option(256, "Batch size.", min=2),
        lr_option(1e-4, "Adam learning rate (betas 0, 0.9; the paper's 3e-5)."),
        seed_option(),
        click.option("--segments", type=click.IntRange(min=10), default=8000, show_default=True,
                     help="Train segments encoded (x 12 transpositions; validation gets 1/8 as many)."),
        click.option("--melody-vae", default=None, help="Melody VAE weights (default: shipped melody_vae)."),
        click.option("--accomp-vae", default=None, help="Accompaniment VAE weights (default: shipped accomp_vae)."),
        weights_out_option(),
        max_minutes_option(),
        tiny_option("Tiny random VAEs and a tiny critic (a smoke test)."),
    ]):
        f = opt(f)
    return f


@train_group.command("critic", context_settings=CONTEXT)
@_critic_options
@click.option("--name", default="latent_critic_pretrained", show_default=True, help="Name of the weights.")
def train_critic_command(run_dir, steps, batch_size, lr, seed, segments, melody_vae, accomp_vae, out_dir,
                         max_minutes, tiny, name) -> None:
    """Pre-train the latent critic without an actor (for the critic-gradient baseline).

    Encodes SEGMENTS train segments with the two VAEs under 12 transpositions
    (cached), trains the critic on human pairs (melody and accompaniment of
    one segment; positive) vs mismatched pairs (from different songs) and
    samples of the VAEs' prior (negative), keeps the best validation accuracy
    and writes NAME.pt/.json.

    \b
    Example:
      collage train critic --steps 3000
    """
    from collage.training.critic_actor import run_train_critic

    pt = run_train_critic(run_dir=run_dir or f"runs/{name}", steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                          segments=segments, out_dir=out_dir, name=name, mel_vae=melody_vae, acc_vae=accomp_vae,
                          tiny=tiny, max_seconds=minutes_to_seconds(max_minutes))
    click.echo(f"wrote {pt}")


@train_group.command("actor", context_settings=CONTEXT)
@_critic_options
@click.option("--lam", type=click.FloatRange(min=0), default=1.0, show_default=True, metavar="W",
              help="Distance weight: how strongly the actor is kept near its input (the higher, the smaller "
                   "the change).")
@click.option("--name", default=None, help="Name of the weights (default: latent_actor; latent_actor_lam<W> "
                                           "with --no-default).")
@click.option("--no-default", is_flag=True, help="Not the shipped default: name it latent_actor_lam<W>.")
@click.option("--judge", default=None, help="Judge for selection (default: shipped harmony_judge).")
@click.option("--control-gate/--no-control-gate", default=True, show_default=True,
              help="Scale each aspect's gate by 1 - control (a control of 1 keeps that aspect exactly).")
@click.option("--init-from", default=None, metavar="NAME|PT",
              help="Warm-start from trained actor weights (and the matching latent_critic*) of the same sizes.")
@click.option("--unroll", type=click.IntRange(min=1), default=1, show_default=True, metavar="K",
              help="Train the iterated transformation: each step applies the actor 1..K times (drawn) and "
                   "scores the last output; validation is measured after K applications.")
@click.option("--val-iterations", type=click.IntRange(min=1), default=None, metavar="K",
              help="Keep the step with the best validation harmony after K applications (default: --unroll).")
def train_actor_command(run_dir, steps, batch_size, lr, seed, segments, melody_vae, accomp_vae, out_dir,
                        max_minutes, tiny, lam, name, no_default, judge, control_gate, init_from, unroll,
                        val_iterations) -> None:
    """Train the CollageNet actor with its critic at distance weight W (--lam).

    Adversarial training in the latent space of the two VAEs (cached
    latents of SEGMENTS train segments x 12 transpositions); the step with
    the best harmony-judge rate on decoded validation fusions is kept. Writes
    latent_actor.pt (and latent_critic.pt), or latent_actor_lam<W>.pt.

    \b
    Example:
      collage train actor --lam 0.1                # the shipped default's distance weight
      collage train actor --lam 1 --no-default     # latent_actor_lam1

    The weights ship with a single pass as their default; choose the inference
    default with `collage train actor-iterations` afterwards.
    """
    from collage.training.critic_actor import lam_name, run_train_actor

    if name is None:
        name = f"latent_actor_lam{lam_name(lam)}" if no_default else "latent_actor"
    pt = run_train_actor(run_dir=run_dir or f"runs/{name}", lam=lam, steps=steps, batch_size=batch_size, lr=lr,
                         seed=seed, segments=segments, out_dir=out_dir, name=name, mel_vae=melody_vae,
                         acc_vae=accomp_vae, judge=judge, tiny=tiny, max_seconds=minutes_to_seconds(max_minutes),
                         control_gate=control_gate, init_from=init_from, unroll=unroll,
                         val_iterations=val_iterations)
    click.echo(f"wrote {pt}")


def _report_card_choice(chosen, res: dict, *, name: str, dry_run: bool, tiny: bool, out_json) -> None:
    """Echo an inference default chosen on validation and where it went; write ``res`` as JSON to ``out_json``."""
    import json

    written = " (not written: --dry-run)" if dry_run else " (not written: --tiny)" if tiny else f" (written to {name}'s card)"
    click.echo(f"chosen: {chosen}{written}")
    if out_json:
        write_text(out_json, json.dumps(res, indent=2) + "\n")


@train_group.command("actor-iterations", context_settings=CONTEXT)
@click.option("--actor", "name", default="latent_actor", show_default=True, metavar="NAME|PT",
              help="The actor weights whose default to choose (its critic: the matching latent_critic*).")
@click.option("--max-iterations", type=click.IntRange(min=1), default=8, show_default=True,
              help="Try 1..K applications.")
@click.option("--tolerance", type=click.FloatRange(min=0), default=0.01, show_default=True,
              help="Choose the smallest count within this of the best validation harmony rate.")
@click.option("--segments", type=click.IntRange(min=10), default=8000, show_default=True,
              help="As in `collage train actor` (validation uses 1/8 as many segments).")
@click.option("--dry-run", is_flag=True, help="Print the sweep; do not write the card.")
@out_json_option()
@renamed("--json", "--out-json", "out_json", type=str)
@tiny_option("Tiny random models, nothing written to a card (a smoke test).")
def train_actor_iterations_command(name, max_iterations, tolerance, segments, dry_run, out_json, tiny) -> None:
    """Choose how many times an actor is applied at inference, on the validation split.

    Applies the actor 1..K times to 500 mismatched validation pairs (melody and
    accompaniment from different songs; controls 0.5), decodes and scores them
    with the harmony judge, and records the smallest count within TOLERANCE of
    the best harmony rate as the actor's default (``config.iterations`` in its
    card; the weights are not touched). Run it again after `collage train
    actor`, which ships a single pass.

    \b
    Example:
      collage train actor-iterations --actor latent_actor --out-json docs/results/fusion_iterations.json
    """
    from collage.training.critic_actor import run_choose_iterations

    res = run_choose_iterations(name, max_iterations=max_iterations, segments=segments, tolerance=tolerance,
                                write=not dry_run, tiny=tiny)
    for k, m in res["iterations"].items():
        click.echo(f"{k:3d} iteration(s): harmony {m['val_harmony']:.3f}  rho_mel {m['val_rho_a']:.3f}  "
                   f"rho_acc {m['val_rho_b']:.3f}  critic {m['val_d_out']:.3f}")
    _report_card_choice(res["chosen"], res, name=name, dry_run=dry_run, tiny=tiny, out_json=out_json)


@train_group.command("accomp-eos-bias", context_settings=CONTEXT)
@click.option("--model", "name", default="accomp_vae", show_default=True, metavar="NAME|PT",
              help="The accompaniment VAE weights to calibrate.")
@click.option("--segments", type=click.IntRange(min=10), default=2000, show_default=True,
              help="Validation segments to calibrate on (a fixed seeded subset).")
@seed_option("Seed of that subset.", default=2)
@click.option("--dry-run", is_flag=True, help="Print the sweep; do not write the card.")
@out_json_option()
@renamed("--json", "--out-json", "out_json", type=str)
@tiny_option("A tiny random model, nothing written to a card (a smoke test).")
def train_accomp_eos_bias_command(name, segments, seed, dry_run, out_json, tiny) -> None:
    """Calibrate the accompaniment decoder's end-of-step bias on the validation split.

    Greedy decoding ends a step's notes too early. This decodes the round trip
    of validation accompaniments with the end-of-step logit lowered by 0, 0.1,
    ..., 1.5 and records the bias whose mean note count per segment is closest
    to the true one as the model's default (``config.eos_bias`` in its card;
    the weights are not touched). Run it again after `collage train accomp-vae`.

    \b
    Example:
      collage train accomp-eos-bias --out-json docs/results/accomp_eos_bias.json
    """
    from collage.training.accomp_vae import run_calibrate_eos_bias

    res = run_calibrate_eos_bias(name, n=segments, seed=seed, write=not dry_run, tiny=tiny)
    click.echo(f"true notes per segment: {res['true_notes']:.2f} ({res['segments']} validation segments)")
    for b, m in res["biases"].items():
        click.echo(f"bias {b:.1f}: notes {m['notes']:.2f}  note P/R/F1 {m['note_precision']:.3f} "
                   f"{m['note_recall']:.3f} {m['note_f1']:.3f}  onset F1 {m['onset_f1']:.3f}")
    _report_card_choice(f"{res['chosen']:.1f}", {**res, "biases": {str(b): m for b, m in res["biases"].items()}},
                        name=name, dry_run=dry_run, tiny=tiny, out_json=out_json)


# -- arrange: part separation -----------------------------------------------------------------------
@train_group.command("arrange", context_settings=CONTEXT)
@click.option("--dataset", type=click.Choice(["bach", "pop909"]), required=True, help="Training data.")
@click.option("--model", "model", type=click.Choice(["zone", "lstm", "bilstm", "transformer-enc", "transformer-dec"]),
              required=True, help="What to train (zone: learn the zone baseline's zones).")
@click.option("--hints", type=click.Choice(["entry", "pitch"]), default=None,
              help="Train with entry hints (each part's first onset) or pitch hints (each part's mean pitch).")
@steps_option(3000, "Optimizer steps in all.")
@max_minutes_option("Stop after this many minutes in this call (checkpointed; the best weights so far are written).")
@click.option("--seq-len", type=click.IntRange(min=8), default=500, show_default=True,
              help="Notes per training window (the paper: 500).")
@batch_size_option(16, "Windows per step.")
@lr_option(1e-3)
@click.option("--val-every", type=click.IntRange(min=1), default=50, show_default=True, help="Validate every N steps.")
@click.option("--val-max-len", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Validate on the first N notes of each validation piece.")
@seed_option()
@run_dir_option(None, "runs/arrange_<dataset>_<model>[_hints]")
@weights_out_option()
@pop909_option()
def train_arrange_command(dataset, model, hints, steps, max_minutes, seq_len, batch_size, lr, val_every, val_max_len,
                          seed, run_dir, out_dir, pop909) -> None:
    """Train a part separation model (collage arrange) on Bach chorales or POP909.

    Random windows of --seq-len notes from the train split, randomly
    transposed by -5..+6 semitones; the step with the best note accuracy on
    the validation split is kept and written as arrange_<dataset>_<model>[_hints].pt
    with its card (config, this command, data hashes, validation accuracy).
    Running the same command again resumes. --model zone learns the zone
    baseline's optimal zones on the train split instead
    (collage/arrangement/zones.json).

    \b
    Example:
      collage train arrange --dataset bach --model bilstm --max-minutes 10
      collage train arrange --dataset pop909 --model lstm --hints entry --steps 1500
    """
    argv = sys.argv
    command = ("collage train arrange " + " ".join(shlex.quote(a) for a in argv[argv.index("arrange") + 1:])
               if "arrange" in argv else None)
    if model == "zone":
        from collage.training.arrange import fit_zones

        z = fit_zones(dataset, pop909_root=pop909, command=command)
        click.echo(f"zones for {z['dataset']}: order {z['order']}, boundaries {z['boundaries']}")
        return
    from collage.training.arrange import train_arrange

    card = train_arrange(dataset, model, hints=hints, run_dir=run_dir, out_dir=out_dir, max_steps=steps,
                         max_seconds=minutes_to_seconds(max_minutes), seq_len=seq_len,
                         batch_size=batch_size, lr=lr, val_every=val_every, val_max_len=val_max_len, seed=seed,
                         progress=sys.stderr.isatty(), pop909_root=pop909, command=command)
    if not card:
        click.echo("interrupted; run the same command again to resume")
        return
    tr = card["training"]
    if not tr["finished"]:
        click.echo(f"stopped at step {tr['steps']} of {steps} (time limit); the best weights so far were written; "
                   f"run the same command again to go on")
    acc = card["scores"].get("val_acc")
    click.echo(f"{card['dataset']} {card['model']}{' +' + card['hints'] + ' hints' if card['hints'] else ''}: "
               + (f"best val accuracy {acc:.2f}% at step {tr['best_step']}" if acc is not None else "not validated yet"))


# -- join: the join critic, actor and judge -----------------------------------------------------------
def _join_options(f):
    for opt in reversed([
        run_dir_option(None),
        steps_option(None, "Training steps (default: 2000 for the critic, 3000 otherwise)."),
        batch_size_option(256, "Batch size.", min=2),
        lr_option(1e-4, "Adam learning rate (betas 0, 0.9)."),
        seed_option(),
        weights_out_option(),
        max_minutes_option(),
        tiny_option("Tiny random VAE and models on a few songs (a smoke test)."),
    ]):
        f = opt(f)
    return f


@train_group.command("join-critic", context_settings=CONTEXT)
@_join_options
@click.option("--name", default="join_critic", show_default=True, help="Name of the weights.")
def train_join_critic_command(run_dir, steps, batch_size, lr, seed, out_dir, max_minutes, tiny, name) -> None:
    """Pre-train the join critic alone: consecutive POP909 segments vs unpaired ones and prior samples.

    It is the score that the latent random search (collage join --method lp)
    climbs. Melody latents of non-overlapping 8-beat train segments x 3
    transpositions are encoded once and cached.

    \b
    Example:
      collage train join-critic --steps 2000
    """
    from collage.training.join import run_train_join_critic

    pt = run_train_join_critic(run_dir=run_dir or f"runs/{name}", steps=steps or 2000, batch_size=batch_size, lr=lr,
                               seed=seed, out_dir=out_dir, name=name, tiny=tiny,
                               max_seconds=minutes_to_seconds(max_minutes))
    click.echo(f"wrote {pt}")


@train_group.command("join-actor", context_settings=CONTEXT)
@_join_options
@click.option("--lam", type=click.FloatRange(min=0), default=1.0, show_default=True, metavar="W",
              help="Distance weight: how strongly the joined phrases are kept near the inputs' latents "
                   "(the higher, the smaller the change).")
@click.option("--name", default=None, help="Name of the weights (default: join_actor; join_actor_lam<W> with --no-default).")
@click.option("--no-default", is_flag=True, help="Not the shipped default: name it join_actor_lam<W>.")
@click.option("--diversity", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Weight of the mode-seeking term that makes the style change the output.")
@click.option("--diversity-cap", type=click.FloatRange(min=0, min_open=True), default=0.5, show_default=True,
              help="Cap of that term's ratio (output change per unit of style change).")
@click.option("--init-from", default=None, metavar="NAME|PT",
              help="Warm-start the actor from these join-actor weights (the critic from join_critic).")
@click.option("--judge", default=None, metavar="NAME|PT",
              help="Keep the step with the best reality-classifier score on decoded validation joins (e.g. join_judge).")
def train_join_actor_command(run_dir, steps, batch_size, lr, seed, out_dir, max_minutes, tiny, lam, name,
                             no_default, diversity, diversity_cap, init_from, judge) -> None:
    """Train the join actor with its critic at distance weight W (--lam).

    The actor moves the last 8 beats of the left phrase and the first 8 of
    the right one, in the melody VAE's latent space, so that the right
    phrase follows the left; the critic tells consecutive segments from
    unpaired ones.

    \b
    Example:
      collage train join-actor --lam 1
      collage train join-actor --lam 0.3 --no-default
      collage train join-actor --lam 0.1 --no-default --init-from join_actor_lam0.1 --diversity 0.1 --judge join_judge
    """
    from collage.training.join import join_actor_name, run_train_join_actor

    name = name or join_actor_name(lam, not no_default)
    pt = run_train_join_actor(run_dir=run_dir or f"runs/{name}", lam=lam, steps=steps or 3000, batch_size=batch_size,
                              lr=lr, seed=seed, out_dir=out_dir, name=name, tiny=tiny,
                              max_seconds=minutes_to_seconds(max_minutes), diversity=diversity,
                              diversity_cap=diversity_cap, init_from=init_from, judge=judge)
    click.echo(f"wrote {pt}")


@train_group.command("join-judge", context_settings=CONTEXT)
@_join_options
@click.option("--name", default="join_judge", show_default=True, help="Name of the weights.")
def train_join_judge_command(run_dir, steps, batch_size, lr, seed, out_dir, max_minutes, tiny, name) -> None:
    """Train the reality classifier of the join evaluation (notes of consecutive vs different-song segments).

    \b
    Example:
      collage train join-judge --steps 3000 --lr 1e-3 --batch-size 128
    """
    from collage.training.join import run_train_join_judge

    pt = run_train_join_judge(run_dir=run_dir or f"runs/{name}", steps=steps or 3000, batch_size=batch_size, lr=lr,
                              seed=seed, out_dir=out_dir, name=name, tiny=tiny,
                              max_seconds=minutes_to_seconds(max_minutes))
    click.echo(f"wrote {pt}")


# -- mashups: the mashability models and the key model ----------------------------------------------
@train_group.command("mashability", context_settings=CONTEXT)
@click.option("--model", type=click.Choice(["premix", "postmix"]), required=True, help="PreMixNet or PostMixNet.")
@click.option("--lsro/--no-lsro", default=True, show_default=True,
              help="Use the matched mashups as unlabeled examples (target 0.5, 0.5).")
@steps_option(3000)
@batch_size_option(16, "Mashups per step.", min=2)
@lr_option(1e-3)
@max_minutes_option()
@run_dir_option(None, "runs/mashability_<model>[_lsro]")
@data_root_option()
@weights_out_option()
@seed_option()
@click.option("--train-songs", type=click.IntRange(min=3), default=200, show_default=True,
              help="Train songs rendered (4/4 POP909 train songs, a fixed shuffle).")
@click.option("--val-songs", type=click.IntRange(min=3), default=40, show_default=True, help="Validation songs rendered.")
@click.option("--windows", type=click.IntRange(min=1), default=2, show_default=True,
              help="Vocal windows per song (each: one original, one unmatched, one matched mashup).")
@click.option("--augment-db", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Random per-stem equaliser on training crops, up to this many dB (timbre the soundfonts lack).")
@click.option("--timbres", default="", show_default=True,
              help="Extra soundfonts for the training songs, comma-separated (opl3, gmbank): each stem of each "
              "training mashup comes from a random render of its song.")
@click.option("--val-timbre", default=None, help="Render the validation songs with this extra soundfont instead "
              "(opl3, gmbank): model selection on a timbre the training never heard.")
@click.option("--input-norm", type=click.Choice(["none", "time_mean"]), default="none", show_default=True,
              help="time_mean: remove each stem's mean log-mel spectrum (its static timbre) inside the model.")
@click.option("--harmony", type=click.IntRange(min=0), default=0, show_default=True,
              help="Channels of the harmony branch (PreMixNet): the vocal-harmonic chroma interval profile; 0 = off.")
@click.option("--rank-weight", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Weight of a pairwise term that ranks each original above a matched mashup of the same vocal; 0 = off.")
@click.option("--ema", type=click.FloatRange(min=0, max=1, max_open=True), default=0.0, show_default=True,
              help="Decay of a moving average of the weights that is validated and saved (e.g. 0.998); 0 = off.")
def train_mashability_command(model, lsro, steps, batch_size, lr, max_minutes, run_dir, data_root, out_dir, seed,
                              train_songs, val_songs, windows, augment_db, timbres, val_timbre, input_norm,
                              harmony, rank_weight, ema) -> None:
    """Train PreMixNet or PostMixNet on POP909 mashups (original +, unmatched -, matched unlabeled).

    The first run renders POP909 train/validation clips to stems (FluidSynth)
    and caches the mashups' mel spectrograms under --data-root; later runs reuse them.

    \b
    Example:
      collage train mashability --model premix --lsro --max-minutes 15
    """
    from collage.models.mashability import MashabilityConfig, PostMixConfig
    from collage.pretrained import default_save_dir
    from collage.training.mashability import train_mashability, weights_name

    name = weights_name(model, lsro)
    run_dir = run_dir or f"runs/{name}"
    config = (MashabilityConfig if model == "premix" else PostMixConfig)(input_norm=input_norm, harmony=harmony)
    scores = train_mashability(model, lsro=lsro, run_dir=run_dir, out_dir=out_dir or default_save_dir(name),
                               steps=steps, batch=batch_size, lr=lr, max_seconds=minutes_to_seconds(max_minutes),
                               seed=seed, root=data_root, train_songs=train_songs, val_songs=val_songs,
                               windows=windows, augment_db=augment_db,
                               timbres=tuple(t for t in timbres.split(",") if t), val_timbre=val_timbre, config=config,
                               rank_weight=rank_weight, ema=ema)
    click.echo(f"{name}: val accuracy {scores['val_accuracy']:.4f}, "
               f"val avg rank {scores['val_avg_rank']:.3f} (best step {scores['best_step']} of {scores['steps']})")


@train_group.command("mashup-first-stage", context_settings=CONTEXT)
@click.option("--train-db", "train_dbs", required=True, multiple=True, type=click.Path(dir_okay=False), metavar="DB",
              help="A MashupDB of POP909 train songs built with --features (collage mashup build); may be repeated.")
@click.option("--val-db", required=True, type=click.Path(dir_okay=False), metavar="DB",
              help="A MashupDB of POP909 val songs built with --features: the recall reported on the card.")
@weights_out_option()
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True,
              help="Passes over the train queries (the epoch that ranks best on the val DB is kept).")
@click.option("--tau", type=click.FloatRange(min=0, min_open=True), default=0.5, show_default=True,
              help="Temperature of the teacher's softmax over a query's segments (lower: the best weigh more).")
@lr_option(3e-3, "AdamW learning rate (cosine schedule).")
@click.option("--hidden", type=click.IntRange(min=1), default=64, show_default=True, help="Width of the MLPs.")
@click.option("--windows", type=click.IntRange(min=1), default=8, show_default=True, help="Vocal windows per song.")
@seed_option("Seed of the initial weights and the query order.")
def train_mashup_first_stage_command(train_dbs, val_db, out_dir, epochs, tau, lr, hidden, windows, seed) -> None:
    """Distil the fast second stage of `collage mashup retrieve` (PreMixNet) into its first stage.

    Scores every allowed pair of stem segments for vocal windows of the train DB's songs with
    the fast second stage, trains the first stage to rank the segments as that ranks them, and
    reports recall@10 on the val DB's songs (the teacher's best 10 inside the pairs of the first
    stage's best segments).

    \b
    Example:
      collage train mashup-first-stage --train-db train.db --val-db val.db
    """
    from collage.pretrained import default_save_dir
    from collage.training.first_stage import train_first_stage

    name = "mashup_first_stage"
    card = train_first_stage(train_dbs, val_db, out_dir=out_dir or default_save_dir(name), name=name, epochs=epochs,
                             tau=tau, lr=lr, hidden=hidden, windows=windows, seed=seed,
                             log=lambda row: click.echo(f"epoch {row['epoch']}: loss {row['loss']:.4f}, val recall@10 "
                                                        + ", ".join(f"N={n} {r:.3f}" for n, r in
                                                                    row["val_recall_at_10"].items()), err=True))
    click.echo(f"{name}: val recall@10 " + ", ".join(f"N={n} {r:.3f}" for n, r in card["scores"]["val_recall_at_10"].items()))


@train_group.command("key-model", context_settings=CONTEXT)
@data_root_option("Rendered stems (rendered here if missing).")
@click.option("--train-songs", type=click.IntRange(min=10), default=694, show_default=True, help="Train songs used.")
@click.option("-o", "--output", default=None, metavar="FILE.json",
              help="Where to write the model (default: the package's audio/key_model.json).")
@renamed("--out", "-o/--output", "output", type=str)
@click.option("--hidden", default="0,16,32", show_default=True,
              help="Forms to cross-validate, comma-separated hidden sizes (0 = linear profile per octave).")
def train_key_model_command(data_root, train_songs, output, hidden) -> None:
    """Fit the learned per-octave key profile ('pop909-octaves') on rendered POP909 train clips.

    Chooses the form (linear, or a small network: --hidden) and its L2 weight by 5-fold
    cross-validation over songs, and prints the table.

    \b
    Example:
      collage train key-model --train-songs 694
    """
    from pathlib import Path

    import collage.audio.analyze as an
    from collage.training.key_model import train_key_model

    out = output or str(Path(an.__file__).with_name(an.OCTAVE_PROFILES["pop909-octaves"]))
    try:
        hiddens = tuple(int(h) for h in hidden.split(","))
    except ValueError:
        hiddens = ()
    if not hiddens or min(hiddens) < 0:
        raise ParameterError(f"given --hidden {hidden!r}; expected comma-separated integers >= 0")
    card = train_key_model(out=out, root=data_root, n_songs=train_songs, hiddens=hiddens)
    for inp, row in card["scores"]["cross_validated_mirex"].items():
        for k, v in row.items():
            click.echo(f"{inp:9s} {k:34s} {v:.4f}")
    for form, v in card["scores"]["best_mean_over_inputs"].items():
        click.echo(f"best mean over inputs, {form}: {v:.4f}")
    click.echo(f"wrote {out} ({card['fit']['form']}, weight decay {card['fit']['weight_decay']:g})")


@train_group.command("chord-stats", context_settings=CONTEXT)
@pop909_option()
@click.option("-o", "--output", default=None, metavar="FILE.json",
              help="Where to write the card (default: the package's fusion/chord_stats.json).")
def train_chord_stats_command(pop909, output) -> None:
    """Fit the chord statistics of `collage fuse --method revoice` on POP909's train songs.

    Counts, over every training song's skyline melody and annotated chord per beat, how
    each melody pitch class sits over each chord quality and how chords change; writes
    the two tables with their card (about 10 s; the val and test splits are not read).

    \b
    Example:
      collage train chord-stats
    """
    from collage.fusion.reharmonize import STATS_FILE
    from collage.training.chord_stats import train_chord_stats

    out = output or str(STATS_FILE)
    card = train_chord_stats(out=out, root=pop909)
    click.echo(f"chord statistics from {card['data']['songs']} POP909 train songs: wrote {out}")


# -- the Multitrack Music Transformer ----------------------------------------------------------
@train_group.command("mmt", context_settings=CONTEXT)
@run_dir_option("runs/mmt")
@click.option("--d-model", type=click.IntRange(min=8), default=256, show_default=True, help="Model width.")
@click.option("--layers", type=click.IntRange(min=1), default=4, show_default=True, help="Transformer blocks.")
@click.option("--heads", type=click.IntRange(min=1), default=8, show_default=True, help="Attention heads.")
@click.option("--d-ff", type=click.IntRange(min=8), default=768, show_default=True, help="Feed-forward width.")
@click.option("--seq-len", type=click.IntRange(min=16), default=512, show_default=True,
              help="Events per training window (the model's window).")
@batch_size_option(8, "Windows per step.")
@lr_option(5e-4, "AdamW learning rate (after a 200-step warm-up).")
@steps_option(100_000, "Optimizer steps in all (the run usually stops by --max-minutes first).")
@max_minutes_option()
@click.option("--val-every", type=click.IntRange(min=1), default=200, show_default=True,
              help="Steps between validations (loss per field on the validation split).")
@seed_option("Seed of the window sampling and the initial weights.")
@click.option("--cached-corpus-only", is_flag=True,
              help="Use only the music21 corpus files already parsed into the cache (parsing all takes an hour).")
@click.option("--export-only", is_flag=True,
              help="Do not train: write the run's best weights and their card (the run may go on meanwhile).")
@weights_out_option()
@click.option("--name", default="mmt", show_default=True, help="Name of the exported weights.")
@click.option("--init-from", default=None, metavar="NAME|PT",
              help="Start a new run from these weights (e.g. mmt, the shipped model) and their size.")
def train_mmt_command(run_dir, d_model, layers, heads, d_ff, seq_len, batch_size, lr, steps, max_minutes, val_every,
                      seed, cached_corpus_only, export_only, out_dir, name, init_from) -> None:
    """Train the Multitrack Music Transformer on POP909 and music21's corpus, or export a run's best weights.

    Random 512-event windows from a random start beat, randomly transposed
    by -5..+6 semitones (the paper's augmentation); validation every
    --val-every steps on the validation split (loss per field, logged to
    RUN_DIR/log.jsonl). Runs on one CPU thread by default ($COLLAGE_THREADS).

    \b
    Example:
      collage train mmt --run-dir runs/mmt --max-minutes 120
      collage train mmt --run-dir runs/mmt --export-only
      collage train mmt --run-dir runs/mmt2 --init-from mmt --max-minutes 120
    """
    from pathlib import Path

    from collage.models.mmt import MMTConfig
    from collage.training.mmt import ship, train_mmt

    run_dir = Path(run_dir)
    if export_only:
        if not (run_dir / "best.pt").exists():
            raise ParameterError(f"{run_dir}: no best.pt yet (the run has not validated once)")
        pt = ship(run_dir, name=name, out_dir=out_dir)
        click.echo(f"wrote {pt} and {pt.with_suffix('.json')}")
        return
    if d_model % heads:
        raise ParameterError(f"given --d-model {d_model} and --heads {heads}; the width must be a multiple of the heads")
    config = MMTConfig(max_seq_len=seq_len, d_model=d_model, n_layers=layers, n_heads=heads, d_ff=d_ff)
    command = "collage train mmt " + " ".join(shlex.quote(a) for a in sys.argv[sys.argv.index("mmt") + 1:]) \
        if "mmt" in sys.argv else "collage train mmt"
    r = train_mmt(run_dir, config=config, batch=batch_size, lr=lr, max_steps=steps, max_minutes=max_minutes,
                  val_every=val_every, seed=seed, progress=sys.stderr.isatty(), cached_only=cached_corpus_only,
                  init_from=init_from, command=command)
    if r.step < steps:
        click.echo(_resume_note(r.step, steps))
    best = r.best_metrics.get("val_loss")
    click.echo(f"step {r.step}: best val loss {best if best is None else round(best, 4)} at step {r.best_step}")

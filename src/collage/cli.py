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
    from collage.plotting import plot_pianoroll

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
        click.echo(f"  wrote  {str(path):<14} {what.get(key, '')}")


# -- training (imports collage.training lazily) ---------------------------------------
@app.group("train", context_settings=CONTEXT)
def train_group() -> None:
    """Train a model (resumable: run the same command again to go on).

    \b
    Example:
      collage train judge --run-dir runs/judge --steps 4000
    """


@app.group("eval", context_settings=CONTEXT)
def eval_group() -> None:
    """Evaluate models and methods on POP909's test split.

    \b
    Example:
      collage eval fusion --json --pairs 5000
    """


@train_group.command("judge", context_settings=CONTEXT)
@click.option("--run-dir", default="runs/judge", show_default=True, help="Run folder (checkpoint, log.jsonl, best.pt).")
@click.option("--steps", type=click.IntRange(min=1), default=4000, show_default=True, help="Optimizer steps.")
@click.option("--batch-size", type=click.IntRange(min=2), default=256, show_default=True,
              help="Pairs per step (half harmonic, half disharmonic).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=2e-3, show_default=True,
              help="Adam learning rate (cosine decay).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed.")
@click.option("--max-seconds", type=click.FloatRange(min=1), default=None, help="Stop after this long (resumable).")
@click.option("--out", "out_dir", default=None, help="Where to write harmony_judge.pt/.json (default: the package).")
@click.option("--tiny", is_flag=True, help="Tiny model on a few songs (a smoke test).")
def train_judge_command(run_dir, steps, batch_size, lr, seed, max_seconds, out_dir, tiny) -> None:
    """Train the harmony judge (evaluation model) on POP909 Ωh vs Ωdh pairs.

    Trains on the train split (beats grid, 12 transpositions), keeps the best
    step on the val split and writes the weights and a card with the test
    accuracy on 5000 + 5000 test pairs.

    \b
    Example:
      collage train judge --run-dir runs/judge --steps 4000
    """
    from collage.training.judge import ship_judge, train_judge

    model, res, card = train_judge(run_dir=run_dir, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                                   max_seconds=max_seconds, tiny=tiny, max_songs=20 if tiny else None,
                                   val_pairs=200 if tiny else 2000)
    if res.step < steps:
        click.echo(f"stopped at step {res.step} of {steps}; run the same command again to resume")
        return
    pt = ship_judge(model, card, out_dir=out_dir, test_pairs=200 if tiny else 5000)
    from collage.pretrained import load_card

    test = load_card(pt)["scores"]["test"]
    click.echo(f"harmony judge: test accuracy {test['accuracy']:.3f} (Ωh {test['acc_harmonic']:.3f}, "
               f"Ωdh {test['acc_disharmonic']:.3f}); wrote {pt}")


_FREEZE_ENCODER = click.option(
    "--freeze-encoder", is_flag=True,
    help="With --init-from: train the decoders only, so the latent space (and every model trained in it) stays valid.")


@train_group.command("accomp-vae", context_settings=CONTEXT)
@click.option("--steps", type=click.IntRange(min=1), default=8000, show_default=True, help="Optimizer steps in all.")
@click.option("--batch", "batch_size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Segments per step.")
@click.option("--run-dir", default="runs/accomp_vae", show_default=True,
              help="Run folder (checkpoint, log.jsonl, best.pt); an existing run is resumed.")
@click.option("--out", "out_dir", default="src/collage/weights", show_default=True,
              help="Where accomp_vae.pt/.json go.")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after this long (checkpointed; the best weights so far are still exported).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True,
              help="Adam learning rate (decays exponentially to 1e-4).")
@click.option("--beta", type=click.FloatRange(min=0), default=0.1, show_default=True, help="KL weight after warm-up.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed.")
@click.option("--tiny", is_flag=True, help="Tiny model, small validation (a smoke test of the whole path).")
@click.option("--init-from", default=None, metavar="NAME|PT",
              help="Warm-start from accompaniment-VAE weights (e.g. accomp_vae); the KL weight starts at --beta.")
@_FREEZE_ENCODER
@click.option("--name", default="accomp_vae", show_default=True, help="Name of the written weights.")
def train_accomp_vae_command(steps, batch_size, run_dir, out_dir, max_minutes, lr, beta, seed, tiny, init_from,
                             freeze_encoder, name) -> None:
    """Train the accompaniment VAE (PolyDis style: chord + texture latents) on POP909.

    Train split on the beats grid with 12 transpositions; the step with the
    best free-running note F1 on a fixed val subset is kept, scored (note
    and onset F1, pitch/duration/chord accuracy, KL, a z_chord swap test,
    timing) and exported with a card.

    \b
    Example:
      collage train accomp-vae --steps 8000 --batch 64 --max-minutes 85
    """
    import shlex

    from collage.models.accomp_vae import AccompVAEConfig
    from collage.training.accomp_vae import train_accomp_vae

    command = (f"collage train accomp-vae --steps {steps} --batch {batch_size} --run-dir {shlex.quote(run_dir)} "
               f"--out {shlex.quote(out_dir)} --lr {lr} --beta {beta} --seed {seed}"
               + (f" --max-minutes {max_minutes}" if max_minutes else "") + (" --tiny" if tiny else "")
               + (f" --init-from {shlex.quote(init_from)}" if init_from else "")
               + (" --freeze-encoder" if freeze_encoder else "") + (f" --name {name}" if name != "accomp_vae" else ""))
    res = train_accomp_vae(run_dir=run_dir, out_dir=out_dir, name=name, steps=steps, batch_size=batch_size, lr=lr,
                           lr_final=min(lr, 1e-4) if init_from else 1e-4, beta=beta,
                           seed=seed, max_minutes=max_minutes, command=command,
                           config=AccompVAEConfig.tiny() if tiny and not init_from else None,
                           val_size=16 if tiny else 512, eval_size=32 if tiny else 2000,
                           val_every=min(500, steps), kl_warmup=0 if init_from else min(2000, steps),
                           init_from=init_from, freeze_encoder=freeze_encoder)
    s, tr = res["scores"], res["train"]
    if not tr["finished"]:
        click.echo(f"stopped at step {tr['step']} of {steps}; run the same command again to resume")
    click.echo(f"accomp VAE (best step {tr['best_step']}): note F1 {s['note_f1']:.3f}, onset F1 {s['onset_f1']:.3f}, "
               f"pitch|onset {s['pitch_acc_given_onset']:.3f}, dur {s['dur_acc']:.3f}, "
               f"chord root {s['chord_root_acc']:.3f}, KL {s['kl']:.1f}; wrote {res['weights']}")


@train_group.command("melody-vae", context_settings=CONTEXT)
@click.option("--steps", type=click.IntRange(min=1), default=6000, show_default=True, help="Optimizer steps.")
@click.option("--batch", "batch_size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Melodies per step.")
@click.option("--run-dir", default="runs/melody_vae", show_default=True,
              help="Run folder (checkpoint.pt, log.jsonl, best.pt); resumed when it exists.")
@click.option("--out", "out_dir", default=None,
              help="Where to write melody_vae.pt/.json (default: the package's weights folder).")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after this long and ship the best weights so far (run again to resume).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True, max=1), default=1e-3, show_default=True,
              help="Adam learning rate (decays x0.9996 per step to 1e-5).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed.")
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
@click.option("--tiny", is_flag=True, help="Tiny model on 5 songs per split (a smoke test).")
def train_melody_vae_command(steps, batch_size, run_dir, out_dir, max_minutes, lr, seed, lr_decay, beta_max,
                             beta_warmup, tf_min, tf_warmup, token_dropout, init_from, freeze_encoder, name,
                             tiny) -> None:
    """Train the melody VAE (EC2-VAE style, latent = pitch + rhythm) on POP909.

    Trains on the train split (beats grid, 32-step windows, 12 transpositions),
    keeps the step with the best val loss, evaluates it on the val split
    (reconstruction, rhythm/pitch swap, speed) and writes the weights with a
    card. When --max-minutes ends the run early, the best weights so far are
    shipped and marked under-trained; the same command resumes.

    \b
    Example:
      collage train melody-vae --steps 6000 --batch 64 --max-minutes 35
      collage train melody-vae --init-from melody_vae --steps 4000 --batch 128 --lr 5e-4 \
          --lr-decay 0.9995 --beta-warmup 0 --tf-warmup 0 --name melody_vae_ft --out runs/weights
    """
    from collage.training.melody_vae import ship_melody_vae, train_melody_vae

    model, res, card = train_melody_vae(
        run_dir=run_dir, steps=steps, batch_size=batch_size, lr=lr, seed=seed, lr_decay=lr_decay,
        beta_max=beta_max, beta_warmup=beta_warmup, tf_min=tf_min, tf_warmup=tf_warmup,
        token_dropout=token_dropout, init_from=init_from, freeze_encoder=freeze_encoder,
        max_seconds=None if max_minutes is None else 60.0 * max_minutes, tiny=tiny,
        max_songs=5 if tiny else None, val_size=256 if tiny else 2048, val_every=min(250, steps),
    )
    if res.best_step is None:
        click.echo(f"stopped at step {res.step} before the first validation; run the same command again to resume")
        return
    pt = ship_melody_vae(model, card, out_dir=out_dir, name=name, eval_n=256 if tiny else 2000)
    from collage.pretrained import load_card

    ev = load_card(pt)["scores"]["val_eval"]
    note = f" (stopped at step {res.step} of {steps}: under-trained, run again to resume)" if res.step < steps else ""
    click.echo(f"melody VAE: val token acc {ev['acc_tf']:.3f} teacher-forced, {ev['acc_free']:.3f} free-running; "
               f"rhythm {ev['rhythm_acc_free']:.3f}; best step {res.best_step}{note}; wrote {pt}")


# -- arrange: automatic instrumentation by part separation (issue 5) ----------------------------
_ARRANGE_MODELS = ("zone", "closest", "closest-mono", "lstm", "bilstm", "transformer-enc", "transformer-dec")


@app.command("arrange", context_settings=CONTEXT)
@click.argument("input_path", metavar="IN")
@click.option("-o", "--output", default=None, metavar="OUT.mid",
              help="Output multitrack MIDI (default: IN's name with .arranged.mid, in the current folder).")
@click.option("--ensemble", default="satb", show_default=True, metavar="satb|pop909",
              help="Target ensemble: satb (Soprano, Alto, Tenor, Bass) or pop909 (MELODY, BRIDGE, PIANO).")
@click.option("--model", "model", type=click.Choice(_ARRANGE_MODELS), default=None,
              help="Part separation method (default: bilstm; zone, closest and closest-mono are the baselines).")
@click.option("--weights", default=None, metavar="PT",
              help="Use these weights (a .pt with its .json card) instead of the shipped ones.")
@click.option("--entry-hints", default=None, metavar="PART=BEAT,...",
              help="Which parts play and from when, in beats from the start, e.g. 'Soprano=0,Bass=4'. "
                   "Parts not named stay silent.")
@click.option("--wav", default=None, metavar="OUT.wav", help="Also render the arrangement to audio (FluidSynth).")
@click.option("--plot", "plot_path", default=None, metavar="OUT.png", help="Also draw the arrangement as a piano roll.")
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
    from pathlib import Path

    from collage.arrangement import arrange_file

    out = output or Path(input_path).with_suffix(".arranged.mid").name
    result = arrange_file(input_path, out, ensemble=ensemble, model=model or "bilstm", weights=weights,
                          entry_hints=entry_hints, wav=wav, plot=plot_path)
    counts = ", ".join(f"{name} {n}" for name, n in result.counts.items())
    click.echo(f"arranged {result.n_notes} notes for {result.ensemble} with {result.method}: {counts}")
    for path in result.outputs:
        click.echo(f"  wrote  {path}")


@train_group.command("arrange", context_settings=CONTEXT)
@click.option("--dataset", type=click.Choice(["bach", "pop909"]), required=True, help="Training data.")
@click.option("--model", "model", type=click.Choice(["zone", "lstm", "bilstm", "transformer-enc", "transformer-dec"]),
              required=True, help="What to train (zone: learn the zone baseline's zones).")
@click.option("--hints", type=click.Choice(["entry", "pitch"]), default=None,
              help="Train with entry hints (each part's first onset) or pitch hints (each part's mean pitch).")
@click.option("--steps", type=click.IntRange(min=1), default=3000, show_default=True, help="Optimizer steps in all.")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after this long in this call (checkpointed; the best weights so far are written).")
@click.option("--seq-len", type=click.IntRange(min=8), default=500, show_default=True,
              help="Notes per training window (the paper: 500).")
@click.option("--batch", "batch_size", type=click.IntRange(min=1), default=16, show_default=True, help="Windows per step.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True, help="Adam learning rate.")
@click.option("--val-every", type=click.IntRange(min=1), default=50, show_default=True, help="Validate every N steps.")
@click.option("--val-max-len", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Validate on the first N notes of each validation piece.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed.")
@click.option("--run-dir", default=None, help="Run folder (default runs/arrange_<dataset>_<model>[_hints]); resumed if present.")
@click.option("--out", "out_dir", default=None, help="Where the weights and card go (default: the package's weights/).")
@click.option("--pop909", "pop909", default=None, help="The POP909 folder (default: $COLLAGE_POP909 or ../shared/data/pop909).")
def train_arrange_command(dataset, model, hints, steps, max_minutes, seq_len, batch_size, lr, val_every, val_max_len,
                          seed, run_dir, out_dir, pop909) -> None:
    """Train a part separation model (collage arrange) on Bach chorales or POP909.

    Random windows of --seq-len notes from the train split, randomly
    transposed by -5..+6 semitones; the step with the best note accuracy on
    the val split is kept and written as arrange_<dataset>_<model>[_hints].pt
    with its card (config, this command, data hashes, val accuracy). Running
    the same command again resumes. --model zone learns the zone baseline's
    optimal zones on the train split instead (collage/arrange/zones.json).

    \b
    Example:
      collage train arrange --dataset bach --model bilstm --max-minutes 10
      collage train arrange --dataset pop909 --model lstm --hints entry --steps 1500
    """
    import shlex
    import sys as _sys

    command = "collage train arrange " + " ".join(shlex.quote(a) for a in _sys.argv[_sys.argv.index("arrange") + 1:]) \
        if "arrange" in _sys.argv else None
    if model == "zone":
        from collage.training.arrange import fit_zones

        z = fit_zones(dataset, pop909_root=pop909, command=command)
        click.echo(f"zones for {z['dataset']}: order {z['order']}, boundaries {z['boundaries']}")
        return
    from collage.training.arrange import train_arrange

    card = train_arrange(dataset, model, hints=hints, run_dir=run_dir, out_dir=out_dir, max_steps=steps,
                         max_seconds=None if max_minutes is None else 60.0 * max_minutes, seq_len=seq_len,
                         batch_size=batch_size, lr=lr, val_every=val_every, val_max_len=val_max_len, seed=seed,
                         progress=_sys.stderr.isatty(), pop909_root=pop909, command=command)
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


@eval_group.command("arrange", context_settings=CONTEXT)
@click.option("--dataset", type=click.Choice(["bach", "pop909"]), default="bach", show_default=True, help="Test data.")
@click.option("--split", type=click.Choice(["test", "val"]), default="test", show_default=True, help="Split.")
@click.option("--models", default=None, metavar="NAME,...",
              help="Only these (zone, zone_oracle, closest, closest_mono, lstm, ..., lstm_hints, ...).")
@click.option("--max-pieces", type=click.IntRange(min=1), default=None, help="Only the first N pieces (a quick look).")
@click.option("--pop909", "pop909", default=None, help="The POP909 folder (default: $COLLAGE_POP909 or ../shared/data/pop909).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--record", is_flag=True, help="Also write each network's accuracy into its shipped card.")
def eval_arrange_command(dataset, split, models, max_pieces, pop909, as_json, record) -> None:
    """Note-level part separation accuracy of every method, beside the paper's Bach figures.

    Baselines (zone with zones learned on the train split, zone oracle with
    each piece's own best zones, closest-pitch and its mono variant, both with
    entry hints) and every shipped model of the dataset, with and without
    entry hints, on all notes of every piece of the split.

    \b
    Example:
      collage eval arrange --dataset bach --json
      collage eval arrange --dataset pop909 --models lstm,bilstm
      collage eval arrange --dataset bach --record   # test accuracy into the shipped cards
    """
    import json

    from collage.arrangement.evaluate import PAPER_BACH, evaluate_arrange

    names = None if models is None else [m.strip() for m in models.split(",") if m.strip()]
    result = evaluate_arrange(dataset, split=split, models=names, max_pieces=max_pieces, pop909_root=pop909)
    if record:
        if max_pieces is not None:
            raise click.UsageError("--record takes the whole split; leave out --max-pieces")
        from collage.arrangement.evaluate import record_scores

        record_scores(result, command=f"collage eval arrange --dataset {dataset} --split {split}")
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    paper = PAPER_BACH if dataset == "bach" else {}
    click.echo(f"{dataset} {split} split: {result['n_pieces']} pieces, {result['n_notes']} notes (accuracy %)")
    for name, acc in result["accuracy"].items():
        ref = paper.get(name)
        click.echo(f"  {name:<24} {acc:6.2f}" + (f"   paper {ref:6.2f}   Δ {acc - ref:+.2f}" if ref is not None else ""))


# -- fuse -----------------------------------------------------------------------------------
_MIDI_OUT = (".mid", ".midi")


def _check_suffix(option: str, path: str, suffixes: tuple[str, ...]) -> None:
    from pathlib import Path

    from collage.errors import ParameterError

    if Path(path).suffix.lower() not in suffixes:
        raise ParameterError(f"given {option} {path!r}; expected a file name ending in {' or '.join(suffixes)}")


def fuse_summary(result) -> dict:
    """The JSON summary ``collage fuse --json`` prints (plain types)."""
    return {
        "method": result.method,
        "controls": result.controls,
        "iterations": result.iterations,
        "seed": result.seed,
        "key_shift": result.key_shift,
        "n_windows": result.n_windows,
        "hop_beats": result.hop_steps // 4,
        "n_beats": result.n_steps / 4,
        "duration_s": round(result.piece.duration_s, 6),
        "fit": result.fit,
        "silent_windows": result.silent_windows,
        "melody_qpm": round(result.melody_qpm, 3),
        "accomp_qpm": round(result.accomp_qpm, 3),
        "n_notes": {t.name: len(t) for t in result.piece.tracks},
        "harmony": result.harmony,
    }


@app.command("fuse", context_settings=CONTEXT,
             short_help="Fuse a melody and an unrelated accompaniment into a harmonic two-track piece.")
@click.argument("melody_path", metavar="MELODY")
@click.argument("accomp_path", metavar="ACCOMPANIMENT")
@click.option("-o", "--output", required=True, metavar="OUT.mid", help="The fused MIDI file (tracks MELODY, ACCOMPANIMENT).")
@click.option("--keep-pitch", type=float, default=0.5, show_default=True, metavar="C",
              help="How much of the melody's pitch to keep, 0..1.")
@click.option("--keep-rhythm", type=float, default=0.5, show_default=True, metavar="C",
              help="How much of the melody's rhythm to keep, 0..1.")
@click.option("--keep-chord", type=float, default=0.5, show_default=True, metavar="C",
              help="How much of the accompaniment's chords to keep, 0..1.")
@click.option("--keep-texture", type=float, default=0.5, show_default=True, metavar="C",
              help="How much of the accompaniment's texture to keep, 0..1.")
@click.option("--method", type=click.Choice(["collagenet", "rule", "gradient"]), default="collagenet",
              show_default=True, help="collagenet (the models), rule (melody-only rules), gradient (critic ascent).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the rule method's random skips (collagenet and gradient are deterministic).")
@click.option("--wav", "wav", default=None, metavar="OUT.wav", help="Also render the result (.wav or .flac).")
@click.option("--plot", "plot", default=None, metavar="OUT.png",
              help="Also draw inputs and output as stacked piano rolls (.png, .svg or .pdf).")
@click.option("--melody-track", default=None, metavar="NAME",
              help="The melody's track in MELODY (default: MELODY, else the only pitched track).")
@click.option("--accomp-track", "accomp_tracks", multiple=True, metavar="NAME",
              help="An accompaniment track in ACCOMPANIMENT; repeat to merge several (default: PIANO, else all).")
@click.option("--loop/--trim", "loop", default=True, show_default=True,
              help="Different lengths: loop the shorter input, or trim the longer one.")
@click.option("--no-key-align", is_flag=True, help="Do not transpose the accompaniment toward the melody's key.")
@click.option("--hop", "hop", type=click.IntRange(1, 8), default=4, show_default=True, metavar="BEATS",
              help="Beats between the starts of the 8-beat windows (8: no overlap).")
@click.option("--actor", default=None, metavar="NAME|PATH",
              help="CollageNet actor weights: a shipped name (e.g. latent_actor_lam0.1) or a .pt path "
                   "(default: latent_actor).")
@click.option("--iterations", type=click.IntRange(min=1), default=None, metavar="K",
              help="Apply the CollageNet actor K times, each to its own output (default: the actor's, "
                   "chosen on the val split; 1 is the paper's single pass).")
@click.option("--arrange", "arrange_ensemble", type=click.Choice(["satb", "pop909"]), default=None,
              help="Then arrange the fused piece for this ensemble (collage arrange): one track per part.")
@click.option("--arrange-model", type=click.Choice(_ARRANGE_MODELS), default="bilstm", show_default=True,
              help="The part-separation model used by --arrange.")
@click.option("--json", "as_json", is_flag=True, help="Print a summary as JSON.")
def fuse_command(melody_path, accomp_path, output, keep_pitch, keep_rhythm, keep_chord, keep_texture, method, seed,
                 wav, plot, melody_track, accomp_tracks, loop, no_key_align, hop, actor, iterations,
                 arrange_ensemble, arrange_model, as_json) -> None:
    """Fuse MELODY and an unrelated ACCOMPANIMENT into one harmonic two-track piece.

    Inputs are MIDI, MusicXML or ABC files of any length. The melody is the
    track named MELODY (or --melody-track, or the only pitched track; a
    polyphonic one is reduced to its top line); the accompaniment is the track
    named PIANO (or the --accomp-track tracks, or all pitched tracks). Each is
    put on a 16th-note grid by its own tempo map, the accompaniment is
    transposed toward the melody's key (-6..+6 semitones; --no-key-align to
    skip), the shorter input is looped (--trim: the longer is cut), and the
    pair is fused in 8-beat windows every --hop beats, stitched back together.
    The output plays at the melody's tempo.

    The four --keep-* controls (0..1, default 0.5) say how much of the
    melody's pitch and rhythm and the accompaniment's chords and texture to
    keep; all four at 1 changes as little as possible. They apply to the
    collagenet method only: the rule method edits the melody's pitches and
    onsets by fixed rules (seeded), the gradient method follows the critic.

    \b
    Example:
      collage fuse melody.mid accompaniment.mid -o fused.mid --keep-rhythm 0.9 --wav fused.wav --plot fused.png
      collage fuse song.mid other.musicxml -o out.mid --method rule --seed 1 --trim
      collage fuse melody.mid accompaniment.mid -o band.mid --arrange pop909 --wav band.wav
    """
    import json

    from collage.errors import CollageError, ParameterError

    for name, value in (("pitch", keep_pitch), ("rhythm", keep_rhythm), ("chord", keep_chord),
                        ("texture", keep_texture)):
        if not 0.0 <= value <= 1.0:  # also refuses nan
            raise ParameterError(f"given --keep-{name} {value:g}; expected a number in [0, 1]")
    _check_suffix("-o/--output", output, _MIDI_OUT)
    if wav is not None:
        from collage.audio.render import AUDIO_SUFFIXES, check_renderer

        _check_suffix("--wav", wav, tuple(AUDIO_SUFFIXES))
        check_renderer()  # fail before any work or output
    if plot is not None:
        _check_suffix("--plot", plot, (".png", ".svg", ".pdf"))

    from collage.fusion.vertical import FusionModels, fuse
    from collage.io import write_midi

    if actor is not None and method != "collagenet":
        raise ParameterError(f"given --actor {actor!r} with --method {method}; the actor is CollageNet's only")
    if iterations is not None and method != "collagenet":
        raise ParameterError(f"given --iterations {iterations} with --method {method}; they are CollageNet's only")
    arrange_net = None
    if arrange_ensemble is not None:
        from collage.arrangement.pipeline import NEURAL, load_arrange_model

        if arrange_model in NEURAL:  # load (and fail) before any work
            arrange_net = load_arrange_model(arrange_ensemble, arrange_model)
    models = FusionModels.load(actor=actor) if actor is not None else None
    result = fuse(melody_path, accomp_path, keep_pitch=keep_pitch, keep_rhythm=keep_rhythm, keep_chord=keep_chord,
                  keep_texture=keep_texture, method=method, seed=seed, melody_track=melody_track,
                  accomp_tracks=list(accomp_tracks) or None, fit="loop" if loop else "trim",
                  key_align=not no_key_align, hop_beats=hop, models=models, iterations=iterations, judge=True)
    out_piece = result.piece
    if arrange_ensemble is not None:
        from collage.arrangement.pipeline import arrange

        out_piece, _ = arrange(result.piece, ensemble=arrange_ensemble, model=arrange_model, net=arrange_net)
    written = []
    try:
        written.append(write_midi(out_piece, output))
        if wav is not None:
            from collage.audio.render import render_to_file

            written.append(render_to_file(out_piece, wav))
        if plot is not None:
            from pathlib import Path

            from collage.plotting import plot_pianorolls

            plot_pianorolls(
                [result.melody_input, result.accomp_input, out_piece], plot,
                titles=[f"melody: {Path(melody_path).name}", f"accompaniment: {Path(accomp_path).name}",
                        f"fused ({result.method}, accompaniment {result.key_shift:+d} semitones)"],
            )
            written.append(plot)
    except CollageError:
        from pathlib import Path

        for p in written:  # all or nothing: no output of a failed run is left
            Path(p).unlink(missing_ok=True)
        raise
    if as_json:
        summary = fuse_summary(result)
        if arrange_ensemble is not None:
            summary["arranged"] = {"ensemble": arrange_ensemble, "model": arrange_model,
                                   "notes": {t.name: len(t.notes) for t in out_piece.tracks}}
        click.echo(json.dumps({**summary, "outputs": [str(p) for p in written]}, indent=2))
        return
    c = result.controls
    how = ("keep " + ", ".join(f"{k} {v:g}" for k, v in c.items()) + f", {result.iterations} iteration(s)"
           if result.method == "collagenet" else f"seed {result.seed}")
    fit = ""
    if result.fit["looped"]:
        fit = f", {result.fit['looped']} looped {result.fit['loops']:.2g}x"
    elif result.fit["trimmed"]:
        fit = f", {result.fit['trimmed']} trimmed"
    click.echo(f"fused with {result.method} ({how}): {result.n_steps / 4:g} beats in {result.n_windows} windows, "
               f"accompaniment {result.key_shift:+d} semitones{fit}")
    h = result.harmony
    if h and h["windows"]:
        given = "the inputs" + (" after key alignment" if result.key_shift else "")
        click.echo(f"harmony judge: {h['output']:.0%} of {h['windows']} windows rated harmonic ({given}: {h['input']:.0%})")
        if result.method == "collagenet" and result.iterations > 1 and h["output"] < h["input"]:
            click.echo("hint: the inputs already fit better than the fusion; --iterations 1 moves them less "
                       "(docs/results/fusion_keep_harmony.md)")
    if arrange_ensemble is not None:
        parts = ", ".join(f"{t.name} {len(t.notes)}" for t in out_piece.tracks)
        click.echo(f"arranged for {arrange_ensemble} with {arrange_model}: {parts} notes")
    for p in written:
        click.echo(f"wrote {p}")


def _critic_options(f):
    for opt in reversed([
        click.option("--run-dir", default=None, help="Run folder (default: runs/<name>)."),
        click.option("--steps", type=click.IntRange(min=1), default=3000, show_default=True, help="Training steps."),
        click.option("--batch-size", type=click.IntRange(min=2), default=256, show_default=True, help="Batch size."),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-4, show_default=True,
                     help="Adam learning rate (betas 0, 0.9; paper 3e-5)."),
        click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed."),
        click.option("--segments", type=click.IntRange(min=10), default=8000, show_default=True,
                     help="Train segments encoded (x 12 transpositions; val gets 1/8 as many)."),
        click.option("--melody-vae", default=None, help="Melody VAE weights (default: shipped melody_vae)."),
        click.option("--accomp-vae", default=None, help="Accompaniment VAE weights (default: shipped accomp_vae)."),
        click.option("--out", "out_dir", default=None, help="Where to write the weights (default: the package)."),
        click.option("--max-seconds", type=click.FloatRange(min=1), default=None,
                     help="Stop after this long (run again to resume)."),
        click.option("--tiny", is_flag=True, help="Tiny random VAEs and a tiny critic (a smoke test)."),
    ]):
        f = opt(f)
    return f


@train_group.command("critic", context_settings=CONTEXT)
@_critic_options
@click.option("--name", default="latent_critic_pretrained", show_default=True, help="Name of the weights.")
def train_critic_command(run_dir, steps, batch_size, lr, seed, segments, melody_vae, accomp_vae, out_dir,
                         max_seconds, tiny, name) -> None:
    """Pre-train the latent critic without an actor (for the data-driven baseline).

    Encodes SEGMENTS train segments with the two VAEs under 12 transpositions
    (cached), trains D on Ωh (positive) vs Ωdh and prior samples (negative),
    keeps the best val accuracy and writes NAME.pt/.json.

    \b
    Example:
      collage train critic --steps 3000
    """
    from collage.training.critic_actor import run_train_critic

    pt = run_train_critic(run_dir=run_dir or f"runs/{name}", steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                          segments=segments, out_dir=out_dir, name=name, mel_vae=melody_vae, acc_vae=accomp_vae,
                          tiny=tiny, max_seconds=max_seconds)
    click.echo(f"wrote {pt}")


@train_group.command("actor", context_settings=CONTEXT)
@_critic_options
@click.option("--lam", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Weight of the distance penalty.")
@click.option("--name", default=None, help="Name of the weights (default: latent_actor; latent_actor_lam<LAM> "
                                           "with --no-default).")
@click.option("--no-default", is_flag=True, help="Not the shipped default: name it latent_actor_lam<LAM>.")
@click.option("--judge", default=None, help="Judge for selection (default: shipped harmony_judge).")
@click.option("--control-gate/--no-control-gate", default=True, show_default=True,
              help="Scale each aspect's gate by 1 - control (a control of 1 keeps that aspect exactly).")
@click.option("--init-from", default=None, metavar="NAME|PT",
              help="Warm-start from trained actor weights (and the matching latent_critic*) of the same sizes.")
@click.option("--unroll", type=click.IntRange(min=1), default=1, show_default=True, metavar="K",
              help="Train the iterated transformation: each step applies the actor 1..K times (drawn) and "
                   "scores the last output; val is measured after K applications.")
@click.option("--val-iterations", type=click.IntRange(min=1), default=None, metavar="K",
              help="Keep the step with the best val harmony after K applications (default: --unroll).")
def train_actor_command(run_dir, steps, batch_size, lr, seed, segments, melody_vae, accomp_vae, out_dir,
                        max_seconds, tiny, lam, name, no_default, judge, control_gate, init_from, unroll,
                        val_iterations) -> None:
    """Train the CollageNet actor G with its critic D at distance weight LAM.

    Adversarial training in the latent space of the two VAEs (cached
    latents of SEGMENTS train segments x 12 transpositions); the step with
    the best judge harmony rate on decoded val fusions is kept. Writes
    latent_actor.pt (and latent_critic.pt), or latent_actor_lam<LAM>.pt.

    \b
    Example:
      collage train actor --lam 0.1                # the shipped default's λ
      collage train actor --lam 1 --no-default     # latent_actor_lam1

    The weights ship with a single pass as their default; choose the inference
    default with `collage train actor-iterations` afterwards.
    """
    from collage.training.critic_actor import lam_name, run_train_actor

    if name is None:
        name = f"latent_actor_lam{lam_name(lam)}" if no_default else "latent_actor"
    pt = run_train_actor(run_dir=run_dir or f"runs/{name}", lam=lam, steps=steps, batch_size=batch_size, lr=lr,
                         seed=seed, segments=segments, out_dir=out_dir, name=name, mel_vae=melody_vae,
                         acc_vae=accomp_vae, judge=judge, tiny=tiny, max_seconds=max_seconds,
                         control_gate=control_gate, init_from=init_from, unroll=unroll,
                         val_iterations=val_iterations)
    click.echo(f"wrote {pt}")


def _report_card_choice(chosen, res: dict, *, name: str, dry_run: bool, tiny: bool, json_path) -> None:
    """Echo an inference default chosen on val and where it went; write ``res`` as JSON to ``json_path`` if given."""
    import json

    written = " (not written: --dry-run)" if dry_run else " (not written: --tiny)" if tiny else f" (written to {name}'s card)"
    click.echo(f"chosen: {chosen}{written}")
    if json_path:
        from collage.io.atomic import atomic_path

        with atomic_path(json_path) as tmp:
            tmp.write_text(json.dumps(res, indent=2) + "\n")


@train_group.command("actor-iterations", context_settings=CONTEXT)
@click.option("--actor", "name", default="latent_actor", show_default=True, metavar="NAME|PT",
              help="The actor weights whose default to choose (its critic: the matching latent_critic*).")
@click.option("--max-iterations", type=click.IntRange(min=1), default=8, show_default=True,
              help="Try 1..K applications.")
@click.option("--tolerance", type=click.FloatRange(min=0), default=0.01, show_default=True,
              help="Choose the smallest count within this of the best val harmony rate.")
@click.option("--segments", type=click.IntRange(min=10), default=8000, show_default=True,
              help="As in `collage train actor` (val uses 1/8 as many segments).")
@click.option("--dry-run", is_flag=True, help="Print the sweep; do not write the card.")
@click.option("--json", "json_path", default=None, metavar="PATH", help="Also write the sweep as JSON to PATH.")
@click.option("--tiny", is_flag=True, help="Tiny random models, nothing written to a card (a smoke test).")
def train_actor_iterations_command(name, max_iterations, tolerance, segments, dry_run, json_path, tiny) -> None:
    """Choose how many times an actor is applied at inference, on the val split.

    Applies the actor 1..K times to 500 val Ωdh pairs (controls 0.5), decodes
    and scores them with the harmony judge, and records the smallest count
    within TOLERANCE of the best harmony rate as the actor's default
    (``config.iterations`` in its card; the weights are not touched). Run it
    again after `collage train actor`, which ships a single pass.

    \b
    Example:
      collage train actor-iterations --actor latent_actor --json docs/results/fusion_iterations.json
    """
    from collage.training.critic_actor import run_choose_iterations

    res = run_choose_iterations(name, max_iterations=max_iterations, segments=segments, tolerance=tolerance,
                                write=not dry_run, tiny=tiny)
    for k, m in res["iterations"].items():
        click.echo(f"{k:3d} iteration(s): harmony {m['val_harmony']:.3f}  rho_mel {m['val_rho_a']:.3f}  "
                   f"rho_acc {m['val_rho_b']:.3f}  critic {m['val_d_out']:.3f}")
    _report_card_choice(res["chosen"], res, name=name, dry_run=dry_run, tiny=tiny, json_path=json_path)


@train_group.command("accomp-eos-bias", context_settings=CONTEXT)
@click.option("--model", "name", default="accomp_vae", show_default=True, metavar="NAME|PT",
              help="The accompaniment VAE weights to calibrate.")
@click.option("--segments", type=click.IntRange(min=10), default=2000, show_default=True,
              help="Val segments to calibrate on (a fixed seeded subset).")
@click.option("--seed", type=click.IntRange(min=0), default=2, show_default=True, help="Seed of that subset.")
@click.option("--dry-run", is_flag=True, help="Print the sweep; do not write the card.")
@click.option("--json", "json_path", default=None, metavar="PATH", help="Also write the sweep as JSON to PATH.")
@click.option("--tiny", is_flag=True, help="A tiny random model, nothing written to a card (a smoke test).")
def train_accomp_eos_bias_command(name, segments, seed, dry_run, json_path, tiny) -> None:
    """Calibrate the accompaniment decoder's end-of-step bias on the val split.

    Greedy decoding ends a step's notes too early. This decodes the round trip
    of val accompaniments with the end-of-step logit lowered by 0, 0.1, ..., 1.5
    and records the bias whose mean note count per segment is closest to the
    true one as the model's default (``config.eos_bias`` in its card; the
    weights are not touched). Run it again after `collage train accomp-vae`.

    \b
    Example:
      collage train accomp-eos-bias --json docs/results/accomp_eos_bias.json
    """
    from collage.training.accomp_vae import run_calibrate_eos_bias

    res = run_calibrate_eos_bias(name, n=segments, seed=seed, write=not dry_run, tiny=tiny)
    click.echo(f"true notes per segment: {res['true_notes']:.2f} ({res['segments']} val segments)")
    for b, m in res["biases"].items():
        click.echo(f"bias {b:.1f}: notes {m['notes']:.2f}  note P/R/F1 {m['note_precision']:.3f} "
                   f"{m['note_recall']:.3f} {m['note_f1']:.3f}  onset F1 {m['onset_f1']:.3f}")
    _report_card_choice(f"{res['chosen']:.1f}", {**res, "biases": {str(b): m for b, m in res["biases"].items()}},
                        name=name, dry_run=dry_run, tiny=tiny, json_path=json_path)


@eval_group.command("fusion", context_settings=CONTEXT)
@click.option("--pairs", "n_pairs", type=click.IntRange(min=2), default=5000, show_default=True,
              help="Ωh and Ωdh test pairs each (beats grid).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the pair draws.")
@click.option("--control-pairs", type=click.IntRange(min=1), default=200, show_default=True,
              help="Pairs used for the control sweep.")
@click.option("--gradient-steps", type=click.IntRange(min=0), default=None,
              help="Steps of the data-driven baseline (default: its shipped default).")
@click.option("--gradient-sweep", default=None, metavar="N,N,...",
              help="Also score the data-driven baseline at these step counts (on up to 500 pairs).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of a table.")
@click.option("--markdown", "md_path", default=None, metavar="PATH", help="Also write the tables as Markdown to PATH.")
@click.option("--tiny", is_flag=True, help="Tiny random models (a smoke test of the evaluation itself).")
def eval_fusion_command(n_pairs, seed, control_pairs, gradient_steps, gradient_sweep, as_json, md_path, tiny) -> None:
    """Evaluate vertical fusion: CollageNet vs the baselines on POP909 test pairs.

    Rows omega_h, omega_dh, rule, gradient, collagenet (shipped λ) and
    collagenet_lam<λ>: judge harmony rate, latent distances, harmony
    statistics and single-track differences from the test set; plus the
    control sweep (Spearman of each aspect's latent distance and note
    similarity with its control).

    \b
    Example:
      collage eval fusion --json --pairs 5000 --seed 0
    """
    import json

    from collage.errors import ParameterError
    from collage.evaluation.fusion import ROW_KEYS, evaluate_fusion

    sweep = None
    if gradient_sweep:
        try:
            sweep = [int(x) for x in gradient_sweep.split(",") if x.strip()]
        except ValueError:
            raise ParameterError(f"given --gradient-sweep {gradient_sweep!r}; expected integers like 0,50,100") from None
    res = evaluate_fusion(n_pairs=n_pairs, seed=seed, control_pairs=control_pairs, gradient_steps=gradient_steps,
                          gradient_sweep=sweep, tiny=tiny)
    if md_path:
        from collage.evaluation.fusion import to_markdown
        from collage.io.atomic import atomic_path

        with atomic_path(md_path) as tmp:
            tmp.write_text(to_markdown(res))
    if as_json:
        click.echo(json.dumps(res, indent=2))
        return

    def fmt(x):
        return "-" if x is None else f"{x:.3f}"

    keys = list(ROW_KEYS)
    lines = ["row".ljust(22) + " ".join(k.rjust(12) for k in keys)]
    for name, row in res["rows"].items():
        lines.append(name.ljust(22) + " ".join(fmt(row[k]).rjust(12) for k in keys))
    lines.append("")
    lines.append("control".ljust(22) + "spearman_latent".rjust(16) + "spearman_similarity".rjust(20))
    for name, c in res["controls"].items():
        lines.append(name.ljust(22) + fmt(c["spearman_latent"]).rjust(16) + fmt(c["spearman_similarity"]).rjust(20))
    click.echo("\n".join(lines))


from collage.mashup.commands import mashup_group  # noqa: E402  (its commands attach themselves)

app.add_command(mashup_group)
from collage.mashup.use_cli import eval_mashup_command, train_key_model_command, train_mashability_command  # noqa: E402

train_group.add_command(train_mashability_command)
train_group.add_command(train_key_model_command)
eval_group.add_command(eval_mashup_command)

from collage.fusion import join_cli  # noqa: E402  (collage join, train join-*, eval join)

app.add_command(join_cli.join_command)
for _cmd in (join_cli.train_join_critic_command, join_cli.train_join_actor_command, join_cli.train_join_judge_command):
    train_group.add_command(_cmd)
eval_group.add_command(join_cli.eval_join_command)


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

"""``collage fuse``: a melody and an unrelated accompaniment fused into one harmonic piece.

The command parses its options and calls :func:`collage.fusion.vertical.fuse`
(then :func:`collage.generation.generate` with ``--extend`` and
:func:`collage.arrangement.pipeline.arrange` with ``--arrange``) and
:func:`collage.fusion.outputs.write_outputs`.
"""

from __future__ import annotations

from pathlib import Path

import click

from collage.cli.common import (
    ARRANGE_MODELS,
    CONTEXT,
    FUSE_DEFAULT_METHOD,
    FUSE_METHODS,
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

__all__ = ["fuse_command"]

# Library imports sit inside the command: they pull torch and matplotlib, and `collage --help` must stay fast.


@click.command("fuse", context_settings=CONTEXT,
               short_help="Fuse a melody and an unrelated accompaniment into a harmonic two-track piece.")
@click.argument("melody_path", metavar="MELODY")
@click.argument("accomp_path", metavar="ACCOMPANIMENT")
@output_option("OUT.mid", "The fused MIDI file (tracks MELODY, ACCOMPANIMENT).", required=True)
@click.option("--keep-pitch", type=float, default=0.5, show_default=True, metavar="C",
              help="How much of the melody's pitch to keep, 0..1.")
@click.option("--keep-rhythm", type=float, default=0.5, show_default=True, metavar="C",
              help="How much of the melody's rhythm to keep, 0..1.")
@click.option("--keep-chord", type=float, default=0.5, show_default=True, metavar="C",
              help="How much of the accompaniment's chords to keep, 0..1.")
@click.option("--keep-texture", type=float, default=0.5, show_default=True, metavar="C",
              help="How much of the accompaniment's texture to keep, 0..1.")
@click.option("--method", type=click.Choice(FUSE_METHODS), default=FUSE_DEFAULT_METHOD,
              show_default=True, help="revoice (the accompaniment's own notes re-voiced onto chords chosen for the "
                                      "melody; no models), collagenet (the latent actor and VAEs), rule (melody-only "
                                      "rules), gradient (critic ascent).")
@seed_option("Seed of the rule method's random skips and of --extend's sampler (collagenet and gradient are deterministic).")
@wav_option()
@plot_option()
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
                   "chosen on the validation split; 1 is the paper's single pass).")
@click.option("--arrange", "arrange_ensemble", type=click.Choice(["satb", "pop909"]), default=None,
              help="Then arrange the fused piece for this ensemble (collage arrange): one track per part.")
@click.option("--arrange-model", type=click.Choice(ARRANGE_MODELS), default="bilstm", show_default=True,
              help="The part-separation model used by --arrange.")
@click.option("--extend", "extend_beats", type=int, default=None, metavar="BEATS",
              help="Then continue the fused piece for BEATS more quarter-note beats with the Multitrack Music "
                   "Transformer (collage generate): MELODY as its melody, ACCOMPANIMENT as its piano; 1..1024.")
@json_flag("Print a summary as JSON (stdout holds the JSON alone).")
def fuse_command(melody_path, accomp_path, output, keep_pitch, keep_rhythm, keep_chord, keep_texture, method, seed,
                 wav, plot_path, melody_track, accomp_tracks, loop, no_key_align, hop, actor, iterations,
                 arrange_ensemble, arrange_model, extend_beats, as_json) -> None:
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
    collagenet and revoice methods: the rule method edits the melody's pitches
    and onsets by fixed rules (seeded), the gradient method follows the critic.
    With --method revoice (docs/fuse.md): --keep-chord prices leaving the
    accompaniment's own chord, --keep-pitch and --keep-rhythm bound the share
    of melody notes whose pitch may change or whose onset may snap onto an
    accompaniment onset, --keep-texture below 0.5 snaps re-voiced non-chord
    tones; the accompaniment's rhythm and every note count are always kept.

    \b
    Example:
      collage fuse melody.mid accompaniment.mid -o fused.mid --keep-rhythm 0.9 --wav fused.wav --plot fused.png
      collage fuse song.mid other.musicxml -o out.mid --method rule --seed 1 --trim
      collage fuse melody.mid accompaniment.mid -o revoiced.mid --method revoice --keep-chord 0.3
      collage fuse melody.mid accompaniment.mid -o band.mid --arrange pop909 --wav band.wav
      collage fuse melody.mid accompaniment.mid -o longer.mid --extend 32
    """
    for name, value in (("pitch", keep_pitch), ("rhythm", keep_rhythm), ("chord", keep_chord),
                        ("texture", keep_texture)):
        if not 0.0 <= value <= 1.0:  # also refuses nan
            raise ParameterError(f"given --keep-{name} {value:g}; expected a number in [0, 1]")
    check_suffix("-o/--output", output, MIDI_SUFFIXES)
    if wav is not None:
        from collage.audio.render import AUDIO_SUFFIXES, check_renderer

        check_suffix("--wav", wav, tuple(AUDIO_SUFFIXES))
        check_renderer()  # fail before any work or output
    if plot_path is not None:
        check_suffix("--plot", plot_path, IMAGE_SUFFIXES)
    if actor is not None and method != "collagenet":
        raise ParameterError(f"given --actor {actor!r} with --method {method}; the actor is CollageNet's only")
    if iterations is not None and method != "collagenet":
        raise ParameterError(f"given --iterations {iterations} with --method {method}; they are CollageNet's only")
    if extend_beats is not None:
        from collage.cli.generate import MAX_BEATS

        if not 1 <= extend_beats <= MAX_BEATS:
            raise ParameterError(f"given --extend {extend_beats}; expected 1..{MAX_BEATS} beats")

    from collage.arrangement.pipeline import NEURAL, arrange, load_arrange_model
    from collage.fusion.outputs import write_outputs
    from collage.fusion.vertical import FusionModels, fuse

    arrange_net = None
    if arrange_ensemble is not None and arrange_model in NEURAL:  # load (and fail) before any work
        arrange_net = load_arrange_model(arrange_ensemble, arrange_model)
    mmt = None
    if extend_beats is not None:  # load (and fail) before any work
        from collage.pretrained import load_pretrained

        mmt = load_pretrained("mmt")
    models = FusionModels.load(actor=actor) if actor is not None else None
    result = fuse(melody_path, accomp_path, keep_pitch=keep_pitch, keep_rhythm=keep_rhythm, keep_chord=keep_chord,
                  keep_texture=keep_texture, method=method, seed=seed, melody_track=melody_track,
                  accomp_tracks=list(accomp_tracks) or None, fit="loop" if loop else "trim",
                  key_align=not no_key_align, hop_beats=hop, models=models, iterations=iterations, judge=True)
    out_piece = result.piece
    if extend_beats is not None:
        from collage.generation import generate

        out_piece = generate(prompt=out_piece, beats=extend_beats, seed=seed, model=mmt)
    if arrange_ensemble is not None:
        out_piece, _ = arrange(out_piece, ensemble=arrange_ensemble, model=arrange_model, net=arrange_net)
    written = write_outputs(
        out_piece, output, wav=wav, plot=plot_path, plot_pieces=[result.melody_input, result.accomp_input, out_piece],
        plot_titles=[f"melody: {Path(melody_path).name}", f"accompaniment: {Path(accomp_path).name}",
                     f"fused ({result.method}, accompaniment {result.key_shift:+d} semitones)"])
    if as_json:
        summary = result.summary()
        if extend_beats is not None:
            summary["extended"] = {"beats": extend_beats, "n_notes": out_piece.n_notes,
                                   "end_beat": round(out_piece.end_tick / out_piece.tpq, 3)}
        if arrange_ensemble is not None:
            summary["arranged"] = {"ensemble": arrange_ensemble, "model": arrange_model,
                                   "notes": {t.name: len(t.notes) for t in out_piece.tracks}}
        emit_json({**summary, "outputs": [str(p) for p in written]})
        return
    c = result.controls
    how = ("keep " + ", ".join(f"{k} {v:g}" for k, v in c.items()) + f", {result.iterations} iteration(s)"
           if result.method == "collagenet" else "keep " + ", ".join(f"{k} {v:g}" for k, v in c.items())
           if result.method == "revoice" else f"seed {result.seed}")
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
    if extend_beats is not None:
        click.echo(f"extended by {extend_beats} beats with the Multitrack Music Transformer: "
                   f"{out_piece.n_notes} notes, {out_piece.end_tick / out_piece.tpq:g} beats")
    if arrange_ensemble is not None:
        parts = ", ".join(f"{t.name} {len(t.notes)}" for t in out_piece.tracks)
        click.echo(f"arranged for {arrange_ensemble} with {arrange_model}: {parts} notes")
    for p in written:
        click.echo(f"wrote {p}")

"""``collage mashup build | score | retrieve | generate``: audio mashups from a MashupDB of stems.

Each command calls one library function: :func:`collage.mashup.builder.build`,
:func:`collage.mashup.combination.score_combination`,
:func:`collage.mashup.retrieval.retrieve` or :func:`collage.mashup.retrieval.generate_mashups`.
"""

from __future__ import annotations

import click

from collage.cli.common import CONTEXT, emit_json, json_flag, note, renamed, seed_option

__all__ = ["mashup_group"]

# Library imports sit inside the commands: they pull librosa and torch, and `collage --help` must stay fast.

#: The same as :data:`collage.mashup.combination.SCORERS` (a test checks), spelled here for ``--help``.
SCORERS = ("premixnet", "postmixnet", "automashupper")
SOURCES = ("midi", "stems", "mix")


@click.group("mashup", context_settings=CONTEXT)
def mashup_group() -> None:
    """Audio mashups: build a MashupDB of stems, generate, score and retrieve mashups.

    \b
    Example:
      collage mashup build songs.db --from ../shared/data/pop909 --limit 20
      collage mashup retrieve songs.db --vocal my_acapella.wav --top 5
    """


@mashup_group.command("build", context_settings=CONTEXT)
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--from", "src", required=True, type=click.Path(), help="Folder of songs, stems or mixes.")
@click.option("--source", type=click.Choice(SOURCES), default="midi", show_default=True,
              help="midi: POP909-style songs rendered to stems; stems: files by naming convention/manifest; "
                   "mix: full mixes through a separation backend.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes.")
@click.option("--on-error", type=click.Choice(["skip", "stop"]), default="skip", show_default=True,
              help="skip: report unusable songs at the end; stop: exit 2 at the first.")
@click.option("--limit", type=click.IntRange(1, None), default=None, help="At most this many songs of DIR (first by name).")
@click.option("--seconds", type=float, default=30.0, show_default=True, help="Clip length per song (s).")
@click.option("--sr", type=click.IntRange(8000, 48000), default=22050, show_default=True, help="Stem sample rate (Hz).")
@seed_option("Varies programs and drums (midi).")
@click.option("--soundfont", type=click.Path(dir_okay=False), default=None,
              help="One soundfont for all (midi); default: the train/test convention per song.")
@click.option("--backend", type=click.Choice(["classical", "demucs"]), default="classical", show_default=True,
              help="Separation backend (mix).")
@click.option("--cluster", metavar="ADDRESS", default=None,
              help="Run the songs on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786) "
                   "instead of local processes.")
@click.option("--stem-root", metavar="PATH|URL", default=None,
              help="Where the stems go: a folder or an fsspec URL (s3://bucket/stems) [default: DB.stems/].")
@click.option("--features", "store_features", is_flag=True,
              help="Also store what retrieve's second stage reads (DB.features/: each song's stems per pitch shift "
                   "and stretch) and, for its first stage, each stem segment's prior and each stem's SourceNet "
                   "shares; without it they are computed when retrieve first needs them.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def build_command(db, src, source, jobs, on_error, limit, seconds, sr, seed, soundfont, backend, cluster, stem_root,
                  store_features, no_progress):
    """Build (or continue) the MashupDB DB from the songs in a folder.

    Resumable: songs already in DB are skipped; kill it and run it again to continue.
    Stems go to DB.stems/ (or --stem-root); unusable songs are listed at the end
    (--on-error skip). With --cluster the songs run on a Dask cluster's workers
    and this process writes the DB.

    \b
    Example:
      collage mashup build pop.db --from ../shared/data/pop909 --jobs 2 --limit 100
      collage mashup build mine.db --from my_stems/ --source stems   # <name>.vocals.wav, ...
      collage mashup build mixes.db --from my_songs/ --source mix
      collage mashup build pop.db --from /data/POP909 --cluster tcp://scheduler:8786
    """
    from collage.mashup.builder import build

    res = build(db, src, source=source, jobs=jobs, on_error=on_error, limit=limit, seconds=seconds, sr=sr,
                seed=seed, soundfont=soundfont, backend=backend, progress=not no_progress, cluster=cluster,
                stem_root=stem_root)
    click.echo(f"{res['db']}: added {res['added']} songs ({res['already']} already there, "
               f"{len(res['skipped'])} skipped) in {res['wall_s']:.1f} s")
    if store_features:
        from collage.mashup.fastscore import ensure_db_features
        from collage.mashup.index import StemIndex
        from collage.mashup.shares import ensure_db_shares

        click.echo(f"stored the features of {ensure_db_features(db, progress=not no_progress)} songs")
        index = StemIndex.load(db, progress=not no_progress)  # computes and stores the segments' priors
        click.echo(f"stored the priors of {len(index)} stem segments")
        click.echo(f"stored the SourceNet shares of {ensure_db_shares(db, index.names, progress=not no_progress)} songs")
    if res["skipped"]:
        note(f"skipped {len(res['skipped'])}:")
        for name, why in res["skipped"]:
            note(f"  {name}: {why}")


@mashup_group.command("score", context_settings=CONTEXT)
@click.argument("vocals", type=click.Path(dir_okay=True))
@click.argument("harmonic", type=click.Path(dir_okay=True))
@click.argument("percussion", type=click.Path(dir_okay=True))
@click.option("--scorer", type=click.Choice(SCORERS), default="premixnet", show_default=True,
              help="premixnet / postmixnet (learned, shipped) or automashupper (rule-based).")
@json_flag()
def score_command(vocals, harmonic, percussion, scorer, as_json) -> None:
    """Score one combination of three stems as they are, and explain the score.

    The stems are read (any rate, mono or stereo), cut to the shortest,
    loudness-normalised and mixed. The explanation: key distance of the
    harmonic stem from the vocal (semitones), tempo ratio (vocal / percussion),
    downbeat phase of the percussion against the vocal's bars, and
    AutoMashUpper's harmonic, rhythmic and spectral-balance terms.

    The vocal's bars are found from the vocal alone, which is hard: given
    the right beats, the bar phase is right for 45 % of validation vocals
    (chance 25 %; benchmarks/vocal_bar_phase.py); with the vocal's own beats,
    the phase of a song's own stems comes out within 0.1 bar of 0 for 30 %
    (benchmarks/vocal_phase_hint.py). Read the downbeat phase as a hint.

    \b
    Example:
      collage mashup score vocals.wav harmonic.wav drums.wav --json
    """
    from collage.mashup.combination import score_combination

    r = score_combination(vocals, harmonic, percussion, scorer=scorer)
    if as_json:
        emit_json(r)
        return
    a = r["analysis"]
    click.echo(f"mashability ({scorer}): {r['score']:.3f}")
    click.echo(f"  key distance    {r['key_distance']:+d} semitones (vocals {a['vocals']['key']}, harmonic {a['harmonic']['key']})")
    click.echo(f"  tempo ratio     {r['tempo_ratio']:.3f} (vocals {a['vocals']['tempo']} BPM, percussion {a['percussion']['tempo']} BPM)")
    click.echo(f"  downbeat phase  {r['downbeat_phase']:+.3f} bars (a hint: the vocal's bars are estimated from the vocal alone)")
    click.echo(f"  AutoMashUpper   {r['automashupper']:.3f} = harmonic {r['harmonic']:.3f}, rhythmic {r['rhythmic']:.3f}, "
               f"spectral {r['spectral']:.3f}")


@mashup_group.command("retrieve", context_settings=CONTEXT)
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--vocal", required=True, type=click.Path(dir_okay=False), help="The vocal stem (may come from outside the DB).")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True, help="How many accompaniments to list.")
@click.option("--scorer", type=click.Choice(SCORERS), default="premixnet", show_default=True, help="How to rank.")
@click.option("--shortlist", type=click.IntRange(min=1), default=None,
              help="Pairs of stem segments the first stage passes to the scorer: every pair of the best harmonic and "
                   "percussion segments, up to this many (the fast PreMixNet then also tries more partners around "
                   "its best pairs). [default: 1600 with the fast PreMixNet, 30 when every candidate is rendered]")
@click.option("--candidates", "n_candidates", type=click.IntRange(min=1), default=None,
              help="Instead of the first stage, draw this many matched pairs at random (for comparison).")
@click.option("--seconds", type=click.FloatRange(5, 60), default=25.0, show_default=True, help="Mashup length scored.")
@click.option("--reindex", is_flag=True, help="Recompute every stem segment's stored vector first.")
@click.option("--exact", is_flag=True,
              help="Score the shortlist by rendering every candidate (Rubber Band) instead of from stored features "
                   "(premixnet; about 0.4 s per candidate instead of milliseconds).")
@click.option("--explain", is_flag=True, help="Add AutoMashUpper's terms to each result (renders them; --json).")
@click.option("--rerank", type=click.IntRange(min=0), default=0, show_default=True,
              help="Render the best K of the fast ranking and order them by the exact score (about 1 s each).")
@click.option("--per-song-pair", type=click.IntRange(min=0), default=0, show_default=True,
              help="At most N results from one harmonic song with one percussion song (the next best fill the list); "
                   "0: no limit.")
@seed_option("Seed for drawing candidates (--candidates).")
@json_flag()
def retrieve_command(db, vocal, top, scorer, shortlist, n_candidates, seconds, reindex, exact, explain, rerank,
                     per_song_pair, seed, as_json) -> None:
    """The best accompaniments (harmonic + percussion stems of the DB) for a vocal.

    The vocal is analysed (key, tempo, downbeats). Every harmonic stem segment
    within ±3 semitones and every percussion segment with a tempo ratio in
    [0.8, 1.2] is scored by the first stage: its prior (PreMixNet's mean score
    for it with reference vocals and partners of the DB, stored once per song)
    and a learned score from its stored vector and the vocal's (distilled from
    PreMixNet); with PreMixNet the harmonic segments are then scored by its own
    harmony branch (the vocal's chroma profile against theirs), and
    the best few hundred of each side by PreMixNet itself, each paired with the
    other side's best few, from SourceNet outputs stored per song. Every
    pair of the best segments of each side, up to --shortlist pairs, is ranked
    by the scorer; --rerank K renders the best K and orders them by the exact
    score. PreMixNet scores them from features stored
    per song and pitch shift (DB.features/), the stretch applied to the
    features; --exact renders every candidate instead. A DB built without
    --features gets every song's features, segment priors and SourceNet shares
    on first use, and
    one built before the vectors gets them too (it must be writable).

    \b
    Example:
      collage mashup retrieve songs.db --vocal my_acapella.wav --top 5
      collage mashup retrieve songs.db --vocal my_acapella.wav --top 10 --shortlist 400
      collage mashup retrieve songs.db --vocal my_acapella.wav --top 5 --rerank 3
      collage mashup retrieve songs.db --vocal my_acapella.wav --top 10 --per-song-pair 1
    """
    from collage.mashup.retrieval import retrieve

    res = retrieve(db, vocal, top=top, scorer=scorer, shortlist=shortlist, candidates=n_candidates, seconds=seconds,
                   seed=seed, reindex=reindex, second_stage="exact" if exact else "fast", explain=explain,
                   rerank=rerank, per_song_pair=per_song_pair)
    if as_json:
        emit_json(res)
        return
    if not res["results"]:
        click.echo(f"no accompaniment in {db} is within ±3 semitones of {res['key']} and 0.8-1.2x {res['tempo']:.1f} BPM")
        return
    found = (f"{res['scored']} shortlisted from {res['searched']} stem segments" if res["mode"] == "two-stage"
             else f"{res['scored']} drawn at random")
    click.echo(f"vocal {vocal}: {res['key']}, {res['tempo']:.1f} BPM; top {len(res['results'])} of {found}, "
               f"scored by {scorer}")
    click.echo(f"{'rank':>4}  {'score':>6}  {'harmonic':<20} {'shift':>5}  {'percussion':<20} {'stretch':>7}")
    for r in res["results"]:
        click.echo(f"{r['rank']:>4}  {r['score']:>6.3f}  {r['harmonic']:<20} {r['harmonic_semitones']:>+5d}  "
                   f"{r['percussion']:<20} {r['percussion_ratio']:>7.3f}")


@mashup_group.command("generate", context_settings=CONTEXT)
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("-o", "--out-dir", "out_dir", default=None, metavar="DIR",
              help="Folder for the WAVs and JSON sidecars (required).")
@renamed("--out", "-o/--out-dir", "out_dir")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True, help="How many mashups to render.")
@click.option("--scorer", type=click.Choice(SCORERS), default="premixnet", show_default=True, help="How to rank.")
@click.option("--per-vocal", type=click.IntRange(min=1), default=5, show_default=True,
              help="Matched candidates drawn for each vocal of the DB.")
@click.option("--max-vocals", type=click.IntRange(min=1), default=None, help="Only the first N vocals (a quick run).")
@click.option("--seconds", type=click.FloatRange(5, 60), default=25.0, show_default=True, help="Mashup length.")
@seed_option("Seed for drawing candidates.")
def generate_command(db, out_dir, top, scorer, per_vocal, max_vocals, seconds, seed) -> None:
    """Generate matched mashups from a MashupDB, rank them and render the best to WAV.

    Each output ``NN_<vocal>+<harmonic>+<percussion>.wav`` (the loudness-normalised
    mix, Rubber Band high quality) has a ``.json`` sidecar with its sources,
    pitch shift, stretch ratios, start times and scores. Files are written
    atomically.

    \b
    Example:
      collage mashup generate songs.db -o mashups/ --top 10 --scorer premixnet
    """
    from collage.mashup.retrieval import generate_mashups

    if out_dir is None:
        raise click.UsageError("Missing option '-o' / '--out-dir'.")
    written = generate_mashups(db, out_dir, top=top, scorer=scorer, per_vocal=per_vocal, max_vocals=max_vocals,
                               seconds=seconds, seed=seed)
    if not written:
        click.echo(f"no matched mashup can be made from {db}: no two songs within ±3 semitones and 0.8-1.2x tempo")
        return
    for meta in written:
        click.echo(f"{meta['rank']:>3}  {meta['score']:.3f}  {meta['wav']}")

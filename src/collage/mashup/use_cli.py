"""``collage mashup score | retrieve | generate``, ``collage train mashability`` and ``collage eval mashup``.

The mashup commands attach themselves to :data:`collage.mashup.commands.mashup_group`;
the train and eval commands are registered by :mod:`collage.cli`.
"""

from __future__ import annotations

import json
import logging

import click
import numpy as np

from collage.mashup.commands import CONTEXT, mashup_group

log = logging.getLogger(__name__)

SCORER_CHOICE = click.Choice(["premixnet", "postmixnet", "automashupper"])


# -- one combination -------------------------------------------------------------------------
def _stem_analysis(path: str, fn, *args, **kw):
    """Run an analysis step on one stem, naming the file when it fails."""
    from collage.audio.analyze import AnalysisError

    try:
        return fn(*args, **kw)
    except AnalysisError as e:
        raise AnalysisError(f"{path}: {e}") from None


def _fold_octave(ratio: float) -> float:
    """A tempo ratio moved by factors of 2 into [1/sqrt 2, sqrt 2] (a lone vocal's beat is often tracked at double or half tempo)."""
    r = float(ratio)
    while r > 2**0.5:
        r /= 2
    while r < 2**-0.5:
        r *= 2
    return r


def downbeat_phase(vocal_downbeats, vocal_tempo: float, percussion_downbeats) -> float:
    """Offset of the percussion's first downbeat from the vocal's bar grid, in bars, in [-0.5, 0.5)
    (4/4 bars of the vocal's tempo; times in seconds)."""
    bar = 4 * 60.0 / float(vocal_tempo)
    return float(((percussion_downbeats[0] - vocal_downbeats[0]) / bar + 0.5) % 1.0 - 0.5)


def score_combination(vocals: str, harmonic: str, percussion: str, *, scorer: str = "premixnet") -> dict:
    """Score three stem files as they are (no shifting): the learned score and its explanation.

    Returns ``{"score", "scorer", "key_distance", "tempo_ratio", "downbeat_phase",
    "harmonic", "rhythmic", "spectral", "automashupper", "analysis": {role: ...}}``;
    ``tempo_ratio`` is vocal tempo / percussion tempo folded by octaves (``tempo_ratio_raw``
    unfolded), ``downbeat_phase`` the offset of
    the percussion's first downbeat from the vocal's bar grid in bars, in [-0.5, 0.5).
    """
    from collage.audio.mix import normalize_loudness
    from collage.io.audio import load_audio
    from collage.mashup.generate import key_distance
    from collage.mashup.score import FEATURE_SR, automashupper_score, learned_scores, load_scorer, mashup_features

    sr = FEATURE_SR
    paths = {"vocals": vocals, "harmonic": harmonic, "percussion": percussion}
    audio = {r: load_audio(p, sr=sr) for r, p in paths.items()}
    n = min(len(y) for y in audio.values())
    audio = {r: normalize_loudness(y[:n], sr) for r, y in audio.items()}
    from collage.audio.analyze import analyze, estimate_downbeats, estimate_key, key_name, track_beats

    v, h, p = audio["vocals"], audio["harmonic"], audio["percussion"]
    key_v = key_name(*_stem_analysis(vocals, estimate_key, v, sr)[:2])
    key_h = key_name(*_stem_analysis(harmonic, estimate_key, h, sr)[:2])
    tempo_v, beats_v = _stem_analysis(vocals, track_beats, v, sr)
    tempo_p, beats_p = _stem_analysis(percussion, track_beats, None, sr, percussion=p)
    down_v = estimate_downbeats(beats_v, sr, harmonic=v)
    down_p = estimate_downbeats(beats_p, sr, percussion=p)
    joint = _stem_analysis(vocals, analyze, sr=sr, vocals=v, harmonic=h, percussion=p)  # the mashup's beat grid
    phase = downbeat_phase(down_v if len(down_v) else beats_v, tempo_v, down_p if len(down_p) else beats_p)
    amu = automashupper_score(audio, sr, beats=joint.beats, downbeats=joint.downbeats)
    stems = dict(audio)
    from collage.audio.mix import mix_stems

    stems["mix"] = mix_stems([audio[r] for r in ("vocals", "harmonic", "percussion")], sr, stem_lufs=None)
    if scorer == "automashupper":
        score = amu["score"]
    else:
        score = float(learned_scores([mashup_features(stems, sr)], load_scorer(scorer))[0])
    return {
        "score": round(float(score), 4),
        "scorer": scorer,
        "key_distance": key_distance(key_v, key_h),
        "tempo_ratio": round(_fold_octave(tempo_v / tempo_p), 4),
        "tempo_ratio_raw": round(float(tempo_v / tempo_p), 4),
        "downbeat_phase": round(phase, 4),
        "harmonic": round(amu["harmonic"], 4),
        "rhythmic": round(amu["rhythmic"], 4),
        "spectral": round(amu["spectral"], 4),
        "automashupper": round(amu["score"], 4),
        "seconds": round(n / sr, 2),
        "analysis": {
            "vocals": {"key": key_v, "tempo": round(float(tempo_v), 2)},
            "harmonic": {"key": key_h},
            "percussion": {"tempo": round(float(tempo_p), 2)},
            "mashup": {"tempo": round(float(joint.tempo), 2), "beats": len(joint.beats)},
        },
    }


@mashup_group.command("score", context_settings=CONTEXT)
@click.argument("vocals", type=click.Path(dir_okay=True))
@click.argument("harmonic", type=click.Path(dir_okay=True))
@click.argument("percussion", type=click.Path(dir_okay=True))
@click.option("--scorer", type=SCORER_CHOICE, default="premixnet", show_default=True,
              help="premixnet / postmixnet (shipped; the variant better on val) or automashupper (rule-based).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
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
    r = score_combination(vocals, harmonic, percussion, scorer=scorer)
    if as_json:
        click.echo(json.dumps(r, indent=2))
        return
    a = r["analysis"]
    click.echo(f"mashability ({scorer}): {r['score']:.3f}")
    click.echo(f"  key distance    {r['key_distance']:+d} semitones (vocals {a['vocals']['key']}, harmonic {a['harmonic']['key']})")
    click.echo(f"  tempo ratio     {r['tempo_ratio']:.3f} (vocals {a['vocals']['tempo']} BPM, percussion {a['percussion']['tempo']} BPM)")
    click.echo(f"  downbeat phase  {r['downbeat_phase']:+.3f} bars (a hint: the vocal's bars are estimated from the vocal alone)")
    click.echo(f"  AutoMashUpper   {r['automashupper']:.3f} = harmonic {r['harmonic']:.3f}, rhythmic {r['rhythmic']:.3f}, "
               f"spectral {r['spectral']:.3f}")


# -- training and evaluation (registered in collage.cli) -------------------------------------
@click.command("mashability", context_settings=CONTEXT)
@click.option("--model", type=click.Choice(["premix", "postmix"]), required=True, help="PreMixNet or PostMixNet.")
@click.option("--lsro/--no-lsro", default=True, show_default=True, help="Use the matched mashups as unlabeled (0.5, 0.5).")
@click.option("--steps", type=click.IntRange(min=1), default=3000, show_default=True, help="Optimizer steps.")
@click.option("--batch-size", type=click.IntRange(min=2), default=16, show_default=True, help="Mashups per step.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True, help="Adam learning rate.")
@click.option("--max-seconds", type=click.FloatRange(min=1), default=None, help="Stop after this long (resumable).")
@click.option("--run-dir", default=None, help="Run folder (default runs/mashability_<model>[_lsro]).")
@click.option("--data-root", default="runs/mashup", show_default=True, help="Rendered stems and cached features.")
@click.option("--out", "out_dir", default=None, help="Where to write the weights (default: the package).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed.")
@click.option("--train-songs", type=click.IntRange(min=3), default=200, show_default=True,
              help="Train songs rendered (4/4 POP909 train songs, a fixed shuffle).")
@click.option("--val-songs", type=click.IntRange(min=3), default=40, show_default=True, help="Val songs rendered.")
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
def train_mashability_command(model, lsro, steps, batch_size, lr, max_seconds, run_dir, data_root, out_dir, seed,
                              train_songs, val_songs, windows, augment_db, timbres, val_timbre, input_norm,
                              harmony, rank_weight, ema) -> None:
    """Train PreMixNet or PostMixNet on POP909 mashups (original +, unmatched -, matched unlabeled).

    The first run renders POP909 train/val clips to stems (FluidSynth) and caches
    the mashups' mel spectrograms under --data-root; later runs reuse them.

    \b
    Example:
      collage train mashability --model premix --lsro --max-seconds 900
    """
    from collage.models.mashability import MashabilityConfig, PostMixConfig
    from collage.pretrained import weights_dir
    from collage.training.mashability import train_mashability, weights_name

    run_dir = run_dir or f"runs/{weights_name(model, lsro)}"
    config = (MashabilityConfig if model == "premix" else PostMixConfig)(input_norm=input_norm, harmony=harmony)
    scores = train_mashability(model, lsro=lsro, run_dir=run_dir, out_dir=out_dir or weights_dir(), steps=steps,
                               batch=batch_size, lr=lr, max_seconds=max_seconds, seed=seed, root=data_root,
                               train_songs=train_songs, val_songs=val_songs, windows=windows, augment_db=augment_db,
                               timbres=tuple(t for t in timbres.split(",") if t), val_timbre=val_timbre, config=config,
                               rank_weight=rank_weight, ema=ema)
    click.echo(f"{weights_name(model, lsro)}: val accuracy {scores['val_accuracy']:.4f}, "
               f"val avg rank {scores['val_avg_rank']:.3f} (best step {scores['best_step']} of {scores['steps']})")


@click.command("key-model", context_settings=CONTEXT)
@click.option("--data-root", default="runs/mashup", show_default=True, help="Rendered stems (rendered here if missing).")
@click.option("--train-songs", type=click.IntRange(min=10), default=694, show_default=True, help="Train songs used.")
@click.option("--out", default=None, help="Where to write the model (default: the package's audio/key_model.json).")
@click.option("--hidden", default="0,16,32", show_default=True,
              help="Forms to cross-validate, comma-separated hidden sizes (0 = linear profile per octave).")
def train_key_model_command(data_root, train_songs, out, hidden) -> None:
    """Fit the learned per-octave key profile ('pop909-octaves') on rendered POP909 train clips.

    Chooses the form (linear, or a small network: --hidden) and its L2 weight by 5-fold
    cross-validation over songs, and prints the table.

    \b
    Example:
      collage train key-model --train-songs 694
    """
    from pathlib import Path

    from collage.training.key_model import train_key_model

    import collage.audio.analyze as an

    out = out or str(Path(an.__file__).with_name(an.OCTAVE_PROFILES["pop909-octaves"]))
    try:
        hiddens = tuple(int(h) for h in hidden.split(","))
    except ValueError:
        hiddens = ()
    if not hiddens or min(hiddens) < 0:
        raise click.BadParameter(f"given {hidden!r}; expected comma-separated integers >= 0", param_hint="--hidden")
    card = train_key_model(out=out, root=data_root, n_songs=train_songs, hiddens=hiddens)
    for inp, row in card["scores"]["cross_validated_mirex"].items():
        for k, v in row.items():
            click.echo(f"{inp:9s} {k:34s} {v:.4f}")
    for form, v in card["scores"]["best_mean_over_inputs"].items():
        click.echo(f"best mean over inputs, {form}: {v:.4f}")
    click.echo(f"wrote {out} ({card['fit']['form']}, weight decay {card['fit']['weight_decay']:g})")


@click.command("mashup", context_settings=CONTEXT)
@click.option("--seeds", "n_seeds", type=click.IntRange(min=1), default=60, show_default=True,
              help="Test vocal seeds (60: every song of the protocol's pool, the headline since session 17).")
@click.option("--val-seeds", type=click.IntRange(min=1), default=40, show_default=True,
              help="Validation seeds (AutoMashUpper's threshold).")
@click.option("--seconds", type=click.FloatRange(25, 60), default=25.0, show_default=True, help="Mashup length.")
@click.option("--data-root", default="runs/mashup", show_default=True, help="Rendered stems and cached features.")
@click.option("--analysis", "analysis_mode", type=click.Choice(["committed", "run", "skip"]), default="committed",
              show_default=True, help="The analysis block: reuse docs/results/mashup_analysis.json, run it on the 86 duple-metre "
              "test songs (about 50 min), or leave it empty.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--md", "md_path", default=None, help="Also write a Markdown table here.")
@click.option("--out-json", default=None, help="Also write the JSON here.")
def eval_mashup_command(n_seeds, val_seeds, seconds, data_root, analysis_mode, as_json, md_path, out_json) -> None:
    """The paper's protocol on held-out POP909 songs (held-out soundfont): accuracy and average rank.

    \b
    Example:
      collage eval mashup --json
    """
    from collage.io.atomic import atomic_path
    from collage.mashup.evaluate import evaluate, load_analysis, to_markdown

    analysis = load_analysis(analysis_mode)
    res = evaluate(n_seeds=n_seeds, n_val_seeds=val_seeds, seconds=seconds, root=data_root, analysis=analysis)
    text = json.dumps(res, indent=2)
    if out_json:
        with atomic_path(out_json) as tmp:
            tmp.write_text(text + "\n")
    if md_path:
        with atomic_path(md_path) as tmp:
            tmp.write_text(to_markdown(res))
    if as_json:
        click.echo(text)
        return
    for name, m in res["models"].items():
        click.echo(f"{name:<16} accuracy {m['accuracy']:.4f}  avg rank {m['avg_rank']:.4f}")


# -- the MashupDB: retrieval and generation --------------------------------------------------
def _rank(seed, pool, *, scorer: str, model, n_candidates: int, seconds: float, rng, vocal_start_s: float | None = None,
          high_quality: bool = False):
    """Matched candidates for ``seed``'s vocal from ``pool``, scored: ``[(score, Candidate, terms)]`` best first;
    ``terms`` are AutoMashUpper's (``automashupper``, ``harmonic``, ``rhythmic``, ``spectral``) for the explanation."""
    from collage.mashup.generate import matched_candidates, render_candidate, vocal_starts
    from collage.mashup.score import automashupper_score, learned_scores, mashup_features

    if vocal_start_s is None:
        starts = vocal_starts(seed, seconds)
        vocal_start_s = float(starts[0])
    cands = matched_candidates(seed, pool, n=n_candidates, seconds=seconds, vocal_start_s=vocal_start_s, rng=rng)
    clips = {c.id: c for c in pool} | {seed.id: seed}
    beats = seed.beats[(seed.beats >= vocal_start_s) & (seed.beats < vocal_start_s + seconds)] - vocal_start_s
    downs = seed.downbeats[(seed.downbeats >= vocal_start_s) & (seed.downbeats < vocal_start_s + seconds)] - vocal_start_s
    out = []
    feats = []
    for cand in cands:
        audio = render_candidate(cand, clips, high_quality=high_quality)
        terms = automashupper_score(audio, seed.sr, beats=beats, downbeats=downs) if len(beats) >= 2 else {}
        terms.pop("pairs", None)
        if "score" in terms:
            terms["automashupper"] = terms.pop("score")
        out.append([terms.get("automashupper", float("nan")), cand, terms])
        if scorer != "automashupper":
            feats.append(mashup_features(audio, seed.sr))
    if scorer != "automashupper" and out:
        for row, s in zip(out, learned_scores(feats, model)):
            row[0] = float(s)
    return sorted(out, key=lambda r: -np.nan_to_num(r[0], nan=-np.inf))


def _scorer_model(scorer: str):
    from collage.mashup.score import load_scorer

    return None if scorer == "automashupper" else load_scorer(scorer)


def _check_output_dir(out_dir: str):
    from pathlib import Path

    from collage.errors import OutputError

    p = Path(out_dir)
    if p.exists() and not p.is_dir():
        raise OutputError(p, "exists and is not a folder")
    return p


@mashup_group.command("retrieve", context_settings=CONTEXT)
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--vocal", required=True, type=click.Path(dir_okay=False), help="The vocal stem (may come from outside the DB).")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True, help="How many accompaniments to list.")
@click.option("--scorer", type=SCORER_CHOICE, default="premixnet", show_default=True, help="How to rank.")
@click.option("--candidates", "n_candidates", type=click.IntRange(min=1), default=30, show_default=True,
              help="Matched (harmonic, percussion) pairs to score.")
@click.option("--seconds", type=click.FloatRange(5, 60), default=25.0, show_default=True, help="Mashup length scored.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed for drawing candidates.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def retrieve_command(db, vocal, top, scorer, n_candidates, seconds, seed, as_json) -> None:
    """The best accompaniments (harmonic + percussion stems of the DB) for a vocal.

    The vocal is analysed (key, tempo, downbeats); harmonic stems within ±3
    semitones and percussion stems with a tempo ratio in [0.8, 1.2] are
    shifted and stretched to it, mixed, and ranked by the scorer.

    \b
    Example:
      collage mashup retrieve songs.db --vocal my_acapella.wav --top 5
    """
    from collage.mashup.dbclips import clips_from_db, vocal_clip

    pool = clips_from_db(db)
    seed_clip = vocal_clip(vocal, sr=pool[0].sr)
    rows = _rank(seed_clip, pool, scorer=scorer, model=_scorer_model(scorer), n_candidates=n_candidates,
                 seconds=min(seconds, seed_clip.duration), rng=np.random.default_rng(seed))
    res = [{"rank": i + 1, "score": round(s, 4), "harmonic": c.harmonic, "percussion": c.percussion,
            "harmonic_semitones": c.harmonic_semitones, "harmonic_ratio": round(c.harmonic_ratio, 4),
            "percussion_ratio": round(c.percussion_ratio, 4),
            "terms": {k: round(v, 4) for k, v in t.items() if k in ("automashupper", "harmonic", "rhythmic", "spectral")}}
           for i, (s, c, t) in enumerate(rows[:top])]
    if as_json:
        click.echo(json.dumps({"vocal": vocal, "key": seed_clip.key, "tempo": round(seed_clip.tempo, 2), "results": res}, indent=2))
        return
    if not res:
        click.echo(f"no accompaniment in {db} is within ±3 semitones of {seed_clip.key} and 0.8-1.2x {seed_clip.tempo:.1f} BPM")
        return
    click.echo(f"vocal {vocal}: {seed_clip.key}, {seed_clip.tempo:.1f} BPM; top {len(res)} of {len(rows)} scored by {scorer}")
    click.echo(f"{'rank':>4}  {'score':>6}  {'harmonic':<20} {'shift':>5}  {'percussion':<20} {'stretch':>7}")
    for r in res:
        click.echo(f"{r['rank']:>4}  {r['score']:>6.3f}  {r['harmonic']:<20} {r['harmonic_semitones']:>+5d}  "
                   f"{r['percussion']:<20} {r['percussion_ratio']:>7.3f}")


@mashup_group.command("generate", context_settings=CONTEXT)
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "out_dir", required=True, help="Folder for the WAVs and JSON sidecars.")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True, help="How many mashups to render.")
@click.option("--scorer", type=SCORER_CHOICE, default="premixnet", show_default=True, help="How to rank.")
@click.option("--per-vocal", type=click.IntRange(min=1), default=5, show_default=True,
              help="Matched candidates drawn for each vocal of the DB.")
@click.option("--max-vocals", type=click.IntRange(min=1), default=None, help="Only the first N vocals (a quick run).")
@click.option("--seconds", type=click.FloatRange(5, 60), default=25.0, show_default=True, help="Mashup length.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed for drawing candidates.")
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
    from collage.io.atomic import atomic_path
    from collage.io.audio import write_wav
    from collage.mashup.dbclips import clips_from_db
    from collage.mashup.generate import render_candidate

    out = _check_output_dir(out_dir)
    pool = clips_from_db(db)
    model = _scorer_model(scorer)
    rng = np.random.default_rng(seed)
    rows = []
    seeds = pool[:max_vocals] if max_vocals else pool
    with click.progressbar(seeds, label="scoring candidates", file=click.get_text_stream("stderr")) as bar:
        for clip in bar:
            rows += _rank(clip, pool, scorer=scorer, model=model, n_candidates=per_vocal,
                          seconds=min(seconds, clip.duration), rng=rng)
    rows.sort(key=lambda r: -np.nan_to_num(r[0], nan=-np.inf))
    if not rows:
        click.echo(f"no matched mashup can be made from {db}: no two songs within ±3 semitones and 0.8-1.2x tempo")
        return
    clips = {c.id: c for c in pool}
    for i, (score, cand, terms) in enumerate(rows[:top]):
        audio = render_candidate(cand, clips, high_quality=True)
        stem = f"{i + 1:02d}_{cand.vocal}+{cand.harmonic}+{cand.percussion}"
        meta = {"rank": i + 1, "score": round(float(score), 4), "scorer": scorer, **cand.to_dict(),
                "terms": {k: round(float(v), 4) for k, v in terms.items()},
                "keys": {r: clips[getattr(cand, r)].key for r in ("vocal", "harmonic")},
                "tempi": {r: clips[getattr(cand, r)].tempo for r in ("vocal", "harmonic", "percussion")}, "sr": pool[0].sr}
        write_wav(out / f"{stem}.wav", audio["mix"], pool[0].sr)
        with atomic_path(out / f"{stem}.json") as tmp:
            tmp.write_text(json.dumps(meta, indent=2) + "\n")
        click.echo(f"{i + 1:>3}  {score:.3f}  {out / stem}.wav")

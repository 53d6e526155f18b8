"""Every ``collage eval ...`` command: the measurements behind docs/results/.

This is one of the two CLI modules that import :mod:`collage.evaluation` (the
other, :mod:`collage.cli.train`, imports :mod:`collage.training`).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from collage.cli.common import (
    CONTEXT,
    data_root_option,
    emit_json,
    json_flag,
    markdown_option,
    out_json_option,
    parse_int_list,
    pop909_option,
    renamed,
    seed_option,
    tiny_option,
    write_text,
)

__all__ = ["eval_group"]

# Evaluation imports sit inside the commands: they pull torch and librosa, and `collage --help` must stay fast.


@click.group("eval", context_settings=CONTEXT)
def eval_group() -> None:
    """Evaluate models and methods on the test splits (results as in docs/results/).

    \b
    Example:
      collage eval fusion --json --pairs 5000
    """


@eval_group.command("fusion", context_settings=CONTEXT)
@click.option("--pairs", "n_pairs", type=click.IntRange(min=2), default=5000, show_default=True,
              help="Human and mismatched test pairs each (beats grid).")
@seed_option("Seed of the pair draws.")
@click.option("--control-pairs", type=click.IntRange(min=1), default=200, show_default=True,
              help="Pairs used for the control sweep.")
@click.option("--gradient-steps", type=click.IntRange(min=0), default=None,
              help="Steps of the critic-gradient baseline (default: its shipped default).")
@click.option("--gradient-sweep", default=None, metavar="N,N,...",
              help="Also score the critic-gradient baseline at these step counts (on up to 500 pairs).")
@json_flag()
@markdown_option()
@tiny_option("Tiny random models (a smoke test of the evaluation itself).")
def eval_fusion_command(n_pairs, seed, control_pairs, gradient_steps, gradient_sweep, as_json, md_path, tiny) -> None:
    """Evaluate vertical fusion: CollageNet vs the baselines on POP909 test pairs.

    A human pair is the melody and accompaniment of one 8-beat segment of a
    song; a mismatched pair takes them from different songs. Rows: omega_h
    (the human pairs as they are), omega_dh (the mismatched pairs as they
    are), rule, gradient (critic-gradient baseline), collagenet (the shipped
    actor) and collagenet_lam<W> (the actors trained at other distance
    weights W), each fusing the mismatched pairs. Columns: the harmony judge's
    rate, latent distances, harmony statistics and single-track differences
    from the test set; plus the control sweep (Spearman correlation of each
    aspect's latent distance and note similarity with its control).

    \b
    Example:
      collage eval fusion --json --pairs 5000 --seed 0
    """
    from collage.evaluation.fusion import ROW_KEYS, evaluate_fusion, to_markdown

    sweep = parse_int_list("--gradient-sweep", gradient_sweep) if gradient_sweep else None
    res = evaluate_fusion(n_pairs=n_pairs, seed=seed, control_pairs=control_pairs, gradient_steps=gradient_steps,
                          gradient_sweep=sweep, tiny=tiny)
    if md_path:
        write_text(md_path, to_markdown(res))
    if as_json:
        emit_json(res)
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


@eval_group.command("join", context_settings=CONTEXT, short_help="Evaluate phrase joining (the join actor vs latent random search).")
@click.option("--pairs", "n_pairs", type=click.IntRange(min=2), default=500, show_default=True,
              help="Test pairs from different songs, and prior pairs, each.")
@seed_option("Seed of the draws.")
@click.option("--out-dir", default=None, metavar="DIR",
              help="Also write DIR/join.md, DIR/join.json and DIR/join.png (e.g. docs/results).")
@json_flag("Print the result as JSON, an object with 'points' (stdout holds the JSON alone).")
@tiny_option("Tiny random models on a few test songs (a smoke test).")
def eval_join_command(n_pairs, seed, out_dir, as_json, tiny) -> None:
    """Evaluate phrase joining: coherency and transition statistics against latent distance.

    Compares the join actor (method ours, at each shipped distance weight and
    number of iterations) with the latent random search baseline (method lp).

    \b
    Example:
      collage eval join --json --out-dir docs/results
    """
    from collage.evaluation.join import evaluate_join, plot_join, to_markdown

    res = evaluate_join(n_pairs=n_pairs, seed=seed, tiny=tiny)
    if out_dir:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        plot_join(res, out / "join.png")
        write_text(out / "join.json", json.dumps(res, indent=1))
        cmd = " ".join(["collage"] + sys.argv[1:]) if sys.argv and "collage" in sys.argv[0] else None
        write_text(out / "join.md", to_markdown(res, figure="join.png", command=cmd,
                                                machine=f"{os.cpu_count()}-core shared CPU machine, "
                                                        f"{res['config']['threads']} PyTorch thread(s)"))
    if as_json:
        emit_json(res, indent=1)
        return
    for p in res["points"]:
        click.echo(f"{p['inputs']:6} {p['method']:4} lam={p['lam']} k/steps={p['iterations']:5} budget={p['budget']} "
                   f"z={p['z_distance']:.3f} coherency={p['coherency']:.3f} seconds={p['seconds']:.4f}")
    for name, g in res["goal"].items():
        click.echo(f"{name}: latent-search points beaten {g['lp_points_beaten']}/{g['lp_points']}, compute ratio "
                   f"{g['compute_ratio']}, goal {'holds' if g['holds'] else 'missed'}")


@eval_group.command("arrange", context_settings=CONTEXT)
@click.option("--dataset", type=click.Choice(["bach", "pop909"]), default="bach", show_default=True, help="Test data.")
@click.option("--split", type=click.Choice(["test", "val"]), default="test", show_default=True, help="Split.")
@click.option("--models", default=None, metavar="NAME,...",
              help="Only these (zone, zone_oracle, closest, closest_mono, lstm, ..., lstm_hints, ...).")
@click.option("--max-pieces", type=click.IntRange(min=1), default=None, help="Only the first N pieces (a quick look).")
@pop909_option()
@json_flag()
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
    from collage.arrangement.evaluate import PAPER_BACH, evaluate_arrange, record_scores

    names = None if models is None else [m.strip() for m in models.split(",") if m.strip()]
    if record and max_pieces is not None:
        raise click.UsageError("--record takes the whole split; leave out --max-pieces")
    result = evaluate_arrange(dataset, split=split, models=names, max_pieces=max_pieces, pop909_root=pop909)
    if record:
        record_scores(result, command=f"collage eval arrange --dataset {dataset} --split {split}")
    if as_json:
        emit_json(result)
        return
    paper = PAPER_BACH if dataset == "bach" else {}
    click.echo(f"{dataset} {split} split: {result['n_pieces']} pieces, {result['n_notes']} notes (accuracy %)")
    for name, acc in result["accuracy"].items():
        ref = paper.get(name)
        click.echo(f"  {name:<24} {acc:6.2f}" + (f"   paper {ref:6.2f}   Δ {acc - ref:+.2f}" if ref is not None else ""))


@eval_group.command("mashup", context_settings=CONTEXT)
@click.option("--seeds", "n_seeds", type=click.IntRange(min=1), default=60, show_default=True,
              help="Test vocal seeds (60: every song of the protocol's pool).")
@click.option("--val-seeds", type=click.IntRange(min=1), default=40, show_default=True,
              help="Validation seeds (to choose AutoMashUpper's threshold).")
@click.option("--seconds", type=click.FloatRange(25, 60), default=25.0, show_default=True, help="Mashup length.")
@data_root_option()
@click.option("--analysis", "analysis_mode", type=click.Choice(["committed", "run", "skip"]), default="committed",
              show_default=True, help="The analysis block: reuse docs/results/mashup_analysis.json, run it on the 86 "
              "duple-metre test songs (about 50 min), or leave it empty.")
@json_flag()
@markdown_option()
@renamed("--md", "--markdown", "md_path", type=str)
@out_json_option()
def eval_mashup_command(n_seeds, val_seeds, seconds, data_root, analysis_mode, as_json, md_path, out_json) -> None:
    """The mashup paper's protocol on held-out POP909 songs (held-out soundfont): accuracy and average rank.

    For each test vocal, its original accompaniment is ranked among matched
    mashups made with other songs' stems; accuracy and the original's average
    rank are reported for each learned model and AutoMashUpper. The first run
    renders the test songs to stems under --data-root.

    \b
    Example:
      collage eval mashup --json --analysis skip --seeds 60 > mashup.json
    """
    from collage.evaluation.mashup import evaluate, load_analysis, to_markdown

    analysis = load_analysis(analysis_mode)
    res = evaluate(n_seeds=n_seeds, n_val_seeds=val_seeds, seconds=seconds, root=data_root, analysis=analysis)
    text = json.dumps(res, indent=2)
    if out_json:
        write_text(out_json, text + "\n")
    if md_path:
        write_text(md_path, to_markdown(res))
    if as_json:
        click.echo(text)
        return
    for name, m in res["models"].items():
        click.echo(f"{name:<16} accuracy {m['accuracy']:.4f}  avg rank {m['avg_rank']:.4f}")


@eval_group.command("generate", context_settings=CONTEXT,
                    short_help="Evaluate the Multitrack Music Transformer (statistics, copying, continuation, perplexity).")
@click.option("--model", "model_path", default="mmt", show_default=True, metavar="NAME|PATH", help="MMT weights.")
@click.option("--samples", "n_samples", type=click.IntRange(min=2), default=100, show_default=True,
              help="Unconditioned samples.")
@click.option("--beats", type=click.IntRange(min=4, max=1024), default=64, show_default=True, help="Beats per sample.")
@click.option("--continuations", "n_continuations", type=click.IntRange(min=1), default=100, show_default=True,
              help="Test pieces continued (first 16 beats as the prompt, 32 generated).")
@seed_option("Seed of the samples and draws.")
@click.option("--out-dir", default=None, metavar="DIR",
              help="Also write DIR/generate.md and DIR/generate.json (e.g. docs/results).")
@click.option("--listen-dir", default=None, metavar="DIR",
              help="Also write 10 samples per mode as MIDI + PNG there (e.g. docs/listening/generate).")
@json_flag("Print the result as JSON (stdout holds the JSON alone).")
def eval_generate_command(model_path, n_samples, beats, n_continuations, seed, out_dir, listen_dir, as_json) -> None:
    """Evaluate the Multitrack Music Transformer on the test split of its data.

    The paper's objective table (pitch class entropy, scale and groove
    consistency of unconditioned samples against test excerpts), the longest
    run each sample shares verbatim with a training piece, continuations of
    test pieces, and the test perplexity per field. One CPU thread.

    \b
    Example:
      collage eval generate --out-dir docs/results --listen-dir docs/listening/generate
    """
    from collage.evaluation.generate import evaluate_generate, to_markdown, write_listening
    from collage.pretrained import load_pretrained

    model = load_pretrained(model_path)
    res = evaluate_generate(model, n_samples=n_samples, beats=beats, n_continuations=n_continuations, seed=seed,
                            progress=sys.stderr.isatty())
    res.pop("_samples", None)
    card = getattr(model, "card", {})
    res["model"] = {"weights": str(model_path), "sha256": card.get("sha256"), "n_parameters": card.get("n_parameters"),
                    "config": card.get("config"), "steps_run": card.get("training", {}).get("steps_run")}
    if out_dir:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "generate.json", json.dumps(res, indent=1))
        cmd = " ".join(["collage"] + sys.argv[1:]) if sys.argv and "collage" in sys.argv[0] else None
        head = ["# Generation with the Multitrack Music Transformer: evaluation", ""]
        if cmd:
            head += [f"Command: `{cmd}` ({os.cpu_count()}-core shared CPU machine, one PyTorch thread).", ""]
        m = res["model"]
        head += [f"Weights: `{m['weights']}` ({m['n_parameters']} parameters, {m['steps_run']} training steps, "
                 f"sha256 {str(m['sha256'])[:12]}...).", ""]
        write_text(out / "generate.md", "\n".join(head) + "\n" + to_markdown(res) + "\n")
    if listen_dir:
        write_listening(model, listen_dir, seed=seed)
    if as_json:
        emit_json(res, indent=1)
        return
    click.echo(to_markdown(res))

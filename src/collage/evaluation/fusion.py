"""The vertical-fusion evaluation: CollageNet's Tables 1-3 and a control sweep, on POP909 test pairs.

:func:`evaluate_fusion` draws ``n_pairs`` Ωh and ``n_pairs`` Ωdh pairs of the
test split on the beats grid (the grid the models were trained on; the same
draws as ``collage stats --grid beats``), fuses the Ωdh pairs with each
method and scores every row:

- ``harmony_rate``: share of pairs the harmony judge rates above 0.5 (Table 1);
- ``rho_mel``, ``rho_acc``: CollageNet's latent distance between the output's
  and the input's latents (the actor's latents for ``collagenet*``, the
  climbed latents for ``gradient``, the re-encoded melody for ``rule``; its
  accompaniment is unchanged, so ``rho_acc`` = 0); None for ``omega_h`` and ``omega_dh``;
- ``pch_kld``, ``pch_oa``, ``oh_kld``, ``oh_oa``, ``re_3state``, ``re_onset``:
  mean harmony statistics between the two output tracks (Table 2);
- ``mel_pc``, ``mel_pi``, ``mel_ioi``, ``acc_pc``, ``acc_ioi``: as in the paper's
  Table 3, the difference of the row's mean from the test set's (``omega_h``'s)
  mean (so 0 for ``omega_h``); the means themselves are under ``means``.

Rows: ``omega_h``, ``omega_dh``, ``rule``, ``gradient``, ``collagenet`` (the
shipped default actor) and ``collagenet_lam<λ>`` for each other actor.

Controls (:func:`control_sweep`): each control swept over ``levels`` with the
others at 0.5; per pair the Spearman correlation between the level and (a)
the aspect's latent distance to the input (should be near -1) and (b) an
aspect similarity of the decoded notes to the input (should be positive):
pitch: pitch-class histogram overlap with the input melody; rhythm: onset F1
against the input melody; chord: share of beats whose estimated chord equals
the input accompaniment's; texture: cosine similarity of the per-step onset
counts of the accompaniments. Averages over pairs (pairs where a sequence is
constant are left out and counted).
"""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings

import numpy as np
import torch
from scipy.stats import spearmanr

from collage.datasets.pop909 import disharmonic_pairs, harmonic_pairs, pop909_segments
from collage.errors import ParameterError
from collage.fusion.gradient import DEFAULT_STEPS, decode_latents, encode_pairs, gradient_fuse_latents
from collage.fusion.rule import rule_fuse_batch
from collage.metrics.harmony import KEYS, evaluate_batch, overlapping_area, pitch_class_histogram
from collage.models.latent_critic import latent_distance
from collage.pretrained import load_card, load_pretrained, shipped_names, tiny_model
from collage.represent.chord import estimate_chord_labels
from collage.training.latents import segment_chords

__all__ = ["evaluate_fusion", "control_sweep", "ROW_KEYS", "SINGLE_TRACK_KEYS", "load_fusion_models",
           "aspect_similarity", "CONTROL_LEVELS"]

log = logging.getLogger(__name__)

SINGLE_TRACK_KEYS = ("mel_pc", "mel_pi", "mel_ioi", "acc_pc", "acc_ioi")
ROW_KEYS = ("harmony_rate", "rho_mel", "rho_acc", "pch_kld", "pch_oa", "oh_kld", "oh_oa", "re_3state", "re_onset",
            *SINGLE_TRACK_KEYS)
CONTROL_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _mean(x) -> float | None:
    x = np.asarray(x, np.float64)
    x = x[~np.isnan(x)]
    return float(x.mean()) if len(x) else None


def load_fusion_models(*, tiny: bool = False) -> dict:
    """The models the evaluation needs: shipped ones, or tiny random ones (``tiny``) for tests.

    Returns:
        ``{"mel_vae", "acc_vae", "judge", "critic" (pre-trained), "actors": {row: actor}, "lams": {row: λ}}``.
    """
    if tiny:
        torch.manual_seed(0)
        actors = {"collagenet": tiny_model("latent_actor", seed=1), "collagenet_lam0.1": tiny_model("latent_actor", seed=2)}
        default = actors["collagenet"]  # applied twice, as the shipped actors are applied several times
        default.config = dataclasses.replace(default.config, iterations=2)
        return {"mel_vae": tiny_model("melody_vae"), "acc_vae": tiny_model("accomp_vae"),
                "judge": tiny_model("harmony_judge"), "critic": tiny_model("latent_critic"), "actors": actors,
                "lams": {"collagenet": 1.0, "collagenet_lam0.1": 0.1}}
    names = shipped_names()
    actors, lams = {"collagenet": load_pretrained("latent_actor")}, {"collagenet": load_card("latent_actor").get("lam")}
    for n in names:
        if n.startswith("latent_actor_lam"):
            row = "collagenet_lam" + n[len("latent_actor_lam"):]
            actors[row] = load_pretrained(n)
            lams[row] = load_card(n).get("lam")
    return {"mel_vae": load_pretrained("melody_vae"), "acc_vae": load_pretrained("accomp_vae"),
            "judge": load_pretrained("harmony_judge"), "critic": load_pretrained("latent_critic_pretrained"),
            "actors": actors, "lams": lams}


# -- aspect similarities on notes ------------------------------------------------------
def _onset_f1(a: np.ndarray, b: np.ndarray) -> float:
    sa, sb = set(np.asarray(a)[:, 0].tolist()), set(np.asarray(b)[:, 0].tolist())
    if not sa and not sb:
        return 1.0
    tp = len(sa & sb)
    return 2.0 * tp / (len(sa) + len(sb))


def _pch_overlap(a: np.ndarray, b: np.ndarray) -> float:
    if not len(a) or not len(b):
        return float(len(a) == len(b))
    return float(overlapping_area(pitch_class_histogram(a), pitch_class_histogram(b)))


def _chord_agreement(a: np.ndarray, b: np.ndarray, n_beats: int = 8) -> float:
    la = estimate_chord_labels(a, n_beats) if len(a) else ["N"] * n_beats
    lb = estimate_chord_labels(b, n_beats) if len(b) else ["N"] * n_beats
    return float(np.mean([x == y for x, y in zip(la, lb)]))


def _onset_cosine(a: np.ndarray, b: np.ndarray, n_steps: int = 32) -> float:
    ha = np.bincount(np.asarray(a)[:, 0], minlength=n_steps)[:n_steps].astype(float) if len(a) else np.zeros(n_steps)
    hb = np.bincount(np.asarray(b)[:, 0], minlength=n_steps)[:n_steps].astype(float) if len(b) else np.zeros(n_steps)
    na, nb = np.linalg.norm(ha), np.linalg.norm(hb)
    if na == 0 or nb == 0:
        return float(na == nb)
    return float(ha @ hb / (na * nb))


def aspect_similarity(aspect: str, out_notes: np.ndarray, in_notes: np.ndarray) -> float:
    """Similarity in [0, 1] of one aspect between output and input step notes (32 steps).

    ``pitch``/``rhythm`` compare melodies (PC-histogram overlap / onset F1),
    ``chord``/``texture`` accompaniments (per-beat estimated chord agreement /
    cosine of per-step onset counts).
    """
    out_notes = np.asarray(out_notes, np.int64).reshape(-1, 4)
    in_notes = np.asarray(in_notes, np.int64).reshape(-1, 4)
    fns = {"pitch": _pch_overlap, "rhythm": _onset_f1, "chord": _chord_agreement, "texture": _onset_cosine}
    if aspect not in fns:
        raise ParameterError(f"given aspect={aspect!r}; expected one of {', '.join(fns)}")
    return fns[aspect](out_notes, in_notes)


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> tuple[float | None, int]:
    """Mean Spearman correlation of ``x`` (levels) with each row of ``y`` (P, L); constant rows skipped."""
    vals = []
    for row in y:
        if np.all(row == row[0]) or np.any(~np.isfinite(row)):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = spearmanr(x, row).statistic
        if np.isfinite(r):
            vals.append(r)
    return (float(np.mean(vals)) if vals else None), len(y) - len(vals)


@torch.no_grad()
def control_sweep(actor, mel_vae, acc_vae, z_mel: torch.Tensor, z_acc: torch.Tensor, in_mels, in_accs, *,
                  levels=CONTROL_LEVELS) -> dict:
    """Sweep each control over ``levels`` (others 0.5) for P pairs of input latents.

    Returns:
        ``{aspect: {"spearman_latent", "spearman_similarity", "latent_distance" (per level means),
        "similarity" (per level means), "skipped_latent", "skipped_similarity"}}``.
    """
    names = list(actor.aspect_slices())
    slices = actor.aspect_slices()
    p, lv = len(z_mel), np.asarray(levels, np.float64)
    out = {}
    for k, name in enumerate(names):
        dist = np.zeros((p, len(lv)))
        sim = np.zeros((p, len(lv)))
        for li, level in enumerate(lv):
            c = torch.full((p, len(names)), 0.5)
            c[:, k] = float(level)
            ha, hb = actor.transform(z_mel, z_acc, c)  # the actor's default iterations
            d = actor.distances(ha, hb, z_mel, z_acc)
            dist[:, li] = d[name].numpy()
            mels, accs = decode_latents(mel_vae, acc_vae, ha, hb)
            which = slices[name][0]
            outs, ins = (mels, in_mels) if which == 0 else (accs, in_accs)
            sim[:, li] = [aspect_similarity(name, o, i) for o, i in zip(outs, ins)]
        sl, nl = _spearman_rows(lv, dist)
        ss, ns = _spearman_rows(lv, sim)
        out[name] = {"spearman_latent": sl, "spearman_similarity": ss,
                     "latent_distance": [float(v) for v in dist.mean(0)], "similarity": [float(v) for v in sim.mean(0)],
                     "levels": [float(v) for v in lv], "skipped_latent": nl, "skipped_similarity": ns}
    return out


def _rho(actor, ha, hb, za, zb) -> tuple[float, float]:
    d = actor.distances(ha, hb, za, zb)
    return float(d["z_a"].mean()), float(d["z_b"].mean())


def _stats_row(judge, mels, accs, n_steps: int) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vals = evaluate_batch(mels, accs, n_steps=n_steps)
    row = {"harmony_rate": float((judge.score(mels, accs) > 0.5).mean()) if len(mels) else None}
    row.update({k: _mean(vals[k]) for k in KEYS})
    return row


def evaluate_fusion(*, n_pairs: int = 5000, seed: int = 0, models: dict | None = None, tiny: bool = False,
                    gradient_steps: int | None = None, control_pairs: int = 200, levels=CONTROL_LEVELS,
                    gradient_sweep=None, split: str = "test") -> dict:
    """Run the whole evaluation; returns the JSON-able dict ``{"rows", "controls", "meta", ...}``.

    Args:
        n_pairs: Ωh and Ωdh pairs each (capped at the split's segments).
        seed: seeds the pair draws (as ``collage stats``) and the rule baseline.
        models: from :func:`load_fusion_models` (loaded when None; ``tiny`` for tiny random models).
        gradient_steps: the data-driven baseline's steps (default :data:`collage.fusion.gradient.DEFAULT_STEPS`).
        control_pairs: Ωdh pairs (the first ones) used for the control sweep.
        gradient_sweep: step counts at which to also score the baseline on the
            first ``min(n_pairs, 500)`` pairs (harmony rate, rho), to justify the default.
    """
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, (int, np.integer)) or n_pairs < 2:
        raise ParameterError(f"given n_pairs={n_pairs!r}; expected an integer >= 2")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"given seed={seed!r}; expected a non-negative integer")
    gradient_steps = DEFAULT_STEPS if gradient_steps is None else gradient_steps
    models = models or load_fusion_models(tiny=tiny)
    mel_vae, acc_vae, judge, critic = models["mel_vae"], models["acc_vae"], models["judge"], models["critic"]
    actors = models["actors"]
    if "collagenet" not in actors:
        raise ParameterError(f"models['actors'] has {sorted(actors)}; expected a 'collagenet' entry")
    for m in (mel_vae, acc_vae, judge, critic, *actors.values()):
        m.eval()
    ref_actor = actors["collagenet"]
    timings = {}
    t0 = time.perf_counter()
    segs = pop909_segments(split, grid="beats")
    n = min(int(n_pairs), len(segs))
    ph = harmonic_pairs(segs, n, seed)
    pd = disharmonic_pairs(segs, n, seed)
    h_m = [segs.melody(int(i)) for i in ph[:, 0]]
    h_a = [segs.accomp(int(j)) for j in ph[:, 1]]
    d_m = [segs.melody(int(i)) for i in pd[:, 0]]
    d_a = [segs.accomp(int(j)) for j in pd[:, 1]]
    chords = segment_chords(segs, pd[:, 1])  # (n, 8, 36) annotated chords of the accompaniments
    t = segs.length
    rows = {"omega_h": _stats_row(judge, h_m, h_a, t), "omega_dh": _stats_row(judge, d_m, d_a, t)}
    rows["omega_h"].update(rho_mel=None, rho_acc=None)
    rows["omega_dh"].update(rho_mel=None, rho_acc=None)
    timings["data_and_omega_rows_s"] = time.perf_counter() - t0

    # latents of the disharmonic inputs (posterior means)
    t1 = time.perf_counter()
    za, zb = encode_pairs(mel_vae, acc_vae, d_m, d_a, chords=chords)  # (n, d_a), (n, d_b)
    timings["encode_s"] = time.perf_counter() - t1

    # rule
    t1 = time.perf_counter()
    r_m = rule_fuse_batch(d_m, d_a, seed=seed)
    rows["rule"] = _stats_row(judge, r_m, d_a, t)
    zr, _ = encode_pairs(mel_vae, acc_vae, r_m, d_a, chords=chords)
    with torch.no_grad():
        rows["rule"]["rho_mel"], rows["rule"]["rho_acc"] = _rho(ref_actor, zr, zb, za, zb)
    timings["rule_s"] = time.perf_counter() - t1

    # gradient (data-driven)
    t1 = time.perf_counter()
    ga, gb = gradient_fuse_latents(za, zb, critic, steps=gradient_steps)
    g_m, g_a = decode_latents(mel_vae, acc_vae, ga, gb)
    rows["gradient"] = _stats_row(judge, g_m, g_a, t)
    with torch.no_grad():
        rows["gradient"]["rho_mel"], rows["gradient"]["rho_acc"] = _rho(ref_actor, ga, gb, za, zb)
    timings["gradient_s"] = time.perf_counter() - t1

    # collagenet rows: each actor at its default iterations; an actor applied more than once is also
    # scored after a single pass (the paper's form) as a diagnostic
    single_pass = {}
    for row, actor in actors.items():
        t1 = time.perf_counter()
        c = torch.full((n, actor.n_aspects), 0.5)
        for k in sorted({int(actor.config.iterations), 1}, reverse=True):
            ha, hb = actor.transform(za, zb, c, iterations=k)
            o_m, o_a = decode_latents(mel_vae, acc_vae, ha, hb)
            r = _stats_row(judge, o_m, o_a, t)
            with torch.no_grad():
                r["rho_mel"], r["rho_acc"] = _rho(actor, ha, hb, za, zb)
            if k == actor.config.iterations:
                rows[row] = r
            else:
                single_pass[row] = r
        timings[f"{row}_s"] = time.perf_counter() - t1

    # Table 3 reading: single-track statistics as differences from the test set (omega_h)
    ref = {k: rows["omega_h"][k] for k in SINGLE_TRACK_KEYS}
    for name, row in rows.items():
        row["means"] = {k: row[k] for k in SINGLE_TRACK_KEYS}
        for k in SINGLE_TRACK_KEYS:
            row[k] = None if row[k] is None or ref[k] is None else row[k] - ref[k]
    rows = {name: {k: row[k] for k in (*ROW_KEYS, "means")} for name, row in rows.items()}

    # controls
    t1 = time.perf_counter()
    p = min(control_pairs, n)
    controls = control_sweep(ref_actor, mel_vae, acc_vae, za[:p], zb[:p], d_m[:p], d_a[:p], levels=levels)
    timings["controls_s"] = time.perf_counter() - t1

    result = {"rows": rows, "controls": controls}

    # diagnostics: what the VAEs' round trip alone does to harmonic and disharmonic pairs (an upper bound
    # and a floor for every latent method)
    t1 = time.perf_counter()
    q = min(n, 1000)
    diag = {}
    for name, (mm, aa, ch) in {"omega_h_roundtrip": (h_m[:q], h_a[:q], segment_chords(segs, ph[:q, 1])),
                               "omega_dh_roundtrip": (d_m[:q], d_a[:q], chords[:q])}.items():
        ra, rb = encode_pairs(mel_vae, acc_vae, mm, aa, chords=ch)
        o_m, o_a = decode_latents(mel_vae, acc_vae, ra, rb)
        diag[name] = {"pairs": q, **_stats_row(judge, o_m, o_a, t)}
    for row, r in single_pass.items():
        diag[f"{row}_single_pass"] = {"pairs": n, **{k: r[k] for k in ROW_KEYS if k not in SINGLE_TRACK_KEYS}}
    result["diagnostics"] = diag
    timings["diagnostics_s"] = time.perf_counter() - t1
    if gradient_sweep:
        t1 = time.perf_counter()
        q = min(n, 500)
        sweep = {}
        for s in gradient_sweep:
            ga, gb = gradient_fuse_latents(za[:q], zb[:q], critic, steps=int(s))
            g_m, g_a = decode_latents(mel_vae, acc_vae, ga, gb)
            with torch.no_grad():
                rm, ra = _rho(ref_actor, ga, gb, za[:q], zb[:q])
                d_score = float(torch.sigmoid(critic(ga, gb)).mean())
            sweep[str(int(s))] = {"harmony_rate": float((judge.score(g_m, g_a) > 0.5).mean()), "rho_mel": rm,
                                  "rho_acc": ra, "critic": d_score}
        result["gradient_steps"] = {"pairs": q, "steps": sweep}
        timings["gradient_sweep_s"] = time.perf_counter() - t1
    timings["total_s"] = time.perf_counter() - t0
    result["meta"] = {
        "split": split, "grid": "beats", "n_pairs": n, "seed": seed, "control_pairs": p,
        "control_levels": [float(x) for x in levels], "gradient_steps": int(gradient_steps), "lams": models.get("lams"),
        "iterations": {row: int(a.config.iterations) for row, a in actors.items()},
        "harmony_keys": list(KEYS), "tiny": bool(tiny),
        "single_track": "mel_pc .. acc_ioi are differences from omega_h's means (paper Table 3); means under 'means'",
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
    }
    return result


def gradient_step_sweep(mel_vae, acc_vae, critic, judge, sigma_a, sigma_b, steps=(0, 25, 50, 100, 200, 400), *,
                        split: str = "val", n_pairs: int = 500, seed: int = 0, tolerance: float = 0.01) -> dict:
    """Choose the data-driven baseline's step count on Ωdh pairs of ``split`` (not the test split).

    For each step count: judge harmony rate of the decoded outputs, rho of
    both latents (with ``sigma_a``/``sigma_b``, the training set's mean
    posterior scales) and the critic's mean score. The choice is the
    smallest step count whose harmony rate is within ``tolerance`` of the best.

    Returns:
        ``{"split", "pairs", "steps": {n: {...}}, "chosen": n}``.
    """
    segs = pop909_segments(split, grid="beats")
    pd = disharmonic_pairs(segs, n_pairs, seed)
    d_m = [segs.melody(int(i)) for i in pd[:, 0]]
    d_a = [segs.accomp(int(j)) for j in pd[:, 1]]
    za, zb = encode_pairs(mel_vae, acc_vae, d_m, d_a, chords=segment_chords(segs, pd[:, 1]))
    sa, sb = torch.as_tensor(np.asarray(sigma_a, np.float32)), torch.as_tensor(np.asarray(sigma_b, np.float32))
    out = {}
    for s in steps:
        ga, gb = gradient_fuse_latents(za, zb, critic, steps=int(s))
        g_m, g_a = decode_latents(mel_vae, acc_vae, ga, gb)
        with torch.no_grad():
            out[int(s)] = {"harmony_rate": float((judge.score(g_m, g_a) > 0.5).mean()),
                           "rho_mel": float(latent_distance(ga, za, sa).mean()),
                           "rho_acc": float(latent_distance(gb, zb, sb).mean()),
                           "critic": float(torch.sigmoid(critic(ga, gb)).mean())}
    best = max(v["harmony_rate"] for v in out.values())
    chosen = min(s for s, v in out.items() if v["harmony_rate"] >= best - tolerance)
    return {"split": split, "pairs": int(n_pairs), "steps": out, "chosen": int(chosen)}


PAPER_TABLE1 = {"omega_dh": (0.101, None, None), "gradient": (0.617, 1.12, 1.36), "rule": (0.6727, 1.28, None),
                "collagenet_lam0.1": (0.9271, 0.92, 1.89), "collagenet_lam0.5": (0.8958, 0.69, 1.56),
                "collagenet_lam1": (0.8956, 0.66, 1.35), "collagenet_lam2": (0.8458, 0.52, 1.27)}
"""The paper's Table 1: harmony rate, rho_mel, rho_acc (its own judge, latents and test set)."""


def to_markdown(result: dict) -> str:
    """The evaluation's tables (harmony, statistics, single-track differences, controls) as Markdown."""

    def f(x, spec="{:.3f}"):
        return "–" if x is None else spec.format(x)

    rows, meta = result["rows"], result.get("meta", {})
    lams = meta.get("lams") or {}
    iters = meta.get("iterations") or {}
    out = ["| row | harmony rate | ρ(ẑ_mel, z_mel) | ρ(ẑ_acc, z_acc) | paper: rate, ρ_mel, ρ_acc |", "|---|---:|---:|---:|---|"]
    for name, r in rows.items():
        key = name
        if name.startswith("collagenet") and lams.get(name) is not None:
            key = f"collagenet_lam{lams[name]:g}"
        p = PAPER_TABLE1.get(key)
        ptxt = "–" if p is None else ", ".join(f(v, "{:.3g}") for v in p)
        notes = ([f"λ = {lams[name]:g}"] if lams.get(name) is not None else []) + (
            [f"{iters[name]} iteration(s)"] if name in iters else [])
        label = f"{name} ({', '.join(notes)})" if notes else name
        out.append(f"| {label} | {f(r['harmony_rate'], '{:.1%}')} | {f(r['rho_mel'])} | {f(r['rho_acc'])} | {ptxt} |")
    out += ["", "| row | PCH KLD ↓ | PCH OA ↑ | OH KLD ↓ | OH OA ↑ | RE 3-state ↑ | RE onset ↑ |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        out.append(f"| {name} | " + " | ".join(f(r[k]) for k in ("pch_kld", "pch_oa", "oh_kld", "oh_oa", "re_3state",
                                                                     "re_onset")) + " |")
    out += ["", "Single-track statistics: the test set's (Ωh) means, then each row's difference from them (paper Table 3).",
            "", "| row | mel PC | mel PI | mel IOI | acc PC | acc IOI |", "|---|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        vals = r["means"] if name == "omega_h" else r
        out.append(f"| {name}{' (means)' if name == 'omega_h' else ''} | "
                   + " | ".join(f(vals[k], "{:+.3f}" if name != "omega_h" else "{:.3f}") for k in SINGLE_TRACK_KEYS) + " |")
    diag = result.get("diagnostics", {})
    if diag:
        out += ["", "VAE round trip alone (encode, decode; no transformation), first pairs of each set, and each "
                    "actor after a single pass (where its default is more):", "",
                "| set | pairs | harmony rate | PCH KLD | OH KLD | RE onset |", "|---|---:|---:|---:|---:|---:|"]
        for name, r in diag.items():
            out.append(f"| {name} | {r['pairs']} | {f(r['harmony_rate'], '{:.1%}')} | {f(r['pch_kld'])} | "
                       f"{f(r['oh_kld'])} | {f(r['re_onset'])} |")
    ctl = result.get("controls", {})
    if ctl:
        out += ["", f"Controls (each swept over {meta.get('control_levels')} with the others at 0.5, "
                    f"{meta.get('control_pairs')} pairs; Spearman per pair, averaged):", "",
                "| aspect | Spearman, latent distance (target ≤ −0.9) | Spearman, note similarity (target > 0) | "
                "distance at 0 → 1 | similarity at 0 → 1 |", "|---|---:|---:|---|---|"]
        for name, c in ctl.items():
            d, s = c.get("latent_distance", []), c.get("similarity", [])
            out.append(f"| {name} | {f(c['spearman_latent'])} | {f(c['spearman_similarity'])} | "
                       f"{' → '.join(f'{v:.3f}' for v in d)} | {' → '.join(f'{v:.3f}' for v in s)} |")
    return "\n".join(out) + "\n"

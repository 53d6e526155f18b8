"""The phrase-joining evaluation (Connective Fusion, Figs. 4-5): coherency against z-distance, ours vs LP.

:func:`evaluate_join` takes ``n_pairs`` random pairs of non-overlapping
8-beat POP909 *test* segments from different songs (posterior means of the
melody VAE) and ``n_pairs`` pairs sampled from the prior, transforms them by

- ``ours``: each shipped join actor (``join_actor``, ``join_actor_lam<λ>``)
  applied ``k`` times (the iterated transformation) with a style
  ``s ~ U(0, 1)^4`` per pair;
- ``lp``: latent random search (:func:`collage.fusion.horizontal.lp_search`)
  against the pre-trained join critic for each z-distance budget, scored
  after each number of steps (one search per budget, continued);

decodes both latents to notes and scores every configuration:

- ``z_distance``: mean ``rho(z_L', z_L) + rho(z_R', z_R)`` (the actor's distance);
- ``coherency``: the mean probability that R' follows L' by the reality
  classifier ``join_judge`` (a separate model on notes; its test accuracy is
  in its card and in the report);
- ``transitions``: the Pearson correlation of the joined melodies' (L' then
  R', 64 steps) pitch-class, interval, duration and onset-position transition
  matrices with those of the real consecutive test pairs;
- ``seconds``: wall time of the latent transformation of all pairs (no
  decoding), on one CPU thread.

The inputs themselves (decoded, z-distance 0) and the real consecutive test
pairs are reported as references.
"""

from __future__ import annotations

import logging
import time

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch

from collage.datasets.pop909 import pop909_segments
from collage.errors import ParameterError
from collage.fusion.horizontal import (
    JoinModels,
    decode_tokens,
    encode_tokens,
    joint_distance,
    lp_search,
    transform_latents,
)
from collage.io.atomic import atomic_path
from collage.pretrained import find_weights, load_card, load_pretrained, shipped_names, tiny_model
from collage.represent.melody import tokens_to_notes
from collage.training.join import TINY_SONGS
from collage.training.join_data import JoinLatents, join_index, pair_index, restrict_songs, segment_tokens
from collage.training.loop import set_threads

__all__ = ["TRANSITIONS", "melody_transitions", "transition_correlations", "evaluate_join", "goal_check",
           "to_markdown", "plot_join", "ITERATIONS", "LP_STEP_COUNTS", "LP_BUDGETS"]

log = logging.getLogger(__name__)

TRANSITIONS = ("pitch_class", "interval", "duration", "onset_position")
_SIZES = {"pitch_class": 12, "interval": 25, "duration": 16, "onset_position": 16}
ITERATIONS = (1, 2, 4, 8)
LP_STEP_COUNTS = (25, 100, 400, 1000)
LP_BUDGETS = (1.0, 2.0, 4.0, 8.0, 16.0)


def melody_transitions(melodies) -> dict[str, np.ndarray]:
    """Transition counts of consecutive notes, summed over melodies.

    Args:
        melodies: ``(N_i, 4)`` step-note arrays (monophonic, sorted by onset).
    Returns:
        ``{"pitch_class": (12, 12), "interval": (25, 25) (intervals clipped to
        ±12, consecutive intervals), "duration": (16, 16) (1..16 steps),
        "onset_position": (16, 16) (onset step within the 4/4 bar)}`` float64.
    """
    out = {k: np.zeros((n, n)) for k, n in _SIZES.items()}
    for notes in melodies:
        if len(notes) < 2:
            continue
        p = notes[:, 2]
        seqs = {"pitch_class": p % 12, "duration": np.clip(notes[:, 1], 1, 16) - 1, "onset_position": notes[:, 0] % 16,
                "interval": np.clip(np.diff(p), -12, 12) + 12}
        for k, s in seqs.items():
            if len(s) >= 2:
                np.add.at(out[k], (s[:-1], s[1:]), 1.0)
    return out


def transition_correlations(counts: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> dict[str, float]:
    """Pearson correlation of each normalised transition matrix with the reference's (None where undefined)."""
    out = {}
    for k in TRANSITIONS:
        a, b = counts[k].ravel(), reference[k].ravel()
        if a.sum() == 0 or a.std() == 0 or b.std() == 0:
            out[k] = None
            continue
        out[k] = float(np.corrcoef(a / a.sum(), b / b.sum())[0, 1])
    return out


def _notes(tok_l: np.ndarray, tok_r: np.ndarray) -> list[np.ndarray]:
    return [tokens_to_notes(t) for t in np.concatenate([tok_l, tok_r], axis=1)]


def _score(vae, judge, z_l, z_r, z0_l, z0_r, sigma, reference) -> dict:
    tl, tr = decode_tokens(vae, z_l), decode_tokens(vae, z_r)
    p = judge.score(tl, tr)
    corr = transition_correlations(melody_transitions(_notes(tl, tr)), reference)
    return {"z_distance": float(joint_distance(z_l, z_r, z0_l, z0_r, sigma).mean()), "coherency": float(p.mean()),
            "coherent_share": float((p > 0.5).mean()), "transitions": corr}


def _load(tiny: bool):
    if tiny:
        m = JoinModels.tiny()
        m2 = JoinModels.tiny(seed=1)
        return {"vae": m.melody_vae, "actors": {1.0: m.actor, 0.3: m2.actor}, "critic": m.critic, "sigma": m.sigma,
                "judge": tiny_model("join_judge"), "judge_card": {}}
    actors = {}
    for n in shipped_names():
        if n == "join_actor" or n.startswith("join_actor_lam"):
            lam = float(load_card(n)["lam"])
            if lam not in actors:
                actors[lam] = load_pretrained(n)
    if not actors:
        raise ParameterError("no shipped join actors (run collage train join-actor)")
    critic_card = load_card("join_critic")
    return {"vae": load_pretrained("melody_vae"), "actors": dict(sorted(actors.items())),
            "critic": load_pretrained("join_critic"), "sigma": torch.tensor(critic_card["sigma_bar"]),
            "judge": load_pretrained(find_weights("join_judge")), "judge_card": load_card(find_weights("join_judge"))}


def evaluate_join(*, n_pairs: int = 500, seed: int = 0, iterations=ITERATIONS, lp_steps=LP_STEP_COUNTS,
                  lp_budgets=LP_BUDGETS, tiny: bool = False, progress: bool = False) -> dict:
    """Run the evaluation (see the module doc). Returns a JSON-ready dict with ``points``."""
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int) or n_pairs < 2:
        raise ParameterError(f"given n_pairs={n_pairs!r}; expected an integer >= 2")
    set_threads()
    m = _load(tiny)
    vae, judge, sigma = m["vae"], m["judge"], m["sigma"].float()
    segset = pop909_segments("test", grid="beats")
    index, right = restrict_songs(segset, *join_index(segset), TINY_SONGS if tiny else None)
    tokens = segment_tokens(segset, index)  # (K, 32)
    song_ids = np.asarray(segset.song_ids)[index]
    has = right >= 0
    reference = melody_transitions(_notes(tokens[has], tokens[right[has]]))

    lat = JoinLatents(mu=np.zeros((1, len(index), 1)), std=np.zeros((1, len(index), 1)),
                      valid=np.ones((1, len(index)), bool), shifts=(0,), song_ids=song_ids,
                      starts=np.asarray(segset.starts)[index], right=right, index=index)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    i, j = pair_index(lat, n_pairs, rng, paired=False)
    pi, pj = pair_index(lat, n_pairs, rng, paired=True)
    real_p = judge.score(tokens[pi], tokens[pj])
    unpaired_p = judge.score(tokens[i], tokens[j])
    with torch.no_grad():
        inputs = {"test": (encode_tokens(vae, tokens[i]), encode_tokens(vae, tokens[j])),
                  "prior": (torch.randn(n_pairs, vae.z_dim), torch.randn(n_pairs, vae.z_dim))}
    style = torch.from_numpy(rng.random((n_pairs, 4)).astype(np.float32))  # (B, 4)
    refs = {"real_consecutive": {"coherency": float(real_p.mean()), "coherent_share": float((real_p > 0.5).mean()),
                                 "transitions": transition_correlations(melody_transitions(
                                     _notes(tokens[pi], tokens[pj])), reference)},
            "real_unpaired": {"coherency": float(unpaired_p.mean()),
                              "coherent_share": float((unpaired_p > 0.5).mean()),
                              "transitions": transition_correlations(melody_transitions(
                                  _notes(tokens[i], tokens[j])), reference)}}
    points, inputs_scores = [], {}
    iterations = sorted(set(int(k) for k in iterations))
    for name, (z0_l, z0_r) in inputs.items():
        inputs_scores[name] = _score(vae, judge, z0_l, z0_r, z0_l, z0_r, sigma, reference)
        for lam, actor in m["actors"].items():
            z_l, z_r, spent, done = z0_l, z0_r, 0.0, 0
            for k in iterations:
                t0 = time.perf_counter()
                z_l, z_r = transform_latents(actor, z_l, z_r, style, iterations=k - done)
                spent += time.perf_counter() - t0
                done = k
                points.append({"method": "ours", "inputs": name, "lam": lam, "iterations": k, "budget": None,
                               "seconds": round(spent, 5),
                               **_score(vae, judge, z_l, z_r, z0_l, z0_r, sigma, reference)})
                if progress:
                    log.info("%s ours lam=%g k=%d: %s", name, lam, k, points[-1]["coherency"])
        for budget in lp_budgets:
            z_l, z_r, spent, done = z0_l, z0_r, 0.0, 0
            for steps in sorted(int(k) for k in lp_steps):  # one search per budget, scored as it goes
                t0 = time.perf_counter()
                z_l, z_r = lp_search(z0_l, z0_r, m["critic"], sigma=sigma, budget=float(budget), steps=steps - done,
                                     seed=seed + done, start=(z_l, z_r))
                spent += time.perf_counter() - t0
                done = steps
                points.append({"method": "lp", "inputs": name, "lam": None, "iterations": int(steps),
                               "budget": float(budget), "seconds": round(spent, 5),
                               **_score(vae, judge, z_l, z_r, z0_l, z0_r, sigma, reference)})
                if progress:
                    log.info("%s lp budget=%g steps=%d: %s", name, budget, steps, points[-1]["coherency"])
    style_effect = {}
    z0_l, z0_r = inputs["test"]
    other = torch.from_numpy(rng.random((n_pairs, 4)).astype(np.float32))
    for lam, actor in m["actors"].items():
        a_l, a_r = transform_latents(actor, z0_l, z0_r, style)
        b_l, b_r = transform_latents(actor, z0_l, z0_r, other)
        style_effect[lam] = {"between_styles": float(joint_distance(a_l, a_r, b_l, b_r, sigma).mean()),
                             "from_input": float(joint_distance(a_l, a_r, z0_l, z0_r, sigma).mean())}
    res = {"points": points, "inputs": inputs_scores, "references": refs, "style_effect": style_effect,
           "config": {"n_pairs": n_pairs, "seed": seed, "iterations": iterations, "lp_steps": list(lp_steps),
                      "lp_budgets": list(lp_budgets), "lams": list(m["actors"]), "style": "U(0,1)^4 per pair",
                      "tiny": tiny, "threads": torch.get_num_threads(),
                      "test_segments": int(len(index)), "reference_pairs": int(has.sum())},
           "judge": {"test": m["judge_card"].get("scores", {}).get("test")}}
    res["goal"] = goal_check(res)
    return res


def goal_check(res: dict) -> dict:
    """Per input set: is ours above LP at every LP z-distance, and at what compute?

    ``ours_best(z)``: the best ours coherency among ours points (and the
    inputs, z = 0) with z-distance <= z. An LP point is *beaten* if
    ``ours_best(z_LP) >= coherency_LP``. ``compute_ratio``: seconds of the
    best LP point over the seconds of the cheapest ours point at least as
    coherent (None if no ours point reaches it).
    """
    out = {}
    for name, base in res["inputs"].items():
        ours = [p for p in res["points"] if p["method"] == "ours" and p["inputs"] == name]
        lp = [p for p in res["points"] if p["method"] == "lp" and p["inputs"] == name]
        if not ours or not lp:
            continue
        cands = [(0.0, base["coherency"])] + [(p["z_distance"], p["coherency"]) for p in ours]

        def best(z):
            return max(c for zz, c in cands if zz <= z + 1e-12)

        margins = [best(p["z_distance"]) - p["coherency"] for p in lp]
        top = max(lp, key=lambda p: p["coherency"])
        good = [p for p in ours if p["coherency"] >= top["coherency"]]
        cheap = min(good, key=lambda p: p["seconds"]) if good else None
        out[name] = {
            "lp_points_beaten": int(sum(x >= 0 for x in margins)), "lp_points": len(lp),
            "worst_margin": float(min(margins)), "best_lp": {k: top[k] for k in ("budget", "iterations", "coherency",
                                                                                   "z_distance", "seconds")},
            "best_ours": {k: max(ours, key=lambda p: p["coherency"])[k] for k in
                          ("lam", "iterations", "coherency", "z_distance", "seconds")},
            "compute_ratio": None if cheap is None else float(top["seconds"] / max(cheap["seconds"], 1e-9)),
            "ours_matching_best_lp": None if cheap is None else {k: cheap[k] for k in ("lam", "iterations",
                                                                                       "coherency", "seconds")},
        }
        out[name]["holds"] = bool(out[name]["lp_points_beaten"] == len(lp) and cheap is not None
                                  and out[name]["compute_ratio"] >= 10)
    return out


def _f(x, spec="{:.3f}"):
    return "-" if x is None else spec.format(x)


def to_markdown(res: dict, *, figure: str | None = None, command: str | None = None, machine: str | None = None) -> str:
    """The report ``docs/results/join.md``."""
    c = res["config"]
    lines = ["# Phrase joining (Connective Fusion): ours vs LP", ""]
    if command:
        lines += [f"Command: `{command}`" + (f" ({machine})" if machine else ""), ""]
    lines += [f"{c['n_pairs']} random pairs of non-overlapping 8-beat POP909 test segments from different songs "
              f"(`test`) and {c['n_pairs']} pairs sampled from the prior (`prior`), seed {c['seed']}; style "
              f"{c['style']}. z-distance = rho(z_L', z_L) + rho(z_R', z_R); coherency = mean probability by the "
              "reality classifier `join_judge` (notes, trained apart); transitions = Pearson correlation of the "
              "joined melodies' (L' then R', 64 steps) transition matrices with those of "
              f"{c['reference_pairs']} real consecutive test pairs; seconds = latent transformation of all pairs, "
              f"{c['threads']} CPU thread(s).", ""]
    j = res.get("judge", {}).get("test")
    if j:
        lines += [f"Reality classifier test accuracy: {j['acc']:.3f} (consecutive {j['acc_paired']:.3f}, "
                  f"different songs {j['acc_unpaired']:.3f}; 4000 balanced test pairs).", ""]
    r = res["references"]
    lines += ["| reference | coherency | > 0.5 | pitch class | interval | duration | onset position |",
              "|---|---|---|---|---|---|---|"]
    for name, v in list(r.items()) + [(f"inputs ({k}, decoded)", v) for k, v in res["inputs"].items()]:
        t = v["transitions"]
        lines.append(f"| {name} | {_f(v['coherency'])} | {_f(v['coherent_share'])} | "
                     + " | ".join(_f(t[k]) for k in TRANSITIONS) + " |")
    lines.append("")
    if figure:
        lines += [f"![coherency and transition correlations vs z-distance]({figure})", ""]
    if res.get("style_effect"):
        lines += ["Style: z-distance between the outputs of one input pair under two random styles, beside the "
                  "outputs' distance from the input (test pairs, one transformation):", ""]
        lines += [f"- λ {lam:g}: between styles {v['between_styles']:.3f}, from the input {v['from_input']:.3f}"
                  for lam, v in res["style_effect"].items()]
        lines.append("")
    lines += ["## Goal: ours above LP at every z-distance, at >= 10x less compute than LP at its best", ""]
    for name, g in res["goal"].items():
        bl, bo = g["best_lp"], g["best_ours"]
        match = g["ours_matching_best_lp"]
        lines.append(
            f"- `{name}`: ours is at or above LP at {g['lp_points_beaten']} of {g['lp_points']} LP points "
            f"(worst margin {g['worst_margin']:+.3f}); LP at its best (budget {bl['budget']:g}, {bl['iterations']} "
            f"steps) reaches coherency {bl['coherency']:.3f} at z {bl['z_distance']:.2f} in {bl['seconds']:.3f} s; "
            f"ours at its best (λ {bo['lam']:g}, k {bo['iterations']}) {bo['coherency']:.3f} at z "
            f"{bo['z_distance']:.2f} in {bo['seconds']:.4f} s; "
            + (f"the cheapest ours point as coherent as LP's best (λ {match['lam']:g}, k {match['iterations']}) "
               f"takes {match['seconds']:.4f} s: {g['compute_ratio']:.0f}x less compute. " if match else
               "no ours point is as coherent as LP's best. ")
            + f"**Goal {'holds' if g['holds'] else 'missed'}.**")
    lines.append("")
    for name in res["inputs"]:
        lines += [f"## Points: `{name}` inputs", "",
                  "| method | λ | iterations / steps | budget | z-distance | coherency | > 0.5 | pitch class | interval "
                  "| duration | onset position | seconds |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for p in res["points"]:
            if p["inputs"] != name:
                continue
            t = p["transitions"]
            lines.append(f"| {p['method']} | {_f(p['lam'], '{:g}')} | {p['iterations']} | {_f(p['budget'], '{:g}')} | "
                         f"{p['z_distance']:.3f} | {p['coherency']:.3f} | {p['coherent_share']:.3f} | "
                         + " | ".join(_f(t[k]) for k in TRANSITIONS) + f" | {p['seconds']:.4f} |")
        lines.append("")
    return "\n".join(lines)


def plot_join(res: dict, path) -> None:
    """Coherency and the four transition correlations against z-distance, per input set (rows); PNG/SVG/PDF."""
    matplotlib.use("Agg")


    names = list(res["inputs"])
    cols = ["coherency"] + list(TRANSITIONS)
    fig, axes = plt.subplots(len(names), len(cols), figsize=(4 * len(cols), 3.4 * len(names)), squeeze=False)
    lams = sorted({p["lam"] for p in res["points"] if p["method"] == "ours"})
    budgets = sorted({p["budget"] for p in res["points"] if p["method"] == "lp"})
    cmap_o, cmap_l = plt.get_cmap("viridis"), plt.get_cmap("Reds")
    for r, name in enumerate(names):
        for c, key in enumerate(cols):
            ax = axes[r, c]

            def val(p):
                return p[key] if key == "coherency" else p["transitions"][key]

            for b_i, b in enumerate(budgets):
                pts = [p for p in res["points"] if p["method"] == "lp" and p["inputs"] == name and p["budget"] == b]
                ax.plot([p["z_distance"] for p in pts], [val(p) for p in pts], "s--", ms=3, lw=0.8,
                        color=cmap_l(0.35 + 0.6 * b_i / max(len(budgets) - 1, 1)),
                        label=f"LP budget {b:g}" if r == 0 and c == 0 else None)
            for l_i, lam in enumerate(lams):
                pts = [p for p in res["points"] if p["method"] == "ours" and p["inputs"] == name and p["lam"] == lam]
                ax.plot([p["z_distance"] for p in pts], [val(p) for p in pts], "o-", ms=4,
                        color=cmap_o(0.1 + 0.7 * l_i / max(len(lams) - 1, 1)),
                        label=f"ours λ {lam:g}" if r == 0 and c == 0 else None)
            base = res["inputs"][name]
            ax.axhline(base[key] if key == "coherency" else base["transitions"][key], color="grey", lw=0.6, ls=":")
            ax.set_title(f"{name}: {key.replace('_', ' ')}", fontsize=9)
            ax.set_xlabel("z-distance", fontsize=8)
            ax.tick_params(labelsize=7)
    fig.legend(loc="lower center", ncol=len(lams) + len(budgets), fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format=str(path).rsplit(".", 1)[-1])
    plt.close(fig)

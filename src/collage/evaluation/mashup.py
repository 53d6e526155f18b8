"""The paper's objective protocol (Huang et al., AAAI 2021, sec. 5) on held-out POP909 songs.

For each vocal seed of the POP909 test split (rendered with the held-out soundfont
MuseScore_General): one *original*, one *unmatched* and five *matched* mashups of
``seconds`` (25 s by default). Every scorer gives each mashup a score; we report

- ``accuracy``: original (positive) vs unmatched (negative) at threshold 0.5 for the
  learned models, at the threshold chosen on the validation split for AutoMashUpper
  (the accuracy-maximising one on validation originals vs unmatched);
- ``avg_rank``: the mean rank of the original among itself and the five matched
  mashups (1 = ranked first; ties count half).

The mashups use the POP909 ground-truth key, tempo and downbeats of each clip and
Rubber Band's fast mode (as the training data). The rendered test set (log-mel
features and AutoMashUpper terms) is cached in ``runs/mashup/``.

>>> report = evaluate(n_seeds=60)     # {"models": {...}, "analysis": {...}, "protocol": {...}}
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from collage.evaluation.analysis import analysis_scores
from collage.io.atomic import atomic_path
from collage.mashup.automashupper import mashability
from collage.mashup.generate import (
    matched_candidates,
    original_candidate,
    render_candidate,
    unmatched_candidate,
    vocal_starts,
)
from collage.mashup.rendered import DATA_ROOT, load_rendered_clips, render_split, render_timbre, split_songs
from collage.mashup.score import learned_scores, load_scorer, mashup_features
from collage.metrics.ranking import choose_threshold, rank_and_accuracy
from collage.pretrained import find_weights
from collage.progress import track

__all__ = ["build_protocol_set", "build_val_protocol_set", "PROTOCOL_SONGS", "evaluate", "protocol_metrics", "MODEL_KEYS",
           "load_analysis", "to_markdown"]

log = logging.getLogger(__name__)

#: report key → weights name (shipped, or training-only in the repository's weights-training/)
MODEL_KEYS = {
    "premixnet": "mashability_premixnet",
    "premixnet_lsro": "mashability_premixnet_lsro",
    "postmixnet": "mashability_postmixnet",
    "postmixnet_lsro": "mashability_postmixnet_lsro",
}


def _grid_in(clip, start: float, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    b = clip.beats[(clip.beats >= start - 1e-6) & (clip.beats < start + seconds)] - start
    d = clip.downbeats[(clip.downbeats >= start - 1e-6) & (clip.downbeats < start + seconds)] - start
    return b, d


#: songs rendered for the protocol of each split (:func:`collage.mashup.rendered.split_songs`)
#: and the length of their clips in seconds
PROTOCOL_SONGS = {"test": (60, 40.0), "val": (40, 30.0)}


def build_protocol_set(
    split: str = "test",
    *,
    n_songs: int | None = None,
    n_seeds: int = 40,
    seconds: float = 25.0,
    n_matched: int = 5,
    seed: int = 0,
    root=DATA_ROOT,
    progress: bool = True,
) -> Path:
    """Render the protocol's mashups for up to ``n_seeds`` vocal seeds; cache features and AutoMashUpper terms.

    The clips are exactly the first ``n_songs`` songs of :func:`~collage.mashup.rendered.split_songs`
    (default and clip length: :data:`PROTOCOL_SONGS`), rendered first where missing (the test split
    with the held-out soundfont), so other clips rendered under ``root`` cannot change the protocol.

    The npz holds ``x (N, 4, 64, T)`` float16, ``label (N,)`` (1 original, 0 unmatched,
    -1 matched), ``seed_index``, ``amu (N, 4)`` (score, harmonic, rhythmic, spectral),
    ``recipes`` (JSON) and ``data_hash``.
    """
    default_songs, clip_s = PROTOCOL_SONGS.get(split, (40, 30.0))
    n_songs = default_songs if n_songs is None else n_songs
    out = Path(root) / f"{split}_protocol_{n_songs}songs_{n_seeds}x{n_matched}_{seconds:g}s.npz"
    if out.exists():
        return out
    render_split(split, n_songs, root=root, seconds=clip_s)
    clips = load_rendered_clips(split, root=root, songs=split_songs(split, n_songs))
    by_id = {c.id: c for c in clips}
    rng = np.random.default_rng([seed, 7])
    order = rng.permutation(len(clips))
    xs, labels, seeds, amu, recipes = [], [], [], [], []
    n_done = 0
    if progress:
        order = track(order, f"protocol mashups ({split})")
    for i in order:
        if n_done >= n_seeds:
            break
        c = clips[int(i)]
        starts = vocal_starts(c, seconds)
        fits = starts[starts + seconds <= c.duration + 1e-6]
        if fits.size == 0:
            continue
        s = float(fits[0])
        cands = [(original_candidate(c, seconds=seconds, vocal_start_s=s), 1)]
        u = unmatched_candidate(c, clips, seconds=seconds, vocal_start_s=s, rng=rng)
        ms = matched_candidates(c, clips, n=n_matched, seconds=seconds, vocal_start_s=s, rng=rng) if n_matched else []
        if u is None or len(ms) < n_matched:
            continue
        cands += [(u, 0)] + [(m, -1) for m in ms]
        beats, downs = _grid_in(c, s, seconds)
        for cand, lab in cands:
            audio = render_candidate(cand, by_id, high_quality=False)
            xs.append(mashup_features(audio, c.sr).astype(np.float16))
            a = mashability({r: audio[r] for r in ("vocals", "harmonic", "percussion")}, c.sr, beats=beats, downbeats=downs)
            amu.append([a["score"], a["harmonic"], a["rhythmic"], a["spectral"]])
            labels.append(lab)
            seeds.append(n_done)
            recipes.append(cand.to_dict())
        n_done += 1
        if n_done % 5 == 0:
            log.info("%s protocol: %d seeds, %d mashups", split, n_done, len(xs))
        for k in list(c.stems):  # keep memory flat: reload on demand
            c.stems[k] = str(Path(root) / "stems" / split / c.id / f"{k}.wav")
    if not xs:
        raise FileNotFoundError(f"no protocol mashups could be made from {len(clips)} clips of {split!r}")
    T = min(x.shape[-1] for x in xs)
    data_hash = hashlib.sha256(json.dumps([split, sorted(by_id), n_seeds, seconds, n_matched, seed]).encode()).hexdigest()[:16]
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(
                f,
                x=np.stack([x[..., :T] for x in xs]),
                label=np.asarray(labels, np.int8),
                seed_index=np.asarray(seeds, np.int32),
                amu=np.asarray(amu, np.float32),
                recipes=np.asarray(json.dumps(recipes)),
                data_hash=np.asarray(data_hash),
            )
    log.info("%s protocol: %d seeds, %d mashups -> %s", split, n_done, len(xs), out)
    return out


def build_val_protocol_set(n_songs: int = 77, *, timbre: str = "gmbank", root=DATA_ROOT, progress: bool = True) -> Path:
    """The selection set: :func:`build_protocol_set` on the first ``n_songs`` val songs rendered
    with an extra soundfont no model was trained on (``timbre``), one seed per song, five matched."""
    troot = render_timbre("val", n_songs, timbre, seconds=PROTOCOL_SONGS["val"][1], root=root)
    return build_protocol_set("val", n_songs=n_songs, n_seeds=n_songs, n_matched=5, root=troot, progress=progress)


def protocol_metrics(model, data) -> dict:
    """:func:`rank_and_accuracy` of a learned ``model`` on a loaded protocol set (``x``, ``label``, ``seed_index``)."""
    return rank_and_accuracy(learned_scores(list(data["x"]), model), data["label"], data["seed_index"])


def _per_mode(scores, labels, recipes, threshold) -> dict:
    """Accuracy on originals vs each unmatched mode separately (a diagnostic)."""
    out = {}
    modes = np.array([r.get("unmatched_mode") or "" for r in recipes])
    pos = scores[labels == 1] >= threshold
    for mode in ("key", "tempo", "key+tempo"):
        neg = scores[(labels == 0) & (modes == mode)] < threshold
        if neg.size:
            out[mode] = {"n": int(neg.size), "negatives_correct": round(float(neg.mean()), 4)}
    out["originals_correct"] = round(float(pos.mean()), 4) if pos.size else None
    return out


def evaluate(
    *,
    n_seeds: int = 60,
    n_val_seeds: int = 40,
    seconds: float = 25.0,
    root=DATA_ROOT,
    analysis: dict | None = None,
    progress: bool = True,
) -> dict:
    """Run the protocol for the four shipped learned models and AutoMashUpper."""
    test = np.load(build_protocol_set("test", n_seeds=n_seeds, seconds=seconds, root=root, progress=progress))
    val = np.load(build_protocol_set("val", n_seeds=n_val_seeds, seconds=seconds, n_matched=0, root=root, progress=progress))
    labels, seeds = test["label"], test["seed_index"]
    recipes = json.loads(str(test["recipes"]))
    models, diagnostics = {}, {}
    for key, weights in MODEL_KEYS.items():
        model = load_scorer(find_weights(weights))  # two of the four are training-only (weights-training/)
        sc = learned_scores(list(test["x"]), model)
        models[key] = {k: round(v, 4) for k, v in rank_and_accuracy(sc, labels, seeds).items()}
        diagnostics[key] = _per_mode(sc, labels, recipes, 0.5)
    thr = choose_threshold(val["amu"][:, 0], val["label"])
    amu = test["amu"][:, 0]
    models["automashupper"] = {k: round(v, 4) for k, v in rank_and_accuracy(amu, labels, seeds, threshold=thr).items()}
    models["automashupper"]["threshold"] = round(thr, 4)
    diagnostics["automashupper"] = _per_mode(amu, labels, recipes, thr)
    return {
        "models": models,
        "analysis": analysis or {},
        "diagnostics_by_unmatched_mode": diagnostics,
        "protocol": {
            "split": "POP909 test (4/4 songs), rendered with MuseScore_General (held out)",
            "seeds": int(len(np.unique(seeds))),
            "mashups": int(len(labels)),
            "per_seed": "1 original, 1 unmatched, 5 matched",
            "seconds": seconds,
            "val_seeds_for_threshold": int(len(np.unique(val["seed_index"]))),
            "data_hash": {"test": str(test["data_hash"]), "val": str(val["data_hash"])},
        },
    }


ANALYSIS_JSON = "docs/results/mashup_analysis.json"
ANALYSIS_SONGS = 86  #: all duple-metre test songs, as in the committed JSON (``benchmarks/mashup_analysis.py --songs 86``)


def load_analysis(mode: str = "committed") -> dict:
    """The ``analysis`` block (``beat_f``; ``key_score``: the key heard in the whole song, as the
    MashupDB finds it; ``key_score_clip``: from the clip alone; ``separation_sdr``).

    ``mode``: ``"run"`` calls :func:`collage.evaluation.analysis.analysis_scores` on the
    :data:`ANALYSIS_SONGS` test songs (slow: about 50 min on 2 cores), ``"committed"`` reads its
    committed JSON (:data:`ANALYSIS_JSON`), ``"skip"`` leaves it empty."""
    if mode == "skip":
        return {}
    if mode == "run":
        res = analysis_scores(ANALYSIS_SONGS)
    else:
        p = Path(ANALYSIS_JSON)
        if not p.exists():
            log.warning("%s not found: the analysis block is left empty", p)
            return {}
        res = json.loads(p.read_text())
    res = res.get("analysis", res)
    return {k: res[k] for k in ("beat_f", "key_score", "key_score_clip", "separation_sdr") if k in res} | {"source": mode}


def to_markdown(res: dict) -> str:
    """The report's tables as Markdown."""
    rows = ["| model | accuracy (original vs unmatched) | avg rank of the original (1-6) |", "|---|---|---|"]
    for name, m in res["models"].items():
        thr = f" (threshold {m['threshold']:.3f} from val)" if "threshold" in m else ""
        rows.append(f"| {name} | {100 * m['accuracy']:.1f}%{thr} | {m['avg_rank']:.3f} |")
    diag = ["| model | originals correct | unmatched key | unmatched tempo | unmatched key+tempo |", "|---|---|---|---|---|"]
    for name, d in res.get("diagnostics_by_unmatched_mode", {}).items():
        cell = lambda k: f"{100 * d[k]['negatives_correct']:.0f}% of {d[k]['n']}" if k in d else "-"  # noqa: E731
        diag.append(f"| {name} | {100 * (d.get('originals_correct') or 0):.0f}% | {cell('key')} | {cell('tempo')} | {cell('key+tempo')} |")
    a = res.get("analysis") or {}
    an = [f"- beat F-measure: {a['beat_f']}" if "beat_f" in a else "- beat F-measure: not included",
          f"- weighted key score: {a['key_score']}" if "key_score" in a else "- weighted key score: not included"]
    if "key_score_clip" in a:
        an.append(f"- weighted key score from the clip alone (without its song): {a['key_score_clip']}")
    for b, v in (a.get("separation_sdr") or {}).items():
        an.append(f"- separation SDR ({b}): {v}")
    p = res["protocol"]
    return "\n".join([
        "| | |", "|---|---|",
        f"| test | {p['split']}: {p['seeds']} vocal seeds, {p['mashups']} mashups of {p['seconds']:g} s ({p['per_seed']}) |",
        "", *rows, "", "Accuracy by kind of negative:", "", *diag, "", "Analysis:", "", *an, "",
    ])

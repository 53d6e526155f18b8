"""Training the learned first stage of mashup retrieval: distil the fast second stage into per-segment scores.

>>> t = distillation_targets("runs/first_stage/train.db")   # every allowed pair of each query, scored
>>> card = train_first_stage("train.db", "val.db", out_dir="src/collage/weights")

The teacher is what ``collage mashup retrieve`` ranks the shortlist by: PreMixNet through
:mod:`collage.mashup.fastscore` (features stored per song, shift and stretch). A *query* is a
vocal window of a song of the MashupDB (its vocal, the song's analysed key, tempo and
downbeats) at one reading of its tempo (as found, halved, doubled: ``retrieve`` tries all
three); its candidates are every allowed pair of a harmonic and a percussion segment of the
other songs (key within ±3 semitones, tempo ratio in [0.8, 1.2], enough audio; segments of
one song starting on the same downbeat count once, as they make the same mashup). Each pair is
scored by the teacher: the exhaustive ranking.

The student (:class:`~collage.models.first_stage.FirstStageNet`) scores a pair as the sum of a
harmonic and a percussion number, each from the vocal's and the segment's vectors
(:func:`collage.mashup.firststage.pair_inputs`). The loss is listwise (ListNet): the cross
entropy between the softmax of the teacher's logits over a query's pairs, at temperature
``tau``, and the softmax of the student's scores, so the teacher's best pairs weigh most. The
measure is what retrieval needs: recall@10 of the teacher's top 10 within the student's top N.
"""

from __future__ import annotations

import datetime
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from collage.errors import InvalidInputError, ParameterError
from collage.mashup.dbclips import clips_from_db
from collage.mashup.embed import EMBED_VERSION, shortlist_pairs, vocal_embedding
from collage.mashup.fastscore import FastScorer, ensure_features
from collage.mashup.generate import Candidate, vocal_starts
from collage.mashup.index import StemIndex
from collage.mashup.retrieval import scorer_model
from collage.progress import track

__all__ = ["SHORTLISTS", "distillation_targets", "recall_at", "train_first_stage"]

#: the shortlist sizes N at which recall@10 is measured
SHORTLISTS = (10, 30, 50, 100, 200, 400, 900)
READINGS = (1.0, 0.5, 2.0)
#: the epoch kept is the one with the best mean val recall@10 at these shortlists (the val queries are small:
#: a median of a few hundred pairs, so larger shortlists hold nearly all of them)
SELECT_AT = (50, 100, 200)


def _unique_segments(index: StemIndex, role: str, idx: np.ndarray) -> np.ndarray:
    """``idx`` without a second segment of one song starting at the same time (the first kept)."""
    g, seen, keep = index.segments[role], set(), []
    for n, i in enumerate(idx):
        k = (int(g["song"][i]), float(g["start_s"][i]))
        if k not in seen:
            seen.add(k)
            keep.append(n)
    return np.asarray(keep, np.int64)


def distillation_targets(db_path: str | os.PathLike, *, windows: int = 8, seconds: float = 15.0,
                         progress: bool = False) -> dict:
    """The teacher's exhaustive scores for vocal windows of every song of a MashupDB.

    Up to ``windows`` windows of ``seconds`` per vocal, spread over the song where it sings,
    at each tempo reading. Returns ``{"vec": {role: (N, DIM)}, "songs": [names], "queries": [{"song",
    "start_s", "reading", "v" (DIM,), "h" (nh,) segment rows, "shift" (nh,), "h_ratio" (nh,), "p" (np,),
    "p_ratio" (np,), "T" (nh, np) PreMixNet probabilities, NaN for pairs of one song, "h_song", "p_song"
    (each segment's song)}]}``; queries
    with fewer than two pairs are left out.

    Raises:
        InvalidInputError: the DB cannot be read or holds no usable song.
    """
    index = StemIndex.load(db_path, priors=False)
    pool = clips_from_db(db_path)
    feats = ensure_features(db_path, pool)
    scorer = FastScorer(scorer_model("premixnet"))
    H, P = index.segments["harmonic"], index.segments["percussion"]
    queries = []
    for seed in track(pool, "scoring every pair", show=progress):
        if seed.id not in index.names:
            continue
        ex = index.names.index(seed.id)
        cache: dict = {}  # the windows of one vocal share each placed segment's SourceNet share
        secs = min(seconds, seed.duration)
        starts = vocal_starts(seed, secs)
        starts = starts[np.unique(np.linspace(0, len(starts) - 1, min(windows, len(starts))).round().astype(int))]
        for start in map(float, starts):
            v, q = vocal_embedding(seed.stem("vocals"), seed.sr, seed.downbeats, start, secs), None
            for reading in READINGS:
                tempo = seed.tempo * reading
                hi, hr, hs = index._allowed("harmonic", seed.key, tempo, secs, ex)
                pi, pr, _ = index._allowed("percussion", seed.key, tempo, secs, ex)
                kh, kp = _unique_segments(index, "harmonic", hi), _unique_segments(index, "percussion", pi)
                hi, hr, hs, pi, pr = hi[kh], hr[kh], hs[kh], pi[kp], pr[kp]
                valid = H["song"][hi][:, None] != P["song"][pi][None, :]
                ii, jj = np.nonzero(valid)
                if len(ii) < 2:
                    continue
                cands = [Candidate("matched", seed.id, index.names[H["song"][hi[i]]], index.names[P["song"][pi[j]]], secs,
                                   start, float(H["start_s"][hi[i]]), float(P["start_s"][pi[j]]),
                                   harmonic_semitones=int(hs[i]), harmonic_ratio=float(hr[i]),
                                   percussion_ratio=float(pr[j])) for i, j in zip(ii, jj)]
                q = q or scorer.vocal(seed, vocal_start_s=start, seconds=secs)
                T = np.full(valid.shape, np.nan, np.float32)
                T[ii, jj] = scorer.score(q, cands, feats, cache=cache)
                queries.append({"song": seed.id, "start_s": start, "reading": reading, "v": v, "h": hi, "shift": hs,
                                "h_ratio": hr, "p": pi, "p_ratio": pr, "T": T, "h_song": H["song"][hi],
                                "p_song": P["song"][pi]})
        seed.stems = {}  # the audio can go
    return {"vec": {r: g["vec"] for r, g in index.segments.items()}, "songs": list(index.names), "queries": queries}


def recall_at(h_scores: np.ndarray, p_scores: np.ndarray, T: np.ndarray, h_song, p_song, ns=SHORTLISTS) -> dict[int, float]:
    """Recall@10 of the teacher's best 10 pairs (by ``T``, NaN = not a pair) within the first stage's shortlist of N
    pairs (:func:`~collage.mashup.embed.shortlist_pairs` of the segment scores ``h_scores``, ``p_scores``; segments
    of songs ``h_song``, ``p_song``), for each N in ``ns``."""
    valid = ~np.isnan(T)
    k = min(10, int(valid.sum()))
    flat = np.argsort(-np.where(valid, T, -np.inf), axis=None, kind="stable")[:k]
    truth = set(zip(*(a.tolist() for a in np.unravel_index(flat, T.shape))))
    return {n: len(truth & set(shortlist_pairs(h_scores, p_scores, n, h_group=h_song, p_group=p_song))) / k for n in ns}


def _tensors(targets: dict):
    """Each query as torch tensors: harmonic and percussion inputs, teacher logits, the mask of pairs."""
    # deferred: torch (about 1 s to import) loads on first use
    import torch

    from collage.mashup.firststage import pair_inputs

    out = []
    for q in targets["queries"]:
        xh = pair_inputs(q["v"], targets["vec"]["harmonic"][q["h"]], q["shift"], q["h_ratio"])
        xp = pair_inputs(q["v"], targets["vec"]["percussion"][q["p"]], 0, q["p_ratio"])
        T = np.clip(np.nan_to_num(q["T"], nan=0.5), 1e-4, 1 - 1e-4)
        out.append((torch.from_numpy(xh), torch.from_numpy(xp), torch.from_numpy(np.log(T / (1 - T))),
                    torch.from_numpy(~np.isnan(q["T"])), q))
    return out


def _evaluate(model, data) -> dict[int, float]:
    import torch

    rs = []
    with torch.no_grad():
        for xh, xp, _, _, q in data:
            rs.append(recall_at(model("harmonic", xh).numpy(), model("percussion", xp).numpy(), q["T"], q["h_song"],
                                q["p_song"]))
    return {n: round(float(np.mean([r[n] for r in rs])), 4) for n in SHORTLISTS}


def _listnet(pred, target, mask, tau: float):
    """Cross entropy of softmax(``pred``) against softmax(``target`` / ``tau``) over the entries where ``mask``."""
    import torch

    neg = torch.tensor(-1e9)
    return -(torch.softmax(torch.where(mask, target / tau, neg), 0) * torch.log_softmax(torch.where(mask, pred, neg), 0)).sum()


def _fit(train, val, *, epochs: int, tau: float, lr: float, hidden: int, weight_decay: float, seed: int, log,
         loss: str = "segment"):
    """One query per step; returns the model (eval mode) and the per-epoch history. ``loss``: ``"segment"``, ListNet
    over each side's segments against each segment's best pair (the teacher's logit of its best partner: a segment
    matters when it makes one of the best pairs); ``"pair"``, ListNet over the pairs against the teacher's logits."""
    import torch

    from collage.mashup.firststage import N_IN
    from collage.models.first_stage import FirstStageConfig, FirstStageNet

    torch.manual_seed(seed)
    model = FirstStageNet(FirstStageConfig(n_in=N_IN, hidden=hidden))
    allx = torch.cat([t[0] for t in train] + [t[1] for t in train])
    model.input_mean.copy_(allx.mean(0))
    model.input_std.copy_(allx.std(0) + 1e-3)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(train))
    rng = np.random.default_rng(seed)
    history, best = [], (-1.0, None)
    for ep in range(epochs):
        model.train()
        total = 0.0
        for i in rng.permutation(len(train)):
            xh, xp, L, M, _ = train[i]
            fh, fp = model("harmonic", xh), model("percussion", xp)
            if loss == "pair":
                value = _listnet((fh[:, None] + fp[None, :]).ravel(), L.ravel(), M.ravel(), tau)
            else:
                pair = torch.where(M, L, torch.tensor(-1e9))
                value = _listnet(fh, pair.max(1).values, M.any(1), tau) + _listnet(fp, pair.max(0).values, M.any(0), tau)
            opt.zero_grad()
            value.backward()
            opt.step()
            sched.step()
            total += float(value.detach())
        model.eval()
        row = {"epoch": ep + 1, "loss": round(total / len(train), 4), "val_recall_at_10": _evaluate(model, val)}
        history.append(row)
        log(row)
        sel = float(np.mean([row["val_recall_at_10"][n] for n in SELECT_AT]))
        if sel > best[0]:
            best = (sel, {k: v.clone() for k, v in model.state_dict().items()}, ep + 1)
    model.load_state_dict(best[1])
    return model, history, best[2]


def train_first_stage(train_dbs, val_db: str | os.PathLike, *, out_dir: str | os.PathLike,
                      name: str = "mashup_first_stage", epochs: int = 20, tau: float = 0.5, lr: float = 3e-3,
                      hidden: int = 64, weight_decay: float = 1e-4, windows: int = 8, seconds: float = 15.0,
                      seed: int = 0, progress: bool = True, log=print) -> dict:
    """Distil the fast second stage into the first stage on ``train_dbs`` (one MashupDB or several, of POP909
    train songs), keep the epoch that ranks best on ``val_db`` (val songs) and write ``out_dir/name.pt`` +
    ``.json``; returns the card.

    Raises:
        InvalidInputError: a DB cannot be read or gives no query.
        ParameterError: an argument is out of range.
    """
    from collage.pretrained import load_card, save_pretrained

    if epochs < 1 or tau <= 0 or lr <= 0 or hidden < 1:
        raise ParameterError(f"given epochs={epochs}, tau={tau}, lr={lr}, hidden={hidden}; expected positive values")
    train_dbs = [train_dbs] if isinstance(train_dbs, (str, os.PathLike)) else list(train_dbs)
    t0 = time.time()
    sets = []
    for split, db in [("train", d) for d in train_dbs] + [("val", val_db)]:
        sets.append((split, db, distillation_targets(db, windows=windows, seconds=seconds, progress=progress)))
        if not sets[-1][2]["queries"]:
            raise InvalidInputError(db, "no vocal window has two allowed pairs: nothing to learn from")
    targets_s = time.time() - t0
    train = [t for split, _, d in sets if split == "train" for t in _tensors(d)]
    val = _tensors(sets[-1][2])
    model, history, kept = _fit(train, val, epochs=epochs, tau=tau, lr=lr, hidden=hidden, weight_decay=weight_decay,
                                seed=seed, log=log)

    def about(split: str) -> dict:
        ds = [(db, d) for s_, db, d in sets if s_ == split]
        return {"dbs": [Path(db).name for db, _ in ds], "split": f"POP909 {split} (duple metre)",
                "songs": sorted(n for _, d in ds for n in d["songs"]), "queries": sum(len(d["queries"]) for _, d in ds),
                "pairs": int(sum(int((~np.isnan(q["T"])).sum()) for _, d in ds for q in d["queries"]))}

    card = {
        "description": "The first stage of collage mashup retrieve: one MLP per role (harmonic, percussion) on the "
                       "vocal window's and the stem segment's vectors (collage.mashup.embed), distilled from the fast "
                       "second stage (PreMixNet on stored features) with a listwise loss over each side's segments "
                       "(target: a segment's best pair); a pair scores the sum.",
        "training_command": " ".join(shlex.quote(a) for a in sys.argv),
        "trained": datetime.date.today().isoformat(),
        "embed_version": EMBED_VERSION,
        "teacher": "mashability_premixnet through collage.mashup.fastscore",
        "data": {"train": about("train"), "val": about("val")},
        "queries": {"windows_per_vocal": windows, "seconds": seconds, "tempo_readings": list(READINGS)},
        "optimizer": {"epochs": epochs, "epoch_kept": kept, "kept_by": f"mean val recall@10 at N in {list(SELECT_AT)}",
                      "tau": tau, "lr": lr, "weight_decay": weight_decay, "schedule": "cosine", "seed": seed},
        "scores": {"val_recall_at_10": history[kept - 1]["val_recall_at_10"],
                   "train_recall_at_10": _evaluate(model, train),
                   "val_recall_at_10_random_segments": _random_recall(val, seed)},
        "history": history,
        "seconds": {"targets": round(targets_s, 1), "total": round(time.time() - t0, 1)},
    }
    return load_card(save_pretrained(model, name, out_dir, card=card))


def _random_recall(data, seed: int) -> dict[int, float]:
    """Recall@10 when each segment's score is drawn at random (the same shortlist rule): the floor."""
    rng = np.random.default_rng(seed)
    rs = [recall_at(rng.random(len(q["h"])), rng.random(len(q["p"])), q["T"], q["h_song"], q["p_song"])
          for *_, q in data]
    return {n: round(float(np.mean([r[n] for r in rs])), 4) for n in SHORTLISTS}

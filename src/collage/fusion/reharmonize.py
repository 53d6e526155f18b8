"""Chord-explicit re-voicing: fuse by editing the accompaniment's own notes onto chords chosen for the melody.

The "edit of the input" direction of issue 23; :func:`collage.fuse` runs it on whole pieces as
``method='revoice'`` (:func:`load_chord_stats` gives the shipped statistics, ``chord_stats.json``).
The accompaniment is read as chords plus a chord-relative texture, new chords are chosen for the
melody, and the accompaniment's own notes are re-voiced onto them:

1. **Chords of the accompaniment**: one chord per *span* (``span_steps`` steps, a beat by
   default) from its notes (:func:`collage.represent.chord.estimate_chord_labels`, limited to
   :data:`QUALITIES`); a silent span has none and is never changed.
2. **Texture**: each note is read relative to its span's chord: a chord tone by its function
   (root, third, fifth, seventh), any other note by its interval above the root.
3. **New chords**: a Viterbi pass over the spans and the 60 candidate chords (12 roots x
   :data:`QUALITIES`) maximises, per span, how well the melody's sounding pitch classes fit the
   chord (the log-ratio table of :class:`ChordStats`, per step of sounding), plus ``window_weight``
   times the same for the whole window's melody, plus ``transition_weight`` times the log
   probability of the chord change, minus the departure cost ``lambda * d(own, new)`` where
   ``d`` is the share of pitch classes the two chords do not share (0 for the same chord) and
   ``lambda = depart_weight * keep_chord / (1 - keep_chord)``: at ``keep_chord = 1`` every span
   keeps its own chord, at 0 nothing holds it.
4. **Re-voicing**: in a span whose chord changed, each note moves to the new chord's tone of the
   same function (a seventh onto a triad becomes its root), a non-chord tone keeps its interval
   above the root (``tensions='keep'``) or moves to the nearest tone of the new chord
   (``'snap'``); the new pitch is the nearest one of that pitch class to the old pitch (ties
   downward). Onsets, durations and velocities are kept; a span whose chord is unchanged keeps
   its notes exactly. Two notes that would meet on one pitch at one onset: the later-listed one
   goes up to the next tone of the chord.
5. **Melody rhythm** (optional, :func:`snap_rhythm`): melody onsets off every accompaniment onset
   move to the nearest accompaniment onset within ``reach`` steps, at most
   ``floor((1 - keep_rhythm) * n)`` of them; the note count, order and each note's end stay.
   Then **accompaniment rhythm** (optional, :func:`snap_texture`): accompaniment onsets move, a chord
   at a time and inside their beat, onto melody onsets no accompaniment note shares, at most
   ``floor((1 - keep_texture) * g)`` of its ``g`` onsets.
6. **Melody edits** (optional): a melody note on a strong step (onset a multiple of
   ``strong_steps``) whose pitch class is outside its span's chosen chord moves to the nearest
   chord tone (ties downward), longest notes first, at most ``floor((1 - keep_pitch) * n)`` of
   the ``n`` melody notes; onsets and durations are kept. Unless given, ``strong_steps`` widens
   as ``keep_pitch`` falls (:func:`strong_steps_for`): beats above 0.5, 8th notes down to 0.25,
   every step below, so that a lower ``keep_pitch`` never edits less.

:class:`ChordStats` holds the two tables, fitted by :func:`fit_chord_stats` on annotated songs
(``collage train chord-stats`` fits the shipped ones on POP909's training split). Notes are step notes ``(n, 4)`` [onset,
duration, pitch, velocity]; the window starts on a span boundary.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from collage.errors import ModelLoadingError, ParameterError
from collage.represent.checks import check_int, check_notes, check_unit_interval
from collage.represent.chord import beat_chroma, estimate_chord_labels, parse_chord

__all__ = ["QUALITIES", "TONES", "ChordStats", "reduce_label", "fit_chord_stats", "accompaniment_chords",
           "choose_chords", "revoice", "strong_steps_for", "edit_melody", "reach_for", "snap_rhythm", "texture_reach", "snap_texture",
           "reharmonize",
           "STATS_FILE", "load_chord_stats"]

QUALITIES = ("maj", "min", "7", "min7", "maj7")
"""The candidate chord qualities; a chord is ``(root, quality index)``, ``k = 12 * q + root``."""
TONES = ((0, 4, 7), (0, 3, 7), (0, 4, 7, 10), (0, 3, 7, 10), (0, 4, 7, 11))
"""Each quality's intervals above the root in function order: root, third, fifth[, seventh]."""
N_CHORDS = 12 * len(QUALITIES)
_MASKS = np.zeros((N_CHORDS, 12), dtype=bool)
for _q, _ivs in enumerate(TONES):
    for _r in range(12):
        _MASKS[12 * _q + _r, [(_r + iv) % 12 for iv in _ivs]] = True


@dataclass(frozen=True)
class ChordStats:
    """Statistics of melodies over chords.

    Attributes:
        fit: ``(len(QUALITIES), 12)`` float64, ``log P(melody interval above the root | quality) -
            log(1/12)`` per sounding step: how much a melody pitch class says for a chord.
        trans: ``(len(QUALITIES), 12, len(QUALITIES))`` float64, ``log P(next chord | chord)`` from
            one span to the next, the next chord as (root interval above the old root, quality).
    """

    fit: np.ndarray
    trans: np.ndarray

    def __post_init__(self):
        nq = len(QUALITIES)
        if np.shape(self.fit) != (nq, 12) or np.shape(self.trans) != (nq, 12, nq):
            raise ParameterError(f"given ChordStats tables of shapes {np.shape(self.fit)}, {np.shape(self.trans)}; "
                                 f"expected ({nq}, 12) and ({nq}, 12, {nq})")

    def to_json(self) -> dict:
        """``{"qualities", "fit", "trans"}`` as plain lists (what ``chord_stats.json`` stores under ``"tables"``)."""
        return {"qualities": list(QUALITIES), "fit": np.round(self.fit, 6).tolist(),
                "trans": np.round(self.trans, 6).tolist()}

    @classmethod
    def from_json(cls, tables: dict) -> "ChordStats":
        """The inverse of :meth:`to_json` (raises ParameterError on other qualities or shapes)."""
        if list(tables.get("qualities", [])) != list(QUALITIES):
            raise ParameterError(f"given chord statistics for qualities {tables.get('qualities')}; "
                                 f"expected {list(QUALITIES)}")
        return cls(np.asarray(tables["fit"], dtype=np.float64), np.asarray(tables["trans"], dtype=np.float64))

    def chord_fit(self, chroma: np.ndarray) -> np.ndarray:
        """``(..., N_CHORDS)`` fit of each candidate chord to ``(..., 12)`` chroma (steps sounding per pitch class)."""
        out = np.empty(chroma.shape[:-1] + (N_CHORDS,))
        for q in range(len(QUALITIES)):
            for r in range(12):
                out[..., 12 * q + r] = chroma @ np.roll(self.fit[q], r)
        return out

    def transition(self) -> np.ndarray:
        """``(N_CHORDS, N_CHORDS)`` log probability of each chord change (rows: from)."""
        out = np.empty((N_CHORDS, N_CHORDS))
        for q1 in range(len(QUALITIES)):
            for r1 in range(12):
                for q2 in range(len(QUALITIES)):
                    out[12 * q1 + r1, 12 * q2:12 * q2 + 12] = np.roll(self.trans[q1, :, q2], r1)
        return out


STATS_FILE = Path(__file__).with_name("chord_stats.json")
"""The shipped statistics and their card (fitted by ``collage train chord-stats`` on POP909's training split)."""


def load_chord_stats(path: str | os.PathLike | None = None) -> ChordStats:
    """The :class:`ChordStats` of a ``chord_stats.json`` card (None: the shipped :data:`STATS_FILE`, read once).

    Raises:
        ModelLoadingError: the file is missing, not JSON, or not a chord-statistics card.
    """
    return _load_stats(str(STATS_FILE if path is None else path))


@functools.lru_cache(maxsize=4)
def _load_stats(path: str) -> ChordStats:
    try:
        card = json.loads(Path(path).read_text())
        return ChordStats.from_json(card["tables"])
    except FileNotFoundError:
        raise ModelLoadingError(f"{path}: no chord statistics there (collage train chord-stats writes them)") from None
    except (OSError, ValueError, KeyError, TypeError, ParameterError) as e:
        raise ModelLoadingError(f"{path}: not a chord-statistics card ({type(e).__name__}: {e})") from None


def reduce_label(label: str) -> tuple[int, int] | None:
    """``(root, quality index)`` of a Harte label reduced to :data:`QUALITIES`, or None (no chord, or a
    chord that is none of them: diminished, augmented, suspended)."""
    c = parse_chord(label)
    if c.is_none:
        return None
    ivs = {(pc - c.root) % 12 for pc in c.chroma}
    if {4, 7} <= ivs:
        q = 2 if 10 in ivs else 4 if 11 in ivs else 0
    elif {3, 7} <= ivs:
        q = 3 if 10 in ivs else 1
    else:
        return None
    return c.root, q


def fit_chord_stats(songs: Sequence[tuple[np.ndarray, Sequence[str]]], *, steps_per_beat: int = 4,
                    beats_per_span: int = 2, smoothing: float = 1.0) -> ChordStats:
    """Fit :class:`ChordStats` on annotated songs.

    Args:
        songs: ``(melody step notes (n, 4), one chord label per beat)`` per song; step 0 is beat 0.
        steps_per_beat: steps in a beat.
        beats_per_span: the transition table counts changes between the chords at the starts of
            consecutive spans of this many beats (beats 0, b, 2b, ...).
        smoothing: added to every count.
    """
    spb = check_int(steps_per_beat, "steps_per_beat", minimum=1)
    bps = check_int(beats_per_span, "beats_per_span", minimum=1)
    nq = len(QUALITIES)
    fit = np.full((nq, 12), float(smoothing))
    trans = np.full((nq, 12, nq), float(smoothing))
    for mel, labels in songs:
        chords = [reduce_label(lab) for lab in labels]
        chroma, _ = beat_chroma(check_notes(mel, "melody", nonneg_onset=False), len(chords), steps_per_beat=spb)
        for b, ch in enumerate(chords):
            if ch is not None:
                fit[ch[1]] += np.roll(chroma[b], -ch[0])
        starts = chords[::bps]
        for a, b in zip(starts[:-1], starts[1:]):
            if a is not None and b is not None:
                trans[a[1], (b[0] - a[0]) % 12, b[1]] += 1
    fit = np.log(fit / fit.sum(axis=1, keepdims=True)) + np.log(12)
    trans = np.log(trans / trans.sum(axis=(1, 2), keepdims=True))
    return ChordStats(fit, trans)


def accompaniment_chords(acc: np.ndarray, n_spans: int, span_steps: int) -> np.ndarray:
    """``(n_spans,)`` int64 chord index (``12 * quality + root``) of each span of the accompaniment, -1 where silent."""
    labels = estimate_chord_labels(acc, n_spans, steps_per_beat=span_steps, qualities=QUALITIES)
    out = np.full(n_spans, -1, dtype=np.int64)
    for s, lab in enumerate(labels):
        if lab != "N":
            root, rest = lab.split(":")
            c = parse_chord(root + ":" + rest.split("/")[0])
            out[s] = 12 * QUALITIES.index(rest.split("/")[0]) + c.root
    return out


def _span_chroma(notes: np.ndarray, n_spans: int, span_steps: int) -> np.ndarray:
    chroma, _ = beat_chroma(notes, n_spans, steps_per_beat=span_steps)
    return chroma


def choose_chords(mel: np.ndarray, own: np.ndarray, stats: ChordStats, *, span_steps: int, keep_chord: float,
                  depart_weight: float = 4.0, transition_weight: float = 1.0,
                  window_weight: float = 0.1, context_spans: int | None = None) -> np.ndarray:
    """``(n_spans,)`` chord per span for the melody (see the module doc, step 3); ``own`` is the accompaniment's
    chords (:func:`accompaniment_chords`), and a span where it is -1 stays -1.

    ``context_spans``: the ``window_weight`` term reads the melody of the whole input (None, an 8-beat
    window) or of the ``context_spans`` spans centred on each span, shifted inward at the piece's ends
    (a whole piece; the same as None when it has at most ``context_spans`` spans)."""
    n = len(own)
    chroma = _span_chroma(mel, n, span_steps)  # (n, 12)
    if context_spans is None:
        context = np.broadcast_to(chroma.sum(axis=0), chroma.shape)
    else:
        c = check_int(context_spans, "context_spans", minimum=1)
        cum = np.vstack([np.zeros((1, 12)), np.cumsum(chroma, axis=0)])  # (n + 1, 12)
        lo = np.clip(np.arange(n) - c // 2, 0, max(n - c, 0))  # shifted inward at the ends
        hi = np.minimum(lo + c, n)
        context = cum[hi] - cum[lo]  # (n, 12): the melody of the c spans around each (all of it when n <= c)
    score = stats.chord_fit(chroma) + window_weight * stats.chord_fit(context)
    sizes = _MASKS.sum(axis=1)
    for s in range(n):
        if own[s] < 0:
            continue
        if keep_chord >= 1.0:
            score[s] = -np.inf
            score[s, own[s]] = 0.0
        else:
            shared = (_MASKS & _MASKS[own[s]]).sum(axis=1)
            dist = 1.0 - 2.0 * shared / (sizes + sizes[own[s]])
            score[s] -= depart_weight * keep_chord / (1.0 - keep_chord) * dist
    trans = transition_weight * stats.transition()
    live = np.flatnonzero(own >= 0)
    out = own.copy()
    if not len(live):
        return out
    # Viterbi over the sounding spans (a silent span breaks nothing: the chain joins across it)
    acc = score[live[0]].copy()
    back = np.zeros((len(live), N_CHORDS), dtype=np.int64)
    for t in range(1, len(live)):
        cand = acc[:, None] + trans  # (from, to)
        back[t] = cand.argmax(axis=0)
        acc = cand.max(axis=0) + score[live[t]]
    k = int(acc.argmax())
    for t in range(len(live) - 1, -1, -1):
        out[live[t]] = k
        k = int(back[t, k])
    return out


def _nearest(pitch: int, pc: int) -> int:
    """The pitch of class ``pc`` nearest to ``pitch`` (ties downward), kept in 0..127."""
    up = (pc - pitch) % 12
    p = pitch + up if up < 12 - up else pitch - (12 - up)
    return p + 12 if p < 0 else p - 12 if p > 127 else p


def _nearest_tone(pc: int, mask: np.ndarray) -> int:
    """The pitch class of ``mask`` nearest to ``pc`` (circular, ties downward)."""
    for d in range(7):
        if mask[(pc - d) % 12]:
            return (pc - d) % 12
        if mask[(pc + d) % 12]:
            return (pc + d) % 12
    return pc


def revoice(acc: np.ndarray, old: np.ndarray, new: np.ndarray, *, span_steps: int,
            tensions: str = "keep") -> np.ndarray:
    """The accompaniment's notes re-voiced from chords ``old`` onto ``new`` (one per span; module doc, step 4).

    Args:
        acc: ``(m, 4)`` step notes; a note belongs to the span of its onset.
        old, new: ``(n_spans,)`` chord indices (-1: no chord, the span is left alone).
        span_steps: steps per span.
        tensions: ``'keep'`` or ``'snap'`` (what a non-chord tone does).
    Returns:
        ``(m, 4)`` int64, the same rows in the same order, pitches changed only in changed spans.
    """
    if tensions not in ("keep", "snap"):
        raise ParameterError(f"given tensions={tensions!r}; expected 'keep' or 'snap'")
    out = np.array(acc, dtype=np.int64, copy=True)
    span = np.clip(out[:, 0] // span_steps, 0, len(old) - 1) if len(out) else np.zeros(0, dtype=np.int64)
    for s in np.flatnonzero((old != new) & (old >= 0) & (new >= 0)).tolist():
        (qo, ro), (qn, rn) = divmod(int(old[s]), 12), divmod(int(new[s]), 12)
        rows = np.flatnonzero(span == s)
        for i in rows.tolist():
            iv = int((out[i, 2] - ro) % 12)
            if iv in TONES[qo]:
                f = TONES[qo].index(iv)
                pc = (rn + (TONES[qn][f] if f < len(TONES[qn]) else 0)) % 12
            else:
                pc = (rn + iv) % 12
                if tensions == "snap":
                    pc = _nearest_tone(pc, _MASKS[int(new[s])])
            out[i, 2] = _nearest(int(out[i, 2]), pc)
        # two notes on one pitch at one onset: the later one goes up to the next chord tone
        seen: set[tuple[int, int]] = set()
        for i in rows.tolist():
            while (int(out[i, 0]), int(out[i, 2])) in seen and out[i, 2] < 127:
                p = int(out[i, 2]) + 1
                while p < 127 and not _MASKS[int(new[s]), p % 12]:
                    p += 1
                out[i, 2] = p
            seen.add((int(out[i, 0]), int(out[i, 2])))
    return out


def strong_steps_for(keep_pitch: float, steps_per_beat: int = 4) -> int:
    """The melody edits' positions for a ``keep_pitch``: every beat above 0.5, every 8th note above 0.25,
    every step below (in steps, for ``steps_per_beat`` steps a beat)."""
    if keep_pitch > 0.5:
        return steps_per_beat
    return max(steps_per_beat // 2, 1) if keep_pitch > 0.25 else 1


def edit_melody(mel: np.ndarray, chords: np.ndarray, *, span_steps: int, keep_pitch: float,
                strong_steps: int = 8) -> np.ndarray:
    """The melody with its strong-step notes outside their span's chord moved to the nearest chord tone
    (module doc, step 5); ``(n, 4)`` int64, same rows, pitches changed in at most ``floor((1 - keep_pitch) * n)``."""
    out = np.array(mel, dtype=np.int64, copy=True)
    budget = int(np.floor((1.0 - keep_pitch) * len(out) + 1e-9))
    if not budget:
        return out
    span = np.clip(out[:, 0] // span_steps, 0, len(chords) - 1)
    ch = chords[span]
    clash = (out[:, 0] % strong_steps == 0) & (ch >= 0)
    clash &= ~_MASKS[np.maximum(ch, 0), out[:, 2] % 12]
    order = np.flatnonzero(clash)
    order = order[np.argsort(-out[order, 1], kind="stable")][:budget]
    for i in order.tolist():
        pc = _nearest_tone(int(out[i, 2] % 12), _MASKS[int(ch[i])])
        out[i, 2] = _nearest(int(out[i, 2]), pc)
    return out


def reach_for(keep_rhythm: float, steps_per_beat: int = 4) -> int:
    """How far (steps) :func:`snap_rhythm` may move a melody onset for a ``keep_rhythm``: nothing from 0.5 up
    (the melody's rhythm is kept), a 16th down to 0.25, an 8th below, a beat at 0 (for ``steps_per_beat`` 4),
    so that a lower ``keep_rhythm`` never moves less."""
    if keep_rhythm >= 0.5:
        return 0
    if keep_rhythm >= 0.25:
        return max(steps_per_beat // 4, 1)
    return max(steps_per_beat // 2, 1) if keep_rhythm > 0 else steps_per_beat


def texture_reach(keep_texture: float, steps_per_beat: int = 4) -> int:
    """How far (steps) :func:`snap_texture` may move an accompaniment onset for a ``keep_texture``: nothing at
    1, then a quarter of a beat more for each quarter of the range below it (a 16th from 0.75, an 8th from
    0.5, a dotted 8th from 0.25, a beat below, for ``steps_per_beat`` 4), so that a lower ``keep_texture``
    never moves less."""
    if keep_texture >= 1.0:
        return 0
    quarter = 4 - min(int(keep_texture * 4), 3)  # 1 from 0.75, 2 from 0.5, 3 from 0.25, 4 below
    return max(round(quarter * steps_per_beat / 4), 1)


def snap_texture(acc: np.ndarray, mel: np.ndarray, *, keep_texture: float, span_steps: int = 4,
                 reach: int | None = None) -> np.ndarray:
    """The accompaniment with onsets moved onto melody onsets that no accompaniment note shares.

    The notes starting together at one step move as one (a chord stays a chord) to the nearest such melody
    onset within ``reach`` steps (None: :func:`texture_reach`) inside the same span of ``span_steps`` (so
    each note stays on the chord it was voiced for), if no other accompaniment onset lies between and no
    melody note starts at the step it leaves; nearest first (then earlier), at most
    ``floor((1 - keep_texture) * g)`` of the ``g`` onsets. Each moved note keeps its end (a later move
    never passes it); a note of the same pitch sounding at the new onset is cut there. The note count,
    pitches and velocities stay: the rhythm locks in with the melody's.

    Args:
        acc: ``(m, 4)`` accompaniment step notes (any row order; it is kept).
        mel: ``(n, 4)`` melody step notes.
        keep_texture: in [0, 1]; 1 moves nothing.
        span_steps: the chord span (a beat).
        reach: the largest move (steps).
    Returns:
        ``(m, 4)`` int64: the same notes in the same row order.
    """
    acc = np.array(acc, dtype=np.int64, copy=True)
    groups = np.unique(acc[:, 0]) if len(acc) else np.zeros(0, np.int64)  # sorted accompaniment onsets
    reach = texture_reach(keep_texture, span_steps) if reach is None else check_int(reach, "reach", minimum=0)
    if not reach or not len(mel) or not len(acc):
        return acc
    m_on = np.unique(np.asarray(mel)[:, 0])
    free = np.setdiff1d(m_on, groups)  # melody onsets with no accompaniment onset (sorted)
    order = np.argsort(acc[:, 0], kind="stable")
    first = np.searchsorted(acc[order, 0], groups)
    group_end = np.minimum.reduceat((acc[:, 0] + acc[:, 1])[order], first)  # each onset's earliest note end
    k = np.flatnonzero(~np.isin(groups, m_on))  # an onset the melody shares is already locked in
    a = groups[k]
    lo = np.where(k > 0, groups[np.maximum(k - 1, 0)], -1)  # the neighbouring accompaniment onsets
    hi = np.where(k + 1 < len(groups), groups[np.minimum(k + 1, len(groups) - 1)], np.iinfo(np.int64).max)
    # the nearest free melody onset on each side (a farther one breaks the same bound, further away)
    j = np.searchsorted(free, a)
    left = free[np.maximum(j - 1, 0)] if len(free) else a
    right = free[np.minimum(j, len(free) - 1)] if len(free) else a
    ok_left = (j > 0) & (a - left <= reach) & (left > lo)
    ok_right = (j < len(free)) & (right - a <= reach) & (right < hi) & (right < group_end[k])
    take_left = ok_left & (~ok_right | (a - left <= right - a))  # nearest, ties earlier
    t = np.where(take_left, left, right)
    sel = ok_left | ok_right
    moves = [(abs(int(y) - int(x)), int(x), int(y)) for x, y in zip(a[sel], t[sel])]  # (distance, from, to onset)
    budget = int(np.ceil((1.0 - keep_texture) * len(moves) - 1e-9))
    taken: set[int] = set()
    done = 0
    for _, a, t in sorted(moves):
        if done >= budget:
            break
        if t in taken:  # another onset already moved there
            continue
        rows = acc[:, 0] == a
        end = acc[rows, 0] + acc[rows, 1]
        acc[rows, 0], acc[rows, 1] = t, end - t
        for p in np.unique(acc[rows, 2]).tolist():  # a note of the same pitch sounding at t is cut there
            cut = (acc[:, 2] == p) & (acc[:, 0] < t) & (acc[:, 0] + acc[:, 1] > t)
            acc[cut, 1] = t - acc[cut, 0]
        taken.add(t)
        done += 1
    return acc


def snap_rhythm(mel: np.ndarray, acc: np.ndarray, *, keep_rhythm: float, reach: int | None = None) -> np.ndarray:
    """The melody with onsets moved onto the accompaniment's (module doc, step 5).

    A melody note whose onset no accompaniment note shares moves to the nearest accompaniment onset within
    ``reach`` steps (None: :func:`reach_for`; ties earlier) that stays strictly between its neighbours'
    onsets and before its own end; nearest moves first (then earlier notes), at most
    ``floor((1 - keep_rhythm) * n)`` of the ``n`` notes. Each moved note keeps its end (so its duration
    changes by the move); a note moved earlier cuts the one before it where they would overlap.

    Args:
        mel: ``(n, 4)`` monophonic step notes (any row order; it is kept).
        acc: ``(m, 4)`` step notes.
        keep_rhythm: in [0, 1]; 1 moves nothing.
        reach: the largest move (steps).
    Returns:
        ``(n, 4)`` int64: the same notes in the same order (pitch and velocity unchanged).
    """
    mel = np.array(mel, dtype=np.int64, copy=True)
    budget = int(np.floor((1.0 - keep_rhythm) * len(mel) + 1e-9))
    reach = reach_for(keep_rhythm) if reach is None else check_int(reach, "reach", minimum=0)
    if not budget or not reach or not len(acc) or not len(mel):
        return mel
    order = np.argsort(mel[:, 0], kind="stable")
    out = mel[order]
    onsets = np.unique(np.asarray(acc)[:, 0])  # sorted
    pos = np.searchsorted(onsets, out[:, 0])
    hit = (pos < len(onsets)) & (onsets[np.minimum(pos, len(onsets) - 1)] == out[:, 0])
    before = np.where(pos > 0, onsets[np.maximum(pos - 1, 0)], np.iinfo(np.int64).min // 2)
    after = np.where(pos < len(onsets), onsets[np.minimum(pos, len(onsets) - 1)], np.iinfo(np.int64).max // 2)
    earlier = (out[:, 0] - before) <= (after - out[:, 0])
    target = np.where(earlier, before, after)
    dist = np.abs(target - out[:, 0])
    cand = np.flatnonzero(~hit & (dist <= reach))
    cand = cand[np.lexsort((cand, dist[cand]))]  # nearest first, then earlier notes
    moved = 0
    for i in cand.tolist():
        if moved >= budget:
            break
        t, end = int(target[i]), int(out[i, 0] + out[i, 1])
        if t >= end or t < 0 or (i > 0 and t <= out[i - 1, 0]) or (i + 1 < len(out) and t >= out[i + 1, 0]):
            continue
        out[i, 0], out[i, 1] = t, end - t
        if i > 0 and out[i - 1, 0] + out[i - 1, 1] > t:
            out[i - 1, 1] = t - out[i - 1, 0]
        moved += 1
    mel[order] = out
    return mel


def reharmonize(mel_notes, acc_notes, stats: ChordStats, *, n_steps: int = 32, span_steps: int = 4,
                keep_chord: float = 0.5, keep_pitch: float = 0.5, tensions: str = "keep",
                depart_weight: float = 4.0, transition_weight: float = 0.3, window_weight: float = 0.1,
                strong_steps: int | None = None, keep_rhythm: float = 1.0, reach: int | None = None,
                keep_texture: float = 1.0, context_spans: int | None = None, own: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, dict]:
    """Fuse a melody and a (key-aligned) accompaniment by re-voicing the accompaniment (module doc).

    The defaults are the configuration chosen on POP909 validation pairs
    (``docs/results/fusion_reharmonize.md``): a chord per beat; at ``keep_pitch`` 0.5 the melody edits
    fall on 8th-note positions (``strong_steps`` None: :func:`strong_steps_for`).

    Args:
        mel_notes: ``(n, 4)`` melody step notes.
        acc_notes: ``(m, 4)`` accompaniment step notes, already in the melody's key.
        stats: the fitted :class:`ChordStats`.
        n_steps: the window's length in steps (a multiple of ``span_steps``).
        span_steps: steps per chord span (4 = a beat at 4 steps a beat; 8 = a half bar of 4/4).
        keep_chord: the departure cost's control (1 keeps every chord, so every note).
        keep_pitch: the melody edits' budget (1: the melody's pitches are not touched).
        keep_rhythm: the melody onset moves' budget (:func:`snap_rhythm`; 1, the default: none).
        keep_texture: the accompaniment onset moves' budget (:func:`snap_texture`; 1, the default: none).
        tensions, depart_weight, transition_weight, window_weight, strong_steps, reach: see the module doc.
        context_spans: see :func:`choose_chords` (None for an 8-beat window; :func:`collage.fuse` passes 8
            on whole pieces).
        own: the accompaniment's chords (:func:`accompaniment_chords` of it, ``(n_steps // span_steps,)``), if
            already known (a re-fusion with other controls); None estimates them.
    Returns:
        ``(melody, accompaniment, info)``: step notes (the accompaniment's rows in its input order) and
        ``{"own": own chords, "chords": chosen chords}`` (``(n_spans,)`` each).
    """
    mel = check_notes(mel_notes, "mel_notes")
    acc = check_notes(acc_notes, "acc_notes")
    span_steps = check_int(span_steps, "span_steps", minimum=1)
    if strong_steps is None:
        strong_steps = strong_steps_for(keep_pitch)
    strong_steps = check_int(strong_steps, "strong_steps", minimum=1)
    n_steps = check_int(n_steps, "n_steps", minimum=span_steps)
    if n_steps % span_steps:
        raise ParameterError(f"given n_steps={n_steps}, span_steps={span_steps}; expected a multiple of span_steps")
    keep_chord = check_unit_interval(keep_chord, f"keep_chord={keep_chord!r}")
    keep_pitch = check_unit_interval(keep_pitch, f"keep_pitch={keep_pitch!r}")
    keep_rhythm = check_unit_interval(keep_rhythm, f"keep_rhythm={keep_rhythm!r}")
    keep_texture = check_unit_interval(keep_texture, f"keep_texture={keep_texture!r}")
    if not isinstance(stats, ChordStats):
        raise ParameterError(f"given stats of type {type(stats).__name__}; expected a ChordStats")
    n_spans = n_steps // span_steps
    if own is None:
        own = accompaniment_chords(acc, n_spans, span_steps) if len(acc) else np.full(n_spans, -1, dtype=np.int64)
    elif np.shape(own) != (n_spans,):
        raise ParameterError(f"given own chords of shape {np.shape(own)}; expected ({n_spans},)")
    chords = choose_chords(mel, own, stats, span_steps=span_steps, keep_chord=keep_chord,
                           depart_weight=depart_weight, transition_weight=transition_weight,
                           window_weight=window_weight, context_spans=context_spans)
    new_acc = revoice(acc, own, chords, span_steps=span_steps, tensions=tensions)
    new_mel = snap_rhythm(mel, acc, keep_rhythm=keep_rhythm, reach=reach)
    new_acc = snap_texture(new_acc, new_mel, keep_texture=keep_texture, span_steps=span_steps)
    new_mel = edit_melody(new_mel, chords, span_steps=span_steps, keep_pitch=keep_pitch, strong_steps=strong_steps)
    return new_mel, new_acc, {"own": own, "chords": chords}

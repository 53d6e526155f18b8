"""Sampling MMT events: top-k and a temperature per field, the monotonic constraints, a sliding window.

:func:`sample_codes` extends a prompt of MMT codes (``(N, 6)``, see
:mod:`collage.represent.mmt`) one event per step with the model's cached
attention keys and values (:class:`collage.models.mmt.KVCache`).

The constraints at each step, from the previous event (the paper's
monotonic constraint on type and beat, and the grammar it implies):

- type: never below the previous type; after start-of-song only instrument
  or start-of-notes, after the instrument list no new start-of-song; a note
  or end-of-song only after start-of-notes;
- instrument events in increasing code order, from ``allowed`` if given;
- a note's beat not before the previous note's (and, by default, at most
  8 beats after it), its position not before the previous note's within the
  same beat; its instrument one of the header's instruments; pitch,
  duration and position never "undefined".

Music longer than the model's window (``max_seq_len`` events or
``max_beat`` beats) is generated with a sliding window: the header and the
last half window of notes are kept, moved to start at beat 0, and the cache
is rebuilt.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from collage.generation.defaults import DEFAULT_TEMPERATURE, DEFAULT_TOP_K, field_temperatures
from collage.errors import ParameterError
from collage.models.mmt import MMT, KVCache
from collage.represent import mmt as rep

__all__ = ["DEFAULT_TEMPERATURE", "DEFAULT_TOP_K", "sample_codes", "top_k_for"]

_NEG = float("-inf")
#: the default longest silence between consecutive note onsets, in beats (see :func:`sample_codes`)
MAX_GAP_BEATS = 8


def top_k_for(top_k: float, size: int) -> int:
    """Outcomes kept for a field of ``size`` codes: ``top_k`` < 1 is a share (the paper's 0.1), >= 1 a count."""
    if not (isinstance(top_k, (int, float)) and math.isfinite(top_k) and top_k > 0):
        raise ParameterError(f"given top_k={top_k!r}; expected a share in (0, 1) or a count >= 1")
    k = math.ceil(top_k * size) if top_k < 1 else int(top_k)
    return max(1, min(k, size))


def _sample(logits: torch.Tensor, allowed: torch.Tensor, k: int, temperature: float, gen: torch.Generator) -> int:
    """One code from ``logits`` ``(V,)`` restricted to ``allowed`` ``(V,)`` bool, top-k, temperature."""
    lg = logits.masked_fill(~allowed, _NEG)
    n_ok = int(allowed.sum())
    if n_ok == 0:
        raise RuntimeError("no code is allowed")  # a bug: callers always leave one
    k = min(k, n_ok)
    if temperature <= 0 or k == 1:
        return int(lg.argmax())
    vals, idx = torch.topk(lg, k)
    p = torch.softmax(vals / temperature, dim=-1)
    return int(idx[torch.multinomial(p, 1, generator=gen)])


class _Window:
    """The model's view: codes with beats relative to ``offset``, and the cache that holds them."""

    def __init__(self, model: MMT, header: np.ndarray):
        self.model = model
        self.c = model.config
        self.header = header
        self.offset = 0  # beats subtracted from the absolute beat field
        self.cache = KVCache(self.c, 1)

    def prefill(self, notes_abs: np.ndarray) -> list[torch.Tensor]:
        """Rebuild the cache from the header and the last notes (absolute beats); returns the last logits."""
        keep = max(1, (self.c.max_seq_len - len(self.header)) // 2)
        notes = notes_abs[-keep:] if len(self.header) + len(notes_abs) >= self.c.max_seq_len else notes_abs
        if len(notes) and notes[-1, rep.BEAT] - notes[0, rep.BEAT] >= self.c.max_beat - 8:
            notes = notes[notes[:, rep.BEAT] > notes[-1, rep.BEAT] - self.c.max_beat // 2]
        notes = notes.copy()
        self.offset = int(notes[0, rep.BEAT]) - 1 if len(notes) else 0
        if len(notes):
            notes[:, rep.BEAT] -= self.offset
        codes = np.concatenate([self.header, notes]).astype(np.int64)
        self.cache = KVCache(self.c, 1)
        logits = self.model(torch.from_numpy(codes)[None], self.cache)
        return [lg[0, -1] for lg in logits]

    def step(self, event_rel: np.ndarray) -> list[torch.Tensor]:
        logits = self.model(torch.from_numpy(event_rel.astype(np.int64))[None, None], self.cache)
        return [lg[0, -1] for lg in logits]


@torch.no_grad()
def sample_codes(
    model: MMT,
    prompt: np.ndarray,
    *,
    end_beat: int,
    max_notes: int,
    allowed_instruments: list[int] | None = None,
    temperature=DEFAULT_TEMPERATURE,
    top_k: float = DEFAULT_TOP_K,
    seed: int = 0,
    allow_end: bool = False,
    max_gap_beats: int | None = MAX_GAP_BEATS,
) -> np.ndarray:
    """Extend ``prompt`` until a note would start at or after ``end_beat`` (0-based quarter-note beats).

    Args:
        model: an :class:`MMT` (eval mode).
        prompt: ``(N, 6)`` codes starting with start-of-song (absolute beats);
            without start-of-notes the model generates the instrument list.
        end_beat: stop before the first note at this beat or later.
        max_notes: stop after this many new notes in any case.
        allowed_instruments: instrument codes (1-based) the generated
            instrument list may use (unconditioned mode); None: any.
        temperature: a number for every field, or a mapping ``{field: number}``
            (the fields it does not name keep the default's; see
            :func:`collage.generation.defaults.field_temperatures`); 0 picks
            the likeliest code.
        top_k: per field, as in :func:`top_k_for`.
        seed: of the sampler's random generator.
        allow_end: stop at an end-of-song event (else end-of-song is masked
            until ``end_beat`` and the music runs to ``end_beat``).
        max_gap_beats: a note starts at most this many beats after the
            previous one (None: no limit, as in the paper). Top-k leaves a
            little probability on beats far ahead; over hundreds of notes one
            such jump is likely, and a jump past ``end_beat`` ends the music
            early, so the default keeps silences to two 4/4 bars.
    Returns:
        ``(M, 6)`` int64 codes: the prompt followed by the new events (no end-of-song).
    """
    temps = field_temperatures(temperature)
    c = model.config
    sizes = c.vocab
    ks = [top_k_for(top_k, n) for n in sizes]
    gen = torch.Generator().manual_seed(int(seed))
    prompt = np.asarray(prompt, dtype=np.int64).reshape(-1, 6)
    if len(prompt) == 0 or prompt[0, rep.TYPE] != rep.SOS:
        raise ParameterError("given a prompt that does not begin with start-of-song")
    son = np.flatnonzero(prompt[:, rep.TYPE] == rep.SON)
    ar = {f: torch.arange(n) for f, n in enumerate(sizes)}
    events: list[np.ndarray] = [e for e in prompt]
    if len(son) == 0:  # the header is generated too: feed it as it grows (it is short)
        header = prompt
        notes = np.zeros((0, 6), dtype=np.int64)
    else:
        header = prompt[: son[0] + 1]
        notes = prompt[son[0] + 1:]
        notes = notes[notes[:, rep.TYPE] == rep.NOTE]
        events = list(header) + list(notes)
    if len(header) >= c.max_seq_len - 2:
        raise ParameterError(f"given a prompt with {len(header)} header events; the model's window is {c.max_seq_len}")
    win = _Window(model, header)
    logits = win.prefill(notes)
    n_new = 0
    header_done = len(son) > 0
    head_ins = [int(e[rep.INSTRUMENT]) for e in events if e[rep.TYPE] == rep.INSTRUMENT_EVENT]
    ins_ok = torch.zeros(sizes[rep.INSTRUMENT], dtype=torch.bool)
    ins_ok[head_ins] = True
    defined = {f: ar[f] >= 1 for f in (rep.POSITION, rep.PITCH, rep.DURATION)}
    n_notes_all = len(notes)
    while n_new < max_notes:
        prev = events[-1]
        pt = int(prev[rep.TYPE])
        # -- type
        allowed = ar[rep.TYPE] >= pt
        allowed[rep.SOS] = False
        if not header_done:
            allowed[rep.NOTE] = allowed[rep.EOS] = False
            cand = [i for i in range(max(head_ins, default=0) + 1, sizes[rep.INSTRUMENT])
                    if allowed_instruments is None or i in allowed_instruments]
            if not cand:
                allowed[rep.INSTRUMENT_EVENT] = False
            if not head_ins:  # at least one instrument before start-of-notes
                allowed[rep.SON] = False
        else:
            allowed[rep.INSTRUMENT_EVENT] = allowed[rep.SON] = False
            if not allow_end:
                allowed[rep.EOS] = False
        typ = _sample(logits[rep.TYPE], allowed, ks[rep.TYPE], temps[rep.TYPE], gen)
        ev = np.zeros(6, dtype=np.int64)
        ev[rep.TYPE] = typ
        if typ == rep.EOS:
            break
        if typ == rep.INSTRUMENT_EVENT:
            ok = torch.zeros(sizes[rep.INSTRUMENT], dtype=torch.bool)
            ok[cand] = True
            ev[rep.INSTRUMENT] = _sample(logits[rep.INSTRUMENT], ok, ks[rep.INSTRUMENT], temps[rep.INSTRUMENT], gen)
            head_ins.append(int(ev[rep.INSTRUMENT]))
            ins_ok[int(ev[rep.INSTRUMENT])] = True
        elif typ == rep.SON:
            header_done = True
        elif typ == rep.NOTE:
            prev_note = prev if pt == rep.NOTE else None
            prev_beat_rel = int(prev_note[rep.BEAT]) - win.offset if prev_note is not None else 1
            beat_ok = ar[rep.BEAT] >= max(prev_beat_rel, 1)
            if max_gap_beats is not None:
                beat_ok &= ar[rep.BEAT] <= max(prev_beat_rel, 1) + max_gap_beats
            beat_rel = _sample(logits[rep.BEAT], beat_ok, ks[rep.BEAT], temps[rep.BEAT], gen)
            pos_ok = defined[rep.POSITION]
            if prev_note is not None and beat_rel == prev_beat_rel:
                pos_ok = ar[rep.POSITION] >= max(int(prev_note[rep.POSITION]), 1)
            ev[rep.BEAT] = beat_rel + win.offset
            ev[rep.POSITION] = _sample(logits[rep.POSITION], pos_ok, ks[rep.POSITION], temps[rep.POSITION], gen)
            ev[rep.PITCH] = _sample(logits[rep.PITCH], defined[rep.PITCH], ks[rep.PITCH], temps[rep.PITCH], gen)
            ev[rep.DURATION] = _sample(logits[rep.DURATION], defined[rep.DURATION], ks[rep.DURATION],
                                       temps[rep.DURATION], gen)
            ev[rep.INSTRUMENT] = _sample(logits[rep.INSTRUMENT], ins_ok, ks[rep.INSTRUMENT], temps[rep.INSTRUMENT],
                                         gen)
            if ev[rep.BEAT] - 1 >= end_beat:
                break
            n_new += 1
            n_notes_all += 1
        events.append(ev)
        if typ == rep.SON:
            win.header = np.array(events, dtype=np.int64)
        # -- feed the event back (sliding the window when it is full or the beats run out)
        rel = ev.copy()
        if typ == rep.NOTE:
            rel[rep.BEAT] -= win.offset
        if win.cache.length >= c.max_seq_len or (typ == rep.NOTE and rel[rep.BEAT] >= c.max_beat - 8):
            tail = np.array(events[-min(n_notes_all, c.max_seq_len):], dtype=np.int64).reshape(-1, 6)
            logits = win.prefill(tail[tail[:, rep.TYPE] == rep.NOTE])
        else:
            logits = win.step(rel)
    return np.array(events, dtype=np.int64).reshape(-1, 6)

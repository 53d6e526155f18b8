"""Stems rendered from POP909: a lead "vocals" stem, a harmonic stem and a generated drum stem.

Each POP909 song becomes three mono stems with known ground truth:

- ``vocals``: the MELODY track played by a voice-like or lead GM program, varied per song;
- ``harmonic``: PIANO + BRIDGE (each with a per-song program) plus a bass line on the roots
  (or slash basses) of ``chord_midi.txt``, re-struck on every downbeat;
- ``percussion``: a pop groove from :data:`GROOVES` (GM drum kit, channel 10) laid on the
  song's own annotated beat grid (``beat_midi.txt``): pattern, hat density, velocities and
  the fill period vary per song (seeded), with a fill before every phrase and a crash on it;

and ``mix``, their sample-exact sum. Only the clip is rendered, all stems in one FluidSynth call;
:func:`render_pop909_song` renders a whole song in memory (the context of a clip's key).

>>> meta = render_pop909_stems(12, "out/012", soundfont=pick_soundfont(12))
>>> meta["paths"]["vocals"], meta["sr"], meta["key"], meta["tempo"]
('out/012/vocals.wav', 22050, 'E:maj', 73.2)
>>> meta["beats"][:3], meta["downbeats"][:1]     # seconds from the clip start
([0.0, 0.82, 1.64], [0.0])

Soundfonts: :data:`SOUNDFONTS` lists the three Debian GM fonts; by convention the first two
render the train and val songs and ``MuseScore_General`` is held out for the test split
(:func:`pick_soundfont`). :data:`EXTRA_SOUNDFONTS` (``opl3``, ``gmbank``) give the mashability
training more timbres and an unseen-timbre validation set (never the test split).
"""

from __future__ import annotations

import json
import logging
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from collage.audio.render import render
from collage.datasets.pop909 import (
    Pop909Song, SongInfo, load_song, pop909_root, read_beats, read_chords, read_key, split_ids,
)
from collage.io.midi import read_midi
from collage.errors import InvalidInputError, ParameterError
from collage.io.atomic import atomic_path
from collage.io.audio import is_silent
from collage.piece import Piece, Tempo, Track

__all__ = [
    "ROLES",
    "SOUNDFONTS",
    "TRAIN_SOUNDFONTS",
    "TEST_SOUNDFONT",
    "EXTRA_SOUNDFONTS",
    "VOCAL_PROGRAMS",
    "GROOVES",
    "Groove",
    "pick_soundfont",
    "default_clip",
    "drum_notes",
    "render_pop909_stems",
    "render_pop909_song",
    "load_song_folder",
    "clip_truth",
]

log = logging.getLogger(__name__)

ROLES = ("vocals", "harmonic", "percussion")
TRAIN_SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2")
TEST_SOUNDFONT = "/usr/share/sounds/sf3/MuseScore_General.sf3"
SOUNDFONTS = TRAIN_SOUNDFONTS + (TEST_SOUNDFONT,)
#: Soundfonts beyond the default three, by short name (Debian ``opl3-soundfont``, an FM-synthesis
#: GM set, and ``csound-soundfont``, a small sample-based GM bank): extra timbres for the
#: mashability training data and an unseen-timbre validation set; neither is used for the test split.
EXTRA_SOUNDFONTS = {
    "opl3": "/usr/share/sounds/sf2/OPL-3_FM_128M.sf2",
    "gmbank": "/usr/share/sounds/sf2/sf_GMbank.sf2",
}

#: Lead programs for the MELODY ("vocals") stem: choir aahs, voice oohs, synth voice,
#: flute, clarinet, square / saw / voice leads.
VOCAL_PROGRAMS = (52, 53, 54, 73, 71, 80, 81, 85)
PIANO_PROGRAMS = (0, 1, 2, 4, 5)  # grand, bright, electric grand, two electric pianos
BRIDGE_PROGRAMS = (48, 49, 25, 27, 89, 11)  # strings, slow strings, steel / clean guitar, warm pad, vibraphone
BASS_PROGRAMS = (33, 34, 38, 32)  # finger, pick, synth, acoustic bass
DEFAULT_CLIP_S = 30.0
TICKS_PER_S = 960  # the stems' MIDI: tpq 480 at 120 qpm
_DRUM_NOTE_S = 0.12
STEM_GAP_S = 4.0  # silence between the stems laid out in one rendering

# GM drum keys
KICK, STICK, SNARE, CLAP, CHAT, PHAT, OHAT, CRASH, RIDE, TAMB = 36, 37, 38, 39, 42, 44, 46, 49, 51, 54
TOM_LO, TOM_MID, TOM_HI = 45, 47, 50


@dataclass(frozen=True)
class Groove:
    """A drum pattern on a 16th grid.

    Attributes:
        name: short id (stored in the metadata).
        bars: pattern length in 4/4 bars (1 or 2).
        hits: ``{gm_key: ((step, velocity), ...)}``, steps in ``[0, 16 * bars)``.
        hat: the time-keeping cymbal (closed hat or ride), laid separately at the song's
            hat density (4, 8 or 16 per bar).
        slow: suits slow songs (chosen more often under 80 BPM).
    """

    name: str
    bars: int
    hits: dict
    hat: int = CHAT
    slow: bool = False


GROOVES = (
    Groove("rock8", 1, {KICK: ((0, 110), (8, 104), (10, 84)), SNARE: ((4, 108), (12, 110))}),
    Groove("pop16", 1, {KICK: ((0, 112), (6, 88), (8, 104)), SNARE: ((4, 106), (12, 108))}),
    Groove("four_floor", 1, {KICK: ((0, 112), (4, 108), (8, 110), (12, 106)), CLAP: ((4, 100), (12, 102)),
                             OHAT: ((2, 70), (6, 70), (10, 70), (14, 70))}),
    Groove("ballad", 1, {KICK: ((0, 100), (10, 80)), STICK: ((4, 92), (12, 94))}, slow=True),
    Groove("halftime", 1, {KICK: ((0, 108), (7, 84), (14, 80)), SNARE: ((8, 110),)}, slow=True),
    Groove("ride_pop", 1, {KICK: ((0, 110), (8, 100), (11, 82)), SNARE: ((4, 104), (12, 106))}, hat=RIDE),
    Groove("sync2", 2, {KICK: ((0, 112), (3, 86), (8, 104), (16, 110), (22, 88), (26, 96), (27, 80)),
                        SNARE: ((4, 106), (12, 108), (20, 106), (28, 110)), TAMB: ((12, 60), (28, 60))}),
    Groove("ballad2", 2, {KICK: ((0, 104), (6, 76), (16, 100), (24, 84)), SNARE: ((8, 100), (24, 102)),
                          STICK: ((4, 70), (20, 70))}, slow=True),
)

_FILLS = (  # (step in the bar's last beat(s), key, velocity); steps relative to the bar
    ((12, SNARE, 96), (13, SNARE, 84), (14, TOM_HI, 100), (15, TOM_MID, 104)),
    ((8, TOM_HI, 96), (10, TOM_HI, 90), (12, TOM_MID, 100), (14, TOM_LO, 106)),
    ((12, SNARE, 90), (13, SNARE, 94), (14, SNARE, 100), (15, SNARE, 110)),
    ((10, TOM_HI, 94), (12, TOM_MID, 98), (13, TOM_MID, 92), (14, TOM_LO, 104), (15, TOM_LO, 108)),
)

_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_DEGREE = {"1": 0, "b2": 1, "2": 2, "#2": 3, "b3": 3, "3": 4, "4": 5, "#4": 6, "b5": 6, "5": 7, "#5": 8,
           "b6": 8, "6": 9, "bb7": 9, "b7": 10, "7": 11, "b9": 1, "9": 2}
_ROOT = re.compile(r"^([A-G])([b#]*)")


# -- choices per song --------------------------------------------------------------
def _rng(song_id: int, seed: int, what: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(song_id), zlib.crc32(what.encode())])


def pick_soundfont(song_id: int) -> str:
    """The soundfont for one POP909 song: :data:`TEST_SOUNDFONT` for the test split, else one of
    :data:`TRAIN_SOUNDFONTS` by a fixed hash of the id (deterministic)."""
    sid = int(song_id)
    if sid in set(split_ids("test").tolist()):
        return TEST_SOUNDFONT
    return TRAIN_SOUNDFONTS[zlib.crc32(f"pop909-{sid}".encode()) % len(TRAIN_SOUNDFONTS)]


def default_clip(beats: np.ndarray, downbeats: np.ndarray, *, seconds: float = DEFAULT_CLIP_S,
                 at: float = 0.25) -> tuple[float, float]:
    """``(start_s, end_s)``: the downbeat nearest ``at`` of the song (as a fraction of its
    annotated span), moved earlier where needed so that the clip fits before the last beat."""
    beats = np.asarray(beats, dtype=np.float64)
    db = beats[np.asarray(downbeats, dtype=bool)]
    if len(beats) < 2:
        raise ParameterError(f"given {len(beats)} beats; need at least 2 to choose a clip")
    if len(db) == 0:
        db = beats
    first, last = float(beats[0]), float(beats[-1])
    target = first + at * (last - first)
    cands = db[db + seconds <= last] if (db + seconds <= last).any() else db[:1]
    start = float(cands[np.argmin(np.abs(cands - target))])
    return start, start + float(seconds)


# -- percussion on the beat grid -----------------------------------------------------
def _steps(beats: np.ndarray) -> np.ndarray:
    """``(4 * B,)`` times of the 16th steps: each beat interval split in four (the last beat
    takes the previous interval)."""
    ibi = np.diff(beats)
    ibi = np.append(ibi, ibi[-1] if len(ibi) else 0.5)
    return (beats[:, None] + ibi[:, None] * np.arange(4)[None, :] / 4.0).ravel()


def drum_notes(beats, downbeats, *, song_id: int = 0, seed: int = 0) -> tuple[np.ndarray, dict]:
    """A groove on an annotated beat grid.

    Args:
        beats: ``(B,)`` beat times in seconds, increasing.
        downbeats: ``(B,)`` bool, True on the first beat of a bar.
        song_id, seed: pick the per-song variation (groove, hat density, fill period,
            velocity spread); the same pair always gives the same drums.
    Returns:
        ``(notes, info)``: ``notes`` ``(N, 4)`` float64 [onset_s, duration_s, gm_key, velocity]
        sorted by onset, and ``info`` = {"groove", "hat_per_bar", "fill_every", "hat"}.
    """
    beats = np.asarray(beats, dtype=np.float64)
    down = np.asarray(downbeats, dtype=bool)
    if beats.ndim != 1 or down.shape != beats.shape or len(beats) < 2:
        raise ParameterError(f"given beats.shape={beats.shape}, downbeats.shape={down.shape}; expected equal (B,), B >= 2")
    if not (np.diff(beats) > 0).all():
        raise ParameterError("given beats that do not increase")
    rng = _rng(song_id, seed, "groove")
    tempo = 60.0 / float(np.median(np.diff(beats)))
    weights = np.array([2.0 if (g.slow == (tempo < 80)) else 1.0 for g in GROOVES])
    groove = GROOVES[rng.choice(len(GROOVES), p=weights / weights.sum())]
    hat_per_bar = int(rng.choice([8, 16] if tempo < 80 else [4, 8, 8, 16]))
    fill_every = int(rng.choice([4, 8]))
    fill = _FILLS[rng.integers(len(_FILLS))]
    spread = float(rng.uniform(4, 12))
    hat = RIDE if groove.hat == RIDE else (PHAT if hat_per_bar == 4 and rng.random() < 0.5 else CHAT)

    steps = _steps(beats)  # (4B,)
    # bar number and beat-in-bar of every beat; beats before the first downbeat form a pickup bar
    bar = np.cumsum(down) - 1
    first_db = int(np.argmax(down)) if down.any() else 0
    pos = np.zeros(len(beats), dtype=np.int64)
    for i in range(len(beats)):
        pos[i] = 0 if down[i] else (pos[i - 1] + 1 if i > 0 else (4 - (first_db - i) % 4) % 4)
    n_bars = int(bar.max()) + 1
    bar_len = np.bincount(np.clip(bar, 0, None), minlength=max(n_bars, 1))

    out = []
    hat_every = 16 // hat_per_bar
    open_steps = {st % 16 for st, _ in groove.hits.get(OHAT, ())}
    fill_start = min(st for st, _, _ in fill)
    for i in range(len(beats)):
        b, p = int(bar[i]), int(pos[i]) % 4
        fill_bar = b >= 0 and (b + 1) % fill_every == 0 and bar_len[b] == 4
        phase = (b % groove.bars) * 16 if b >= 0 else 0
        for s in range(4):
            step = 4 * p + s  # 16th in the bar
            t = steps[4 * i + s]
            if fill_bar and step >= fill_start:
                out += [(t, key, vel) for st, key, vel in fill if st == step]
                continue
            for key, hits in groove.hits.items():
                out += [(t, key, vel) for st, vel in hits if st == phase + step]
            if step % hat_every == 0 and step not in open_steps:
                out.append((t, hat, 86 if step % 4 == 0 else 64))
        if down[i] and b > 0 and b % fill_every == 0:
            out.append((beats[i], CRASH, 104))
    if not out:
        return np.zeros((0, 4)), {"groove": groove.name, "hat_per_bar": hat_per_bar, "fill_every": fill_every, "hat": hat}
    arr = np.array(out, dtype=np.float64)
    arr[:, 2] = np.clip(arr[:, 2] + rng.normal(0, spread, len(arr)), 30, 127).round()
    notes = np.column_stack([arr[:, 0], np.full(len(arr), _DRUM_NOTE_S), arr[:, 1], arr[:, 2]])
    notes = notes[np.lexsort((notes[:, 2], notes[:, 0]))]
    info = {"groove": groove.name, "hat_per_bar": hat_per_bar, "fill_every": fill_every, "hat": hat}
    return notes, info


# -- harmonic bass from the chord annotations ---------------------------------------
def _bass_pc(label: str) -> int | None:
    m = _ROOT.match(label)
    if m is None:
        return None
    root = (_PC[m.group(1)] + m.group(2).count("#") - m.group(2).count("b")) % 12
    if "/" in label:
        return (root + _DEGREE.get(label.rsplit("/", 1)[1], 0)) % 12
    return root


def _bass_notes(song: Pop909Song, rng: np.random.Generator) -> np.ndarray:
    """``(N, 4)`` float64 [onset_s, dur_s, pitch, vel]: each chord's bass note (E1..D#2 octave),
    re-struck on the downbeats inside the chord."""
    db = song.beat_times[song.downbeats]
    out = []
    for (a, b), lab in zip(song.chord_spans, song.chord_labels):
        pc = _bass_pc(lab)
        if pc is None or b <= a:
            continue
        pitch = 28 + (pc - 4) % 12  # E1 (28) .. D#2 (39)
        cuts = np.concatenate([[a], db[(db > a + 0.05) & (db < b - 0.05)], [b]])
        for s, e in zip(cuts[:-1], cuts[1:]):
            out.append((s, max(0.05, (e - s) * 0.92), pitch, 92 + rng.integers(-6, 7)))
    return np.array(out, dtype=np.float64).reshape(-1, 4)


# -- the clip ---------------------------------------------------------------------------
def _seconds_notes(piece: Piece, name: str) -> np.ndarray:
    """``(N, 4)`` float64 [onset_s, dur_s, pitch, vel] of one track."""
    n = piece.track(name).notes
    on = piece.ticks_to_seconds(n[:, 0])
    off = piece.ticks_to_seconds(n[:, 0] + n[:, 1])
    return np.column_stack([on, off - on, n[:, 2], n[:, 3]]).astype(np.float64)


def _clip_track(notes_s: np.ndarray, start: float, end: float, *, name: str, program: int,
                is_drum: bool = False) -> Track:
    """Notes sounding in ``[start, end)`` moved to clip time, in ticks (:data:`TICKS_PER_S`)."""
    on, off = notes_s[:, 0], notes_s[:, 0] + notes_s[:, 1]
    keep = (off > start + 1e-3) & (on < end - 1e-3)
    n = notes_s[keep]
    on_c = np.clip(n[:, 0], start, end) - start
    off_c = np.clip(n[:, 0] + n[:, 1], start, end) - start
    ticks = np.column_stack([
        np.round(on_c * TICKS_PER_S), np.maximum(1, np.round((off_c - on_c) * TICKS_PER_S)), n[:, 2], n[:, 3],
    ]).astype(np.int64)
    return Track(ticks, name=name, program=int(program), is_drum=is_drum)


def _stem_tracks(song: Pop909Song, start: float, end: float, *, seed: int) -> tuple[dict[str, list[Track]], dict, dict]:
    """``({role: tracks in clip time}, programs, drum info)`` of ``[start, end)`` s of a song. Programs
    and drums depend on the song id and ``seed`` only, so any span of a song sounds the same."""
    sid = song.song_id
    beats, down = song.beat_times, song.downbeats
    rng = _rng(sid, seed, "programs")
    programs = {
        "vocals": int(rng.choice(VOCAL_PROGRAMS)),
        "piano": int(rng.choice(PIANO_PROGRAMS)),
        "bridge": int(rng.choice(BRIDGE_PROGRAMS)),
        "bass": int(rng.choice(BASS_PROGRAMS)),
    }
    drums, drum_info = drum_notes(beats, down, song_id=sid, seed=seed)
    bass = _bass_notes(song, rng)
    stem_tracks = {
        "vocals": [_clip_track(_seconds_notes(song.piece, "MELODY"), start, end, name="vocals", program=programs["vocals"])],
        "harmonic": [
            _clip_track(_seconds_notes(song.piece, "PIANO"), start, end, name="piano", program=programs["piano"]),
            _clip_track(_seconds_notes(song.piece, "BRIDGE"), start, end, name="bridge", program=programs["bridge"]),
            _clip_track(bass, start, end, name="bass", program=programs["bass"]),
        ],
        "percussion": [_clip_track(drums, start, end, name="drums", program=0, is_drum=True)],
    }
    return stem_tracks, programs, drum_info


def _render_stems(stems: dict[str, list[Track]], n_samples: int, *, sr: int, soundfont: str) -> dict[str, np.ndarray]:
    """Render each stem's tracks to ``(n_samples,)`` float32 (silence for a stem without notes).

    One FluidSynth call for all stems, which pays the soundfont load once: the stems are
    laid one after another in time, :data:`STEM_GAP_S` apart (longer than any release or
    reverb tail), each on its own MIDI channels, and cut apart again.
    """
    slot = n_samples / sr + STEM_GAP_S
    slot_ticks = int(round(slot * TICKS_PER_S))
    tracks, order = [], []
    for k, (role, trs) in enumerate(stems.items()):
        for t in trs:
            if len(t):
                notes = t.notes.copy()
                notes[:, 0] += k * slot_ticks
                tracks.append(t.replace(notes=notes))
        order.append(role)
    out = {role: np.zeros(n_samples, np.float32) for role in order}
    if not tracks:
        return out
    piece = Piece(tracks, tpq=TICKS_PER_S // 2, tempos=[Tempo(0, 120.0)])
    y, _ = render(piece, sr=sr, soundfont=soundfont, release_s=0.3)
    n_fade = min(int(0.02 * sr), n_samples)
    for k, role in enumerate(order):
        a = int(round(k * slot_ticks * sr / TICKS_PER_S))
        seg = y[a:a + n_samples]
        out[role][: len(seg)] = seg
        out[role][-n_fade:] *= np.linspace(1.0, 0.0, n_fade, dtype=np.float32)
    return out


def clip_truth(song: Pop909Song, start_s: float, end_s: float) -> dict:
    """The annotations inside ``[start_s, end_s)``: beat and downbeat times relative to
    ``start_s``, the key sounding longest there (``key_audio.txt``), tempo in BPM (from the
    median inter-beat interval)."""
    b = song.beat_times
    inside = (b >= start_s - 1e-6) & (b < end_s - 1e-3)
    beats = b[inside] - start_s
    downs = b[inside & song.downbeats] - start_s
    sel = b[inside]
    ibi = np.diff(sel) if len(sel) > 1 else np.diff(b)
    tempo = 60.0 / float(np.median(ibi)) if len(ibi) else float("nan")
    key, best = None, 0.0
    for (a, z), k in zip(song.key_spans, song.keys):
        ov = min(z, end_s) - max(a, start_s)
        if ov > best:
            key, best = k, ov
    if key is None and song.keys:
        key = song.keys[0]
    return {
        "beats": [round(float(x), 4) for x in beats],
        "downbeats": [round(float(x), 4) for x in downs],
        "key": key,
        "tempo": round(tempo, 3),
    }


def load_song_folder(folder: str | os.PathLike) -> Pop909Song:
    """A POP909-style song folder ``NNN/`` (``NNN.mid``, ``beat_midi.txt``, ``chord_midi.txt``,
    ``key_audio.txt``) anywhere, without POP909's ``index.csv``."""
    d = Path(folder)
    if not d.is_dir():
        raise InvalidInputError(d, "no such song folder")
    mids = sorted(d.glob("*.mid")) + sorted(d.glob("*.midi"))
    if not mids:
        raise InvalidInputError(d, "has no .mid file; expected a POP909-style song folder")
    sid = int(d.name) if d.name.isdigit() else 0
    beats, down = read_beats(d / "beat_midi.txt")
    cspans, clabels = read_chords(d / "chord_midi.txt")
    kspans, keys = read_key(d / "key_audio.txt")
    return Pop909Song(SongInfo(sid, d.name, "", 0, 0), read_midi(mids[0]), beats, down, cspans, clabels, kspans, keys,
                      folder=d)


def _write_wav(path: Path, y: np.ndarray, sr: int) -> None:
    with atomic_path(path) as tmp:
        sf.write(tmp, y, sr, format="WAV", subtype="FLOAT")


def _open_song(song_id, soundfont, root) -> tuple[Pop909Song, str, float]:
    """``(song, soundfont path, end of the song in s: its last beat plus one beat)``, checked."""
    sf_path = str(soundfont)
    if not Path(sf_path).is_file():
        raise InvalidInputError(sf_path, "no such soundfont file")
    if isinstance(song_id, (str, os.PathLike)) and not str(song_id).isdigit():
        song = load_song_folder(song_id)
    else:
        song = load_song(song_id, pop909_root(root))
    b = song.beat_times
    if len(b) < 2 or not (np.diff(b) > 0).all():
        raise InvalidInputError(song.folder / "beat_midi.txt", "needs at least 2 increasing beat times")
    return song, sf_path, float(b[-1] + np.median(np.diff(b)))


def render_pop909_song(
    song_id: int | str | os.PathLike,
    *,
    soundfont: str | os.PathLike,
    roles: tuple[str, ...] = ("vocals", "harmonic"),
    sr: int = 22050,
    seed: int = 0,
    root: str | os.PathLike | None = None,
    max_seconds: float = 900.0,
) -> dict[str, np.ndarray]:
    """The whole song's stems in memory, ``{role: (n,) float32}``, played as its clips are (same
    programs and drums for the same ``seed``; see :func:`render_pop909_stems`): the context the
    key of a clip is taken from (:func:`collage.audio.analyze.analyze`, ``context``). From 0 s to
    the last annotated beat plus one beat, at most ``max_seconds`` (memory stays bounded for a
    runaway beat file; POP909's longest song ends at 7.9 min). Nothing is written.

    Raises:
        ParameterError: an unknown role. InvalidInputError, InvalidMidiError, RenderError: as
        :func:`render_pop909_stems`.
    """
    if not roles or set(roles) - set(ROLES):
        raise ParameterError(f"given roles={roles!r}; expected some of {', '.join(ROLES)}")
    song, sf_path, end = _open_song(song_id, soundfont, root)
    end = min(end, float(max_seconds))
    tracks, _, _ = _stem_tracks(song, 0.0, end, seed=seed)
    return _render_stems({r: tracks[r] for r in roles}, int(round(end * sr)), sr=sr, soundfont=sf_path)


def render_pop909_stems(
    song_id: int | str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    soundfont: str | os.PathLike,
    start_s: float | None = None,
    seconds: float | None = None,
    sr: int = 22050,
    seed: int = 0,
    root: str | os.PathLike | None = None,
) -> dict:
    """Render one POP909 song's clip to ``out_dir/{vocals,harmonic,percussion,mix}.wav``.

    Args:
        song_id: 1..909, or the path of a POP909-style song folder (see :func:`load_song_folder`).
        out_dir: folder for the four mono float32 WAVs and ``stems.json`` (the returned
            metadata); each file is written atomically.
        soundfont: ``.sf2``/``.sf3`` path (see :func:`pick_soundfont`).
        start_s: clip start in song seconds; None: the downbeat nearest 25% into the song.
        seconds: clip length; None: :data:`DEFAULT_CLIP_S` (30 s). The clip is cut at the
            song's last annotated beat (plus one beat).
        sr: sample rate in Hz.
        seed: varies programs and drums together with the song id.
        root: the POP909 folder (see :func:`~collage.datasets.pop909.pop909_root`).
    Returns:
        ``{"song_id", "paths": {role: str} (roles and "mix"), "sr", "n_samples", "start_s",
        "end_s", "soundfont", "programs": {"vocals", "piano", "bridge", "bass"}, "drums":
        {"groove", "hat_per_bar", "fill_every", "hat"}, "silent": [roles without notes],
        "beats", "downbeats" (seconds from the clip start), "key" (e.g. ``'F#:maj'``),
        "tempo" (BPM)}``. ``mix`` is the exact sample sum of the stems (all scaled together
        when the sum would clip).
    Raises:
        ParameterError: a bad argument or a clip outside the song.
        InvalidInputError, InvalidMidiError: a song file is missing or malformed.
        RenderError: FluidSynth is missing or fails.
    """
    if seconds is not None and not (isinstance(seconds, (int, float)) and 1.0 <= seconds <= 3600):
        raise ParameterError(f"given seconds={seconds!r}; expected a clip length in [1, 3600] s")
    if start_s is not None and not (isinstance(start_s, (int, float)) and np.isfinite(start_s) and start_s >= 0):
        raise ParameterError(f"given start_s={start_s!r}; expected seconds >= 0")
    song, sf_path, song_end = _open_song(song_id, soundfont, root)
    sid = song.song_id
    beats, down = song.beat_times, song.downbeats
    length = DEFAULT_CLIP_S if seconds is None else float(seconds)
    if start_s is None:
        start, end = default_clip(beats, down, seconds=length)
    else:
        start, end = float(start_s), float(start_s) + length
    end = min(end, song_end)
    if end - start < 1.0:
        raise ParameterError(f"given start_s={start_s!r}; song {sid} ends at {song_end:.1f} s (clip would be empty)")
    n_samples = int(round((end - start) * sr))

    stem_tracks, programs, drum_info = _stem_tracks(song, start, end, seed=seed)
    audio = _render_stems(stem_tracks, n_samples, sr=sr, soundfont=sf_path)
    mix = audio["vocals"] + audio["harmonic"] + audio["percussion"]
    peak = float(np.abs(mix).max()) if n_samples else 0.0
    if peak > 0.99:
        g = np.float32(0.99 / peak)
        audio = {k: v * g for k, v in audio.items()}
        mix = audio["vocals"] + audio["harmonic"] + audio["percussion"]
    audio["mix"] = mix

    out = Path(out_dir)
    paths = {}
    for name, y in audio.items():
        paths[name] = str(out / f"{name}.wav")
        _write_wav(Path(paths[name]), y.astype(np.float32), sr)
    meta = {
        "song_id": sid,
        "paths": paths,
        "sr": int(sr),
        "n_samples": n_samples,
        "start_s": round(start, 4),
        "end_s": round(end, 4),
        "soundfont": sf_path,
        "programs": programs,
        "drums": drum_info,
        "silent": [r for r in ROLES if is_silent(audio[r])],
        **clip_truth(song, start, end),
    }
    with atomic_path(out / "stems.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=1))
    log.info("song %d: rendered %.1f s of stems with %s", sid, end - start, Path(sf_path).name)
    return meta

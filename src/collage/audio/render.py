"""Render a :class:`~collage.piece.Piece` to audio with FluidSynth.

The piece is written to a temporary MIDI file and synthesised by the
``fluidsynth`` command-line program (fast file rendering, 32-bit float WAV, so
nothing clips inside the synthesiser). The stereo result is mixed down to a
float32 mono array, cut to the length of the piece plus a release tail, faded
out over the last few milliseconds, and peak-normalised only when it would
otherwise clip.

>>> y, sr = render(piece, sr=22050)          # (n,) float32, sr in Hz
>>> render(piece, "song.wav")                 # also writes it, atomically: no half-written file

System requirements (Debian/Ubuntu)::

    apt-get install --no-install-recommends fluidsynth fluid-soundfont-gm

The soundfont is the ``soundfont`` argument, else ``$COLLAGE_SOUNDFONT``, else
the first of :data:`DEFAULT_SOUNDFONTS` that exists.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from collage.errors import CollageError, InvalidInputError, OutputError, ParameterError
from collage.io.atomic import atomic_path
from collage.io.midi import write_midi
from collage.piece import Piece

__all__ = [
    "render",
    "render_to_file",
    "find_soundfont",
    "find_fluidsynth",
    "check_renderer",
    "RenderError",
    "DEFAULT_SOUNDFONTS",
    "SOUNDFONT_ENV",
    "INSTALL_HINT",
    "AUDIO_SUFFIXES",
]

logger = logging.getLogger(__name__)

SOUNDFONT_ENV = "COLLAGE_SOUNDFONT"
DEFAULT_SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)
INSTALL_HINT = "apt-get install --no-install-recommends fluidsynth fluid-soundfont-gm"
AUDIO_SUFFIXES = {".wav": "WAV", ".flac": "FLAC"}
MIN_SR, MAX_SR = 8000, 96000  # what FluidSynth accepts for synth.sample-rate
FADE_S = 0.05  # fade-out at the very end, seconds


class RenderError(CollageError):
    """FluidSynth or a soundfont is missing, or synthesis failed."""


# -- locating the synthesiser and the soundfont ---------------------------------------------
def find_fluidsynth() -> str:
    """The path of the ``fluidsynth`` program.

    Raises:
        RenderError: it is not on ``$PATH`` (the message says what to install).
    """
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise RenderError(
            f"rendering audio needs the 'fluidsynth' program, which is not on PATH; install it with: {INSTALL_HINT}"
        )
    return exe


def _check_soundfont_file(path: Path) -> Path:
    if not path.exists():
        raise InvalidInputError(path, "no such soundfont file")
    if path.is_dir():
        raise InvalidInputError(path, "is a directory; expected a soundfont file (.sf2/.sf3)")
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError as e:
        raise InvalidInputError(path, f"cannot be read ({e.strerror or e})") from None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise InvalidInputError(path, "is not a SoundFont file (no RIFF 'sfbk' header); expected .sf2 or .sf3")
    return path


def find_soundfont(soundfont: str | os.PathLike | None = None) -> Path:
    """Resolve the soundfont to use and check that it is one.

    Args:
        soundfont: an explicit ``.sf2``/``.sf3`` path; if None, ``$COLLAGE_SOUNDFONT``,
            else the first existing file of :data:`DEFAULT_SOUNDFONTS`.
    Raises:
        InvalidInputError: the given (or ``$COLLAGE_SOUNDFONT``) file is missing or not a soundfont.
        RenderError: none was given and no default soundfont is installed.
    """
    if soundfont is None and os.environ.get(SOUNDFONT_ENV):
        soundfont = os.environ[SOUNDFONT_ENV]
    if soundfont is not None:
        return _check_soundfont_file(Path(soundfont))
    for cand in DEFAULT_SOUNDFONTS:
        if Path(cand).is_file():
            return _check_soundfont_file(Path(cand).resolve())
    raise RenderError(
        f"no soundfont found (looked at ${SOUNDFONT_ENV} and {', '.join(DEFAULT_SOUNDFONTS)}); "
        f"pass one or install one with: {INSTALL_HINT}"
    )


def check_renderer(soundfont: str | os.PathLike | None = None) -> tuple[str, Path]:
    """Check that rendering can run: returns ``(fluidsynth_path, soundfont_path)``.

    Call it before writing other outputs, so that a missing synthesiser is
    reported before anything is written. Raises as :func:`find_fluidsynth` and
    :func:`find_soundfont` do.
    """
    sf2 = find_soundfont(soundfont)  # first: a bad explicit path is the more specific error
    return find_fluidsynth(), sf2


# -- rendering ------------------------------------------------------------------------------
def _check_args(piece, sr, gain, release_s) -> int:
    if not isinstance(piece, Piece):
        raise ParameterError(f"given piece of type {type(piece).__name__}; expected a collage Piece")
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or not MIN_SR <= sr <= MAX_SR:
        raise ParameterError(f"given sr={sr!r}; expected an integer sample rate in Hz in {MIN_SR}..{MAX_SR}")
    if not (isinstance(gain, (int, float)) and 0 < gain < 10):
        raise ParameterError(f"given gain={gain!r}; expected a number in (0, 10)")
    if not (isinstance(release_s, (int, float)) and 0 <= release_s <= 60):
        raise ParameterError(f"given release_s={release_s!r}; expected seconds in [0, 60]")
    if piece.n_notes == 0:
        where = f"{piece.source} " if piece.source else "the piece "
        raise ParameterError(f"{where}has no notes; nothing to render")
    return int(sr)


def render(
    piece: Piece,
    path: str | os.PathLike | None = None,
    *,
    sr: int = 44100,
    soundfont: str | os.PathLike | None = None,
    gain: float = 0.8,
    release_s: float = 1.0,
    subtype: str = "PCM_16",
) -> tuple[np.ndarray, int]:
    """Synthesise ``piece`` with FluidSynth; with ``path``, also write it (WAV or FLAC).

    >>> y, sr = collage.render(piece)                  # (n,) float32 at 44100 Hz
    >>> collage.render(piece, "song.flac", sr=22050)   # written atomically

    Args:
        piece: the piece; every track plays on its own channel with its program
            (drum tracks on channel 10).
        path: None, or the output file; its suffix (``.wav`` or ``.flac``) picks the
            format. It is checked before the (slow) synthesis, and on any error nothing
            is left there.
        sr: sample rate in Hz (8000..96000).
        soundfont: ``.sf2``/``.sf3`` path; None looks it up (see :func:`find_soundfont`).
        gain: FluidSynth master gain (its own default is 0.2; 0.8 leaves headroom for a
            few voices at normal velocities).
        release_s: seconds kept after the last note ends, for the release and reverb.
        subtype: with ``path``, the soundfile subtype, e.g. ``"PCM_16"``, ``"PCM_24"``,
            ``"FLOAT"`` (WAV only).
    Returns:
        ``(y, sr)``: ``y`` float32 mono of shape ``(n,)`` with
        ``n = round((piece.duration_s + release_s) * sr)``, peak at most 1.
    Raises:
        ParameterError: a bad argument or a piece without notes.
        InvalidInputError: the soundfont is missing or is not one.
        RenderError: FluidSynth is missing, fails, or renders silence.
        OutputError: ``path`` cannot be written.
    """
    out = None if path is None else _check_output(path, subtype)
    y, sr = _synthesise(piece, sr=sr, soundfont=soundfont, gain=gain, release_s=release_s)
    if out is not None:
        path, fmt = out
        try:
            with atomic_path(path) as tmp:
                sf.write(tmp, y, sr, format=fmt, subtype=subtype)
        except (OSError, sf.LibsndfileError) as e:
            raise OutputError(path, f"cannot be written ({getattr(e, 'strerror', None) or e})") from None
        logger.info("wrote %s (%.1f s, %d Hz)", path, len(y) / sr, sr)
    return y, sr


def _synthesise(piece: Piece, *, sr: int, soundfont, gain: float, release_s: float) -> tuple[np.ndarray, int]:
    """:func:`render` without the file: the FluidSynth run and the mono float32 result."""
    sr = _check_args(piece, sr, gain, release_s)
    exe, sf2 = check_renderer(soundfont)
    n_out = int(round((piece.duration_s + float(release_s)) * sr))
    with tempfile.TemporaryDirectory(prefix="collage-render-") as tmp:
        mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        write_midi(piece, mid)
        cmd = [exe, "-ni", "-q", "-T", "wav", "-O", "float", "-F", str(wav), "-r", str(sr), "-g", f"{gain:g}"]
        cmd += ["-o", "synth.dynamic-sample-loading=1"]  # load only the samples played: sf3 fonts ~6x faster
        cmd += [str(sf2), str(mid)]
        logger.info("rendering %.1f s at %d Hz with %s", piece.duration_s, sr, sf2)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120 + 2 * n_out / sr, check=False)
        except subprocess.TimeoutExpired:
            raise RenderError("fluidsynth did not finish in time") from None
        except OSError as e:
            raise RenderError(f"cannot run fluidsynth ({e.strerror or e})") from None
        lines = [ln.strip() for ln in (proc.stderr or "").splitlines() if ln.strip()]
        fatal = [ln for ln in lines if "not a soundfont" in ln.lower() or "failed to load" in ln.lower()]
        if proc.returncode != 0 or fatal:
            detail = (fatal or lines or [f"exit code {proc.returncode}"])[-1]
            raise RenderError(f"fluidsynth failed: {detail}")
        for ln in lines:
            logger.debug("fluidsynth: %s", ln)
        if not wav.exists() or wav.stat().st_size == 0:
            raise RenderError("fluidsynth wrote no audio")
        try:
            raw, got_sr = sf.read(wav, dtype="float32", always_2d=True)  # (n, channels)
        except (RuntimeError, sf.LibsndfileError) as e:
            raise RenderError(f"fluidsynth wrote unreadable audio ({e})") from None
    if got_sr != sr:
        raise RenderError(f"fluidsynth rendered at {got_sr} Hz; asked for {sr} Hz")
    y = raw.mean(axis=1)  # (n,)
    if len(y) >= n_out:
        y = y[:n_out]
    else:
        y = np.concatenate([y, np.zeros(n_out - len(y), np.float32)])
    n_fade = min(int(FADE_S * sr), len(y))
    if n_fade > 1:
        y[-n_fade:] *= np.cos(np.linspace(0.0, np.pi / 2, n_fade, dtype=np.float32)) ** 2
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if not np.isfinite(peak):
        raise RenderError("fluidsynth rendered non-finite samples")
    if peak == 0.0:
        raise RenderError(f"fluidsynth rendered only silence (soundfont {sf2})")
    if peak > 1.0:
        logger.warning("rendered peak %.2f (%+.1f dBFS) would clip; normalised to peak 1.0", peak, 20 * np.log10(peak))
        y = y / peak
    return np.ascontiguousarray(y, dtype=np.float32), sr


def _check_writable(path: Path) -> None:
    if path.is_dir():
        raise OutputError(path, "is a directory; expected a file name")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(path, f"cannot be written ({parent} is not a folder)")


def _check_output(path: str | os.PathLike, subtype: str) -> tuple[Path, str]:
    """``(path, soundfile format)`` for an audio output path, checked before synthesis."""
    path = Path(path)
    fmt = AUDIO_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        expected = " or ".join(AUDIO_SUFFIXES)
        raise ParameterError(f"given output {str(path)!r}; expected a file name ending in {expected}")
    if not sf.check_format(fmt, subtype):
        raise ParameterError(f"given subtype={subtype!r}; not valid for {fmt} (try 'PCM_16')")
    _check_writable(path)
    return path, fmt


def render_to_file(
    piece: Piece,
    path: str | os.PathLike,
    *,
    sr: int = 44100,
    soundfont: str | os.PathLike | None = None,
    gain: float = 0.8,
    release_s: float = 1.0,
    subtype: str = "PCM_16",
) -> Path:
    """:func:`render` to ``path`` (required); returns the path written."""
    render(piece, path, sr=sr, soundfont=soundfont, gain=gain, release_s=release_s, subtype=subtype)
    return Path(path)

"""What the CLI tests share: run ``collage`` in-process, check a one-line user error, skip without a renderer.

Importable from any test module (``pythonpath = ["tests"]`` in pyproject.toml)::

    from cli_helpers import assert_user_error, needs_fluidsynth, run
"""

from __future__ import annotations

import shutil

import pytest

from collage.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    """``collage ARGV...`` in-process: ``(exit code, stdout, stderr)``."""
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_user_error(rc: int, err: str, *needles: str) -> None:
    """Exit code 2 and exactly one ``collage: error: ...`` line on stderr holding every needle, no traceback."""
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("collage: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]


def renderer_missing() -> str | None:
    """Why audio cannot be rendered here (no fluidsynth, no soundfont), or None."""
    if shutil.which("fluidsynth") is None:
        return "fluidsynth is not installed (apt-get install fluidsynth fluid-soundfont-gm)"
    from collage.audio.render import find_soundfont

    try:
        find_soundfont()
    except Exception as e:  # noqa: BLE001 - any reason to skip is reported
        return f"no usable soundfont: {e}"
    return None


_WHY = renderer_missing()
needs_fluidsynth = pytest.mark.skipif(_WHY is not None, reason=_WHY or "")

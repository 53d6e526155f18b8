"""``collage studio``: starts a server on a free port, prints its URL, serves the page; ``--help`` stays light."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

import pytest

pytest.importorskip("uvicorn")


def test_collage_help_does_not_import_the_server_stack():
    code = ("import sys; from collage.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print([m for m in ('starlette', 'uvicorn', 'torch') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_studio_command_serves_and_stops(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "collage.cli", "studio", "--no-browser"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("collage studio at http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split()[3]
        with urllib.request.urlopen(url, timeout=30) as r:
            assert b"collage studio" in r.read()
        with urllib.request.urlopen(url + "api/examples", timeout=30) as r:
            assert [f["name"] for f in json.load(r)] == ["melody.mid", "accompaniment.mid"]
        assert [p.name for p in tmp_path.iterdir()][0].startswith("collage-studio-")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert not any(tmp_path.iterdir())  # the temporary folder goes with the server


def test_studio_command_refuses_a_busy_port(capsys):
    import socket

    from cli_helpers import assert_user_error, run

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        rc, _, err = run(capsys, "studio", "--no-browser", "--port", s.getsockname()[1])
    assert_user_error(rc, err, "cannot listen on 127.0.0.1:")


def test_studio_command_refuses_a_bad_db(capsys, tmp_path):
    from cli_helpers import assert_user_error, run

    rc, _, err = run(capsys, "studio", "--no-browser", "--db", tmp_path / "none.db")
    assert_user_error(rc, err, "none.db", "no such MashupDB file")
    (tmp_path / "notes.db").write_text("not a database")
    rc, _, err = run(capsys, "studio", "--no-browser", "--db", tmp_path / "notes.db")
    assert_user_error(rc, err, "notes.db", "is not a MashupDB")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]  # nothing made

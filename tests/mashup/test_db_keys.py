"""MashupDB files written with the old key spelling read back in the one spelling."""

from __future__ import annotations

import json
import sqlite3

import pytest

from collage.errors import InvalidInputError
from collage.mashup.db import MashupDB


def _old_db(path, key="Gb:maj", truth_key="Db:min"):
    """A MashupDB whose rows hold keys as collage spelled them before (flats in major, POP909's labels)."""
    MashupDB(path, create=True).close()
    con = sqlite3.connect(str(path))
    with con:
        con.execute("INSERT INTO songs (id, name, source, info) VALUES (1, 'old', 'midi', ?)",
                    (json.dumps({"truth": {"key": truth_key, "tempo": 90.0}}),))
        con.execute("INSERT INTO analysis (song_id, role, key, tonic, mode, key_strength, tempo, beats, downbeats) "
                    "VALUES (1, 'song', ?, 6, 'major', 0.9, 90.0, '[0.5]', '[0.5]')", (key,))
    con.close()


def test_old_key_spelling_reads_normalised(tmp_path):
    _old_db(tmp_path / "old.db")
    with MashupDB(tmp_path / "old.db") as db:
        assert db.analysis(1)["key"] == "F#:maj"
        assert db.songs()[0]["info"]["truth"]["key"] == "C#:min"
    con = sqlite3.connect(str(tmp_path / "old.db"))
    assert con.execute("SELECT key FROM analysis").fetchone()[0] == "Gb:maj"  # the file itself is not rewritten
    con.close()


def test_a_stored_label_that_is_not_a_key_names_the_file(tmp_path):
    _old_db(tmp_path / "bad.db", key="H:dorian")
    with MashupDB(tmp_path / "bad.db") as db, pytest.raises(InvalidInputError, match=r"bad\.db.*'H:dorian'"):
        db.analysis(1)

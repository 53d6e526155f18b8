"""The exceptions collage raises.

Every error a user can cause derives from :class:`CollageError`; the CLI turns
it into one line on stderr and exit code 2. Anything else is a bug.
"""

from __future__ import annotations

import os

__all__ = [
    "CollageError",
    "InvalidInputError",
    "InvalidMidiError",
    "InvalidScoreError",
    "InvalidAudioError",
    "OutputError",
    "ParameterError",
    "ModelLoadingError",
    "DatasetNotFoundError",
]


class CollageError(Exception):
    """Root of every error a user can cause."""


class InvalidInputError(CollageError):
    """An input file is missing, unreadable or unusable.

    ``str(err)`` reads ``"<path>: <problem>"``; the path is kept in ``.path``.
    """

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(problem if self.path is None else f"{self.path}: {problem}")


class InvalidMidiError(InvalidInputError):
    """A MIDI file is corrupt, unsupported, empty or too large."""


class InvalidScoreError(InvalidInputError):
    """A MusicXML or ABC file cannot be parsed."""


class InvalidAudioError(InvalidInputError):
    """An audio file is corrupt, silent or otherwise unusable."""


class OutputError(CollageError):
    """An output file cannot be written (no permission, a directory in the way, disk full).

    ``str(err)`` reads ``"<path>: <problem>"``; the path is kept in ``.path``.
    """

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ParameterError(CollageError, ValueError):
    """An argument is out of range or of the wrong shape; the message quotes it."""


class ModelLoadingError(CollageError):
    """Shipped or user weights are missing, corrupt or of the wrong hash."""


class DatasetNotFoundError(CollageError):
    """A dataset is not where collage was told to look for it."""

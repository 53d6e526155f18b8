"""Generation with the Multitrack Music Transformer (thesis chapter 3): new music, continuations, extensions.

>>> from collage.generate import generate, list_instruments
>>> piece = generate(beats=64, seed=0)                                  # unconditioned
>>> piece = generate(instruments="violin,viola,cello", beats=32)        # instrument-informed
>>> piece = generate(prompt="song.mid", prompt_beats=16, beats=32)      # continuation

- :mod:`collage.generate.pipeline`: :func:`generate`, :func:`list_instruments`, :data:`MAX_BEATS`;
- :mod:`collage.generate.sampling`: top-k sampling per field with the monotonic constraints,
  cached keys and values and a sliding window.

The model is :mod:`collage.models.mmt`; the representation :mod:`collage.represent.mmt`.
Importing this package does not import torch; the model loads on first use.

The package itself can be called as :func:`generate` (``collage.generate(...)``
works whether ``collage.generate`` is this package or the function).

Args:
    see :func:`collage.generate.pipeline.generate` (instruments, prompt,
    prompt_beats, beats, seed, temperature, top_k, model, qpm).
Returns:
    a :class:`~collage.piece.Piece`.
"""

import sys
import types

from collage.generate.pipeline import (
    DEFAULT_TOP_K,
    MAX_BEATS,
    generate,
    list_instruments,
    load_model,
)

__all__ = ["DEFAULT_TOP_K", "MAX_BEATS", "generate", "list_instruments", "load_model"]


class _CallableModule(types.ModuleType):
    """``collage.generate(...)`` calls :func:`generate` even after ``import collage.generate``."""

    def __call__(self, *args, **kwargs):
        return generate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

"""Generation with the Multitrack Music Transformer (thesis chapter 3): new music, continuations, extensions.

>>> from collage.generation import generate, list_instruments
>>> piece = generate(beats=64, seed=0)                                  # unconditioned
>>> piece = generate(instruments="violin,viola,cello", beats=32)        # instrument-informed
>>> piece = generate(prompt="song.mid", prompt_beats=16, beats=32)      # continuation

- :mod:`collage.generation.pipeline`: :func:`generate`, :func:`list_instruments`, :data:`MAX_BEATS`;
- :mod:`collage.generation.sampling`: top-k sampling per field with the monotonic constraints,
  cached keys and values and a sliding window.

The model is :mod:`collage.models.mmt`; the representation :mod:`collage.represent.mmt`.
Importing this package does not import torch; the model loads on first use.
The public name is ``collage.generate`` (the function; the package is named as a noun,
like ``collage.fusion`` for ``collage.fuse``).
"""

from collage.generation.pipeline import (
    DEFAULT_TOP_K,
    MAX_BEATS,
    generate,
    list_instruments,
    load_model,
)

__all__ = ["DEFAULT_TOP_K", "MAX_BEATS", "generate", "list_instruments", "load_model"]


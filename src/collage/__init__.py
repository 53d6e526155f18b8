"""collage: fuse material from different songs into new, harmonic music.

Layers (see DESIGN.md): io -> represent -> {metrics, audio, models} ->
{fusion, mashup, arrange} -> cli.
"""

from collage.errors import CollageError
from collage.piece import Piece, Track

__version__ = "0.1.0"
__all__ = ["CollageError", "Piece", "Track", "__version__"]

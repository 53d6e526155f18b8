"""Audio: rendering pieces to sound (FluidSynth).

>>> y, sr = collage.audio.render(piece, sr=22050)   # float32 mono (n,), Hz
>>> collage.audio.render_to_file(piece, "out.wav")
"""

from collage.audio.render import RenderError, find_soundfont, render, render_to_file

__all__ = ["render", "render_to_file", "find_soundfont", "RenderError"]

"""Neural network modules and their frozen ``*Config`` dataclasses (no training code).

Each model registers itself with :func:`collage.pretrained.register_model`, so
that weights rebuild from their card: ``load_pretrained(name)``.
"""

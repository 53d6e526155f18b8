"""Fusion pipelines over the models: vertical fusion (``collage fuse``) and its baselines.

>>> from collage.fusion import fuse
>>> result = fuse("melody.mid", "accompaniment.mid", keep_rhythm=0.9)   # re-voicing, the default
>>> result = fuse("melody.mid", "accompaniment.mid", method="collagenet")   # CollageNet, shipped weights
>>> result = fuse("melody.mid", "accompaniment.mid", method="rule", seed=1)

- :mod:`collage.fusion.vertical`: :func:`fuse` for inputs of any length
  (:class:`FusionResult`, :class:`FusionModels`);
- :mod:`collage.fusion.inputs`: which tracks are the melody and the accompaniment;
- :mod:`collage.fusion.windows`: the step grid, loop/trim, 8-beat windows, stitching;
- :mod:`collage.fusion.keyalign`: transposing the accompaniment toward the melody's key;
- :mod:`collage.fusion.reharmonize`: the default method, chord-explicit re-voicing;
- :mod:`collage.fusion.rule`: the rule-based baseline;
- :mod:`collage.fusion.gradient`: the data-driven (critic-gradient) baseline.

Importing this package does not import torch; the models load on first use.
"""

from collage.fusion.rule import rule_fuse_batch, rule_fuse_segment
from collage.fusion.vertical import FusionModels, FusionResult, fuse

__all__ = ["fuse", "FusionResult", "FusionModels", "rule_fuse_segment", "rule_fuse_batch"]

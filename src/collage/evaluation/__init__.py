"""Evaluations that compare methods on POP909 (reports for ``docs/results/``).

- :mod:`collage.evaluation.fusion`: vertical fusion (``collage eval fusion``).
"""

from collage.evaluation.fusion import evaluate_fusion

__all__ = ["evaluate_fusion"]

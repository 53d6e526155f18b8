"""The sampler's defaults (torch-free, so that the CLI's help and the pipeline read them without torch)."""

__all__ = ["DEFAULT_TEMPERATURE", "DEFAULT_TOP_K"]

#: chosen on the validation split for the shipped weights by ``benchmarks/generate_sampling.py``
#: (docs/results/generate_sampling.md); 1 would be the model's own distribution
DEFAULT_TEMPERATURE = 0.8
#: the paper's top-k: 10 % of each field's outcomes (also chosen on the validation split)
DEFAULT_TOP_K = 0.1

"""Training code (trainers, losses, data pipelines). The library never imports it;
`collage train ...` imports it lazily."""

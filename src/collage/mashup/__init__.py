"""Audio mashups (Huang et al., AAAI 2021): stems, analysis, the MashupDB, candidate
mashups under the original / matched / unmatched conditions, learned (PreMixNet,
PostMixNet) and rule-based (AutoMashUpper) mashability, ranking and retrieval.

>>> import collage.mashup
>>> collage.mashup.build("songs.db", "../shared/data/pop909", limit=20)      # a MashupDB of stems
>>> collage.mashup.retrieve("songs.db", "my_acapella.wav", top=5)["results"]  # accompaniments for a vocal
>>> collage.mashup.render_retrieved("songs.db", found, rank=1)              # one of them, as audio
>>> collage.mashup.generate_mashups("songs.db", "mashups/", top=10)           # the best mashups, as WAVs
>>> collage.mashup.score_combination("vocals.wav", "harmonic.wav", "drums.wav")

- :mod:`collage.mashup.builder`: :func:`build`, the MashupDB from songs, stems or mixes;
- :mod:`collage.mashup.retrieval`: :func:`retrieve` and :func:`generate_mashups`;
- :mod:`collage.mashup.combination`: :func:`score_combination`, one combination scored and explained;
- :mod:`collage.mashup.cluster`, :mod:`~collage.mashup.stemstore`: the build on a Dask cluster, and
  stems under a folder or fsspec URL with content-derived names;
- :mod:`collage.mashup.embed`, :mod:`~collage.mashup.index`, :mod:`~collage.mashup.firststage`,
  :mod:`~collage.mashup.prior`: stem-segment vectors, segment priors and the learned first stage of
  retrieval over every segment of a DB; :mod:`~collage.mashup.fastscore`: its second stage from stored
  features;
- :mod:`collage.mashup.db`, :mod:`~collage.mashup.dbclips`: the MashupDB file and its clips;
- :mod:`collage.mashup.generate`: candidate mashups (original, matched, unmatched) and their rendering;
- :mod:`collage.mashup.score`, :mod:`~collage.mashup.automashupper`: the learned and rule-based scores;
- :mod:`collage.mashup.stems`, :mod:`~collage.mashup.sources`, :mod:`~collage.mashup.rendered`: stems
  rendered from POP909, found in a folder, or cached for the experiments.

The commands over them are ``collage mashup build | score | retrieve | generate`` (:mod:`collage.cli.mashup`).
"""

from collage.mashup.builder import build
from collage.mashup.combination import score_combination
from collage.mashup.retrieval import generate_mashups, render_retrieved, retrieve

__all__ = ["build", "generate_mashups", "render_retrieved", "retrieve", "score_combination"]

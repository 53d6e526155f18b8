"""Audio mashups (Huang et al., AAAI 2021): stems, analysis, the MashupDB, candidate
mashups under the original / matched / unmatched conditions, learned (PreMixNet,
PostMixNet) and rule-based (AutoMashUpper) mashability, ranking and retrieval.

Commands live under ``collage mashup`` (:mod:`collage.mashup.commands`).
"""

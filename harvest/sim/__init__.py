"""A simulated Medium on 127.0.0.1, shipped like Scrapy ships its bench server.

The tests, the demo (``harvest demo``) and the benchmarks crawl it: a
deterministic world of authors, publications, tags and posts with known links
(``model``), served in every markup era Medium has had (``render``) with the
failure modes the real Medium shows (``server``: challenges, 429 bursts,
unreachable bases, hostile pages). ``/_sim/manifest.json`` is the ground truth.
"""

"""``arena bench``: absolute scores, the image/record/dialogue ablations and subgroup deltas, each
with a bootstrap interval: :mod:`.config` (settings and the cells to play), :mod:`.stats` (the
statistics), :mod:`.results` (the JSON document), :mod:`.run` (play, store, resume)."""

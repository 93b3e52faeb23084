"""Tournaments: matches between two targets on one scenario and seed, schedulers that choose
them, a resumable SQLite store of what was played, and standings (ratings, scores, subgroups,
pass^k) computed from it.

- :mod:`arena.tournament.match`: ``MatchSpec`` (what to play; its deterministic id) and
  ``MatchRecord`` (what happened: A, B, tie, or an error excluded from ratings).
- :mod:`arena.tournament.play`: plays a match (each encounter once per run, shared by every match
  that needs it; a transcript left by a killed run is reused) and compares the two transcripts.
- :mod:`arena.tournament.schedule`: round robin, Swiss and adaptive schedulers.
- :mod:`arena.tournament.executor`: the executor interface and the local asyncio executor.
- :mod:`arena.tournament.store`: the run's SQLite store (WAL, one writer, one transaction per match).
- :mod:`arena.tournament.standings`: ``leaderboard.json`` from the stored matches and encounters.
- :mod:`arena.tournament.run`: the tournament loop (schedule, execute, record, rate).
"""

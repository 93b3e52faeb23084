"""Judging beyond one judge: the shared rubric score, juries, pairwise comparison with the order swapped.

Import the modules themselves (``arena.judging.rubric``, ``arena.judging.jury``,
``arena.judging.pairwise``); this package imports nothing eagerly. None of them imports ``agents``:
the judges they combine come in through :class:`arena.protocols.Judge` and
:class:`arena.judging.pairwise.PairwiseJudge`.
"""

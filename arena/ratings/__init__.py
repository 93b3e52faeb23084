"""Ratings as pure functions over arrays of battles (numpy/scipy; no I/O).

* :mod:`arena.ratings.bradley_terry`: encoding, deduplication, the Bradley-Terry maximum-likelihood
  fit, bootstrap and sandwich intervals, ranks, style control and the per-model result records.
* :mod:`arena.ratings.elo`: online Elo over battles in order.
* :mod:`arena.ratings.graph`: the comparison graph and its connected components.

This package imports nothing on purpose: import the module you need.
"""

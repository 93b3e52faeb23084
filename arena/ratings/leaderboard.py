"""Per-model rows of a leaderboard (tallies, flags, ratings with intervals and ranks) and
:func:`rate`, the whole pipeline from model-name strings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from arena.ratings.battles import L2, Battles, IntArray, dedupe, encode
from arena.ratings.bradley_terry import Intervals, bootstrap, fit, ranks, sandwich

# ---------------------------------------------------------------------------------------------
# per-model records


@dataclass(frozen=True)
class Tally:
    """Raw battle counts per model, each ``(m,) int64``."""

    battles: IntArray
    wins: IntArray
    losses: IntArray
    ties: IntArray


def tally(bt: Battles) -> Tally:
    """:class:`Battles` -> :class:`Tally` (unweighted battle counts)."""
    m = bt.n_models
    c = bt.count

    def count(idx: IntArray, mask: npt.NDArray[np.bool_]) -> IntArray:
        return np.rint(np.bincount(idx[mask], weights=c[mask], minlength=m)).astype(np.int64)

    win_a, tie, win_b = bt.outcome == 1.0, bt.outcome == 0.5, bt.outcome == 0.0
    wins = count(bt.a, win_a) + count(bt.b, win_b)
    losses = count(bt.a, win_b) + count(bt.b, win_a)
    ties = count(bt.a, tie) + count(bt.b, tie)
    return Tally(battles=wins + losses + ties, wins=wins, losses=losses, ties=ties)


def flags(t: Tally) -> list[tuple[str, ...]]:
    """Per model: ``unbeaten`` (won every battle, no tie: the unpenalised rating would be +inf),
    ``winless`` (lost every battle, no tie: -inf), ``no_battles``."""
    out: list[tuple[str, ...]] = []
    for n, w, lo, ti in zip(t.battles.tolist(), t.wins.tolist(), t.losses.tolist(), t.ties.tolist(), strict=True):
        f: list[str] = []
        if n == 0:
            f.append("no_battles")
        elif lo == 0 and ti == 0:
            f.append("unbeaten")
        elif w == 0 and ti == 0:
            f.append("winless")
        out.append(tuple(f))
    return out


@dataclass(frozen=True)
class ModelRating:
    """One leaderboard row: a model's rating, 95% interval, rank and raw battle counts."""

    name: str
    rating: float
    ci_low: float
    ci_high: float
    rank: int
    battles: int
    wins: int
    losses: int
    ties: int
    flags: tuple[str, ...] = ()

    def as_leaderboard_entry(self) -> dict[str, object]:
        """The ``leaderboard.json`` shape (``model``, ``matches`` ...) plus ``flags``."""
        return {"model": self.name, "rating": self.rating, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "rank": self.rank, "matches": self.battles, "wins": self.wins, "losses": self.losses,
                "ties": self.ties, "flags": list(self.flags)}


def results(models: Sequence[str], bt: Battles, iv: Intervals) -> list[ModelRating]:
    """Combine names ``(m,)``, battles and intervals into :class:`ModelRating` rows, best rating first."""
    t = tally(bt)
    rk = ranks(iv.low, iv.high)
    fl = flags(t)
    rows = [ModelRating(name=models[i], rating=float(iv.rating[i]), ci_low=float(iv.low[i]),
                        ci_high=float(iv.high[i]), rank=int(rk[i]), battles=int(t.battles[i]), wins=int(t.wins[i]),
                        losses=int(t.losses[i]), ties=int(t.ties[i]), flags=fl[i]) for i in range(len(models))]
    return sorted(rows, key=lambda row: (-row.rating, row.name))


def rate(names_a: Sequence[str] | npt.NDArray[np.str_], names_b: Sequence[str] | npt.NDArray[np.str_],
         outcome: npt.ArrayLike, weight: npt.ArrayLike | None = None, *,
         intervals: Literal["bootstrap", "sandwich"] = "bootstrap", rounds: int = 1000,
         seed: int | np.random.Generator = 0, l2: float = L2, require_connected: bool = True) -> list[ModelRating]:
    """Names ``(n,)`` and outcomes ``(n,)`` -> the leaderboard (:class:`ModelRating` rows, best first).

    With ``require_connected`` a comparison graph of several components raises
    :class:`arena.ratings.graph.DisconnectedError` (it carries the components): ratings of models that
    never met, even indirectly, are not comparable.
    """
    models, a, b = encode(names_a, names_b)
    if require_connected:
        from arena.ratings.graph import check_connected

        check_connected(models, a, b)
    bt = dedupe(a, b, outcome, weight, n_models=len(models))
    rating = fit(bt, l2=l2)
    iv = (bootstrap(bt, rounds=rounds, seed=seed, l2=l2, rating=rating) if intervals == "bootstrap"
          else sandwich(bt, l2=l2, rating=rating))
    return results(models, bt, iv)



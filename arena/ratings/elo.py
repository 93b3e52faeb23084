"""Online Elo over battles in order (pure function, no I/O).

``P(a beats b) = 1 / (1 + BASE ** ((R_b - R_a) / SCALE))``; after each battle both ratings move by
``k * (outcome - P)`` (a up, b down), ``outcome`` 1 when a won, 0 when b won, 0.5 for a tie. Unlike
Bradley-Terry, the result depends on the order of the battles: use it for a live view, and the
Bradley-Terry fit for the leaderboard.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BASE = 10.0
SCALE = 400.0
START = 1000.0
K = 4.0


def elo(a: npt.ArrayLike, b: npt.ArrayLike, outcome: npt.ArrayLike, *, n_models: int | None = None,
        k: float = K, base: float = BASE, scale: float = SCALE, start: float = START,
        initial: npt.ArrayLike | None = None) -> npt.NDArray[np.float64]:
    """Sequential Elo: ``a, b: (n,) int`` model indices, ``outcome: (n,)`` in [0, 1] -> ``ratings: (m,)``.

    Every model starts at ``start`` (or ``initial: (m,)``); battles are applied in array order.
    """
    al = np.asarray(a, dtype=np.int64).tolist()
    bl = np.asarray(b, dtype=np.int64).tolist()
    ol = np.asarray(outcome, dtype=np.float64).tolist()
    if not (len(al) == len(bl) == len(ol)):
        raise ValueError("a, b and outcome must have one length")
    m = int(n_models if n_models is not None else (max(max(al), max(bl)) + 1 if al else 0))
    ratings = [float(start)] * m if initial is None else np.asarray(initial, dtype=np.float64).tolist()
    if len(ratings) != m:
        raise ValueError(f"initial has {len(ratings)} ratings, expected {m}")
    for i, j, o in zip(al, bl, ol, strict=True):
        ri, rj = ratings[i], ratings[j]
        expected = 1.0 / (1.0 + base ** ((rj - ri) / scale))
        delta = k * (o - expected)
        ratings[i] = ri + delta
        ratings[j] = rj - delta
    return np.asarray(ratings, dtype=np.float64)

"""Bradley-Terry ratings as pure functions over arrays of battles (numpy/scipy, no I/O).

A *battle* is one comparison of model ``a`` with model ``b``: ``outcome`` 1 means a won, 0 means b
won, 0.5 a tie (counted as half a win for each side). Shapes: ``n`` raw battles, ``r`` deduplicated
rows, ``m`` models, ``k`` style covariates, ``R`` bootstrap rounds.

The model: ``P(a beats b) = 1 / (1 + BASE ** ((R_b - R_a) / SCALE))`` with ``BASE`` 10 and ``SCALE``
400, i.e. a logistic in the natural-log strength ``theta = R * ln(10) / 400``. The fit maximises the
(weighted) log-likelihood minus a tiny ridge penalty ``0.5 * L2 * sum(theta ** 2)`` with ``L2`` =
1e-6 per model on the natural-log strength scale (with ``mean(theta) = 0``, which fixes the gauge).
The penalty moves well-determined ratings by far less than 0.01 point but keeps the rating of a
model that won (or lost) every battle finite; such models carry the flag ``unbeaten`` (``winless``).
Ratings are reported centred so their mean is ``CENTER`` (1000).

Pipeline: ``battles.encode`` (names to indices) -> ``battles.dedupe`` (identical ``(a, b, outcome)``
rows become one weighted row, ``a < b``) -> :func:`fit` here (damped Newton; L-BFGS beyond
``NEWTON_MAX_MODELS``) -> :func:`bootstrap` (percentile intervals) or :func:`sandwich` (Huber-White
normal intervals) -> :func:`ranks` -> ``leaderboard.results``. ``leaderboard.rate`` runs all of it
from model-name strings; ``style.fit_style`` is Bradley-Terry with covariates (LMArena's style
control).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import optimize, sparse

from arena.ratings.battles import (
    BOOTSTRAP_CHUNK_BYTES,
    CENTER,
    L2,
    NEWTON_MAX_MODELS,
    POINTS,
    Z95,
    Battles,
    FloatArray,
    IntArray,
)

# ---------------------------------------------------------------------------------------------
# the fit


def _softplus(x: FloatArray) -> FloatArray:
    out: FloatArray = np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))
    return out


def sigmoid(x: FloatArray) -> FloatArray:
    out: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


def nll(d: FloatArray, y: FloatArray, w: FloatArray) -> FloatArray:
    """Negative log-likelihood summed over the last axis: ``d, w: (..., r)``, ``y: (r,)`` -> ``(...)``.

    ``-[y log s(d) + (1 - y) log s(-d)] = softplus(d) - y d``."""
    out: FloatArray = (w * (_softplus(d) - y * d)).sum(axis=-1)
    return out


def to_ratings(theta: FloatArray) -> FloatArray:
    """Natural-log strengths ``(..., m)`` -> ratings ``(..., m)`` on the 400/base-10 scale, mean ``CENTER``."""
    out: FloatArray = CENTER + POINTS * (theta - theta.mean(axis=-1, keepdims=True))
    return out


@dataclass(frozen=True)
class _Pairs:
    """The ``q`` distinct pairs of a :class:`Battles` (``pa < pb: (q,)``) and the ``(r, q)`` one-hot
    matrix from rows to pairs. A pair's likelihood needs only its total weight ``N`` and the weight
    of a's wins ``W`` (ties as half): ``-loglik = N softplus(d) - W d``."""

    pa: IntArray
    pb: IntArray
    rows_to_pairs: sparse.csr_matrix

    @classmethod
    def of(cls, bt: Battles) -> _Pairs:
        m = bt.n_models
        keys, inv = np.unique(bt.a * m + bt.b, return_inverse=True)
        r = bt.a.size
        onehot = sparse.csr_matrix((np.ones(r), (np.arange(r), inv)), shape=(r, keys.size))
        return cls(pa=keys // m, pb=keys % m, rows_to_pairs=onehot)

    def totals(self, w: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Row weights ``w: (R, r)``, outcomes ``y: (r,)`` -> ``(N, W): (R, q)`` each."""
        n_tot = np.asarray((self.rows_to_pairs.T @ w.T).T)
        wins = np.asarray((self.rows_to_pairs.T @ (w * y).T).T)
        return n_tot, wins


def _newton_batch(bt: Battles, w: FloatArray, theta0: FloatArray, l2: float, *, max_iter: int = 200,
                  tol: float = 1e-10) -> FloatArray:
    """Damped Newton for ``R`` weightings of the same rows at once.

    ``w: (R, r)`` row weights, ``theta0: (R, m)`` start -> ``theta: (R, m)`` centred. Rows collapse
    to pairs first (:class:`_Pairs`). The gauge direction (all ones) gets ``+1/m`` in the Hessian so
    the solve is well conditioned (the gradient has no component along it, so the mean stays 0 and
    the penalised optimum is unchanged).
    """
    m = bt.n_models
    pairs = _Pairs.of(bt)
    pa, pb = pairs.pa, pairs.pb
    q = pa.size
    n_tot, wins = pairs.totals(w, bt.outcome)
    qq = np.arange(q)
    inc_t = sparse.csr_matrix((np.r_[np.ones(q), -np.ones(q)], (np.r_[pa, pb], np.r_[qq, qq])), shape=(m, q))
    to_cell = sparse.csr_matrix((np.ones(q), (pa * m + pb, qq)), shape=(m * m, q))
    diag = np.eye(m, dtype=bool)
    fixed = l2 * np.eye(m) + np.full((m, m), 1.0 / m)

    def objective(th: FloatArray, nt: FloatArray, wn: FloatArray) -> tuple[FloatArray, FloatArray]:
        d = th[:, pa] - th[:, pb]
        f = (nt * _softplus(d) - wn * d).sum(axis=1) + 0.5 * l2 * (th * th).sum(axis=1)
        return d, f

    theta = theta0 - theta0.mean(axis=1, keepdims=True)
    d_all, f_all = objective(theta, n_tot, wins)
    active = np.arange(theta.shape[0])
    for _ in range(max_iter):
        if active.size == 0:
            break
        th, nt, wn = theta[active], n_tot[active], wins[active]
        d, f0 = d_all[active], f_all[active]
        p = sigmoid(d)
        grad = np.asarray(inc_t @ (nt * p - wn).T).T + l2 * th
        off = np.asarray(to_cell @ (nt * p * (1.0 - p)).T).T.reshape(-1, m, m)
        off = off + off.transpose(0, 2, 1)
        hess = -off
        hess[:, diag] = off.sum(axis=2)
        hess += fixed[None]
        step = -np.linalg.solve(hess, grad[..., None])[..., 0]
        step -= step.mean(axis=1, keepdims=True)
        slope = (grad * step).sum(axis=1)
        t = np.ones(active.size)
        new = th + step
        for _ in range(60):
            dn, f1 = objective(new, nt, wn)
            bad = f1 > f0 + 1e-4 * t * slope + 1e-12 * np.abs(f0)
            if not bad.any():
                break
            t = np.where(bad, 0.5 * t, t)
            new = th + t[:, None] * step
        theta[active], d_all[active], f_all[active] = new, dn, f1
        done = np.abs(t[:, None] * step).max(axis=1) < tol
        active = active[~done]
    return theta


def _lbfgs(bt: Battles, l2: float) -> FloatArray:
    """L-BFGS with the analytic gradient (for many models): -> ``theta: (m,)`` centred."""
    m, y, w = bt.n_models, bt.outcome, bt.weight

    def fun(th: FloatArray) -> tuple[float, FloatArray]:
        d = th[bt.a] - th[bt.b]
        g = w * (sigmoid(d) - y)
        grad = np.bincount(bt.a, g, m) - np.bincount(bt.b, g, m) + l2 * th
        return float(nll(d, y, w) + 0.5 * l2 * th @ th), grad

    res = optimize.minimize(fun, np.zeros(m), jac=True, method="L-BFGS-B",
                            options={"maxiter": 10_000, "gtol": 1e-10, "ftol": 1e-15, "maxcor": 30})
    theta: FloatArray = res.x - res.x.mean()
    return theta


def fit_theta(bt: Battles, *, l2: float = L2, method: Literal["auto", "newton", "lbfgs"] = "auto") -> FloatArray:
    """Penalised maximum likelihood: :class:`Battles` -> natural-log strengths ``theta: (m,)``, mean 0."""
    if bt.n_models == 0:
        return np.zeros(0)
    if method == "lbfgs" or (method == "auto" and bt.n_models > NEWTON_MAX_MODELS):
        return _lbfgs(bt, l2)
    return _newton_batch(bt, bt.weight[None], np.zeros((1, bt.n_models)), l2)[0]


def fit(bt: Battles, *, l2: float = L2, method: Literal["auto", "newton", "lbfgs"] = "auto") -> FloatArray:
    """Bradley-Terry ratings: :class:`Battles` -> ``ratings: (m,)`` (400/base-10 scale, mean 1000)."""
    return to_ratings(fit_theta(bt, l2=l2, method=method))


# ---------------------------------------------------------------------------------------------
# intervals and ranks


@dataclass(frozen=True)
class Intervals:
    """Point ratings ``rating: (m,)`` with 95% bounds ``low, high: (m,)``.

    ``centre: (m,)`` is the bootstrap median (or the point rating for the sandwich); ``samples:
    (R, m)`` the bootstrap ratings (``None`` for the sandwich); ``cov: (m, m)`` the rating covariance
    (sandwich only).
    """

    rating: FloatArray
    low: FloatArray
    high: FloatArray
    centre: FloatArray
    samples: FloatArray | None = None
    cov: FloatArray | None = None


def bootstrap(bt: Battles, *, rounds: int = 1000, seed: int | np.random.Generator = 0, l2: float = L2,
              rating: FloatArray | None = None) -> Intervals:
    """Percentile (2.5 / 97.5) intervals from ``rounds`` resamplings of the battles.

    Each round draws ``n`` battles with replacement: multinomial counts over the ``r`` deduplicated
    rows (a row's weight is scaled by its drawn count over its original count), then refits all
    rounds together with batched Newton from the point estimate. ``rating: (m,)`` may pass the point
    fit to skip refitting it. Returns :class:`Intervals` with ``samples: (rounds, m)``.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    m, r = bt.n_models, bt.a.size
    theta_hat = fit_theta(bt, l2=l2) if rating is None else (np.asarray(rating) - CENTER) / POINTS
    point = to_ratings(theta_hat)
    n = int(round(bt.count.sum()))
    mean_w = np.divide(bt.weight, bt.count, out=np.zeros(r), where=bt.count > 0)
    chunk = max(1, min(rounds, BOOTSTRAP_CHUNK_BYTES // max(1, 8 * (3 * m * m + 4 * r))))
    out = np.empty((rounds, m))
    pvals = bt.count / bt.count.sum()
    for start in range(0, rounds, chunk):
        size = min(chunk, rounds - start)
        draws = rng.multinomial(n, pvals, size=size).astype(np.float64)
        theta = _newton_batch(bt, draws * mean_w, np.broadcast_to(theta_hat, (size, m)).copy(), l2)
        out[start:start + size] = to_ratings(theta)
    low, centre, high = np.percentile(out, [2.5, 50.0, 97.5], axis=0)
    return Intervals(rating=point, low=low, high=high, centre=centre, samples=out)


def sandwich(bt: Battles, *, l2: float = L2, rating: FloatArray | None = None) -> Intervals:
    """Robust (Huber-White) covariance of the fit -> 95% normal intervals ``rating +- 1.96 sd``.

    ``cov = C H+ B H+ C`` in rating points squared, ``H`` the Hessian of the negative log-likelihood,
    ``B = sum_battles w_i^2 (y_i - p_i)^2 x_i x_i^T`` (``x_i`` is +1 at a, -1 at b), ``C`` the centring
    projection. Returns :class:`Intervals` with ``cov: (m, m)``.
    """
    m = bt.n_models
    theta = fit_theta(bt, l2=l2) if rating is None else (np.asarray(rating) - CENTER) / POINTS
    d = theta[bt.a] - theta[bt.b]
    p = sigmoid(d)

    def assemble(v: FloatArray) -> FloatArray:
        off = np.bincount(bt.a * m + bt.b, weights=v, minlength=m * m).astype(np.float64).reshape(m, m)
        off = off + off.T
        mat = -off
        mat[np.diag_indices(m)] = off.sum(axis=1)
        return mat

    hess = assemble(bt.weight * p * (1.0 - p)) + l2 * np.eye(m)
    meat = assemble(bt.weight_sq * (bt.outcome - p) ** 2)
    bread = np.linalg.inv(hess + np.full((m, m), 1.0 / m))
    centre = np.eye(m) - np.full((m, m), 1.0 / m)
    cov = POINTS**2 * centre @ bread @ meat @ bread @ centre
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    point = to_ratings(theta)
    return Intervals(rating=point, low=point - Z95 * sd, high=point + Z95 * sd, centre=point, cov=cov)


def ranks(lower: npt.ArrayLike, upper: npt.ArrayLike) -> IntArray:
    """``lower, upper: (m,)`` -> ``rank: (m,) int``: 1 + the number of models whose lower bound is above
    this model's upper bound (so models with overlapping intervals can share a rank)."""
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    above = np.sort(lo)
    return (1 + above.size - np.searchsorted(above, hi, side="right")).astype(np.int64)



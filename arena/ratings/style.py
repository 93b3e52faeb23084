"""Style control as in LMArena: Bradley-Terry with covariates (answer length, formatting), so a
rating says how good a model is beyond how long or how formatted its answers are."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from arena.ratings.battles import L2, POINTS, FloatArray, dedupe
from arena.ratings.bradley_terry import fit, nll, sigmoid, to_ratings

# ---------------------------------------------------------------------------------------------
# style control


def style_features(style_a: npt.ArrayLike, style_b: npt.ArrayLike) -> FloatArray:
    """Style covariates as in LMArena: ``style_a, style_b: (n, k)`` non-negative per-answer measures
    (answer length, markdown headers / lists / bold counts ...) -> ``features: (n, k)``.

    Each column is the normalised difference ``(x_a - x_b) / (x_a + x_b)`` (0 when both are 0),
    divided by its standard deviation. It is not mean-centred, so swapping a and b negates it.
    """
    xa = np.asarray(style_a, dtype=np.float64)
    xb = np.asarray(style_b, dtype=np.float64)
    if xa.ndim == 1:
        xa, xb = xa[:, None], xb[:, None]
    total = xa + xb
    diff = np.divide(xa - xb, total, out=np.zeros_like(total), where=total != 0)
    sd = diff.std(axis=0)
    out: FloatArray = diff / np.where(sd > 0, sd, 1.0)
    return out


@dataclass(frozen=True)
class StyleFit:
    """Style-controlled ratings ``rating: (m,)``, covariate coefficients ``coef: (k,)`` and the raw
    (uncontrolled) ratings ``raw: (m,)``.

    ``coef[j]`` is the change in log-odds (natural log) that a wins per unit of feature ``j``;
    ``coef_points = coef * POINTS`` is the same on the rating scale.
    """

    rating: FloatArray
    coef: FloatArray
    raw: FloatArray

    @property
    def coef_points(self) -> FloatArray:
        out: FloatArray = self.coef * POINTS
        return out


def fit_style(a: npt.ArrayLike, b: npt.ArrayLike, outcome: npt.ArrayLike, features: npt.ArrayLike,
              weight: npt.ArrayLike | None = None, *, n_models: int | None = None, l2: float = L2,
              max_iter: int = 200, tol: float = 1e-10) -> StyleFit:
    """Bradley-Terry with covariates: ``logit P(a wins) = theta_a - theta_b + features @ coef``.

    ``a, b: (n,) int``, ``outcome: (n,)``, ``features: (n, k)`` (e.g. :func:`style_features`), ``weight:
    (n,)`` -> :class:`StyleFit`. Damped Newton on the raw rows (continuous features do not dedupe);
    the same ``l2`` penalty on ``theta`` and ``coef``.
    """
    ai = np.asarray(a, dtype=np.int64)
    bi = np.asarray(b, dtype=np.int64)
    y = np.asarray(outcome, dtype=np.float64)
    feats = np.asarray(features, dtype=np.float64)
    if feats.ndim == 1:
        feats = feats[:, None]
    if feats.shape[0] != ai.size:
        raise ValueError(f"features has {feats.shape[0]} rows, expected {ai.size}")
    m = int(n_models if n_models is not None else max(int(ai.max()), int(bi.max())) + 1)
    k = feats.shape[1]
    w = np.ones(ai.size) if weight is None else np.asarray(weight, dtype=np.float64)
    raw = fit(dedupe(ai, bi, y, weight, n_models=m), l2=l2)
    params = np.zeros(m + k)
    gauge = np.zeros((m + k, m + k))
    gauge[:m, :m] = 1.0 / m
    pair = ai * m + bi

    def value(x: FloatArray) -> tuple[FloatArray, float]:
        d = x[ai] - x[bi] + feats @ x[m:]
        return d, float(nll(d, y, w) + 0.5 * l2 * x @ x)

    d, f0 = value(params)
    for _ in range(max_iter):
        p = sigmoid(d)
        g = w * (p - y)
        grad = np.concatenate([np.bincount(ai, g, m) - np.bincount(bi, g, m), feats.T @ g]) + l2 * params
        s = w * p * (1.0 - p)
        off = np.bincount(pair, weights=s, minlength=m * m).reshape(m, m)
        off = off + off.T
        hess = np.zeros((m + k, m + k))
        hess[:m, :m] = -off
        hess[np.arange(m), np.arange(m)] = off.sum(axis=1)
        sf = s[:, None] * feats
        cross = np.stack([np.bincount(ai, sf[:, j], m) - np.bincount(bi, sf[:, j], m) for j in range(k)], axis=1)
        hess[:m, m:] = cross
        hess[m:, :m] = cross.T
        hess[m:, m:] = feats.T @ sf
        hess += l2 * np.eye(m + k) + gauge
        step = -np.linalg.solve(hess, grad)
        step[:m] -= step[:m].mean()
        slope = float(grad @ step)
        t = 1.0
        for _ in range(60):
            d_new, f1 = value(params + t * step)
            if f1 <= f0 + 1e-4 * t * slope + 1e-12 * abs(f0):
                break
            t *= 0.5
        params = params + t * step
        d, f0 = d_new, f1
        if np.abs(t * step).max() < tol:
            break
    return StyleFit(rating=to_ratings(params[:m]), coef=params[m:].copy(), raw=raw)

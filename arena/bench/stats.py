"""The benchmark's statistics, each a percentile bootstrap (``scipy.stats.bootstrap``, seeded):

* :func:`mean_interval`: a mean and its 95% interval over encounters;
* :func:`paired_delta`: the mean of paired differences (ablated minus full, the same model,
  scenario, mode and seed) and its interval, resampling the pairs;
* :func:`group_delta`: a subgroup's mean minus the mean of the other encounters, resampling each
  group on its own (the two are independent samples).

Fewer than two values give the point estimate with no interval (``None``): one observation says
nothing about its spread. Identical values give a zero-width interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int

    def as_mean(self) -> dict[str, float | int | None]:
        return {"mean": _round(self.value), "ci_low": _round(self.ci_low), "ci_high": _round(self.ci_high),
                "n": self.n}

    def as_delta(self) -> dict[str, float | int | None]:
        return {"delta": _round(self.value), "ci_low": _round(self.ci_low), "ci_high": _round(self.ci_high),
                "n": self.n}


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _interval(samples: tuple[np.ndarray, ...], statistic, rounds: int, seed: int,  # type: ignore[no-untyped-def]
              ) -> tuple[float, float]:
    if all(np.ptp(s) == 0 for s in samples):  # no spread: every resample gives the same statistic
        value = float(statistic(*samples))
        return value, value
    result = stats.bootstrap(samples, statistic, n_resamples=rounds, confidence_level=CONFIDENCE,
                             method="percentile", vectorized=False, rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def mean_interval(values: Sequence[float], *, rounds: int, seed: int) -> Estimate:
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return Estimate(None, None, None, 0)
    if len(x) < 2:
        return Estimate(float(x.mean()), None, None, len(x))
    low, high = _interval((x,), np.mean, rounds, seed)
    return Estimate(float(x.mean()), low, high, len(x))


def paired_delta(full: Sequence[float], ablated: Sequence[float], *, rounds: int, seed: int) -> Estimate:
    """``mean(ablated - full)`` over pairs given in the same order."""
    if len(full) != len(ablated):
        raise ValueError("paired values must come in pairs")
    return mean_interval(np.asarray(ablated, dtype=float) - np.asarray(full, dtype=float), rounds=rounds, seed=seed)


def group_delta(inside: Sequence[float], outside: Sequence[float], *, rounds: int, seed: int) -> Estimate:
    """``mean(inside) - mean(outside)``; n is the size of ``inside``."""
    a, b = np.asarray(inside, dtype=float), np.asarray(outside, dtype=float)
    if len(a) == 0 or len(b) == 0:
        return Estimate(None, None, None, len(a))
    value = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return Estimate(value, None, None, len(a))
    low, high = _interval((a, b), lambda x, y: np.mean(x) - np.mean(y), rounds, seed)
    return Estimate(value, low, high, len(a))

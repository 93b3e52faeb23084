"""Inter-rater agreement on the 1-5 scale, and isotonic calibration of judge scores to humans.

Pure functions over arrays, no I/O; every statistic comes from a library (krippendorff, scikit-learn,
scipy). Undefined values (too few units, constant ratings, no variance) are ``None``, never NaN.

* :func:`krippendorff_alpha`: Krippendorff's alpha over a (raters, units) matrix with NaN for missing.
* :func:`pair_agreement`: two raters over their shared units: quadratic-weighted Cohen's kappa,
  Spearman's rho, exact and within-one agreement, n.
* :func:`fit_isotonic` / :class:`IsotonicMap`: a monotone map from judge scores to the human scale,
  kept as its thresholds so it can be saved as JSON (:class:`CalibrationMaps`) and applied later.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from arena.schemas.scenario import Dimension

SCALE_MIN = 1
SCALE_MAX = 5
SCALE_LABELS = list(range(SCALE_MIN, SCALE_MAX + 1))
Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval", "ratio")


def _finite_or_none(value: float | np.floating | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def krippendorff_alpha(ratings: np.ndarray, level: str = "ordinal") -> float | None:
    """Krippendorff's alpha (``krippendorff.alpha``) of ``ratings``.

    ratings: shape (raters, units), float, NaN where a rater did not rate a unit.
    level: ``nominal``, ``ordinal``, ``interval`` or ``ratio``.
    Returns None when there are fewer than 2 raters, when no unit is rated by two raters (nothing
    is pairable), or when the pairable values have no variance (alpha is 0/0).
    """
    import krippendorff  # loaded on first use: the package is slow to import with its numpy checks

    measure = next((known for known in LEVELS if known == level), None)
    if measure is None:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    data = np.asarray(ratings, dtype=float)
    if data.ndim != 2:
        raise ValueError(f"ratings must have shape (raters, units), got {data.shape}")
    if data.shape[0] < 2:
        return None
    rated = ~np.isnan(data)
    pairable = rated.sum(axis=0) >= 2  # shape (units,)
    if not pairable.any():
        return None
    values = data[:, pairable][rated[:, pairable]]
    if np.unique(values).size < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        alpha = krippendorff.alpha(reliability_data=data, level_of_measurement=measure)
    return _finite_or_none(alpha)


class PairAgreement(BaseModel):
    """How well two raters agree over the units both rated."""

    model_config = ConfigDict(allow_inf_nan=False, frozen=True)

    n: int = Field(ge=0, description="Units rated by both")
    kappa: float | None = Field(description="Quadratic-weighted Cohen's kappa over labels 1..5 (rounded scores)")
    spearman: float | None = Field(description="Spearman's rho of the unrounded scores")
    exact: float | None = Field(description="Share of units with the same rounded score")
    within_one: float | None = Field(description="Share of units whose rounded scores differ by at most 1")


def to_scale(scores: ArrayLike) -> NDArray[np.int_]:
    """Scores rounded half up to the nearest integer and clipped to 1..5: a mean human score of 3.5 is
    4, a calibrated judge score of 2.49 is 2. Shape preserved."""
    values = np.asarray(scores, dtype=float)
    return np.clip(np.floor(values + 0.5), SCALE_MIN, SCALE_MAX).astype(int)


def pair_agreement(a: ArrayLike, b: ArrayLike) -> PairAgreement:
    """Agreement of two raters' scores on the 1-5 scale.

    a, b: shape (units,), aligned unit by unit; NaN where a rater did not rate the unit (such units
    are dropped). Scores may be fractional (a mean of several humans, a calibrated judge score):
    kappa, exact and within-one use them rounded by :func:`to_scale`, Spearman the values as given.
    kappa and Spearman are None for fewer than 2 shared units or when undefined (both raters
    constant for kappa, either constant for Spearman); exact and within-one are None for n = 0.
    """
    from scipy.stats import spearmanr
    from sklearn.metrics import cohen_kappa_score

    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"a and b must be vectors of one shape, got {x.shape} and {y.shape}")
    shared = ~(np.isnan(x) | np.isnan(y))
    x, y = x[shared], y[shared]
    n = int(x.size)
    if n == 0:
        return PairAgreement(n=0, kappa=None, spearman=None, exact=None, within_one=None)
    rx, ry = to_scale(x), to_scale(y)
    gap = np.abs(rx - ry)
    exact = float(np.mean(gap == 0))
    within_one = float(np.mean(gap <= 1))
    kappa: float | None = None
    rho: float | None = None
    if n >= 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant input: sklearn and scipy warn and give NaN
            kappa = _finite_or_none(cohen_kappa_score(rx, ry, weights="quadratic", labels=SCALE_LABELS))
            if np.ptp(x) > 0 and np.ptp(y) > 0:
                rho = _finite_or_none(spearmanr(x, y).statistic)
    return PairAgreement(n=n, kappa=kappa, spearman=rho, exact=exact, within_one=within_one)


def mean_ratings(ratings: np.ndarray) -> NDArray[np.float64]:
    """Mean over raters of a (raters, units) matrix, NaN-aware: shape (units,), NaN where nobody rated."""
    data = np.asarray(ratings, dtype=float)
    counts = (~np.isnan(data)).sum(axis=0)
    sums = np.nansum(data, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


class IsotonicMap(BaseModel):
    """A fitted increasing map from judge scores to the human scale, as sklearn's thresholds.

    Applying it interpolates linearly between thresholds and holds the end values outside them,
    which is what ``IsotonicRegression(out_of_bounds="clip").predict`` does.
    """

    model_config = ConfigDict(allow_inf_nan=False, frozen=True, extra="forbid")

    x_thresholds: list[float] = Field(min_length=1, description="Judge scores, strictly increasing")
    y_thresholds: list[float] = Field(min_length=1, description="Human-scale values, non-decreasing, in 1..5")
    n_pairs: int = Field(ge=1, description="(judge score, mean human score) pairs it was fitted on")

    @model_validator(mode="after")
    def _shape(self) -> IsotonicMap:
        xs, ys = self.x_thresholds, self.y_thresholds
        if len(xs) != len(ys):
            raise ValueError("x_thresholds and y_thresholds differ in length")
        if any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
            raise ValueError("x_thresholds must be strictly increasing")
        if any(b < a for a, b in zip(ys, ys[1:], strict=False)):
            raise ValueError("y_thresholds must be non-decreasing")
        if any(not SCALE_MIN <= y <= SCALE_MAX for y in ys):
            raise ValueError(f"y_thresholds must lie in {SCALE_MIN}..{SCALE_MAX}")
        return self

    def apply(self, scores: ArrayLike) -> NDArray[np.float64]:
        """Calibrated scores, same shape as ``scores``; NaN stays NaN."""
        values = np.asarray(scores, dtype=float)
        mapped = np.interp(values, self.x_thresholds, self.y_thresholds)
        return np.where(np.isnan(values), np.nan, np.clip(mapped, SCALE_MIN, SCALE_MAX))


def fit_isotonic(judge_scores: ArrayLike, human_scores: ArrayLike) -> IsotonicMap:
    """Fit ``sklearn.isotonic.IsotonicRegression`` (increasing, outputs clipped to 1..5).

    judge_scores, human_scores: shape (pairs,), one pair per unit (the judge's score and the mean
    human score); pairs with a NaN are dropped. At least one pair must remain.
    """
    from sklearn.isotonic import IsotonicRegression

    x = np.asarray(judge_scores, dtype=float)
    y = np.asarray(human_scores, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"judge and human scores must be vectors of one shape, got {x.shape} and {y.shape}")
    keep = ~(np.isnan(x) | np.isnan(y))
    if not keep.any():
        raise ValueError("no (judge score, human score) pair to fit")
    model = IsotonicRegression(increasing=True, y_min=SCALE_MIN, y_max=SCALE_MAX, out_of_bounds="clip")
    model.fit(x[keep], y[keep])
    return IsotonicMap(x_thresholds=[float(v) for v in model.X_thresholds_],
                       y_thresholds=[float(np.clip(v, SCALE_MIN, SCALE_MAX)) for v in model.y_thresholds_],
                       n_pairs=int(keep.sum()))


class CalibrationMaps(BaseModel):
    """The file ``arena agreement --calibrate-out`` writes and ``--apply`` reads: per judge (rater
    name), per dimension, one :class:`IsotonicMap`."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    kind: Literal["arena-isotonic-calibration"] = "arena-isotonic-calibration"
    version: Literal[1] = 1
    maps: dict[str, dict[Dimension, IsotonicMap]] = Field(
        default_factory=dict, description="judge -> dimension -> map")

    def apply(self, judge: str, dimension: Dimension, scores: ArrayLike) -> NDArray[np.float64] | None:
        """``scores`` calibrated with the judge's map for ``dimension``, or None when there is no map."""
        fitted = self.maps.get(judge, {}).get(dimension)
        return None if fitted is None else fitted.apply(scores)


def rater_matrix(scores: Sequence[Sequence[float | None]]) -> NDArray[np.float64]:
    """A (raters, units) float matrix from nested sequences, None becoming NaN."""
    return np.array([[np.nan if v is None else float(v) for v in row] for row in scores], dtype=float)
